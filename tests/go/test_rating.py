"""Wilson intervals and Elo differences against values computed by hand."""

from __future__ import annotations

import math

import pytest

from deepkata.go.rating import (
    MatchEstimate,
    elo_difference,
    ladder_ratings,
    wilson_interval,
)


def test_wilson_interval_by_hand():
    # p = 0.75, n = 20: centre (0.75 + 0.09604) / 1.19208, half-width 1.96 * 0.108517 / 1.19208
    assert wilson_interval(15, 20) == pytest.approx((0.5313, 0.8881), abs=1e-4)
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson_interval(10, 10)[1] == 1.0 and wilson_interval(10, 10)[0] == pytest.approx(0.7225, abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_elo_difference_inverts_the_logistic_expectation():
    assert elo_difference(0.5) == 0.0
    assert elo_difference(0.75) == pytest.approx(400 * math.log10(3))  # 190.85
    for d in (-300.0, -50.0, 120.0):
        assert elo_difference(1 / (1 + 10 ** (-d / 400))) == pytest.approx(d)
    assert elo_difference(1.0) == math.inf and elo_difference(0.0) == -math.inf


def test_match_estimate_counts_draws_as_half():
    m = MatchEstimate.of(wins=6, losses=2, draws=2)
    assert m.games == 10 and m.score == 0.7
    assert (m.score_low, m.score_high) == pytest.approx(wilson_interval(7, 10))
    assert m.elo_low < m.elo < m.elo_high
    assert MatchEstimate.of(20, 0).describe() == "100.0% [83.9%, 100.0%], Elo +inf [+287, +inf]"


def test_ladder_of_a_chain_adds_the_pairings_elo_differences():
    # no cycle and no prior: each pairing's maximum-likelihood difference is its own elo_difference
    r = ladder_ratings({("a", "b"): (15, 20), ("b", "c"): (12, 16)}, "c", prior_games=0)
    assert r["c"] == 0.0
    assert r["b"] == pytest.approx(elo_difference(0.75), abs=1e-6)
    assert r["a"] - r["b"] == pytest.approx(elo_difference(0.75), abs=1e-6)
    assert list(r) == ["c", "b", "a"]  # weakest first


def test_ladder_prior_is_one_drawn_game_a_pairing():
    r = ladder_ratings({("a", "b"): (20, 20)}, "b")
    assert r["a"] == pytest.approx(elo_difference(20.5 / 21), abs=1e-6)  # finite though a won every game
    r = ladder_ratings({("a", "b"): (3.5, 10)}, "b", prior_games=4)
    assert r["a"] == pytest.approx(elo_difference(5.5 / 14), abs=1e-6)


def test_ladder_with_cycles_solves_the_likelihood_equations():
    # at the maximum, each player's expected points equal its points (prior included)
    results = {("a", "l1"): (30, 40), ("a", "l10"): (9, 40), ("b", "l1"): (38, 40), ("b", "l10"): (21.5, 40), ("a", "b"): (4, 10)}
    r = ladder_ratings(results, "l1", prior_games=1)
    expected: dict[str, float] = {}
    actual: dict[str, float] = {}
    for (x, y), (points, n) in results.items():
        p = 1 / (1 + 10 ** ((r[y] - r[x]) / 400))
        expected[x] = expected.get(x, 0) + (n + 1) * p
        expected[y] = expected.get(y, 0) + (n + 1) * (1 - p)
        actual[x] = actual.get(x, 0) + points + 0.5
        actual[y] = actual.get(y, 0) + n - points + 0.5
    for player in r:
        assert expected[player] == pytest.approx(actual[player], rel=1e-7)
    assert r["l1"] == 0 and r["b"] > r["a"] and r["l10"] > r["a"]


def test_ladder_leaves_out_players_not_joined_to_the_anchor():
    r = ladder_ratings({("a", "b"): (5, 10), ("c", "d"): (7, 10)}, "a")
    assert set(r) == {"a", "b"}
    with pytest.raises(ValueError, match="anchor"):
        ladder_ratings({("a", "b"): (5, 10)}, "z")
    with pytest.raises(ValueError, match="11 points in 10 games"):
        ladder_ratings({("a", "b"): (11, 10)}, "a")
