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

import contextlib
import csv
import dataclasses
import io
import shutil
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch

from deepkata.core import checkpoint, distributed, engine, records, report
from deepkata.core import config as config_mod
from deepkata.core import device as device_mod
from deepkata.core.device import Precision
from deepkata.core.distributed import Ranks
from deepkata.core.engine import Job, JobContext, JobSpec
from deepkata.core.errors import UserError
from deepkata.core.progress import Bar, ProgressBoard
from deepkata.core.registry import Kata, all_katas, get_kata
from deepkata.core.seeding import seed_everything

CHECKPOINT_FORMAT = "deepkata-engine-1"
P = TypeVar("P")


@dataclass(frozen=True)
class Artifact:
    file: str  # name inside the run folder
    caption: str


class Run:
    """What a kata's ``run(cfg, run)`` receives: its folder, the engine and the services around it.

    - :meth:`sweep` runs the kata's jobs on the training engine (:mod:`deepkata.core.engine`),
      which owns checkpoints, resume, seeds, progress, devices and ranks;
    - :meth:`log` appends namespaced metrics to ``metrics.jsonl``;
    - :meth:`bar` gives a progress bar (silent under ``--quiet``);
    - :meth:`save_figure` and :meth:`save_table` write artefacts the report shows;
    - :attr:`data` is the ``--data`` path, or None for the kata's embedded data;
    - :attr:`device`, :attr:`precision` and :attr:`ranks` say where and how it computes.

    Under ``torchrun`` only rank 0 writes: on the other ranks the writing methods do nothing.
    """

    def __init__(
        self,
        dir: Path,
        *,
        kata: str,
        preset: str,
        seed: int,
        progress: ProgressBoard,
        checkpoint_interval: float = checkpoint.DEFAULT_INTERVAL,
        data: Path | None = None,
        device: torch.device | None = None,
        precision: Precision = "fp32",
        ranks: Ranks = distributed.SINGLE,
    ) -> None:
        self.dir = Path(dir)
        self.data = data
        self.kata = kata
        self.preset = preset
        self.seed = seed
        self.device = device or torch.device("cpu")
        self.precision: Precision = precision
        self.ranks = ranks
        self.figures: list[Artifact] = []
        self.tables: list[Artifact] = []
        self.checkpoint_interval = checkpoint_interval
        self._progress = progress
        self._metrics = records.MetricsLog(self.dir / records.METRICS) if ranks.is_main else None
        self._started = self._last_checkpoint = time.monotonic()
        self.elapsed_before = 0.0  # wall time of earlier sessions of a resumed run
        self._state: dict[str, Any] | None = None  # the engine's: finished results, job in progress
        self._keys: set[str] = set()

    # --- the engine ----------------------------------------------------------------------------

    def sweep(
        self, grid: Iterable[JobSpec[P]], make_job: Callable[[P, JobContext], Job], *, description: str = "jobs"
    ) -> dict[str, Any]:
        """Run the jobs of ``grid`` on the engine; their results by key (see :func:`engine.sweep`)."""
        return engine.sweep(self, grid, make_job, description=description)

    # --- logging and progress ------------------------------------------------------------------

    def log(self, step: int, metrics: Mapping[str, Any], **tags: Any) -> None:
        """Append ``{"step": step, **tags, **metrics}`` to ``metrics.jsonl``."""
        if self._metrics is not None:
            self._metrics.log(step, metrics, **tags)

    @contextmanager
    def bar(self, description: str, total: float | None) -> Iterator[Bar]:
        with self._progress.bar(description, total) as b:
            yield b

    # --- artefacts -----------------------------------------------------------------------------

    def save_figure(self, fig: Any, name: str, caption: str) -> Path:
        """Save a matplotlib figure as ``name``.png (atomically) and list it in the report."""
        path = self.dir / f"{name}.png"
        if self.ranks.is_main:
            records.atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=110))
        self.figures.append(Artifact(path.name, caption))
        return path

    def save_table(self, name: str, rows: Sequence[Mapping[str, Any]], caption: str) -> str:
        """Write ``rows`` to ``name``.csv and return them as a Markdown table for the report."""
        columns = list(rows[0]) if rows else []
        if self.ranks.is_main:
            buf = io.StringIO()
            writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
            writer.writeheader()
            writer.writerows([{k: records.jsonable(v) for k, v in r.items()} for r in rows])
            records.write_text(self.dir / f"{name}.csv", buf.getvalue())
        self.tables.append(Artifact(f"{name}.csv", caption))
        return report.markdown_table(rows, columns)

    def save_file(self, name: str, write: Callable[[Path], None]) -> Path:
        """Let ``write(path)`` make the file ``name`` in the run folder (rank 0 only); its path."""
        path = self.dir / name
        if self.ranks.is_main:
            path.parent.mkdir(parents=True, exist_ok=True)
            write(path)
        return path

    # --- checkpoints: the engine's ---------------------------------------------------------------

    @property
    def checkpoint_path(self) -> Path:
        return self.dir / records.CHECKPOINT

    def _checkpoint_due(self) -> bool:
        return time.monotonic() - self._last_checkpoint >= self.checkpoint_interval

    def _save_state(self, state: dict[str, Any]) -> None:
        """Save the engine's state with the metrics-log position, atomically (rank 0 only)."""
        if self._metrics is not None:
            checkpoint.save(
                self.checkpoint_path,
                {"format": CHECKPOINT_FORMAT, "engine": state, "metrics_lines": self._metrics.lines, "elapsed": self.elapsed()},
            )
        self._last_checkpoint = time.monotonic()

    def _engine_state(self) -> dict[str, Any]:
        """The engine's state: from the last checkpoint the first time (cutting the metrics log
        back to match), rank 0's on every rank."""
        if self._state is None:
            saved = None
            if self.ranks.is_main:
                if self.checkpoint_path.exists():
                    saved = checkpoint.load(self.checkpoint_path)
                    if saved.get("format") != CHECKPOINT_FORMAT:
                        raise UserError(f"{self.checkpoint_path}: written by another version of deepkata; start the run again")
                assert self._metrics is not None
                self._metrics.truncate(0 if saved is None else int(saved["metrics_lines"]))
            saved = distributed.broadcast(saved, self.ranks)
            if saved is None:
                self._state = {"finished": {}, "current": None}
            else:
                self._state = saved["engine"]
                self.elapsed_before = float(saved["elapsed"])
        return self._state

    def _claim_keys(self, keys: Sequence[str]) -> list[str]:
        """Record the keys of a new sweep; those an earlier sweep of this run used."""
        reused = sorted(set(keys) & self._keys)
        self._keys.update(keys)
        return reused

    # --- bookkeeping ---------------------------------------------------------------------------

    def elapsed(self) -> float:
        return self.elapsed_before + time.monotonic() - self._started

    def close(self) -> None:
        if self._metrics is not None:
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
    checkpoint_interval: float = checkpoint.DEFAULT_INTERVAL,
    data: Path | None = None,
    threads: int | None = None,
    device: str = "auto",
    precision: str = "fp32",
) -> RunResult:
    """Run ``kata`` with ``cfg`` and leave its complete record; see the module docstring.

    ``threads`` sets PyTorch's thread count (default: the kata's preference, else PyTorch's);
    results are reproducible for a given count. ``device`` (auto, cpu, cuda, cuda:N) and
    ``precision`` (fp32, bf16) must be ones the kata supports. Under ``torchrun``, every
    rank runs the kata and rank 0 alone writes the run folder.
    """
    previous_threads = torch.get_num_threads()
    try:
        return _execute(
            kata, cfg, preset=preset, seed=seed, root=root, overrides=overrides, quiet=quiet, resume_dir=resume_dir,
            checkpoint_interval=checkpoint_interval, data=data, threads=threads, device=device, precision=precision,
        )  # fmt: skip
    finally:
        torch.set_num_threads(previous_threads)  # the next run of a tour starts from PyTorch's own count


def _execute(
    kata: Kata,
    cfg: Any,
    *,
    preset: str,
    seed: int,
    root: Path,
    overrides: Mapping[str, Any] | None,
    quiet: bool,
    resume_dir: Path | None,
    checkpoint_interval: float,
    data: Path | None,
    threads: int | None,
    device: str,
    precision: str,
) -> RunResult:
    overrides = dict(overrides or {})
    threads = threads or kata.threads
    if threads is not None:
        torch.set_num_threads(threads)
    if data is not None:
        if not kata.takes_data:
            raise UserError(f"{kata.name} takes no --data: its data is {kata.data}")
        data = Path(data).resolve()
        if not data.exists():
            raise UserError(f"--data {data}: no such file or folder")
    where = _device_for(kata, device)
    if precision not in kata.precisions:
        raise UserError(f"--precision {precision}: {kata.name} runs in {', '.join(kata.precisions)} only")
    prec = device_mod.check_precision(precision, where)
    ranks = distributed.from_env()
    if ranks.distributed and not kata.distributed:
        able = ", ".join(k.name for k in all_katas() if k.distributed) or "none"
        raise UserError(f"{kata.name} does not train data-parallel; run it without torchrun (katas that do: {able})")
    ranks = distributed.init(where)
    fresh = resume_dir is None
    # folders this run creates, innermost first: bad input removes them all, leaving no trace
    created = [d for d in (Path(root) / kata.name, Path(root)) if not d.exists()] if fresh else []
    if fresh:
        run_dir = None
        if ranks.is_main:
            run_dir = records.new_run_dir(root, kata.name, seed)
            records.write_json(
                run_dir / records.CONFIG,
                {
                    "kata": kata.name, "preset": preset, "seed": seed, "overrides": overrides,
                    "data": None if data is None else str(data), "threads": threads, "device": str(where),
                    "precision": prec, "world_size": ranks.world_size, "config": config_mod.to_dict(cfg),
                },
            )  # fmt: skip
            records.write_json(run_dir / records.ENV, records.environment())
        run_dir = Path(distributed.broadcast(run_dir, ranks))
    else:
        run_dir = Path(resume_dir)  # type: ignore[arg-type]
    started = records.utc_now()
    run = Run(
        run_dir, kata=kata.name, preset=preset, seed=seed, progress=ProgressBoard(enabled=not quiet and ranks.is_main),
        checkpoint_interval=checkpoint_interval, data=data, device=where, precision=prec, ranks=ranks,
    )  # fmt: skip
    error: str | None = None
    seed_everything(seed)
    try:
        outcome = kata.run(cfg, run)
    except UserError:
        run.close()
        if fresh and ranks.is_main:
            shutil.rmtree(run_dir, ignore_errors=True)
            for folder in created:
                with contextlib.suppress(OSError):
                    folder.rmdir()  # only if still empty: another run may have started beside this one
        raise
    except KeyboardInterrupt:
        run.close()
        raise Interrupted(run_dir) from None
    except Exception as e:
        error = f"{type(e).__name__}: {e}"
        if ranks.is_main:
            records.write_text(run_dir / "error.txt", traceback.format_exc())
        outcome = None
    run.close()

    result: dict[str, Any] = {
        "kata": kata.name,
        "preset": preset,
        "seed": seed,
        "overrides": overrides,
        "data": None if data is None else str(data),
        "device": str(where),
        "precision": prec,
        "world_size": ranks.world_size,
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
    if outcome is not None and outcome.observations:
        judged = [o for o in outcome.observations if o.reproduced is not None]
        result["metrics"]["observations/reproduced"] = sum(bool(o.reproduced) for o in judged)
        result["metrics"]["observations/checked"] = len(judged)
        result["observations"] = [dataclasses.asdict(o) for o in outcome.observations]
    if outcome is not None:
        result["expectations"] = [e.check(result["metrics"]) for e in kata.expectations_for(preset)]
    met = sum(e["met"] for e in result["expectations"])
    result["expectations_met"] = f"{met}/{len(result['expectations'])}"

    if ranks.is_main:
        env = records.read_json(run_dir / records.ENV)
        markdown = report.run_report(kata, cfg, result, env, outcome, run.figures, run.tables)
        records.write_text(run_dir / "report.md", markdown)
        records.write_text(run_dir / "report.html", report.to_html(markdown, title=f"deepkata · {kata.name}"))
        records.write_json(run_dir / records.RESULT, result)  # last: its presence means the run finished
        run.checkpoint_path.unlink(missing_ok=True)
    distributed.barrier(ranks)
    return RunResult(run_dir, result, error)


def _device_for(kata: Kata, spec: str) -> torch.device:
    """The device ``spec`` names, for ``kata``: a NumPy kata computes on the CPU only."""
    if kata.cpu_only:
        if device_mod.check_spec(spec) not in ("auto", "cpu"):
            raise UserError(f"--device {spec}: {kata.name} computes in NumPy on the CPU; use --device cpu (or auto)")
        return torch.device("cpu")
    return device_mod.resolve(spec)


def resume(
    run_dir: Path,
    *,
    quiet: bool = False,
    checkpoint_interval: float = checkpoint.DEFAULT_INTERVAL,
    device: str | None = None,
) -> RunResult:
    """Continue an interrupted run in its own folder, from its last checkpoint.

    It computes on the device it started on unless ``device`` says otherwise.
    """
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
        threads=saved.get("threads"), device=device or saved.get("device", "auto"), precision=saved.get("precision", "fp32"),
    )  # fmt: skip


def finish(run_dir: Path, *, quiet: bool = False) -> tuple[Path, dict[str, Any]]:
    """A run's folder and result: taken as it is when it finished, else resumed to its end."""
    run_dir = Path(run_dir)
    if (run_dir / records.RESULT).is_file():
        return run_dir, records.read_json(run_dir / records.RESULT)
    res = resume(run_dir, quiet=quiet)
    return res.dir, res.result
