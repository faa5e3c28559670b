"""Box operations against brute-force loops and hand-computed cases."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from deepkata.detection.boxes import (
    batched_nms,
    box_area,
    box_iou,
    cxcywh_to_xyxy,
    decode,
    encode,
    generalized_box_iou,
    nms,
    xywh_to_xyxy,
    xyxy_to_cxcywh,
    xyxy_to_xywh,
)


def random_boxes(n: int, seed: int, size: float = 100.0, grid: float | None = None) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g, dtype=torch.float64) * size
    wh = torch.rand(n, 2, generator=g, dtype=torch.float64) * size / 3 + 1
    boxes = torch.cat((xy, xy + wh), dim=1)
    return torch.round(boxes / grid) * grid if grid else boxes


def iou_loop(a: list[float], b: list[float]) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def test_formats_round_trip_and_mean_what_they_say():
    b = torch.tensor([[10.0, 20.0, 40.0, 80.0]])
    assert xyxy_to_xywh(b).tolist() == [[10, 20, 30, 60]]
    assert xyxy_to_cxcywh(b).tolist() == [[25, 50, 30, 60]]
    boxes = random_boxes(20, 0)
    torch.testing.assert_close(xywh_to_xyxy(xyxy_to_xywh(boxes)), boxes, rtol=0, atol=1e-12)
    torch.testing.assert_close(cxcywh_to_xyxy(xyxy_to_cxcywh(boxes)), boxes, rtol=0, atol=1e-12)
    assert box_area(torch.tensor([[0.0, 0, 10, 10], [5, 5, 3, 9]])).tolist() == [100, 0]  # inverted: empty


def test_iou_equals_a_loop_and_is_zero_for_empty_boxes():
    a, b = random_boxes(30, 1), random_boxes(20, 2)
    ours = box_iou(a, b)
    loop = torch.tensor([[iou_loop(x, y) for y in b.tolist()] for x in a.tolist()], dtype=torch.float64)
    torch.testing.assert_close(ours, loop, rtol=0, atol=1e-15)
    assert (ours > 0).float().mean() > 0.1
    torch.testing.assert_close(box_iou(a, a).diagonal(), torch.ones(30, dtype=torch.float64))
    empty = torch.zeros(1, 4, dtype=torch.float64)
    assert box_iou(empty, empty).item() == 0.0  # not NaN


def test_giou_by_hand_and_its_bounds():
    a = torch.tensor([[0.0, 0, 2, 2]], dtype=torch.float64)
    b = torch.tensor([[3.0, 0, 5, 2], [1, 1, 3, 3], [0, 0, 2, 2]], dtype=torch.float64)
    # disjoint: IoU 0, C = 5 x 2 = 10, union 8 -> -2/10; overlapping 1: IoU 1/7, C = 9 -> 1/7 - 2/9
    torch.testing.assert_close(generalized_box_iou(a, b), torch.tensor([[-0.2, 1 / 7 - 2 / 9, 1.0]], dtype=torch.float64))
    x, y = random_boxes(40, 3), random_boxes(40, 4)
    giou, iou = generalized_box_iou(x, y), box_iou(x, y)
    assert (giou <= iou + 1e-15).all() and (giou >= -1).all() and (giou < 0).any()


def test_encode_then_decode_is_the_identity_and_matches_the_formula():
    anchors, boxes = random_boxes(50, 5), random_boxes(50, 6)
    torch.testing.assert_close(decode(encode(boxes, anchors), anchors), boxes, rtol=0, atol=1e-10)
    t = encode(torch.tensor([[12.0, 10, 32, 50]], dtype=torch.float64), torch.tensor([[0.0, 0, 20, 40]], dtype=torch.float64))
    # centre (22, 30) vs (10, 20), size (20, 40) vs (20, 40): ((12/20)/0.1, (10/40)/0.1, 0, 0)
    torch.testing.assert_close(t, torch.tensor([[6.0, 2.5, 0.0, 0.0]], dtype=torch.float64))


def nms_loop(boxes: list[list[float]], scores: list[float], threshold: float, labels: list[int] | None = None) -> list[int]:
    """Greedy NMS the slow, obvious way: ranked by score, ties in input order."""
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    kept: list[int] = []
    for i in order:
        if all(iou_loop(boxes[i], boxes[k]) <= threshold or (labels is not None and labels[i] != labels[k]) for k in kept):
            kept.append(i)
    return kept


@pytest.mark.parametrize(("seed", "threshold"), list(itertools.product(range(6), (0.3, 0.5, 0.7))))
def test_nms_equals_brute_force_with_ties_in_score(seed, threshold):
    g = torch.Generator().manual_seed(100 + seed)
    # clusters of boxes around 8 centres, on a grid: many overlaps at every threshold, equal IoUs happen
    centres = torch.randint(0, 80, (8, 2), generator=g).repeat(8, 1)[:60].double()
    xy = centres + torch.randint(-4, 5, (60, 2), generator=g)
    boxes = torch.cat((xy, xy + torch.randint(8, 16, (60, 2), generator=g)), dim=1).double()
    scores = torch.randint(0, 8, (60,), generator=g).to(torch.float64)  # many equal scores
    kept = nms(boxes, scores, threshold)
    assert kept.tolist() == nms_loop(boxes.tolist(), scores.tolist(), threshold)
    assert 5 < len(kept) < 60
    survivors = boxes[kept]
    assert (box_iou(survivors, survivors).triu(1) <= threshold).all()
    labels = torch.randint(0, 3, (60,), generator=g)
    assert batched_nms(boxes, scores, labels, threshold).tolist() == nms_loop(boxes.tolist(), scores.tolist(), threshold, labels.tolist())


def test_nms_of_nothing_and_of_float32():
    assert nms(torch.zeros(0, 4), torch.zeros(0), 0.5).numel() == 0
    boxes = random_boxes(30, 9).float()
    scores = torch.rand(30, generator=torch.Generator().manual_seed(0))
    assert nms(boxes, scores, 0.5).tolist() == nms_loop(boxes.double().tolist(), scores.double().tolist(), 0.5)
    assert np.array_equal(nms(boxes, scores, 1.0).numpy(), torch.argsort(scores, descending=True, stable=True).numpy())
