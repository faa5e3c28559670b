"""Run records on disk: atomic files, the environment, and the metrics log.

A run folder holds ``config.json``, ``env.json``, ``metrics.jsonl``, PNG figures, CSV tables,
``report.md``/``report.html`` and, last of all, ``result.json``. Every file but the metrics log
is written to a temporary name in the same folder and renamed into place, so a killed run
leaves either the old file or the new one, never half of one. Files get the mode that ``open``
would give them (0666 less the umask), so a run folder can be shared or served.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

from deepkata.core.errors import UserError

RESULT = "result.json"
CONFIG = "config.json"
ENV = "env.json"
METRICS = "metrics.jsonl"
CHECKPOINT = "checkpoint.pt"


def atomic_write(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write ``path`` through ``write(file)`` into a temporary file, then rename it into place."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp creates 0600; give the file what open() would, as the umask says
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process's umask (read by setting it and putting it back: Python < 3.13 has no getter)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def jsonable(value: Any) -> Any:
    """``value`` with NumPy scalars made plain and non-finite floats made None (strict JSON)."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: Path, data: Any) -> None:
    write_text(path, json.dumps(jsonable(data), indent=2, ensure_ascii=False, allow_nan=False) + "\n")


def read_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except json.JSONDecodeError as e:
        raise UserError(f"{path}: line {e.lineno}: not valid JSON ({e.msg})") from None


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def new_run_dir(root: Path, kata: str, seed: int, now: dt.datetime | None = None) -> Path:
    """Create and return ``root/<kata>/<UTC time>-s<seed>``, never reusing a folder."""
    stamp = (now or utc_now()).strftime("%Y%m%dT%H%M%SZ")
    parent = Path(root) / kata
    parent.mkdir(parents=True, exist_ok=True)
    for n in range(1, 1000):
        path = parent / (f"{stamp}-s{seed}" if n == 1 else f"{stamp}-s{seed}-{n}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise RuntimeError(f"could not create a run folder under {parent}")


def git_commit(cwd: Path | None = None) -> str | None:
    """The git commit of the deepkata source (with ``+dirty`` for local changes), if any.

    Changes under ``bench/results/`` do not count: a benchmark that starts while another's
    figures are not yet committed still ran the committed code.
    """
    here = cwd or Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ":/", ":(top,exclude)bench/results"],
            cwd=here, capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


def environment() -> dict[str, Any]:
    """Versions, commit, platform and threads: what ``env.json`` records."""
    import numpy
    import torch

    from deepkata import __version__

    return {
        "deepkata": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "git_commit": git_commit(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "cuda": torch.cuda.is_available(),
        "argv": sys.argv,
    }


class MetricsLog:
    """``metrics.jsonl``: one JSON object a line, ``{"step": n, "train/loss": ...}``.

    Keys are namespaced (``train/``, ``eval/``); extra tags such as the job of a sweep sit
    beside them. Lines are flushed as written. :meth:`truncate` cuts the log back to a
    line count recorded in a checkpoint, so a resumed run logs each step once.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.touch(exist_ok=True)
        self.lines = sum(1 for _ in open(self.path, "rb"))
        self._file = open(self.path, "a", encoding="utf-8")

    def log(self, step: int, metrics: Mapping[str, Any], **tags: Any) -> None:
        record = {"step": int(step), **tags, **metrics}
        self._file.write(json.dumps(jsonable(record), allow_nan=False) + "\n")
        self._file.flush()
        self.lines += 1

    def truncate(self, lines: int) -> None:
        self._file.close()
        with open(self.path, "rb") as f:
            kept = f.readlines()[:lines]
        atomic_write(self.path, lambda f: f.writelines(kept))
        self.lines = len(kept)
        self._file = open(self.path, "a", encoding="utf-8")

    def close(self) -> None:
        self._file.close()


def read_metrics(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
