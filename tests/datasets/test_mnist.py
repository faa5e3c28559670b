"""The IDX reader and the MNIST loader: files the tests write, every bad one refused in one line.

The real MNIST under $DEEPKATA_DATA/mnist is read by one test, skipped when it is not there.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest

from deepkata.core.errors import UserError
from deepkata.datasets.idx import IMAGES_MAGIC, LABELS_MAGIC, parse_idx, read_idx
from deepkata.datasets.mnist import load_digits, load_mnist


def idx_bytes(array: np.ndarray, code: int = 0x08) -> bytes:
    """An IDX file holding ``array`` (big-endian), written from the format's definition."""
    dtype = {0x08: ">u1", 0x0B: ">i2", 0x0D: ">f4"}[code]
    header = bytes([0, 0, code, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return header + array.astype(dtype).tobytes()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def fake_mnist(folder: Path, n_train: int = 30, n_test: int = 20, parts: int = 1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Four MNIST files of random images, the training images in ``parts`` parts when > 1."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    images = rng.integers(0, 256, size=(n_train + n_test, 28, 28), dtype=np.uint8)
    labels = np.arange(n_train + n_test) % 10
    if parts == 1:
        write(folder / "train-images-idx3-ubyte.gz", idx_bytes(images[:n_train]))
    else:
        for k, chunk in enumerate(np.array_split(images[:n_train], parts)):
            write(folder / f"train-images-idx3-ubyte.approx.part{k}.gz", idx_bytes(chunk))
    write(folder / "train-labels-idx1-ubyte.gz", idx_bytes(labels[:n_train]))
    write(folder / "t10k-images-idx3-ubyte", idx_bytes(images[n_train:]))  # not gzipped: both are read
    write(folder / "t10k-labels-idx1-ubyte.gz", idx_bytes(labels[n_train:]))
    return images, labels


@pytest.mark.parametrize("code", [0x08, 0x0B, 0x0D])
def test_idx_round_trip(tmp_path, code):
    a = (np.arange(24).reshape(2, 3, 4) - 5).astype(np.float32) if code != 0x08 else np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    got = read_idx(write(tmp_path / "a.idx.gz", idx_bytes(a, code)))
    assert got.shape == (2, 3, 4) and np.array_equal(got, a) and got.dtype.isnative


@pytest.mark.parametrize(
    "data, message",
    [
        (b"\x00\x00", "2 bytes, too short for an IDX header"),
        (idx_bytes(np.zeros(3, np.uint8)), "magic number 2049 (0x00000801), expected 2051 (0x00000803)"),
        (b"\x00\x00\x08\x03" + (2).to_bytes(4, "big"), "truncated header: 8 bytes, expected 16 for 3 dimension sizes"),
        (idx_bytes(np.zeros((2, 28, 28), np.uint8))[:-1], "truncated: 1,583 bytes, expected 1,584 for a 2 x 28 x 28 array of uint8"),
        (idx_bytes(np.zeros((2, 28, 28), np.uint8)) + b"\x00", "trailing bytes: 1,585 bytes, expected 1,584"),
    ],
)
def test_bad_images_are_refused_in_one_line_naming_the_file(data, message):
    with pytest.raises(UserError) as e:
        parse_idx(data, "images.idx", IMAGES_MAGIC)
    assert str(e.value).startswith("images.idx: ") and message in str(e.value) and "\n" not in str(e.value)


def test_an_unknown_element_type_is_not_idx():
    with pytest.raises(UserError, match=r"magic number 0x00000702 is not IDX"):
        parse_idx(b"\x00\x00\x07\x02" + bytes(8), "x.idx")


def test_a_file_that_is_not_gzip_is_named(tmp_path):
    (tmp_path / "labels.gz").write_bytes(b"not gzip at all")
    with pytest.raises(UserError, match=r"labels.gz: not a readable gzip file .*expected a gzipped IDX file"):
        read_idx(tmp_path / "labels.gz", LABELS_MAGIC)


def test_mnist_parts_are_concatenated_in_order(tmp_path):
    images, labels = fake_mnist(tmp_path, n_train=30, parts=3)
    data = load_mnist(tmp_path)
    assert np.array_equal(data.train_images, images[:30]) and np.array_equal(data.test_images, images[30:])
    assert np.array_equal(data.train_labels, labels[:30]) and data.classes == 10 and data.pixels == 784 and data.max_value == 255


def test_counts_that_disagree_are_refused(tmp_path):
    fake_mnist(tmp_path)
    write(tmp_path / "train-labels-idx1-ubyte.gz", idx_bytes(np.zeros(29, np.uint8)))
    with pytest.raises(UserError, match=r"train-labels-idx1-ubyte.gz: 29 labels, expected 30, one for each image of train-images-idx3-ubyte.gz"):
        load_mnist(tmp_path)


def test_a_missing_part_or_file_or_a_bad_label_is_refused(tmp_path):
    fake_mnist(tmp_path, parts=3)
    (tmp_path / "train-images-idx3-ubyte.approx.part1.gz").unlink()
    with pytest.raises(UserError, match=r"parts numbered \[0, 2\], expected part0 to part1"):
        load_mnist(tmp_path)
    fake_mnist(tmp_path / "b")
    (tmp_path / "b" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(UserError, match=r"no t10k-labels-idx1-ubyte.gz \(or t10k-labels-idx1-ubyte\)"):
        load_mnist(tmp_path / "b")
    fake_mnist(tmp_path / "c")
    write(tmp_path / "c" / "t10k-labels-idx1-ubyte.gz", idx_bytes(np.full(20, 11, np.uint8)))
    with pytest.raises(UserError, match=r"label 11 at position 0, expected labels 0 to 9"):
        load_mnist(tmp_path / "c")
    with pytest.raises(UserError, match=r"no such folder"):
        load_mnist(tmp_path / "nowhere")


def test_digits_split_is_stratified_and_seeded():
    a, b = load_digits(0), load_digits(0)
    assert np.array_equal(a.train_labels, b.train_labels) and a.train_images.shape == (1437, 8, 8)
    assert len(a.test_labels) == 360 and a.max_value == 16 and a.pixels == 64
    assert np.bincount(a.test_labels).min() >= 35  # about 36 a class


MNIST = Path(os.environ.get("DEEPKATA_DATA", "/nonexistent")) / "mnist"


@pytest.mark.skipif(not (MNIST / "t10k-images-idx3-ubyte.gz").exists(), reason="the real MNIST is not under $DEEPKATA_DATA/mnist")
def test_the_real_mnist_has_the_known_counts():
    data = load_mnist(MNIST)
    assert data.train_images.shape == (60000, 28, 28) and data.test_images.shape == (10000, 28, 28)
    assert list(data.train_labels[:10]) == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert list(np.bincount(data.test_labels)) == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert abs(data.train_images.mean() / 255 - 0.1307) < 1e-3
