"""Iris classification with a one-hidden-layer MLP: the notes' Keras exercise, in PyTorch.

The course notebook (Study-AI's Keras exercise, notes 004 "Irisデータの分類") reads scikit-learn's
bundled iris — 150 flowers, 4 raw measurements in cm, 3 species of 50 — splits off 20% for test,
and trains::

    Dense(12, input_dim=4) -> Activation('relu') -> Dense(3) -> Activation('softmax')
    compile(optimizer='sgd', loss='sparse_categorical_crossentropy', metrics=['accuracy'])
    fit(x_train, d_train, batch_size=5, epochs=20, validation_data=(x_test, d_test))

``optimizer='sgd'`` is Keras' ``SGD()``: plain gradient descent, lr = 0.01, no momentum. The
features are not scaled. Keras initializes a Dense layer's weights Glorot-uniform,
W ~ U(-a, a) with a = sqrt(6 / (fan_in + fan_out)), and its biases to zero; :class:`IrisMLP` does
the same. The notebook splits at random; here the split is stratified (10 test flowers of each
species) and seeded, so every setting and the logistic-regression baseline see the same split.

Notation: x (B, 4) a batch of flowers, u = x W1ᵀ + b1 (B, H) the hidden pre-activations,
h = f(u) with f = ReLU or sigmoid, z = h W2ᵀ + b2 (B, 3) the logits, p = softmax(z), and the loss
L = -(1/B) Σ_n log p[n, d_n] for labels d (Keras' sparse categorical cross-entropy).
Backpropagation gives δ2 = (p - onehot(d)) / B (B, 3), ∂L/∂W2 = δ2ᵀ h, δ1 = (δ2 W2) ⊙ f'(u) (B, H),
∂L/∂W1 = δ1ᵀ x: the first layer's gradient is the output layer's error passed back once through
f', which is at most 1/4 for the sigmoid and 0 or 1 for ReLU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from deepkata.core.config import Config, param

Activation = Literal["relu", "sigmoid"]


@dataclass(frozen=True, kw_only=True)
class IrisMLPConfig(Config):
    inputs: int = param(4, "input features (iris has 4 measurements)", gt=0)
    hidden: int = param(12, "hidden units: the notebook's Dense(12)", gt=0, le=4096)
    classes: int = param(3, "output classes (iris has 3 species)", ge=2)
    activation: Activation = param("relu", "hidden activation: the notebook's relu, or sigmoid (the exercise's change)")


class IrisMLP(nn.Module):
    """Dense(hidden) -> activation -> Dense(classes); returns logits (softmax is in the loss)."""

    def __init__(self, cfg: IrisMLPConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.fc1 = nn.Linear(cfg.inputs, cfg.hidden)
        self.fc2 = nn.Linear(cfg.hidden, cfg.classes)
        for layer in (self.fc1, self.fc2):
            # Keras' Dense: glorot_uniform weights, a = sqrt(6 / (fan_in + fan_out)); zero biases
            a = math.sqrt(6.0 / (layer.in_features + layer.out_features))
            nn.init.uniform_(layer.weight, -a, a)
            nn.init.zeros_(layer.bias)

    def hidden_pre(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc1(x)  # u = x W1ᵀ + b1, (B, H)

    def act(self, u: torch.Tensor) -> torch.Tensor:
        return torch.relu(u) if self.cfg.activation == "relu" else torch.sigmoid(u)

    def act_slope(self, u: torch.Tensor) -> torch.Tensor:
        """f'(u), elementwise: 1[u > 0] for ReLU, σ(u)(1 - σ(u)) ≤ 1/4 for the sigmoid."""
        if self.cfg.activation == "relu":
            return (u > 0).to(u.dtype)
        s = torch.sigmoid(u)
        return s * (1 - s)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.hidden_pre(x)))  # z, (B, classes)


# --- data ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IrisSplit:
    """A stratified train/test split of iris: features in cm (N, 4) float64, species 0..2 (N,)."""

    x_train: np.ndarray
    x_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray


def load_split(seed: int, test_size: float = 0.2) -> IrisSplit:
    """scikit-learn's bundled iris, split with ``train_test_split(stratify=species, random_state=seed)``."""
    from sklearn.datasets import load_iris
    from sklearn.model_selection import train_test_split

    data = load_iris()
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=test_size, stratify=data.target, random_state=seed
    )
    return IrisSplit(x_train, x_test, y_train, y_test)


# --- training --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EpochStats:
    """One epoch as Keras' history reports it, and the gradients it took.

    ``loss`` and ``accuracy`` are averaged over the epoch's batches, each scored before its update
    (Keras' ``loss``/``acc``); ``grad_w1``/``grad_w2`` are the mean Frobenius norms of ∂L/∂W1 and
    ∂L/∂W2 over the epoch's steps.
    """

    loss: float
    accuracy: float
    grad_w1: float
    grad_w2: float


def train_epoch(model: IrisMLP, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, order: torch.Tensor, batch: int) -> EpochStats:
    """One pass over (x, y) in ``order`` (a permutation, on x's device), ``batch`` flowers a step."""
    model.train()
    n = len(order)
    loss_sum = hits = g1 = g2 = 0.0
    steps = 0
    for start in range(0, n, batch):
        idx = order[start : start + batch]
        z = model(x[idx])  # (B, 3)
        loss = F.cross_entropy(z, y[idx])  # -(1/B) Σ log softmax(z)[n, d_n]
        opt.zero_grad()
        loss.backward()
        g1 += model.fc1.weight.grad.norm().item()
        g2 += model.fc2.weight.grad.norm().item()
        opt.step()
        loss_sum += loss.item() * len(idx)
        hits += (z.argmax(1) == y[idx]).sum().item()
        steps += 1
    return EpochStats(loss_sum / n, hits / n, g1 / steps, g2 / steps)


@torch.no_grad()
def evaluate(model: IrisMLP, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of ``model`` on all of (x, y)."""
    model.eval()
    z = model(x)
    return F.cross_entropy(z, y).item(), (z.argmax(1) == y).sum().item() / len(y)


@torch.no_grad()
def mean_slope(model: IrisMLP, x: torch.Tensor) -> float:
    """Mean of f'(u) over flowers and hidden units: the factor backpropagation multiplies by."""
    return model.act_slope(model.hidden_pre(x)).mean().item()


def first_layer_gradient(model: IrisMLP, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(∂L/∂W1, ∂L/∂W2) of the mean cross-entropy over (x, y), by the backpropagation formulas
    of the module docstring (no autograd): what ``train_epoch``'s norms measure, written out."""
    with torch.no_grad():
        u = model.hidden_pre(x)  # (B, H)
        h = model.act(u)  # (B, H)
        p = torch.softmax(model.fc2(h), dim=1)  # (B, 3)
        delta2 = (p - F.one_hot(y, p.shape[1]).to(p.dtype)) / len(x)  # δ2 = (p - onehot(d)) / B, (B, 3)
        delta1 = (delta2 @ model.fc2.weight) * model.act_slope(u)  # δ1 = (δ2 W2) ⊙ f'(u), (B, H)
        return delta1.T @ x, delta2.T @ h  # ∂L/∂W1 = δ1ᵀ x (H, 4), ∂L/∂W2 = δ2ᵀ h (3, H)


# --- the baseline ----------------------------------------------------------------------------------


def logistic_regression_accuracy(split: IrisSplit) -> float:
    """Test accuracy of scikit-learn's ``LogisticRegression`` (multinomial, L2, C = 1) fitted on
    the same raw training features: the linear baseline the MLP should beat."""
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # 120 flowers: BLAS threads only wait on each other (0.7 s instead of 0.02)
        clf = LogisticRegression(max_iter=5000).fit(split.x_train, split.y_train)
    return float(clf.score(split.x_test, split.y_test))
