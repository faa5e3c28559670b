"""A simple (Elman) recurrent network with exact backpropagation through time, in NumPy.

This is the network of the curriculum's Day 3 exercise (JDLA E-qualification, "simple RNN",
binary addition). It has no biases, as in the course notebook:

    u_t = x_t W_in + h_{t-1} W        (B, H)    h_0 = 0
    h_t = f(u_t)                       (B, H)
    v_t = h_t W_out                    (B, O)    output pre-activation ("logit")

It is the Elman layer of :mod:`deepkata.rnn.scratch.elman` without biases, plus the output
weights. The output nonlinearity and the loss belong to the task, so
:meth:`SimpleRNN.backward` takes dL/dv_t and returns the gradients of every weight by BPTT:

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

from deepkata.rnn.scratch.elman import ElmanCache, ElmanLayer
from deepkata.rnn.scratch.functional import ActivationName, InitName, init_weight

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
    layer: ElmanCache
    h: np.ndarray  # (B, T, H) hidden states h_1..h_T


class SimpleRNN:
    """The Elman layer without biases, followed by the output weights W_out.

    ``params`` holds the course's names; ``W_in`` and ``W`` are the very arrays of the
    underlying :class:`~deepkata.rnn.scratch.elman.ElmanLayer` (``W_x`` and ``W_h``).
    """

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
        self.layer = ElmanLayer({"W_x": params["W_in"], "W_h": params["W"]}, cfg.activation)

    @classmethod
    def init(cls, cfg: SimpleRNNConfig, rng: np.random.Generator) -> SimpleRNN:
        # drawn in the course notebook's order: W_in, W_out, W
        w_in = init_weight(rng, cfg.n_in, cfg.hidden, cfg.init, cfg.init_std)
        w_out = init_weight(rng, cfg.hidden, cfg.n_out, cfg.init, cfg.init_std)
        w = init_weight(rng, cfg.hidden, cfg.hidden, cfg.init, cfg.init_std)
        return cls(cfg, {"W_in": w_in, "W": w, "W_out": w_out})

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, Cache]:
        """Output pre-activations v (B, T, O) for inputs x (B, T, I), and the BPTT cache."""
        h, _, layer_cache = self.layer.forward(x)
        # v_t = h_t W_out
        v = h @ self.params["W_out"]  # (B, T, O)
        return v, Cache(layer_cache, h)

    def backward(self, cache: Cache, dv: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Exact BPTT: gradients of every weight and of the input, given dL/dv (B, T, O)."""
        w_out = self.params["W_out"]
        hidden = w_out.shape[0]
        # dL/dW_out = sum_t h_t^T dv_t
        g_out = cache.h.reshape(-1, hidden).T @ dv.reshape(-1, dv.shape[2])
        # the error reaching each h_t from the output: dv_t W_out^T
        back = self.layer.backward(cache.layer, dv @ w_out.T)
        return {"W_in": back.grads["W_x"], "W": back.grads["W_h"], "W_out": g_out}, back.dx

    def step(self, grads: dict[str, np.ndarray], lr: float) -> None:
        """Plain SGD: W <- W - lr dL/dW, in place."""
        for name in PARAM_NAMES:
            self.params[name] -= lr * grads[name]

    def max_abs_weight(self) -> float:
        return max(float(np.max(np.abs(p))) for p in self.params.values())
