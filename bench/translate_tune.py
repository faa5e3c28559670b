"""Choose a translation recipe on dev: one architecture trained under several recipes, dev only.

Each trial is a ``translate`` run with ``test=false``: the model of the best dev epoch is
decoded on dev (greedy and beam), and the test split is never decoded, so the test figures a
recipe later reports stay a first look. The record keeps, for each trial, its overrides, the
dev BLEU (greedy) of every epoch, the dev BLEU and chrF with beam search, and the time per epoch.

    DEEPKATA_DATA=../shared/data python bench/translate_tune.py --model gru-additive \\
        --trial lr=0.002,warmup=50,label_smoothing=0.1 --trial lr=0.001,warmup=0,label_smoothing=0.1

``--resume`` takes a finished run with the same settings under ``--runs`` as it is and
continues an interrupted one, so trials started by hand (``deepkata run translate -o RUNS
--set test=false ...``) or cut short are not trained twice. ``--jobs 2`` trains two trials
side by side (one thread each on a 2-core machine).

``--smoke`` (CI) runs one trial of the ``smoke`` preset (the generated toy task) at tiny sizes
for one epoch:

    python bench/translate_tune.py --smoke --out /tmp/tune
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from _shared import add_options, parse, run_all
from translate import TINY, newest_run

from deepkata.core import records, runner
from deepkata.core.benchmark import record
from deepkata.core.data import locate
from deepkata.core.errors import UserError
from deepkata.core.records import environment
from deepkata.core.registry import get_kata
from deepkata.nlp.corpus import SMALL_PARALLEL_ENJA

KATA = "translate"
SMOKE = {"model": "gru-additive", "epochs": 1, "trial": [""], "data": None, "threads": 1, "jobs": 1, "resume": False}  # values under --smoke


def trial_sets(model: str, epochs: int, trial: str) -> list[str]:
    """The ``--set`` assignments of one trial: ``trial`` is ``key=value,key=value`` (may be empty)."""
    extra = [a.strip() for a in trial.split(",") if a.strip()]
    for a in extra:
        if "=" not in a:
            raise UserError(f"--trial {trial!r}: expected key=value pairs separated by commas, got {a!r}")
        if a.split("=", 1)[0].strip() in ("test", "model", "epochs", "corpus"):
            raise UserError(f"--trial {trial!r}: {a.split('=', 1)[0]} is set by the benchmark itself")
    return [f"model={model}", f"epochs={epochs}", *extra, "test=false"]


def run_trial(preset: str, sets: list[str], data: Path | None, runs: Path, threads: int, resume: bool) -> dict[str, Any]:
    kata = get_kata(KATA)
    cfg, overrides = runner.prepare(kata, preset, sets)
    previous = newest_run(runs, KATA, preset, overrides) if resume else None
    if previous is not None:
        run_dir, result = runner.finish(previous, quiet=True)
    else:
        res = runner.execute(kata, cfg, preset=preset, seed=0, root=runs, overrides=overrides, quiet=True, data=data, threads=threads)
        run_dir, result = res.dir, res.result
    epochs = [json.loads(line) for line in (run_dir / records.METRICS).read_text().splitlines() if line.strip()]
    m = result["metrics"]
    return {
        "overrides": overrides, "run_dir": str(run_dir), "status": result["status"], "error": result["error"],
        "started_at_commit": records.read_json(run_dir / records.ENV).get("git_commit"),
        "threads": records.read_json(run_dir / records.CONFIG)["threads"],
        "dev_bleu_greedy_per_epoch": [round(e["dev/bleu"], 2) for e in epochs if "dev/bleu" in e],
        "best_epoch": m.get("best_epoch"), "dev/bleu_greedy": m.get("dev/bleu_greedy"), "dev/bleu_beam": m.get("dev/bleu_beam"),
        "dev/chrf_beam": m.get("dev/chrf_beam"), "seconds_per_epoch": result["timings"].get("seconds_per_epoch"),
        "test_decoded": any(k.startswith("test/") for k in m),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="gru-additive", choices=("transformer", "gru", "gru-additive", "gru-dot"))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--trial", action="append", help="key=value,... config overrides of one recipe ('' for the recipe as it is)")
    parser.add_argument("--data", type=Path, default=None, help="small_parallel_enja folder (default: under $DEEPKATA_DATA)")
    parser.add_argument("--threads", type=int, default=1, help="PyTorch threads of each trial")
    parser.add_argument("--jobs", type=int, default=1, choices=(1, 2), help="trials one after the other (1) or two side by side (2)")
    parser.add_argument("--resume", action="store_true", help="take or continue runs with the same settings under --runs")
    add_options(parser, runs="runs/tune-translate")
    args = parse(parser, SMOKE)
    if args.trial is None:
        parser.error("give at least one --trial")
    env = environment()
    preset = "smoke" if args.smoke else "default"
    try:
        folder = None if args.smoke else locate(SMALL_PARALLEL_ENJA, args.data)
        trials = [[*(TINY if args.smoke else []), *trial_sets(args.model, args.epochs, t)] for t in args.trial]
        kata = get_kata(KATA)
        for sets in trials:
            runner.prepare(kata, preset, sets)  # a bad key or value stops here, before hours of training
    except UserError as e:
        parser.exit(2, f"error: {e}\n")
    results = run_all(run_trial, [(preset, sets, folder, args.runs, args.threads, args.resume) for sets in trials], args.jobs)
    best = max(results, key=lambda r: r["dev/bleu_beam"] if r["dev/bleu_beam"] is not None else -1.0)
    record(
        f"translate-tune-{args.model}",
        {"model": args.model, "epochs": args.epochs, "trials": results, "best_on_dev_beam": best["overrides"]},
        env=env, out_dir=args.out,
    )  # fmt: skip


if __name__ == "__main__":
    main()
