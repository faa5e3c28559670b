"""A simple (Elman) recurrent network with exact backpropagation through time, in NumPy.

This is the network of the curriculum's Day 3 exercise (JDLA E-qualification, "simple RNN",
binary addition). It has no biases, as in the course notebook:

    u_t = x_t W_in + h_{t-1} W        (B, H)    h_0 = 0
    h_t = f(u_t)                       (B, H)
    v_t = h_t W_out                    (B, O)    output pre-activation ("logit")

The output nonlinearity and the loss belong to the task, so :meth:`SimpleRNN.backward` takes
dL/dv_t and returns the gradients of every weight by BPTT:

    delta_t = (delta_{t+1} W^T + dL/dv_t W_out^T) * f'(u_t)    delta_{T+1} = 0
    dL/dW_out = sum_t h_t^T dL/dv_t
    dL/dW     = sum_t h_{t-1}^T delta_t
    dL/dW_in  = sum_t x_t^T delta_t
    dL/dx_t   = delta_t W_in^T

Shapes: B batch, T time steps, I inputs, H hidden units, O outputs. Weights are stored as
(fan_in, fan_out) matrices so that a row vector times a weight gives the next layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from deepkata.rnn.scratch.functional import ActivationName, InitName, activation, init_weight

PARAM_NAMES = ("W_in", "W", "W_out")


@dataclass(frozen=True)
class SimpleRNNConfig:
    n_in: int = 2  # I: input features per time step
    hidden: int = 16  # H: hidden units
    n_out: int = 1  # O: outputs per time step
    activation: ActivationName = "sigmoid"  # hidden nonlinearity f
    init: InitName = "normal"  # weight initializer (see functional.init_std)
    init_std: float = 1.0  # standard deviation of the "normal" initializer


class Cache(NamedTuple):
    x: np.ndarray  # (B, T, I)
    u: np.ndarray  # (B, T, H) pre-activations
    h: np.ndarray  # (B, T+1, H) hidden states, h[:, 0] = h_0 = 0


class SimpleRNN:
    def __init__(self, cfg: SimpleRNNConfig, params: dict[str, np.ndarray]) -> None:
        expected = {
            "W_in": (cfg.n_in, cfg.hidden),
            "W": (cfg.hidden, cfg.hidden),
            "W_out": (cfg.hidden, cfg.n_out),
        }
        for name, shape in expected.items():
            if params[name].shape != shape:
                raise ValueError(f"{name} has shape {params[name].shape}, expected {shape}")
        self.cfg = cfg
        self.params = params
        self.act = activation(cfg.activation)

    @classmethod
    def init(cls, cfg: SimpleRNNConfig, rng: np.random.Generator) -> SimpleRNN:
        # drawn in the course notebook's order: W_in, W_out, W
        w_in = init_weight(rng, cfg.n_in, cfg.hidden, cfg.init, cfg.init_std)
        w_out = init_weight(rng, cfg.hidden, cfg.n_out, cfg.init, cfg.init_std)
        w = init_weight(rng, cfg.hidden, cfg.hidden, cfg.init, cfg.init_std)
        return cls(cfg, {"W_in": w_in, "W": w, "W_out": w_out})

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, Cache]:
        """Output pre-activations v (B, T, O) for inputs x (B, T, I), and the BPTT cache.

        Only the recurrence runs step by step; the input and output projections are one
        matrix product each over all steps, which matters when B = 1 (per-sample SGD).
        """
        w_in, w, w_out = (self.params[k] for k in PARAM_NAMES)
        batch, steps, _ = x.shape
        # x_t W_in for every t at once
        u = x @ w_in  # (B, T, H), completed in the loop below
        h = np.zeros((batch, steps + 1, self.cfg.hidden), dtype=u.dtype)
        f = self.act.fn
        for t in range(steps):
            # u_t = x_t W_in + h_{t-1} W
            u[:, t] += h[:, t] @ w
            # h_t = f(u_t)
            h[:, t + 1] = f(u[:, t])
        # v_t = h_t W_out
        v = h[:, 1:] @ w_out  # (B, T, O)
        return v, Cache(x, u, h)

    def backward(self, cache: Cache, dv: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Exact BPTT: gradients of every weight and of the input, given dL/dv (B, T, O)."""
        w_in, w, w_out = (self.params[k] for k in PARAM_NAMES)
        x, u, h = cache
        batch, steps, hidden = u.shape
        # error reaching h_t from the output at t, and f'(u_t), for every t at once
        from_out = dv @ w_out.T  # (B, T, H)
        fprime = self.act.grad(u)  # (B, T, H)
        deltas = np.empty_like(u)  # (B, T, H): delta_t = dL/du_t
        delta = np.zeros((batch, hidden), dtype=u.dtype)  # delta_{T+1} = 0
        w_t = w.T
        for t in reversed(range(steps)):
            # delta_t = (delta_{t+1} W^T + dv_t W_out^T) * f'(u_t)
            delta = (delta @ w_t + from_out[:, t]) * fprime[:, t]
            deltas[:, t] = delta
        # the weight gradients sum over batch and time: one product each
        flat = deltas.reshape(-1, hidden)  # (B*T, H)
        g_in = x.reshape(-1, x.shape[2]).T @ flat  # sum_t x_t^T delta_t
        g_w = h[:, :-1].reshape(-1, hidden).T @ flat  # sum_t h_{t-1}^T delta_t
        g_out = h[:, 1:].reshape(-1, hidden).T @ dv.reshape(-1, dv.shape[2])  # sum_t h_t^T dv_t
        dx = deltas @ w_in.T  # dL/dx_t = delta_t W_in^T, (B, T, I)
        return {"W_in": g_in, "W": g_w, "W_out": g_out}, dx

    def step(self, grads: dict[str, np.ndarray], lr: float) -> None:
        """Plain SGD: W <- W - lr dL/dW, in place."""
        for name in PARAM_NAMES:
            self.params[name] -= lr * grads[name]

    def max_abs_weight(self) -> float:
        return max(float(np.max(np.abs(p))) for p in self.params.values())
