"""Run a kata at full scale and record its result under bench/results/.

The kata's own record stays in its run folder; this keeps the figures that a README or an
issue quotes (metrics, expectations, tables) in ``bench/results/<kata>-<preset>.json``, with
the command, git commit, machine and date.

    python bench/run_kata.py binary-addition --preset curriculum
    python bench/run_kata.py --smoke --out /tmp/k      # the bandit kata's smoke preset (CI); KATA --smoke: that kata's
"""

from __future__ import annotations

import argparse
import csv

from _shared import add_options, parse

from deepkata.core import records, runner
from deepkata.core.benchmark import record
from deepkata.core.registry import get_kata


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kata", nargs="?", help="a registered kata (--smoke: bandit unless given)")
    parser.add_argument("--preset", default="full")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", default=None, help="the record's name in bench/results (default: KATA-PRESET)")
    parser.add_argument("--set", dest="sets", action="append", default=[], help="key=value config override")
    add_options(parser, runs="runs")
    args = parse(parser, {"preset": "smoke"})
    if args.kata is None and not args.smoke:
        parser.error("name the kata to run (deepkata list shows them)")
    args.kata = args.kata or "bandit"

    kata = get_kata(args.kata)
    cfg, overrides = runner.prepare(kata, args.preset, args.sets)
    res = runner.execute(kata, cfg, preset=args.preset, seed=args.seed, root=args.runs, overrides=overrides)
    tables = {}
    for name in res.result["tables"]:
        with open(res.dir / name, newline="") as f:
            tables[name] = list(csv.DictReader(f))
    keep = ("kata", "preset", "seed", "overrides", "status", "wall_time_s", "expectations_met", "metrics", "expectations")
    record(
        args.name or f"{args.kata}-{args.preset}",
        {**{k: res.result[k] for k in keep}, "run_dir": str(res.dir), "tables": tables},
        env=records.read_json(res.dir / records.ENV),  # taken when the run started
        out_dir=args.out,
    )


if __name__ == "__main__":
    main()
