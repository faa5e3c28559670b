"""Run a kata at full scale and record its result under bench/results/.

The kata's own record stays in its run folder; this keeps the figures that a README or an
issue quotes (metrics, expectations, tables) in ``bench/results/<kata>-<preset>.json``, with
the command, git commit, machine and date.

    python bench/run_kata.py binary-addition --preset curriculum
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from deepkata.core import runner
from deepkata.core import records
from deepkata.core.benchmark import record
from deepkata.core.registry import get_kata


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kata")
    parser.add_argument("--preset", default="full")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", dest="sets", action="append", default=[], help="key=value config override")
    parser.add_argument("--runs", type=Path, default=Path("runs"), help="folder for the kata's run record")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()

    kata = get_kata(args.kata)
    cfg, overrides = runner.prepare(kata, args.preset, args.sets)
    res = runner.execute(kata, cfg, preset=args.preset, seed=args.seed, root=args.runs, overrides=overrides)
    tables = {}
    for name in res.result["tables"]:
        with open(res.dir / name, newline="") as f:
            tables[name] = list(csv.DictReader(f))
    keep = ("kata", "preset", "seed", "overrides", "status", "wall_time_s", "expectations_met", "metrics", "expectations")
    record(
        f"{args.kata}-{args.preset}",
        {**{k: res.result[k] for k in keep}, "run_dir": str(res.dir), "tables": tables},
        env=records.read_json(res.dir / records.ENV),  # taken when the run started
        out_dir=args.out,
    )


if __name__ == "__main__":
    main()
