"""The search: its selection formulas by hand, and its play where the right move is known."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import pytest

from deepkata.go.board import GoState
from deepkata.search.game import Game
from deepkata.search.tictactoe import TicTacToe
from deepkata.search.mcts import (
    MCTS, Evaluation, Evaluator, SearchConfig, amaf_update, argmax_random_ties, puct_scores, rave_beta, rave_scores, uct_scores,
)  # fmt: skip
from deepkata.go.players import MCTSPlayer, Player, Decision, play_game


def test_uct_scores_by_hand():
    s = uct_scores(np.array([0.5, -0.2, 0.0]), np.array([2.0, 1.0, 0.0]), 4.0, 1.0)
    assert s[0] == pytest.approx(0.5 + math.sqrt(math.log(4) / 2))
    assert s[1] == pytest.approx(-0.2 + math.sqrt(math.log(4)))
    assert s[2] == math.inf


def test_puct_scores_by_hand():
    s = puct_scores(np.array([0.2, 0.0]), np.array([1.0, 0.0]), np.array([0.25, 0.75]), 4.0, 1.5)
    assert s.tolist() == pytest.approx([0.2 + 1.5 * 0.25 * 2 / 2, 1.5 * 0.75 * 2 / 1])


def test_rave_mixes_amaf_and_tree_values_with_the_schedule():
    assert rave_beta(np.array([0.0, 1000.0]), 1000.0).tolist() == pytest.approx([1.0, 0.5])
    q, n = np.array([0.0, 1.0, 0.4]), np.array([0.0, 1000.0, 2.0])
    amaf_q, amaf_n = np.array([0.0, 0.0, -0.6]), np.array([0.0, 10.0, 5.0])
    s = rave_scores(q, n, amaf_q, amaf_n, 1002.0, 0.0, 1000.0)
    beta = math.sqrt(1000 / (3 * 2 + 1000))
    assert s[0] == math.inf
    assert s[1] == pytest.approx(0.5 * 1.0 + 0.5 * 0.0)
    assert s[2] == pytest.approx((1 - beta) * 0.4 + beta * -0.6)


def test_ties_are_broken_by_the_random_draw():
    scores = np.array([1.0, 3.0, 3.0, 2.0, 3.0])
    assert [argmax_random_ties(scores, u) for u in (0.0, 0.4, 0.99)] == [1, 2, 4]


def test_amaf_counts_each_later_action_of_the_player_once():
    index = np.full(10, -1)
    index[[3, 5, 7]] = [0, 1, 2]
    amaf_n, amaf_q = np.zeros(3), np.zeros(3)
    actions = np.array([3, 5, 3, 7, 5, 9])
    players = np.array([0, 1, 0, 1, 0, 1])
    amaf_update(index, amaf_n, amaf_q, actions, players, 0, 0, 1.0, 9)
    assert amaf_n.tolist() == [1, 1, 0] and amaf_q.tolist() == [1.0, 1.0, 0.0]
    amaf_update(index, amaf_n, amaf_q, actions, players, 1, 1, -1.0, 9)  # player 1 from t = 1: 5, 7 (9 skipped)
    assert amaf_n.tolist() == [1, 2, 1] and amaf_q.tolist() == [1.0, 0.0, -1.0]


@lru_cache(maxsize=None)
def _minimax(cells: tuple[int, ...], to_play: int) -> tuple[float, int]:
    """(value for the player to move, best cell) of tic-tac-toe by exhaustive search."""
    game = TicTacToe()
    game.cells[:] = cells
    game._to_play = to_play
    best = (-2.0, -1)
    for a in game.legal_actions():
        child = game.copy()
        child.play(int(a))
        v = -child.outcome() * (1 if to_play == 1 else -1) if child.is_over() else -_minimax(tuple(child.cells), child.to_play)[0]
        best = max(best, (v, int(a)))
    return best


class PerfectPlayer(Player):
    def choose(self, state: Game, seconds: float | None = None) -> Decision:
        return Decision(_minimax(tuple(state.cells), state.to_play)[1])


@pytest.mark.parametrize("rule", ["uct", "rave", "puct"])
def test_search_takes_a_win_and_blocks_a_loss(rule):
    win = TicTacToe()
    for a in (0, 3, 1, 4):  # X: 0, 1; O: 3, 4; X to move wins at 2
        win.play(a)
    result = MCTS(SearchConfig(rule=rule, playouts=300)).search(win, np.random.default_rng(0))
    assert result.action == 2 and result.value > 0.9
    block = TicTacToe()
    for a in (0, 4, 1):  # X threatens 2; O must block
        block.play(a)
    assert MCTS(SearchConfig(rule=rule, playouts=600)).search(block, np.random.default_rng(0)).action == 2


@pytest.mark.parametrize("rule, mcts_first", [("uct", True), ("rave", False)])
def test_search_never_loses_to_perfect_play(rule, mcts_first):
    for seed in (0,):
        mcts = MCTSPlayer(SearchConfig(rule=rule, playouts=1000), seed)
        players = (mcts, PerfectPlayer()) if mcts_first else (PerfectPlayer(), mcts)
        assert play_game(players, TicTacToe()).winner is None  # perfect play from both sides draws


class OneHotPriors(Evaluator):
    """A stand-in network: every position is even, and action 4 looks best."""

    def evaluate(self, state: Game, rng: np.random.Generator) -> Evaluation:
        priors = np.full(state.num_actions, 0.01)
        priors[4] = 1.0
        return Evaluation(0.0, priors / priors.sum())


def test_puct_follows_the_evaluators_priors():
    result = MCTS(SearchConfig(rule="puct", c=1.5, playouts=40), OneHotPriors()).search(TicTacToe(), np.random.default_rng(0))
    assert result.action == 4 and result.visits[list(result.actions).index(4)] > 20
    pi = result.policy(9)
    assert pi.sum() == pytest.approx(1.0) and pi.argmax() == 4


def test_a_seed_fixes_the_search_and_the_budget_is_exact():
    go = GoState(5, 3.0)
    a = MCTS(SearchConfig(playouts=300)).search(go, np.random.default_rng(3))
    b = MCTS(SearchConfig(playouts=300)).search(go, np.random.default_rng(3))
    assert a.playouts == 300 and a.visits.sum() == 300
    assert np.array_equal(a.visits, b.visits) and np.array_equal(a.q, b.q)


def test_a_time_budget_stops_the_search():
    search = MCTS(SearchConfig(playouts=None, seconds=0.3))
    result = search.search(GoState(9), np.random.default_rng(0))
    assert 0.3 <= result.seconds < 1.5 and result.playouts > 10


def test_expansion_waits_for_its_threshold():
    search = MCTS(SearchConfig(playouts=400, expand_after=10**9))  # flat Monte Carlo: only the root grows
    search.search(GoState(5), np.random.default_rng(0))
    children = [c for c in search.root.children if c is not None]
    assert len(children) == 25 and not any(c.expanded for c in children)  # every point; no pass yet
    deep = MCTS(SearchConfig(playouts=400, expand_after=1))
    deep.search(GoState(5), np.random.default_rng(0))
    assert any(c is not None and c.expanded for c in deep.root.children)


def test_searching_a_finished_game_is_refused():
    g = GoState(5)
    g.play(g.pass_action)
    g.play(g.pass_action)
    with pytest.raises(ValueError, match="finished game"):
        MCTS(SearchConfig()).search(g, np.random.default_rng(0))
