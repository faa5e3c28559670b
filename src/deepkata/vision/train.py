"""Training an image classifier: the recipe the vision katas share, and its engine job.

The recipe is the one ResNet's CIFAR experiments made standard (He et al., 2016), with the later
refinements that make short schedules work:

- mini-batch SGD with momentum μ and Nesterov's correction, weight decay λ (on every weight but
  the normalization layers' γ, β and the biases), or Adam;
- the learning rate η_t ramps up linearly for the first ``warmup`` share of the updates, then decays
  to 0 along half a cosine (Loshchilov and Hutter, 2017): η_t = η (1 + cos(π s)) / 2, s the share
  of the remaining updates done;
- cross-entropy with label smoothing ε (Szegedy et al., 2016): the target puts 1 - ε on the label
  and ε/C on every class;
- random crops and flips (:func:`deepkata.vision.images.augment`).

An epoch is one pass over a fresh permutation of the training images; the last batch of an epoch
may be short. The job advances ``chunk`` batches a step (so a checkpoint can fall inside an epoch)
and checks validation accuracy at the end of each epoch; the test images are scored once, by
:meth:`ClassifierJob.result`. Models run in channels-last memory order on the CPU, where oneDNN's
convolutions are several times faster that way.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from deepkata.core.config import Config, param
from deepkata.core.engine import JobContext
from deepkata.core.metrics import confusion_matrix
from deepkata.core.optim import decay_groups, warmup_cosine
from deepkata.vision.images import ImageSplits, Split, augment


@dataclass(frozen=True, kw_only=True)
class TrainConfig(Config):
    epochs: int = param(10, "passes over the training images", gt=0)
    batch: int = param(128, "images per update", gt=0)
    optimizer: Literal["sgd", "adam"] = param("sgd", "SGD with Nesterov momentum, or Adam")
    lr: float = param(0.1, "peak learning rate", gt=0, le=10)
    momentum: float = param(0.9, "SGD momentum μ", ge=0, lt=1)
    weight_decay: float = param(5e-4, "weight decay λ on the weights (not on norm parameters or biases)", ge=0)
    warmup: float = param(0.05, "share of the updates over which the learning rate ramps up linearly", ge=0, lt=1)
    schedule: Literal["cosine", "constant"] = param("cosine", "after warm-up: cosine decay to 0, or constant")
    label_smoothing: float = param(0.0, "label smoothing ε", ge=0, lt=1)
    crop: int = param(2, "random-crop padding in pixels (0: no crops)", ge=0, le=8)
    flip: bool = param(True, "random horizontal flips")
    chunk: int = param(50, "batches per engine step (a checkpoint may follow each)", gt=0)
    channels_last: bool = param(True, "channels-last memory order (faster convolutions on CPU)")


def _param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Weights of convolutions and linear layers decay; 1-d parameters (norms' γ, β, biases) do not."""
    return decay_groups(model, weight_decay)


def learning_rate(cfg: TrainConfig, update: int, total: int) -> float:
    """η at ``update`` (0-based) of ``total``: linear warm-up, then cosine decay or constant."""
    return warmup_cosine(cfg.lr, update, total, cfg.warmup, cfg.schedule)


class Classifier:
    """A model, its optimizer and its data: epochs of updates, validation after each, state for resume."""

    def __init__(self, model: nn.Module, cfg: TrainConfig, splits: ImageSplits, device: torch.device) -> None:
        self.cfg, self.splits, self.device = cfg, splits, device
        self.memory = torch.channels_last if cfg.channels_last else torch.contiguous_format
        self.model = model.to(device=device, memory_format=self.memory)
        groups = _param_groups(self.model, cfg.weight_decay)
        if cfg.optimizer == "sgd":
            self.opt: torch.optim.Optimizer = torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.momentum > 0)
        else:
            self.opt = torch.optim.AdamW(groups, lr=cfg.lr)
        n = len(splits.train)
        self.per_epoch = math.ceil(n / cfg.batch)
        self.total_updates = cfg.epochs * self.per_epoch
        self.updates, self.seconds = 0, 0.0
        self.diverged: str | None = None  # what happened, when a loss came out NaN or infinite
        self.order = torch.randperm(n, device="cpu")  # batch indices, moved to the device batch by batch
        self.epoch_loss, self.epoch_correct = 0.0, 0
        self.history: dict[str, list[float]] = {"epoch": [], "train_loss": [], "train_accuracy": [], "val_accuracy": [], "lr": [], "seconds": []}

    @property
    def epoch(self) -> int:
        return self.updates // self.per_epoch

    @property
    def done(self) -> bool:
        return self.updates >= self.total_updates or self.diverged is not None

    def train_chunk(self) -> bool:
        """Up to ``chunk`` updates, stopping at the end of an epoch; True if an epoch ended (and was scored)."""
        cfg, train, start = self.cfg, self.splits.train, time.perf_counter()
        self.model.train()
        for _ in range(cfg.chunk):
            i = self.updates % self.per_epoch
            lr = learning_rate(cfg, self.updates, self.total_updates)
            for group in self.opt.param_groups:
                group["lr"] = lr
            idx = self.order[i * cfg.batch : (i + 1) * cfg.batch].to(self.device)
            x = augment(train.x[idx], pad=cfg.crop, flip=cfg.flip).contiguous(memory_format=self.memory)  # (B, 1, H, W)
            logits = self.model(x)  # (B, classes)
            loss = F.cross_entropy(logits, train.y[idx], label_smoothing=cfg.label_smoothing)
            if not torch.isfinite(loss):  # diverged: stop here, keep the record, let the sweep go on
                self.diverged = f"loss {loss.item()} at update {self.updates + 1} of {self.total_updates} (epoch {self.epoch + 1}, lr {lr:.3g})"
                break
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            self.updates += 1
            self.epoch_loss += loss.item() * len(idx)
            self.epoch_correct += int((logits.argmax(1) == train.y[idx]).sum())
            if self.updates % self.per_epoch == 0:
                self.seconds += time.perf_counter() - start
                self._end_epoch(lr)
                return True
        self.seconds += time.perf_counter() - start
        return False

    def _end_epoch(self, lr: float) -> None:
        n = len(self.splits.train)
        h = self.history
        h["epoch"].append(self.epoch)
        h["train_loss"].append(self.epoch_loss / n)
        h["train_accuracy"].append(self.epoch_correct / n)
        h["val_accuracy"].append(self.accuracy(self.splits.val))
        h["lr"].append(lr)
        h["seconds"].append(self.seconds)
        self.epoch_loss, self.epoch_correct = 0.0, 0
        self.order = torch.randperm(n, device="cpu")

    @torch.no_grad()
    def predict(self, split: Split, *, batch: int = 500) -> torch.Tensor:
        """Predicted classes (N,) in eval mode (normalization layers use their running statistics)."""
        self.model.eval()
        return torch.cat([self.model(x.contiguous(memory_format=self.memory)).argmax(1) for x in split.x.split(batch)])

    def accuracy(self, split: Split) -> float:
        return int((self.predict(split) == split.y).sum()) / len(split)

    def state_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(), "opt": self.opt.state_dict(), "updates": self.updates, "seconds": self.seconds,
            "order": self.order.clone(), "diverged": self.diverged, "epoch_loss": self.epoch_loss, "epoch_correct": self.epoch_correct,
            "history": {k: list(v) for k, v in self.history.items()},
        }  # fmt: skip

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["opt"])
        self.updates, self.seconds = int(state["updates"]), float(state["seconds"])
        self.order = state["order"].clone()
        self.diverged = state["diverged"]
        self.epoch_loss, self.epoch_correct = float(state["epoch_loss"]), int(state["epoch_correct"])
        self.history = {k: list(v) for k, v in state["history"].items()}


class ClassifierJob:
    """A :class:`Classifier` on the engine: ``chunk`` batches a step; an epoch's end is logged."""

    def __init__(
        self, model: nn.Module, cfg: TrainConfig, splits: ImageSplits, ctx: JobContext, *, extra: Callable[[Classifier], dict[str, Any]] | None = None
    ) -> None:
        self.trainer = Classifier(model, cfg, splits, ctx.device)
        self.ctx, self.device, self.extra = ctx, ctx.device, extra
        self.total = self.trainer.total_updates

    progress = property(lambda self: self.trainer.updates)
    done = property(lambda self: self.trainer.done)

    def step(self) -> None:
        t = self.trainer
        if t.train_chunk():
            h = t.history
            self.ctx.log(t.epoch, {"train/loss": h["train_loss"][-1], "train/accuracy": h["train_accuracy"][-1],
                                   "val/accuracy": h["val_accuracy"][-1], "train/lr": h["lr"][-1]})  # fmt: skip

    def state_dict(self) -> dict[str, Any]:
        return self.trainer.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.trainer.load_state_dict(state)

    def result(self) -> dict[str, Any]:
        """History, seconds, test accuracy, confusion matrix, the misclassified test images, and ``extra``'s findings."""
        t, test = self.trainer, self.trainer.splits.test
        predicted = t.predict(test)
        wrong = (predicted != test.y).nonzero().flatten()
        return {
            "history": t.history, "seconds": t.seconds, "diverged": t.diverged, "test_accuracy": int((predicted == test.y).sum()) / len(test),
            "confusion": confusion_matrix(test.y, predicted, t.splits.classes).tolist(),
            "wrong": wrong[:64].tolist(), "wrong_predicted": predicted[wrong[:64]].tolist(),
            **(self.extra(t) if self.extra is not None else {}),
        }  # fmt: skip
