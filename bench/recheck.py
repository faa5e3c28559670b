"""Do recorded kata results still hold at this commit? Re-run them and compare the metrics.

Each record named here holds a kata run (kata, preset, seed, ``--set`` overrides, data and
metrics): the ``bench/run_kata.py`` records (``bench/results/<kata>-<preset>.json``), the
``mcts_vs_random`` section of ``go.json`` and the seed's runs of ``fx.json``. The kata runs
again with the same settings on this commit; every metric must come out identical (the
same seed gives the same numbers on the CPU), except the wall-clock ones a record stored
as metrics, which are listed apart. The comparison is printed as JSON and recorded in
``bench/results/recheck.json``.

    python bench/recheck.py binary-addition-curriculum tabular-default go.json:mcts_vs_random
    DEEPKATA_DATA=../shared/data python bench/recheck.py fx.json:seed0
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from deepkata.core import records, runner
from deepkata.core.benchmark import record
from deepkata.core.registry import get_kata

RESULTS = Path("bench/results")
WALL_CLOCK = ("playouts_per_s", "seconds_per_move", "seconds_per_epoch", "tokens_per_s")  # metric names that time, not compute


def runs_of(name: str) -> list[dict[str, Any]]:
    """The recorded kata runs ``name`` stands for: kata, preset, seed, overrides, data, metrics."""
    file, _, part = name.partition(":")
    data = json.loads((RESULTS / (file if file.endswith(".json") else f"{file}.json")).read_text())["results"]
    if file == "fx.json":
        seed = int(part.removeprefix("seed") or 0)
        return [
            {"kata": "fx-forecast", "preset": "default", "seed": seed, "overrides": {"model.cell": r["cell"], "model.target": r["target"]},
             "data": str(Path(os.environ.get("DEEPKATA_DATA", "../shared/data")) / "fx" / "usd_jpy.csv"),
             "metrics": {"test/model/rmse": r["rmse"], "test/persistence/rmse": r["persistence_rmse"], "test/rmse_ratio": r["rmse_ratio"],
                         "test/dm_p_value": r["dm_p_value"], "test/directional_accuracy": r["directional_accuracy"]},
             "label": f"fx.json {r['cell']}/{r['target']}/seed{seed}"}
            for r in data["runs"] if r["seed"] == seed
        ]  # fmt: skip
    if part:
        data = data[part]
    return [{**data, "label": name}]


def recheck(rec: dict[str, Any], root: Path) -> dict[str, Any]:
    kata = get_kata(rec["kata"])
    sets = [f"{k}={','.join(map(str, v)) if isinstance(v, list) else v}" for k, v in rec.get("overrides", {}).items()]
    cfg, overrides = runner.prepare(kata, rec["preset"], sets)
    data = rec.get("data")
    started = time.perf_counter()
    res = runner.execute(kata, cfg, preset=rec["preset"], seed=rec["seed"], root=root, overrides=overrides, quiet=True,
                         data=None if data is None else Path(data))  # fmt: skip
    now = res.result["metrics"]
    same, differ, timed = [], [], []
    for key, old in rec["metrics"].items():
        if any(key.endswith(w) for w in WALL_CLOCK):
            timed.append(key)
        elif _equal(old, now.get(key, "missing")):
            same.append(key)
        else:
            differ.append({"metric": key, "recorded": old, "now": now.get(key, "missing")})
    return {
        "record": rec["label"], "kata": rec["kata"], "preset": rec["preset"], "seed": rec["seed"], "overrides": rec.get("overrides", {}),
        "metrics_identical": len(same), "metrics_differing": differ, "wall_clock_metrics_skipped": timed,
        "holds": not differ, "seconds": round(time.perf_counter() - started, 1),
    }  # fmt: skip


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("records", nargs="+", help="record names: binary-addition-curriculum, go.json:mcts_vs_random, fx.json:seed0 ...")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    env = records.environment()
    checks = []
    with tempfile.TemporaryDirectory(prefix="deepkata-recheck-") as tmp:
        for name in args.records:
            for rec in runs_of(name):
                checks.append(recheck(rec, Path(tmp)))
                print(json.dumps(checks[-1]), flush=True)
    record("recheck", {"all_hold": all(c["holds"] for c in checks), "checks": checks}, env=env, out_dir=args.out)


if __name__ == "__main__":
    main()
