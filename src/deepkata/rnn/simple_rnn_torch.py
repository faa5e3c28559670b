"""The simple RNN of :mod:`deepkata.rnn.scratch.simple_rnn`, written with PyTorch autograd.

It is the reference the NumPy BPTT is proven against (same weights, float64) and the
PyTorch side of ``bench/binary_addition.py``. ``torch.nn.RNN`` cannot stand in: it has no
sigmoid nonlinearity, and the course's network has no biases.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

_ACTIVATIONS = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}


class TorchSimpleRNN(nn.Module):
    """u_t = x_t W_in + h_{t-1} W, h_t = f(u_t), v_t = h_t W_out; weights stored (fan_in, fan_out)."""

    def __init__(self, n_in: int, hidden: int, n_out: int, activation: str = "sigmoid", dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        self.W_in = nn.Parameter(torch.zeros(n_in, hidden, dtype=dtype))
        self.W = nn.Parameter(torch.zeros(hidden, hidden, dtype=dtype))
        self.W_out = nn.Parameter(torch.zeros(hidden, n_out, dtype=dtype))
        self.act = _ACTIVATIONS[activation]

    @classmethod
    def from_numpy(cls, params: dict[str, np.ndarray], activation: str, dtype: torch.dtype = torch.float64) -> TorchSimpleRNN:
        n_in, hidden = params["W_in"].shape
        model = cls(n_in, hidden, params["W_out"].shape[1], activation, dtype)
        with torch.no_grad():
            for name in ("W_in", "W", "W_out"):
                getattr(model, name).copy_(torch.from_numpy(params[name]))
        return model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Output pre-activations v (B, T, O) for inputs x (B, T, I)."""
        batch, steps, _ = x.shape
        h = x.new_zeros(batch, self.W.shape[0])
        xw = x @ self.W_in  # (B, T, H)
        hs = []
        for t in range(steps):
            h = self.act(xw[:, t] + h @ self.W)
            hs.append(h)
        return torch.stack(hs, dim=1) @ self.W_out


def sigmoid_mse(v: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """Per-sample sum_t 1/2 (sigmoid(v_t) - d_t)^2, shape (B,)."""
    return 0.5 * ((torch.sigmoid(v) - d) ** 2).sum(dim=(1, 2))
