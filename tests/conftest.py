"""Shared fixtures: a throwaway kata for platform tests, and quiet matplotlib."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

from deepkata.core.config import KataConfig, param  # noqa: E402
from deepkata.core.errors import UserError  # noqa: E402
from deepkata.core.registry import Expectation, Kata, Outcome, register, unregister  # noqa: E402


@dataclass(frozen=True)
class ToyConfig(KataConfig):
    steps: int = param(20, "steps to count", gt=0)
    rate: float = param(0.5, "how much each step adds", gt=0)
    mode: Literal["ok", "crash", "bad-input", "interrupt"] = param("ok", "what the run does")


def toy_run(cfg: ToyConfig, run) -> Outcome:
    """Counts up, logging each step; checkpoints so it can resume; fails on request."""
    import numpy as np

    state = run.load_checkpoint() or {"step": 0, "total": 0.0, "draws": []}
    rng = np.random.default_rng(run.seed)
    rng.bit_generator.advance(state["step"])
    with run.bar("toy", cfg.steps) as bar:
        while state["step"] < cfg.steps:
            state["total"] += cfg.rate
            state["draws"].append(float(rng.random()))
            state["step"] += 1
            run.log(state["step"], {"train/total": state["total"]})
            bar.advance()
            if run.checkpoint_due():
                run.save_checkpoint(state)
            if cfg.mode == "interrupt" and state["step"] == cfg.steps // 2:
                raise KeyboardInterrupt
            if cfg.mode == "crash" and state["step"] == 3:
                raise RuntimeError("toy crash")
            if cfg.mode == "bad-input":
                raise UserError("toy.csv: line 3: expected a number")
    return Outcome({"train/total": state["total"], "eval/draw_sum": sum(state["draws"]), "eval/nan": float("nan")}, "Toy summary.")


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

    original = Run.save_checkpoint

    def arm(n: int) -> None:
        calls = {"n": 0}

        def save_then_die(self, state):
            original(self, state)
            calls["n"] += 1
            if calls["n"] == n:
                monkeypatch.setattr(Run, "save_checkpoint", original)  # the resumed run saves normally
                raise KeyboardInterrupt

        monkeypatch.setattr(Run, "save_checkpoint", save_then_die)

    return arm


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
