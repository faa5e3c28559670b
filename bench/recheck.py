"""Do recorded kata results still hold at this commit? Re-run them and compare the metrics.

Each record named here holds a kata run (kata, preset, seed, ``--set`` overrides, data and
metrics): the ``bench/run_kata.py`` records (``bench/results/<kata>-<preset>.json``), the
``mcts_vs_random`` section of ``go.json`` and the seed's runs of ``fx.json``. The kata runs
again with the same settings on this commit; every metric must come out identical (the
same seed gives the same numbers on the CPU), except the wall-clock ones a record stored
as metrics, which are listed apart. The comparison is printed as JSON and recorded in
``bench/results/recheck.json`` (``--name`` for another name).

A record may have been made on another machine, whose floating-point kernels (OpenBLAS picks
them by CPU) round differently; a chaotic training (exploding gradients) turns the last bit
into another result. ``--baseline-src DIR`` tells the two causes apart: it also runs the same
kata from an older source tree (``DIR/src``, a ``git worktree`` of the recorded commit, say)
on this machine, and compares this commit's metrics with those.

    python bench/recheck.py binary-addition-curriculum tabular-default go.json:mcts_vs_random
    DEEPKATA_DATA=../shared/data python bench/recheck.py fx.json:seed0
    git worktree add /tmp/old 4a5f50a && python bench/recheck.py binary-addition-curriculum --baseline-src /tmp/old
    DEEPKATA_DATA=../shared/data python bench/recheck.py translate-tune-gru-additive --baseline-src /tmp/old --parallel

A record trained on one thread (``threads`` in it) is re-run on one thread; ``--parallel`` runs
the older code beside this commit's, each on a core of its own.

``--smoke`` (CI) makes one tiny record, the ``bandit`` kata's smoke preset, in ``--out``, and
rechecks it: it must hold.

    python bench/recheck.py --smoke --out /tmp/recheck
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _shared import RESULTS, add_options, parse

from deepkata.core import records, runner
from deepkata.core.benchmark import record
from deepkata.core.registry import get_kata

SMOKE_KATA = "bandit"  # the kata of the tiny record --smoke makes and rechecks
WALL_CLOCK = ("playouts_per_s", "seconds_per_move", "seconds_per_epoch", "tokens_per_s")  # metric names that time, not compute
OLD_KEYS = {"model.cell": "cell", "model.target": "target"}  # --set names before configs were nested


def runs_of(name: str, results: Path) -> list[dict[str, Any]]:
    """The recorded kata runs ``name`` (a record in ``results``) stands for: kata, preset, seed, overrides, data, metrics."""
    file, _, part = name.partition(":")
    data = json.loads((results / (file if file.endswith(".json") else f"{file}.json")).read_text())["results"]
    if file == "fx.json":
        seed = int(part.removeprefix("seed") or 0)
        return [
            {"kata": "fx-forecast", "preset": "default", "seed": seed, "overrides": {"model.cell": r["cell"], "model.target": r["target"]},
             "data": str(Path(os.environ.get("DEEPKATA_DATA", "../shared/data")) / "fx" / "usd_jpy.csv"),
             "metrics": {"test/model/rmse": r["rmse"], "test/persistence/rmse": r["persistence_rmse"], "test/rmse_ratio": r["rmse_ratio"],
                         "test/dm_p_value": r["dm_p_value"], "test/model/directional_accuracy": r["directional_accuracy"]},
             "label": f"fx.json {r['cell']}/{r['target']}/seed{seed}"}
            for r in data["runs"] if r["seed"] == seed
        ]  # fmt: skip
    if file.startswith("translate-tune"):
        return [
            {"kata": "translate", "preset": "default", "seed": 0, "overrides": trial["overrides"], "threads": trial["threads"],
             "metrics": {k: trial[k] for k in ("dev/bleu_greedy", "dev/bleu_beam", "dev/chrf_beam")}, "label": f"{name} trial {k}"}
            for k, trial in enumerate(data["trials"])
        ]  # fmt: skip
    if part:
        data = data[part]
    return [{**data, "label": name}]


def _sets(rec: dict[str, Any], rename: dict[str, str] | None = None) -> list[str]:
    return [f"{(rename or {}).get(k, k)}={','.join(map(str, v)) if isinstance(v, list) else v}" for k, v in rec.get("overrides", {}).items()]


def compare(recorded: dict[str, Any], now: dict[str, Any]) -> dict[str, Any]:
    """How many recorded metrics ``now`` equals, which it does not, and the wall-clock ones left aside."""
    same, differ, timed = 0, [], []
    for key, old in recorded.items():
        if any(key.endswith(w) for w in WALL_CLOCK):
            timed.append(key)
        elif _equal(old, now.get(key, "missing")):
            same += 1
        else:
            differ.append({"metric": key, "recorded": old, "now": now.get(key, "missing")})
    return {"metrics_identical": same, "metrics_differing": differ, "wall_clock_metrics_skipped": timed}


def recheck(rec: dict[str, Any], root: Path, baseline_src: Path | None, parallel: bool) -> dict[str, Any]:
    kata = get_kata(rec["kata"])
    cfg, overrides = runner.prepare(kata, rec["preset"], _sets(rec))
    data = rec.get("data")
    seed = rec.get("seed", 0)
    started = time.perf_counter()
    old_run = _start_from(baseline_src, rec, seed, root) if baseline_src is not None and parallel else None
    res = runner.execute(kata, cfg, preset=rec["preset"], seed=seed, root=root, overrides=overrides, quiet=True,
                         data=None if data is None else Path(data), threads=rec.get("threads"))  # fmt: skip
    now = res.result["metrics"]
    against_record = compare(rec["metrics"], now)
    out = {
        "record": rec["label"], "kata": rec["kata"], "preset": rec["preset"], "seed": seed, "overrides": rec.get("overrides", {}),
        **against_record, "holds": not against_record["metrics_differing"], "seconds": round(time.perf_counter() - started, 1),
    }  # fmt: skip
    if baseline_src is not None:
        old = _metrics_of(old_run or _start_from(baseline_src, rec, seed, root))
        versus = compare(old, now)
        same = not versus["metrics_differing"] and set(now) <= set(old)
        out["baseline_src"] = {"dir": str(baseline_src), "commit": records.git_commit(baseline_src), **versus, "same_as_this_commit": same}
        out["verdict"] = (
            "holds" if out["holds"]
            else "the record's metrics differ on this machine, but the older code gives exactly this commit's" if same
            else "this commit changed the results"
        )  # fmt: skip
    return out


def _start_from(src: Path, rec: dict[str, Any], seed: int, root: Path) -> subprocess.Popen[str]:
    """Start the kata from the source tree ``src`` (another commit) on this machine."""
    out = root / f"baseline-src-{time.monotonic_ns()}"
    cmd = [sys.executable, "-m", "deepkata", "run", rec["kata"], "--preset", rec["preset"], "--seed", str(seed), "--quiet", "--out", str(out)]
    cmd += [a for s in _sets(rec, OLD_KEYS) for a in ("--set", s)] + (["--data", rec["data"]] if rec.get("data") else [])
    cmd += ["--threads", str(rec["threads"])] if rec.get("threads") else []
    return subprocess.Popen(cmd, env={**os.environ, "PYTHONPATH": str(Path(src) / "src")}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _metrics_of(process: subprocess.Popen[str]) -> dict[str, Any]:
    """The metrics of the run ``process`` made, once it ends."""
    stdout, stderr = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"the older code's run failed ({process.returncode}): {stderr[-2000:]}")
    run_dir = Path(stdout.strip().splitlines()[-1])
    return json.loads((run_dir / "result.json").read_text())["metrics"]


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def smoke_record(out: Path, env: dict[str, Any]) -> str:
    """Run the ``SMOKE_KATA`` kata's smoke preset and record it in ``out`` as ``bench/run_kata.py`` would; its name."""
    kata = get_kata(SMOKE_KATA)
    with tempfile.TemporaryDirectory(prefix="deepkata-recheck-") as tmp:
        res = runner.execute(kata, kata.preset_config("smoke"), preset="smoke", seed=0, root=Path(tmp), quiet=True)
    name = f"{SMOKE_KATA}-smoke"
    record(name, {k: res.result[k] for k in ("kata", "preset", "seed", "overrides", "status", "metrics")}, env=env, out_dir=out)
    return name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("records", nargs="*", help="record names: binary-addition-curriculum, go.json:mcts_vs_random, fx.json:seed0 ...")
    parser.add_argument("--results", type=Path, default=RESULTS, help="the folder of the records to recheck")
    parser.add_argument("--name", default="recheck", help="the record's name: OUT/NAME.json")
    parser.add_argument("--baseline-src", type=Path, default=None, help="also run each kata from this older source tree, here")
    parser.add_argument("--parallel", action="store_true", help="run the older code beside this commit's (for one-thread records)")
    add_options(parser)
    args = parse(parser, {"baseline_src": None, "parallel": False})
    env = records.environment()
    if args.smoke:
        args.records, args.results = [smoke_record(args.out, env)], args.out
    elif not args.records:
        parser.error("name the records to recheck")
    checks = []
    with tempfile.TemporaryDirectory(prefix="deepkata-recheck-") as tmp:
        for name in args.records:
            for rec in runs_of(name, args.results):
                checks.append(recheck(rec, Path(tmp), args.baseline_src, args.parallel))
                print(json.dumps(checks[-1]), flush=True)
    summary = {"all_hold": all(c["holds"] for c in checks), "checks": checks}
    if args.baseline_src is not None:
        summary["all_same_as_baseline_src"] = all(c["baseline_src"]["same_as_this_commit"] for c in checks)
    record(args.name, summary, env=env, out_dir=args.out)


if __name__ == "__main__":
    main()
