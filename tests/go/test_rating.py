"""Wilson intervals and Elo differences against values computed by hand."""

from __future__ import annotations

import math

import pytest

from deepkata.go.rating import MatchEstimate, elo_difference, wilson_interval


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
