"""The training engine: sweeps, per-job seeds, checkpoints, resume, devices and ranks."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pytest
import torch

from deepkata.core import checkpoint, records, runner
from deepkata.core.config import KataConfig, param
from deepkata.core.distributed import Ranks
from deepkata.core.engine import JobContext, JobSpec, SweepError, Task
from deepkata.core.errors import UserError
from deepkata.core.progress import ProgressBoard
from deepkata.core.registry import Kata, Outcome, register, unregister
from deepkata.core.runner import Run
from tests.conftest import resume_run, run_kata

BUILT: list[str] = []  # keys of the jobs make_job built, in order (reset by each test)
STEPPED: list[tuple[str, int]] = []  # (key, step) of every step taken


@dataclass(frozen=True, kw_only=True)
class SweepConfig(KataConfig):
    jobs: int = param(3, "jobs in the first sweep", gt=0)
    steps: int = param(6, "steps per job", gt=0)
    second: int = param(0, "jobs in a second sweep", ge=0)
    stop_at: str = param("", "key:step at which Ctrl-C strikes (after that step's checkpoint)")
    mode: Literal["ok", "wrong-device", "not-a-job", "duplicate", "reuse"] = param("ok", "what the kata does wrong")


class DrawJob:
    """Draws one number a step from its own generator and one from PyTorch's global one."""

    def __init__(self, steps: int, ctx: JobContext) -> None:
        BUILT.append(ctx.key)
        self.ctx, self.steps = ctx, steps
        self.rng = np.random.default_rng(ctx.seed)
        self.first_global = float(torch.rand(()))  # the engine seeded the global generator with the job's seed
        self.count, self.own, self.glob = 0, [], []
        self.device, self.total = ctx.device, steps

    @property
    def progress(self) -> int:
        return self.count

    @property
    def done(self) -> bool:
        return self.count >= self.steps

    def step(self) -> None:
        self.count += 1
        self.own.append(float(self.rng.random()))
        self.glob.append(float(torch.rand(())))  # continues across a resume only if the engine restores it
        STEPPED.append((self.ctx.key, self.count))
        self.ctx.log(self.count, {"train/draw": self.own[-1]})

    def state_dict(self) -> dict[str, Any]:
        return {"count": self.count, "own": list(self.own), "glob": list(self.glob), "rng": self.rng.bit_generator.state,
                "first": self.first_global}  # fmt: skip

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.count, self.own, self.glob = state["count"], list(state["own"]), list(state["glob"])
        self.rng.bit_generator.state = state["rng"]
        self.first_global = state["first"]

    def result(self) -> dict[str, Any]:
        return {"own": self.own, "glob": self.glob, "first_global": self.first_global, "seed": self.ctx.seed}


def sweep_run(cfg: SweepConfig, run: Run) -> Outcome:
    def make(steps: int, ctx: JobContext) -> Any:
        job = DrawJob(steps, ctx)
        if cfg.mode == "wrong-device":
            job.device = torch.device("meta")
        if cfg.mode == "not-a-job":
            return object()
        return job

    grid = [JobSpec(f"a{k}", cfg.steps, seed=100 + k) for k in range(cfg.jobs)]
    if cfg.mode == "duplicate":
        grid.append(grid[0])
    results = run.sweep(grid, make)
    if cfg.second or cfg.mode == "reuse":
        keys = ["a0"] if cfg.mode == "reuse" else [f"b{k}" for k in range(cfg.second)]
        results |= run.sweep([JobSpec(k, cfg.steps, tags={"phase": 2}) for k in keys], make)
    metrics = {f"{k}/sum": float(np.sum(r["own"])) for k, r in results.items()}
    metrics |= {f"{k}/glob": float(np.sum(r["glob"])) for k, r in results.items()}
    return Outcome(metrics, json.dumps({k: r for k, r in results.items()}))


KATA = Kata(
    name="engine-test", topic="test", section="none", description="engine tests", config=SweepConfig, run=sweep_run,
    presets={"smoke": {}, "default": {}, "full": {}},
)  # fmt: skip


@pytest.fixture(autouse=True)
def kata():
    BUILT.clear()
    STEPPED.clear()
    register(KATA)
    yield KATA
    unregister(KATA.name)


def results(res: runner.RunResult) -> dict[str, Any]:
    summary = (res.dir / "report.md").read_text().split("## Summary\n\n")[1].split("\n\n")[0]
    return json.loads(summary)


def test_a_sweep_runs_every_job_with_its_own_seed_and_logs_it_tagged(tmp_path):
    res = run_kata("engine-test", tmp_path, sets=["jobs=3", "steps=4", "second=1"], seed=7)
    assert res.status == "completed", res.error
    out = results(res)
    assert list(out) == ["a0", "a1", "a2", "b0"]  # grid order
    for k in range(3):
        assert out[f"a{k}"]["seed"] == 100 + k
        assert out[f"a{k}"]["own"] == list(np.random.default_rng(100 + k).random(4))
        torch.manual_seed(100 + k)
        assert out[f"a{k}"]["first_global"] == float(torch.rand(()))
    assert out["b0"]["seed"] == 7  # no seed in its spec: the run's
    lines = records.read_metrics(res.dir / "metrics.jsonl")
    assert [(m.get("job"), m.get("phase"), m["step"]) for m in lines[:5]] == [("a0", None, 1), ("a0", None, 2), ("a0", None, 3), ("a0", None, 4), ("a1", None, 1)]
    assert lines[-1] == {"step": 4, "phase": 2, "train/draw": out["b0"]["own"][-1]}
    assert not (res.dir / "checkpoint.pt").exists()


def test_an_interrupted_sweep_resumes_where_it_stopped_and_ends_the_same(tmp_path, interrupt_at_checkpoint):
    whole = run_kata("engine-test", tmp_path / "whole", sets=["jobs=3", "steps=5", "second=2"])
    BUILT.clear()
    STEPPED.clear()
    # checkpoints after every step but the last of a job, and once it finishes (interval 0):
    # a0 steps 1-4, a0 finished, a1 steps 1-2 -> the 7th save
    interrupt_at_checkpoint(7)
    with pytest.raises(runner.Interrupted) as e:
        run_kata("engine-test", tmp_path / "cut", sets=["jobs=3", "steps=5", "second=2"], checkpoint_interval=0)
    assert STEPPED[-1] == ("a1", 2)
    BUILT.clear()
    STEPPED.clear()
    resumed = resume_run(e.value.run_dir)
    assert BUILT == ["a1", "a2", "b0", "b1"]  # a0 finished before: its result came from the checkpoint
    assert STEPPED[0] == ("a1", 3)  # a1 continued from its state, not from the start
    assert resumed.result["metrics"] == whole.result["metrics"]  # global draws included
    assert results(resumed) == results(whole)
    logged = [(m["job"], m["step"]) for m in records.read_metrics(e.value.run_dir / "metrics.jsonl") if "job" in m]
    assert logged == [(f"a{k}", s) for k in range(3) for s in range(1, 6)]  # each step once


def test_an_interrupt_in_a_second_sweep_does_not_rerun_the_first(tmp_path, interrupt_at_checkpoint):
    whole = run_kata("engine-test", tmp_path / "whole", sets=["jobs=2", "steps=2", "second=2"])
    interrupt_at_checkpoint(5)  # a0 step 1, a0 finished, a1 step 1, a1 finished, b0 step 1 -> cut there
    with pytest.raises(runner.Interrupted) as e:
        run_kata("engine-test", tmp_path / "cut", sets=["jobs=2", "steps=2", "second=2"], checkpoint_interval=0)
    BUILT.clear()
    resumed = resume_run(e.value.run_dir)
    assert BUILT == ["b0", "b1"]
    assert resumed.result["metrics"] == whole.result["metrics"]


@pytest.mark.parametrize(
    "mode, error",
    [
        ("wrong-device", "job 'a0' is on meta, but the run computes on cpu"),
        ("not-a-job", "make_job returned object for 'a0', which lacks the Job methods"),
        ("duplicate", "a sweep's keys must be unique; repeated: ['a0']"),
        ("reuse", "keys already used by an earlier sweep of this run: ['a0']"),
    ],
)
def test_a_kata_that_misuses_the_engine_fails_with_a_clear_error(tmp_path, mode, error):
    res = run_kata("engine-test", tmp_path, sets=[f"mode={mode}", "jobs=1", "steps=1"])
    assert res.status == "failed"
    assert error in res.error


def test_a_finished_job_is_never_saved_as_in_progress(tmp_path, monkeypatch):
    saved = []
    monkeypatch.setattr(Run, "_save_state", lambda self, state: saved.append((sorted(state["finished"]), (state["current"] or {}).get("key"))))
    run_kata("engine-test", tmp_path, sets=["jobs=2", "steps=2"], checkpoint_interval=0)
    assert saved == [([], "a0"), (["a0"], None), (["a0"], "a1"), (["a0", "a1"], None)]


def test_a_task_runs_whole_once_and_restarts_whole_after_an_interrupt():
    calls = []
    task = Task(lambda: calls.append(1) or len(calls), total=3)
    assert (task.done, task.progress, task.total, task.state_dict()) == (False, 0, 3, {})
    task.step()
    assert (task.done, task.progress, task.result()) == (True, 3, 1)
    again = Task(lambda: calls.append(1) or len(calls))
    again.load_state_dict(task.state_dict())
    assert not again.done


def test_a_checkpoint_from_another_format_is_refused(tmp_path, interrupt_at_checkpoint):
    interrupt_at_checkpoint(1)
    with pytest.raises(runner.Interrupted) as e:
        run_kata("engine-test", tmp_path, sets=["jobs=1", "steps=3"], checkpoint_interval=0)
    path = e.value.run_dir / "checkpoint.pt"
    saved = checkpoint.load(path)
    checkpoint.save(path, {**saved, "format": "something-else"})
    with pytest.raises(UserError, match="checkpoint.pt: written by another version of deepkata"):
        resume_run(e.value.run_dir)


def test_ranks_other_than_0_write_nothing(tmp_path, monkeypatch):
    from deepkata.core import distributed

    monkeypatch.setattr(distributed, "broadcast", lambda obj, ranks: None)  # rank 0 had no checkpoint
    run = Run(tmp_path, kata="engine-test", preset="smoke", seed=0, progress=ProgressBoard(enabled=False),
              checkpoint_interval=0, ranks=Ranks(rank=1, world_size=2))  # fmt: skip
    out = run.sweep([JobSpec("a0", 3, seed=1)], lambda steps, ctx: DrawJob(steps, ctx))
    run.save_table("t", [{"a": 1}], "a table")
    run.save_file("x.bin", lambda p: p.write_bytes(b"x"))

    import matplotlib.pyplot as plt

    run.save_figure(plt.figure(), "f", "a figure")
    run.close()
    assert out["a0"]["own"] == list(np.random.default_rng(1).random(3))  # it computed the same
    assert list(tmp_path.iterdir()) == []  # and wrote nothing: no log, checkpoint, table, file or figure
    assert [a.file for a in run.figures] == ["f.png"]  # the report would still list them (rank 0 writes it)


def test_ranks_share_a_global_batch_in_contiguous_parts():
    parts = [Ranks(r, 3).share(10) for r in range(3)]
    assert parts == [slice(0, 4), slice(4, 7), slice(7, 10)]
    assert Ranks().share(5) == slice(0, 5)
