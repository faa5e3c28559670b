"""Shared NumPy pieces of the from-scratch recurrent networks.

Activations with their derivatives, weight initializers and gradient clipping: the simple RNN
of the binary-addition exercise and the LSTM/GRU cells use these and nothing else, so each
formula lives in one place and is tested once (``tests/rnn/test_functional.py``).

Notation: ``u`` is a pre-activation, ``f(u)`` its activation, ``f'(u)`` the derivative taken at
the pre-activation. The course notebook evaluated the sigmoid's derivative at the *activated*
output (``d_sigmoid(y)`` with ``y = sigmoid(v)``); every derivative here takes ``u``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

ActivationName = Literal["sigmoid", "tanh", "relu"]
InitName = Literal["normal", "xavier", "he"]


def sigmoid(u: np.ndarray) -> np.ndarray:
    # sigma(u) = 1 / (1 + e^-u) = exp(-log(1 + e^-u)): no overflow for any u, full relative precision
    return np.exp(-np.logaddexp(0.0, -u))


def sigmoid_grad(u: np.ndarray) -> np.ndarray:
    # sigma'(u) = sigma(u) (1 - sigma(u))
    s = sigmoid(u)
    return s * (1.0 - s)


def tanh_grad(u: np.ndarray) -> np.ndarray:
    # tanh'(u) = 1 - tanh(u)^2
    return 1.0 - np.tanh(u) ** 2


def relu(u: np.ndarray) -> np.ndarray:
    return np.maximum(u, 0.0)


def relu_grad(u: np.ndarray) -> np.ndarray:
    # relu'(u) = 1 if u > 0 else 0 (the subgradient 0 is taken at u = 0, as PyTorch does)
    return (u > 0).astype(u.dtype)


@dataclass(frozen=True)
class Activation:
    """An elementwise function and its derivative, both taking the pre-activation."""

    name: str
    fn: Callable[[np.ndarray], np.ndarray]
    grad: Callable[[np.ndarray], np.ndarray]


ACTIVATIONS: Mapping[str, Activation] = {
    "sigmoid": Activation("sigmoid", sigmoid, sigmoid_grad),
    "tanh": Activation("tanh", np.tanh, tanh_grad),
    "relu": Activation("relu", relu, relu_grad),
}


def activation(name: str) -> Activation:
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)}") from None


def init_std(scheme: InitName, fan_in: int, normal_std: float = 1.0) -> float:
    """Standard deviation of a weight matrix with ``fan_in`` inputs under ``scheme``.

    These are the course's definitions (Saito, *Deep Learning from Scratch*, 6.2):
    ``normal`` is N(0, normal_std^2); ``xavier`` is N(0, 1/fan_in), the simplified Glorot
    initialization the course calls Xavier; ``he`` is N(0, 2/fan_in) (He et al., 2015).
    """
    if fan_in <= 0:
        raise ValueError(f"fan_in must be positive, got {fan_in}")
    if scheme == "normal":
        return normal_std
    if scheme == "xavier":
        return 1.0 / math.sqrt(fan_in)
    if scheme == "he":
        return math.sqrt(2.0 / fan_in)
    raise ValueError(f"unknown init {scheme!r}; expected normal, xavier or he")


def init_weight(
    rng: np.random.Generator, fan_in: int, fan_out: int, scheme: InitName, normal_std: float = 1.0
) -> np.ndarray:
    """A (fan_in, fan_out) matrix: standard normal draws scaled by :func:`init_std`.

    Drawing standard normals first and scaling after means the same seed gives the same
    underlying draws under every scheme, so settings that differ only in the scheme are
    compared on equal footing.
    """
    return rng.standard_normal((fan_in, fan_out)) * init_std(scheme, fan_in, normal_std)


def global_norm(grads: Mapping[str, np.ndarray]) -> float:
    # ||g|| = sqrt(sum over all parameters of sum g^2)
    return math.sqrt(sum(float(np.vdot(g, g)) for g in grads.values()))


def clip_grad_norm(grads: dict[str, np.ndarray], max_norm: float) -> float:
    """Scale ``grads`` in place so their global L2 norm is at most ``max_norm``.

    Returns the norm before clipping, like ``torch.nn.utils.clip_grad_norm_`` (which also
    scales by ``max_norm / (norm + 1e-6)``).
    """
    if max_norm <= 0:
        raise ValueError(f"max_norm must be positive, got {max_norm}")
    norm = global_norm(grads)
    scale = max_norm / (norm + 1e-6)
    if scale < 1.0:
        for g in grads.values():
            g *= scale
    return norm
