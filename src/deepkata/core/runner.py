"""Running a kata: its folder, its services, its expectations and its record.

:func:`execute` is the one code path behind ``deepkata run``, ``resume`` and ``tour``. It
creates ``runs/<kata>/<UTC time>-s<seed>/``, writes ``config.json`` and ``env.json``, seeds
every generator, calls the kata with a :class:`Run`, checks the kata's expectations, writes
the report and, last, ``result.json``.

Failure modes:
- bad input (:class:`UserError`) raised by a kata removes a fresh run folder and propagates,
  so nothing half-written is left behind;
- Ctrl-C propagates after the logs are closed: the folder keeps its last checkpoint and
  ``deepkata resume`` continues from it;
- any other exception is recorded (``status: failed`` in ``result.json``, the traceback in
  ``error.txt``) and returned, so a tour goes on to the next kata.
"""

from __future__ import annotations

import csv
import io
import shutil
import time
import traceback
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deepkata.core import checkpoint, records, report
from deepkata.core import config as config_mod
from deepkata.core.errors import UserError
from deepkata.core.progress import Bar, ProgressBoard
from deepkata.core.registry import Kata, get_kata
from deepkata.core.seeding import seed_everything

DEFAULT_CHECKPOINT_INTERVAL = 30.0  # seconds between checkpoints of a long run


@dataclass(frozen=True)
class Artifact:
    file: str  # name inside the run folder
    caption: str


class Run:
    """What a kata's ``run(cfg, run)`` receives: its folder and the services around it.

    - :meth:`log` appends namespaced metrics to ``metrics.jsonl``;
    - :meth:`bar` gives a progress bar (silent under ``--quiet``);
    - :meth:`save_figure` and :meth:`save_table` write artefacts the report shows;
    - :meth:`checkpoint_due`, :meth:`save_checkpoint` and :meth:`load_checkpoint` make a
      long run resumable: a kata saves its whole state when a checkpoint is due and, on
      start, continues from :meth:`load_checkpoint` when it returns one;
    - :attr:`data` is the ``--data`` path, or None for the kata's embedded data.
    """

    def __init__(
        self,
        dir: Path,
        *,
        kata: str,
        preset: str,
        seed: int,
        progress: ProgressBoard,
        checkpoint_interval: float = DEFAULT_CHECKPOINT_INTERVAL,
        data: Path | None = None,
    ) -> None:
        self.dir = Path(dir)
        self.data = data
        self.kata = kata
        self.preset = preset
        self.seed = seed
        self.figures: list[Artifact] = []
        self.tables: list[Artifact] = []
        self.checkpoint_interval = checkpoint_interval
        self._progress = progress
        self._metrics = records.MetricsLog(self.dir / records.METRICS)
        self._started = self._last_checkpoint = time.monotonic()
        self.elapsed_before = 0.0  # wall time of earlier sessions of a resumed run

    # --- logging and progress ------------------------------------------------------------------

    def log(self, step: int, metrics: Mapping[str, Any], **tags: Any) -> None:
        """Append ``{"step": step, **tags, **metrics}`` to ``metrics.jsonl``."""
        self._metrics.log(step, metrics, **tags)

    @contextmanager
    def bar(self, description: str, total: float | None) -> Iterator[Bar]:
        with self._progress.bar(description, total) as b:
            yield b

    # --- artefacts -----------------------------------------------------------------------------

    def save_figure(self, fig: Any, name: str, caption: str) -> Path:
        """Save a matplotlib figure as ``name``.png (atomically) and list it in the report."""
        path = self.dir / f"{name}.png"
        records.atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=110))
        self.figures.append(Artifact(path.name, caption))
        return path

    def save_table(self, name: str, rows: Sequence[Mapping[str, Any]], caption: str) -> str:
        """Write ``rows`` to ``name``.csv and return them as a Markdown table for the report."""
        columns = list(rows[0]) if rows else []
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows([{k: records.jsonable(v) for k, v in r.items()} for r in rows])
        records.write_text(self.dir / f"{name}.csv", buf.getvalue())
        self.tables.append(Artifact(f"{name}.csv", caption))
        return report.markdown_table(rows, columns)

    # --- checkpoints ---------------------------------------------------------------------------

    @property
    def checkpoint_path(self) -> Path:
        return self.dir / records.CHECKPOINT

    def checkpoint_due(self) -> bool:
        return time.monotonic() - self._last_checkpoint >= self.checkpoint_interval

    def save_checkpoint(self, state: dict[str, Any]) -> None:
        """Save the kata's whole state with the metrics-log position, atomically."""
        checkpoint.save(
            self.checkpoint_path,
            {"kata_state": state, "metrics_lines": self._metrics.lines, "elapsed": self.elapsed()},
        )
        self._last_checkpoint = time.monotonic()

    def load_checkpoint(self) -> dict[str, Any] | None:
        """The state of the last checkpoint, or None; the metrics log is cut back to match."""
        if not self.checkpoint_path.exists():
            self._metrics.truncate(0)
            return None
        saved = checkpoint.load(self.checkpoint_path)
        self._metrics.truncate(int(saved["metrics_lines"]))
        self.elapsed_before = float(saved["elapsed"])
        return saved["kata_state"]

    # --- bookkeeping ---------------------------------------------------------------------------

    def elapsed(self) -> float:
        return self.elapsed_before + time.monotonic() - self._started

    def close(self) -> None:
        self._metrics.close()


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a run; ``run_dir`` holds its last checkpoint for ``deepkata resume``."""

    def __init__(self, run_dir: Path) -> None:
        super().__init__(str(run_dir))
        self.run_dir = run_dir


@dataclass
class RunResult:
    dir: Path
    result: dict[str, Any]
    error: str | None = None

    @property
    def status(self) -> str:
        return str(self.result["status"])


def prepare(kata: Kata, preset: str, assignments: Sequence[str]) -> tuple[Any, dict[str, Any]]:
    """The resolved config for ``preset`` with ``--set`` assignments, and those overrides."""
    base = kata.preset_config(preset)
    overrides = config_mod.parse_assignments(kata.config, assignments)
    cfg = config_mod.build(kata.config, kata.presets[preset], overrides)
    return cfg, config_mod.changed(cfg, base)


def execute(
    kata: Kata,
    cfg: Any,
    *,
    preset: str,
    seed: int,
    root: Path = Path("runs"),
    overrides: Mapping[str, Any] | None = None,
    quiet: bool = False,
    resume_dir: Path | None = None,
    checkpoint_interval: float = DEFAULT_CHECKPOINT_INTERVAL,
    data: Path | None = None,
    threads: int | None = None,
) -> RunResult:
    """Run ``kata`` with ``cfg`` and leave its complete record; see the module docstring.

    ``threads`` sets PyTorch's thread count (default: the kata's preference, else PyTorch's);
    results are reproducible for a given count.
    """
    overrides = dict(overrides or {})
    threads = threads or kata.threads
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    if data is not None:
        if not kata.takes_data:
            raise UserError(f"{kata.name} takes no --data: its data is {kata.data}")
        data = Path(data).resolve()
        if not data.exists():
            raise UserError(f"--data {data}: no such file or folder")
    fresh = resume_dir is None
    if fresh:
        run_dir = records.new_run_dir(root, kata.name, seed)
        records.write_json(
            run_dir / records.CONFIG,
            {
                "kata": kata.name, "preset": preset, "seed": seed, "overrides": overrides,
                "data": None if data is None else str(data), "threads": threads, "config": config_mod.to_dict(cfg),
            },
        )  # fmt: skip
        records.write_json(run_dir / records.ENV, records.environment())
    else:
        run_dir = Path(resume_dir)
    started = records.utc_now()
    run = Run(
        run_dir, kata=kata.name, preset=preset, seed=seed,
        progress=ProgressBoard(enabled=not quiet), checkpoint_interval=checkpoint_interval, data=data,
    )  # fmt: skip
    error: str | None = None
    seed_everything(seed)
    try:
        outcome = kata.run(cfg, run)
    except UserError:
        run.close()
        if fresh:
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    except KeyboardInterrupt:
        run.close()
        raise Interrupted(run_dir) from None
    except Exception as e:
        error = f"{type(e).__name__}: {e}"
        records.write_text(run_dir / "error.txt", traceback.format_exc())
        outcome = None
    run.close()

    result: dict[str, Any] = {
        "kata": kata.name,
        "preset": preset,
        "seed": seed,
        "overrides": overrides,
        "data": None if data is None else str(data),
        "status": "failed" if outcome is None else "completed",
        "error": error,
        "metrics": {} if outcome is None else records.jsonable(outcome.metrics),
        "timings": {} if outcome is None else records.jsonable(outcome.timings),
        "expectations": [],
        "wall_time_s": round(run.elapsed(), 3),
        "started_utc": started.isoformat(timespec="seconds"),
        "finished_utc": records.utc_now().isoformat(timespec="seconds"),
        "resumed": not fresh,
        "figures": [f.file for f in run.figures],
        "tables": [t.file for t in run.tables],
    }
    if outcome is not None:
        result["expectations"] = [e.check(result["metrics"]) for e in kata.expectations_for(preset)]
    met = sum(e["met"] for e in result["expectations"])
    result["expectations_met"] = f"{met}/{len(result['expectations'])}"

    env = records.read_json(run_dir / records.ENV)
    markdown = report.run_report(kata, cfg, result, env, outcome, run.figures, run.tables)
    records.write_text(run_dir / "report.md", markdown)
    records.write_text(run_dir / "report.html", report.to_html(markdown, title=f"deepkata · {kata.name}"))
    records.write_json(run_dir / records.RESULT, result)  # last: its presence means the run finished
    run.checkpoint_path.unlink(missing_ok=True)
    return RunResult(run_dir, result, error)


def resume(run_dir: Path, *, quiet: bool = False, checkpoint_interval: float = DEFAULT_CHECKPOINT_INTERVAL) -> RunResult:
    """Continue an interrupted run in its own folder, from its last checkpoint."""
    run_dir = Path(run_dir)
    if not (run_dir / records.CONFIG).is_file():
        raise UserError(f"{run_dir}: not a run folder (no {records.CONFIG})")
    if (run_dir / records.RESULT).exists():
        raise UserError(f"{run_dir}: the run already finished ({records.RESULT} exists)")
    saved = records.read_json(run_dir / records.CONFIG)
    kata = get_kata(saved["kata"])
    cfg = config_mod.from_dict(kata.config, saved["config"])
    data = saved.get("data")
    return execute(
        kata, cfg, preset=saved["preset"], seed=int(saved["seed"]), overrides=saved.get("overrides", {}),
        quiet=quiet, resume_dir=run_dir, checkpoint_interval=checkpoint_interval, data=None if data is None else Path(data),
        threads=saved.get("threads"),
    )  # fmt: skip


def finish(run_dir: Path, *, quiet: bool = False) -> tuple[Path, dict[str, Any]]:
    """A run's folder and result: taken as it is when it finished, else resumed to its end."""
    run_dir = Path(run_dir)
    if (run_dir / records.RESULT).is_file():
        return run_dir, records.read_json(run_dir / records.RESULT)
    res = resume(run_dir, quiet=quiet)
    return res.dir, res.result
