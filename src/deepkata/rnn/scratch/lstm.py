"""The LSTM layer with exact BPTT, and optional peephole connections, in NumPy.

Hochreiter & Schmidhuber, "Long short-term memory" (1997), with the forget gate of Gers,
Schmidhuber & Cummins (2000) and the peepholes of Gers & Schmidhuber (2000). The cell state
c_t is the constant error carousel (CEC) of the curriculum: along it the gradient is only
multiplied by the forget gate, dL/dc_{t-1} = dL/dc_t * f_t + ..., so it neither vanishes nor
explodes while f_t stays near 1.

Gates in PyTorch's order (i, f, g, o), stacked along the last axis of z (B, 4H):

    z_t = x_t W_x + h_{t-1} W_h + b                        (B, 4H)
    i_t = sigma(z_i + p_i * c_{t-1})      input gate       (peephole p_i, optional)
    f_t = sigma(z_f + p_f * c_{t-1})      forget gate      (peephole p_f, optional)
    g_t = tanh(z_g)                       candidate
    c_t = f_t * c_{t-1} + i_t * g_t       cell state (CEC)
    o_t = sigma(z_o + p_o * c_t)          output gate      (peephole p_o, optional)
    h_t = o_t * tanh(c_t)                                  y_t = h_t

One bias b stands for PyTorch's two (``bias_ih + bias_hh``): they only ever appear summed.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from deepkata.rnn.scratch.functional import InitName, init_weight, sigmoid
from deepkata.rnn.scratch.layer import Backward, RecurrentLayer, State

PEEPHOLES = ("p_i", "p_f", "p_o")


class LSTMCache(NamedTuple):
    x: np.ndarray  # (B, T, I)
    h: np.ndarray  # (B, T+1, H), h[:, 0] = h_0
    c: np.ndarray  # (B, T+1, H), c[:, 0] = c_0
    gates: np.ndarray  # (B, T, 4H): i, f, g, o after their nonlinearities
    tanh_c: np.ndarray  # (B, T, H): tanh(c_t)


class LSTMLayer(RecurrentLayer):
    state_size = 2

    def __init__(self, params: dict[str, np.ndarray]) -> None:
        self.params = params
        self.hidden = params["W_h"].shape[0]
        self.peephole = "p_i" in params

    @classmethod
    def init(
        cls,
        n_in: int,
        hidden: int,
        rng: np.random.Generator,
        *,
        init: InitName = "xavier",
        peephole: bool = False,
        forget_bias: float = 0.0,
    ) -> LSTMLayer:
        """Gaussian weights by ``init``; b zero except the forget gate's, ``forget_bias``."""
        b = np.zeros(4 * hidden)
        b[hidden : 2 * hidden] = forget_bias
        params = {
            "W_x": init_weight(rng, n_in, 4 * hidden, init),
            "W_h": init_weight(rng, hidden, 4 * hidden, init),
            "b": b,
        }
        if peephole:
            for name in PEEPHOLES:
                params[name] = rng.standard_normal(hidden) / np.sqrt(hidden)
        return cls(params)

    def forward(self, x: np.ndarray, state0: State | None = None) -> tuple[np.ndarray, State, LSTMCache]:
        p = self.params
        batch, steps, _ = x.shape
        hid = self.hidden
        xz = x @ p["W_x"] + p["b"]  # x_t W_x + b for every t, (B, T, 4H)
        h = np.empty((batch, steps + 1, hid), dtype=xz.dtype)
        c = np.empty_like(h)
        h[:, 0], c[:, 0] = (0.0, 0.0) if state0 is None else state0
        gates = np.empty_like(xz)
        tanh_c = np.empty((batch, steps, hid), dtype=xz.dtype)
        for t in range(steps):
            c_prev = c[:, t]
            # z_t = x_t W_x + h_{t-1} W_h + b
            z = xz[:, t] + h[:, t] @ p["W_h"]  # (B, 4H)
            zi, zf, zg, zo = z[:, :hid], z[:, hid : 2 * hid], z[:, 2 * hid : 3 * hid], z[:, 3 * hid :]
            if self.peephole:
                zi = zi + p["p_i"] * c_prev
                zf = zf + p["p_f"] * c_prev
            i, f, g = sigmoid(zi), sigmoid(zf), np.tanh(zg)
            # c_t = f_t * c_{t-1} + i_t * g_t
            c[:, t + 1] = f * c_prev + i * g
            if self.peephole:
                zo = zo + p["p_o"] * c[:, t + 1]
            o = sigmoid(zo)
            tanh_c[:, t] = np.tanh(c[:, t + 1])
            # h_t = o_t * tanh(c_t)
            h[:, t + 1] = o * tanh_c[:, t]
            gates[:, t] = np.concatenate([i, f, g, o], axis=1)
        return h[:, 1:], (h[:, -1].copy(), c[:, -1].copy()), LSTMCache(x, h, c, gates, tanh_c)

    def backward(self, cache: LSTMCache, dy: np.ndarray, dstate: State | None = None) -> Backward:
        p = self.params
        x, h, c, gates, tanh_c = cache
        batch, steps, _ = dy.shape
        hid = self.hidden
        w_h_t = p["W_h"].T
        dz_all = np.empty_like(gates)  # dL/dz_t, (B, T, 4H)
        dh = np.empty_like(dy)  # total dL/dh_t
        if dstate is None:
            dh_next, dc_next = np.zeros((batch, hid), dtype=dy.dtype), np.zeros((batch, hid), dtype=dy.dtype)
        else:
            dh_next, dc_next = dstate[0].copy(), dstate[1].copy()
        peep = {name: np.zeros(hid) for name in PEEPHOLES} if self.peephole else {}
        for t in reversed(range(steps)):
            i, f, g, o = (gates[:, t, k * hid : (k + 1) * hid] for k in range(4))
            c_prev, tc = c[:, t], tanh_c[:, t]
            # the gradient reaching h_t: from y_t and from step t+1
            dh[:, t] = dh_t = dy[:, t] + dh_next
            # h = o * tanh(c):  do = dh * tanh(c),  dz_o = do * o (1 - o)
            dzo = dh_t * tc * o * (1.0 - o)
            # dL/dc_t: from step t+1 (the CEC), through h_t, and through the o-peephole
            dc = dc_next + dh_t * o * (1.0 - tc**2)
            if self.peephole:
                dc = dc + dzo * p["p_o"]
            # c = f * c_prev + i * g
            dzi = dc * g * i * (1.0 - i)
            dzf = dc * c_prev * f * (1.0 - f)
            dzg = dc * i * (1.0 - g**2)
            dc_next = dc * f
            if self.peephole:
                dc_next = dc_next + dzi * p["p_i"] + dzf * p["p_f"]
                peep["p_i"] += np.sum(dzi * c_prev, axis=0)
                peep["p_f"] += np.sum(dzf * c_prev, axis=0)
                peep["p_o"] += np.sum(dzo * c[:, t + 1], axis=0)
            dz = np.concatenate([dzi, dzf, dzg, dzo], axis=1)  # (B, 4H)
            dz_all[:, t] = dz
            dh_next = dz @ w_h_t
        flat = dz_all.reshape(-1, 4 * hid)
        grads = {
            "W_x": x.reshape(-1, x.shape[2]).T @ flat,  # sum_t x_t^T dz_t
            "W_h": h[:, :-1].reshape(-1, hid).T @ flat,  # sum_t h_{t-1}^T dz_t
            "b": flat.sum(axis=0),
            **peep,
        }
        dx = dz_all @ p["W_x"].T
        return Backward(grads, dx, (dh_next, dc_next), dh)
