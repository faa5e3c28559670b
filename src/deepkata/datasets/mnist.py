"""MNIST (and Fashion-MNIST, which has the same files) from a folder, and scikit-learn's digits.

MNIST (LeCun, Cortes and Burges, 1998): 60,000 training and 10,000 test images of handwritten
digits, 28 x 28 grey levels 0 (background) to 255 (ink), in four IDX files
(:mod:`deepkata.datasets.idx`)::

    train-images-idx3-ubyte[.gz]   train-labels-idx1-ubyte[.gz]
    t10k-images-idx3-ubyte[.gz]    t10k-labels-idx1-ubyte[.gz]

The training images may also come in parts, ``train-images-idx3-ubyte*.part0.gz``, ``part1``...,
each a complete IDX file, concatenated in order (the copy under ``$DEEPKATA_DATA/mnist`` is so
split; its SOURCE.md says how it was made). Fashion-MNIST uses the same names and format.

scikit-learn's digits (UCI optdigits: 1,797 images of 8 x 8 grey levels 0 to 16, about 180 per
class) ship with scikit-learn: the embedded stand-in when no MNIST folder is given.

Both load as an :class:`ImageSet` of uint8 pixels and int64 labels; a kata scales them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepkata.core.data import data_root
from deepkata.core.errors import UserError
from deepkata.datasets.idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx

TRAIN_IMAGES, TRAIN_LABELS = "train-images-idx3-ubyte", "train-labels-idx1-ubyte"
TEST_IMAGES, TEST_LABELS = "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"
PART = re.compile(r"\.part(\d+)(\.gz)?$")


@dataclass(frozen=True)
class ImageSet:
    """Images (N, H, W) uint8 and labels (N,) int64 of a training and a test split."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    max_value: int  # the largest grey level: 255 for MNIST, 16 for digits
    source: str  # where it came from, for reports

    @property
    def classes(self) -> int:
        return int(max(self.train_labels.max(), self.test_labels.max())) + 1

    @property
    def pixels(self) -> int:
        return int(np.prod(self.train_images.shape[1:]))


def mnist_folder() -> Path:
    """Where MNIST is kept by default: ``$DEEPKATA_DATA/mnist``."""
    return data_root() / "mnist"


# Debian's package dataset-fashion-mnist installs the four files here
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def fashion_mnist_folder() -> Path:
    """Where Fashion-MNIST is found: ``$DEEPKATA_DATA/fashion-mnist``, else Debian's copy.

    A UserError saying how to get it when neither folder holds its test images.
    """
    candidates = [data_root() / "fashion-mnist", DEBIAN_FASHION_MNIST]
    for folder in candidates:
        if any((folder / (TEST_IMAGES + ext)).is_file() for ext in (".gz", "")):
            return folder
    raise UserError(
        f"Fashion-MNIST not found in {candidates[0]} or {candidates[1]}: install it with "
        "'apt-get install dataset-fashion-mnist', or give its folder of IDX files with --data DIR"
    )


def _one(folder: Path, stem: str) -> Path:
    """The file ``stem`` or ``stem.gz`` in ``folder``; a UserError naming both if neither is there."""
    for name in (stem + ".gz", stem):
        if (folder / name).is_file():
            return folder / name
    raise UserError(f"{folder}: no {stem}.gz (or {stem}); expected the four MNIST IDX files there")


def _train_image_files(folder: Path) -> list[Path]:
    """The training images: one file, or its parts ``...part0.gz``, ``part1``... in order, none missing."""
    parts = sorted((p for p in folder.glob(TRAIN_IMAGES + "*") if PART.search(p.name)), key=lambda p: int(PART.search(p.name)[1]))
    if not parts:
        return [_one(folder, TRAIN_IMAGES)]
    numbers = [int(PART.search(p.name)[1]) for p in parts]
    if numbers != list(range(len(parts))):
        raise UserError(f"{folder}: training image parts numbered {numbers}, expected part0 to part{len(parts) - 1} with none missing or repeated")
    return parts


def _images(path: Path) -> np.ndarray:
    images = read_idx(path, IMAGES_MAGIC)
    if images.shape[1:] != (28, 28):
        raise UserError(f"{path}: images of {images.shape[1]} x {images.shape[2]}, expected 28 x 28")
    return images


def _labels(path: Path, count: int, images: str) -> np.ndarray:
    labels = read_idx(path, LABELS_MAGIC).astype(np.int64)
    if len(labels) != count:
        raise UserError(f"{path}: {len(labels):,} labels, expected {count:,}, one for each image of {images}")
    if labels.size and labels.max() > 9:
        raise UserError(f"{path}: label {labels.max()} at position {int(labels.argmax())}, expected labels 0 to 9")
    return labels


def load_mnist(folder: Path | None = None) -> ImageSet:
    """MNIST (or Fashion-MNIST) from ``folder`` (default :func:`mnist_folder`); see the module docstring."""
    folder = Path(folder) if folder is not None else mnist_folder()
    if not folder.is_dir():
        raise UserError(f"{folder}: no such folder; expected a folder holding the MNIST IDX files (or set DEEPKATA_DATA)")
    parts = _train_image_files(folder)
    train_images = np.concatenate([_images(p) for p in parts])
    train_name = parts[0].name if len(parts) == 1 else f"{parts[0].name} .. {parts[-1].name}"
    test_path = _one(folder, TEST_IMAGES)
    test_images = _images(test_path)
    return ImageSet(
        train_images=train_images,
        train_labels=_labels(_one(folder, TRAIN_LABELS), len(train_images), train_name),
        test_images=test_images,
        test_labels=_labels(_one(folder, TEST_LABELS), len(test_images), test_path.name),
        max_value=255,
        source=str(folder),
    )


def load_digits(seed: int = 0, test_fraction: float = 0.2) -> ImageSet:
    """scikit-learn's 8 x 8 digits, split into training and test images, stratified and seeded."""
    from sklearn.datasets import load_digits as sklearn_digits
    from sklearn.model_selection import train_test_split

    digits = sklearn_digits()
    images, labels = digits.images.astype(np.uint8), digits.target.astype(np.int64)  # (1797, 8, 8), grey levels 0..16
    x_train, x_test, y_train, y_test = train_test_split(images, labels, test_size=test_fraction, stratify=labels, random_state=seed)
    return ImageSet(x_train, y_train, x_test, y_test, max_value=16, source="scikit-learn digits (8 x 8)")
