"""Image data for the vision katas: which set, its splits as tensors, and augmentation.

Three sources, all 28 x 28 grey images of ten classes once loaded:

- ``fashion-mnist`` (Xiao, Rasul and Vollgraf, 2017): 60,000 training and 10,000 test photos of
  clothes, in MNIST's IDX files; Debian's ``dataset-fashion-mnist`` or ``$DEEPKATA_DATA/fashion-mnist``.
- ``mnist``: handwritten digits, ``$DEEPKATA_DATA/mnist``.
- ``digits``: scikit-learn's 1,797 digits of 8 x 8 (bundled), upsampled to 28 x 28 bilinearly so
  the same networks and costs apply: the embedded default, for runs of seconds.

``--data DIR`` reads any folder of the four IDX files. A stratified share of the training images
is held out for validation (what the katas tune and draw curves on); the test images are scored
once, at the end. Pixels are scaled to [0, 1], then standardized with the training images' mean
and standard deviation.

Augmentation (He et al., 2016, on CIFAR): a random crop of the image padded by ``p`` zero pixels
on each side (a shift of up to ``p`` pixels), and a horizontal flip with probability 1/2.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from deepkata.datasets.mnist import FASHION_CLASSES, ImageSet, fashion_mnist_folder, load_digits, load_mnist, mnist_folder

Dataset = Literal["auto", "digits", "fashion-mnist", "mnist"]
SIZE = 28
DIGIT_CLASSES = tuple(str(d) for d in range(10))


@dataclass(frozen=True)
class Split:
    """Standardized images (N, 1, H, W) float32 and labels (N,) int64."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class ImageSplits:
    train: Split
    val: Split
    test: Split
    source: str  # where the images came from, for reports
    class_names: tuple[str, ...]
    mean: float  # of the training pixels in [0, 1], subtracted
    std: float  # ... and divided by

    @property
    def classes(self) -> int:
        return len(self.class_names)

    def pixels(self, x: torch.Tensor) -> torch.Tensor:
        """Standardized images back to [0, 1], for pictures."""
        return (x * self.std + self.mean).clamp(0, 1)


def load(dataset: Dataset, data: Path | None) -> tuple[ImageSet, tuple[str, ...]]:
    """The images and class names of ``dataset``; ``auto`` is ``data``'s IDX files if given, else digits."""
    if data is not None and dataset in ("auto", "fashion-mnist", "mnist"):
        images = load_mnist(data)
        fashion = dataset == "fashion-mnist" or (dataset == "auto" and "fashion" in Path(data).resolve().as_posix().lower())
        return images, FASHION_CLASSES if fashion else DIGIT_CLASSES
    if dataset == "fashion-mnist":
        return load_mnist(fashion_mnist_folder()), FASHION_CLASSES
    if dataset == "mnist":
        return load_mnist(mnist_folder()), DIGIT_CLASSES
    return load_digits(0), DIGIT_CLASSES


def _resize(images: np.ndarray, max_value: int) -> torch.Tensor:
    """uint8 (N, h, w) grey levels 0..max_value -> float32 (N, 1, 28, 28) in [0, 1]."""
    x = torch.tensor(images, dtype=torch.float32, device="cpu")[:, None] / max_value  # prepared on the CPU, then moved  # (N, 1, h, w)
    if x.shape[-2:] != (SIZE, SIZE):
        x = F.interpolate(x, size=(SIZE, SIZE), mode="bilinear", align_corners=False).clamp(0, 1)
    return x


def _take(labels: np.ndarray, count: int | None, seed: int) -> np.ndarray:
    """Indices of ``count`` images stratified by label (all of them, in order, when None)."""
    idx = np.arange(len(labels))
    if count is None or count >= len(labels):
        return idx
    from sklearn.model_selection import train_test_split

    keep, _ = train_test_split(idx, train_size=count, stratify=labels, random_state=seed)
    return np.sort(keep)


def make_splits(
    images: ImageSet,
    class_names: tuple[str, ...],
    *,
    validation: float,
    train_limit: int | None = None,
    test_limit: int | None = None,
    seed: int = 0,
    device: torch.device | None = None,
) -> ImageSplits:
    """Training, validation (a stratified ``validation`` share of the training images) and test splits.

    ``train_limit`` / ``test_limit`` keep a stratified subset (smoke runs); the split is seeded.
    """
    from sklearn.model_selection import train_test_split

    keep = _take(images.train_labels, train_limit, seed)
    fit, held = train_test_split(keep, test_size=validation, stratify=images.train_labels[keep], random_state=seed)
    fit, held = np.sort(fit), np.sort(held)
    test = _take(images.test_labels, test_limit, seed)
    x_fit = _resize(images.train_images[fit], images.max_value)
    mean, std = float(x_fit.mean()), float(x_fit.std())

    def split(x: torch.Tensor, labels: np.ndarray) -> Split:
        # x̂ = (x - μ) / σ, μ and σ of the training pixels
        return Split(((x - mean) / std).to(device), torch.tensor(labels, dtype=torch.int64, device=device))

    return ImageSplits(
        train=split(x_fit, images.train_labels[fit]),
        val=split(_resize(images.train_images[held], images.max_value), images.train_labels[held]),
        test=split(_resize(images.test_images[test], images.max_value), images.test_labels[test]),
        source=images.source,
        class_names=class_names,
        mean=mean,
        std=std,
    )


def augment(x: torch.Tensor, *, pad: int, flip: bool, generator: torch.Generator | None = None) -> torch.Tensor:
    """A random crop of ``x`` (B, C, H, W) zero-padded by ``pad``, and a random horizontal flip."""
    b, c, h, w = x.shape
    if pad > 0:
        padded = F.pad(x, (pad, pad, pad, pad))  # (B, C, H + 2p, W + 2p)
        dy, dx = (torch.randint(0, 2 * pad + 1, (2, b), generator=generator, device=x.device)).unbind(0)
        rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]  # (B, 1, H, 1)
        cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :]  # (B, 1, 1, W)
        x = padded[torch.arange(b, device=x.device)[:, None, None, None], torch.arange(c, device=x.device)[None, :, None, None], rows, cols]
    if flip:
        mirrored = torch.rand(b, generator=generator, device=x.device) < 0.5  # (B,)
        x = torch.where(mirrored[:, None, None, None], x.flip(3), x)
    return x
