"""Stacked recurrent layers: the output sequence of layer l is the input of layer l+1.

Any :class:`~deepkata.rnn.scratch.layer.RecurrentLayer` can be a level, a
:class:`~deepkata.rnn.scratch.bidirectional.Bidirectional` pair included, which reproduces the
semantics of ``torch.nn.RNN/GRU/LSTM(num_layers=L, bidirectional=...)`` (without inter-layer
dropout). :func:`build` makes one from a cell name.

    y^(0) = x,   y^(l+1), s^(l) = layer_l(y^(l), s0^(l))      y = y^(L)

Backward runs the levels in reverse: dL/dy^(l) of level l is dL/dx of level l+1.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import numpy as np

from deepkata.rnn.scratch.bidirectional import Bidirectional
from deepkata.rnn.scratch.elman import ElmanLayer
from deepkata.rnn.scratch.functional import ActivationName, InitName
from deepkata.rnn.scratch.gru import GRULayer
from deepkata.rnn.scratch.layer import RecurrentLayer, State
from deepkata.rnn.scratch.lstm import LSTMLayer

CellName = Literal["rnn", "gru", "lstm"]


class StackBackward(NamedTuple):
    grads: dict[str, np.ndarray]  # keys "l{k}/<level's key>"
    dx: np.ndarray  # (B, T, I)
    dstates0: list[State]  # per level
    dh: list[np.ndarray]  # per level: total dL/dh_t, (B, T, output_size)


class RecurrentStack:
    def __init__(self, levels: list[RecurrentLayer]) -> None:
        self.levels = levels
        self.params = {f"l{k}/{name}": v for k, level in enumerate(levels) for name, v in level.params.items()}

    @property
    def output_size(self) -> int:
        return self.levels[-1].output_size

    def forward(self, x: np.ndarray, states0: list[State] | None = None) -> tuple[np.ndarray, list[State], list[Any]]:
        states, caches = [], []
        y = x
        for k, level in enumerate(self.levels):
            y, state, cache = level.forward(y, None if states0 is None else states0[k])
            states.append(state)
            caches.append(cache)
        return y, states, caches

    def backward(self, caches: list[Any], dy: np.ndarray, dstates: list[State] | None = None) -> StackBackward:
        grads: dict[str, np.ndarray] = {}
        dstates0: list[State] = [()] * len(self.levels)
        dh: list[np.ndarray] = [np.empty(0)] * len(self.levels)
        for k in reversed(range(len(self.levels))):
            back = self.levels[k].backward(caches[k], dy, None if dstates is None else dstates[k])
            grads.update({f"l{k}/{name}": g for name, g in back.grads.items()})
            dstates0[k], dh[k] = back.dstate0, back.dh
            dy = back.dx
        return StackBackward(grads, dy, dstates0, dh)


def build(
    cell: CellName,
    n_in: int,
    hidden: int,
    rng: np.random.Generator,
    *,
    layers: int = 1,
    bidirectional: bool = False,
    init: InitName = "xavier",
    activation_name: ActivationName = "tanh",
    peephole: bool = False,
) -> RecurrentStack:
    """A stack of ``layers`` levels of ``cell``, each bidirectional or not."""

    def one(fan_in: int) -> RecurrentLayer:
        if cell == "rnn":
            return ElmanLayer.init(fan_in, hidden, rng, activation_name=activation_name, init=init)
        if cell == "gru":
            return GRULayer.init(fan_in, hidden, rng, init=init)
        if cell == "lstm":
            return LSTMLayer.init(fan_in, hidden, rng, init=init, peephole=peephole)
        raise ValueError(f"unknown cell {cell!r}; expected rnn, gru or lstm")

    levels: list[RecurrentLayer] = []
    fan_in = n_in
    for _ in range(layers):
        level = Bidirectional(one(fan_in), one(fan_in)) if bidirectional else one(fan_in)
        levels.append(level)
        fan_in = level.output_size
    return RecurrentStack(levels)
