"""How sure a match result is: Wilson score intervals and Elo differences.

- Wilson (1927) interval of a proportion p = k / n at confidence z (1.96 for 95%):
  (p + z^2 / 2n +- z sqrt(p (1 - p) / n + z^2 / 4n^2)) / (1 + z^2 / n). Unlike the normal
  approximation it stays inside [0, 1] and is sensible at 0 / n and n / n.
- Elo difference of a player scoring s (wins + draws / 2, over games) against another:
  D = -400 log10(1 / s - 1), the inverse of the logistic expected score 1 / (1 + 10^(-D / 400)).
  Its interval maps the Wilson bounds of s through the same increasing function; a score of
  0 or 1 gives an infinite estimate and a one-sided bound.
- A ladder of many players (``ladder_ratings``): the Bradley–Terry ratings that make every
  pairing's results most likely, one player anchored at 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

Z95 = 1.959963984540054  # the 97.5% quantile of the standard normal


def wilson_interval(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of ``successes / n``; (0, 1) when n = 0."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denominator = 1.0 + z * z / n
    # (p + z^2/2n) / (1 + z^2/n)
    centre = (p + z * z / (2 * n)) / denominator
    # z sqrt(p(1-p)/n + z^2/4n^2) / (1 + z^2/n)
    half = z * math.sqrt(max(p * (1.0 - p) / n + z * z / (4.0 * n * n), 0.0)) / denominator
    # at p = 0 or 1 one bound is exactly 0 or 1; say so rather than leave a rounding error
    low = 0.0 if successes <= 0 else max(0.0, centre - half)
    high = 1.0 if successes >= n else min(1.0, centre + half)
    return low, high


def elo_difference(score: float) -> float:
    """D = -400 log10(1 / s - 1) for an expected score s in [0, 1]; +-inf at the ends."""
    if score <= 0.0:
        return -math.inf
    if score >= 1.0:
        return math.inf
    return -400.0 * math.log10(1.0 / score - 1.0)


@dataclass(frozen=True)
class MatchEstimate:
    """What ``wins``, ``losses`` and ``draws`` say about the first player's strength."""

    games: int
    score: float  # (wins + draws / 2) / games
    score_low: float
    score_high: float
    elo: float
    elo_low: float
    elo_high: float

    @classmethod
    def of(cls, wins: int, losses: int, draws: int = 0) -> MatchEstimate:
        n = wins + losses + draws
        points = wins + 0.5 * draws
        low, high = wilson_interval(points, n)
        score = points / n if n else 0.5
        return cls(n, score, low, high, elo_difference(score), elo_difference(low), elo_difference(high))

    def describe(self) -> str:
        """``62.5% [40.9%, 80.0%], Elo +89 [-64, +241]`` (95% intervals)."""
        return (
            f"{self.score:.1%} [{self.score_low:.1%}, {self.score_high:.1%}], "
            f"Elo {_signed(self.elo)} [{_signed(self.elo_low)}, {_signed(self.elo_high)}]"
        )


def _signed(value: float) -> str:
    if math.isinf(value):
        return "+inf" if value > 0 else "-inf"
    return f"{value:+.0f}"


def ladder_ratings(results: Mapping[tuple[str, str], tuple[float, int]], anchor: str, *, prior_games: float = 1.0, iterations: int = 10_000) -> dict[str, float]:
    """Elo ratings of every player from pairings' results, ``anchor`` at 0.

    ``results[(a, b)] = (points of a, games)``, points counting a draw as a half. The ratings
    are the Bradley–Terry maximum-likelihood ones (P(a beats b) = 1 / (1 + 10^((R_b - R_a) / 400))),
    found by Hunter's (2004) minorisation–maximisation step
    gamma_i <- W_i / sum_j n_ij / (gamma_i + gamma_j), with gamma = 10^(R / 400). Each pairing
    counts ``prior_games`` more games, drawn, so that a player who won every game has a finite
    rating. Players joined to ``anchor`` by no chain of pairings are left out.
    """
    wins: dict[str, float] = {}
    games: dict[tuple[str, str], float] = {}
    for (a, b), (points, n) in results.items():
        if a == b or n < 0 or not 0 <= points <= n:
            raise ValueError(f"pairing {a} vs {b}: {points} points in {n} games")
        wins[a] = wins.get(a, 0.0) + points + prior_games / 2
        wins[b] = wins.get(b, 0.0) + n - points + prior_games / 2
        for key in ((a, b), (b, a)):
            games[key] = games.get(key, 0.0) + n + prior_games
    if anchor not in wins:
        raise ValueError(f"the anchor {anchor} played no pairing")
    joined, frontier = {anchor}, [anchor]
    while frontier:
        player = frontier.pop()
        for a, b in games:
            if a == player and b not in joined:
                joined.add(b)
                frontier.append(b)
    gamma = {p: 1.0 for p in joined}
    for _ in range(iterations):
        new = {p: wins[p] / sum(n / (gamma[p] + gamma[b]) for (a, b), n in games.items() if a == p) for p in joined}
        scale = new[anchor]
        new = {p: g / scale for p, g in new.items()}
        done = max(abs(math.log(new[p] / gamma[p])) for p in joined) < 1e-12
        gamma = new
        if done:
            break
    return {p: 400.0 * math.log10(g) for p, g in sorted(gamma.items(), key=lambda item: item[1])}
