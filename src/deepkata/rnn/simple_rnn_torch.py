"""The course's simple RNN as a PyTorch :class:`~deepkata.models.sequence.SequenceModel`.

The twin of :class:`deepkata.rnn.scratch.simple_rnn.SimpleRNN`: the same weights in the
project's sequence model (rnn cell, no biases, a linear head at every step), so the NumPy
BPTT can be proven against autograd and timed against PyTorch (``bench/binary_addition.py``).
Sigmoid runs the unrolled loop; tanh and ReLU run ``nn.RNN``'s kernel.
"""

from __future__ import annotations

import numpy as np
import torch

from deepkata.models.sequence import SequenceModel, SequenceModelConfig


def twin(params: dict[str, np.ndarray], activation: str, dtype: torch.dtype = torch.float64) -> SequenceModel:
    """A SequenceModel computing v = SimpleRNN(params).forward(x)[0] for x (B, T, I)."""
    n_in, hidden = params["W_in"].shape
    cfg = SequenceModelConfig(
        cell="rnn", input_size=n_in, hidden=hidden, nonlinearity=activation, bias=False,
        output_size=params["W_out"].shape[1], readout="all",
    )  # fmt: skip
    model = SequenceModel(cfg).to(dtype)
    with torch.no_grad():
        model.rnn.weight_ih_l0.copy_(torch.from_numpy(params["W_in"].T.copy()))
        model.rnn.weight_hh_l0.copy_(torch.from_numpy(params["W"].T.copy()))
        model.head.weight.copy_(torch.from_numpy(params["W_out"].T.copy()))
    return model


def sigmoid_mse(v: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """Per-sample sum_t 1/2 (sigmoid(v_t) - d_t)^2, shape (B,)."""
    return 0.5 * ((torch.sigmoid(v) - d) ** 2).sum(dim=(1, 2))


def weights_of(model: SequenceModel) -> dict[str, np.ndarray]:
    """The twin's weights under the course's names, (fan_in, fan_out)."""
    return {
        "W_in": model.rnn.weight_ih_l0.detach().numpy().T,
        "W": model.rnn.weight_hh_l0.detach().numpy().T,
        "W_out": model.head.weight.detach().numpy().T,
    }
