"""Returns and advantages of a batch of transitions: what a policy gradient multiplies log pi by.

Sutton & Barto, 2nd ed.: the return G_t = R_{t+1} + gamma G_{t+1} (eq. 3.9), used "to go" by
REINFORCE (§13.3-13.4); the TD error delta_t of actor-critic (§13.5); the lambda-return (§12.1)
in the form of generalized advantage estimation, Schulman et al., *High-Dimensional Continuous
Control Using Generalized Advantage Estimation* (2016), eq. 16::

    delta_t = r_t + gamma (1 - terminated_t) V(s_{t+1}) - V(s_t)
    A_t     = delta_t + gamma lambda (1 - ended_t) A_{t+1},      A_T = 0

Arrays are (T, N): T consecutive steps of N environments. ``ended_t`` marks the last step of an
episode, whether it reached a terminal state (``terminated_t``: nothing follows, V = 0) or was
cut by a time limit (the next state s_{t+1} is the final observation and its value still
counts). ``next_values[t]`` is V(s_{t+1}): the final observation's value where an episode
ended, the next row's state otherwise, and the bootstrap value at t = T - 1.

lambda = 0 gives the one-step actor-critic advantage delta_t; lambda = 1 the Monte Carlo
return minus V(s_t), bootstrapped where the batch cuts an episode. With V = 0 and
lambda = 1 the advantage is the discounted reward-to-go itself (:func:`reward_to_go`).
"""

from __future__ import annotations

import numpy as np


def gae(
    rewards: np.ndarray,
    values: np.ndarray,
    next_values: np.ndarray,
    terminated: np.ndarray,
    ended: np.ndarray,
    gamma: float,
    lam: float,
) -> np.ndarray:
    """Advantages A_t (T, N) by the backward recursion above."""
    rewards = np.asarray(rewards, dtype=np.float64)
    advantages = np.zeros_like(rewards)
    carry = np.zeros(rewards.shape[1:])  # A_{t+1}
    for t in range(len(rewards) - 1, -1, -1):
        # delta_t = r_t + gamma (1 - terminated_t) V(s_{t+1}) - V(s_t)
        delta = rewards[t] + gamma * (1.0 - terminated[t]) * next_values[t] - values[t]
        # A_t = delta_t + gamma lambda (1 - ended_t) A_{t+1}
        carry = delta + gamma * lam * (1.0 - ended[t]) * carry
        advantages[t] = carry
    return advantages


def reward_to_go(rewards: np.ndarray, ended: np.ndarray, gamma: float) -> np.ndarray:
    """G_t = sum_{k >= t} gamma^(k - t) r_k up to the end of t's episode (or of the batch), shape (T, N)."""
    zeros = np.zeros_like(np.asarray(rewards, dtype=np.float64))
    return gae(rewards, zeros, zeros, ended, ended, gamma, 1.0)
