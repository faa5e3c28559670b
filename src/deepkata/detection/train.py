"""Training for the detection topic on the shared epoch loop (:mod:`deepkata.core.trainer`:
warm-up then cosine learning rate, divergence, state for resume): the detector's batches of shapes images with their boxes, flips, the SSD loss and COCO AP on the validation
images; the segmenters' pixel-wise cross-entropy and mIoU.

Shapes: B images of S x S pixels, P default boxes, C classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from deepkata.core.config import param
from deepkata.core.metrics import confusion_matrix
from deepkata.core.trainer import EpochRecipe, EpochTrainer, TrainerJob
from deepkata.detection.boxes import xyxy_to_xywh
from deepkata.detection.coco import Evaluation, evaluate_files
from deepkata.detection.metrics import segmentation_scores
from deepkata.detection.shapes import CLASSES, Shapes, to_coco
from deepkata.detection.ssd import Ssd, multibox_loss, postprocess

__all__ = ["Detector", "EpochTrainer", "Segmenter", "TrainRecipe", "TrainerJob", "coco_detections", "flip", "normalize"]

Targets = list[tuple[torch.Tensor, torch.Tensor]]  # per image: boxes (G, 4) xyxy, labels (G,)


@dataclass(frozen=True, kw_only=True)
class TrainRecipe(EpochRecipe):
    """How a detector or a segmenter trains: the shared epoch recipe, flips and how often to score."""

    flip: bool = param(True, "random horizontal flips (boxes flipped with the image)")
    eval_every: int = param(5, "epochs between validation APs (the last epoch always)", gt=0)


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
