"""The fused label-smoothed cross-entropy, alone and with the output projection, against F.cross_entropy, float64, values and gradients."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from deepkata.models.registry import build_model
from deepkata.nlp.batching import make_batch
from deepkata.nlp.loss import projected_cross_entropy, smoothed_cross_entropy
from deepkata.nlp.train import batch_loss
from deepkata.nlp.vocab import Vocab


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


def _projection(seed: int, rows: int = 70, width: int = 9, vocab: int = 31, bias: bool = True):
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(rows, width, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(vocab, width, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(vocab, generator=g, dtype=torch.float64, requires_grad=True) if bias else None
    y = torch.randint(0, vocab, (rows,), generator=g)
    return h, w, b, y


@pytest.mark.parametrize("eps", [0.0, 0.1, 1.0])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("chunk", [16, 70, 1000])  # 16 does not divide the 70 rows
def test_projected_loss_equals_torchs_linear_and_loss_in_float64(eps, bias, chunk):
    h, w, b, y = _projection(2, bias=bias)
    y[::4] = 0  # ignored rows, in every chunk
    params = [h, w] + ([b] if bias else [])
    theirs = F.cross_entropy(F.linear(h, w, b), y, ignore_index=0, label_smoothing=eps)
    ours = projected_cross_entropy(h, w, b, y, eps, 0, chunk=chunk)
    assert ours.dtype == torch.float64
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-13, abs=1e-13)
    for upstream in (1.0, -2.5, 0.0):
        g_theirs = torch.autograd.grad(theirs * upstream, params, retain_graph=True)
        g_ours = torch.autograd.grad(ours * upstream, params, retain_graph=True)
        for a, e in zip(g_ours, g_theirs):
            torch.testing.assert_close(a, e, rtol=1e-12, atol=1e-15)
    assert torch.all(torch.autograd.grad(ours, h)[0][::4] == 0)  # an ignored row has no gradient


def test_projected_loss_without_gradients_and_with_no_kept_row():
    h, w, b, y = _projection(3)
    expected = F.cross_entropy(F.linear(h, w, b), y, label_smoothing=0.1)
    with torch.no_grad():
        got = projected_cross_entropy(h, w, b, y, 0.1, chunk=8)
    assert not got.requires_grad and got.item() == pytest.approx(expected.item(), rel=1e-13)
    loss = projected_cross_entropy(h, w, b, torch.zeros_like(y), 0.1, ignore_index=0)
    assert loss.item() == 0.0
    loss.backward()
    assert torch.all(h.grad == 0) and torch.all(w.grad == 0) and torch.all(b.grad == 0)


def test_projected_loss_under_bf16_autocast_runs_its_products_in_bf16():
    # as nn.Linear under autocast: the products in bfloat16, so close to the float32 value but
    # not equal to it, and the gradients in each parameter's own dtype
    h, w, b, y = _projection(4, rows=300, width=64, vocab=500)
    h, w, b = (t.detach().float().requires_grad_() for t in (h, w, b))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        theirs = smoothed_cross_entropy(F.linear(h, w, b).float(), y, 0.1)
        ours = projected_cross_entropy(h, w, b, y, 0.1)
    exact = projected_cross_entropy(h, w, b, y, 0.1)
    assert ours.dtype == torch.float32
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-3) and ours.item() != exact.item()
    g_ours, g_theirs = torch.autograd.grad(ours, [h, w, b]), torch.autograd.grad(theirs, [h, w, b])
    for a, e in zip(g_ours, g_theirs):
        assert a.dtype == torch.float32
        torch.testing.assert_close(a, e, rtol=0.05, atol=2e-4)


def test_projected_loss_refuses_bad_shapes():
    h, w, b, y = _projection(5)
    with pytest.raises(ValueError, match=r"hidden \(70, 9\), weight \(31, 8\)"):
        projected_cross_entropy(h, w[:, :8], b, y)
    with pytest.raises(ValueError, match=r"bias \(30,\): expected \(31,\)"):
        projected_cross_entropy(h, w, b[:30], y)
    with pytest.raises(ValueError, match="label_smoothing -0.1"):
        projected_cross_entropy(h, w, b, y, -0.1)


@pytest.mark.parametrize("name, sizes", [("transformer", {"dim": 16, "heads": 2, "layers": 2, "ffn": 32}), ("gru-additive", {"emb": 8, "hidden": 12})])
def test_a_training_steps_loss_is_that_of_the_models_logits(name, sizes):
    # batch_loss takes the projection with the loss (the model's features and its out layer):
    # the same value and gradients, float64, as the logits forward() gives
    torch.manual_seed(0)
    model = build_model(name, src_vocab=23, tgt_vocab=29, dropout=0.0, **sizes).double()
    batch = make_batch([[5, 6, 7], [8, 9, 10, 11, 12], [13]], [[4, 5], [6], [7, 8, 9, 10]])
    ours = batch_loss(model, batch, 0.1)
    g_ours = torch.autograd.grad(ours, list(model.parameters()))
    logits = model(batch.src, batch.src_pad, batch.tgt_in)
    theirs = F.cross_entropy(logits.reshape(-1, 29), batch.tgt_out.reshape(-1), ignore_index=Vocab.pad, label_smoothing=0.1)
    g_theirs = torch.autograd.grad(theirs, list(model.parameters()))
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-13)
    for a, e in zip(g_ours, g_theirs):
        torch.testing.assert_close(a, e, rtol=1e-10, atol=1e-14)
