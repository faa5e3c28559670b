"""COCO evaluation: equal to pycocotools' COCOeval (bbox) on randomized sets, by hand on small ones,
and one-line errors for bad files."""

from __future__ import annotations

import contextlib
import copy
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from deepkata.core.errors import UserError
from deepkata.detection.coco import (
    STAT_NAMES,
    box_iou_xywh,
    evaluate,
    evaluate_files,
    random_coco_set,
    read_detections,
    read_ground_truth,
)

pycocotools = pytest.importorskip("pycocotools", reason="pycocotools is the reference (pip install -e '.[test]')")
from pycocotools import mask as mask_utils  # noqa: E402
from pycocotools.coco import COCO  # noqa: E402
from pycocotools.cocoeval import COCOeval  # noqa: E402


def reference(gt: dict[str, Any], dets: list[dict[str, Any]]) -> tuple[COCOeval, str]:
    """pycocotools' evaluation, and what its summarize() printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        coco = COCO()
        coco.dataset = copy.deepcopy(gt)
        coco.createIndex()
        e = COCOeval(coco, coco.loadRes(copy.deepcopy(dets)), "bbox")
        e.evaluate()
        e.accumulate()
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        e.summarize()
    return e, printed.getvalue()


SETS = {
    "noisy": dict(jitter=0.1),
    "tight": dict(jitter=0.02, per_image=20),  # most copies match: high AP, the upper recall levels
    "crowds": dict(crowd=0.4, jitter=0.05),
    "over 100 an image": dict(per_image=150, images=12, categories=2),
    "distinct scores": dict(score_levels=None, jitter=0.05),
    "one category": dict(categories=1, jitter=0.05),
}


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("kind", SETS)
def test_every_number_equals_pycocotools(kind, seed):
    gt, dets = random_coco_set(seed, **{"images": 25, "per_image": 30, **SETS[kind]})
    ref, printed = reference(gt, dets)
    ours = evaluate_files(gt, dets)
    # the same arithmetic, operation for operation: equal to the last bit, so 1e-12 is generous
    np.testing.assert_allclose(ours.stats, ref.stats, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(ours.precision, ref.eval["precision"])
    np.testing.assert_array_equal(ours.recall, ref.eval["recall"])
    assert "\n".join(ours.summary_lines()) + "\n" == printed
    assert (ours.stats[:3] > 0).all()  # not a vacuous comparison of -1s and 0s


def test_the_random_sets_hold_what_the_comparison_needs():
    gt, dets = random_coco_set(0, images=25, per_image=150, categories=2)
    per = {}
    for d in dets:
        per[(d["image_id"], d["category_id"])] = per.get((d["image_id"], d["category_id"]), 0) + 1
    assert max(per.values()) > 100  # more than 100 detections of one category in an image
    scores = [d["score"] for d in dets]
    assert len(set(scores)) < len(scores) / 10  # many ties in score
    imgs = {a["image_id"] for a in gt["annotations"]}
    assert len(imgs) < len(gt["images"])  # images without ground truth
    assert any(a["iscrowd"] for a in gt["annotations"])
    areas = np.array([a["area"] for a in gt["annotations"]])
    assert (areas < 32**2).any() and ((areas > 32**2) & (areas < 96**2)).any() and (areas > 96**2).any()
    assert any(d["category_id"] == 999 for d in dets)  # a category the ground truth lacks


def test_box_iou_is_pycocotools_including_crowds():
    rng = np.random.default_rng(3)
    d = np.round(rng.uniform(0, 50, size=(40, 4)), 1)
    g = np.round(rng.uniform(0, 50, size=(30, 4)), 1)
    crowd = rng.random(30) < 0.3
    ref = mask_utils.iou(d.tolist(), g.tolist(), crowd.astype(np.uint8).tolist())  # (40, 30)
    di, gi = np.meshgrid(np.arange(40), np.arange(30), indexing="ij")
    ours = box_iou_xywh(d[di.ravel()], g[gi.ravel()], crowd[gi.ravel()]).reshape(40, 30)
    np.testing.assert_array_equal(ours, ref)
    assert (ours > 0).mean() > 0.3


def one_image(dets: list[tuple[list[float], float]], boxes: list[list[float]], crowd: tuple[int, ...] = ()) -> tuple[dict, list]:
    gt = {
        "images": [{"id": 1}],
        "categories": [{"id": 1, "name": "thing"}],
        "annotations": [
            {"id": i + 1, "image_id": 1, "category_id": 1, "bbox": b, "area": b[2] * b[3], "iscrowd": int(i in crowd)} for i, b in enumerate(boxes)
        ],
    }
    return gt, [{"image_id": 1, "category_id": 1, "bbox": b, "score": s} for b, s in dets]


def test_perfect_detections_score_one_and_absent_areas_minus_one():
    boxes = [[0, 0, 50, 50], [100, 100, 40, 40]]  # area 2500 and 1600: medium
    gt, dets = one_image([(b, 0.9) for b in boxes], boxes)
    stats = dict(zip(STAT_NAMES, evaluate_files(gt, dets).stats, strict=True))
    assert stats["AP"] == stats["AP50"] == stats["APm"] == stats["AR100"] == 1.0
    assert stats["AR1"] == 0.5  # one detection an image finds one of two
    assert stats["APs"] == stats["APl"] == stats["ARs"] == -1.0  # no ground truth of that size


def test_a_hand_computed_precision_recall_curve():
    # two ground truths; detections by score: a hit (IoU 1), a miss, a hit at IoU 0.62 (t = .5, .55, .6)
    gt, dets = one_image(
        [([0, 0, 10, 10], 0.9), ([200, 200, 10, 10], 0.8), ([100, 100, 10, 6.2], 0.7)],
        [[0, 0, 10, 10], [100, 100, 10, 10]],
    )
    ev = evaluate_files(gt, dets)
    # precision = TP / (TP + FP + eps), eps = np.spacing(1), as COCOeval
    one, two_thirds = 1 / (1 + np.spacing(1)), 2 / (3 + np.spacing(1))
    # at t = 0.5: precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1; enveloped: 1 up to recall 0.5, 2/3 above
    q = ev.precision[0, :, 0, 0, 2]
    assert (q[:51] == one).all() and (q[51:] == two_thirds).all()
    # from t = 0.65 up the second hit is a miss: precision 1 up to recall 0.5, nothing beyond
    assert (ev.precision[3, :51, 0, 0, 2] == one).all() and (ev.precision[3, 51:, 0, 0, 2] == 0).all()
    ap_05 = (51 * one + 50 * two_thirds) / 101
    ap_high = 51 * one / 101
    assert ev.stats[1] == pytest.approx(ap_05, abs=1e-12)
    assert ev.stats[0] == pytest.approx((3 * ap_05 + 7 * ap_high) / 10, abs=1e-12)  # t = .5, .55, .6 | .65 ... .95
    ref, _ = reference(gt, dets)
    np.testing.assert_array_equal(ev.stats, ref.stats)


def test_a_crowd_absorbs_detections_without_counting():
    # a crowd region: detections inside it are neither hits nor misses, however many
    gt, dets = one_image([([0, 0, 10, 10], 0.9), ([1, 1, 9, 9], 0.8), ([50, 50, 10, 10], 0.95)], [[50, 50, 10, 10], [0, 0, 30, 30]], crowd=(1,))
    ev = evaluate_files(gt, dets)
    # the one real ground truth found first (precision 1 / (1 + eps)), the crowd's two detections ignored
    assert ev.stats[0] == 1 / (1 + np.spacing(1)) and ev.stats[8] == 1.0
    ref, _ = reference(gt, dets)
    np.testing.assert_array_equal(ev.stats, ref.stats)


def test_no_detections_score_zero_where_pycocotools_cannot_load_them():
    gt, _ = one_image([], [[0, 0, 10, 10]])
    stats = evaluate_files(gt, []).stats
    assert stats[0] == 0 and stats[8] == 0 and stats[3] == 0  # small: a 10 x 10 box
    with pytest.raises(IndexError), contextlib.redirect_stdout(io.StringIO()):
        reference(gt, [])  # pycocotools' loadRes reads the first result


def test_vectorized_over_images_equals_one_image_at_a_time():
    gt, dets = random_coco_set(5, images=8, per_image=30, jitter=0.05)
    whole = evaluate_files(gt, dets)
    g = read_ground_truth(gt)
    d = read_detections(dets, g)
    assert np.array_equal(evaluate(g, d).precision, whole.precision)
    # precision and recall of the whole set from pycocotools' per-image matches: our recall equals theirs
    ref, _ = reference(gt, dets)
    for image in gt["images"][:3]:
        sub_gt = {**gt, "images": [image], "annotations": [a for a in gt["annotations"] if a["image_id"] == image["id"]]}
        sub_dets = [x for x in dets if x["image_id"] == image["id"]]
        if sub_dets:
            np.testing.assert_array_equal(evaluate_files(sub_gt, sub_dets).stats, reference(sub_gt, sub_dets)[0].stats)


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    gt, dets = random_coco_set(2, images=6, per_image=10)
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "dets.json").write_text(json.dumps(dets))
    return tmp_path / "gt.json", tmp_path / "dets.json"


def test_bad_files_are_one_line_errors_naming_the_place(files, tmp_path):
    gt_path, dt_path = files
    gt = json.loads(gt_path.read_text())
    dets = json.loads(dt_path.read_text())
    broken = tmp_path / "broken.json"
    broken.write_text('{"images": [\n  {"id": 1},\n  oops\n]}')
    cases = {
        "line 3: not JSON": (broken, dt_path),
        "no such file": (tmp_path / "none.json", dt_path),
    }
    for expected, (g, d) in cases.items():
        with pytest.raises(UserError, match=expected):
            evaluate_files(g, d)
    bad = [dict(x) for x in dets]
    bad[3] = {**bad[3], "image_id": 10_000}
    with pytest.raises(UserError, match=r"detections\[3\]\.image_id: 10000 is not an image id of the ground truth"):
        evaluate_files(gt, bad)
    bad = [dict(x) for x in dets]
    bad[2] = {**bad[2], "bbox": [1, 2, -3, 4]}
    with pytest.raises(UserError, match=r"detections\[2\]\.bbox: negative width -3"):
        evaluate_files(gt, bad)
    bad = [dict(x) for x in dets]
    bad[1] = {**bad[1], "bbox": [1, 2, 3]}
    with pytest.raises(UserError, match=r"detections\[1\]\.bbox: expected 4 finite numbers, got \[1, 2, 3\]"):
        evaluate_files(gt, bad)
    bad = [dict(x) for x in dets]
    del bad[0]["score"]
    with pytest.raises(UserError, match=r"detections\[0\]: no 'score'"):
        evaluate_files(gt, bad)
    g2 = copy.deepcopy(gt)
    g2["annotations"][4]["bbox"][3] = -1
    with pytest.raises(UserError, match=r"annotations\[4\]\.bbox: negative height -1"):
        evaluate_files(g2, dets)
    g2 = copy.deepcopy(gt)
    g2["annotations"][0]["image_id"] = 77_777
    with pytest.raises(UserError, match=r"annotations\[0\]\.image_id: 77777 is not an image id of its images"):
        evaluate_files(g2, dets)
    with pytest.raises(UserError, match="expected a list of detections"):
        evaluate_files(gt, {"annotations": []})
    with pytest.raises(UserError, match="images: expected a list"):
        evaluate_files({"annotations": []}, dets)
