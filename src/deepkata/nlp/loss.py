"""Cross-entropy with label smoothing, its gradient written out and taken in one pass.

With q = (1 - eps) onehot(y) + eps / V the smoothed target of one row of logits z (V classes),

    loss = -sum_j q_j log softmax(z)_j = logsumexp(z) - (1 - eps) z_y - (eps / V) sum_j z_j
    d loss / d z = softmax(z) - q

averaged over the rows whose target is not ``ignore_index`` (0 when there is none). This is what
``F.cross_entropy(z, y, ignore_index=..., label_smoothing=eps)`` computes (proven equal, values
and gradients, in float64), without keeping the (N, V) log-probabilities for the backward pass
or building a (N, V) gradient for them: the backward pass makes softmax(z) - q in place, once.
On the translation Transformer's batches (4,096 rows, 4,906 classes) forward and backward take
0.73 of torch's time (bench/translate_profile.py measures it in the step).

:func:`projected_cross_entropy` goes one step further for a model whose logits are a linear
projection z = h W^T + b of its features h: it takes the projection and the loss together, a
chunk of rows at a time, and never makes the (N, V) logits at all. The loss is the last thing the
step computes, so its gradient is known as soon as its value is; each chunk's logits give their
loss and, while they are still in the cache,

    g = (softmax(z) - q) / count,    dL/dh = g W,    dL/dW = g^T h,    dL/db = sum of g's rows

which the backward pass only scales by the gradient from above. On a 2-core CPU at the translation Transformer's sizes
the projection with its loss takes 0.8 of the unfused time in float32 (where the three matrix
products are nearly all of it) and 0.45 under bfloat16 autocast (where the passes over the
float32 logits were most of it). Under autocast the products run in the autocast dtype, as
``nn.Linear``'s would, and the softmax in float32.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch
from torch.autograd.function import once_differentiable


class _SmoothedCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, logits: torch.Tensor, target: torch.Tensor, eps: float, ignore_index: int) -> torch.Tensor:
        valid = target != ignore_index
        safe = torch.where(valid, target, 0)
        lse = torch.logsumexp(logits, dim=1)
        # logsumexp(z) - (1 - eps) z_y - (eps / V) sum_j z_j, per row
        rows = lse - (1.0 - eps) * logits.gather(1, safe[:, None])[:, 0]
        if eps:
            rows = rows - eps * logits.mean(dim=1)
        count = valid.sum()
        ctx.save_for_backward(logits, lse, safe, valid, count)
        ctx.eps = eps
        return torch.where(valid, rows, 0.0).sum() / count.clamp(min=1)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        logits, lse, safe, valid, count = ctx.saved_tensors
        eps, vocab = ctx.eps, logits.shape[1]
        # (softmax(z) - q) * s with s = grad / count on kept rows, 0 on ignored ones:
        # exp(z - lse + log s) - s q, the exponential taken once in place
        scale = torch.where(valid, grad / count.clamp(min=1), 0.0)  # (N,)
        g = torch.sub(logits, (lse - torch.log(scale.abs()))[:, None])  # log 0 = -inf: a zero row
        g.exp_()
        g.mul_(torch.sign(grad))  # not a branch on the sign: this runs on meta tensors too
        if eps:
            g.sub_((scale * (eps / vocab))[:, None])
        g.scatter_add_(1, safe[:, None], (-(1.0 - eps) * scale)[:, None])
        return g, None, None, None


class _ProjectedCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any, hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, target: torch.Tensor,
        eps: float, ignore_index: int, chunk: int, dtype: torch.dtype, need_grad: bool,
    ) -> torch.Tensor:  # fmt: skip
        vocab = weight.shape[0]
        acc = torch.float64 if dtype == torch.float64 else torch.float32  # softmax and sums
        count = (target != ignore_index).sum().clamp(min=1).to(acc)  # a tensor: no wait for the device
        w = weight.to(dtype)
        b = None if bias is None else bias.to(dtype)
        total = torch.zeros((), dtype=acc, device=hidden.device)
        if need_grad:
            grad_h = torch.empty_like(hidden)
            grad_w = torch.zeros(weight.shape, dtype=acc, device=weight.device)
            grad_b = None if bias is None else torch.zeros(vocab, dtype=acc, device=weight.device)
        for start in range(0, hidden.shape[0], chunk):
            h, y = hidden[start : start + chunk].to(dtype), target[start : start + chunk]
            valid = y != ignore_index
            y = torch.where(valid, y, 0)
            z = (h @ w.t() if b is None else torch.addmm(b, h, w.t())).to(acc)  # (n, V) logits
            # logsumexp(z) - (1 - eps) z_y - (eps / V) sum_j z_j, per row, with
            # logsumexp(z) = m + log sum_j exp(z_j - m), m = max_j z_j; the exponentials kept
            loss = -(1.0 - eps) * z.gather(1, y[:, None])[:, 0]
            if eps:
                loss = loss - eps * z.mean(dim=1)
            m = z.amax(dim=1, keepdim=True)
            e = z.sub_(m).exp_()  # in place of z
            sums = e.sum(dim=1, keepdim=True)
            total += torch.where(valid, loss + (m + sums.log())[:, 0], 0.0).sum()
            if not need_grad:
                continue
            # g = (softmax(z) - q) s, s = 1 / count on kept rows and 0 on ignored ones, made in
            # place of the exponentials
            scale = valid[:, None] / count
            g = e.mul_(scale / sums)
            if eps:
                g.sub_(scale * (eps / vocab))
            g.scatter_add_(1, y[:, None], scale * -(1.0 - eps))
            g_low = g.to(dtype)
            grad_h[start : start + chunk] = g_low @ w
            grad_w += (g_low.t() @ h).to(acc)
            if grad_b is not None:
                grad_b += g.sum(dim=0)
        if need_grad:
            ctx.save_for_backward(grad_h, grad_w.to(weight.dtype), None if grad_b is None else grad_b.to(bias.dtype))
        return total / count

    @staticmethod
    @once_differentiable  # the gradients were made in the forward pass: no second derivative
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        grad_h, grad_w, grad_b = ctx.saved_tensors
        return grad_h * grad, grad_w * grad, None if grad_b is None else grad_b * grad, *[None] * 6


def projected_cross_entropy(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    target: torch.Tensor,
    label_smoothing: float = 0.0,
    ignore_index: int = -100,
    chunk: int | None = None,
) -> torch.Tensor:
    """``smoothed_cross_entropy(F.linear(hidden, weight, bias), target, ...)`` for features
    ``hidden`` (N, E), ``weight`` (V, E) and ``bias`` (V,) or None, without making the logits:
    ``chunk`` rows at a time (default: 256 on the CPU, all of them elsewhere)."""
    if hidden.dim() != 2 or weight.dim() != 2 or hidden.shape[1] != weight.shape[1] or target.shape != hidden.shape[:1]:
        raise ValueError(f"hidden {tuple(hidden.shape)}, weight {tuple(weight.shape)} and target {tuple(target.shape)}: expected (N, E), (V, E) and (N,)")
    if bias is not None and bias.shape != weight.shape[:1]:
        raise ValueError(f"bias {tuple(bias.shape)}: expected ({weight.shape[0]},)")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing {label_smoothing}: expected a number in [0, 1]")
    device = hidden.device.type
    autocasting = torch.amp.is_autocast_available(device) and torch.is_autocast_enabled(device)
    dtype = torch.get_autocast_dtype(device) if autocasting else hidden.dtype
    chunk = chunk or (256 if device == "cpu" else max(len(target), 1))
    need_grad = torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (hidden, weight, bias))
    # the products run in dtype as they are written, autocast or not
    with torch.autocast(device, enabled=False) if autocasting else contextlib.nullcontext():
        return _ProjectedCrossEntropy.apply(hidden, weight, bias, target, label_smoothing, ignore_index, chunk, dtype, need_grad)


def smoothed_cross_entropy(logits: torch.Tensor, target: torch.Tensor, label_smoothing: float = 0.0, ignore_index: int = -100) -> torch.Tensor:
    """Mean label-smoothed cross-entropy of ``logits`` (N, V) against ``target`` (N,), rows whose
    target is ``ignore_index`` left out: ``F.cross_entropy``'s value, with a cheaper backward."""
    if logits.dim() != 2 or target.shape != logits.shape[:1]:
        raise ValueError(f"logits {tuple(logits.shape)} and target {tuple(target.shape)}: expected (N, V) and (N,)")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing {label_smoothing}: expected a number in [0, 1]")
    return _SmoothedCrossEntropy.apply(logits, target, label_smoothing, ignore_index)
