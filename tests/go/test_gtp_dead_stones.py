"""Our dead stones (random-playout ownership) against GNU Go's ``final_status_list dead``.

GNU Go plays both colours from a few random opening moves to two passes, with Chinese
(area) rules; in each finished game our engine must name the same dead stones as GNU Go and
give the same ``final_score``.
"""

from __future__ import annotations

import shutil

import pytest

from deepkata.go.arena import GtpProcess
from deepkata.go.board import GoState
from deepkata.go.coords import gtp_vertex, parse_gtp_vertex
from deepkata.go.gtp import GtpEngine
from deepkata.go.players import RandomPlayer

GNUGO = "/usr/games/gnugo"
pytestmark = pytest.mark.skipif(shutil.which(GNUGO) is None, reason="GNU Go is not installed (Debian package gnugo)")


def gnugo_game(gnugo: GtpProcess, size: int, seed: int) -> GoState:
    """A game GNU Go plays against itself after four random moves, to two passes."""
    for command in (f"boardsize {size}", "clear_board", "komi 7"):
        gnugo.send(command)
    state, opening = GoState(size, 7.0), RandomPlayer(seed)
    while not state.is_over():
        colour = "BW"[state.to_play]
        if len(state.moves) < 4:
            action = opening.choose(state).action
            gnugo.send(f"play {colour} {gtp_vertex(action, size)}")
        else:
            action = parse_gtp_vertex(gnugo.send(f"genmove {colour}"), size)
        state.play_as(state.to_play, action)
    return state


def margin(score: str) -> float:
    """B - W of a GTP score (``B+3``, ``W+2.0``, ``0``)."""
    score = score.strip()
    return 0.0 if score in ("0", "0.0") else (1.0 if score[0] == "B" else -1.0) * float(score[2:])


def test_our_dead_stones_and_score_agree_with_gnu_go_in_finished_games():
    # --seed: GNU Go seeds its random moves from the clock otherwise, and then may resign a game
    gnugo = GtpProcess(f"{GNUGO} --mode gtp --level 1 --chinese-rules --seed 1", timeout=60, name="gnugo")
    dead_seen = 0
    try:
        for seed in range(4):
            state = gnugo_game(gnugo, 7, seed)
            engine = GtpEngine(RandomPlayer(0), size=7, komi=7.0)
            for player, action in state.moves:
                assert engine.handle(f"play {'BW'[player]} {gtp_vertex(action, 7)}") == "=\n\n"
            theirs = sorted(gnugo.send("final_status_list dead").split())
            ours = sorted(engine.handle("final_status_list dead")[1:].split())
            assert ours == theirs, (seed, state.moves)
            assert margin(engine.handle("final_score")[2:]) == margin(gnugo.send("final_score")), seed
            dead_seen += len(theirs)
    finally:
        gnugo.close()
    assert dead_seen > 0  # the games did leave dead stones to find
