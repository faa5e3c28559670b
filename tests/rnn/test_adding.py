from __future__ import annotations

import pytest
import torch

from deepkata.rnn.adding import TRIVIAL_MSE, adding_batch


@pytest.mark.parametrize("steps", [2, 3, 10, 101])
def test_two_markers_one_in_each_half_and_the_target_is_their_sum(steps):
    x, y = adding_batch(torch.Generator().manual_seed(0), 500, steps)
    assert x.shape == (500, steps, 2) and y.shape == (500, 1)
    markers = x[..., 1]
    assert (markers.sum(dim=1) == 2).all()
    assert (markers[:, : steps // 2].sum(dim=1) == 1).all()
    torch.testing.assert_close(y[:, 0], (x[..., 0] * markers).sum(dim=1))
    assert ((x[..., 0] >= 0) & (x[..., 0] < 1)).all()


def test_the_trivial_predictor_scores_one_sixth():
    _, y = adding_batch(torch.Generator().manual_seed(1), 200_000, 20)
    assert float(((y - 1.0) ** 2).mean()) == pytest.approx(TRIVIAL_MSE, abs=0.002)


def test_same_generator_state_same_batch_and_bad_lengths():
    a = adding_batch(torch.Generator().manual_seed(5), 4, 8)
    b = adding_batch(torch.Generator().manual_seed(5), 4, 8)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    with pytest.raises(ValueError, match="at least 2 steps"):
        adding_batch(torch.Generator(), 4, 1)
