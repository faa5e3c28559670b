"""Precision, recall, VOC AP (11-point and all-point) and mAP on hand-computed tables."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepkata.detection.metrics import average_precision, interpolated_precision, match_voc, mean_average_precision, pr_curve


def test_a_hand_computed_curve_and_both_aps():
    # five detections by score: TP, FP, TP, TP, FP; four ground truths
    curve = pr_curve(np.array([0.9, 0.8, 0.7, 0.6, 0.5]), np.array([1, 0, 1, 1, 0], dtype=bool), 4)
    np.testing.assert_allclose(curve.precision, [1, 1 / 2, 2 / 3, 3 / 4, 3 / 5])
    np.testing.assert_allclose(curve.recall, [0.25, 0.25, 0.5, 0.75, 0.75])
    np.testing.assert_allclose(interpolated_precision(curve), [1, 3 / 4, 3 / 4, 3 / 4, 3 / 5])
    # all-point: 0.25 * 1 + 0.25 * 3/4 + 0.25 * 3/4
    assert average_precision(curve) == pytest.approx(0.625, abs=1e-15)
    # 11-point: r = 0, .1, .2 -> 1; .3 ... .7 -> 3/4; .8, .9, 1 -> 0
    assert average_precision(curve, "11-point") == pytest.approx((3 * 1 + 5 * 0.75) / 11, abs=1e-15)


def test_order_is_by_score_and_ties_keep_their_order():
    a = pr_curve(np.array([0.5, 0.9, 0.5]), np.array([0, 1, 1], dtype=bool), 2)
    np.testing.assert_allclose(a.precision, [1, 1 / 2, 2 / 3])  # 0.9 first, then the tie in given order
    perfect = pr_curve(np.array([3.0, 2, 1]), np.ones(3, dtype=bool), 3)
    assert average_precision(perfect) == average_precision(perfect, "11-point") == 1.0
    assert average_precision(pr_curve(np.array([1.0]), np.zeros(1, dtype=bool), 3)) == 0.0
    with pytest.raises(ValueError, match="'all-point' or '11-point'"):
        average_precision(perfect, "101-point")  # type: ignore[arg-type]


def test_voc_matching_does_not_fall_back_to_the_next_ground_truth():
    gt = torch.tensor([[0.0, 0, 10, 10], [2, 0, 12, 10]])
    # both detections overlap gt 0 best; the second does not take gt 1 instead (COCO's matching would)
    boxes = torch.tensor([[0.0, 0, 10, 10], [1, 0, 11, 10]])
    assert match_voc(boxes, torch.tensor([0.9, 0.8]), gt).tolist() == [True, False]
    assert match_voc(boxes, torch.tensor([0.9, 0.8]), gt, iou_threshold=0.95).tolist() == [True, False]
    assert match_voc(boxes[:0], torch.zeros(0), gt).tolist() == []


def test_map_averages_the_classes_with_ground_truth():
    gt = [(torch.tensor([[0.0, 0, 10, 10], [20, 20, 30, 30]]), torch.tensor([0, 1]))]
    dets = [(torch.tensor([[0.0, 0, 10, 10], [50, 50, 60, 60], [20, 20, 30, 30]]), torch.tensor([0.9, 0.8, 0.7]), torch.tensor([0, 1, 1]))]
    m, per = mean_average_precision(dets, gt, classes=[0, 1, 2])
    # class 0: one hit -> 1; class 1: a miss then a hit -> precision 1/2 at recall 1 -> 0.5; class 2: none
    assert per[0] == 1.0 and per[1] == 0.5 and np.isnan(per[2])
    assert m == 0.75


def test_segmentation_scores_by_hand():
    from deepkata.detection.metrics import segmentation_scores

    # rows: true, columns: predicted; class 2 never appears nor is predicted
    confusion = torch.tensor([[50, 10, 0], [5, 35, 0], [0, 0, 0]])
    s = segmentation_scores(confusion, 3)
    assert s.pixel_accuracy == 85 / 100
    # IoU_0 = 50 / (60 + 55 - 50), IoU_1 = 35 / (40 + 45 - 35)
    assert s.iou[0] == pytest.approx(50 / 65) and s.iou[1] == pytest.approx(35 / 50) and np.isnan(s.iou[2])
    assert s.miou == pytest.approx((50 / 65 + 35 / 50) / 2)
    with pytest.raises(ValueError, match="expected \\(4, 4\\)"):
        segmentation_scores(confusion, 4)
