"""The training engine: a kata declares its jobs; the engine runs, checkpoints and resumes them.

A kata's work is a grid of jobs (binary-addition's seven settings x five seeds, tabular's
algorithms x runs, the epochs of one Transformer). It lists them as :class:`JobSpec` and
says how to build each one::

    grid = [JobSpec(f"{s.id}/seed{seed}", s, seed=seed) for s in SETTINGS for seed in seeds]
    results = run.sweep(grid, make_job, description="7 settings x 5 seeds")
    # results: {key: what job.result() returned}, in grid order

``make_job(params, ctx)`` returns a :class:`Job`: a trainer that advances by :meth:`Job.step`,
knows its device, and keeps its whole state in :meth:`Job.state_dict`. The engine owns the
rest, for every kata alike:

- **checkpoints**: after any step, once ``--checkpoint-every`` seconds have passed, it saves
  the results of the finished jobs and the state of the job in progress, atomically, in the
  run folder's ``checkpoint.pt`` (one format for every kata);
- **resume**: finished jobs are not run again; the job in progress is rebuilt and
  continues from its state, so an interrupted run ends with the same numbers;
- **seeds**: each job's seed (its spec's, else the run's) seeds PyTorch's, NumPy's and
  Python's global generators before the job is built, and their states travel with the job
  in progress;
- **progress**: a bar over the jobs and one over the job's own work (``total``/``progress``);
- **logging**: :meth:`JobContext.log` writes namespaced metrics tagged with the job;
- **devices**: the job is built for the run's device and precision (:attr:`JobContext.device`,
  :meth:`JobContext.autocast`) and refused if it ends up elsewhere;
- **ranks**: under ``torchrun`` every rank runs the sweep in lockstep, resumes from rank
  0's checkpoint, and only rank 0 writes (:attr:`JobContext.ranks`, :meth:`JobContext.wrap`).

A job that cannot pause midway (one Go game, one bandit simulation) is a :class:`Task`: one
step, nothing to save.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, runtime_checkable

import numpy as np
import torch
from torch import nn

from deepkata.core import device as device_mod
from deepkata.core import distributed
from deepkata.core.device import Precision
from deepkata.core.distributed import Ranks
from deepkata.core.progress import Bar
from deepkata.core.seeding import seed_everything

if TYPE_CHECKING:
    from deepkata.core.runner import Run

P = TypeVar("P")


@runtime_checkable
class Job(Protocol):
    """The trainer protocol: what the engine drives. Library trainers implement it as they are
    or inside a small adapter in the kata."""

    @property
    def device(self) -> torch.device:
        """Where its tensors live (``cpu`` for NumPy code)."""

    @property
    def total(self) -> float | None:
        """Units of work in all (iterations, epochs, environment steps), for the progress bar."""

    @property
    def progress(self) -> float:
        """Units done so far."""

    @property
    def done(self) -> bool: ...

    def step(self) -> None:
        """Advance by one chunk of work, after which a checkpoint may be taken."""

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly: tensors, arrays, numbers, strings, None."""

    def load_state_dict(self, state: dict[str, Any]) -> None: ...

    def result(self) -> Any:
        """The finished job's record (plain data, arrays, tensors): what the report is made from."""


@dataclass(frozen=True)
class JobSpec(Generic[P]):
    """One point of a sweep's grid."""

    key: str  # unique in the run: names the job in the checkpoint, the log and the results
    params: P = None  # type: ignore[assignment]  # what make_job needs to build it
    seed: int | None = None  # None: the run's seed
    tags: Mapping[str, Any] | None = None  # columns of its lines in metrics.jsonl; None: {"job": key}


@dataclass
class JobContext:
    """What ``make_job`` gets besides its params: the job's key and seed, device, ranks, log."""

    key: str
    seed: int
    device: torch.device
    precision: Precision
    ranks: Ranks
    _run: Run
    _tags: Mapping[str, Any]
    _bar: Bar

    def log(self, step: int, metrics: Mapping[str, Any]) -> None:
        """Append ``metrics`` (namespaced: ``train/loss``) at ``step`` to ``metrics.jsonl``, tagged."""
        self._run.log(step, metrics, **self._tags)

    def autocast(self) -> Any:
        """The run's precision for a forward pass: bf16 autocast, or nothing for fp32."""
        return device_mod.autocast(self.device, self.precision)

    def wrap(self, model: nn.Module) -> nn.Module:
        """``model`` wrapped for data-parallel training under torchrun; itself otherwise."""
        return distributed.wrap(model, self.ranks, self.device)

    def report_progress(self, progress: float) -> None:
        """Move the job's bar during a long step (a :class:`Task` playing a whole game)."""
        self._bar.update(progress)


class Task:
    """A job of one step that cannot pause midway: ``fn()`` runs whole and its value is the result."""

    def __init__(self, fn: Callable[[], Any], *, total: float = 1, device: torch.device | None = None) -> None:
        self._fn, self._total = fn, total
        self._device = device or torch.device("cpu")
        self._result: Any = None
        self._done = False

    @property
    def device(self) -> torch.device:
        return self._device

    @property
    def total(self) -> float:
        return self._total

    @property
    def progress(self) -> float:
        return self._total if self._done else 0

    @property
    def done(self) -> bool:
        return self._done

    def step(self) -> None:
        self._result = self._fn()
        self._done = True

    def state_dict(self) -> dict[str, Any]:
        return {}  # interrupted midway, it starts again

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass

    def result(self) -> Any:
        return self._result


# --- global generators ---------------------------------------------------------------------------


def rng_states() -> dict[str, Any]:
    """The global generators' states (PyTorch CPU and CUDA, NumPy, Python)."""
    py = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": list(np.random.get_state()),
        "python": [py[0], list(py[1]), py[2]],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_states(state: Mapping[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(tuple(state["numpy"]))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# --- the sweep -----------------------------------------------------------------------------------


class SweepError(ValueError):
    """A grid that cannot run: a key twice, or a key an earlier sweep of the run used."""


def sweep(
    run: Run,
    grid: Iterable[JobSpec[P]],
    make_job: Callable[[P, JobContext], Job],
    *,
    description: str = "jobs",
) -> dict[str, Any]:
    """Run every job of ``grid`` to its end (see the module docstring); their results by key."""
    specs = list(grid)
    keys = [s.key for s in specs]
    if len(set(keys)) != len(keys):
        raise SweepError(f"a sweep's keys must be unique; repeated: {sorted({k for k in keys if keys.count(k) > 1})}")
    reused = run._claim_keys(keys)
    if reused:
        raise SweepError(f"keys already used by an earlier sweep of this run: {reused}")
    state = run._engine_state()
    finished: dict[str, Any] = state["finished"]
    outer = run.bar(description, len(specs)) if len(specs) > 1 else contextlib.nullcontext(Bar(None, None))
    with outer as bar:
        bar.advance(sum(k in finished for k in keys))
        for spec in specs:
            if spec.key in finished:
                continue
            finished[spec.key] = _run_job(run, spec, make_job, state)
            bar.advance()
            if run._checkpoint_due():
                run._save_state(state)
    return {k: finished[k] for k in keys}


def _run_job(run: Run, spec: JobSpec[P], make_job: Callable[[P, JobContext], Job], state: dict[str, Any]) -> Any:
    seed = run.seed if spec.seed is None else spec.seed
    seed_everything(seed)
    with run.bar(f"  {spec.key}", None) as bar:
        ctx = JobContext(spec.key, seed, run.device, run.precision, run.ranks, run, {"job": spec.key} if spec.tags is None else dict(spec.tags), bar)
        job = make_job(spec.params, ctx)
        if not isinstance(job, Job):
            raise TypeError(f"make_job returned {type(job).__name__} for {spec.key!r}, which lacks the Job methods")
        if job.device != run.device:
            raise RuntimeError(f"job {spec.key!r} is on {job.device}, but the run computes on {run.device}")
        current = state["current"]
        if current is not None and current["key"] == spec.key:
            job.load_state_dict(current["state"])
            set_rng_states(current["rng"])
        bar.reset(job.total, job.progress)
        while not job.done:
            job.step()
            bar.update(job.progress)
            if not job.done and run._checkpoint_due():  # a finished job is saved by its result
                state["current"] = {"key": spec.key, "state": job.state_dict(), "rng": rng_states()}
                run._save_state(state)
        result = job.result()
    state["current"] = None
    return result

