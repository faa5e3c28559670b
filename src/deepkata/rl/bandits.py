"""The 10-armed testbed: explore vs exploit with sample-average action values.

Sutton & Barto, 2nd ed., §2.3 (the testbed, Figure 2.2), §2.4 (incremental sample averages),
§2.7 (UCB, Figure 2.4); softmax selection with a temperature is the curriculum's policy
function (../shared/curriculum/004) and 1st ed. §2.3.

Each run is one bandit problem: K arms whose true values q*(a) are drawn from N(0, 1); pulling
arm a pays a reward drawn from N(q*(a), 1). An agent keeps estimates Q(a) and counts N(a) and,
after each reward R on arm A, moves its estimate by the sample-average rule (eq. 2.3)::

    N(A) <- N(A) + 1;   Q(A) <- Q(A) + (R - Q(A)) / N(A)

Runs are independent, so they are simulated together: every array has a leading axis of runs
(R) and a trailing axis of arms (K); one step of the loop below advances all 2,000 runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from deepkata.rl.action_selection import epsilon_greedy, random_argmax, sample, softmax_probs, ucb_scores

AgentKind = Literal["greedy", "epsilon-greedy", "softmax", "ucb"]


@dataclass(frozen=True)
class BanditAgent:
    """How an agent picks arms; its estimates are always sample averages (eq. 2.3)."""

    kind: AgentKind
    parameter: float = 0.0  # epsilon (epsilon-greedy), temperature T (softmax) or c (UCB)
    initial: float = 0.0  # Q_1(a), the estimate before any pull (§2.6: optimistic when > 0)

    def __post_init__(self) -> None:
        if self.kind == "epsilon-greedy" and not 0.0 <= self.parameter <= 1.0:
            raise ValueError(f"epsilon must lie in [0, 1], got {self.parameter}")
        if self.kind in ("softmax", "ucb") and self.parameter <= 0:
            raise ValueError(f"{self.kind} needs a parameter > 0, got {self.parameter}")

    @property
    def label(self) -> str:
        name = {
            "greedy": "greedy",
            "epsilon-greedy": f"ε-greedy ε={self.parameter:g}",
            "softmax": f"softmax T={self.parameter:g}",
            "ucb": f"UCB c={self.parameter:g}",
        }[self.kind]
        return name + (f", Q1={self.initial:g}" if self.initial else "")

    def choose(self, q: np.ndarray, n: np.ndarray, t: int, rng: np.random.Generator) -> np.ndarray:
        """Arms (R,) for estimates q (R, K) and counts n (R, K) at step t = 1, 2, ..."""
        if self.kind == "greedy":
            return random_argmax(q, rng)
        if self.kind == "epsilon-greedy":
            return epsilon_greedy(q, self.parameter, rng)
        if self.kind == "softmax":
            return sample(softmax_probs(q, self.parameter), rng)
        # A_t = argmax_a [Q_t(a) + c sqrt(ln t / N_t(a))]  (eq. 2.10)
        return random_argmax(ucb_scores(q, n, t, self.parameter), rng)


@dataclass(frozen=True)
class Testbed:
    """R independent K-armed problems: true values q*(a) ~ N(0, 1), rewards ~ N(q*(a), 1)."""

    q_star: np.ndarray  # (R, K)

    @classmethod
    def generate(cls, runs: int, arms: int, rng: np.random.Generator) -> Testbed:
        return cls(rng.standard_normal((runs, arms)))

    @property
    def runs(self) -> int:
        return self.q_star.shape[0]

    @property
    def arms(self) -> int:
        return self.q_star.shape[1]

    @property
    def optimal_arm(self) -> np.ndarray:
        return np.argmax(self.q_star, axis=1)  # (R,); ties have probability zero


@dataclass(frozen=True)
class BanditResult:
    rewards: np.ndarray  # (steps, R) reward received at each step of each run
    optimal: np.ndarray  # (steps, R) whether the arm pulled was the optimal one
    estimates: np.ndarray  # (R, K) Q(a) after the last step
    counts: np.ndarray  # (R, K) N(a) after the last step


def simulate(agent: BanditAgent, testbed: Testbed, steps: int, rng: np.random.Generator) -> BanditResult:
    """Play ``steps`` rounds of every run of ``testbed`` with ``agent``."""
    runs, arms = testbed.runs, testbed.arms
    rows = np.arange(runs)
    q = np.full((runs, arms), agent.initial, dtype=np.float64)  # Q(a)
    n = np.zeros((runs, arms), dtype=np.int64)  # N(a)
    rewards = np.empty((steps, runs))
    optimal = np.empty((steps, runs), dtype=bool)
    best = testbed.optimal_arm
    with np.errstate(divide="ignore", invalid="ignore"):  # UCB's ln t / 0 for untried arms
        for t in range(1, steps + 1):
            a = agent.choose(q, n, t, rng)  # (R,)
            # R_t ~ N(q*(A_t), 1)
            r = testbed.q_star[rows, a] + rng.standard_normal(runs)
            n[rows, a] += 1
            # Q(A) <- Q(A) + (R - Q(A)) / N(A)  (eq. 2.3)
            q[rows, a] += (r - q[rows, a]) / n[rows, a]
            rewards[t - 1] = r
            optimal[t - 1] = a == best
    return BanditResult(rewards, optimal, q, n)
