"""SSD's parts: default boxes (eq. 4), matching, the loss with hard negative mining, decoding."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from deepkata.core.config import ConfigError
from deepkata.detection.boxes import box_iou, encode
from deepkata.detection.ssd import Ssd, SsdConfig, boxes_per_cell, default_boxes, match, multibox_loss, postprocess, scales
from deepkata.models import build_model, get_model

SMALL = SsdConfig(image_size=64, strides=(8, 16, 32, 64), extra_channels=16)


def test_default_boxes_follow_equation_4():
    cfg = SsdConfig()
    s = scales(cfg)
    assert s[0] == pytest.approx(0.1) and s[3] == pytest.approx(0.6)  # s_min, s_max over 4 maps
    boxes = default_boxes(cfg)
    a = boxes_per_cell(cfg)
    assert a == 4 and boxes.shape == ((16 * 16 + 8 * 8 + 4 * 4 + 2 * 2) * a, 4)
    # the first cell of the finest map: centre (4, 4); ratio 1 side 0.1 x 128; ratio 2: w = s sqrt 2, h = s / sqrt 2
    first = boxes[:a].double()
    side = 0.1 * 128
    torch.testing.assert_close(first[0], torch.tensor([4 - side / 2, 4 - side / 2, 4 + side / 2, 4 + side / 2], dtype=torch.float64), atol=1e-5, rtol=0)
    w, h = first[1, 2] - first[1, 0], first[1, 3] - first[1, 1]
    assert float(w / h) == pytest.approx(2.0, rel=1e-5) and float(w * h) == pytest.approx(side**2, rel=1e-5)
    extra = first[3, 2] - first[3, 0]
    assert float(extra) == pytest.approx(128 * math.sqrt(s[0] * s[1]), rel=1e-5)  # sqrt(s_k s_{k+1})
    # the next cell is one stride to the right
    torch.testing.assert_close(boxes[a] - boxes[0], torch.tensor([8.0, 0, 8, 0]))


def test_matching_forces_each_ground_truth_and_thresholds_the_rest():
    anchors = torch.tensor([[0.0, 0, 10, 10], [0, 0, 12, 10], [50, 50, 60, 60], [100, 100, 110, 110]])
    gt = torch.tensor([[0.0, 0, 11, 10], [80, 80, 120, 120]])  # the second overlaps anchor 3 by IoU 1/16 only
    labels, boxes = match(anchors, gt, torch.tensor([2, 3]))
    assert labels.tolist() == [2, 2, 0, 3]  # anchors 0, 1 above 0.5; anchor 3 forced; anchor 2 background
    torch.testing.assert_close(boxes[3], gt[1])
    torch.testing.assert_close(boxes[2], anchors[2])
    empty_labels, _ = match(anchors, torch.zeros(0, 4), torch.zeros(0, dtype=torch.long))
    assert empty_labels.tolist() == [0, 0, 0, 0]


def loss_loop(logits, deltas, anchors, targets, ratio=3):
    """The loss written per image and per box, to check the batched one."""
    conf, loc, positives = 0.0, 0.0, 0
    for b, (gt_boxes, gt_labels) in enumerate(targets):
        labels, boxes = match(anchors, gt_boxes, gt_labels)
        pos = [p for p in range(len(anchors)) if labels[p] > 0]
        positives += len(pos)
        t = encode(boxes, anchors)
        for p in pos:
            loc += float(F.smooth_l1_loss(deltas[b, p], t[p], reduction="sum"))
            conf += float(F.cross_entropy(logits[b, p][None], labels[p][None]))
        background = sorted((float(F.cross_entropy(logits[b, p][None], torch.tensor([0]))), p) for p in range(len(anchors)) if labels[p] == 0)[::-1]
        conf += sum(v for v, _ in background[: ratio * len(pos)])
    return (conf + loc) / max(positives, 1)


def test_loss_with_hard_negative_mining_equals_a_loop():
    torch.manual_seed(0)
    anchors = default_boxes(SMALL)
    P = len(anchors)
    logits, deltas = torch.randn(2, P, 4, dtype=torch.float64), torch.randn(2, P, 4, dtype=torch.float64)
    targets = [(torch.tensor([[5.0, 5, 20, 22], [30, 30, 60, 50]]), torch.tensor([1, 3])), (torch.tensor([[10.0, 40, 25, 60]]), torch.tensor([2]))]
    loss, parts = multibox_loss(logits, deltas, anchors.double(), targets)
    assert float(loss) == pytest.approx(loss_loop(logits, deltas, anchors.double(), targets), rel=1e-10)
    assert parts["positives"] >= 1.5  # every ground truth matched at least once


def test_the_network_predicts_every_default_box_and_decodes():
    torch.manual_seed(0)
    model = Ssd(SMALL).eval()
    logits, deltas = model(torch.randn(2, 3, 64, 64))
    P = len(default_boxes(SMALL))
    assert logits.shape == (2, P, 4) and deltas.shape == (2, P, 4)
    assert [m.shape[-1] for m in model.maps(torch.randn(1, 3, 64, 64))] == [8, 4, 2, 1]
    # the decoder: a confident class on one default box, zero offsets, gives that box back
    logits = torch.full((1, P, 4), -10.0)
    logits[..., 0] = 10.0
    logits[0, 5] = torch.tensor([-10.0, -10, 10, -10])
    (boxes, scores, labels), = postprocess(logits, torch.zeros(1, P, 4), model.anchors)
    assert labels.tolist() == [2] and scores.item() > 0.99
    torch.testing.assert_close(boxes[0], model.anchors[5])


def test_ssd_small_is_in_the_registry_and_checks_its_config():
    assert get_model("ssd-small").topic == "detection"
    model = build_model("ssd-small", classes=3)
    assert model(torch.zeros(1, 3, 128, 128))[0].shape[-1] == 4
    with pytest.raises(ConfigError, match="backbone"):
        SsdConfig(backbone="resnet-small")
    with pytest.raises(ConfigError, match="strides"):
        SsdConfig(strides=(16, 8))
    with pytest.raises(ConfigError, match="not a multiple"):
        SsdConfig(image_size=100)


def test_matched_boxes_overlap_their_ground_truth():
    anchors = default_boxes(SsdConfig())
    gt = torch.tensor([[10.0, 10, 30, 28], [60, 70, 110, 118]])
    labels, boxes = match(anchors, gt, torch.tensor([1, 2]))
    pos = labels > 0
    assert pos.sum() >= 2
    iou = box_iou(anchors[pos], gt).max(dim=1).values
    assert (iou > 0.3).all()
