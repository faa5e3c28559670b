"""Classification metrics every topic shares, as pure functions of labels and predictions."""

from __future__ import annotations

import torch


def confusion_matrix(labels: torch.Tensor, predictions: torch.Tensor, classes: int) -> torch.Tensor:
    """(C, C) counts: row = true class, column = predicted class (scikit-learn's convention)."""
    return torch.bincount(labels * classes + predictions, minlength=classes * classes).reshape(classes, classes)
