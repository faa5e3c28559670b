"""Shared fixtures: a throwaway kata for platform tests, and quiet matplotlib."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402

from deepkata.core.config import KataConfig, param  # noqa: E402
from deepkata.core.engine import JobContext, JobSpec  # noqa: E402
from deepkata.core.errors import UserError  # noqa: E402
from deepkata.core.registry import Expectation, Kata, Outcome, register, unregister  # noqa: E402


@dataclass(frozen=True, kw_only=True)
class ToyConfig(KataConfig):
    steps: int = param(20, "steps to count", gt=0)
    rate: float = param(0.5, "how much each step adds", gt=0)
    mode: Literal["ok", "crash", "bad-input", "interrupt"] = param("ok", "what the run does")


class ToyJob:
    """Counts up, drawing a random number a step; fails on request."""

    def __init__(self, cfg: ToyConfig, ctx: JobContext) -> None:
        self.cfg, self.ctx = cfg, ctx
        self.rng = np.random.default_rng(ctx.seed)
        self.count, self.total_value, self.draws = 0, 0.0, []
        self.device = ctx.device
        self.total = cfg.steps

    @property
    def progress(self) -> int:
        return self.count

    @property
    def done(self) -> bool:
        return self.count >= self.cfg.steps

    def step(self) -> None:
        self.total_value += self.cfg.rate
        self.draws.append(float(self.rng.random()))
        self.count += 1
        self.ctx.log(self.count, {"train/total": self.total_value})
        if self.cfg.mode == "interrupt" and self.count == self.cfg.steps // 2:
            raise KeyboardInterrupt
        if self.cfg.mode == "crash" and self.count == 3:
            raise RuntimeError("toy crash")
        if self.cfg.mode == "bad-input":
            raise UserError("toy.csv: line 3: expected a number")

    def state_dict(self) -> dict:
        return {"count": self.count, "total": self.total_value, "draws": list(self.draws), "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self.count, self.total_value, self.draws = state["count"], state["total"], list(state["draws"])
        self.rng.bit_generator.state = state["rng"]

    def result(self) -> dict:
        return {"total": self.total_value, "draws": self.draws}


def toy_run(cfg: ToyConfig, run) -> Outcome:
    """One counting job on the engine: it checkpoints, resumes and fails on request."""
    job = run.sweep([JobSpec("count", cfg)], ToyJob)["count"]
    return Outcome({"train/total": job["total"], "eval/draw_sum": sum(job["draws"]), "eval/nan": float("nan")}, "Toy summary.")


TOY = Kata(
    name="toy",
    topic="test",
    section="none",
    description="a kata for platform tests",
    config=ToyConfig,
    run=toy_run,
    presets={"smoke": {"steps": 5}, "default": {}, "full": {"steps": 50}},
    expectations=(
        Expectation("total reaches 10", "train/total", ">=", 10.0),
        Expectation("total about 2.5", "train/total", "~", 2.5, tol=0.01, presets=("smoke",)),
        Expectation("nan is never met", "eval/nan", "<=", 1.0),
    ),
)


@pytest.fixture
def toy_kata() -> Iterator[Kata]:
    register(TOY)
    try:
        yield TOY
    finally:
        unregister(TOY.name)


@pytest.fixture
def interrupt_at_checkpoint(monkeypatch):
    """``interrupt_at_checkpoint(n)``: the n-th checkpoint is saved, then Ctrl-C strikes."""
    from deepkata.core.runner import Run

    original = Run._save_state

    def arm(n: int) -> None:
        calls = {"n": 0}

        def save_then_die(self, state):
            original(self, state)
            calls["n"] += 1
            if calls["n"] == n:
                monkeypatch.setattr(Run, "_save_state", original)  # the resumed run saves normally
                raise KeyboardInterrupt

        monkeypatch.setattr(Run, "_save_state", save_then_die)

    return arm


def run_kata(kata, tmp_path, preset="smoke", sets=(), seed=0, **kwargs):
    """Run ``kata`` (a name or a Kata) with ``preset`` and ``--set`` assignments, quietly, under
    ``tmp_path``: what ``deepkata run`` does, in-process. Keyword arguments go to the runner
    (``checkpoint_interval``, ``data``, ``device``...)."""
    from deepkata.core import runner
    from deepkata.core.registry import get_kata

    k = get_kata(kata) if isinstance(kata, str) else kata
    cfg, overrides = runner.prepare(k, preset, list(sets))
    return runner.execute(k, cfg, preset=preset, seed=seed, root=tmp_path, overrides=overrides, quiet=True, **kwargs)


def resume_run(run_dir, **kwargs):
    """``deepkata resume run_dir``, in-process and quiet."""
    from deepkata.core import runner

    return runner.resume(run_dir, quiet=True, **kwargs)


@pytest.fixture
def cli(capsys):
    """``cli(*args)`` runs the deepkata command in-process: (exit code, stdout, stderr)."""
    from deepkata.cli import main

    def call(*args: str) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as e:
            main(list(args))
            raise SystemExit(0)
        captured = capsys.readouterr()
        return e.value.code or 0, captured.out, captured.err

    return call


def cpu_runs_bf16_lstm() -> bool:
    """Whether this CPU's oneDNN has a bfloat16 LSTM (it refuses one on CPUs without bf16 support)."""
    import torch

    lstm = torch.nn.LSTM(2, 3, batch_first=True)
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            lstm(torch.zeros(1, 4, 2, device="cpu"))
    except RuntimeError as e:
        if "primitive" in str(e):
            return False
        raise
    return True


# the oneDNN of a CPU without bfloat16 support refuses a bf16 LSTM ("could not create a primitive descriptor")
NEEDS_BF16_LSTM = pytest.mark.skipif(not cpu_runs_bf16_lstm(), reason="this CPU's oneDNN cannot create a bfloat16 LSTM primitive")
