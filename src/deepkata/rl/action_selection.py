"""Choosing an action from action-value estimates: the explore/exploit trade-off.

Sutton & Barto, *Reinforcement Learning: An Introduction*, 2nd ed. (2018): greedy and
epsilon-greedy selection (§2.2-2.3), softmax (Boltzmann) selection with a temperature (1st ed.
§2.3; the curriculum's 方策関数, ../shared/curriculum/004) and upper-confidence-bound
selection (§2.7).

Notation: ``values`` are estimates Q(a) of the actions' values, the last axis runs over the
K actions and any leading axes are independent problems (bandit runs, states), so one call
serves a 2,000-run testbed as well as a single table row. Every function draws its randomness
from the generator it is given.
"""

from __future__ import annotations

import numpy as np


def random_argmax(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """argmax over the last axis, ties broken uniformly at random: shape ``values.shape[:-1]``."""
    values = np.asarray(values)
    best = values == values.max(axis=-1, keepdims=True)  # (..., K)
    # a uniform draw on each tied maximum; the largest of them is a uniform pick among the ties
    return np.argmax(np.where(best, rng.random(values.shape), -1.0), axis=-1)


def epsilon_greedy(values: np.ndarray, epsilon: float, rng: np.random.Generator) -> np.ndarray:
    """With probability epsilon a uniformly random action, otherwise a greedy one (§2.2).

    A single row (K,), one state of a table, takes a scalar path that is ten times faster in
    an agent's step-by-step loop; it follows the same policy but draws its random numbers
    differently, so it is not draw-for-draw the same as a row of a batch.
    """
    values = np.asarray(values)
    if values.ndim == 1:
        return np.int64(_epsilon_greedy_row(values.tolist(), epsilon, rng))
    greedy = random_argmax(values, rng)
    explore = rng.random(values.shape[:-1]) < epsilon
    random = rng.integers(values.shape[-1], size=values.shape[:-1])
    return np.where(explore, random, greedy)


def _epsilon_greedy_row(row: list[float], epsilon: float, rng: np.random.Generator) -> int:
    if epsilon > 0 and rng.random() < epsilon:
        return int(rng.integers(len(row)))
    best = max(row)
    ties = [a for a, v in enumerate(row) if v == best]
    return ties[0] if len(ties) == 1 else ties[int(rng.integers(len(ties)))]


def epsilon_greedy_probs(values: np.ndarray, epsilon: float) -> np.ndarray:
    """pi(a) = epsilon/K + (1 - epsilon) [a greedy] / #greedy: the policy :func:`epsilon_greedy` follows."""
    values = np.asarray(values, dtype=np.float64)
    k = values.shape[-1]
    best = values == values.max(axis=-1, keepdims=True)
    return epsilon / k + (1.0 - epsilon) * best / best.sum(axis=-1, keepdims=True)


def softmax_probs(values: np.ndarray, temperature: float) -> np.ndarray:
    """pi(a) = exp(Q(a)/T) / sum_b exp(Q(b)/T), the notes' policy with temperature T > 0."""
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    z = np.asarray(values, dtype=np.float64) / temperature
    z = z - z.max(axis=-1, keepdims=True)  # the same distribution, without overflow
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def sample(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One action per row of ``probs`` (..., K), by inverting the cumulative distribution."""
    cdf = np.cumsum(probs, axis=-1)
    u = rng.random(probs.shape[:-1])[..., None] * cdf[..., -1:]
    return np.minimum((u >= cdf).sum(axis=-1), probs.shape[-1] - 1)


def ucb_scores(values: np.ndarray, counts: np.ndarray, t: int, c: float) -> np.ndarray:
    """Q(a) + c sqrt(ln t / N(a)) (eq. 2.10); an untried action (N = 0) scores +inf."""
    with np.errstate(divide="ignore"):
        bonus = c * np.sqrt(np.log(t) / counts)
    return np.where(counts > 0, values + bonus, np.inf)
