"""Detection: our COCO evaluation against pycocotools and faster-coco-eval, and the SSD and segmentation katas over seeds.

1. **COCO evaluation.** One randomized set (``deepkata.detection.coco.random_coco_set``: 5,000
   images of 640 x 480, 80 categories, 0 to 12 ground truths an image with crowds and every size,
   100 detections an image on average, half of them near a ground truth, scores with many ties) is
   written as COCO JSON files and scored by each evaluator as a user runs it: read the two files,
   evaluate, accumulate, summarize. The times are each tool's own, measured one after the other in
   this process (median of ``--repeats``; pycocotools once, it takes a minute or more); the speed
   is reported as ratios to pycocotools from the same run. The 12 numbers of each are compared
   with pycocotools' (the reference): the largest absolute difference.
2. **The katas over seeds.** ``ssd`` and ``segment`` (preset ``full`` by default) once per seed;
   the seed draws the generated images as well as the weights. Each figure is tabled as mean ±
   sd over the seeds with every seed's value, and each target of issue 18 is checked on every
   seed (SSD: AP50 >= 0.90 and AP@[.5:.95] >= 0.60 within 30 minutes of training; segmentation:
   mIoU >= 0.85 for the best network, chosen on validation). ``--reuse`` takes finished runs
   instead of training their seeds again: a run folder (``deepkata run ssd --preset full``) or a
   ``bench/run_kata.py`` record of one (``bench/results/ssd-full.json``).

    python bench/detection.py                      # both parts: 3 seeds of each kata's full preset (hours)
    python bench/detection.py --skip-katas         # the COCO evaluation only (about 3 minutes)
    python bench/detection.py --skip-coco --reuse bench/results/ssd-full.json runs/segment/...-s0
    python bench/detection.py --skip-coco --carry ssd --reuse-only --reuse RUN_S0 RUN_S1 RUN_S2   # segmentation only
    python bench/detection.py --smoke --out /tmp/d # every step at a tiny size (CI)

A part that is skipped is carried over from the record already in ``--out``, with the command,
commit and date that measured it. Run it alone: anything else on the 2 cores slows some tools
more than others, and the training.
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
from _shared import add_options, finished_run, holds, over_seeds, parse, run_kata_seed

SMOKE = {"images": 40, "repeats": 1, "seeds": [0, 1], "preset": "smoke"}
KATAS = ("ssd", "segment")
# the SSD's figures: (metric in the kata's record, label)
SSD_FIGURES = (
    ("test/AP", "AP@[.5:.95]"), ("test/AP50", "AP50"), ("test/AP75", "AP75"), ("test/VOC_mAP50", "VOC mAP50 (all-point)"),
    ("test/AP_circle", "AP circle"), ("test/AP_square", "AP square"), ("test/AP_triangle", "AP triangle"),
    ("train/minutes", "training minutes"),
)  # fmt: skip  (and "fps/bN", images a second at each batch size N the kata timed)
# issue 18's targets, checked on every seed: (metric, op, value)
SSD_TARGETS = (("test/AP50", ">=", 0.90), ("test/AP", ">=", 0.60), ("train/minutes", "<=", 30.0))
SEGMENT_TARGET = 0.85  # mIoU of the best network (chosen on validation)


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


def ssd_table(per_seed: dict[int, dict[str, Any]]) -> dict[str, Any]:
    first = next(iter(per_seed.values()))["metrics"]
    figures = [*SSD_FIGURES, *((key, f"images/s, batch {key[len('fps/b'):]}") for key in first if key.startswith("fps/b"))]
    rows = [{"figure": label, "metric": key, **over_seeds({s: r["metrics"][key] for s, r in per_seed.items()})} for key, label in figures]
    targets = [{"metric": key, "op": op, "target": t, "met_every_seed": all(holds(r["metrics"][key], op, t) for r in per_seed.values())}
               for key, op, t in SSD_TARGETS]  # fmt: skip
    return {"rows": rows, "targets": targets}


def segment_table(per_seed: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """Per network: test mIoU, pixel accuracy, IoU per class and training minutes over the seeds."""
    from deepkata.detection.katas.segment import NAMES, NETWORKS

    first = next(iter(per_seed.values()))["metrics"]
    networks = [m for m in NETWORKS if f"{m}/miou" in first]
    rows = []
    for m in networks:
        figures = {"miou": f"{m}/miou", "pixel_accuracy": f"{m}/pixel_accuracy", "train_minutes": f"{m}/train_minutes",
                   **{f"iou_{n}": f"{m}/iou_{n}" for n in NAMES}}  # fmt: skip
        rows.append({"network": m, **{k: over_seeds({s: r["metrics"][key] for s, r in per_seed.items()}) for k, key in figures.items() if key in first}})
    best = {str(s): max(networks, key=lambda m: r["metrics"][f"{m}/val_miou"]) for s, r in per_seed.items()}
    best_miou = {s: r["metrics"]["segment/best_miou"] for s, r in per_seed.items()}
    return {
        "rows": rows, "baseline_all_background_miou": over_seeds({s: r["metrics"]["baseline/miou"] for s, r in per_seed.items()}),
        "best_on_validation": best, "best_miou": over_seeds(best_miou),
        "targets": [{"metric": "segment/best_miou", "op": ">=", "target": SEGMENT_TARGET, "met_every_seed": all(v >= SEGMENT_TARGET for v in best_miou.values())}],
    }  # fmt: skip


def katas_over_seeds(preset: str, seeds: list[int], reused: list[Path], runs: Path, reuse_only: bool, skip: list[str] = []) -> dict[str, Any]:  # noqa: B006
    found: dict[str, dict[int, dict[str, Any]]] = {k: {} for k in KATAS if k not in skip}
    for path in reused:
        kata, got_preset, seed, result = finished_run("detection.py", path, KATAS)
        if kata in skip:
            continue
        if got_preset != preset:
            raise SystemExit(f"bench/detection.py: {path} ran preset {got_preset!r}, this table is of {preset!r}")
        if seed in seeds:
            found[kata][seed] = result
    out: dict[str, Any] = {"preset": preset, "seeds": seeds}
    for kata, per_seed in found.items():
        for seed in seeds:
            if seed not in per_seed and not reuse_only:
                per_seed[seed] = run_kata_seed("detection.py", kata, preset, seed, runs)
        if not per_seed:
            out[kata] = {"not_run": True}
            continue
        per_seed = dict(sorted(per_seed.items()))
        table = ssd_table(per_seed) if kata == "ssd" else segment_table(per_seed)
        out[kata] = {"seeds": list(per_seed), **table, "runs": {str(s): {k: r[k] for k in ("source", "wall_time_s")} | {"reused": r.get("reused", False)}
                                                               for s, r in per_seed.items()}}  # fmt: skip
    return out


def carried(out: Path, part: str) -> dict[str, Any] | None:
    """``part`` of the record already in ``out``, with the command, commit and date that measured it."""
    path = out / "detection.json"
    if not path.exists():
        return None
    old = json.loads(path.read_text())
    if part not in old.get("results", {}):
        return None
    got = old["results"][part]
    return got if "measured_by" in got else {**got, "measured_by": {k: old[k] for k in ("command", "git_commit", "date_utc")}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--per-image", type=int, default=100, help="detections an image, on average")
    parser.add_argument("--categories", type=int, default=80)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of deepkata and faster-coco-eval (the median)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--preset", default="full", help="the katas' preset")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--reuse", type=Path, nargs="*", default=[], help="finished ssd/segment runs (folders or bench/run_kata.py records) for their seeds")
    parser.add_argument("--reuse-only", action="store_true", help="table only the --reuse runs; train nothing")
    parser.add_argument("--skip-coco", action="store_true", help="keep the COCO part of the record in --out")
    parser.add_argument("--skip-katas", action="store_true", help="keep the katas part of the record in --out")
    parser.add_argument("--carry", nargs="+", default=[], choices=KATAS, help="keep these katas' tables of the record in --out; table the others")
    add_options(parser, runs="runs/bench-detection")
    args = parse(parser, SMOKE)

    from deepkata.core.benchmark import record
    from deepkata.core.records import environment

    env = environment()
    results: dict[str, Any] = {}
    if args.skip_coco:
        results["coco_eval"] = carried(args.out, "coco_eval")
    else:
        results["coco_eval"] = coco_speed(args.images, args.per_image, args.categories, args.repeats, args.seed)
    if args.skip_katas:
        results["katas"] = carried(args.out, "katas")
    else:
        results["katas"] = katas_over_seeds(args.preset, args.seeds, args.reuse, args.runs, args.reuse_only, skip=args.carry)
        old = carried(args.out, "katas") if args.carry else None
        for kata in args.carry:
            if old is None or kata not in old or "not_run" in old[kata]:
                raise SystemExit(f"bench/detection.py: --carry {kata}: {args.out / 'detection.json'} has no {kata} table to carry")
            results["katas"][kata] = old[kata] if "measured_by" in old[kata] else {**old[kata], "measured_by": old["measured_by"]}
    results = {k: v for k, v in results.items() if v is not None}
    record("detection", results, env=env, out_dir=args.out)


if __name__ == "__main__":
    main()
