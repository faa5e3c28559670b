"""Players: the random baseline, MCTS's resignation, and a game between two players."""

from __future__ import annotations

import numpy as np

from deepkata.go.board import GoState
from deepkata.search.tictactoe import TicTacToe
from deepkata.search.mcts import SearchConfig
from deepkata.go.players import MCTSPlayer, RandomPlayer, play_game


def test_random_player_is_uniform_over_sensible_moves_and_seeded():
    g = GoState(5)
    picks = [RandomPlayer(s).choose(g).action for s in range(2000)]
    counts = np.bincount(picks, minlength=25)
    assert counts.min() > 40 and counts.max() < 130  # 2000 / 25 = 80 each
    a, b = RandomPlayer(7), RandomPlayer(7)
    assert [a.choose(g).action for _ in range(20)] == [b.choose(g).action for _ in range(20)]


def test_mcts_resigns_a_hopeless_game_only_when_allowed():
    g = GoState(5, komi=0.5)
    g.setup([], [a for a in range(25) if a not in (0, 6, 12, 18, 24)], to_play=0)  # white owns the board
    assert MCTSPlayer(SearchConfig(playouts=100), resign_below=0.1).choose(g).resigns
    keeps = MCTSPlayer(SearchConfig(playouts=100)).choose(g)
    assert not keeps.resigns and keeps.info["win_rate"] < 0.1


def test_play_game_records_who_won():
    record = play_game((RandomPlayer(1), RandomPlayer(2)), TicTacToe())
    replay = TicTacToe()
    for a in record.moves:
        replay.play(a)
    z = replay.outcome()
    assert record.winner == (None if z == 0 else (0 if z > 0 else 1)) and record.reason == "score"
    go = play_game((MCTSPlayer(SearchConfig(playouts=50), 0), RandomPlayer(0)), GoState(5, 0.5), max_moves=10)
    assert go.reason == "move limit" and len(go.moves) == 10 and len(go.info) == 10
