"""An MLP that classifies digits, trained the ways the notes' TensorFlow and Keras exercises train it.

The network (notes 004, "Mnist演習" and Keras "Mnist"): x (B, D) flattened pixels scaled to
[0, 1], hidden layers h_l = f(h_{l-1} W_lᵀ + b_l) with f = sigmoid or ReLU, each followed by
dropout at its own rate, and logits z = h_L W_outᵀ + b_out (B, C). Softmax is in the loss:

    categorical cross-entropy   L = -(1/B) Σ_n Σ_k t[n, k] log softmax(z)[n, k]   t one-hot (B, C)
    sparse categorical          L = -(1/B) Σ_n log softmax(z)[n, d_n]             d labels (B,)

They are one function of the weights when t = onehot(d): the inner sum over k keeps only
k = d_n. Keras refuses plain labels with the categorical loss ("Shapes (None, 1) and (None, 10)
are incompatible"); :func:`categorical_cross_entropy` refuses them too, with one line.

Updates: Adam (``torch.optim.Adam``), or plain gradient descent written out by hand,
θ ← θ - η ∂L/∂θ (:class:`GradientDescent`, TensorFlow's ``GradientDescentOptimizer``).
Batches come from :class:`BatchStream`, TensorFlow's ``mnist.train.next_batch``: a shuffled pass
over the training set, a new shuffle when it runs out, every batch full.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from deepkata.core.config import Config, ConfigError, param
from deepkata.core.metrics import confusion_matrix  # noqa: F401  (the kata and its tests import it from here)
from deepkata.datasets.mnist import ImageSet

# --- the model ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class MLPConfig(Config):
    inputs: int = param(784, "input pixels (set from the data: 784 for MNIST, 64 for digits)", gt=0)
    hidden: tuple[int, ...] = param((600, 300), "units of each hidden layer", gt=0, le=8192)
    classes: int = param(10, "output classes", ge=2)
    activation: Literal["sigmoid", "relu"] = param("sigmoid", "hidden activation")
    dropout: tuple[float, ...] = param((0.0, 0.5), "dropout rate after each hidden layer (one per layer)", ge=0, lt=1)
    init: Literal["normal", "glorot"] = param("normal", "weights N(0, 0.01²) (the TF notebook) or Glorot-uniform (Keras); biases 0")

    def validate(self) -> None:
        if len(self.dropout) != len(self.hidden):
            raise ConfigError(f"dropout: {len(self.dropout)} rates for {len(self.hidden)} hidden layers; give one rate per layer")


class MLP(nn.Module):
    """Linear -> activation -> dropout per hidden layer, then a linear readout; returns logits (B, C)."""

    def __init__(self, cfg: MLPConfig) -> None:
        super().__init__()
        self.cfg = cfg
        sizes = (cfg.inputs, *cfg.hidden, cfg.classes)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.drops = nn.ModuleList(nn.Dropout(p) for p in cfg.dropout)
        for layer in self.layers:
            if cfg.init == "normal":  # tf.random_normal(stddev=0.01), tf.zeros
                nn.init.normal_(layer.weight, std=0.01)
            else:  # Keras' glorot_uniform: U(-a, a), a = sqrt(6 / (fan_in + fan_out))
                nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)
        self.act = torch.sigmoid if cfg.activation == "sigmoid" else torch.relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x (B, D)
        for layer, drop in zip(self.layers[:-1], self.drops):
            x = drop(self.act(layer(x)))  # (B, H_l)
        return self.layers[-1](x)  # (B, C)


# --- losses and the hand-written update ---------------------------------------------------------


def categorical_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Keras' categorical cross-entropy on logits: ``target`` must be one-hot (B, C) like them."""
    if target.shape != logits.shape:
        raise ValueError(
            f"categorical cross-entropy needs one-hot targets shaped like the outputs {tuple(logits.shape)}, got {tuple(target.shape)}; "
            "give one-hot labels or use the sparse loss"
        )
    # L = -(1/B) Σ_n Σ_k t[n, k] log softmax(z)[n, k]
    return -(target * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


def sparse_categorical_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Keras' sparse categorical cross-entropy on logits: ``labels`` are class numbers (B,)."""
    # L = -(1/B) Σ_n log softmax(z)[n, d_n]
    return -F.log_softmax(logits, dim=1).gather(1, labels[:, None]).mean()


class GradientDescent(torch.optim.Optimizer):
    """Plain gradient descent, θ ← θ - η ∂L/∂θ, written out (TensorFlow's ``GradientDescentOptimizer``)."""

    def __init__(self, params: Any, lr: float) -> None:
        super().__init__(params, {"lr": lr})

    @torch.no_grad()
    def step(self, closure: Any = None) -> None:  # type: ignore[override]
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p -= group["lr"] * p.grad  # θ ← θ - η g


# --- a training recipe ----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RecipeConfig(Config):
    model: MLPConfig = param(MLPConfig(), "the network")
    optimizer: Literal["adam", "gd"] = param("adam", "Adam, or plain gradient descent written by hand")
    lr: float = param(1e-4, "learning rate", gt=0, le=10)
    batch: int = param(100, "images per update", gt=0)
    iterations: int | None = param(None, "updates in all; none: epochs passes over the training images", gt=0)
    epochs: int = param(5, "passes over the training images, when iterations is none", gt=0)
    eval_every: int | None = param(None, "updates between validation checks; none: once an epoch", gt=0)
    labels: Literal["onehot", "plain"] = param("onehot", "targets: one-hot vectors (B, 10) or class numbers (B,)")
    loss: Literal["categorical", "sparse"] = param("categorical", "categorical cross-entropy (one-hot targets) or the sparse one (plain labels)")
    schedule: Literal["constant", "cosine"] = param("constant", "learning rate: constant, or cosine decay to 0 over the updates")

    def validate(self) -> None:
        if self.labels == "plain" and self.loss == "categorical":
            raise ConfigError(
                "labels=plain with loss=categorical: categorical cross-entropy needs one-hot targets (B, 10), plain labels are (B,) "
                "(Keras fails here: 'Shapes (None, 1) and (None, 10) are incompatible'); use loss=sparse or labels=onehot"
            )
        if self.labels == "onehot" and self.loss == "sparse":
            raise ConfigError("labels=onehot with loss=sparse: the sparse loss takes class numbers; use labels=plain or loss=categorical")


@dataclass(frozen=True)
class Split:
    """Pixels scaled to [0, 1], flattened (N, D), and labels (N,), on one device."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class Splits:
    train: Split
    val: Split
    test: Split
    source: str


def make_splits(data: ImageSet, validation: float, device: torch.device, seed: int = 0) -> Splits:
    """Training, validation (a stratified share of the training images, seeded) and test splits."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(data.train_labels))
    fit, held = train_test_split(idx, test_size=validation, stratify=data.train_labels, random_state=seed)

    def split(images: np.ndarray, labels: np.ndarray) -> Split:
        x = torch.tensor(images.reshape(len(images), -1), dtype=torch.float32, device=device) / data.max_value
        return Split(x, torch.tensor(labels, dtype=torch.int64, device=device))

    return Splits(
        split(data.train_images[np.sort(fit)], data.train_labels[np.sort(fit)]),
        split(data.train_images[np.sort(held)], data.train_labels[np.sort(held)]),
        split(data.test_images, data.test_labels),
        data.source,
    )


class BatchStream:
    """``mnist.train.next_batch``: consecutive batches of a shuffled order, reshuffled when it runs out."""

    def __init__(self, n: int, batch: int, seed: int) -> None:
        self.n, self.batch = n, min(batch, n)
        self.rng = np.random.default_rng(seed)
        self.order, self.pos = self.rng.permutation(n), 0

    def next(self) -> np.ndarray:
        if self.pos + self.batch > self.n:  # the rest of this pass, then the start of a new one
            rest = self.order[self.pos :]
            self.order, self.pos = self.rng.permutation(self.n), self.batch - len(rest)
            return np.concatenate([rest, self.order[: self.pos]])
        self.pos += self.batch
        return self.order[self.pos - self.batch : self.pos]

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state, "order": self.order.copy(), "pos": self.pos}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.order, self.pos = np.asarray(state["order"]), int(state["pos"])


class Trainer:
    """One recipe on one split: rounds of updates, each followed by a validation check.

    A round is ``eval_every`` updates (default one epoch's worth); the last one may be shorter.
    The state (weights, optimizer, batch order, history, seconds) goes through :meth:`state_dict`.
    """

    def __init__(self, recipe: RecipeConfig, splits: Splits, seed: int, device: torch.device) -> None:
        self.recipe, self.splits, self.device = recipe, splits, device
        n = len(splits.train)
        per_epoch = math.ceil(n / recipe.batch)
        self.total_updates = recipe.iterations or recipe.epochs * per_epoch
        self.round_updates = recipe.eval_every or per_epoch
        self.model = MLP(recipe.model).to(device)
        params = self.model.parameters()
        self.opt = torch.optim.Adam(params, lr=recipe.lr) if recipe.optimizer == "adam" else GradientDescent(params, lr=recipe.lr)
        self.stream = BatchStream(n, recipe.batch, seed)
        self.updates, self.seconds = 0, 0.0
        self.history: dict[str, list[float]] = {"updates": [], "loss": [], "val_accuracy": []}

    @property
    def done(self) -> bool:
        return self.updates >= self.total_updates

    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if self.recipe.labels == "plain":
            return sparse_categorical_cross_entropy(logits, labels)
        return categorical_cross_entropy(logits, F.one_hot(labels, logits.shape[1]).to(logits.dtype))

    def train_round(self) -> None:
        start, recipe, train = time.perf_counter(), self.recipe, self.splits.train
        self.model.train()
        losses = []
        for _ in range(min(self.round_updates, self.total_updates - self.updates)):
            if recipe.schedule == "cosine":  # η_t = η (1 + cos(π t / T)) / 2
                for group in self.opt.param_groups:
                    group["lr"] = recipe.lr * 0.5 * (1 + math.cos(math.pi * self.updates / self.total_updates))
            idx = torch.from_numpy(self.stream.next()).to(self.device)
            loss = self.loss(self.model(train.x[idx]), train.y[idx])
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            self.updates += 1
            losses.append(loss.item())
        self.history["updates"].append(self.updates)
        self.history["loss"].append(float(np.mean(losses)))
        self.history["val_accuracy"].append(self.accuracy(self.splits.val))
        self.seconds += time.perf_counter() - start

    @torch.no_grad()
    def predict(self, split: Split) -> torch.Tensor:
        self.model.eval()
        return torch.cat([self.model(x).argmax(dim=1) for x in split.x.split(4096)])

    def accuracy(self, split: Split) -> float:
        return int((self.predict(split) == split.y).sum()) / len(split)

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "opt": self.opt.state_dict(), "stream": self.stream.state_dict(),
                "updates": self.updates, "seconds": self.seconds, "history": {k: list(v) for k, v in self.history.items()}}  # fmt: skip

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["opt"])
        self.stream.load_state_dict(state["stream"])
        self.updates, self.seconds = int(state["updates"]), float(state["seconds"])
        self.history = {k: list(v) for k, v in state["history"].items()}
