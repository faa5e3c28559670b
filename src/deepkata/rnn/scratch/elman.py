"""The Elman (simple) recurrent layer with exact BPTT, in NumPy.

Elman, "Finding structure in time" (1990); the curriculum's simple RNN (Day 3). PyTorch's
``nn.RNN`` computes the same with ``nonlinearity="tanh"`` or ``"relu"``; sigmoid has no
PyTorch counterpart and is checked by finite differences.

    u_t = x_t W_x + h_{t-1} W_h + b      (B, H)
    h_t = f(u_t)                          (B, H)    y_t = h_t

Backward, with dh_t the total gradient reaching h_t (from y_t and from step t+1):

    dh_t    = dy_t + delta_{t+1} W_h^T      delta_{T+1} = dL/dh_T from the final state
    delta_t = dh_t * f'(u_t)
    dW_x = sum_t x_t^T delta_t,  dW_h = sum_t h_{t-1}^T delta_t,  db = sum_t delta_t
    dx_t = delta_t W_x^T,        dh_0 = delta_1 W_h^T
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from deepkata.rnn.scratch.functional import ActivationName, InitName, activation, init_weight
from deepkata.rnn.scratch.layer import Backward, RecurrentLayer, State


class ElmanCache(NamedTuple):
    x: np.ndarray  # (B, T, I)
    u: np.ndarray  # (B, T, H) pre-activations
    h: np.ndarray  # (B, T+1, H), h[:, 0] = h_0


class ElmanLayer(RecurrentLayer):
    state_size = 1

    def __init__(self, params: dict[str, np.ndarray], activation_name: ActivationName = "tanh") -> None:
        self.params = params
        self.hidden = params["W_h"].shape[0]
        self.bias = "b" in params
        self.act = activation(activation_name)

    @classmethod
    def init(
        cls,
        n_in: int,
        hidden: int,
        rng: np.random.Generator,
        *,
        activation_name: ActivationName = "tanh",
        init: InitName = "xavier",
        init_std: float = 1.0,
        bias: bool = True,
    ) -> ElmanLayer:
        params = {
            "W_x": init_weight(rng, n_in, hidden, init, init_std),
            "W_h": init_weight(rng, hidden, hidden, init, init_std),
        }
        if bias:
            params["b"] = np.zeros(hidden)
        return cls(params, activation_name)

    def forward(self, x: np.ndarray, state0: State | None = None) -> tuple[np.ndarray, State, ElmanCache]:
        w_h = self.params["W_h"]
        batch, steps, _ = x.shape
        # x_t W_x (+ b) for every t at once; the recurrence completes it step by step
        u = x @ self.params["W_x"]  # (B, T, H)
        if self.bias:
            u += self.params["b"]
        h = np.empty((batch, steps + 1, self.hidden), dtype=u.dtype)
        h[:, 0] = 0.0 if state0 is None else state0[0]
        f = self.act.fn
        for t in range(steps):
            # u_t = x_t W_x + h_{t-1} W_h + b
            u[:, t] += h[:, t] @ w_h
            # h_t = f(u_t)
            h[:, t + 1] = f(u[:, t])
        return h[:, 1:], (h[:, -1].copy(),), ElmanCache(x, u, h)

    def backward(self, cache: ElmanCache, dy: np.ndarray, dstate: State | None = None) -> Backward:
        x, u, h = cache
        batch, steps, hidden = u.shape
        w_h_t = self.params["W_h"].T
        fprime = self.act.grad(u)  # f'(u_t) for every t, (B, T, H)
        deltas = np.empty_like(u)  # delta_t = dL/du_t
        dh = np.empty_like(u)  # total dL/dh_t
        carry = np.zeros((batch, hidden), dtype=u.dtype) if dstate is None else dstate[0].copy()
        for t in reversed(range(steps)):
            # dh_t = dy_t + delta_{t+1} W_h^T  (carry holds the second term, or dL/dh_T)
            dh[:, t] = dy[:, t] + carry
            # delta_t = dh_t * f'(u_t)
            deltas[:, t] = dh[:, t] * fprime[:, t]
            carry = deltas[:, t] @ w_h_t
        flat = deltas.reshape(-1, hidden)  # (B*T, H)
        grads = {
            "W_x": x.reshape(-1, x.shape[2]).T @ flat,  # sum_t x_t^T delta_t
            "W_h": h[:, :-1].reshape(-1, hidden).T @ flat,  # sum_t h_{t-1}^T delta_t
        }
        if self.bias:
            grads["b"] = flat.sum(axis=0)
        dx = deltas @ self.params["W_x"].T  # (B, T, I)
        return Backward(grads, dx, (carry,), dh)
