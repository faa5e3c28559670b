"""Dead stones at the end of an arena game: removed by agreement, by a referee, or the game is disputed.

The scripted position (5x5, komi 0.5), after which White and then Black pass::

    5 . X O . .
    4 . X O . .
    3 . X O . X      Black's E3 is dead inside White's area.
    2 . X O . .      Counting it (Tromp-Taylor): B 11 - W 5 - 0.5 = B+5.5;
    1 . X O . .      without it: B 10 - W 15 - 0.5 = W+5.5.
      A B C D E
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from deepkata.go.arena import ArenaSettings, read_games, run_arena, summarize
from deepkata.go.sgf import read_sgf

FAKE = f"{sys.executable} {Path(__file__).parent / 'fake_engine.py'}"
BLACK_MOVES = "B1,B2,B3,B4,B5,E3"
WHITE_MOVES = "C1,C2,C3,C4,C5"


def black(dead: str, score: str = "W+5.5") -> str:
    return f"{FAKE} script {BLACK_MOVES} {dead} {score}"


def white(dead: str, score: str = "W+5.5") -> str:
    return f"{FAKE} script {WHITE_MOVES} {dead} {score}"


def one_game(tmp_path: Path, a: str, b: str, referee: str | None = None):
    games = run_arena(ArenaSettings(a, b, 1, 5, 0.5, 75, 20.0, referee), tmp_path)
    assert len(games) == 1 and games[0].moves == [*["B1", "C1", "B2", "C2", "B3", "C3", "B4", "C4", "B5", "C5", "E3"], "pass", "pass"]
    return games[0]


def test_stones_both_engines_call_dead_are_removed(tmp_path):
    g = one_game(tmp_path, black("E3"), white("E3"))
    assert g.area_score == 5.5 and g.our_score == -5.5 and g.winner == "B" and g.reason == "score"
    assert g.settled_by == "engines" and g.dead == ["E3"] and g.dead_named == {"A": ["E3"], "B": ["E3"]}
    assert g.scores_agree and g.detail == "W+5.5 by area after removing 1 dead stones named by both engines"
    sgf = read_sgf(tmp_path / "game-0001.sgf")
    assert sgf.result == "W+5.5" and sgf.info["GC"].endswith("dead: E3")
    assert summarize([g])["b_wins"] == 1 and summarize([g])["settled_by"] == {"engines": 1, "referee": 0}


def test_no_dispute_no_question(tmp_path):
    """Both engines count as the area does: the stones stay, as Tromp-Taylor counts them."""
    g = one_game(tmp_path, black("E3", "B+5.5"), white("E3", "B+5.5"))
    assert g.our_score == 5.5 and g.winner == "A" and g.settled_by is None and g.dead == [] and g.dead_named == {}


def test_a_referee_settles_what_the_engines_dispute(tmp_path):
    g = one_game(tmp_path, black("-", "B+5.5"), white("E3"), referee=f"{FAKE} script - E3 W+5.5")
    assert g.settled_by == "referee" and g.dead == ["E3"] and g.our_score == -5.5 and g.winner == "B"
    assert g.dead_named == {"A": [], "B": ["E3"], "referee": ["E3"]} and g.referee_score == "W+5.5"
    assert g.scores_agree is False and g.engine_scores == {"A": "B+5.5", "B": "W+5.5"}


@pytest.mark.skipif(shutil.which("/usr/games/gnugo") is None, reason="GNU Go is not installed (Debian package gnugo)")
def test_gnu_go_as_the_referee(tmp_path):
    g = one_game(tmp_path, black("-", "B+5.5"), white("E3"), referee="/usr/games/gnugo --mode gtp")
    assert g.settled_by == "referee" and g.dead_named["referee"] == ["E3"] and g.winner == "B"
    assert g.referee_score == "W+5.5"


@pytest.mark.parametrize("referee", [None, f"{FAKE} refuse"], ids=["no referee", "referee refuses the moves"])
def test_unsettled_dead_stones_make_a_disputed_game_that_is_not_counted(tmp_path, referee):
    g = one_game(tmp_path, black("-", "B+5.5"), white("E3"), referee=referee)
    assert g.reason == "disputed" and g.disputed and g.winner is None and g.our_score is None and g.area_score == 5.5
    assert "A names no dead stones; B names E3" in g.detail
    assert ("referee gave no answer" in g.detail) == (referee is not None)
    assert read_games(tmp_path)[0].disputed and read_sgf(tmp_path / "game-0001.sgf").result == "?"
    s = summarize([g])
    assert (s["disputed"], s["a_wins"], s["b_wins"], s["draws"], s["a_score_95"]) == (1, 0, 0, 0, [0.0, 1.0])


def test_the_arena_command_reports_a_disputed_game(tmp_path, capsys):
    from deepkata.cli import main

    with pytest.raises(SystemExit) as e:
        main(["arena", "--black", black("-", "B+5.5"), "--white", white("E3"), "--games", "1", "--size", "5", "--komi", "0.5", "--out", str(tmp_path)])
        raise SystemExit(0)
    assert (e.value.code or 0) == 0
    out = capsys.readouterr().out
    assert "game 1: A black, disputed, not counted (disputed: B+5.5 by area counting every stone" in out
    assert "1 games: A 0 wins, B 0, 0 draws, 1 disputed (not counted)" in out
