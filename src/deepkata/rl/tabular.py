"""Tabular control: Q-learning, SARSA, Expected SARSA and Monte Carlo control behind one interface.

Sutton & Barto, 2nd ed.: SARSA (§6.4), Q-learning (§6.5), Expected SARSA (§6.6), on-policy
first-visit Monte Carlo control for epsilon-soft policies (§5.4); the curriculum's summary of
the three (../shared/curriculum/004): Q-learning learns from the best next action, SARSA from
the action it actually takes next, Monte Carlo from the whole return once the episode is over.

Notation: Q (S, A) action values, alpha step size, gamma discount, epsilon the exploration
rate of the epsilon-greedy behaviour policy. The one-step TD methods differ only in the
estimate U of the value of the next state S' that they bootstrap from::

    Q(S, A) <- Q(S, A) + alpha [R + gamma U - Q(S, A)]
        Q-learning       U = max_a Q(S', a)
        SARSA            U = Q(S', A'),  A' the action the agent will take in S'
        Expected SARSA   U = sum_a pi(a|S') Q(S', a),  pi the epsilon-greedy policy

An agent meets the environment through three calls (the RL-Glue convention): ``start(s)``
returns the first action, ``step(r, s)`` reports a reward and the next state and returns the
next action, ``end(r, s, terminated)`` closes the episode. ``terminated`` means a terminal
state was reached (its value is 0); an episode cut by a time limit bootstraps from ``s``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from deepkata.rl.action_selection import epsilon_greedy, epsilon_greedy_probs

Algorithm = Literal["q-learning", "sarsa", "expected-sarsa", "monte-carlo"]
ALGORITHMS: tuple[Algorithm, ...] = ("q-learning", "sarsa", "expected-sarsa", "monte-carlo")


@dataclass(frozen=True)
class AgentSettings:
    alpha: float = 0.5  # TD step size (Monte Carlo averages returns instead)
    alpha_decay: float = 0.0  # omega: the n-th update of Q(s, a) uses alpha / n^omega; 0 keeps alpha constant
    gamma: float = 1.0  # discount
    epsilon: float = 0.1  # exploration rate of the epsilon-greedy behaviour policy
    initial: float = 0.0  # Q(s, a) before any update

    def __post_init__(self) -> None:
        for name in ("alpha", "alpha_decay", "gamma", "epsilon"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {getattr(self, name)}")


class TabularAgent(ABC):
    """An action-value table and an epsilon-greedy behaviour policy over it."""

    def __init__(self, n_states: int, n_actions: int, settings: AgentSettings, rng: np.random.Generator) -> None:
        self.settings = settings
        self.q = np.full((n_states, n_actions), settings.initial, dtype=np.float64)
        self.rng = rng

    def act(self, s: int) -> int:
        return int(epsilon_greedy(self.q[s], self.settings.epsilon, self.rng))

    def greedy_policy(self) -> np.ndarray:
        """(S,) the action each state's greedy choice takes (the first on ties)."""
        return np.argmax(self.q, axis=1)

    def state_dict(self) -> dict[str, Any]:
        """What carries over from one episode to the next: the table and the generator (and a
        subclass's counts)."""
        return {"q": self.q.copy(), "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.q[...] = state["q"]
        self.rng.bit_generator.state = state["rng"]

    @abstractmethod
    def start(self, s: int) -> int:
        """Begin an episode in state ``s``; return the first action."""

    @abstractmethod
    def step(self, r: float, s: int) -> int:
        """The last action earned ``r`` and led to non-terminal ``s``; return the next action."""

    @abstractmethod
    def end(self, r: float, s: int, terminated: bool) -> None:
        """The last action earned ``r`` and led to ``s``, where the episode ended."""


class TDAgent(TabularAgent):
    """One-step TD control; a subclass says what it bootstraps from (:meth:`next_value`).

    With ``alpha_decay`` = omega > 0 the n-th update of Q(s, a) uses the step size alpha / n^omega,
    which meets the conditions sum alpha_n = inf, sum alpha_n^2 < inf (eq. 2.7) for omega in
    (0.5, 1] and so lets the values, and the greedy policy, settle in a stochastic environment.
    """

    chooses_next_first = False  # SARSA picks A' before its update; the others after it

    def __init__(self, n_states: int, n_actions: int, settings: AgentSettings, rng: np.random.Generator) -> None:
        super().__init__(n_states, n_actions, settings, rng)
        self.updates = np.zeros((n_states, n_actions), dtype=np.int64)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "updates": self.updates.copy()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.updates[...] = state["updates"]

    def start(self, s: int) -> int:
        self._s, self._a = s, self.act(s)
        return self._a

    def step(self, r: float, s: int) -> int:
        a_next = self.act(s) if self.chooses_next_first else -1
        self._update(r + self.settings.gamma * self.next_value(s, a_next))
        if a_next < 0:
            a_next = self.act(s)
        self._s, self._a = s, a_next
        return a_next

    def end(self, r: float, s: int, terminated: bool) -> None:
        if terminated:  # U = 0 at a terminal state
            self._update(r)
        else:
            a_next = self.act(s) if self.chooses_next_first else -1
            self._update(r + self.settings.gamma * self.next_value(s, a_next))

    def _update(self, target: float) -> None:
        s, a = self._s, self._a
        self.updates[s, a] += 1
        alpha = self.settings.alpha
        if self.settings.alpha_decay:
            alpha /= self.updates[s, a] ** self.settings.alpha_decay
        # Q(S, A) <- Q(S, A) + alpha [target - Q(S, A)]
        self.q[s, a] += alpha * (target - self.q[s, a])

    @abstractmethod
    def next_value(self, s: int, a_next: int) -> float:
        """U, the estimate of the value of next state ``s`` (``a_next`` is set for SARSA only)."""


class QLearning(TDAgent):
    def next_value(self, s: int, a_next: int) -> float:
        # U = max_a Q(S', a)
        return float(self.q[s].max())


class Sarsa(TDAgent):
    chooses_next_first = True

    def next_value(self, s: int, a_next: int) -> float:
        # U = Q(S', A')
        return float(self.q[s, a_next])


class ExpectedSarsa(TDAgent):
    def next_value(self, s: int, a_next: int) -> float:
        # U = sum_a pi(a|S') Q(S', a)
        return float(epsilon_greedy_probs(self.q[s], self.settings.epsilon) @ self.q[s])


class MonteCarloControl(TabularAgent):
    """On-policy first-visit MC control (§5.4): Q(s, a) is the average of first-visit returns."""

    def __init__(self, n_states: int, n_actions: int, settings: AgentSettings, rng: np.random.Generator) -> None:
        super().__init__(n_states, n_actions, settings, rng)
        self.visits = np.zeros((n_states, n_actions), dtype=np.int64)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "visits": self.visits.copy()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.visits[...] = state["visits"]

    def start(self, s: int) -> int:
        a = self.act(s)
        self._pairs: list[tuple[int, int]] = [(s, a)]
        self._rewards: list[float] = []
        return a

    def step(self, r: float, s: int) -> int:
        a = self.act(s)
        self._rewards.append(r)
        self._pairs.append((s, a))
        return a

    def end(self, r: float, s: int, terminated: bool) -> None:
        # an episode cut by a time limit is averaged as it is: MC has nothing to bootstrap from
        self._rewards.append(r)
        first = {}
        for t, pair in enumerate(self._pairs):
            first.setdefault(pair, t)
        g = 0.0
        for t in range(len(self._pairs) - 1, -1, -1):
            # G_t = R_{t+1} + gamma G_{t+1}
            g = self._rewards[t] + self.settings.gamma * g
            s_t, a_t = self._pairs[t]
            if first[(s_t, a_t)] == t:
                self.visits[s_t, a_t] += 1
                # Q(S_t, A_t) <- average of the returns that followed first visits
                self.q[s_t, a_t] += (g - self.q[s_t, a_t]) / self.visits[s_t, a_t]


AGENTS: dict[Algorithm, type[TabularAgent]] = {
    "q-learning": QLearning,
    "sarsa": Sarsa,
    "expected-sarsa": ExpectedSarsa,
    "monte-carlo": MonteCarloControl,
}


def make_agent(algorithm: Algorithm, n_states: int, n_actions: int, settings: AgentSettings, rng: np.random.Generator) -> TabularAgent:
    return AGENTS[algorithm](n_states, n_actions, settings, rng)


# --- episodes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Episode:
    ret: float  # sum of rewards (undiscounted), what Figure 6.4 plots
    length: int  # steps
    success: bool  # ended by entering a goal state


def run_episode(env: Any, agent: TabularAgent, goal_states: Collection[int]) -> Episode:
    """Play one episode of ``env`` (already seeded) with ``agent`` learning as it goes."""
    s, _ = env.reset()
    a = agent.start(s)
    ret, n = 0.0, 0
    while True:
        s, r, terminated, truncated, _ = env.step(a)
        ret += r
        n += 1
        if terminated or truncated:
            agent.end(r, s, terminated)
            return Episode(ret, n, bool(terminated and s in goal_states))
        a = agent.step(r, s)


def evaluate_policy(env: Any, policy: np.ndarray, episodes: int, goal_states: Collection[int]) -> tuple[np.ndarray, np.ndarray]:
    """Returns (episodes,) and successes (episodes,) of the deterministic ``policy`` (S,) on ``env``.

    ``env`` must end every episode (a time limit), since a greedy policy may walk in circles.
    """
    returns = np.empty(episodes)
    successes = np.empty(episodes, dtype=bool)
    for i in range(episodes):
        s, _ = env.reset()
        ret = 0.0
        while True:
            s, r, terminated, truncated, _ = env.step(int(policy[s]))
            ret += r
            if terminated or truncated:
                break
        returns[i], successes[i] = ret, terminated and s in goal_states
    return returns, successes
