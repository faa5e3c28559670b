"""Training by epochs on the engine: an update loop that any topic's trainer shares.

A subclass of :class:`EpochTrainer` gives the loss of a batch of training items and what to
measure at an epoch's end (a trainer of several players, such as a GAN, gives its optimizers
and its own update instead); the loop does the rest, the same way for every model: AdamW or SGD
with Nesterov momentum over :func:`~deepkata.core.optim.decay_groups`, the learning rate by
:func:`~deepkata.core.optim.warmup_cosine` at every update, a NaN or infinite loss recorded as
divergence (training stops, the record stays), and the whole state (weights, optimizer, the
epoch's order, history) for an exact resume. An epoch is one pass over a fresh permutation of
the training items (its last batch may be short); the epoch's loss and the parts a subclass
reports are means over its items, recorded as ``train_loss``, ``train_<part>``. :class:`TrainerJob` runs it on the engine
(:mod:`deepkata.core.engine`): ``chunk`` updates a step, a checkpoint may follow each, and an
epoch's end is logged (losses as ``train/``, measures named ``val_*`` as ``val/``).
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from deepkata.core.config import Config, param
from deepkata.core.engine import JobContext
from deepkata.core.optim import decay_groups, warmup_cosine

__all__ = ["EpochRecipe", "EpochTrainer", "TrainerJob"]


@dataclass(frozen=True, kw_only=True)
class EpochRecipe(Config):
    """How a model trains by epochs; a topic's recipe extends it with its own fields."""

    epochs: int = param(30, "passes over the training items", gt=0)
    batch: int = param(32, "items per update", gt=0)
    optimizer: Literal["sgd", "adam"] = param("adam", "SGD with Nesterov momentum, or AdamW")
    lr: float = param(3e-3, "peak learning rate", gt=0, le=10)
    momentum: float = param(0.9, "SGD momentum", ge=0, lt=1)
    weight_decay: float = param(1e-4, "weight decay on the weights (not on norm parameters or biases)", ge=0)
    warmup: float = param(0.05, "share of the updates over which the learning rate ramps up", ge=0, lt=1)
    schedule: Literal["cosine", "constant", "linear"] = param("cosine", "after warm-up: cosine decay to 0, constant, or linear decay to lr / 250 (word2vec)")
    chunk: int = param(10, "batches per engine step (a checkpoint may follow each)", gt=0)


class EpochTrainer(ABC):
    """Epochs of updates over a training set, ``chunk`` at a time for the engine: the learning
    rate by :func:`warmup_cosine`, a NaN or infinite loss recorded as divergence, the whole state
    for resume. A subclass gives the loss of a batch and what to measure at an epoch's end."""

    def __init__(self, model: nn.Module, cfg: EpochRecipe, size: int, device: torch.device) -> None:
        self.cfg, self.size, self.device = cfg, size, device
        self.model = model.to(device)  # a subclass may have set its memory format already
        self.optimizers = self.build_optimizers()
        self.per_epoch = math.ceil(size / cfg.batch)
        self.total_updates = cfg.epochs * self.per_epoch
        self.updates, self.seconds = 0, 0.0
        self.diverged: str | None = None
        self.order = torch.randperm(size, device="cpu")  # the data stay on the CPU; batches move
        self.epoch_loss: dict[str, float] = {}  # "train_loss" and "train_<part>": sums over the epoch's items so far
        self.history: dict[str, list[float]] = {"epoch": [], "lr": [], "seconds": []}

    @property
    def epoch(self) -> int:
        return self.updates // self.per_epoch

    @property
    def done(self) -> bool:
        return self.updates >= self.total_updates or self.diverged is not None

    def build_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """The optimizers by name, each stepped by :meth:`update`: here one, AdamW or Nesterov SGD over
        :func:`decay_groups`; a trainer of several players (a GAN) gives one each."""
        cfg, groups = self.cfg, decay_groups(self.model, self.cfg.weight_decay)
        if cfg.optimizer == "sgd":
            return {"model": torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.momentum > 0)}
        return {"model": torch.optim.AdamW(groups, lr=cfg.lr)}

    def update(self, index: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """One update on the training items ``index``: the loss and its parts (see :meth:`loss`); a
        non-finite loss is returned without a step. A trainer of several players overrides it."""
        loss, parts = self.loss(index)
        if torch.isfinite(loss):
            opt = self.optimizers["model"]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return loss, parts

    def loss(self, index: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """The mean loss of the training items ``index`` (B,), and other means over them to log (parts, accuracy)."""
        raise NotImplementedError(f"{type(self).__name__} gives loss() or overrides update()")

    @abstractmethod
    def measure(self, last: bool) -> dict[str, float]:
        """What to record at an epoch's end besides the losses (``last``: the final epoch)."""

    def train_chunk(self) -> bool:
        """Up to ``chunk`` updates, stopping at an epoch's end; True if an epoch ended."""
        cfg, start = self.cfg, time.perf_counter()
        self.model.train()
        for _ in range(cfg.chunk):
            i = self.updates % self.per_epoch
            lr = warmup_cosine(cfg.lr, self.updates, self.total_updates, cfg.warmup, cfg.schedule)
            for opt in self.optimizers.values():
                for group in opt.param_groups:
                    group["lr"] = lr
            index = self.order[i * cfg.batch : (i + 1) * cfg.batch]
            loss, parts = self.update(index)
            if not torch.isfinite(loss):  # diverged: stop, keep the record
                self.diverged = f"loss {loss.item()} at update {self.updates + 1} of {self.total_updates} (epoch {self.epoch + 1}, lr {lr:.3g})"
                break
            self.updates += 1
            for key, value in {"loss": float(loss.detach()), **parts}.items():
                self.epoch_loss[f"train_{key}"] = self.epoch_loss.get(f"train_{key}", 0.0) + value * len(index)
            if self.updates % self.per_epoch == 0:
                self.seconds += time.perf_counter() - start
                self._end_epoch(lr)
                return True
        self.seconds += time.perf_counter() - start
        return False

    def _end_epoch(self, lr: float) -> None:
        row = {"epoch": float(self.epoch), "lr": lr, "seconds": self.seconds, **{k: v / self.size for k, v in self.epoch_loss.items()}}
        row |= self.measure(self.updates >= self.total_updates)
        for key, value in row.items():
            self.history.setdefault(key, []).append(value)
        self.epoch_loss = {}
        self.order = torch.randperm(self.size, device="cpu")

    def outputs(self) -> dict[str, Any]:
        """What a finished training hands on besides its weights, history and time (none here)."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(), "opt": {k: o.state_dict() for k, o in self.optimizers.items()}, "updates": self.updates, "seconds": self.seconds,
            "order": self.order.clone(), "diverged": self.diverged, "epoch_loss": dict(self.epoch_loss),
            "history": {k: list(v) for k, v in self.history.items()},
        }  # fmt: skip

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        for name, opt in self.optimizers.items():
            opt.load_state_dict(state["opt"][name])
        self.updates, self.seconds = int(state["updates"]), float(state["seconds"])
        self.order = state["order"].clone()
        self.diverged = state["diverged"]
        self.epoch_loss = {k: float(v) for k, v in state["epoch_loss"].items()}
        self.history = {k: list(v) for k, v in state["history"].items()}


class TrainerJob:
    """An :class:`EpochTrainer` on the engine: ``chunk`` batches a step; an epoch's end is logged
    (``train_*`` and ``lr`` as ``train/``, ``val_*`` as ``val/``; other measures under their names)."""

    def __init__(self, trainer: EpochTrainer, ctx: JobContext) -> None:
        self.trainer, self.ctx, self.device = trainer, ctx, ctx.device
        self.total = trainer.total_updates

    progress = property(lambda self: self.trainer.updates)
    done = property(lambda self: self.trainer.done)

    def step(self) -> None:
        t = self.trainer
        if t.train_chunk():
            row = {}
            for key, values in t.history.items():
                if key in ("epoch", "seconds") or math.isnan(values[-1]):
                    continue
                if key.startswith(("train_", "val_")):
                    key = key.replace("_", "/", 1)
                row["train/lr" if key == "lr" else key] = values[-1]
            self.ctx.log(t.epoch, row)

    def state_dict(self) -> dict[str, Any]:
        return self.trainer.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.trainer.load_state_dict(state)

    def result(self) -> dict[str, Any]:
        t = self.trainer
        return {"history": t.history, "seconds": t.seconds, "diverged": t.diverged, "state": {k: v.cpu() for k, v in t.model.state_dict().items()}, **t.outputs()}
