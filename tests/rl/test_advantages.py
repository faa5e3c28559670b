"""Returns and GAE: equal to their definitions as sums, and to stable-baselines3's RolloutBuffer."""

from __future__ import annotations

import numpy as np
import pytest

from deepkata.rl.advantages import gae, reward_to_go


def random_batch(rng: np.random.Generator, t: int = 12, n: int = 3):
    rewards = rng.normal(size=(t, n))
    values = rng.normal(size=(t, n))
    terminated = rng.random((t, n)) < 0.15
    truncated = ~terminated & (rng.random((t, n)) < 0.1)
    ended = terminated | truncated
    final_values = rng.normal(size=(t, n))  # V of the final observation where an episode ended
    last = rng.normal(size=n)  # V(s_T), the bootstrap after the batch
    next_values = np.vstack([values[1:], last[None]])
    next_values = np.where(ended, final_values, next_values)
    return rewards, values, next_values, terminated, ended


def gae_by_definition(rewards, values, next_values, terminated, ended, gamma, lam):
    """A_t = sum_l (gamma lambda)^l delta_{t+l}, summed until the episode or the batch ends."""
    t_max, n = rewards.shape
    delta = rewards + gamma * (1 - terminated) * next_values - values
    out = np.zeros_like(rewards)
    for i in range(n):
        for t in range(t_max):
            total, k = 0.0, t
            while k < t_max:
                total += (gamma * lam) ** (k - t) * delta[k, i]
                if ended[k, i]:
                    break
                k += 1
            out[t, i] = total
    return out


@pytest.mark.parametrize("lam", [0.0, 0.5, 0.95, 1.0])
def test_gae_is_the_discounted_sum_of_td_errors(lam):
    batch = random_batch(np.random.default_rng(0))
    assert gae(*batch, gamma=0.9, lam=lam) == pytest.approx(gae_by_definition(*batch, gamma=0.9, lam=lam))


def test_lambda_zero_is_the_td_error_and_one_is_the_monte_carlo_return_minus_v():
    rewards, values, next_values, terminated, ended = random_batch(np.random.default_rng(1))
    delta = rewards + 0.9 * (1 - terminated) * next_values - values
    assert gae(rewards, values, next_values, terminated, ended, 0.9, 0.0) == pytest.approx(delta)
    # lambda = 1 telescopes: A_t = G_t - V(s_t), G_t bootstrapped where the episode is cut
    one = gae(rewards, values, next_values, terminated, ended, 0.9, 1.0)
    g = np.zeros_like(rewards)
    carry = np.zeros(rewards.shape[1])
    for t in range(len(rewards) - 1, -1, -1):
        bootstrap = np.where(ended[t], (1 - terminated[t]) * next_values[t], carry if t < len(rewards) - 1 else next_values[t])
        carry = rewards[t] + 0.9 * bootstrap
        g[t] = carry
    assert one == pytest.approx(g - values)


def test_reward_to_go_sums_the_rest_of_each_episode():
    rewards = np.array([[1.0, 2.0], [1.0, 0.0], [1.0, 5.0], [3.0, 1.0]])
    ended = np.array([[False, True], [True, False], [False, False], [True, True]])
    g = reward_to_go(rewards, ended, 0.5)
    assert g[:, 0] == pytest.approx([1 + 0.5 * 1, 1, 1 + 0.5 * 3, 3])
    assert g[:, 1] == pytest.approx([2, 0 + 0.5 * 5 + 0.25 * 1, 5 + 0.5 * 1, 1])


def test_gae_equals_stable_baselines3_rollout_buffer():
    sb3 = pytest.importorskip("stable_baselines3", reason="stable-baselines3 is a bench/test extra: pip install --no-deps stable-baselines3")
    import torch
    from gymnasium import spaces
    from stable_baselines3.common.buffers import RolloutBuffer

    rewards, values, next_values, terminated, ended = random_batch(np.random.default_rng(2), t=16, n=4)
    gamma, lam = 0.97, 0.9
    buffer = RolloutBuffer(16, spaces.Box(-1, 1, (1,)), spaces.Discrete(2), device="cpu", gae_lambda=lam, gamma=gamma, n_envs=4)
    # SB3 bootstraps a time-limit cut by adding gamma V(final observation) to the last reward
    # (OnPolicyAlgorithm.collect_rollouts) and treats every episode end as terminal
    truncated = ended & ~terminated
    sb3_rewards = rewards + gamma * np.where(truncated, next_values, 0.0)
    starts = np.vstack([np.zeros((1, 4), dtype=bool), ended[:-1]])
    for t in range(16):
        buffer.add(np.zeros((4, 1)), np.zeros((4, 1)), sb3_rewards[t], starts[t], torch.as_tensor(values[t]), torch.zeros(4))
    buffer.compute_returns_and_advantage(torch.as_tensor(np.where(ended[-1], 0.0, next_values[-1])), ended[-1])
    ours = gae(rewards, values, next_values, terminated, ended, gamma, lam)
    assert sb3.__version__
    assert ours == pytest.approx(buffer.advantages, abs=1e-5)
    assert ours + values == pytest.approx(buffer.returns, abs=1e-5)
