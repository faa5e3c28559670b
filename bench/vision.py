"""Vision: the cnn-zoo table over seeds on Fashion-MNIST, and our normalization layers' speed against PyTorch's.

1. **The zoo.** Runs the ``cnn-zoo`` kata (preset ``full`` by default: Fashion-MNIST, each network
   trained for the epochs that fit 30 minutes on this 2-core CPU) once per seed, and tables each
   network's parameters, MACs per image, CPU latency at batch 1 and 64 (measured here, once, after
   the training), training minutes and test accuracy as mean ± sd over the seeds, with each seed's
   accuracy. ``--reuse RUN_DIR...`` takes the networks that runs of the kata already trained
   (``deepkata run cnn-zoo --preset full``; a run interrupted after some networks finished gives
   those) for their seed; the networks missing for a seed are trained in a fresh run.
2. **Norm layers.** Forward and backward of our BatchNorm, LayerNorm (over C, H, W), InstanceNorm
   and GroupNorm (:mod:`deepkata.vision.norms`, written with tensor operations) against PyTorch's
   fused kernels, in training mode on the same input, timed interleaved so a change of load hits
   both alike; the speed is reported as the ratio ours / PyTorch's. The NumPy layers (backward
   written out) are timed too, in float64.

    python bench/vision.py                                  # 3 seeds of cnn-zoo full (hours) + norms
    python bench/vision.py --seeds 0 --reuse runs/cnn-zoo/20261202T104356Z-s0 runs/cnn-zoo/20261202T111858Z-s0
    python bench/vision.py --skip-zoo                       # the norm layers only (a minute)
    python bench/vision.py --preset default --record vision-default   # 3 seeds on digits (minutes)
    python bench/vision.py --smoke --out /tmp/vision        # every step at a tiny size (CI)

Run it alone: anything else on the 2 cores slows the epochs and the timings.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
from _shared import add_options, parse

SMOKE = {"seeds": [0, 1], "preset": "smoke", "repeats": 2, "shape": [4, 8, 8, 8], "threads": 1}
SMOKE_SETS = ["train_limit=100", "test_limit=50", "latency_repeats=1"]
SMOKE_MODELS = ("resnet-small", "mobilenet-v2-small")
ZOO_MODELS = ("resnet-small", "densenet-bc-small", "mobilenet-v1-small", "mobilenet-v2-small")


def train_missing(preset: str, seed: int, models: list[str], runs: Path, threads: int, sets: list[str], data: Path | None) -> dict[str, dict[str, Any]]:
    """A fresh cnn-zoo run of ``models`` for ``seed``, each for its epochs in ``preset``: their records by model."""
    from deepkata.core import runner
    from deepkata.core.registry import get_kata

    kata = get_kata("cnn-zoo")
    base, _ = runner.prepare(kata, preset, sets)
    epochs = ",".join(str(base.recipe(m).epochs) for m in models)
    cfg, overrides = runner.prepare(kata, preset, [*sets, f"models={','.join(models)}", f"epochs={epochs}"])
    load_before = os.getloadavg()[0]
    res = runner.execute(kata, cfg, preset=preset, seed=seed, root=runs, overrides=overrides, quiet=True, data=data, threads=threads)
    if res.status != "completed":
        raise SystemExit(f"bench/vision.py: cnn-zoo seed {seed} ended {res.status}: {res.error}")
    load = {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)}
    m, t = res.result["metrics"], res.result.get("timings", {})
    return {name: {"test_accuracy": m[f"{name}/test_accuracy"], "val_accuracy": m[f"{name}/val_accuracy"], "train_seconds": t[f"{name}/seconds"],
                   "epochs": cfg.recipe(name).epochs, "run_dir": str(res.dir), "load_average_1min": load} for name in models}  # fmt: skip


def reuse(run_dir: Path) -> tuple[int, dict[str, dict[str, Any]]]:
    """A cnn-zoo run's seed and its finished networks: from result.json, or, for a run interrupted
    after some networks finished, from the finished jobs in its checkpoint."""
    from deepkata.core import checkpoint

    config = json.loads((run_dir / "config.json").read_text())
    if config.get("kata") != "cnn-zoo":
        raise SystemExit(f"bench/vision.py: {run_dir} is not a cnn-zoo run")
    epochs = config["config"]["epochs"] or [config["config"]["train"]["epochs"]] * len(config["config"]["models"])
    per_model = dict(zip(config["config"]["models"], epochs))
    found: dict[str, dict[str, Any]] = {}
    if (run_dir / "result.json").exists():
        result = json.loads((run_dir / "result.json").read_text())
        m, t = result["metrics"], result.get("timings", {})
        for name in per_model:
            found[name] = {"test_accuracy": m[f"{name}/test_accuracy"], "val_accuracy": m[f"{name}/val_accuracy"], "train_seconds": t[f"{name}/seconds"]}
    else:
        finished = checkpoint.load(run_dir / "checkpoint.pt")["engine"]["finished"]
        for key, job in finished.items():
            name = key.split("/")[0]
            found[name] = {"test_accuracy": job["test_accuracy"], "val_accuracy": job["history"]["val_accuracy"][-1], "train_seconds": job["seconds"],
                           "interrupted_run": True}  # fmt: skip
    for name, row in found.items():
        row |= {"epochs": per_model[name], "run_dir": str(run_dir), "reused": True}
    return int(config["seed"]), found


def measure_costs(models: list[str], dataset: str, data: Path | None, latency_repeats: int, batches: tuple[int, ...]) -> dict[str, dict[str, Any]]:
    """Parameters, MACs per image and CPU latency of each network, measured here with the kata's own function."""
    import torch

    from deepkata.vision.images import load, make_splits
    from deepkata.vision.katas.cnn_zoo import CnnZooConfig, costs

    images, names = load(dataset, data)  # type: ignore[arg-type]
    splits = make_splits(images, names, validation=0.1, train_limit=200, test_limit=50)
    cfg = CnnZooConfig(latency_repeats=latency_repeats, latency_batches=batches)
    return {m: costs(m, splits, cfg, torch.device("cpu")) for m in models}


def zoo_table(per_seed: dict[int, dict[str, dict[str, Any]]], measured: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Per network: cost and latency (measured once), training minutes and test accuracy over the seeds."""
    rows = []
    for m in measured:
        got = {seed: runs[m] for seed, runs in per_seed.items()}
        acc = [r["test_accuracy"] for r in got.values()]
        minutes = [r["train_seconds"] / 60 for r in got.values()]
        rows.append({
            "model": m, "params": measured[m]["params"], "macs": measured[m]["macs"],
            **{f"{k}_ms": 1e3 * v for k, v in measured[m].items() if k.startswith("latency")},
            "epochs": sorted({r["epochs"] for r in got.values()}), "train_minutes_mean": float(np.mean(minutes)), "train_minutes_max": float(max(minutes)),
            "test_accuracy_mean": float(np.mean(acc)), "test_accuracy_sd": float(np.std(acc, ddof=1)) if len(acc) > 1 else None,
            "test_accuracy_per_seed": {str(seed): r["test_accuracy"] for seed, r in got.items()},
        })  # fmt: skip
    return rows


def time_norms(shape: list[int], repeats: int, threads: int) -> list[dict[str, Any]]:
    """Forward + backward (training mode) of ours and PyTorch's for each norm kind, and of the NumPy layers."""
    import torch

    from deepkata.vision import norms

    torch.set_num_threads(threads)
    n, c, h, w = shape
    numpy_layers = {
        "batch": lambda: norms.BatchNorm2dNumpy(c),
        "layer": lambda: norms.GroupNormNumpy(1, c),
        "instance": lambda: norms.InstanceNorm2dNumpy(c, affine=True),
        "group": lambda: norms.GroupNormNumpy(norms.group_count(c, 8), c),
    }
    rows = []
    for kind in ("batch", "layer", "instance", "group"):
        layers = {impl: norms.make_norm(kind, c, implementation=impl).train() for impl in ("ours", "torch")}
        x = torch.randn(n, c, h, w, requires_grad=True)
        dy = torch.randn(n, c, h, w)
        samples: dict[str, list[float]] = {"ours": [], "torch": [], "numpy": []}
        numpy_layer = numpy_layers[kind]()
        x64, dy64 = x.detach().double().numpy(), dy.double().numpy()
        for i in range(repeats + 1):  # the first round warms up
            for impl, layer in layers.items():
                start = time.perf_counter()
                layer(x).backward(dy)
                if i:
                    samples[impl].append(time.perf_counter() - start)
            start = time.perf_counter()
            numpy_layer.forward(x64)
            numpy_layer.backward(dy64)
            if i:
                samples["numpy"].append(time.perf_counter() - start)
        ms = {k: 1e3 * statistics.median(v) for k, v in samples.items()}
        rows.append({"kind": kind, "shape": shape, "ours_ms": ms["ours"], "torch_ms": ms["torch"], "numpy_float64_ms": ms["numpy"],
                     "ours_over_torch": ms["ours"] / ms["torch"], "numpy_over_torch": ms["numpy"] / ms["torch"]})  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="full", help="cnn-zoo preset (full: Fashion-MNIST, 30-minute budgets)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--reuse", type=Path, nargs="*", default=[], help="finished cnn-zoo runs to take instead of training their seeds again")
    parser.add_argument("--reuse-only", action="store_true", help="table only the networks the --reuse runs trained; train nothing")
    parser.add_argument("--data", type=Path, default=None, help="folder of IDX files (default: the preset's data set)")
    parser.add_argument("--threads", type=int, default=2, help="PyTorch threads (this machine has 2 cores)")
    parser.add_argument("--skip-zoo", action="store_true", help="time the norm layers only")
    parser.add_argument("--record", default="vision", help="name of the record in --out (vision-default for the default preset's, say)")
    parser.add_argument("--repeats", type=int, default=30, help="timed rounds of each norm layer")
    parser.add_argument("--shape", type=int, nargs=4, default=[32, 64, 28, 28], metavar=("N", "C", "H", "W"), help="the norm layers' input")
    add_options(parser, runs="runs/bench-vision")
    args = parse(parser, SMOKE)

    from deepkata.core.benchmark import record
    from deepkata.core.records import environment

    env = environment()
    results: dict[str, Any] = {}
    if not args.skip_zoo:
        sets = SMOKE_SETS if args.smoke else []
        models = list(SMOKE_MODELS if args.smoke else ZOO_MODELS)
        per_seed: dict[int, dict[str, dict[str, Any]]] = {seed: {} for seed in args.seeds}
        for run_dir in args.reuse:
            seed, found = reuse(run_dir)
            if seed in per_seed:
                per_seed[seed] |= {m: r for m, r in found.items() if m in models}
        for seed, got in per_seed.items():
            missing = [m for m in models if m not in got]
            if missing and not args.reuse_only:
                got |= train_missing(args.preset, seed, missing, args.runs, args.threads, sets, args.data)
        models = [m for m in models if all(m in got for got in per_seed.values())]
        # the images the preset trains on (the latency only needs their shape, 28 x 28 for all)
        dataset = "fashion-mnist" if args.preset == "full" and not args.smoke else "digits"
        results["zoo"] = {
            "preset": args.preset, "overrides": sets, "seeds": args.seeds, "not_run": [m for m in (SMOKE_MODELS if args.smoke else ZOO_MODELS) if m not in models],
            "table": zoo_table(per_seed, measure_costs(models, dataset, args.data, 3 if args.smoke else 50, (1, 4) if args.smoke else (1, 64))),
            "data": str(args.data) if args.data else {"fashion-mnist": "Fashion-MNIST (the full preset's)", "digits": "scikit-learn digits, upsampled to 28 x 28"}[dataset],
            "per_seed": {str(k): v for k, v in per_seed.items()},
        }  # fmt: skip
    results["norms_speed"] = {"threads": args.threads, "repeats": args.repeats, "rows": time_norms(args.shape, args.repeats, args.threads)}
    record(args.record, results, env=env, out_dir=args.out)


if __name__ == "__main__":
    main()
