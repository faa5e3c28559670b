"""The CPU dropout with 16-bit masks: its rate, scale, gradient and generator, against torch's."""

from __future__ import annotations

import pytest
import torch

from deepkata.models.dropout import LEVELS, Dropout, dropout


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5, 0.9])
def test_rate_and_scale(p):
    torch.manual_seed(0)
    x = torch.ones(1000, 1000, dtype=torch.float64)
    y = dropout(x, p)
    kept = y != 0
    rate = 1 - kept.double().mean().item()
    # 1e6 Bernoulli draws: the standard error of the rate is below 5e-4
    assert rate == pytest.approx(p, abs=2.5e-3)
    scale = LEVELS / (LEVELS - round(p * LEVELS))
    assert torch.equal(y[kept], torch.full_like(y[kept], scale))
    assert abs(y.mean().item() - 1) < 5e-3 / (1 - p)  # E[y] = x


def test_every_16_bit_lane_of_a_draw_is_uniform():
    # four elements share a 64-bit draw; the fourth takes its top bits, which random_() leaves at 0
    torch.manual_seed(1)
    y = dropout(torch.ones(400_000, 4), 0.5)
    rates = (y == 0).double().mean(dim=0)
    assert torch.allclose(rates, torch.full((4,), 0.5, dtype=torch.float64), atol=5e-3), rates


def test_masks_are_independent_of_each_other():
    # neighbouring elements (the same draw) and the same element of two calls: P(both dropped) = p^2
    torch.manual_seed(2)
    a = dropout(torch.ones(200_000, 4), 0.3) == 0
    b = dropout(torch.ones(200_000, 4), 0.3) == 0
    assert (a[:, 0] & a[:, 1]).double().mean().item() == pytest.approx(0.09, abs=3e-3)
    assert (a & b).double().mean().item() == pytest.approx(0.09, abs=2e-3)


def test_gradient_is_the_mask_times_the_scale():
    torch.manual_seed(3)
    x = torch.randn(64, 33, dtype=torch.float64, requires_grad=True)
    y = dropout(x, 0.25)
    y.backward(torch.ones_like(y))
    scale = LEVELS / (LEVELS - round(0.25 * LEVELS))
    expected = torch.where(y != 0, torch.full_like(x, scale), torch.zeros_like(x))
    assert torch.equal(x.grad, expected)
    assert torch.equal(y, x.detach() * expected)


def test_eval_mode_zero_p_and_the_generator():
    x = torch.randn(8, 5)
    layer = Dropout(0.2)
    layer.eval()
    assert layer(x) is x
    assert dropout(x, 0.0) is x and dropout(x, 0.2, training=False) is x
    assert torch.equal(dropout(x, 1.0), torch.zeros_like(x))
    layer.train()
    torch.manual_seed(7)
    first = layer(x)
    torch.manual_seed(7)
    assert torch.equal(layer(x), first)  # the global generator decides the mask
    assert not torch.equal(layer(x), first)
    with pytest.raises(ValueError, match=r"1\.5"):
        Dropout(1.5)
    assert "p=0.2" in repr(layer)


def test_shapes_dtypes_and_non_contiguous_input():
    torch.manual_seed(4)
    x = torch.randn(30, 40, 50).transpose(0, 2)  # not contiguous
    y = dropout(x, 0.1)
    assert y.shape == x.shape and y.dtype == x.dtype
    kept = y != 0
    assert torch.allclose(y[kept], x[kept] * LEVELS / (LEVELS - round(0.1 * LEVELS)))
    half = dropout(torch.ones(10_000, dtype=torch.bfloat16), 0.1)
    assert half.dtype == torch.bfloat16
