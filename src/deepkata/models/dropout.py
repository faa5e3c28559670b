"""Dropout whose masks are cheap on the CPU (Srivastava et al., 2014), inverted as usual:

    training:  y = x * m / (1 - p),   m_i ~ Bernoulli(1 - p), independent;       eval:  y = x

torch's CPU dropout draws one random number per element (``bernoulli_``), single-threaded; in
the translation Transformer that was a sixth of every training step on a 2-core machine. Here
each element takes 16 random bits, four elements from one 64-bit draw, and is kept when those
bits, read as a signed 16-bit integer, are at least -2^15 + round(p 2^16). So p is rounded to a
multiple of 2^-16 (the scale uses the rounded p, so E[y] = x exactly) and the draws cost a
quarter. On other devices (CUDA, MPS), whose generators are fast, ``F.dropout`` runs.

The masks come from torch's global generator, like ``F.dropout``'s, so ``torch.manual_seed``
and a restored generator state reproduce them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

LEVELS = 1 << 16  # p is a multiple of 1 / LEVELS


def dropout(x: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    """``x`` with each element zeroed with probability ``p`` (rounded to 1/65536) and the rest
    scaled by 1 / (1 - p); ``x`` itself when not training or p = 0."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability {p}: expected a number in [0, 1]")
    if not training or p == 0.0:
        return x
    if x.device.type != "cpu" or p == 1.0 or not x.is_floating_point():
        return F.dropout(x, p, training=True)
    dropped = round(p * LEVELS)
    if dropped == 0:
        return x
    if dropped == LEVELS:
        return x * 0
    n = x.numel()
    # every bit of a 64-bit draw is uniform only over the full range (random_() leaves the top bit 0)
    bits = torch.empty((n + 3) // 4, dtype=torch.int64, device=x.device).random_(-(2**63), 2**63 - 1)
    keep = bits.view(torch.int16)[:n].view(x.shape) >= dropped - LEVELS // 2
    return torch.where(keep, x * (LEVELS / (LEVELS - dropped)), 0.0)


class Dropout(nn.Module):
    """:func:`dropout` as a module: active in training mode, the identity in eval mode."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability {p}: expected a number in [0, 1]")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
