"""AlphaGo's input planes: the compiled tactics against brute force on the board, the planes of a
known position, and the eight symmetries (the planes of a transformed game are the transformed planes)."""

from __future__ import annotations

import numpy as np
import pytest

from deepkata.go.board import GoState
from deepkata.go.coords import parse_gtp_vertex
from deepkata.go.features import (
    PLANE_NAMES,
    PLANES,
    inverse,
    planes,
    transform_actions,
    transform_planes,
)
from deepkata.search.game import IllegalMove
from tests.go.naive_go import chain_and_liberties, random_game


def _liberties(stones: np.ndarray, y: int, x: int) -> int:
    return len(chain_and_liberties(stones, y, x)[1])


@pytest.mark.parametrize("seed", range(6))
def test_the_tactics_equal_brute_force_on_a_copy_of_the_board(seed: int) -> None:
    state = random_game(7, 30 + 5 * seed, seed)
    n, me = state.size, state.to_play
    tactics = state.tactics(me)
    stones = state.stones()
    for y in range(n):
        for x in range(n):
            if stones[y, x]:
                assert tactics[0, y, x] == _liberties(stones, y, x)
                assert tactics[1:, y, x].tolist() == [0, 0, 0, 0]
                continue
            action = y * n + x
            if not state.is_legal(me, action):
                assert tactics[1:, y, x].tolist() == [0, 0, 0, 0]
                continue
            after = state.copy()
            after.play(action)
            board = after.stones()
            captured = int(((stones == 2 - me) & (board == 0)).sum())
            libs = _liberties(board, y, x)
            assert tactics[1, y, x] == captured and tactics[2, y, x] == libs
            if libs == 1:
                assert tactics[3, y, x] == _chain_size(board, y, x)
            else:
                assert tactics[3, y, x] == 0
            assert tactics[4, y, x] == 1 - _own_eye(stones, y, x, me + 1)


def _own_eye(stones: np.ndarray, y: int, x: int, colour: int) -> int:
    """The random player's eye rule: every neighbour is the colour or the edge; of the diagonals at
    most one opponent's in the open, none on the edge."""
    n = len(stones)
    if any(0 <= c < n and 0 <= d < n and stones[c, d] != colour for c, d in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1))):
        return 0
    diagonals = [(c, d) for c, d in ((y - 1, x - 1), (y - 1, x + 1), (y + 1, x - 1), (y + 1, x + 1))]
    inside = [(c, d) for c, d in diagonals if 0 <= c < n and 0 <= d < n]
    enemy = sum(stones[c, d] == 3 - colour for c, d in inside)
    return int(enemy == 0 if len(inside) < 4 else enemy <= 1)


def _chain_size(stones: np.ndarray, y: int, x: int) -> int:
    return len(chain_and_liberties(stones, y, x)[0])


def _play(state: GoState, *vertices: str) -> None:
    for v in vertices:
        state.play(parse_gtp_vertex(v, state.size))


def test_the_planes_of_a_known_position() -> None:
    # a white stone at B2 in atari (black at A2, B1, C2), then white plays elsewhere: black to play
    state = GoState(5)
    _play(state, "A2", "E5", "B1", "E4", "C2", "B2")  # W B2 is now in atari; black to play
    p = planes(state)
    assert p.shape == (PLANES, 5, 5) == (len(PLANE_NAMES), 5, 5)
    at = lambda v: divmod(parse_gtp_vertex(v, 5), 5)
    name = {n: i for i, n in enumerate(PLANE_NAMES)}
    assert p[name["own stones"]][at("A2")] == 1 and p[name["opponent stones"]][at("B2")] == 1
    assert p[name["1 move ago"]][at("B2")] == 1 and p[name["2 moves ago"]][at("C2")] == 1
    assert p[name["chain liberties 1"]][at("B2")] == 1  # B3 is its last liberty
    assert p[name["captures 1"]][at("B3")] == 1 and p[name["captures 1"]].sum() == 1
    assert p[name["black to play"]].all() and p[name["ones"]].all()
    assert p[name["sensible"]][at("B2")] == 0  # occupied
    # A1 is no eye of black's while white holds the diagonal B2 of the corner; A1 joins A2 and B1 (liberties A3, C1)
    assert p[name["sensible"]][at("A1")] == 1 and p[name["liberties after 2"]][at("A1")] == 1
    assert p[name["liberties after 4+"]][at("B3")] == 1  # B3 takes B2: liberties A3, C3, B4 and B2
    assert set(np.unique(p)) <= {0.0, 1.0}


def test_actions_move_as_the_planes_do_and_inverses_undo() -> None:
    size = 5
    for k in range(8):
        for action in (0, 3, 7, 24):
            one_hot = np.zeros(size * size)
            one_hot[action] = 1
            moved = transform_planes(one_hot.reshape(size, size), k).ravel()
            assert moved[transform_actions(action, k, size)] == 1
            assert transform_actions(transform_actions(action, k, size), inverse(k), size) == action
        assert transform_actions(size * size, k, size) == size * size  # the pass
    assert len({tuple(transform_actions(np.arange(25), k, 5)) for k in range(8)}) == 8  # eight distinct


@pytest.mark.parametrize("k", range(8))
def test_the_planes_of_a_transformed_game_are_the_transformed_planes(k: int) -> None:
    original = random_game(6, 25, seed=k)
    moved = GoState(6)
    for _, action in original.moves:
        try:
            moved.play(int(transform_actions(action, k, 6)))
        except IllegalMove:  # pragma: no cover - a symmetry keeps every move legal
            raise AssertionError("a transformed move was illegal") from None
    np.testing.assert_array_equal(planes(moved), transform_planes(planes(original), k))
