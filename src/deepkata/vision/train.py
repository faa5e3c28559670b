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

The loop is the one every topic shares (:mod:`deepkata.core.trainer`): an epoch is one pass over
a fresh permutation of the training images; the last batch of an epoch may be short. The job
advances ``chunk`` batches a step (so a checkpoint can fall inside an epoch) and checks
validation accuracy at the end of each epoch; the test images are scored once, by
:meth:`ClassifierJob.result`. Models run in channels-last memory order on the CPU, where oneDNN's
convolutions are several times faster that way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from deepkata.core.config import param
from deepkata.core.engine import JobContext
from deepkata.core.metrics import confusion_matrix
from deepkata.core.optim import decay_groups, warmup_cosine
from deepkata.core.trainer import EpochRecipe, EpochTrainer, TrainerJob
from deepkata.vision.images import ImageSplits, Split, augment


@dataclass(frozen=True, kw_only=True)
class TrainConfig(EpochRecipe):
    """The shared epoch recipe (:class:`~deepkata.core.trainer.EpochRecipe`) with the classifier's defaults and augmentations."""

    epochs: int = param(10, "passes over the training images", gt=0)
    batch: int = param(128, "images per update", gt=0)
    optimizer: Literal["sgd", "adam"] = param("sgd", "SGD with Nesterov momentum, or Adam")
    lr: float = param(0.1, "peak learning rate", gt=0, le=10)
    momentum: float = param(0.9, "SGD momentum μ", ge=0, lt=1)
    weight_decay: float = param(5e-4, "weight decay λ on the weights (not on norm parameters or biases)", ge=0)
    warmup: float = param(0.05, "share of the updates over which the learning rate ramps up linearly", ge=0, lt=1)
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


class Classifier(EpochTrainer):
    """A model, its optimizer and its images on the shared epoch loop: cross-entropy with label
    smoothing on augmented batches, training accuracy beside the loss, validation accuracy after each epoch."""

    cfg: TrainConfig

    def __init__(self, model: nn.Module, cfg: TrainConfig, splits: ImageSplits, device: torch.device) -> None:
        self.splits = splits
        self.memory = torch.channels_last if cfg.channels_last else torch.contiguous_format
        super().__init__(model.to(device=device, memory_format=self.memory), cfg, len(splits.train), device)

    def loss(self, index: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        cfg, train = self.cfg, self.splits.train
        idx = index.to(self.device)
        x = augment(train.x[idx], pad=cfg.crop, flip=cfg.flip).contiguous(memory_format=self.memory)  # (B, 1, H, W)
        logits = self.model(x)  # (B, classes)
        loss = F.cross_entropy(logits, train.y[idx], label_smoothing=cfg.label_smoothing)
        return loss, {"accuracy": float((logits.argmax(1) == train.y[idx]).float().mean())}

    def measure(self, last: bool) -> dict[str, float]:
        return {"val_accuracy": self.accuracy(self.splits.val)}

    @torch.no_grad()
    def predict(self, split: Split, *, batch: int = 500) -> torch.Tensor:
        """Predicted classes (N,) in eval mode (normalization layers use their running statistics)."""
        self.model.eval()
        return torch.cat([self.model(x.contiguous(memory_format=self.memory)).argmax(1) for x in split.x.split(batch)])

    def accuracy(self, split: Split) -> float:
        return int((self.predict(split) == split.y).sum()) / len(split)


class ClassifierJob(TrainerJob):
    """A :class:`Classifier` on the engine (:class:`~deepkata.core.trainer.TrainerJob`): ``chunk``
    batches a step, an epoch's end logged; its result adds the test images' scores."""

    trainer: Classifier

    def __init__(
        self, model: nn.Module, cfg: TrainConfig, splits: ImageSplits, ctx: JobContext, *, extra: Callable[[Classifier], dict[str, Any]] | None = None
    ) -> None:
        super().__init__(Classifier(model, cfg, splits, ctx.device), ctx)
        self.extra = extra

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
