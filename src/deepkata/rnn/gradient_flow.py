"""How far back the gradient reaches: ||dL/dh_t|| against t for a trained sequence model.

The curriculum's picture of the vanishing gradient (Day 3): in a simple RNN,
dL/dh_t = dL/dh_{t+1} W_h^T diag(f'(u_{t+1})), so the norm shrinks (or grows) geometrically
going back in time; the LSTM's cell state and the GRU's update gate give it a path along which
it is only multiplied by gates near 1.

PyTorch's fused ``nn.RNN/GRU/LSTM`` kernels do not expose the gradient reaching each h_t
through the recurrence, so the model's weights are copied into the from-scratch stack
(:func:`deepkata.rnn.scratch.interop.from_torch`), whose BPTT returns the total dL/dh_t at
every step, in float64 on the CPU, wherever the model lives.
"""

from __future__ import annotations

import numpy as np
import torch

from deepkata.models.sequence import SequenceModel
from deepkata.rnn.scratch.interop import from_torch


def hidden_gradient_norms(model: SequenceModel, x: torch.Tensor, y: torch.Tensor) -> tuple[np.ndarray, float]:
    """Mean over the batch of ||dL/dh_t|| for t = 1..T, and the loss L.

    L is the mean squared error of a last-step readout, ``model`` a one-layer unidirectional
    :class:`SequenceModel` with ``output_size`` set and ``readout="last"``.
    """
    cfg = model.cfg
    if cfg.layers != 1 or cfg.bidirectional or cfg.readout != "last" or model.head is None:
        raise ValueError("gradient flow needs a one-layer, unidirectional, last-readout model with a head")
    stack = from_torch(model.rnn)
    xs = x.detach().to("cpu", torch.float64).numpy()
    ys = y.detach().to("cpu", torch.float64).numpy()
    w = model.head.weight.detach().to("cpu", torch.float64).numpy()  # (O, H)
    b = model.head.bias.detach().to("cpu", torch.float64).numpy() if model.head.bias is not None else 0.0
    h, _, caches = stack.forward(xs)  # (B, T, H)
    pred = h[:, -1] @ w.T + b  # (B, O)
    # L = mean (pred - y)^2  ->  dL/dpred = 2 (pred - y) / (B O)
    loss = float(np.mean((pred - ys) ** 2))
    dpred = 2.0 * (pred - ys) / pred.size
    dy = np.zeros_like(h)
    dy[:, -1] = dpred @ w  # only the last step feeds the readout
    back = stack.backward(caches, dy)
    return np.linalg.norm(back.dh[0], axis=2).mean(axis=0), loss
