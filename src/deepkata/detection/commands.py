"""The detection topic's task command, ``deepkata coco-eval``.

Only the command-line surface lives here; the evaluation is :mod:`deepkata.detection.coco`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer


def coco_eval(
    ground_truth: Annotated[Path, typer.Argument(metavar="GT.json", help="COCO ground truth: images, annotations (bbox, area, iscrowd), categories.")],
    detections: Annotated[Path, typer.Argument(metavar="DETS.json", help="COCO results: a list of image_id, category_id, bbox [x, y, w, h], score.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON object: stats (the 12 numbers, in pycocotools' order), their names, and AP per category.")] = False,
) -> None:
    """Score box detections as COCO does (AP@[.5:.95], AP50, AP75, by size, AR at 1/10/100): pycocotools' numbers, faster."""
    from deepkata.detection.coco import STAT_NAMES, evaluate, read_detections, read_ground_truth

    gt = read_ground_truth(ground_truth)
    dt = read_detections(detections, gt)
    ev = evaluate(gt, dt)
    if as_json:
        per_category = {name or str(cid): ap for name, (cid, ap) in zip(gt.category_names, ev.per_category_ap().items(), strict=True)}
        stats = [float(s) for s in ev.stats]
        # detections: those evaluated (of the ground truth's categories, at most 100 an image and category)
        print(json.dumps({"stats": stats, "names": list(STAT_NAMES), "per_category_ap": per_category, "images": int(gt.image_ids.size), "detections": int(dt.score.size)}))
        return
    print("\n".join(ev.summary_lines()))
