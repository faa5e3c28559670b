"""Training AlphaGo's policy network on (position, move) pairs, and scoring it.

The SL policy network (Silver et al. 2016) maximizes the likelihood of the expert's move,
log p(a | s), by stochastic gradient ascent, on positions augmented by the eight symmetries of the
board. Here: cross-entropy over the legal moves (the illegal ones masked before the softmax), one
random symmetry per batch drawn from the generator of (seed, update) so that a resumed training
draws the same ones, on the shared epoch loop (:mod:`deepkata.core.trainer`). After each epoch
the validation positions give their loss and top-1 and top-5 accuracy; at the end, the accuracy
with the network's probabilities averaged over all eight symmetries as well (AlphaGo's
evaluation did the same over rotations).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from deepkata.core.config import param
from deepkata.core.trainer import EpochRecipe, EpochTrainer
from deepkata.go.features import SYMMETRIES, transform_actions
from deepkata.go.positions import Positions

__all__ = ["PolicyRecipe", "PolicyTrainer", "policy_probabilities", "top_k_accuracy", "transform_batch"]


@dataclass(frozen=True, kw_only=True)
class PolicyRecipe(EpochRecipe):
    epochs: int = param(8, "passes over the training positions", gt=0)
    batch: int = param(128, "positions per update", gt=0)
    optimizer: Literal["sgd", "adam"] = param("adam", "AdamW, or SGD with Nesterov momentum (AlphaGo: plain SGD)")
    lr: float = param(2e-3, "peak learning rate", gt=0, le=10)
    weight_decay: float = param(1e-4, "weight decay", ge=0)
    symmetries: bool = param(True, "a random board symmetry per batch")
    chunk: int = param(20, "batches per engine step (a checkpoint may follow each)", gt=0)


def transform_batch(x: torch.Tensor, actions: torch.Tensor, legal: torch.Tensor, k: int, size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Symmetry k of planes (B, C, N, N), their moves (B,) and legal masks (B, N^2 + 1)."""
    x = torch.rot90(x, k % 4, dims=(2, 3))
    if k >= 4:
        x = torch.flip(x, dims=(3,))
    where = torch.from_numpy(transform_actions(np.arange(size * size + 1), k, size)).to(actions.device)
    moved = torch.empty_like(legal)
    moved[:, where] = legal  # the mask of action a lands on where[a]
    return x, where[actions], moved


def policy_probabilities(net: nn.Module, x: torch.Tensor, legal: torch.Tensor, *, symmetric: bool) -> torch.Tensor:
    """p(a | s) over (B, N^2 + 1), illegal moves 0; ``symmetric``: averaged over the eight symmetries."""
    size = x.shape[-1]
    if not symmetric:
        return net(x, legal).softmax(1)
    total = torch.zeros(legal.shape, dtype=x.dtype, device=x.device)
    no_moves = torch.zeros(len(x), dtype=torch.long, device=x.device)
    for k in range(SYMMETRIES):
        xk, _, lk = transform_batch(x, no_moves, legal, k, size)
        p = net(xk, lk).softmax(1)  # in the transformed frame
        where = torch.from_numpy(transform_actions(np.arange(size * size + 1), k, size)).to(x.device)
        total += p[:, where]  # action a of the original frame sits at where[a]
    return total / SYMMETRIES


def top_k_accuracy(p: torch.Tensor, moves: torch.Tensor, k: int) -> float:
    """The share of positions whose move is among the k most probable."""
    top = p.topk(min(k, p.shape[1]), dim=1).indices
    return float((top == moves[:, None]).any(1).float().mean())


class PolicyTrainer(EpochTrainer):
    """A policy network on training positions; validation loss and accuracy after every epoch."""

    cfg: PolicyRecipe

    def __init__(self, net: nn.Module, cfg: PolicyRecipe, train: Positions, val: Positions, device: torch.device, *, seed: int = 0) -> None:
        super().__init__(net, cfg, len(train), device)
        self.train, self.val, self.seed = train, val, seed
        self.board = train.planes.shape[-1]

    def batch(self, data: Positions, index: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = torch.from_numpy(data.planes[index]).to(self.device, torch.float32)
        return x, torch.from_numpy(data.moves[index]).to(self.device), torch.from_numpy(data.legal[index]).to(self.device)

    def loss(self, index: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        x, moves, legal = self.batch(self.train, index.numpy())
        if self.cfg.symmetries:
            k = int(np.random.default_rng([self.seed, self.updates]).integers(SYMMETRIES))
            x, moves, legal = transform_batch(x, moves, legal, k, self.board)
        logits = self.model(x, legal)
        loss = F.cross_entropy(logits, moves)
        return loss, {"accuracy": float((logits.argmax(1) == moves).float().mean())}

    @torch.no_grad()
    def evaluate(self, data: Positions, *, symmetric: bool = False, batch: int = 1024) -> dict[str, float]:
        """Loss, top-1 and top-5 accuracy of the network on ``data``."""
        self.model.eval()
        sums = {"loss": 0.0, "top1": 0.0, "top5": 0.0}
        for start in range(0, len(data), batch):
            index = np.arange(start, min(start + batch, len(data)))
            x, moves, legal = self.batch(data, index)
            p = policy_probabilities(self.model, x, legal, symmetric=symmetric)
            n = len(index)
            sums["loss"] += float(-torch.log(p[torch.arange(n, device=p.device), moves].clamp_min(1e-12)).sum())
            sums["top1"] += top_k_accuracy(p, moves, 1) * n
            sums["top5"] += top_k_accuracy(p, moves, 5) * n
        self.model.train()
        return {k: v / len(data) for k, v in sums.items()}

    def measure(self, last: bool) -> dict[str, float]:
        scores = self.evaluate(self.val)
        return {"val_loss": scores["loss"], "val_top1": scores["top1"], "val_top5": scores["top5"]}

    def outputs(self) -> dict[str, Any]:
        plain, symmetric = self.evaluate(self.val), self.evaluate(self.val, symmetric=True)
        return {"val": plain, "val_symmetric": symmetric}
