"""What every ``bench/`` script shares: timing and the record it leaves.

A benchmark prints its JSON and writes it to ``bench/results/<name>.json`` with the exact
command, the git commit, the machine and the date, so a figure can always be traced to the
run that produced it. Speeds are compared as ratios measured in the same run, on the same
machine, never across runs.
"""

from __future__ import annotations

import json
import shlex
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from deepkata.core import records


def time_per_call(fn: Callable[[], object], *, number: int, repeat: int, warmup: int = 1) -> dict[str, float]:
    """Seconds per call of ``fn``: ``repeat`` timings of ``number`` calls each, after warm-up."""
    for _ in range(warmup):
        for _ in range(number):
            fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - start) / number)
    return {"median_s": statistics.median(samples), "min_s": min(samples), "max_s": max(samples), "repeats": repeat, "calls": number}


def command() -> str:
    """The command line that is running, as a user would retype it."""
    argv = list(sys.argv)
    if argv and argv[0].endswith(".py"):
        argv = ["python", argv[0], *argv[1:]]
    return " ".join(shlex.quote(a) for a in argv)


def record(name: str, results: dict[str, Any], *, env: dict[str, Any], out_dir: Path = Path("bench/results")) -> Path:
    """Print the benchmark's JSON and write it to ``out_dir/name.json``.

    ``env`` is :func:`deepkata.core.records.environment` taken when the benchmark *started*:
    the commit and versions of the code that ran, not of whatever is checked out at the end.
    """
    env = dict(env)
    payload = {
        "benchmark": name,
        "command": command(),
        "git_commit": env.pop("git_commit"),
        "date_utc": records.utc_now().isoformat(timespec="seconds"),
        "machine": {k: v for k, v in env.items() if k != "argv"},
        "results": results,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.json"
    records.write_json(path, payload)
    print(json.dumps(records.jsonable(payload), indent=2, ensure_ascii=False))
    return path
