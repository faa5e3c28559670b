"""Training on the engine for the detection topic: an epoch loop shared by the detector and the
segmenters (warm-up then cosine learning rate, divergence, state for resume); the detector's
batches of shapes images with their boxes, flips, the SSD loss and COCO AP on the validation
images; the segmenters' pixel-wise cross-entropy and mIoU.

Shapes: B images of S x S pixels, P default boxes, C classes.
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from deepkata.core.config import Config, param
from deepkata.core.engine import JobContext
from deepkata.core.metrics import confusion_matrix
from deepkata.core.optim import decay_groups, warmup_cosine
from deepkata.detection.boxes import xyxy_to_xywh
from deepkata.detection.coco import Evaluation, evaluate_files
from deepkata.detection.metrics import segmentation_scores
from deepkata.detection.shapes import CLASSES, Shapes, to_coco
from deepkata.detection.ssd import Ssd, multibox_loss, postprocess

Targets = list[tuple[torch.Tensor, torch.Tensor]]  # per image: boxes (G, 4) xyxy, labels (G,)


@dataclass(frozen=True, kw_only=True)
class TrainRecipe(Config):
    """How a detector or a segmenter trains."""

    epochs: int = param(30, "passes over the training images", gt=0)
    batch: int = param(32, "images per update", gt=0)
    optimizer: Literal["sgd", "adam"] = param("adam", "SGD with Nesterov momentum, or AdamW")
    lr: float = param(3e-3, "peak learning rate", gt=0, le=10)
    momentum: float = param(0.9, "SGD momentum", ge=0, lt=1)
    weight_decay: float = param(1e-4, "weight decay on the weights (not on norm parameters or biases)", ge=0)
    warmup: float = param(0.05, "share of the updates over which the learning rate ramps up", ge=0, lt=1)
    flip: bool = param(True, "random horizontal flips (boxes flipped with the image)")
    eval_every: int = param(5, "epochs between validation APs (the last epoch always)", gt=0)
    chunk: int = param(10, "batches per engine step (a checkpoint may follow each)", gt=0)


def normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B, 3, S, S) -> float (B, 3, S, S) in about [-2, 2]."""
    return (images.float() / 255 - 0.5) / 0.25


def flip(images: torch.Tensor, targets: Targets, which: torch.Tensor) -> tuple[torch.Tensor, Targets]:
    """Mirror the images ``which`` (B,) bool left-right, and their boxes: x0' = S - x1, x1' = S - x0."""
    side = images.shape[-1]
    images = torch.where(which[:, None, None, None], images.flip(-1), images)
    out = []
    for (boxes, labels), w in zip(targets, which.tolist(), strict=True):
        if w:
            boxes = torch.stack((side - boxes[:, 2], boxes[:, 1], side - boxes[:, 0], boxes[:, 3]), dim=1)
        out.append((boxes, labels))
    return images, out


def coco_detections(detections: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]) -> list[dict[str, Any]]:
    """Detections in COCO's results format, image ids from 1 in order (as :func:`shapes.to_coco`)."""
    out = []
    for i, (boxes, scores, labels) in enumerate(detections):
        for box, score, label in zip(xyxy_to_xywh(boxes.double()).tolist(), scores.tolist(), labels.tolist(), strict=True):
            out.append({"image_id": i + 1, "category_id": int(label), "bbox": [round(v, 3) for v in box], "score": round(float(score), 5)})
    return out


class EpochTrainer(ABC):
    """Epochs of updates over a training set, ``chunk`` at a time for the engine: the learning
    rate by :func:`warmup_cosine`, a NaN or infinite loss recorded as divergence, the whole state
    for resume. A subclass gives the loss of a batch and what to measure at an epoch's end."""

    def __init__(self, model: nn.Module, cfg: TrainRecipe, size: int, device: torch.device) -> None:
        self.cfg, self.size, self.device = cfg, size, device
        self.model = model.to(device)
        groups = decay_groups(self.model, cfg.weight_decay)
        if cfg.optimizer == "sgd":
            self.opt: torch.optim.Optimizer = torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.momentum > 0)
        else:
            self.opt = torch.optim.AdamW(groups, lr=cfg.lr)
        self.per_epoch = math.ceil(size / cfg.batch)
        self.total_updates = cfg.epochs * self.per_epoch
        self.updates, self.seconds = 0, 0.0
        self.diverged: str | None = None
        self.order = torch.randperm(size, device="cpu")  # the data stay on the CPU; batches move
        self.epoch_loss: dict[str, float] = {}
        self.history: dict[str, list[float]] = {"epoch": [], "lr": [], "seconds": []}

    @property
    def epoch(self) -> int:
        return self.updates // self.per_epoch

    @property
    def done(self) -> bool:
        return self.updates >= self.total_updates or self.diverged is not None

    @abstractmethod
    def loss(self, index: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """The loss of the training items ``index`` (B,), and its parts to log."""

    @abstractmethod
    def measure(self, last: bool) -> dict[str, float]:
        """What to record at an epoch's end besides the losses (``last``: the final epoch)."""

    def train_chunk(self) -> bool:
        """Up to ``chunk`` updates, stopping at an epoch's end; True if an epoch ended."""
        cfg, start = self.cfg, time.perf_counter()
        self.model.train()
        for _ in range(cfg.chunk):
            i = self.updates % self.per_epoch
            lr = warmup_cosine(cfg.lr, self.updates, self.total_updates, cfg.warmup)
            for group in self.opt.param_groups:
                group["lr"] = lr
            loss, parts = self.loss(self.order[i * cfg.batch : (i + 1) * cfg.batch])
            if not torch.isfinite(loss):  # diverged: stop, keep the record
                self.diverged = f"loss {loss.item()} at update {self.updates + 1} of {self.total_updates} (epoch {self.epoch + 1}, lr {lr:.3g})"
                break
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            self.updates += 1
            for key, value in {"loss": float(loss.detach()), **parts}.items():
                self.epoch_loss[key] = self.epoch_loss.get(key, 0.0) + value / self.per_epoch
            if self.updates % self.per_epoch == 0:
                self.seconds += time.perf_counter() - start
                self._end_epoch(lr)
                return True
        self.seconds += time.perf_counter() - start
        return False

    def _end_epoch(self, lr: float) -> None:
        row = {"epoch": float(self.epoch), "lr": lr, "seconds": self.seconds, **self.epoch_loss}
        row |= self.measure(self.updates >= self.total_updates)
        for key, value in row.items():
            self.history.setdefault(key, []).append(value)
        self.epoch_loss = {}
        self.order = torch.randperm(self.size, device="cpu")

    def state_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(), "opt": self.opt.state_dict(), "updates": self.updates, "seconds": self.seconds,
            "order": self.order.clone(), "diverged": self.diverged, "epoch_loss": dict(self.epoch_loss),
            "history": {k: list(v) for k, v in self.history.items()},
        }  # fmt: skip

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["opt"])
        self.updates, self.seconds = int(state["updates"]), float(state["seconds"])
        self.order = state["order"].clone()
        self.diverged = state["diverged"]
        self.epoch_loss = {k: float(v) for k, v in state["epoch_loss"].items()}
        self.history = {k: list(v) for k, v in state["history"].items()}


class Detector(EpochTrainer):
    """An SSD on the shapes splits: the multibox loss, COCO AP on the validation images every ``eval_every`` epochs."""

    def __init__(self, model: Ssd, cfg: TrainRecipe, train: Shapes, val: Shapes, device: torch.device) -> None:
        super().__init__(model, cfg, len(train), device)
        self.ssd, self.train, self.val = model, train, val
        self.gt_val = to_coco(val)

    def batch(self, index: torch.Tensor) -> tuple[torch.Tensor, Targets]:
        images = self.train.images[index]
        targets = [(self.train.boxes[i].float(), self.train.labels[i]) for i in index.tolist()]
        if self.cfg.flip:
            images, targets = flip(images, targets, torch.rand(len(index), device="cpu") < 0.5)
        return normalize(images).to(self.device), [(b.to(self.device), l.to(self.device)) for b, l in targets]

    def loss(self, index: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        x, targets = self.batch(index)
        logits, deltas = self.model(x)
        loss, parts = multibox_loss(logits, deltas, self.ssd.anchors, targets)
        return loss, {"conf": parts["conf"], "loc": parts["loc"]}

    def measure(self, last: bool) -> dict[str, float]:
        if not (last or self.epoch % self.cfg.eval_every == 0):
            return {"val_ap": float("nan"), "val_ap50": float("nan")}
        stats = self.evaluate(self.val, self.gt_val).stats
        return {"val_ap": float(stats[0]), "val_ap50": float(stats[1])}

    @torch.no_grad()
    def detect(self, shapes: Shapes, *, batch: int = 64) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """Each image's detections (boxes (K, 4) xyxy, scores (K,), labels (K,)), in eval mode, on the CPU."""
        self.model.eval()
        out = []
        for images in shapes.images.split(batch):
            logits, deltas = self.model(normalize(images).to(self.device))
            out += [tuple(t.cpu() for t in d) for d in postprocess(logits, deltas, self.ssd.anchors)]
        return out  # type: ignore[return-value]

    def evaluate(self, shapes: Shapes, gt: dict[str, Any]) -> Evaluation:
        return evaluate_files(gt, coco_detections(self.detect(shapes)))


class Segmenter(EpochTrainer):
    """A segmentation network on the shapes splits: pixel-wise cross-entropy over the semantic
    masks (background 0 and the classes), mIoU on the validation images after every epoch."""

    def __init__(self, model: nn.Module, cfg: TrainRecipe, train: Shapes, val: Shapes, device: torch.device) -> None:
        super().__init__(model, cfg, len(train), device)
        self.train, self.val = train, val
        self.classes = len(CLASSES) + 1

    def loss(self, index: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        images, masks = self.train.images[index], self.train.semantic[index].long()  # (B, 3, S, S), (B, S, S)
        if self.cfg.flip:
            which = (torch.rand(len(index), device="cpu") < 0.5)[:, None, None]
            images = torch.where(which[:, None], images.flip(-1), images)
            masks = torch.where(which, masks.flip(-1), masks)
        logits = self.model(normalize(images).to(self.device))  # (B, K, S, S)
        return F.cross_entropy(logits, masks.to(self.device)), {}

    def measure(self, last: bool) -> dict[str, float]:
        scores = segmentation_scores(self.confusion(self.val), self.classes)
        return {"val_miou": scores.miou, "val_pixel_accuracy": scores.pixel_accuracy}

    @torch.no_grad()
    def predict(self, shapes: Shapes, *, batch: int = 32) -> torch.Tensor:
        """Predicted class of every pixel (N, S, S), in eval mode, on the CPU."""
        self.model.eval()
        return torch.cat([self.model(normalize(x).to(self.device)).argmax(1).cpu() for x in shapes.images.split(batch)])

    def confusion(self, shapes: Shapes) -> torch.Tensor:
        """(K, K) pixel counts: row = true class, column = predicted."""
        return confusion_matrix(shapes.semantic.long().flatten(), self.predict(shapes).flatten(), self.classes)


class TrainerJob:
    """An :class:`EpochTrainer` on the engine: ``chunk`` batches a step; an epoch's end is logged
    (losses as ``train/``, the measures as ``val/``)."""

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
                row[f"val/{key[4:]}" if key.startswith("val_") else f"train/{key}"] = values[-1]
            self.ctx.log(t.epoch, row)

    def state_dict(self) -> dict[str, Any]:
        return self.trainer.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.trainer.load_state_dict(state)

    def result(self) -> dict[str, Any]:
        t = self.trainer
        return {"history": t.history, "seconds": t.seconds, "diverged": t.diverged, "state": {k: v.cpu() for k, v in t.model.state_dict().items()}}
