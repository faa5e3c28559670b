"""The adding problem: a long-range memory task for recurrent networks.

Hochreiter & Schmidhuber (1997), experiment 4; in the form of Le, Jaitly & Hinton, "A simple way
to initialize recurrent networks of rectified linear units" (2015), section 4.1. Each step
carries two numbers: a value drawn from U(0, 1) and a marker, 1 at exactly two steps (one in
the first half of the sequence, one in the second) and 0 elsewhere. The target, seen only at
the end, is the sum of the two marked values:

    x_t = (v_t, m_t)        v_t ~ U(0, 1),  m_i = m_j = 1,  i < T/2 <= j
    y   = v_i + v_j

A model that ignores the inputs does best by predicting E[y] = 1, with mean squared error
Var(v_i + v_j) = 2 / 12 = 1/6: that is the baseline a recurrent network has to beat by carrying
v_i across at least T/2 steps.
"""

from __future__ import annotations

import torch

TRIVIAL_MSE = 1.0 / 6.0  # MSE of always predicting 1


def adding_batch(generator: torch.Generator, batch: int, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs (B, T, 2) and targets (B, 1), float32, drawn from ``generator`` on its device."""
    if steps < 2:
        raise ValueError(f"the adding problem needs at least 2 steps, got {steps}")
    device = generator.device
    values = torch.rand(batch, steps, generator=generator, device=device)
    first = torch.randint(0, steps // 2, (batch,), generator=generator, device=device)
    second = torch.randint(steps // 2, steps, (batch,), generator=generator, device=device)
    markers = torch.zeros(batch, steps, device=device)
    rows = torch.arange(batch, device=device)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    # y = v_i + v_j
    target = (values * markers).sum(dim=1, keepdim=True)
    return torch.stack([values, markers], dim=-1), target
