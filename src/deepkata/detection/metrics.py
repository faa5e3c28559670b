"""Precision, recall and average precision of a detector, as the notes define them, with PASCAL VOC's
two ways of summarizing the precision-recall curve.

A detection is a true positive (TP) when it matches a ground truth of its class with IoU at least
the threshold (0.5 in VOC); otherwise a false positive (FP). Ranking all detections of a class by
score, after the first n (Everingham et al., "The PASCAL VOC challenge", IJCV 2010, §4.2)::

    precision_n = TP_n / (TP_n + FP_n)        recall_n = TP_n / P        (P: ground truths)

AP summarizes the curve by its *interpolated* precision p_interp(r) = max_{r' >= r} p(r'):

- **11-point** (VOC 2007): the mean of p_interp at r = 0, 0.1, .., 1.
- **all-point** (VOC 2010 on): the area under p_interp, sum_n (r_n - r_{n-1}) p_interp(r_n).

mAP is the mean of the classes' AP. COCO's AP (101 recall levels, ten IoU thresholds) is in
:mod:`deepkata.detection.coco`.

VOC matches greedily by score, each detection to the ground truth of highest IoU; if that one is
already taken the detection is a false positive (COCO instead tries the best one still free).

Shapes: D detections, G ground truths.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from deepkata.detection.boxes import box_iou

ApMethod = Literal["all-point", "11-point"]


@dataclass(frozen=True)
class PrCurve:
    """Precision and recall after each detection, by decreasing score; (D,) each."""

    precision: np.ndarray
    recall: np.ndarray
    scores: np.ndarray


def match_voc(boxes: torch.Tensor, scores: torch.Tensor, gt_boxes: torch.Tensor, iou_threshold: float = 0.5) -> np.ndarray:
    """Which detections of one image and class are true positives, VOC's way; (D, 4), (D,), (G, 4) -> (D,) bool."""
    tp = np.zeros(len(boxes), dtype=bool)
    if len(boxes) == 0 or len(gt_boxes) == 0:
        return tp
    order = torch.sort(scores, descending=True, stable=True).indices.numpy()
    iou = box_iou(boxes, gt_boxes).numpy()  # (D, G)
    best = iou.argmax(axis=1)  # each detection's ground truth of highest IoU
    taken = np.zeros(len(gt_boxes), dtype=bool)
    for d in order:  # by score: a later detection cannot take a ground truth an earlier one took
        g = best[d]
        if iou[d, g] >= iou_threshold and not taken[g]:
            tp[d] = taken[g] = True
    return tp


def pr_curve(scores: np.ndarray, tp: np.ndarray, positives: int) -> PrCurve:
    """The precision-recall curve of detections pooled over images; (D,), (D,) bool, P -> PrCurve.

    Equal scores keep their given order (a stable sort).
    """
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    hits = np.asarray(tp, dtype=bool)[order]
    tp_n = np.cumsum(hits)  # TP_n
    fp_n = np.cumsum(~hits)  # FP_n
    # precision_n = TP_n / (TP_n + FP_n), recall_n = TP_n / P
    precision = tp_n / np.maximum(tp_n + fp_n, 1)
    recall = tp_n / positives if positives > 0 else np.zeros(len(hits))
    return PrCurve(precision=precision, recall=recall, scores=np.asarray(scores, dtype=np.float64)[order])


def interpolated_precision(curve: PrCurve) -> np.ndarray:
    """p_interp(r_n) = max_{n' >= n} precision_n' (the curve's running maximum from the right); (D,)."""
    return np.maximum.accumulate(curve.precision[::-1])[::-1] if len(curve.precision) else curve.precision


def average_precision(curve: PrCurve, method: ApMethod = "all-point") -> float:
    """AP of a precision-recall curve: the area under the interpolated curve, or VOC 2007's 11-point mean."""
    p = interpolated_precision(curve)
    r = curve.recall
    if method == "11-point":
        # mean over r in {0, 0.1, .., 1} of max precision at recall >= r (0 where never reached)
        levels = np.linspace(0, 1, 11)
        return float(np.mean([p[r >= level].max() if (r >= level).any() else 0.0 for level in levels]))
    if method != "all-point":
        raise ValueError(f"method: {method!r}; expected 'all-point' or '11-point'")
    # sum_n (r_n - r_{n-1}) p_interp(r_n), r_0 = 0
    steps = np.diff(np.r_[0.0, r])
    return float(np.sum(steps * p))


def mean_average_precision(
    detections: Sequence[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
    ground_truths: Sequence[tuple[torch.Tensor, torch.Tensor]],
    classes: Sequence[int],
    iou_threshold: float = 0.5,
    method: ApMethod = "all-point",
) -> tuple[float, dict[int, float]]:
    """VOC mAP over images: per image (boxes (D, 4), scores (D,), labels (D,)) and (boxes (G, 4), labels (G,)).

    Returns the mean over the classes that have ground truth, and each class's AP (NaN without any).
    """
    if len(detections) != len(ground_truths):
        raise ValueError(f"{len(detections)} images of detections for {len(ground_truths)} of ground truth")
    per_class: dict[int, float] = {}
    for c in classes:
        scores, hits, positives = [], [], 0
        for (boxes, sc, labels), (gt_boxes, gt_labels) in zip(detections, ground_truths, strict=True):
            mine, theirs = labels == c, gt_labels == c
            positives += int(theirs.sum())
            scores.append(sc[mine].numpy())
            hits.append(match_voc(boxes[mine], sc[mine], gt_boxes[theirs], iou_threshold))
        if positives == 0:
            per_class[c] = float("nan")
            continue
        per_class[c] = average_precision(pr_curve(np.concatenate(scores), np.concatenate(hits), positives), method)
    counted = [v for v in per_class.values() if not np.isnan(v)]
    return (float(np.mean(counted)) if counted else float("nan")), per_class


@dataclass(frozen=True)
class SegmentationScores:
    """Pixel accuracy, each class's IoU and their mean, from a pixel confusion matrix."""

    pixel_accuracy: float
    iou: tuple[float, ...]  # per class, NaN for a class neither present nor predicted
    miou: float  # mean over the classes with a defined IoU


def segmentation_scores(confusion: torch.Tensor, classes: int) -> SegmentationScores:
    """From (K, K) pixel counts (row: true class, column: predicted): pixel accuracy = trace / total,
    IoU_c = TP_c / (TP_c + FP_c + FN_c), mIoU their mean (Long et al. 2015, §5 "Metrics")."""
    c = confusion.double()
    if c.shape != (classes, classes):
        raise ValueError(f"confusion matrix of shape {tuple(c.shape)}; expected ({classes}, {classes})")
    tp = c.diagonal()
    # TP + FP + FN = row sum + column sum - TP
    union = c.sum(dim=1) + c.sum(dim=0) - tp
    iou = torch.where(union > 0, tp / union.clamp(min=1), torch.full_like(tp, float("nan")))
    defined = iou[~iou.isnan()]
    return SegmentationScores(
        pixel_accuracy=float(tp.sum() / c.sum().clamp(min=1)),
        iou=tuple(float(v) for v in iou),
        miou=float(defined.mean()) if len(defined) else float("nan"),
    )
