"""Dynamic programming on a known model: the exact answers the learning agents are judged by.

Sutton & Barto, 2nd ed., ch. 4: policy evaluation (§4.1, here solved exactly as a linear
system), policy iteration (§4.3) and value iteration (§4.4); ch. 3 for the Bellman equations.

Notation: S states, A actions, discount gamma. A finite episodic MDP is held as arrays
(:class:`TabularModel`), built from the ``P[s][a] = [(prob, s', r, terminated)]`` tables that
gymnasium's toy-text environments expose::

    r(s, a)        expected reward of taking a in s                              (S, A)
    C(s, a, s')    probability of reaching s' with the episode going on          (S, A, S)
    g(s, a)        probability that the step ends the episode in a goal state    (S, A)

A terminating step contributes its reward and nothing after it, so every Bellman backup is
``r(s, a) + gamma * sum_s' C(s, a, s') V(s')``. Policies are arrays pi (S, A) of action
probabilities; a deterministic policy is a one-hot pi.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class TabularModel:
    reward: np.ndarray  # (S, A) r(s, a)
    cont: np.ndarray  # (S, A, S) C(s, a, s')
    success: np.ndarray  # (S, A) g(s, a)
    initial: np.ndarray  # (S,) distribution of the first state

    @classmethod
    def from_env(cls, env: Any, goal_states: Collection[int] = ()) -> TabularModel:
        """The model of a gymnasium environment that exposes ``P`` and ``initial_state_distrib``."""
        base = env.unwrapped
        n_states, n_actions = base.observation_space.n, base.action_space.n
        reward = np.zeros((n_states, n_actions))
        cont = np.zeros((n_states, n_actions, n_states))
        success = np.zeros((n_states, n_actions))
        for s in range(n_states):
            for a in range(n_actions):
                for prob, s_next, r, terminated in base.P[s][a]:
                    reward[s, a] += prob * r
                    if terminated:
                        success[s, a] += prob * (s_next in goal_states)
                    else:
                        cont[s, a, s_next] += prob
        return cls(reward, cont, success, np.asarray(base.initial_state_distrib, dtype=np.float64))

    @property
    def n_states(self) -> int:
        return self.reward.shape[0]

    @property
    def n_actions(self) -> int:
        return self.reward.shape[1]

    def acting_states(self) -> np.ndarray:
        """(S,) bool: the states an agent can be asked to act in, those reachable from the start."""
        reach = self.initial > 0
        step = self.cont.sum(axis=1) > 0  # (S, S): some action leads from s to s'
        while True:
            grown = reach | step[reach].any(axis=0)
            if (grown == reach).all():
                return reach
            reach = grown


def backup(model: TabularModel, v: np.ndarray, gamma: float) -> np.ndarray:
    """q(s, a) = r(s, a) + gamma sum_s' C(s, a, s') v(s'), shape (S, A)."""
    return model.reward + gamma * model.cont @ v


def greedy(q: np.ndarray) -> np.ndarray:
    """The deterministic policy (S, A) taking argmax_a q(s, a), the first on ties."""
    pi = np.zeros_like(q, dtype=np.float64)
    pi[np.arange(len(q)), np.argmax(q, axis=1)] = 1.0
    return pi


@dataclass(frozen=True)
class Solution:
    q: np.ndarray  # (S, A) optimal action values Q*
    v: np.ndarray  # (S,) optimal state values V*
    policy: np.ndarray  # (S, A) an optimal deterministic policy
    iterations: int  # sweeps (value iteration) or improvements (policy iteration)


def value_iteration(model: TabularModel, gamma: float, *, tol: float = 1e-12, max_iterations: int = 100_000) -> Solution:
    """Sweep V(s) <- max_a [r(s, a) + gamma sum_s' C(s, a, s') V(s')] until no value moves by ``tol``."""
    v = np.zeros(model.n_states)
    for k in range(1, max_iterations + 1):
        # V_{k+1}(s) = max_a q_k(s, a)   (eq. 4.10)
        v_next = backup(model, v, gamma).max(axis=1)
        delta = np.max(np.abs(v_next - v))
        v = v_next
        if delta <= tol:
            q = backup(model, v, gamma)
            return Solution(q, v, greedy(q), k)
    raise RuntimeError(f"value iteration did not converge in {max_iterations} sweeps (gamma={gamma})")


def policy_evaluation(model: TabularModel, pi: np.ndarray, gamma: float) -> np.ndarray:
    """V^pi exactly: the solution of (I - gamma P_pi) V = r_pi (eq. 4.4 as a linear system).

    With gamma = 1 this needs a proper policy, one that ends every episode; for an improper one
    the system is singular and a ValueError says so.
    """
    r_pi = np.sum(pi * model.reward, axis=1)  # (S,)
    p_pi = np.einsum("sa,sat->st", pi, model.cont)  # (S, S)
    if gamma >= 1 and not _ends_episodes(p_pi):
        raise ValueError("policy evaluation with gamma = 1: the policy does not end every episode (singular system)")
    return np.linalg.solve(np.eye(model.n_states) - gamma * p_pi, r_pi)


def _ends_episodes(p_pi: np.ndarray) -> bool:
    """Whether from every state the chain P_pi (S, S) ends the episode with positive probability."""
    ends = 1.0 - p_pi.sum(axis=1) > 1e-12  # states with a terminating step
    while True:
        grown = ends | (p_pi[:, ends].sum(axis=1) > 0)
        if (grown == ends).all():
            return bool(ends.all())
        ends = grown


def policy_iteration(model: TabularModel, gamma: float, *, max_iterations: int = 10_000) -> Solution:
    """Evaluate, improve greedily, repeat until the policy is stable (§4.3).

    It starts from the uniformly random policy, which is proper in every task here, so gamma = 1
    works where every improper policy costs without end (cliff walking); ties keep the current
    action, so the loop cannot cycle between equally good policies.
    """
    pi = np.full((model.n_states, model.n_actions), 1.0 / model.n_actions)
    for k in range(1, max_iterations + 1):
        v = policy_evaluation(model, pi, gamma)
        q = backup(model, v, gamma)
        best = q.max(axis=1, keepdims=True)
        keep = np.isclose(np.sum(pi * q, axis=1, keepdims=True), best, rtol=0, atol=1e-10) & (pi.max(axis=1, keepdims=True) == 1)
        improved = np.where(keep, pi, greedy(q))
        if np.array_equal(improved, pi):
            return Solution(q, v, pi, k)
        pi = improved
    raise RuntimeError(f"policy iteration did not settle in {max_iterations} improvements")


def finite_horizon_value(model: TabularModel, pi: np.ndarray, reward: np.ndarray, horizon: int) -> float:
    """E[sum of ``reward`` (S, A) over at most ``horizon`` steps] under pi from the start distribution.

    With ``model.reward`` this is the expected return of an episode cut by a time limit; with
    ``model.success`` it is the probability of reaching the goal within the limit.
    """
    v = np.zeros(model.n_states)
    for _ in range(horizon):
        # V_h(s) = sum_a pi(a|s) [x(s, a) + sum_s' C(s, a, s') V_{h-1}(s')]
        v = np.sum(pi * (reward + model.cont @ v), axis=1)
    return float(model.initial @ v)
