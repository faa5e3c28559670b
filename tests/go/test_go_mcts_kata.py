"""The go-mcts kata through the runner: its record, its games as SGF, and resuming."""

from __future__ import annotations

import pytest

from deepkata.core import records, runner
from deepkata.go.sgf import read_sgf
from tests.conftest import resume_run, run_kata

TINY = ["size=5", "komi=3", "games=4", "playouts=60"]


def test_games_are_recorded_and_scored(tmp_path):
    res = run_kata("go-mcts", tmp_path, sets=TINY)
    m = res.result["metrics"]
    assert res.status == "completed" and m["eval/games"] == 4
    assert m["mcts/min_playouts"] == 60
    lines = records.read_metrics(res.dir / "metrics.jsonl")
    assert [r["step"] for r in lines] == [1, 2, 3, 4] and [r["mcts"] for r in lines] == ["black", "white", "black", "white"]
    for k, line in enumerate(lines, start=1):
        state = read_sgf(res.dir / "games" / f"game-{k:03d}.sgf").to_state()
        assert state.size == 5 and len(state.moves) == line["moves"]
        mcts_colour = 0 if line["mcts"] == "black" else 1
        margin = state.score() if mcts_colour == 0 else -state.score()
        assert margin == line["margin"] and (margin > 0) == bool(line["mcts_won"])
    # the totals are the games' own, counted again from the log
    wins = [r["mcts_won"] for r in lines]
    assert m["eval/wins"] == sum(wins) and m["eval/draws"] == sum(r["margin"] == 0 for r in lines)
    assert (m["eval/wins_as_black"], m["eval/wins_as_white"]) == (sum(wins[0::2]), sum(wins[1::2]))
    assert m["eval/margin_mean"] == pytest.approx(sum(r["margin"] for r in lines) / 4)
    assert m["eval/score"] == pytest.approx((m["eval/wins"] + m["eval/draws"] / 2) / 4)
    assert m["eval/score_low"] < m["eval/score"] <= m["eval/score_high"]
    assert res.result["timings"]["mcts/playouts_per_s"] > 0  # a timing, not a metric
    table = (res.dir / "games.csv").read_text().splitlines()
    assert table[0].startswith("game,MCTS plays,winner,") and len(table) == 5


def sgf_files(res):
    return [(res.dir / "games" / f"game-{k:03d}.sgf").read_text() for k in range(1, 5)]


def test_a_resumed_run_plays_the_same_games(tmp_path, interrupt_at_checkpoint):
    whole = run_kata("go-mcts", tmp_path / "whole", sets=TINY)
    interrupt_at_checkpoint(2)  # after game 2: a game is saved once it is over
    with pytest.raises(runner.Interrupted) as e:
        run_kata("go-mcts", tmp_path / "cut", sets=TINY, checkpoint_interval=0)
    assert len(records.read_metrics(e.value.run_dir / "metrics.jsonl")) == 2
    resumed = resume_run(e.value.run_dir)
    assert resumed.result["resumed"] and resumed.result["metrics"] == whole.result["metrics"]
    moves = lambda r: [(x["step"], x["moves"], x["margin"]) for x in records.read_metrics(r.dir / "metrics.jsonl")]  # noqa: E731
    assert moves(resumed) == moves(whole)
    assert sgf_files(resumed) == sgf_files(whole)


def test_a_seed_fixes_the_games(tmp_path):
    a, b, c = (run_kata("go-mcts", tmp_path, sets=TINY, seed=s) for s in (4, 4, 5))
    assert sgf_files(a) == sgf_files(b) and sgf_files(a) != sgf_files(c)
