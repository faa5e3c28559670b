"""USD/JPY: does any recurrent setup beat "tomorrow = today" on the course's file?

Runs the ``fx-forecast`` kata (the course setup: window 50, hidden 50, batch 32, Adam, 30
epochs, 80/20 chronological split) for every cell (RNN, GRU, LSTM) and target (level,
log-return), or those of ``--cells`` and ``--targets``, with 5 seeds each, on ``$DEEPKATA_DATA/fx/usd_jpy.csv``, and tabulates the test RMSE
as a ratio to persistence (median and range over seeds), how many seeds beat persistence
significantly (Diebold-Mariano p < 0.05), directional accuracy, and training time per epoch.

    DEEPKATA_DATA=../shared/data python bench/fx.py              # writes bench/results/fx.json
    DEEPKATA_DATA=../shared/data python bench/fx.py --jobs 2 --seeds 0 1
    python bench/fx.py --smoke --out /tmp/fx      # the GRU, one seed, one epoch, a generated series (CI)

With ``--jobs 2`` two trainings share the machine, which slows each epoch; the JSON records it.
"""

from __future__ import annotations

import argparse
import os
import statistics
from itertools import product
from pathlib import Path
from typing import Any

from _shared import add_options, parse, run_all

CELLS = ("rnn", "gru", "lstm")
TARGETS = ("level", "log-return")
SETUP = "fx-forecast default preset: window 50, hidden 50, batch 32, Adam 1e-3, 30 epochs, 80/20 split, next-day close"
# under --smoke: one seed of the smoke preset, one epoch, on the kata's generated series
SMOKE = {"seeds": [0], "cells": ["gru"], "data": None, "jobs": 1}
SMOKE_SETS = ["epochs=1", "synthetic_days=300"]
SMOKE_SETUP = "fx-forecast smoke preset, 1 epoch, 300 generated days (a test of the benchmark, not a result)"


def one(cell: str, target: str, seed: int, data: str | None, runs: str, smoke: bool) -> dict[str, Any]:
    from deepkata.core import runner
    from deepkata.core.registry import get_kata

    kata = get_kata("fx-forecast")
    preset = "smoke" if smoke else "default"
    cfg, overrides = runner.prepare(kata, preset, [f"model.cell={cell}", f"model.target={target}", *(SMOKE_SETS if smoke else [])])
    res = runner.execute(
        kata, cfg, preset=preset, seed=seed, root=Path(runs), overrides=overrides, quiet=True, data=None if data is None else Path(data)
    )
    m = res.result["metrics"]
    return {
        "cell": cell, "target": target, "seed": seed, "run_dir": str(res.dir),
        "rmse": m["test/model/rmse"], "persistence_rmse": m["test/persistence/rmse"], "rmse_ratio": m["test/rmse_ratio"],
        "dm_p_value": m["test/dm_p_value"], "beats_persistence": m["test/beats_persistence"],
        "directional_accuracy": m["test/model/directional_accuracy"],
        "seconds_per_epoch": res.result["timings"]["train/seconds_per_epoch"],
    }  # fmt: skip


def summarize(rows: list[dict[str, Any]], cells: list[str], targets: list[str]) -> list[dict[str, Any]]:
    table = []
    for cell, target in product(cells, targets):
        group = [r for r in rows if r["cell"] == cell and r["target"] == target]
        ratios = [r["rmse_ratio"] for r in group]
        table.append(
            {
                "cell": cell.upper(), "target": target, "seeds": len(group),
                "rmse_ratio_median": round(statistics.median(ratios), 4),
                "rmse_ratio_min": round(min(ratios), 4), "rmse_ratio_max": round(max(ratios), 4),
                "seeds_beating_persistence": sum(r["beats_persistence"] for r in group),
                "directional_accuracy_median": round(statistics.median(r["directional_accuracy"] for r in group), 4),
                "seconds_per_epoch_median": round(statistics.median(r["seconds_per_epoch"] for r in group), 3),
            }
        )  # fmt: skip
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="OHLC CSV (default: $DEEPKATA_DATA/fx/usd_jpy.csv)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--cells", nargs="+", choices=CELLS, default=list(CELLS))
    parser.add_argument("--targets", nargs="+", choices=TARGETS, default=list(TARGETS))
    parser.add_argument("--jobs", type=int, default=1, help="trainings at a time")
    add_options(parser, runs="runs/bench-fx")
    args = parse(parser, SMOKE)
    data = args.data or (Path(os.environ["DEEPKATA_DATA"]) / "fx" / "usd_jpy.csv" if "DEEPKATA_DATA" in os.environ else None)
    if args.smoke:
        data = None
    elif data is None or not data.is_file():
        raise SystemExit(f"bench/fx.py: the course file is not at {data}; set DEEPKATA_DATA or pass --data")

    from deepkata.core.benchmark import record
    from deepkata.core.records import environment

    env = environment()
    where = None if data is None else str(data.resolve())
    jobs = [(cell, target, seed, where, str(args.runs), args.smoke) for cell, target, seed in product(args.cells, args.targets, args.seeds)]
    rows = run_all(one, jobs, args.jobs)
    table = summarize(rows, args.cells, args.targets)
    record(
        "fx",
        {
            "data": str(data) if data is not None else "generated (synthetic)",
            "setup": SMOKE_SETUP if args.smoke else SETUP,
            "concurrent_jobs": args.jobs,
            "any_setting_beats_persistence": any(r["beats_persistence"] for r in rows),
            "table": table,
            "runs": rows,
        },
        env=env,
        out_dir=args.out,
    )


if __name__ == "__main__":
    main()
