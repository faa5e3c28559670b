"""COCO-style evaluation of box detections, vectorized, equal to pycocotools' ``COCOeval`` (bbox).

COCO scores a detector by average precision (AP) at ten IoU thresholds t = 0.50, 0.55, .., 0.95
and averages them: AP@[.5:.95], the "mAP" of the COCO leaderboards (Lin et al., "Microsoft COCO",
2014; cocodataset.org/#detection-eval). For each category k, area range a (all, small < 32²,
medium 32²..96², large > 96² pixels) and cap m on the detections per image (1, 10, 100):

1. **Matching**, per image: the image's detections of k, by decreasing score, each take the
   unmatched ground truth of k with the highest IoU ≥ t. Ground truths that are crowds
   (``iscrowd``) or outside the area range are *ignored*: a detection matched to one is neither
   a true nor a false positive; a crowd can take any number of detections, and its IoU divides
   by the detection's area alone. A detection prefers a ground truth that is not ignored.
   Unmatched detections outside the area range are ignored too.
2. **Precision and recall**: all images' detections of k by decreasing score; after the first n,
   recall = TP_n / G and precision = TP_n / (TP_n + FP_n), G the ground truths not ignored.
3. **Interpolated precision** at the 101 recall levels r = 0, 0.01, .., 1: the highest precision
   at any recall ≥ r (0 where recall never reaches r). AP is their mean, and AR the final recall.
4. **Summary**: the 12 numbers, each a mean over the categories (and thresholds) that have
   ground truth: AP, AP50, AP75, AP small/medium/large (100 detections); AR at 1, 10, 100
   detections; AR small/medium/large.

pycocotools (2.0.x) does step 1 per (image, category) in Python loops. Here every step is array
arithmetic over all images at once; only the ranks of step 1 are a loop (a detection's match
depends on those above it in its image), at most 100 passes, each over every image's detection of
that rank at once and over all thresholds and area ranges together. pycocotools' arithmetic is kept
operation for operation (its box IoU, the ``np.spacing(1)`` in the precision, the stable sorts that
order equal scores, the means of the summary), so the 12 numbers agree to the last bit on the
tests' random sets; its quirks are kept too, and named where they are.

Shapes: I images, K categories, G ground truths, D detections, T thresholds, R recall levels,
A area ranges, M detection caps.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deepkata.core.errors import UserError

# COCOeval's Params for bbox
IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)  # (T,) = 10
RECALL_LEVELS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)  # (R,) = 101
MAX_DETECTIONS = (1, 10, 100)
AREA_RANGES = ((0**2, 1e5**2), (0**2, 32**2), (32**2, 96**2), (96**2, 1e5**2))
AREA_LABELS = ("all", "small", "medium", "large")

# the summary: (AP?, IoU threshold or None, area, max detections), in pycocotools' order
SUMMARY = (
    (True, None, "all", 100),
    (True, 0.5, "all", 100),
    (True, 0.75, "all", 100),
    (True, None, "small", 100),
    (True, None, "medium", 100),
    (True, None, "large", 100),
    (False, None, "all", 1),
    (False, None, "all", 10),
    (False, None, "all", 100),
    (False, None, "small", 100),
    (False, None, "medium", 100),
    (False, None, "large", 100),
)
STAT_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")


@dataclass(frozen=True)
class GroundTruth:
    """A COCO ground-truth file as arrays. Annotations keep the file's order."""

    image_ids: np.ndarray  # (I,) int64, sorted
    category_ids: np.ndarray  # (K,) int64, sorted
    category_names: tuple[str, ...]
    ann_ids: np.ndarray  # (G,) int64
    image: np.ndarray  # (G,) index into image_ids
    category: np.ndarray  # (G,) index into category_ids
    bbox: np.ndarray  # (G, 4) float64, x, y, w, h
    area: np.ndarray  # (G,) float64, the annotation's "area" (the mask's, for COCO)
    iscrowd: np.ndarray  # (G,) bool


@dataclass(frozen=True)
class Detections:
    """Detections (COCO's results format) as arrays, in the file's order; only categories of the ground truth."""

    image: np.ndarray  # (D,) index into the ground truth's image_ids
    category: np.ndarray  # (D,) index into its category_ids
    bbox: np.ndarray  # (D, 4) float64, x, y, w, h
    score: np.ndarray  # (D,) float64

    @property
    def area(self) -> np.ndarray:
        # pycocotools' loadRes: a box result's area is w h
        return self.bbox[:, 2] * self.bbox[:, 3]


@dataclass(frozen=True)
class Evaluation:
    """COCOeval's ``eval``: precision (T, R, K, A, M) and recall (T, K, A, M), -1 where a category
    has no ground truth that counts; and the 12 summary numbers."""

    precision: np.ndarray
    recall: np.ndarray
    category_ids: np.ndarray

    @property
    def stats(self) -> np.ndarray:
        """The 12 numbers of ``COCOeval.summarize()``, in its order (:data:`STAT_NAMES`); -1 where none counts."""
        return np.array([self._summarize(*row) for row in SUMMARY])

    def _summarize(self, ap: bool, iou: float | None, area: str, max_dets: int) -> float:
        # pycocotools' _summarize, operation for operation (the same selection, so the same mean)
        aind = [i for i, label in enumerate(AREA_LABELS) if label == area]
        mind = [i for i, m in enumerate(MAX_DETECTIONS) if m == max_dets]
        s = self.precision if ap else self.recall
        if iou is not None:
            s = s[np.where(iou == IOU_THRESHOLDS)[0]]
        s = s[:, :, :, aind, mind] if ap else s[:, :, aind, mind]
        return -1.0 if len(s[s > -1]) == 0 else float(np.mean(s[s > -1]))

    def summary_lines(self) -> list[str]:
        """The summary as pycocotools prints it, one line per number."""
        lines = []
        for (ap, iou, area, max_dets), value in zip(SUMMARY, self.stats, strict=True):
            title, kind = ("Average Precision", "(AP)") if ap else ("Average Recall", "(AR)")
            iou_text = f"{IOU_THRESHOLDS[0]:0.2f}:{IOU_THRESHOLDS[-1]:0.2f}" if iou is None else f"{iou:0.2f}"
            lines.append(f" {title:<18} {kind} @[ IoU={iou_text:<9} | area={area:>6s} | maxDets={max_dets:>3d} ] = {value:0.3f}")
        return lines

    def per_category_ap(self) -> dict[int, float]:
        """AP@[.5:.95] of each category (all areas, 100 detections); -1 for a category without ground truth."""
        s = self.precision[:, :, :, 0, -1]  # (T, R, K)
        return {int(c): (float(np.mean(s[:, :, k][s[:, :, k] > -1])) if (s[:, :, k] > -1).any() else -1.0) for k, c in enumerate(self.category_ids)}


# ---------------------------------------------------------------------------------------------
# reading the JSON formats


def _load(source: str | Path | Any, what: str) -> tuple[Any, str]:
    """The parsed JSON of ``source`` (a path, or what json.load gave) and the name to quote in errors."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        try:
            with open(path, encoding="utf-8") as f:
                return json.load(f), str(path)
        except FileNotFoundError:
            raise UserError(f"{path}: no such file (expected {what})") from None
        except json.JSONDecodeError as e:
            raise UserError(f"{path}: line {e.lineno}: not JSON ({e.msg})") from None
        except UnicodeDecodeError:
            raise UserError(f"{path}: not UTF-8 text (expected {what})") from None
    return source, what


def _numbers(rows: list[Any], name: str, where: str, field: str, width: int | None) -> np.ndarray:
    """``rows`` as a float64 array ((n,) or (n, width)); a one-line error naming the first bad row."""
    if not rows:
        return np.zeros((0,) if width is None else (0, width))
    try:
        out = np.asarray(rows, dtype=np.float64)
        if out.shape == ((len(rows),) if width is None else (len(rows), width)) and np.isfinite(out).all():
            return out
    except (TypeError, ValueError):
        pass
    for i, row in enumerate(rows):  # the slow path only finds the row to name
        ok = isinstance(row, (int, float)) and not isinstance(row, bool) if width is None else (
            isinstance(row, list) and len(row) == width and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in row)
        )
        if not ok or not np.isfinite(np.asarray(row, dtype=np.float64)).all():
            expected = "a finite number" if width is None else f"{width} finite numbers"
            raise UserError(f"{where}: {name}[{i}].{field}: expected {expected}, got {json.dumps(row)[:60]}")
    raise UserError(f"{where}: {name}: bad {field} values")  # pragma: no cover - the loop names the row


def _field(items: list[Any], name: str, where: str, field: str, default: Any = None) -> list[Any]:
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise UserError(f"{where}: {name}[{i}]: expected an object, got {json.dumps(item)[:60]}")
        if field not in item:
            if default is None:
                raise UserError(f"{where}: {name}[{i}]: no {field!r}")
            out.append(default)
        else:
            out.append(item[field])
    return out


def _ids(values: list[Any], name: str, where: str, field: str) -> np.ndarray:
    for i, v in enumerate(values):
        if not isinstance(v, int) or isinstance(v, bool):
            raise UserError(f"{where}: {name}[{i}].{field}: expected an integer id, got {json.dumps(v)[:60]}")
    return np.asarray(values, dtype=np.int64).reshape(len(values))


def _boxes(items: list[Any], name: str, where: str) -> np.ndarray:
    bbox = _numbers(_field(items, name, where, "bbox"), name, where, "bbox", 4)  # (n, 4)
    bad = np.flatnonzero((bbox[:, 2] < 0) | (bbox[:, 3] < 0))
    if bad.size:
        i = int(bad[0])
        side = "width" if bbox[i, 2] < 0 else "height"
        raise UserError(f"{where}: {name}[{i}].bbox: negative {side} {bbox[i, 2 if side == 'width' else 3]:g} (expected x, y, width, height)")
    return bbox


def read_ground_truth(source: str | Path | Mapping[str, Any]) -> GroundTruth:
    """A COCO ground-truth JSON (a path, or the parsed object) with "images", "annotations" (``bbox``,
    ``area``, ``category_id``, ``image_id``, ``id``, ``iscrowd`` default 0) and "categories"."""
    data, where = _load(source, "COCO ground truth: images, annotations, categories")
    if not isinstance(data, dict):
        raise UserError(f"{where}: expected a COCO ground-truth object with images, annotations and categories")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise UserError(f"{where}: {key}: expected a list")
    images, anns, cats = data["images"], data["annotations"], data["categories"]
    image_ids = _ids(_field(images, "images", where, "id"), "images", where, "id")
    category_ids = _ids(_field(cats, "categories", where, "id"), "categories", where, "id")
    names = [str(n) for n in _field(cats, "categories", where, "name", default="")]
    for what, ids in (("images", image_ids), ("categories", category_ids)):
        if np.unique(ids).size != ids.size:
            raise UserError(f"{where}: {what}: id {int(_first_duplicate(ids))} appears twice")
    image_order = np.argsort(image_ids, kind="stable")
    category_order = np.argsort(category_ids, kind="stable")
    image_ids, category_ids = image_ids[image_order], category_ids[category_order]
    names = [names[i] for i in category_order]

    ann_ids = _ids(_field(anns, "annotations", where, "id"), "annotations", where, "id")
    ann_image = _ids(_field(anns, "annotations", where, "image_id"), "annotations", where, "image_id")
    ann_category = _ids(_field(anns, "annotations", where, "category_id"), "annotations", where, "category_id")
    image = _index(ann_image, image_ids, where, "annotations", "image_id", "an image id of its images")
    category = _index(ann_category, category_ids, where, "annotations", "category_id", "a category id of its categories")
    bbox = _boxes(anns, "annotations", where)
    area = _numbers(_field(anns, "annotations", where, "area"), "annotations", where, "area", None)
    crowd = _field(anns, "annotations", where, "iscrowd", default=0)
    for i, c in enumerate(crowd):
        if c not in (0, 1):  # True and False are 1 and 0
            raise UserError(f"{where}: annotations[{i}].iscrowd: expected 0 or 1, got {json.dumps(c)[:60]}")
    return GroundTruth(
        image_ids=image_ids,
        category_ids=category_ids,
        category_names=tuple(names),
        ann_ids=ann_ids,
        image=image,
        category=category,
        bbox=bbox,
        area=area,
        iscrowd=np.asarray(crowd, dtype=bool).reshape(len(anns)),
    )


def read_detections(source: str | Path | Sequence[Any], gt: GroundTruth) -> Detections:
    """COCO results JSON (a path, or the parsed list): objects with ``image_id``, ``category_id``,
    ``bbox`` and ``score``. Every image must be one of ``gt``'s (pycocotools asserts it);
    detections of categories the ground truth lacks are left out, as pycocotools does."""
    data, where = _load(source, "COCO detections: a list of image_id, category_id, bbox, score")
    if not isinstance(data, list):
        raise UserError(f"{where}: expected a list of detections (COCO's results format), got {type(data).__name__}")
    images = _ids(_field(data, "detections", where, "image_id"), "detections", where, "image_id")
    categories = _ids(_field(data, "detections", where, "category_id"), "detections", where, "category_id")
    image = _index(images, gt.image_ids, where, "detections", "image_id", "an image id of the ground truth")
    bbox = _boxes(data, "detections", where)
    score = _numbers(_field(data, "detections", where, "score"), "detections", where, "score", None)
    position = np.searchsorted(gt.category_ids, categories)
    position = np.minimum(position, max(gt.category_ids.size - 1, 0))
    known = gt.category_ids.size > 0 and (gt.category_ids[position] == categories)
    known = np.asarray(known, dtype=bool) & np.ones(len(data), dtype=bool)
    return Detections(image=image[known], category=position[known], bbox=bbox[known], score=score[known])


def _first_duplicate(ids: np.ndarray) -> int:
    values, counts = np.unique(ids, return_counts=True)
    return int(values[counts > 1][0])


def _index(values: np.ndarray, sorted_ids: np.ndarray, where: str, name: str, field: str, expected: str) -> np.ndarray:
    """The position of each of ``values`` in ``sorted_ids``; a one-line error for the first one absent."""
    position = np.searchsorted(sorted_ids, values)
    found = position < sorted_ids.size
    found[found] = sorted_ids[position[found]] == values[found]
    if not found.all():
        i = int(np.flatnonzero(~found)[0])
        raise UserError(f"{where}: {name}[{i}].{field}: {int(values[i])} is not {expected}")
    return position


# ---------------------------------------------------------------------------------------------
# evaluation


def box_iou_xywh(d: np.ndarray, g: np.ndarray, crowd: np.ndarray) -> np.ndarray:
    """pycocotools' box IoU (maskApi.c ``bbIou``) of pairs d[i], g[i] of x, y, w, h boxes; (P, 4), (P, 4), (P,) -> (P,).

    For a crowd ground truth the union is the detection's area alone.
    """
    # the C code's order of operations, so the values agree to the last bit
    w = np.minimum(d[:, 2] + d[:, 0], g[:, 2] + g[:, 0]) - np.maximum(d[:, 0], g[:, 0])
    h = np.minimum(d[:, 3] + d[:, 1], g[:, 3] + g[:, 1]) - np.maximum(d[:, 1], g[:, 1])
    inter = w * h
    da, ga = d[:, 2] * d[:, 3], g[:, 2] * g[:, 3]
    union = np.where(crowd, da, da + ga - inter)
    overlap = (w > 0) & (h > 0)
    out = np.zeros(len(d))
    np.divide(inter, union, out=out, where=overlap)
    return out


def _group_starts(keys: np.ndarray) -> np.ndarray:
    """For sorted ``keys`` (n,): the index where each element's run of equal keys starts; (n,)."""
    if keys.size == 0:
        return np.zeros(0, dtype=np.int64)
    new = np.r_[True, keys[1:] != keys[:-1]]
    return np.maximum.accumulate(np.where(new, np.arange(keys.size), 0))


def evaluate(gt: GroundTruth, dt: Detections) -> Evaluation:
    """COCOeval (bbox) of ``dt`` against ``gt``: ``evaluate()`` and ``accumulate()`` at once."""
    T, R, K, A, M = IOU_THRESHOLDS.size, RECALL_LEVELS.size, gt.category_ids.size, len(AREA_RANGES), len(MAX_DETECTIONS)
    max_det = MAX_DETECTIONS[-1]

    # ground truths by (image, category), the file's order within each: pycocotools' _gts lists
    g_key = gt.image * K + gt.category  # (G,)
    g_order = np.lexsort((np.arange(g_key.size), g_key))
    g_key, g_box, g_area, g_crowd, g_id = g_key[g_order], gt.bbox[g_order], gt.area[g_order], gt.iscrowd[g_order], gt.ann_ids[g_order]
    g_cat = gt.category[g_order]
    lo, hi = np.array(AREA_RANGES).T  # (A,)
    # ignored: a crowd, or outside the area range (its annotated area); (A, G)
    g_ignore = g_crowd[None, :] | (g_area[None, :] < lo[:, None]) | (g_area[None, :] > hi[:, None])

    # detections by (image, category), then decreasing score, equal scores in the file's order
    d_key = dt.image * K + dt.category
    d_order = np.lexsort((np.arange(d_key.size), -dt.score, d_key))
    d_key, d_box, d_score, d_area = d_key[d_order], dt.bbox[d_order], dt.score[d_order], dt.area[d_order]
    d_rank = np.arange(d_key.size) - _group_starts(d_key)  # rank within its image and category
    keep = d_rank < max_det  # pycocotools keeps the top 100 of each image and category
    d_key, d_box, d_score, d_area, d_rank = d_key[keep], d_box[keep], d_score[keep], d_area[keep], d_rank[keep]
    D = d_key.size

    # every (detection, ground truth) pair of one image and category, and its IoU
    first = np.searchsorted(g_key, d_key, side="left")  # (D,)
    count = np.searchsorted(g_key, d_key, side="right") - first
    pair_d = np.repeat(np.arange(D), count)  # (P,)
    pair_g = np.repeat(first, count) + (np.arange(pair_d.size) - np.repeat(np.cumsum(count) - count, count))
    iou = box_iou_xywh(d_box[pair_d], g_box[pair_g], g_crowd[pair_g])  # (P,)

    # 1. matching. Only pairs with IoU >= the lowest threshold can match; by rank, then detection,
    # then the ground truth's place in the file
    candidate = iou >= min(IOU_THRESHOLDS[0], 1 - 1e-10)
    pair_d, pair_g, iou = pair_d[candidate], pair_g[candidate], iou[candidate]
    order = np.lexsort((pair_g, pair_d, d_rank[pair_d]))
    pair_d, pair_g, iou = pair_d[order], pair_g[order], iou[order]
    thresholds = np.minimum(IOU_THRESHOLDS, 1 - 1e-10)  # COCOeval's iou = min(t, 1 - 1e-10)
    taken = np.zeros((g_key.size, T, A), dtype=bool)  # a ground truth matched (crowds stay free)
    match = np.full((D, T, A), -1, dtype=np.int64)  # the matched ground truth (sorted order), -1: none
    pair_rank = d_rank[pair_d]
    bounds = np.searchsorted(pair_rank, np.arange(max_det + 1))
    for r in range(max_det):  # one pass per rank: every image's r-th detection of each category at once
        s, e = bounds[r], bounds[r + 1]
        if s == e:
            continue
        pd, pg, piou = pair_d[s:e], pair_g[s:e], iou[s:e]  # (p,)
        free = g_crowd[pg][:, None, None] | ~taken[pg]  # (p, T, A)
        valid = free & (piou[:, None, None] >= thresholds[None, :, None])
        # COCOeval scans the ground truths not ignored first, then the ignored ones, replacing its pick
        # on IoU >= the best so far: so a ground truth not ignored if any is valid, then the highest
        # IoU, and of equal IoUs the later in the file
        starts = np.flatnonzero(np.r_[True, pd[1:] != pd[:-1]])  # each detection's run of pairs
        run = np.repeat(np.arange(starts.size), np.diff(np.r_[starts, pd.size]))  # (p,)
        counts = ~g_ignore.T[pg][:, None, :]  # (p, 1, A): not ignored
        any_counted = np.logical_or.reduceat(valid & counts, starts, axis=0)  # (n, T, A)
        eligible = valid & (counts == any_counted[run])
        key = np.where(eligible, piou[:, None, None], -np.inf)  # (p, T, A)
        best = np.maximum.reduceat(key, starts, axis=0)  # (n, T, A)
        is_best = eligible & (key == best[run])
        pick = np.maximum.reduceat(np.where(is_best, np.arange(pd.size)[:, None, None], -1), starts, axis=0)  # (n, T, A)
        dets = pd[starts]
        picked = pick >= 0
        n_i, t_i, a_i = np.nonzero(picked)
        chosen = pg[pick[n_i, t_i, a_i]]
        match[dets[n_i], t_i, a_i] = chosen
        taken[chosen, t_i, a_i] = True

    has_match = match >= 0
    matched_gt = np.where(has_match, match, 0)
    # dtIg: matched to an ignored ground truth
    d_ignore = has_match & g_ignore[np.arange(A)[None, None, :], matched_gt]  # (D, T, A)
    # dtMatches holds the ground truth's id, and COCOeval tests it for 0: a ground truth of id 0
    # counts as no match (a pycocotools quirk, kept; ids start at 1 in COCO files)
    d_matched = has_match & (g_id[matched_gt] != 0)
    # unmatched detections outside the area range are ignored
    d_outside = (d_area[:, None] < lo[None, :]) | (d_area[:, None] > hi[None, :])  # (D, A)
    d_ignore |= ~d_matched & d_outside[:, None, :]

    # 2-3. per category: every image's detections by decreasing score; equal scores by image,
    # then rank (COCOeval concatenates its images in order and sorts with a stable sort)
    d_image, d_cat = d_key // K, d_key % K
    order = np.lexsort((d_rank, d_image, -d_score, d_cat))
    cat_bounds = np.searchsorted(d_cat[order], np.arange(K + 1))
    # images where a category has ground truth or detections (COCOeval's E): its categories present
    present = np.zeros(K, dtype=bool)
    present[g_cat] = True
    present[d_cat] = True
    counted = np.zeros((K, A), dtype=np.int64)  # ground truths not ignored (npig)
    np.add.at(counted, (g_cat[:, None], np.arange(A)[None, :]), ~g_ignore.T)

    precision = -np.ones((T, R, K, A, M))
    recall = -np.ones((T, K, A, M))
    for k in range(K):
        if not present[k]:
            continue
        idx = order[cat_bounds[k] : cat_bounds[k + 1]]
        for m, cap in enumerate(MAX_DETECTIONS):
            sel = idx[d_rank[idx] < cap]
            for a in range(A):
                npig = counted[k, a]
                if npig == 0:
                    continue
                ignore = d_ignore[sel, :, a].T  # (T, n)
                matched = d_matched[sel, :, a].T
                tp = np.cumsum(matched & ~ignore, axis=1).astype(dtype=float)
                fp = np.cumsum(~matched & ~ignore, axis=1).astype(dtype=float)
                nd = sel.size
                rc = tp / npig
                pr = tp / (fp + tp + np.spacing(1))
                recall[:, k, a, m] = rc[:, -1] if nd else 0
                # the precision envelope: the highest precision at this recall or beyond
                pr = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]
                for t in range(T):
                    inds = np.searchsorted(rc[t], RECALL_LEVELS, side="left")  # (R,)
                    reached = inds < nd
                    q = np.zeros(R)
                    q[reached] = pr[t, inds[reached]]
                    precision[t, :, k, a, m] = q
    return Evaluation(precision=precision, recall=recall, category_ids=gt.category_ids)


def evaluate_files(gt_source: str | Path | Mapping[str, Any], dt_source: str | Path | Sequence[Any]) -> Evaluation:
    """:func:`evaluate` of a detections file against a ground-truth file (paths or parsed JSON)."""
    gt = read_ground_truth(gt_source)
    return evaluate(gt, read_detections(dt_source, gt))


def random_coco_set(
    seed: int,
    images: int = 50,
    per_image: int = 100,
    categories: int = 4,
    crowd: float = 0.05,
    score_levels: int | None = 50,
    jitter: float = 0.1,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A randomized COCO ground truth and detections, for checking an evaluation against pycocotools.

    Ground truth: 0 to 12 boxes an image over sizes from small to large (a 640 x 480 image), some
    crowds, an image in ten without any, and categories in a shuffled order of ids. Detections:
    ``per_image`` an image on average (up to twice that, so some images have more than 100 of a
    category); half of them are copies of the image's ground truths with noise of ``jitter`` box
    sides (some of another category), half are anywhere; scores are rounded to ``score_levels``
    values, so that many are equal; and some are of a category the ground truth does not have.
    """
    rng = np.random.default_rng(seed)
    cat_ids = [int(c) for c in rng.permutation(np.arange(1, 3 * categories + 1))[:categories]]
    gt: dict[str, Any] = {
        "images": [{"id": int(i), "width": 640, "height": 480} for i in rng.permutation(np.arange(1, images + 1))],
        "annotations": [],
        "categories": [{"id": c, "name": f"class{c}"} for c in cat_ids],
    }
    dets: list[dict[str, Any]] = []

    def box() -> list[float]:
        side = np.exp(rng.uniform(np.log(4), np.log(300), size=2))  # small (< 32²) to large (> 96²)
        x, y = rng.uniform(0, 640 - side[0]), rng.uniform(0, 480 - side[1])
        return [round(float(x), 2), round(float(y), 2), round(float(side[0]), 2), round(float(side[1]), 2)]

    for image in range(1, images + 1):
        boxes = [] if rng.random() < 0.1 else [box() for _ in range(rng.integers(0, 13))]
        for b in boxes:
            gt["annotations"].append(
                {
                    "id": len(gt["annotations"]) + 1,
                    "image_id": image,
                    "category_id": int(rng.choice(cat_ids)),
                    "bbox": b,
                    "area": float(b[2] * b[3] * rng.uniform(0.5, 1.0)),  # a mask's area is below its box's
                    "iscrowd": int(rng.random() < crowd),
                }
            )
        own = [a for a in gt["annotations"] if a["image_id"] == image]
        for _ in range(int(rng.integers(0, 2 * per_image + 1))):
            if own and rng.random() < 0.5:
                a = own[rng.integers(len(own))]
                x, y, w, h = a["bbox"]
                noise = rng.normal(0, 1, size=4) * jitter * [w, h, w, h]
                b = [x + noise[0], y + noise[1], max(w + noise[2], 0.5), max(h + noise[3], 0.5)]
                category = a["category_id"] if rng.random() < 0.8 else int(rng.choice(cat_ids))
            else:
                b = box()
                category = int(rng.choice(cat_ids)) if rng.random() < 0.98 else 999  # 999: not a category
            score = rng.random()
            if score_levels:
                score = round(score * score_levels) / score_levels
            dets.append({"image_id": image, "category_id": category, "bbox": [round(float(v), 2) for v in b], "score": float(score)})
    return gt, dets
