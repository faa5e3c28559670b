"""The interface every from-scratch recurrent layer implements.

A layer maps an input sequence x (B, T, I) and an initial state to an output sequence
y (B, T, H) and a final state. The state is a tuple of (B, H) arrays: ``(h,)`` for the Elman
RNN and the GRU, ``(h, c)`` for the LSTM. ``backward`` takes dL/dy and dL/d(final state) and
returns the gradients of every parameter, dL/dx, dL/d(initial state), and the *total*
gradient dL/dh_t at every step (what flows into h_t from the output and from the future):
its norm against t is the vanishing-gradient picture of the curriculum.

Weights are stored (fan_in, fan_out) so that ``x @ W`` computes a layer; the mapping to and
from PyTorch's (out, in) layout is in :mod:`deepkata.rnn.scratch.interop`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, NamedTuple

import numpy as np

State = tuple[np.ndarray, ...]


class Backward(NamedTuple):
    grads: dict[str, np.ndarray]  # dL/dparam, same keys and shapes as ``params``
    dx: np.ndarray  # (B, T, I)
    dstate0: State  # dL/d(initial state)
    dh: np.ndarray  # (B, T, H): total dL/dh_t at every step


class RecurrentLayer(ABC):
    """One recurrent layer, one direction."""

    params: dict[str, np.ndarray]
    hidden: int  # H: units per state array
    state_size: int  # arrays in the state: 1 for (h,), 2 for (h, c)

    @property
    def output_size(self) -> int:
        """Width of y: H, or 2H for a bidirectional pair."""
        return self.hidden

    def zero_state(self, batch: int, dtype: Any = np.float64) -> State:
        return tuple(np.zeros((batch, self.hidden), dtype=dtype) for _ in range(self.state_size))

    @abstractmethod
    def forward(self, x: np.ndarray, state0: State | None = None) -> tuple[np.ndarray, State, Any]:
        """y (B, T, H), the final state, and the cache :meth:`backward` needs."""

    @abstractmethod
    def backward(self, cache: Any, dy: np.ndarray, dstate: State | None = None) -> Backward:
        """Exact BPTT given dL/dy (B, T, H) and dL/d(final state) (zeros when None)."""


def zeros_like_state(state: State) -> State:
    return tuple(np.zeros_like(s) for s in state)
