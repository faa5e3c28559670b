"""Action selection: each rule's empirical choices match the distribution it claims to follow."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepkata.rl.action_selection import (
    epsilon_greedy,
    epsilon_greedy_probs,
    random_argmax,
    sample,
    softmax_probs,
    ucb_scores,
)

Q = np.array([0.5, 2.0, -1.0, 2.0, 0.0])  # two tied best actions: 1 and 3


def frequencies(actions: np.ndarray, k: int) -> np.ndarray:
    return np.bincount(actions.ravel(), minlength=k) / actions.size


def test_random_argmax_picks_only_maxima_and_splits_ties_evenly():
    rng = np.random.default_rng(0)
    picks = random_argmax(np.tile(Q, (20_000, 1)), rng)
    assert picks.shape == (20_000,)
    f = frequencies(picks, 5)
    assert f[[0, 2, 4]].sum() == 0
    assert f[1] == pytest.approx(0.5, abs=0.015) and f[3] == pytest.approx(0.5, abs=0.015)


@pytest.mark.parametrize("epsilon", [0.0, 0.1, 0.5, 1.0])
def test_epsilon_greedy_follows_its_stated_probabilities_in_batch_and_row_form(epsilon):
    rng = np.random.default_rng(1)
    expected = epsilon_greedy_probs(Q, epsilon)
    assert expected.sum() == pytest.approx(1.0)
    assert expected[1] == pytest.approx(epsilon / 5 + (1 - epsilon) / 2)
    batch = epsilon_greedy(np.tile(Q, (40_000, 1)), epsilon, rng)
    rows = np.array([epsilon_greedy(Q, epsilon, rng) for _ in range(20_000)])
    assert np.abs(frequencies(batch, 5) - expected).max() < 0.01
    assert np.abs(frequencies(rows, 5) - expected).max() < 0.015


def test_softmax_probs_is_the_notes_formula_and_matches_torch():
    for t in (0.1, 1.0, 7.0):
        p = softmax_probs(Q, t)
        assert p == pytest.approx(np.exp(Q / t) / np.exp(Q / t).sum())
        assert p == pytest.approx(torch.softmax(torch.tensor(Q) / t, dim=0).numpy())
    big = softmax_probs(np.array([1000.0, 999.0]), 1.0)  # no overflow
    assert big == pytest.approx([1 / (1 + np.e**-1), 1 - 1 / (1 + np.e**-1)])
    assert softmax_probs(Q, 1e-4)[[1, 3]] == pytest.approx([0.5, 0.5])  # cold: greedy, ties split
    assert softmax_probs(Q, 1e6) == pytest.approx(np.full(5, 0.2), abs=1e-5)  # hot: uniform
    with pytest.raises(ValueError, match="temperature"):
        softmax_probs(Q, 0.0)


def test_sample_draws_from_the_given_distribution():
    probs = np.array([[0.1, 0.0, 0.6, 0.3]] * 50_000)
    picks = sample(probs, np.random.default_rng(2))
    assert np.abs(frequencies(picks, 4) - probs[0]).max() < 0.01
    assert not np.any(picks == 1)


def test_ucb_scores_put_untried_arms_first_then_add_the_bonus():
    q, n = np.array([1.0, 0.5, 0.0]), np.array([4, 1, 0])
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = ucb_scores(q, n, t=5, c=2.0)
    assert scores[2] == np.inf
    assert scores[:2] == pytest.approx([1.0 + 2 * np.sqrt(np.log(5) / 4), 0.5 + 2 * np.sqrt(np.log(5) / 1)])
