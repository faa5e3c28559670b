"""The command-line options every ``bench/`` script shares: where it records, and its smoke mode.

Not a benchmark itself (``tests/test_bench.py`` runs every ``bench/*.py`` but the ``_`` ones).
Each script takes:

- ``--out DIR``: the folder of its JSON record, ``bench/results`` by default;
- ``--smoke``: every step of the benchmark, at a tiny size, on generated data, in seconds; its
  record (same shape as the real one) goes to ``--out`` or to a new temporary folder, never to
  ``bench/results``, and the kata runs it makes go under ``--out`` too. CI runs every script so;
- ``--runs DIR`` for the scripts that run katas: the folder of those runs' records.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

RESULTS = Path("bench/results")  # scripts run from the repository root


def add_options(parser: argparse.ArgumentParser, *, runs: str | None = None) -> None:
    """Add ``--out`` and ``--smoke`` to ``parser``, and ``--runs`` (default ``runs``) when given."""
    parser.add_argument("--out", type=Path, default=None, help=f"folder for the JSON record (default: {RESULTS}; with --smoke a new temporary folder)")
    parser.add_argument("--smoke", action="store_true", help="a tiny run of every step on generated data, seconds long, recorded outside bench/results")
    if runs is not None:
        parser.add_argument("--runs", type=Path, default=None, help=f"folder for the kata runs' records (default: {runs}; with --smoke OUT/runs)")
        parser.set_defaults(runs_default=Path(runs))


def parse(parser: argparse.ArgumentParser, smoke: Mapping[str, Any]) -> argparse.Namespace:
    """Parse the command line and settle ``out`` and ``runs``: a smoke run stays out of ``bench/results``.

    ``smoke`` holds the options' values in smoke mode (destination names): they replace the
    command line's, so a smoke run has one size.
    """
    args = parser.parse_args()
    if not args.smoke:
        args.out = args.out or RESULTS
    elif args.out is None:
        args.out = Path(tempfile.mkdtemp(prefix="deepkata-bench-smoke-"))
    elif args.out.resolve() in (RESULTS.resolve(), (Path(__file__).parent / "results").resolve()):
        parser.error(f"--smoke records a tiny run; --out {args.out} holds the real records: choose another folder")
    if args.smoke:
        vars(args).update(smoke)
    if "runs_default" in args:
        args.runs = args.runs or (args.out / "runs" if args.smoke else args.runs_default)
        del args.runs_default
    return args


def run_all(fn: Callable[..., T], calls: Sequence[tuple[Any, ...]], jobs: int) -> list[T]:
    """``fn(*call)`` for every call, results in order: one after the other here (``jobs`` 1), or
    ``jobs`` at a time, each in a fresh process (spawned: no state inherited from this one)."""
    if jobs == 1:
        return [fn(*call) for call in calls]
    with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
        return list(pool.map(fn, *zip(*calls)))


def run_kata_seed(script: str, kata: str, preset: str, seed: int, runs: Path) -> dict[str, Any]:
    """A fresh run of ``kata`` at ``preset`` and ``seed`` for ``script``'s table over seeds: its metrics and where it ran."""
    from deepkata.core import runner
    from deepkata.core.registry import get_kata

    spec = get_kata(kata)
    cfg, overrides = runner.prepare(spec, preset, [])
    res = runner.execute(spec, cfg, preset=preset, seed=seed, root=runs, overrides=overrides, quiet=True)
    if res.status != "completed":
        raise SystemExit(f"bench/{script}: {kata} seed {seed} ended {res.status}: {res.error}")
    return {"metrics": res.result["metrics"], "wall_time_s": res.result["wall_time_s"], "source": str(res.dir)}


def finished_run(script: str, path: Path, katas: Sequence[str]) -> tuple[str, str, int, dict[str, Any]]:
    """(kata, preset, seed, result) of a finished run of one of ``katas``: its folder, or a ``bench/run_kata.py`` record of it."""
    import json

    if path.is_dir():
        config, result = (json.loads((path / name).read_text()) for name in ("config.json", "result.json"))
        kata, preset, seed = config["kata"], config["preset"], config["seed"]
    else:
        result = json.loads(path.read_text())["results"]
        kata, preset, seed = result["kata"], result["preset"], result["seed"]
    if kata not in katas or result.get("status", "completed") != "completed":
        raise SystemExit(f"bench/{script}: {path} is not a finished run of {' or '.join(katas)}")
    return kata, preset, int(seed), {"metrics": result["metrics"], "wall_time_s": result["wall_time_s"], "source": str(path), "reused": True}


def over_seeds(values: Mapping[int, float]) -> dict[str, Any]:
    """Mean, sample sd (None for one seed), min, max and every seed's value of one figure."""
    import statistics

    v = [float(x) for x in values.values()]
    return {"mean": statistics.fmean(v), "sd": statistics.stdev(v) if len(v) > 1 else None, "min": min(v), "max": max(v),
            "per_seed": {str(k): float(x) for k, x in values.items()}}  # fmt: skip


def holds(value: float, op: str, target: float) -> bool:
    """``value op target`` for op ``>=`` or ``<=``."""
    return value >= target if op == ">=" else value <= target
