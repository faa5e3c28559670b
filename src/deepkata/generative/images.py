"""Grey images as pixel intensities in [0, 1] for the generative models, and their binarization.

The VAE models binary pixels (a Bernoulli per pixel), as in Kingma & Welling and Burda et al.:
the images are *dynamically binarized*, each training batch drawn anew as x_d ~ Bernoulli(p_d)
from the grey level p_d in [0, 1], which acts as data augmentation; the validation and test
images are binarized once, with a fixed generator, so every model is scored on the same bits.

Sources (:mod:`deepkata.datasets.mnist`): MNIST or Fashion-MNIST (28 x 28, from ``--data`` or
their default folders), or scikit-learn's digits (8 x 8, bundled): the embedded default.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from deepkata.datasets.mnist import FASHION_CLASSES, ImageSet, fashion_mnist_folder, load_digits, load_mnist, mnist_folder

__all__ = ["Dataset", "Intensities", "binarize", "load_intensities"]

Dataset = Literal["auto", "digits", "mnist", "fashion-mnist"]
DIGITS = tuple(str(d) for d in range(10))
TEST_BITS_SEED = 1234  # the fixed draw of the validation and test bits


@dataclass(frozen=True)
class Intensities:
    """Pixel intensities (N, 1, S, S) float32 in [0, 1] and labels (N,) of the three splits; the
    validation and test images also binarized once (uint8 0/1)."""

    train: torch.Tensor
    train_labels: torch.Tensor
    val: torch.Tensor
    val_labels: torch.Tensor
    test: torch.Tensor
    test_labels: torch.Tensor
    val_bits: torch.Tensor
    test_bits: torch.Tensor
    class_names: tuple[str, ...]
    source: str

    @property
    def side(self) -> int:
        return int(self.train.shape[-1])


def binarize(p: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """x ~ Bernoulli(p) pixel by pixel, as float 0.0 / 1.0 of p's shape."""
    return (torch.rand(p.shape, generator=generator, device=p.device) < p).to(p.dtype)


def _load(dataset: Dataset, data: Path | None) -> tuple[ImageSet, tuple[str, ...]]:
    if data is not None and dataset != "digits":
        fashion = dataset == "fashion-mnist" or (dataset == "auto" and "fashion" in Path(data).resolve().as_posix().lower())
        return load_mnist(data), FASHION_CLASSES if fashion else DIGITS
    if dataset == "mnist":
        return load_mnist(mnist_folder()), DIGITS
    if dataset == "fashion-mnist":
        return load_mnist(fashion_mnist_folder()), FASHION_CLASSES
    return load_digits(0), DIGITS


def load_intensities(dataset: Dataset, data: Path | None, *, validation: int, seed: int, train_limit: int | None = None) -> Intensities:
    """The images of ``dataset`` scaled to [0, 1]; ``validation`` training images held out (by ``seed``)."""
    images, names = _load(dataset, data)

    def scale(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(x.astype(np.float32) / images.max_value).unsqueeze(1)  # (N, 1, S, S)

    order = np.random.default_rng(seed).permutation(len(images.train_labels))
    if validation >= len(order):
        raise ValueError(f"validation ({validation}) must leave training images out of {len(order)}")
    val_idx, train_idx = order[:validation], order[validation:]
    if train_limit is not None:
        train_idx = train_idx[:train_limit]
    g = torch.Generator().manual_seed(TEST_BITS_SEED)
    val, test = scale(images.train_images[val_idx]), scale(images.test_images)
    return Intensities(
        train=scale(images.train_images[train_idx]), train_labels=torch.from_numpy(images.train_labels[train_idx]),
        val=val, val_labels=torch.from_numpy(images.train_labels[val_idx]),
        test=test, test_labels=torch.from_numpy(images.test_labels),
        val_bits=binarize(val, g).to(torch.uint8), test_bits=binarize(test, g).to(torch.uint8),
        class_names=names, source=images.source,
    )  # fmt: skip
