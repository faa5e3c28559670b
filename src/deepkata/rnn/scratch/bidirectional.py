"""A bidirectional recurrent layer: one layer reads forward, another backward, outputs joined.

Schuster & Paliwal, "Bidirectional recurrent neural networks" (1997); the curriculum's
双方向RNN. With x reversed in time written rev(x):

    y_fwd, s_fwd = fwd(x)                 (B, T, H)
    y_bwd, s_bwd = bwd(rev(x))            (B, T, H), step t of it is position T-1-t of x
    y = concat(y_fwd, rev(y_bwd))         (B, T, 2H)

The state is the forward layer's state followed by the backward layer's, e.g. (h_f, c_f, h_b,
c_b) for LSTMs, as PyTorch orders h_n and c_n (forward direction first).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepkata.rnn.scratch.layer import Backward, RecurrentLayer, State


class Bidirectional(RecurrentLayer):
    def __init__(self, fwd: RecurrentLayer, bwd: RecurrentLayer) -> None:
        if (fwd.hidden, fwd.state_size) != (bwd.hidden, bwd.state_size):
            raise ValueError("both directions need the same hidden size and state")
        self.fwd, self.bwd = fwd, bwd
        self.hidden = fwd.hidden
        self.state_size = 2 * fwd.state_size
        # one flat view of both directions' arrays (the same arrays, not copies)
        self.params = {f"fwd/{k}": v for k, v in fwd.params.items()} | {f"bwd/{k}": v for k, v in bwd.params.items()}

    @property
    def output_size(self) -> int:
        return 2 * self.hidden

    def _split(self, state: State | None) -> tuple[State | None, State | None]:
        if state is None:
            return None, None
        k = self.fwd.state_size
        return tuple(state[:k]), tuple(state[k:])

    def forward(self, x: np.ndarray, state0: State | None = None) -> tuple[np.ndarray, State, Any]:
        s_fwd, s_bwd = self._split(state0)
        y_f, last_f, cache_f = self.fwd.forward(x, s_fwd)
        y_b, last_b, cache_b = self.bwd.forward(x[:, ::-1], s_bwd)
        # concat(y_fwd, rev(y_bwd))
        return np.concatenate([y_f, y_b[:, ::-1]], axis=2), (*last_f, *last_b), (cache_f, cache_b)

    def backward(self, cache: Any, dy: np.ndarray, dstate: State | None = None) -> Backward:
        cache_f, cache_b = cache
        d_fwd, d_bwd = self._split(dstate)
        hid = self.hidden
        back_f = self.fwd.backward(cache_f, dy[:, :, :hid], d_fwd)
        # the backward layer saw rev(x) and produced rev(its part of y)
        back_b = self.bwd.backward(cache_b, np.ascontiguousarray(dy[:, ::-1, hid:]), d_bwd)
        grads = {f"fwd/{k}": v for k, v in back_f.grads.items()} | {f"bwd/{k}": v for k, v in back_b.grads.items()}
        dx = back_f.dx + back_b.dx[:, ::-1]
        dh = np.concatenate([back_f.dh, back_b.dh[:, ::-1]], axis=2)
        return Backward(grads, dx, (*back_f.dstate0, *back_b.dstate0), dh)
