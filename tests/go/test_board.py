"""The fast Go rules against a from-scratch referee, and hand-made positions with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepkata.go.board import GoState
from deepkata.go.coords import gtp_vertex, parse_gtp_vertex
from deepkata.search.game import IllegalMove
from tests.go.naive_go import NaiveGo


def xy(action: int, size: int) -> tuple[int, int]:
    y, x = divmod(action, size)
    return x, y


def naive_stones(ref: NaiveGo) -> np.ndarray:
    out = np.zeros((ref.size, ref.size), dtype=np.int8)
    for (x, y), c in ref.stones.items():
        out[y, x] = c
    return out


def random_game_agrees(size: int, seed: int, moves: int) -> int:
    """Play random legal moves; at every step both colours' legal points must match the referee.

    Returns how many moves were refused by superko alone (legal but for the repetition).
    """
    rng = np.random.default_rng(seed)
    g, ref = GoState(size, komi=0.5), NaiveGo(size, komi=0.5)
    superko_only = 0
    for _ in range(moves):
        for player in (0, 1):
            ours = set(g.legal_points(player).tolist())
            theirs = {a for a in range(size * size) if ref.legal(player + 1, xy(a, size))}
            assert ours == theirs, (size, seed, len(g.moves), player, ours ^ theirs)
            superko_only += sum(ref.after(player + 1, xy(a, size)) is not None for a in range(size * size) if a not in theirs and xy(a, size) not in ref.stones)
        points = g.legal_points(g.to_play)
        action = int(points[rng.integers(len(points))]) if len(points) and rng.random() > 0.05 else g.pass_action
        player = g.to_play
        g.play(action)
        if action != g.pass_action:
            ref.play(player + 1, xy(action, size))
        assert np.array_equal(g.stones(), naive_stones(ref))
        black, white = ref.area()
        assert g.score() == black - white - 0.5
        if g.is_over():
            break
    return superko_only


@pytest.mark.parametrize("size", [2, 3, 4, 5, 7, 9])
def test_random_games_agree_with_the_referee_move_by_move(size):
    for seed in range(6 if size <= 5 else 2):
        random_game_agrees(size, seed, moves=4 * size * size)


def test_superko_is_really_exercised_on_small_boards():
    refused = [random_game_agrees(size, seed, moves=40) for size in (2, 3) for seed in range(10)]
    assert sum(refused) > 20  # moves legal but for the repetition of a position, each checked above


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([3, 4, 5, 6]))
def test_any_random_game_agrees_with_the_referee(seed, size):
    random_game_agrees(size, seed, moves=3 * size * size)


def board(rows: list[str], to_play: int = 0, komi: float = 0.0) -> GoState:
    """A position from rows drawn top (row N) to bottom: X black, O white, . empty."""
    size = len(rows)
    black = [(size - 1 - r) * size + x for r, row in enumerate(rows) for x, ch in enumerate(row.split()) if ch == "X"]
    white = [(size - 1 - r) * size + x for r, row in enumerate(rows) for x, ch in enumerate(row.split()) if ch == "O"]
    g = GoState(size, komi)
    g.setup(black, white, to_play)
    return g


def test_capture_removes_the_group_and_frees_its_points():
    g = board([". X O .", "X O O X", ". X O .", ". . X ."])
    # the three white stones C3,B3,C2,C4 group: liberties D4 and ... play them out
    g.play(parse_gtp_vertex("D4", 4))  # black to play: takes a liberty
    assert g.stones()[3, 3] == 1
    g.play(g.pass_action)
    g.play(parse_gtp_vertex("D2", 4))
    assert (g.stones() == 2).sum() == 0  # all four white stones captured
    assert g.score() == 16  # black owns the whole board


def test_suicide_is_illegal_but_a_capturing_fill_is_legal():
    g = board([". X .", "X . X", ". X ."], to_play=1)
    with pytest.raises(IllegalMove, match="suicide"):
        g.play(parse_gtp_vertex("B2", 3))
    assert not g.is_legal(1, parse_gtp_vertex("B2", 3))
    assert not g.is_legal(1, parse_gtp_vertex("A3", 3)) and g.is_legal(0, parse_gtp_vertex("A3", 3))
    # white B3's only liberty is A3, where black's stone has none of its own but captures B3
    h = board([". O X", "O X .", ". . ."], to_play=0)
    h.play(parse_gtp_vertex("A3", 3))
    assert h.stones()[2].tolist() == [1, 0, 1] and h.stones()[1, 0] == 2
    assert not board([". X O", "X O .", "O . ."]).is_legal(0, parse_gtp_vertex("A3", 3))  # no capture: suicide
    with pytest.raises(ValueError, match="A3 without liberties"):
        board(["O X .", "X . .", ". . ."])  # a setup may not leave a group dead


def test_simple_ko_recapture_waits_one_move():
    g = board([". X O . .", "X O . O .", ". X O . .", ". . . . .", ". . . . ."], to_play=0)
    take = parse_gtp_vertex("C4", 5)
    g.play(take)  # black captures B4
    back = parse_gtp_vertex("B4", 5)
    assert not g.is_legal(1, back)
    with pytest.raises(IllegalMove, match="superko"):
        g.play(back)
    g.play(parse_gtp_vertex("E1", 5))  # white elsewhere (a ko threat)
    g.play(parse_gtp_vertex("D1", 5))  # black answers
    assert g.is_legal(1, back)  # now the recapture makes a new position


def test_area_scoring_counts_stones_and_surrounded_points_not_dame():
    g = board(["X X O . .", "X . X O .", "X X O . O", ". X O . .", "X X O O O"], komi=0.5)
    area = g.area()
    black = (area == 1).sum()
    white = (area == 2).sum()
    # black: 9 stones + B4, A2 = 11; white: 8 stones + D5, E5, E4, D3, D2, E2 = 14; dame: none
    assert (black, white) == (11, 14)
    assert g.score() == 11 - 14 - 0.5 and g.outcome() == -1.0
    assert g.dame() == 0
    d = board(["X . O", "X . O", "X . O"])
    assert d.dame() == 3 and d.score() == 0.0


def test_eyes_are_what_the_random_player_will_not_fill():
    g = board(["X X X . .", "X . X . .", "X X X . .", ". . . . O", ". . . . ."])
    sensible = set(g.sensible_actions().tolist())
    assert parse_gtp_vertex("B4", 5) not in sensible  # black's own eye
    assert parse_gtp_vertex("D3", 5) in sensible
    corner = board(["X . X", "X X O", ". . ."])  # B3 on the edge, with white on its diagonal C2
    assert parse_gtp_vertex("B3", 3) in set(corner.sensible_actions().tolist())  # false eye on the edge: fill it
    only_eyes = board([". X X", "X X .", "X X X"])
    assert only_eyes.sensible_actions().tolist() == [only_eyes.pass_action]  # nothing but own eyes: pass


def test_the_search_skips_own_eyes_and_holds_the_pass_until_the_opponent_passes():
    g = board(["X X X . .", "X . X . .", "X X X . .", ". . . . O", ". . . . ."])
    searched = set(g.search_actions().tolist())
    assert searched == set(g.sensible_actions().tolist()) and g.pass_action not in searched
    w = board(["X X X . .", "X . X . .", "X X X . .", ". . . . O", ". . . . ."], to_play=1)
    w.play(w.pass_action)  # white passes: now black may pass too
    assert w.pass_action in set(w.search_actions().tolist()) and parse_gtp_vertex("B4", 5) not in set(w.search_actions().tolist())
    only_eyes = board([". X X", "X X .", "X X X"])
    assert only_eyes.search_actions().tolist() == [only_eyes.pass_action]


def test_hash_identifies_the_position_whatever_the_move_order():
    a, b = GoState(5), GoState(5)
    for m in ("C3", "D4", "B2"):
        a.play(parse_gtp_vertex(m, 5))
    for player, m in ((0, "B2"), (1, "D4"), (0, "C3")):
        b.play_as(player, parse_gtp_vertex(m, 5))
    assert a.hash == b.hash and np.array_equal(a.stones(), b.stones())
    assert a.hash != GoState(5).hash


def test_two_passes_end_the_game_and_the_copy_is_independent():
    g = GoState(5, komi=2.5)
    g.play(12)
    h = g.copy()
    g.play(g.pass_action)
    g.play(g.pass_action)
    assert g.is_over() and len(g.legal_actions()) == 0 and g.outcome() == 1.0  # 25 - 0 - 2.5
    assert not h.is_over() and h.to_play == 1 and len(h.moves) == 1


@pytest.mark.parametrize("size", [5, 9, 19])
def test_playouts_are_legal_random_eye_sparing_games_scored_by_area(size):
    g = GoState(size, komi=6.5)
    rng = np.random.default_rng(1)
    for k in range(3):
        g.play(int(g.sensible_actions()[rng.integers(len(g.sensible_actions()))]))
    for seed in range(4 if size < 19 else 1):
        p = g.rollout(np.random.default_rng(seed))
        ref = NaiveGo(size, 6.5)
        for player, action in g.moves:
            ref.play(player + 1, xy(action, size))
        assert p.players[0] == g.to_play and np.all(np.diff(p.players) != 0)
        assert list(p.actions[-2:]) == [g.pass_action, g.pass_action]
        for player, action in zip(p.players, p.actions):
            if action == g.pass_action:
                continue
            assert ref.after(player + 1, xy(action, size)) is not None  # neither occupied nor suicide
            ref.stones = ref.after(player + 1, xy(action, size))
        black, white = ref.area()
        assert p.outcome == np.sign(black - white - 6.5)
    assert g.rollout(np.random.default_rng(7)).actions.tolist() == g.rollout(np.random.default_rng(7)).actions.tolist()


def test_vertices_round_trip_and_bad_ones_are_named():
    for size in (5, 9, 19):
        for a in range(size * size + 1):
            assert parse_gtp_vertex(gtp_vertex(a, size), size) == a
    assert gtp_vertex(0, 9) == "A1" and gtp_vertex(8, 9) == "J1" and gtp_vertex(80, 9) == "J9"
    with pytest.raises(ValueError, match="off the 9x9 board"):
        parse_gtp_vertex("K10", 9)
    with pytest.raises(ValueError, match="invalid vertex 'I3'"):
        parse_gtp_vertex("I3", 9)


def test_sizes_out_of_range_are_refused():
    with pytest.raises(ValueError, match="board size must be 2 to 19"):
        GoState(20)


def test_playout_ownership_finds_the_dead_stones_and_only_those():
    # two living walls; a white stone lost in Black's area (B6) and a black one in White's (F2)
    g = board(
        [
            ". . . X O . .",
            ". O . X O . .",
            ". . . X O . .",
            ". . . X O . .",
            ". . . X O . .",
            ". . . X O X .",
            ". . . X O . .",
        ],
        komi=0.5,
    )
    assert g.score() == 8 - 8 - 0.5  # counted as alive, the lost stones make both areas dame: stones only
    share = g.ownership(np.random.default_rng(0), playouts=400)
    assert share.shape == (2, 7, 7) and np.all(share.sum(axis=0) <= 1.0 + 1e-9)
    assert share[0, 3, 0] > 0.6 and share[1, 3, 6] > 0.6  # A4 mostly Black's, G4 White's (eyeless walls die in some playouts)
    dead = g.dead_stones(np.random.default_rng(0), playouts=400)
    assert dead == sorted([parse_gtp_vertex("B6", 7), parse_gtp_vertex("F2", 7)])
    settled = g.without(dead)
    assert settled.score() == 28 - 21 - 0.5 and (settled.stones() != 0).sum() == (g.stones() != 0).sum() - 2
    with pytest.raises(ValueError, match="no stone at A1"):
        g.without([parse_gtp_vertex("A1", 7)])


def test_gtp_vertices_take_ascii_digits_only():
    for text in ("A\u0661", "A" + "1" * 5000, "A١٢", "A+1", "A 1"):
        with pytest.raises(ValueError, match="invalid vertex"):
            parse_gtp_vertex(text, 9)
    assert parse_gtp_vertex("j9", 9) == 80 and parse_gtp_vertex(" PASS ", 9) == 81
