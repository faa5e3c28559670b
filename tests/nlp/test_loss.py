"""The fused label-smoothed cross-entropy against F.cross_entropy, float64, values and gradients."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from deepkata.nlp.loss import smoothed_cross_entropy


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.35, 1.0])
@pytest.mark.parametrize("ignore", [0, -100])
def test_equal_to_torch_in_float64(eps, ignore):
    g = torch.Generator().manual_seed(0)
    z = (3 * torch.randn(64, 37, generator=g, dtype=torch.float64)).requires_grad_()
    y = torch.randint(0, 37, (64,), generator=g)
    y[::5] = ignore  # ignored rows (with -100 none of the targets is 0 by force)
    theirs = F.cross_entropy(z, y, ignore_index=ignore, label_smoothing=eps)
    ours = smoothed_cross_entropy(z, y, eps, ignore)
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-13, abs=1e-13)
    for upstream in (1.0, -2.5, 0.0):  # a negative or zero gradient from above too
        (g_theirs,) = torch.autograd.grad(theirs * upstream, z, retain_graph=True)
        (g_ours,) = torch.autograd.grad(ours * upstream, z, retain_graph=True)
        assert torch.allclose(g_ours, g_theirs, rtol=1e-12, atol=1e-15)
    assert torch.all(g_ours[::5] == 0)


def test_gradient_passes_gradcheck_and_float32_matches():
    g = torch.Generator().manual_seed(1)
    z = torch.randn(6, 5, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0, 3, 4, 1, 0, 2])
    assert torch.autograd.gradcheck(lambda a: smoothed_cross_entropy(a, y, 0.2, 0), (z,))
    z32 = (10 * torch.randn(128, 500, generator=g)).requires_grad_()  # large logits: no overflow
    y32 = torch.randint(0, 500, (128,), generator=g)
    theirs = F.cross_entropy(z32, y32, label_smoothing=0.1)
    ours = smoothed_cross_entropy(z32, y32, 0.1)
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-5)
    assert torch.allclose(torch.autograd.grad(ours, z32)[0], torch.autograd.grad(theirs, z32)[0], atol=1e-7)


def test_no_kept_row_and_bad_shapes():
    z = torch.randn(3, 4, requires_grad=True)
    loss = smoothed_cross_entropy(z, torch.zeros(3, dtype=torch.long), 0.1, ignore_index=0)
    assert loss.item() == 0.0  # torch gives nan here
    loss.backward()
    assert torch.all(z.grad == 0)
    with pytest.raises(ValueError, match=r"\(3, 4\) and target \(2,\)"):
        smoothed_cross_entropy(z, torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="label_smoothing 1.5"):
        smoothed_cross_entropy(z, torch.zeros(3, dtype=torch.long), 1.5)
