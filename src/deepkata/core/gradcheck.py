"""Central finite differences: the check every from-scratch backward pass must pass.

    dL/dw_i ~ (L(w + eps e_i) - L(w - eps e_i)) / (2 eps)      error O(eps^2)

:func:`numerical_grad` perturbs one element at a time, in place, and restores it;
:func:`relative_error` compares an analytic gradient ``a`` with the numerical one ``n`` as
gradient checks conventionally do (Ng's and CS231n's notes):

    ||a - n||_2 / (||a||_2 + ||n||_2)

A per-element ratio would be dominated by entries of 1e-8 whose differences are round-off.

The default step, eps = 1e-5, balances the O(eps^2) truncation error against the round-off
error O(machine epsilon * |F| / eps) for float64 values of order one; 1e-6 is already
round-off dominated when the loss is a few units.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np


def numerical_grad(f: Callable[[], float], x: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """dF/dx by central differences, where ``f()`` reads ``x`` (perturbed in place)."""
    if x.dtype != np.float64:
        raise TypeError("finite differences need float64 arrays")
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)  # views: writing flat writes x
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        plus = f()
        flat[i] = old - eps
        minus = f()
        flat[i] = old
        gflat[i] = (plus - minus) / (2 * eps)
    return grad


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """||a - n|| / (||a|| + ||n||), and 0 when both are zero."""
    a, n = np.asarray(analytic, dtype=np.float64), np.asarray(numeric, dtype=np.float64)
    if a.shape != n.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {n.shape}")
    scale = np.linalg.norm(a) + np.linalg.norm(n)
    return float(np.linalg.norm(a - n) / scale) if scale > 0 else 0.0


def check_gradients(
    f: Callable[[], float], params: Mapping[str, np.ndarray], grads: Mapping[str, np.ndarray], eps: float = 1e-5
) -> dict[str, float]:
    """Relative error of each analytic gradient in ``grads`` against finite differences of ``f``."""
    return {name: relative_error(grads[name], numerical_grad(f, params[name], eps)) for name in grads}
