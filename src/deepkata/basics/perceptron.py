"""The perceptron of the Keras exercise, and why XOR needs a hidden layer.

The course notebook (Day 4, Keras演習 単純パーセプトロン) builds one unit,
``Dense(input_dim=2, units=1)`` then ``Activation('sigmoid')``, compiles it with
``binary_crossentropy`` and ``SGD(lr=0.1)``, and fits the OR truth table with
``epochs=30, batch_size=1`` (Keras shuffles every epoch); ``predict_classes`` then calls an
output above 0.5 class 1. Keras initializes the kernel Glorot-uniformly,
U(-sqrt(6 / (fan_in + fan_out)), +...), and the bias at zero.

Notation: the four inputs x_i in {0, 1}^2, targets t_i in {0, 1}, the unit's output
y = sigmoid(w . x + b), the loss L = -mean_i [t_i log y_i + (1 - t_i) log(1 - y_i)].

Here a whole population of such networks, one per seed, trains at once: member k's weights
have shape (fan_in, fan_out) as Keras' kernel, stacked into (S, fan_in, fan_out), and its loss
depends on its own weights only, so summing the members' losses before ``backward`` gives each
member exactly its own gradient, and one ``torch.optim.SGD`` step is S independent SGD steps.
Member k draws its initial weights and every epoch's shuffle from its own generator seeded
with its seed, so seed k starts from the same weights and sees the same orders whatever the
gate, the batch size or the population size.

Separability (:func:`separate`): the points are linearly separable when some (w, b) has
s_i (w . x_i + b) >= 1 for all i, with s_i = +1 on class 1 and -1 on class 0 (any strict
separator scales to margin 1). That is a linear program. When it has no solution, Gordan's
theorem gives a certificate y >= 0, y != 0, with sum_i y_i s_i (x_i, 1) = 0: then
sum_i y_i s_i (w . x_i + b) = 0 for every (w, b), so the s_i (w . x_i + b) cannot all be
positive. For XOR, y = (1, 1, 1, 1) / 4 works:
-(0, 0, 1) + (0, 1, 1) + (1, 0, 1) - (1, 1, 1) = (0, 0, 0); in words, adding the two class-1
inequalities w2 + b > 0 and w1 + b > 0 gives w1 + w2 + 2b > 0, adding the two class-0 ones
b < 0 and w1 + w2 + b < 0 gives w1 + w2 + 2b < 0.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import numpy as np
import torch
from torch import nn

from deepkata.core.config import Config, param

# the truth tables' inputs, in the notebook's order, and each gate's targets
INPUTS = ((0, 0), (0, 1), (1, 0), (1, 1))
GATES = {"or": (0, 1, 1, 1), "and": (0, 0, 0, 1), "xor": (0, 1, 1, 0)}
GateName = Literal["or", "and", "xor"]


def gate_data(gate: str, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The gate's truth table: inputs (4, 2) and targets (4,), float32 on ``device``."""
    x = torch.tensor(INPUTS, dtype=torch.float32, device=device)
    t = torch.tensor(GATES[gate], dtype=torch.float32, device=device)
    return x, t


# --- the networks ----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class GateNetConfig(Config):
    hidden: int = param(0, "hidden units; 0 is the notebook's single-layer perceptron", ge=0, le=256)
    activation: Literal["sigmoid", "tanh", "relu"] = param("tanh", "the hidden layer's activation")


ACTIVATIONS = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}


class GateNets(nn.Module):
    """``len(seeds)`` independent networks 2 -> [hidden ->] 1, Keras-initialized, one per seed.

    ``forward`` takes each member's own inputs (S, B, 2) and returns its logits (S, B);
    ``sigmoid`` of them is the notebook's output y.
    """

    def __init__(self, cfg: GateNetConfig, members: int, device: torch.device) -> None:
        super().__init__()
        self.cfg = cfg
        dims = (2, cfg.hidden, 1) if cfg.hidden else (2, 1)
        self.act = ACTIVATIONS[cfg.activation]
        self.weights = nn.ParameterList(nn.Parameter(torch.zeros(members, i, o, device=device)) for i, o in itertools.pairwise(dims))  # (S, in, out)
        self.biases = nn.ParameterList(nn.Parameter(torch.zeros(members, o, device=device)) for o in dims[1:])  # (S, out)

    @property
    def members(self) -> int:
        return self.weights[0].shape[0]

    def keras_init_(self, generators: Sequence[torch.Generator]) -> GateNets:
        """Keras' initialization, member k's draws from ``generators[k]`` in layer order:
        kernels glorot_uniform U(-sqrt(6 / (fan_in + fan_out)), +sqrt(...)), biases zero."""
        if len(generators) != self.members:
            raise ValueError(f"{self.members} members need as many generators, got {len(generators)}")
        with torch.no_grad():
            for k, g in enumerate(generators):
                for w in self.weights:
                    fan_in, fan_out = w.shape[1:]
                    limit = math.sqrt(6 / (fan_in + fan_out))
                    w[k] = (torch.rand(fan_in, fan_out, generator=g, device="cpu") * 2 - 1) * limit
            for b in self.biases:
                b.zero_()
        return self

    def forward(self, x: torch.Tensor, member: int | None = None) -> torch.Tensor:
        """Logits (S, B) of each member on its own inputs x (S, B, 2); with ``member``, that one's
        logits (1, B) on x (1, B, 2)."""
        pick = slice(None) if member is None else slice(member, member + 1)
        h = x
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.bmm(h, w[pick]) + b[pick, None, :]  # (S, B, out)
            if i < len(self.weights) - 1:
                h = self.act(h)
        return h[..., 0]


def shuffles(generators: Sequence[torch.Generator], epochs: int, n: int, device: torch.device) -> torch.Tensor:
    """Every epoch's order of the ``n`` samples for each member, drawn from its generator (after
    its initial weights): (epochs, S, n)."""
    orders = [torch.rand(epochs, n, generator=g, device="cpu").argsort(dim=1) for g in generators]  # each (epochs, n)
    return torch.stack(orders, dim=1).to(device)


def keras_epoch(
    net: GateNets, opt: torch.optim.Optimizer, x: torch.Tensor, t: torch.Tensor, order: torch.Tensor, batch: int
) -> torch.Tensor:
    """One epoch of ``model.fit``: batches of ``batch`` samples in each member's ``order``, an
    optimizer step per batch. Returns each member's loss as Keras' history reports it, the mean
    over the epoch's samples of the loss each batch had before its update: (S,).

    With 4 samples and ``batch`` >= 4 there is one batch: one update an epoch.
    """
    n = x.shape[0]
    total = torch.zeros(net.members, dtype=x.dtype, device=x.device)
    for start in range(0, n, batch):
        idx = order[:, start : start + batch]  # (S, b)
        logits = net(x[idx])  # (S, b)
        # binary cross-entropy, each member's mean over its batch: (S,)
        loss = nn.functional.binary_cross_entropy_with_logits(logits, t[idx], reduction="none").mean(dim=1)
        opt.zero_grad()
        loss.sum().backward()  # member k's gradient is that of its own loss alone
        opt.step()
        total += loss.detach() * idx.shape[1]
    return total / n


def predict_proba(net: GateNets, x: torch.Tensor, member: int | None = None) -> torch.Tensor:
    """Every member's output y on the same inputs x (N, 2): (S, N); with ``member``, that one's (N,)."""
    with torch.no_grad():
        if member is not None:
            return torch.sigmoid(net(x[None], member=member))[0]
        return torch.sigmoid(net(x.expand(net.members, *x.shape)))


def predict_classes(net: GateNets, x: torch.Tensor) -> torch.Tensor:
    """Keras' ``predict_classes`` for a sigmoid output: class 1 where y > 0.5, (S, N) bool."""
    return predict_proba(net, x) > 0.5


# --- separability by a linear program --------------------------------------------------------


@dataclass(frozen=True)
class Separation:
    """Either a separating line (w, b) with margins s_i (w . x_i + b) >= 1, or a certificate
    y that none exists (Gordan: y >= 0, sum y = 1, sum_i y_i s_i (x_i, 1) = 0), checked exactly."""

    separable: bool
    w: tuple[float, ...] | None = None
    b: float | None = None
    certificate: tuple[Fraction, ...] | None = None


def _signed_rows(points: Sequence[Sequence[int]], labels: Sequence[int]) -> np.ndarray:
    # row i: s_i (x_i, 1), s_i = +1 for class 1, -1 for class 0: (n, d + 1)
    s = np.where(np.asarray(labels) == 1, 1, -1)
    return s[:, None] * np.hstack([np.asarray(points), np.ones((len(points), 1))])


def separate(points: Sequence[Sequence[int]], labels: Sequence[int]) -> Separation:
    """Whether a line (hyperplane) separates the integer ``points`` by their 0/1 ``labels``,
    decided by two linear programs and verified: the line's margins numerically, the
    certificate of impossibility in exact rational arithmetic."""
    from scipy.optimize import linprog  # imported here: scipy takes a while to load

    if set(labels) - {0, 1}:
        raise ValueError(f"labels must be 0 or 1, got {sorted(set(labels))}")
    a = _signed_rows(points, labels)  # (n, d + 1)
    n, d1 = a.shape
    # find v = (w, b) with A v >= 1, i.e. -A v <= -1; any objective will do
    primal = linprog(np.zeros(d1), A_ub=-a, b_ub=-np.ones(n), bounds=[(None, None)] * d1, method="highs")
    if primal.status == 0:
        v = primal.x
        if not np.all(a @ v >= 1 - 1e-9):
            raise ArithmeticError(f"the linear program's line does not separate: margins {a @ v}")
        return Separation(True, w=tuple(float(c) for c in v[:-1]), b=float(v[-1]))
    # find y >= 0 with A^T y = 0 and sum y = 1
    dual = linprog(np.zeros(n), A_eq=np.vstack([a.T, np.ones(n)]), b_eq=np.r_[np.zeros(d1), 1.0], bounds=[(0, None)] * n, method="highs")
    if dual.status != 0:
        raise ArithmeticError(f"neither a line nor a certificate: {primal.message}; {dual.message}")
    y = [Fraction(float(c)).limit_denominator(10_000) for c in dual.x]
    rows = [[Fraction(int(c)) for c in row] for row in a]
    exact = all(sum(yi * row[j] for yi, row in zip(y, rows)) == 0 for j in range(d1))
    if not (exact and all(yi >= 0 for yi in y) and sum(y) == 1):
        raise ArithmeticError(f"the certificate {y} does not verify exactly")
    return Separation(False, certificate=tuple(y))


def boolean_functions() -> list[tuple[int, int, int, int]]:
    """All 16 Boolean functions of two inputs, as their outputs on :data:`INPUTS`."""
    return list(itertools.product((0, 1), repeat=4))  # type: ignore[arg-type]
