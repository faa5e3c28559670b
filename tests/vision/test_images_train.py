"""Image data and the training recipe of the vision katas: splits, augmentation, schedule, resume, divergence."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import confusion_matrix as sk_confusion

from deepkata.core.errors import UserError
from deepkata.datasets.idx import write_idx
from deepkata.datasets.mnist import FASHION_CLASSES
from deepkata.vision import images
from deepkata.vision.images import DIGIT_CLASSES, ImageSplits, Split, augment, load, make_splits
from deepkata.vision.plain_cnn import PlainCNN, PlainCNNConfig
from deepkata.core.metrics import confusion_matrix
from deepkata.vision.train import Classifier, TrainConfig, _param_groups, learning_rate


def idx_folder(folder, n_train=60, n_test=20, seed=0):
    """Four tiny IDX files of 28 x 28 images, six per class in training."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    for stem, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n) % 10
        pictures = rng.integers(0, 256, (n, 28, 28)).astype(np.uint8)
        pictures[:, :, :4] = labels[:, None, None] * 25  # a stripe whose grey level gives the class away
        write_idx(folder / f"{stem}-images-idx3-ubyte", pictures)
        write_idx(folder / f"{stem}-labels-idx1-ubyte", labels.astype(np.uint8))
    return folder


def test_digits_are_upsampled_standardized_and_split_stratified():
    data, names = load("digits", None)
    s = make_splits(data, names, validation=0.2, seed=0)
    assert names == DIGIT_CLASSES and s.classes == 10
    assert s.train.x.shape[1:] == (1, 28, 28) and s.test.x.shape[1:] == (1, 28, 28)
    assert len(s.train) + len(s.val) == len(data.train_labels) and len(s.test) == len(data.test_labels)
    # x̂ = (x - μ) / σ with the training pixels' μ and σ: mean 0 and sd 1 on the training split
    assert abs(float(s.train.x.mean())) < 1e-5 and abs(float(s.train.x.std()) - 1) < 1e-4
    assert 0 < s.mean < 1 and 0 < s.std < 1
    # stratified: every class's share of the validation split within one image of its share overall
    overall = np.bincount(data.train_labels, minlength=10) / len(data.train_labels)
    assert np.all(np.abs(np.bincount(s.val.y.numpy(), minlength=10) - overall * len(s.val)) <= 1)
    # pictures come back in [0, 1]: the upsampled 8 x 8 digit equals bilinear interpolation of the original
    first = torch.tensor(data.test_images[:1], dtype=torch.float32)[:, None] / 16
    expected = torch.nn.functional.interpolate(first, size=(28, 28), mode="bilinear", align_corners=False)
    torch.testing.assert_close(s.pixels(s.test.x[:1]), expected.clamp(0, 1), atol=1e-6, rtol=0)


def test_limits_keep_a_stratified_subset():
    data, names = load("digits", None)
    s = make_splits(data, names, validation=0.25, train_limit=200, test_limit=50)
    assert len(s.train) + len(s.val) == 200 and len(s.test) == 50
    assert set(s.test.y.tolist()) == set(range(10))


def test_idx_folders_and_their_class_names(tmp_path):
    folder = idx_folder(tmp_path / "Fashion-small")
    data, names = load("auto", folder)
    assert names == FASHION_CLASSES and data.train_images.shape == (60, 28, 28)
    assert load("auto", idx_folder(tmp_path / "digits-idx"))[1] == DIGIT_CLASSES
    assert load("mnist", folder)[1] == DIGIT_CLASSES  # what the user says wins over the folder's name
    with pytest.raises(UserError, match="no such folder"):
        load("fashion-mnist", tmp_path / "nowhere")


def test_fashion_mnist_not_installed_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPKATA_DATA", str(tmp_path))
    monkeypatch.setattr("deepkata.datasets.mnist.DEBIAN_FASHION_MNIST", tmp_path / "absent")
    with pytest.raises(UserError) as e:
        images.load("fashion-mnist", None)
    assert "apt-get install dataset-fashion-mnist" in str(e.value) and "\n" not in str(e.value)


def test_augment_crops_by_the_drawn_offsets_and_flips_the_drawn_images():
    x = torch.arange(2 * 1 * 5 * 5, dtype=torch.float32).reshape(2, 1, 5, 5) + 1
    assert torch.equal(augment(x, pad=0, flip=False), x)
    g = torch.Generator().manual_seed(3)
    out = augment(x, pad=2, flip=False, generator=g)
    dy, dx = torch.randint(0, 5, (2, 2), generator=torch.Generator().manual_seed(3)).unbind(0)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for i in range(2):
        assert torch.equal(out[i], padded[i, :, dy[i] : dy[i] + 5, dx[i] : dx[i] + 5])
    flipped = augment(x, pad=0, flip=True, generator=torch.Generator().manual_seed(5))
    mirrored = torch.rand(2, generator=torch.Generator().manual_seed(5)) < 0.5
    for i in range(2):
        assert torch.equal(flipped[i], x[i].flip(2) if mirrored[i] else x[i])


def test_learning_rate_warms_up_linearly_then_decays_along_a_cosine():
    cfg = TrainConfig(lr=0.4, warmup=0.1)
    total = 100
    assert [learning_rate(cfg, t, total) for t in range(3)] == pytest.approx([0.04, 0.08, 0.12])
    assert learning_rate(cfg, 9, total) == pytest.approx(0.4)
    assert learning_rate(cfg, 10, total) == pytest.approx(0.4)  # s = 0
    assert learning_rate(cfg, 55, total) == pytest.approx(0.4 * 0.5 * (1 + math.cos(math.pi * 45 / 90)))
    assert learning_rate(cfg, 99, total) < 0.001
    assert learning_rate(TrainConfig(lr=0.3, warmup=0.0, schedule="constant"), 50, total) == 0.3


def test_weight_decay_skips_norm_parameters_and_biases():
    model = PlainCNN(PlainCNNConfig(widths=(4, 8)))
    decay, rest = _param_groups(model, 5e-4)
    assert decay["weight_decay"] == 5e-4 and rest["weight_decay"] == 0.0
    assert all(p.ndim == 4 or p.ndim == 2 for p in decay["params"])
    assert {p.ndim for p in rest["params"]} == {1}
    assert len(decay["params"]) + len(rest["params"]) == len(list(model.parameters()))


def test_confusion_matrix_matches_scikit_learn():
    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 10, 500), rng.integers(0, 10, 500)
    assert confusion_matrix(torch.tensor(y), torch.tensor(p), 10).tolist() == sk_confusion(y, p, labels=range(10)).tolist()


def small_splits(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 10
    x = torch.randn(n, 1, 28, 28, generator=g) * 0.1 + y[:, None, None, None] / 5  # brightness tells the class
    split = Split(x, y)
    return ImageSplits(split, Split(x[:20], y[:20]), Split(x[:30], y[:30]), "generated", DIGIT_CLASSES, 0.5, 0.2)


def build(cfg, splits):
    torch.manual_seed(1)
    return Classifier(PlainCNN(PlainCNNConfig(widths=(4, 8))), cfg, splits, torch.device("cpu"))


def finish(c, chunks=None):
    while not c.done and (chunks is None or chunks > 0):
        c.train_chunk()
        chunks = None if chunks is None else chunks - 1
    return c


def test_a_run_resumed_from_its_state_ends_where_an_uninterrupted_one_does():
    cfg = TrainConfig(epochs=3, batch=16, lr=0.05, chunk=3)
    splits = small_splits()
    whole = finish(build(cfg, splits))
    half = finish(build(cfg, splits), chunks=2)  # 6 updates: inside the second of 4-update epochs
    state, rng = half.state_dict(), torch.get_rng_state()
    torch.manual_seed(123)  # whatever happened meanwhile...
    resumed = build(cfg, splits)
    resumed.load_state_dict(state)
    torch.set_rng_state(rng)  # ... the engine restores the generators after it rebuilt the job
    finish(resumed)
    assert resumed.history["epoch"] == whole.history["epoch"] == [1, 2, 3]
    assert resumed.history["val_accuracy"] == whole.history["val_accuracy"]
    for a, b in zip(resumed.model.state_dict().values(), whole.model.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_divergence_stops_the_run_with_a_record_instead_of_crashing():
    splits = small_splits()
    c = build(TrainConfig(epochs=3, batch=16, chunk=2), splits)
    with torch.no_grad():
        c.model.head.weight[0, 0] = float("inf")  # what an exploding update leaves behind
    finish(c)
    assert c.done and c.diverged is not None and "loss" in c.diverged
    assert c.updates == 0 and "update 1 of 12" in c.diverged
