"""The go-mcts kata through the runner: its record, its games as SGF, and resuming."""

from __future__ import annotations

import pytest

from deepkata.core import records, runner
from deepkata.core.registry import get_kata
from deepkata.core.runner import Run
from deepkata.go.sgf import read_sgf

KATA = get_kata("go-mcts")
TINY = ["size=5", "komi=3", "games=4", "playouts=60"]


def run(tmp_path, sets=TINY, seed=0, **kwargs):
    cfg, overrides = runner.prepare(KATA, "smoke", list(sets))
    return runner.execute(KATA, cfg, preset="smoke", seed=seed, root=tmp_path, overrides=overrides, quiet=True, **kwargs)


def test_games_are_recorded_and_scored(tmp_path):
    res = run(tmp_path)
    m = res.result["metrics"]
    assert res.status == "completed" and m["eval/games"] == 4
    assert m["eval/wins"] + m["eval/draws"] <= 4 and m["mcts/min_playouts"] == 60
    lines = records.read_metrics(res.dir / "metrics.jsonl")
    assert [r["step"] for r in lines] == [1, 2, 3, 4] and [r["mcts"] for r in lines] == ["black", "white", "black", "white"]
    for k, line in enumerate(lines, start=1):
        state = read_sgf(res.dir / "games" / f"game-{k:03d}.sgf").to_state()
        assert state.size == 5 and len(state.moves) == line["moves"]
        mcts_colour = 0 if line["mcts"] == "black" else 1
        margin = state.score() if mcts_colour == 0 else -state.score()
        assert margin == line["margin"] and (margin > 0) == bool(line["mcts_won"])
    assert "| game | MCTS plays | winner |" in (res.dir / "report.md").read_text()


def test_a_resumed_run_plays_the_same_games(tmp_path, monkeypatch):
    whole = run(tmp_path / "whole")
    original = Run.save_checkpoint
    calls = {"n": 0}

    def save_then_die(self, state):
        original(self, state)
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(Run, "save_checkpoint", save_then_die)
    with pytest.raises(runner.Interrupted) as e:
        run(tmp_path / "cut", checkpoint_interval=0)
    monkeypatch.setattr(Run, "save_checkpoint", original)
    resumed = runner.resume(e.value.run_dir, quiet=True)
    timing = {"mcts/playouts_per_s", "mcts/seconds_per_move"}
    same = lambda m: {k: v for k, v in m.items() if k not in timing}  # noqa: E731
    assert same(resumed.result["metrics"]) == same(whole.result["metrics"])
    moves = lambda r: [(x["step"], x["moves"], x["margin"]) for x in records.read_metrics(r.dir / "metrics.jsonl")]  # noqa: E731
    assert moves(resumed) == moves(whole)


def test_a_seed_fixes_the_games(tmp_path):
    a, b = run(tmp_path, seed=4), run(tmp_path, seed=4)
    assert [x["margin"] for x in records.read_metrics(a.dir / "metrics.jsonl")] == [x["margin"] for x in records.read_metrics(b.dir / "metrics.jsonl")]
