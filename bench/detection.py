"""Detection: our COCO evaluation against pycocotools and faster-coco-eval, values and times side by side.

One randomized set (``deepkata.detection.coco.random_coco_set``: 5,000 images of 640 x 480, 80
categories, 0 to 12 ground truths an image with crowds and every size, 100 detections an image on
average, half of them near a ground truth, scores with many ties) is written as COCO JSON files and
scored by each evaluator as a user runs it: read the two files, evaluate, accumulate, summarize.
The times are each tool's own, measured one after the other in this process (median of
``--repeats``; pycocotools once, it takes a minute or more); the speed is reported as ratios to
pycocotools from the same run. The 12 numbers of each are compared with pycocotools' (the
reference): the largest absolute difference.

    python bench/detection.py                      # 5,000 images x 100 detections (about 3 minutes)
    python bench/detection.py --smoke --out /tmp/d # every step on 40 images (CI)

Run it alone: anything else on the 2 cores slows some tools more than others.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _shared import add_options, parse

SMOKE = {"images": 40, "repeats": 1}


def time_tool(run: Callable[[], np.ndarray], repeats: int) -> tuple[float, np.ndarray]:
    """The median seconds of ``repeats`` calls of ``run`` and the stats it returned."""
    seconds, stats = [], np.zeros(12)
    for _ in range(repeats):
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):  # pycocotools and its peer print as they go
            stats = run()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), np.asarray(stats, dtype=np.float64)


def ours(gt: Path, dt: Path) -> np.ndarray:
    from deepkata.detection.coco import evaluate_files

    return evaluate_files(gt, dt).stats


def pycocotools(gt: Path, dt: Path) -> np.ndarray:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    coco = COCO(str(gt))
    e = COCOeval(coco, coco.loadRes(str(dt)), "bbox")
    e.evaluate()
    e.accumulate()
    e.summarize()
    return e.stats


def faster_coco_eval(gt: Path, dt: Path) -> np.ndarray:
    from faster_coco_eval import COCO, COCOeval_faster

    coco = COCO(str(gt))
    e = COCOeval_faster(coco, coco.loadRes(str(dt)), "bbox", print_function=lambda *a, **k: None)
    e.evaluate()
    e.accumulate()
    e.summarize()
    return np.asarray(e.stats[:12])


TOOLS: dict[str, Callable[[Path, Path], np.ndarray]] = {"deepkata": ours, "pycocotools": pycocotools, "faster-coco-eval": faster_coco_eval}


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("pycocotools", "faster-coco-eval", "numpy"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def coco_speed(images: int, per_image: int, categories: int, repeats: int, seed: int) -> dict[str, Any]:
    from deepkata.detection.coco import STAT_NAMES, random_coco_set

    start = time.perf_counter()
    gt, dets = random_coco_set(seed, images=images, per_image=per_image, categories=categories)
    made = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as folder:
        gt_path, dt_path = Path(folder) / "gt.json", Path(folder) / "dets.json"
        gt_path.write_text(json.dumps(gt))
        dt_path.write_text(json.dumps(dets))
        rows, stats = [], {}
        for name, tool in TOOLS.items():
            try:
                seconds, stats[name] = time_tool(lambda tool=tool: tool(gt_path, dt_path), 1 if name == "pycocotools" else repeats)
            except ImportError as e:  # a peer that is not installed: say so, time the others
                rows.append({"tool": name, "seconds": None, "error": f"not installed ({e.name})"})
                continue
            rows.append({"tool": name, "seconds": round(seconds, 3)})
    reference = stats["pycocotools"]
    for row in rows:
        if row["seconds"] is not None:
            row["speedup_vs_pycocotools"] = round(next(r["seconds"] for r in rows if r["tool"] == "pycocotools") / row["seconds"], 2)
            row["max_abs_diff_vs_pycocotools"] = float(np.abs(stats[row["tool"]] - reference).max())
    return {
        "set": {"images": images, "mean_detections_per_image": per_image, "categories": categories, "seed": seed,
                "ground_truths": len(gt["annotations"]), "detections": len(dets), "generated_in_s": round(made, 2)},
        "timed": "read both JSON files, evaluate, accumulate, summarize; median of repeats (pycocotools: once)",
        "repeats": repeats,
        "rows": rows,
        "stats": {name: dict(zip(STAT_NAMES, (float(v) for v in s), strict=True)) for name, s in stats.items()},
        "versions": versions(),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--per-image", type=int, default=100, help="detections an image, on average")
    parser.add_argument("--categories", type=int, default=80)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of deepkata and faster-coco-eval (the median)")
    parser.add_argument("--seed", type=int, default=0)
    add_options(parser)
    args = parse(parser, SMOKE)

    from deepkata.core.benchmark import record
    from deepkata.core.records import environment

    env = environment()
    results = {"coco_eval": coco_speed(args.images, args.per_image, args.categories, args.repeats, args.seed)}
    record("detection", results, env=env, out_dir=args.out)


if __name__ == "__main__":
    main()
