"""The detection topic's training loop: flips move the boxes with the pixels, an interrupted run
resumes to the same weights, a NaN loss is recorded as divergence, the segmenter learns."""

from __future__ import annotations

import math

import pytest
import torch

from deepkata.detection.shapes import ShapesConfig, make_splits
from deepkata.detection.ssd import Ssd, SsdConfig
from deepkata.detection.train import Detector, Segmenter, TrainRecipe, flip
from deepkata.models import build_model

SHAPES = ShapesConfig(size=64, min_side=10, max_side=24)


@pytest.fixture(scope="module")
def splits():
    return make_splits(0, train=12, val=4, test=4, cfg=SHAPES)


def test_a_flip_moves_each_box_with_its_pixels(splits):
    images = splits.train.images[:4]
    targets = [(splits.train.boxes[i].float(), splits.train.labels[i]) for i in range(4)]
    flipped, moved = flip(images, targets, torch.tensor([True, False, True, False]))
    for i in range(4):
        mask = splits.train.semantic[i] > 0
        if i in (0, 2):
            mask = mask.flip(-1)
            assert torch.equal(flipped[i], images[i].flip(-1))
        cols = mask.any(dim=0).nonzero().flatten()
        # the union of the boxes spans the same columns as the shapes' pixels
        boxes = moved[i][0]
        assert boxes[:, 0].min() == cols.min() and boxes[:, 2].max() == cols.max() + 1


def detector(splits, **recipe):
    torch.manual_seed(0)
    cfg = TrainRecipe(**{"epochs": 2, "batch": 4, "chunk": 2, "eval_every": 10, **recipe})
    return Detector(Ssd(SsdConfig(image_size=64, extra_channels=16)), cfg, splits.train, splits.val, torch.device("cpu"))


def test_an_interrupted_detector_resumes_to_the_same_weights(splits):
    torch.manual_seed(1)
    whole = detector(splits)
    torch.manual_seed(2)
    while not whole.done:
        whole.train_chunk()
    part = detector(splits)
    torch.manual_seed(2)
    part.train_chunk()  # 2 of 6 updates
    state, rng = part.state_dict(), torch.get_rng_state()
    resumed = detector(splits)
    resumed.load_state_dict(state)
    torch.set_rng_state(rng)
    while not resumed.done:
        resumed.train_chunk()
    assert resumed.updates == whole.updates == 6
    for (name, a), b in zip(whole.model.state_dict().items(), resumed.model.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    assert resumed.history["train_loss"] == whole.history["train_loss"] and len(whole.history["val_ap"]) == 2
    assert not math.isnan(whole.history["val_ap"][-1])  # the last epoch is always scored


def test_a_nan_loss_is_divergence_not_a_crash(splits):
    d = detector(splits)
    with torch.no_grad():
        next(d.model.parameters()).fill_(float("nan"))  # as if an update had blown up
    while not d.done:
        d.train_chunk()
    assert d.diverged is not None and "at update" in d.diverged


def test_the_segmenter_learns_the_masks(splits):
    torch.manual_seed(0)
    model = build_model("dilated-small", in_channels=3, classes=4)
    s = Segmenter(model, TrainRecipe(epochs=4, batch=4, lr=3e-3, chunk=3), splits.train, splits.val, torch.device("cpu"))
    while not s.done:
        s.train_chunk()
    assert s.history["train_loss"][-1] < 0.6 * s.history["train_loss"][0]
    assert 0 <= s.history["val_miou"][-1] <= 1 and s.confusion(splits.val).sum() == 4 * 64 * 64
