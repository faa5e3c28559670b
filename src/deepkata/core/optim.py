"""What every topic's training loop shares: weight decay on the weights only, and a warm-up then
cosine learning-rate schedule (Goyal et al. 2017, warm-up; Loshchilov & Hutter 2017, SGDR's cosine
without restarts)."""

from __future__ import annotations

import math
from typing import Any, Literal

from torch import nn

Schedule = Literal["cosine", "constant", "linear"]


def decay_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Optimizer parameter groups: the weights of convolutions and linear layers decay; 1-d
    parameters (normalization layers' γ and β, biases) do not."""
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim > 1]
    rest = [p for p in model.parameters() if p.requires_grad and p.ndim <= 1]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}]


def warmup_cosine(peak: float, update: int, total: int, warmup: float, schedule: Schedule = "cosine") -> float:
    """η at ``update`` (0-based) of ``total``: a linear ramp over the first ``warmup`` share of the
    updates, then cosine decay to 0, constant at ``peak``, or linear decay to ``peak`` / 250
    (word2vec's: from α to min_alpha = α / 250 over the training)."""
    warm = int(warmup * total)
    if update < warm:
        return peak * (update + 1) / warm  # η (t + 1) / T_w
    if schedule == "constant":
        return peak
    s = (update - warm) / max(1, total - warm)
    if schedule == "linear":
        return peak * (1 - s * (1 - 1 / 250))  # α - (α - α_min) s, α_min = α / 250
    return peak * 0.5 * (1 + math.cos(math.pi * s))  # η (1 + cos(π s)) / 2
