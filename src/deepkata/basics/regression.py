"""Regression from the notes' TensorFlow exercises (004, 線形回帰演習 and 非線形回帰演習), in PyTorch.

Two problems, with the course notebook's data:

- a line, ``d = w x + b + σ ε`` with ``x ~ U[0, 1)`` and ``ε ~ N(0, 1)`` (truth ``w = 3``,
  ``b = 2``), fitted by plain gradient descent on the mean squared error
  ``L(w, b) = mean((w x + b - d)^2)``, written by hand, and by least squares in closed form;
- a curve, ``d = 30 x^2 + 0.5 x + 0.2`` with ``x ~ U[-2, 2)``, fitted by the notebook's
  polynomial model ``y = Σ_j W_j x^j`` (no bias) or a small MLP.

Notation: ``x`` inputs, ``d`` targets (the notebook's names), ``(w, b)`` the line's weight and
bias, ``lr`` the learning rate, ``n`` the number of points.

Why gradient descent stops short of the least-squares solution after a fixed number of steps:
the loss is quadratic with Hessian ``H = 2 [[mean x², mean x], [mean x, 1]]``, so the error
``θ_k - θ*`` after ``k`` steps is ``(I - lr H)^k (θ_0 - θ*)``; it shrinks by ``|1 - lr λ|`` a
step along each eigenvector of ``H`` (eigenvalue ``λ``), and the smallest eigenvalue sets the
pace (:func:`gd_contraction`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from scipy import stats
from torch import nn

from deepkata.core.config import Config, param

# --- data -------------------------------------------------------------------------------------


def line_data(rng: np.random.Generator, n: int, w: float, b: float, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """The notebook's line: ``x ~ U[0, 1)``, ``d = w x + b + noise · N(0, 1)``; (n,) each."""
    x = rng.random(n)
    return x, w * x + b + noise * rng.standard_normal(n)


def curve_data(
    rng: np.random.Generator, n: int, coeffs: tuple[float, ...], noise: float, x_max: float
) -> tuple[np.ndarray, np.ndarray]:
    """``x ~ U[-x_max, x_max)``, ``d = Σ_j coeffs[j] x^j + noise · N(0, 1)``; (n,) each."""
    x = rng.random(n) * 2 * x_max - x_max
    return x, polynomial(coeffs, x) + noise * rng.standard_normal(n)


def polynomial(coeffs: tuple[float, ...], x: np.ndarray) -> np.ndarray:
    """``Σ_j coeffs[j] x^j`` (lowest power first)."""
    return sum(c * x**j for j, c in enumerate(coeffs))


# --- the line: hand-written gradient descent --------------------------------------------------


def design(x: torch.Tensor) -> torch.Tensor:
    """The line's design matrix ``X = [x, 1]``: (n,) -> (n, 2), so that ``X θ = w x + b`` for ``θ = (w, b)``."""
    return torch.stack([x, torch.ones_like(x)], dim=1)


def mse_gradients(theta: torch.Tensor, X: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """The gradient of ``L = mean((X θ - d)^2)`` by hand: ``(2 / n) Xᵀ (X θ - d)``, i.e. ``(mean(2 r x), mean(2 r))``.

    ``theta`` (2,) is (w, b), ``X`` (n, 2) the design, ``d`` (n,) the targets; returns (2,).
    """
    r = X @ theta - d  # (n,): residuals w x + b - d
    return (2 / len(d)) * (X.T @ r)


def gd_step(params: torch.Tensor, grads: torch.Tensor, lr: float) -> torch.Tensor:
    """Plain gradient descent: ``θ ← θ - lr ∇L`` (what ``tf.train.GradientDescentOptimizer`` does)."""
    return params - lr * grads


def gd_contraction(x: np.ndarray, lr: float) -> float:
    """How much one gradient-descent step shrinks the distance to the least-squares solution, at worst.

    The spectral radius of ``I - lr H`` with ``H = 2 [[mean x², mean x], [mean x, 1]]``: after
    ``k`` steps the distance is at most this to the ``k`` times the starting distance.
    """
    m1, m2 = float(np.mean(x)), float(np.mean(x**2))
    eig = np.linalg.eigvalsh(2 * np.array([[m2, m1], [m1, 1.0]]))
    return float(np.max(np.abs(1 - lr * eig)))


def excess_mse_uniform(dw: float, db: float) -> float:
    """How much more a line off by ``(dw, db)`` errs than the true one, in mean square, over ``x ~ U[0, 1)``.

    ``E[(dw x + db)^2] = dw²/3 + dw db + db²``: the noise ``σ²`` is the true line's error, and
    this is what the estimate adds to it on new data.
    """
    return dw**2 / 3 + dw * db + db**2


# --- the line: least squares in closed form ----------------------------------------------------


@dataclass(frozen=True)
class LeastSquares:
    """The ordinary-least-squares fit of ``d ≈ w x + b``, with its standard errors."""

    coef: np.ndarray  # (2,): w, b
    se: np.ndarray  # (2,): standard errors of w and b
    sigma: float  # residual standard deviation, sqrt(RSS / (n - 2))
    dof: int  # n - 2

    def interval(self, level: float = 0.95) -> np.ndarray:
        """The t-interval for (w, b) at ``level``: (2, 2), rows w and b, columns low and high."""
        t = stats.t.ppf(0.5 + level / 2, self.dof)
        return np.stack([self.coef - t * self.se, self.coef + t * self.se], axis=1)


def least_squares(x: np.ndarray, d: np.ndarray) -> LeastSquares:
    """``numpy.linalg.lstsq`` on the design ``[x, 1]``; standard errors from ``σ̂² (XᵀX)⁻¹``."""
    X = np.stack([x, np.ones_like(x)], axis=1)  # (n, 2)
    coef, *_ = np.linalg.lstsq(X, d, rcond=None)
    dof = len(x) - 2
    resid = d - X @ coef
    sigma = float(np.sqrt(resid @ resid / dof))
    # Var(θ̂) = σ² (XᵀX)⁻¹
    se = sigma * np.sqrt(np.diag(np.linalg.inv(X.T @ X)))
    return LeastSquares(coef, se, sigma, dof)


# --- the curve: models --------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PolyConfig(Config):
    degree: int = param(2, "highest power of x (the notebook's input_layer_size - 1)", ge=1, le=8)
    init_std: float = param(0.01, "standard deviation of the weights' normal initialization", gt=0, le=10)


class PolynomialRegression(nn.Module):
    """The notebook's model: ``y = Σ_j W_j x^j``, ``j = 0..degree``, one matrix product, no bias."""

    def __init__(self, cfg: PolyConfig) -> None:
        super().__init__()
        self.cfg = cfg
        # built on the CPU, like nn.Linear's weights, and moved with the module
        self.weight = nn.Parameter(torch.empty(cfg.degree + 1, 1, device="cpu"))  # (degree + 1, 1)
        nn.init.normal_(self.weight, std=cfg.init_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (n, 1) -> (n, 1)
        powers = torch.arange(self.cfg.degree + 1, device=x.device, dtype=x.dtype)
        return (x**powers) @ self.weight  # (n, degree + 1) @ (degree + 1, 1)


@dataclass(frozen=True, kw_only=True)
class MLPConfig(Config):
    hidden: tuple[int, ...] = param((64,), "units of each hidden layer", gt=0, le=4096)
    activation: Literal["relu", "tanh", "sigmoid"] = param("relu", "hidden layers' activation")


ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


class MLP(nn.Module):
    """A small multilayer perceptron from one input to one output, PyTorch's initialization."""

    def __init__(self, cfg: MLPConfig) -> None:
        super().__init__()
        sizes = (1, *cfg.hidden)
        layers: list[nn.Module] = []
        for a, b in itertools.pairwise(sizes):
            layers += [nn.Linear(a, b), ACTIVATIONS[cfg.activation]()]
        self.net = nn.Sequential(*layers, nn.Linear(sizes[-1], 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (n, 1) -> (n, 1)
        return self.net(x)


def r2(pred: np.ndarray, target: np.ndarray) -> float:
    """The coefficient of determination ``1 - Σ(target - pred)² / Σ(target - mean target)²``."""
    return float(1 - np.sum((target - pred) ** 2) / np.sum((target - np.mean(target)) ** 2))
