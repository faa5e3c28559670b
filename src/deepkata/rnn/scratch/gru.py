"""The GRU layer with exact BPTT, in NumPy.

Cho et al., "Learning phrase representations using RNN encoder-decoder" (2014), in the form
PyTorch's ``nn.GRU`` computes, gates in its order (r, z, n) along the last axis:

    a_t = x_t W_x + b_x                   (B, 3H)   input part of every gate
    e_t = h_{t-1} W_h + b_h               (B, 3H)   recurrent part
    r_t = sigma(a_r + e_r)                reset gate
    z_t = sigma(a_z + e_z)                update gate
    n_t = tanh(a_n + r_t * e_n)           candidate: the reset gate scales the recurrent part
    h_t = (1 - z_t) * n_t + z_t * h_{t-1}                  y_t = h_t

The two biases cannot be merged as in the LSTM: b_h's n-part sits inside r_t * (...).
Some texts (and the course) write h_t = z_t * n_t + (1 - z_t) * h_{t-1}; that is the same
model with z_t replaced by 1 - z_t.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from deepkata.rnn.scratch.functional import InitName, init_weight, sigmoid
from deepkata.rnn.scratch.layer import Backward, RecurrentLayer, State


class GRUCache(NamedTuple):
    x: np.ndarray  # (B, T, I)
    h: np.ndarray  # (B, T+1, H), h[:, 0] = h_0
    gates: np.ndarray  # (B, T, 3H): r, z, n after their nonlinearities
    e_n: np.ndarray  # (B, T, H): the recurrent part of the candidate, h_{t-1} W_hn + b_hn


class GRULayer(RecurrentLayer):
    state_size = 1

    def __init__(self, params: dict[str, np.ndarray]) -> None:
        self.params = params
        self.hidden = params["W_h"].shape[0]

    @classmethod
    def init(cls, n_in: int, hidden: int, rng: np.random.Generator, *, init: InitName = "xavier") -> GRULayer:
        return cls(
            {
                "W_x": init_weight(rng, n_in, 3 * hidden, init),
                "W_h": init_weight(rng, hidden, 3 * hidden, init),
                "b_x": np.zeros(3 * hidden),
                "b_h": np.zeros(3 * hidden),
            }
        )

    def forward(self, x: np.ndarray, state0: State | None = None) -> tuple[np.ndarray, State, GRUCache]:
        p = self.params
        batch, steps, _ = x.shape
        hid = self.hidden
        a = x @ p["W_x"] + p["b_x"]  # a_t for every t, (B, T, 3H)
        h = np.empty((batch, steps + 1, hid), dtype=a.dtype)
        h[:, 0] = 0.0 if state0 is None else state0[0]
        gates = np.empty_like(a)
        e_n = np.empty((batch, steps, hid), dtype=a.dtype)
        for t in range(steps):
            h_prev = h[:, t]
            # e_t = h_{t-1} W_h + b_h
            e = h_prev @ p["W_h"] + p["b_h"]  # (B, 3H)
            r = sigmoid(a[:, t, :hid] + e[:, :hid])
            z = sigmoid(a[:, t, hid : 2 * hid] + e[:, hid : 2 * hid])
            e_n[:, t] = e[:, 2 * hid :]
            # n_t = tanh(a_n + r_t * e_n)
            n = np.tanh(a[:, t, 2 * hid :] + r * e_n[:, t])
            # h_t = (1 - z_t) n_t + z_t h_{t-1}
            h[:, t + 1] = (1.0 - z) * n + z * h_prev
            gates[:, t] = np.concatenate([r, z, n], axis=1)
        return h[:, 1:], (h[:, -1].copy(),), GRUCache(x, h, gates, e_n)

    def backward(self, cache: GRUCache, dy: np.ndarray, dstate: State | None = None) -> Backward:
        p = self.params
        x, h, gates, e_n = cache
        batch, steps, _ = dy.shape
        hid = self.hidden
        w_h_t = p["W_h"].T
        da_all = np.empty_like(gates)  # dL/da_t, (B, T, 3H)
        de_all = np.empty_like(gates)  # dL/de_t, (B, T, 3H)
        dh = np.empty_like(dy)
        dh_next = np.zeros((batch, hid), dtype=dy.dtype) if dstate is None else dstate[0].copy()
        for t in reversed(range(steps)):
            r, z, n = (gates[:, t, k * hid : (k + 1) * hid] for k in range(3))
            h_prev = h[:, t]
            dh[:, t] = dh_t = dy[:, t] + dh_next
            # h = (1 - z) n + z h_prev
            dn = dh_t * (1.0 - z)
            dz = dh_t * (h_prev - n)
            # n = tanh(a_n + r e_n)
            dan = dn * (1.0 - n**2)
            dr = dan * e_n[:, t]
            dar = dr * r * (1.0 - r)
            daz = dz * z * (1.0 - z)
            da_all[:, t] = np.concatenate([dar, daz, dan], axis=1)
            de_all[:, t] = np.concatenate([dar, daz, dan * r], axis=1)
            # dL/dh_{t-1}: directly through z, and through every gate's recurrent part
            dh_next = dh_t * z + de_all[:, t] @ w_h_t
        flat_a = da_all.reshape(-1, 3 * hid)
        flat_e = de_all.reshape(-1, 3 * hid)
        grads = {
            "W_x": x.reshape(-1, x.shape[2]).T @ flat_a,
            "W_h": h[:, :-1].reshape(-1, hid).T @ flat_e,
            "b_x": flat_a.sum(axis=0),
            "b_h": flat_e.sum(axis=0),
        }
        dx = da_all @ p["W_x"].T
        return Backward(grads, dx, (dh_next,), dh)
