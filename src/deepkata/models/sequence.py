"""PyTorch sequence models: one small family of recurrent networks for the whole project.

A :class:`SequenceModel` is a recurrent stack (``nn.RNN``, ``nn.GRU`` or ``nn.LSTM``, batch
first, any depth, optionally bidirectional, dropout between layers) with an optional linear
head, built from a frozen :class:`SequenceModelConfig`. The forecasting, translation and
dialogue katas build on it; its from-scratch twin, proven equal, is
:mod:`deepkata.rnn.scratch`.

- ``readout="all"``: the head applies at every step, (B, T, D*H) -> (B, T, O);
  ``readout="last"``: to the final state of each direction joined, (B, D*H) -> (B, O).
- ``input_dropout`` drops input features with one mask per sequence, shared by every step
  (Gal & Ghahramani, 2016; what Keras' ``SimpleRNN(dropout=...)`` does).
- ``nonlinearity="sigmoid"`` (rnn cell only) has no fused PyTorch kernel: it runs
  :class:`UnrolledRNN`, a step-by-step loop with ``nn.RNN``'s parameter names.
- ``init="keras"`` initializes as Keras does: Glorot-uniform input weights, orthogonal
  recurrent weights, zero biases (LSTM forget gate 1), Glorot-uniform head.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from deepkata.core.config import Config, ConfigError, param
from deepkata.models.registry import register_model

CellName = Literal["rnn", "gru", "lstm"]
State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True, kw_only=True)
class SequenceModelConfig(Config):
    cell: CellName = param("lstm", "recurrent cell")
    input_size: int = param(1, "I: features per step", ge=1)
    hidden: int = param(64, "H: units per direction", ge=1)
    layers: int = param(1, "stacked recurrent layers", ge=1)
    bidirectional: bool = param(False, "a second layer reading the sequence backwards")
    dropout: float = param(0.0, "between stacked layers, as PyTorch's dropout argument", ge=0, lt=1)
    input_dropout: float = param(0.0, "on the input features, one mask per sequence", ge=0, lt=1)
    nonlinearity: Literal["tanh", "relu", "sigmoid"] = param("tanh", "rnn cell only")
    bias: bool = param(True, "biases in the recurrent layers and the head")
    output_size: int | None = param(None, "O: a linear head; none returns the recurrent output", ge=1)
    readout: Literal["all", "last"] = param("all", "the head at every step, or on the final states")
    init: Literal["torch", "keras"] = param("torch", "PyTorch's default initialization, or Keras'")

    def validate(self) -> None:
        if self.nonlinearity != "tanh" and self.cell != "rnn":
            raise ConfigError(f"nonlinearity applies to the rnn cell only, not {self.cell}")
        if self.nonlinearity == "sigmoid" and self.bidirectional:
            raise ConfigError("the sigmoid rnn is unidirectional")

    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1


class UnrolledRNN(nn.Module):
    """An Elman RNN stepped in Python, for nonlinearities PyTorch has no kernel for.

    h_t = f(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), layer after layer, with ``nn.RNN``'s
    parameter names and shapes, batch first.
    """

    def __init__(self, input_size: int, hidden: int, layers: int, nonlinearity: str, bias: bool, dropout: float) -> None:
        super().__init__()
        self.hidden, self.num_layers, self.bias, self.dropout = hidden, layers, bias, dropout
        self.act = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}[nonlinearity]
        for k in range(layers):
            fan_in = input_size if k == 0 else hidden
            self.register_parameter(f"weight_ih_l{k}", nn.Parameter(torch.empty(hidden, fan_in)))
            self.register_parameter(f"weight_hh_l{k}", nn.Parameter(torch.empty(hidden, hidden)))
            if bias:
                self.register_parameter(f"bias_ih_l{k}", nn.Parameter(torch.empty(hidden)))
                self.register_parameter(f"bias_hh_l{k}", nn.Parameter(torch.empty(hidden)))
        bound = hidden**-0.5  # nn.RNN's default: U(-1/sqrt(H), 1/sqrt(H))
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        batch, steps, _ = x.shape
        finals = []
        for k in range(self.num_layers):
            w_ih, w_hh = getattr(self, f"weight_ih_l{k}"), getattr(self, f"weight_hh_l{k}")
            # x_t W_ih^T + b_ih + b_hh for every t at once
            u = x @ w_ih.T
            if self.bias:
                u = u + getattr(self, f"bias_ih_l{k}") + getattr(self, f"bias_hh_l{k}")
            h = x.new_zeros(batch, self.hidden) if h0 is None else h0[k]
            ys = []
            for t in range(steps):
                h = self.act(u[:, t] + h @ w_hh.T)
                ys.append(h)
            x = torch.stack(ys, dim=1)
            finals.append(h)
            if self.dropout and self.training and k < self.num_layers - 1:
                x = nn.functional.dropout(x, self.dropout)
        return x, torch.stack(finals)


class SequenceModel(nn.Module):
    def __init__(self, cfg: SequenceModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        dropout = cfg.dropout if cfg.layers > 1 else 0.0
        if cfg.cell == "rnn" and cfg.nonlinearity == "sigmoid":
            self.rnn: nn.Module = UnrolledRNN(cfg.input_size, cfg.hidden, cfg.layers, "sigmoid", cfg.bias, dropout)
        else:
            kind = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[cfg.cell]
            extra = {"nonlinearity": cfg.nonlinearity} if cfg.cell == "rnn" else {}
            self.rnn = kind(
                cfg.input_size, cfg.hidden, num_layers=cfg.layers, bias=cfg.bias, batch_first=True,
                dropout=dropout, bidirectional=cfg.bidirectional, **extra,
            )  # fmt: skip
        width = cfg.directions * cfg.hidden
        self.head = nn.Linear(width, cfg.output_size, bias=cfg.bias) if cfg.output_size is not None else None
        if cfg.init == "keras":
            self._init_keras()

    def _init_keras(self) -> None:
        for name, p in self.rnn.named_parameters():
            if name.startswith("weight_ih"):
                # Glorot-uniform over the whole kernel: U(-a, a), a = sqrt(6 / (fan_in + fan_out))
                nn.init.xavier_uniform_(p)
            elif name.startswith("weight_hh"):
                # orthogonal: the (G*H, H) matrix has orthonormal columns, Keras' (H, G*H)
                # recurrent kernel orthonormal rows; one is the transpose of the other
                nn.init.orthogonal_(p)
            else:
                nn.init.zeros_(p)
                if self.cfg.cell == "lstm" and name.startswith("bias_ih"):
                    p.data[self.cfg.hidden : 2 * self.cfg.hidden] = 1.0  # unit_forget_bias
        if self.head is not None:
            nn.init.xavier_uniform_(self.head.weight)
            if self.head.bias is not None:
                nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """x (B, T, I) -> (output, final state); output as ``readout`` and ``output_size`` say."""
        cfg = self.cfg
        if cfg.input_dropout and self.training:
            # one mask per sequence and feature, shared by every step: (B, 1, I)
            keep = 1.0 - cfg.input_dropout
            x = x * torch.bernoulli(x.new_full((x.shape[0], 1, x.shape[2]), keep)) / keep
        y, state = self.rnn(x, state)  # (B, T, D*H)
        if cfg.readout == "last":
            h = cfg.hidden
            # the final state of each direction: step T-1 forwards, step 0 backwards
            y = y[:, -1] if not cfg.bidirectional else torch.cat([y[:, -1, :h], y[:, 0, h:]], dim=1)
        return (self.head(y) if self.head is not None else y), state

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


@register_model("recurrent", config=SequenceModelConfig, topic="rnn")
def recurrent(cfg: SequenceModelConfig) -> SequenceModel:
    """A recurrent stack (RNN, GRU or LSTM) with an optional linear head."""
    return SequenceModel(cfg)
