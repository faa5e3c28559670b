"""How sure a match result is: Wilson score intervals and Elo differences.

- Wilson (1927) interval of a proportion p = k / n at confidence z (1.96 for 95%):
  (p + z^2 / 2n +- z sqrt(p (1 - p) / n + z^2 / 4n^2)) / (1 + z^2 / n). Unlike the normal
  approximation it stays inside [0, 1] and is sensible at 0 / n and n / n.
- Elo difference of a player scoring s (wins + draws / 2, over games) against another:
  D = -400 log10(1 / s - 1), the inverse of the logistic expected score 1 / (1 + 10^(-D / 400)).
  Its interval maps the Wilson bounds of s through the same increasing function; a score of
  0 or 1 gives an infinite estimate and a one-sided bound.
"""

from __future__ import annotations

import math
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
