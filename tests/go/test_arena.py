"""The arena with real engine processes: ours, and fakes that crash, hang or cheat."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from deepkata.core.errors import UserError
from deepkata.go.arena import (
    ArenaSettings,
    GtpProcess,
    read_games,
    run_arena,
    summarize,
)
from deepkata.go.coords import parse_gtp_vertex
from deepkata.go.sgf import read_sgf

FAKE = f"{sys.executable} {Path(__file__).parent / 'fake_engine.py'}"
RANDOM = f"{sys.executable} -m deepkata gtp --player random --seed 1"


def settings(a: str, b: str, games: int = 2, **kw) -> ArenaSettings:
    return ArenaSettings(a, b, games, kw.get("size", 5), kw.get("komi", 0.5), kw.get("max_moves", 75), kw.get("move_timeout", 20.0))


def test_two_engines_alternate_colours_and_every_game_is_saved(tmp_path):
    games = run_arena(settings(RANDOM, f"{sys.executable} -m deepkata gtp --player random --seed 2", games=3), tmp_path)
    assert [g.black for g in games] == ["A", "B", "A"]
    for g in games:
        assert g.reason in ("score", "move limit") and g.winner in ("A", "B", None)
        assert set(g.engine_scores) == {"A", "B"} and g.scores_agree  # both engines count as we do
        sgf = read_sgf(tmp_path / f"game-{g.index:04d}.sgf")
        state = sgf.to_state()
        assert state.score() == g.area_score and sgf.info["PB"].startswith(g.black)
        # where the area count and the engines' differ, both engines named the same dead stones
        dead = [parse_gtp_vertex(v, 5) for v in g.dead]
        assert state.without(dead).score() == g.our_score and g.settled_by in (None, "engines")
        assert (g.settled_by is None) == (g.area_score == g.our_score)
    s = summarize(games)
    assert s["games"] == 3 and s["a_wins"] + s["b_wins"] + s["draws"] == 3
    assert s["scores_checked"] == 3 and s["scores_agree"] == 3 and s["winners_agree"] == 3


@pytest.mark.parametrize(
    "mode, reason, detail",
    [
        ("crash", "crash", "exited while answering 'genmove'"),
        ("hang", "timeout", "did not answer 'genmove' in time"),
        ("illegal", "illegal", "played 'A1'"),
        ("nonsense", "illegal", "played 'banana'"),
        ("refuse", "protocol", "refused"),
    ],
)
def test_a_failing_engine_loses_and_the_match_goes_on(tmp_path, mode, reason, detail):
    n = 2 if mode in ("crash", "hang") else 1  # the failed engine is restarted for the next game
    opponent = RANDOM if mode == "refuse" else f"{FAKE} pass"  # only a refusal needs stones played
    # only the hanging engine needs a short timeout; a real engine under load may take over 1 s
    timeout = 1.0 if mode == "hang" else 20.0
    games = run_arena(settings(f"{FAKE} {mode}", opponent, games=n, move_timeout=timeout), tmp_path)
    assert len(games) == n
    for g in games:
        assert g.winner == "B" and g.reason == reason and detail in g.detail
        assert (tmp_path / f"game-{g.index:04d}.sgf").exists()
    assert summarize(games)["endings"] == {reason: n}


def test_a_passing_engine_loses_on_the_board(tmp_path):
    (g,) = run_arena(settings(f"{FAKE} pass", RANDOM, games=1), tmp_path)
    assert g.reason in ("score", "move limit") and g.winner == "B" and g.engine_scores.keys() == {"B"}


def test_an_interrupted_match_continues_and_other_settings_are_refused(tmp_path):
    first = run_arena(settings(RANDOM, f"{FAKE} pass", games=1), tmp_path)
    both = run_arena(settings(RANDOM, f"{FAKE} pass", games=3), tmp_path)
    assert len(both) == 3 and both[0] == first[0] and len(read_games(tmp_path)) == 3
    assert len((tmp_path / "games.jsonl").read_text().splitlines()) == 3
    with pytest.raises(UserError, match="holds a match with other settings"):
        run_arena(settings(RANDOM, f"{FAKE} pass", games=3, komi=7.0), tmp_path)


def test_a_missing_engine_is_a_user_error():
    with pytest.raises(UserError, match="cannot start engine '/no/such/engine'"):
        GtpProcess("/no/such/engine")


def test_the_arena_command_writes_a_summary(tmp_path, capsys):
    from deepkata.cli import main

    with pytest.raises(SystemExit) as e:
        main(["arena", "--black", RANDOM, "--white", f"{FAKE} pass", "--games", "2", "--size", "5", "--out", str(tmp_path)])
        raise SystemExit(0)
    assert (e.value.code or 0) == 0
    out = capsys.readouterr().out
    assert "2 games: A 2 wins, B 0, 0 draws" in out and "Elo" in out
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["a_wins"] == 2 and summary["a_score_95"][0] == pytest.approx(0.342, abs=1e-3)


def test_an_engine_that_does_not_start_is_one_line_and_leaves_no_folder(tmp_path, capsys):
    from deepkata.cli import main

    out = tmp_path / "match"
    with pytest.raises(SystemExit) as e:
        main(["arena", "--black", RANDOM, "--white", "/no/such/engine", "--out", str(out)])
    assert e.value.code == 2 and not out.exists()  # a corrected command may use the same --out
    assert capsys.readouterr().err.strip() == "deepkata: error: --white: cannot start engine '/no/such/engine': No such file or directory"
