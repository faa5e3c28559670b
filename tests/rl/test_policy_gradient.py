"""Policy gradient: the surrogate loss gives the exact gradient of J, and the training loop is sound."""

from __future__ import annotations

import itertools

import gymnasium as gym
import numpy as np
import pytest
import torch

from deepkata.models import build_model, get_model
from deepkata.rl.advantages import reward_to_go
from deepkata.rl.policy_gradient import (
    Evaluator,
    PGSettings,
    PolicyConfig,
    SoftmaxPolicy,
    Trainer,
    collect_episodes,
    collect_rollout,
    make_envs,
    policy_loss,
    torch_threads,
    train_until_solved,
)


def policy64(obs_dim=3, n_actions=2, temperature=1.0, seed=0):
    cfg = PolicyConfig(obs_dim=obs_dim, n_actions=n_actions, hidden=8, temperature=temperature)
    return SoftmaxPolicy(cfg, torch.Generator().manual_seed(seed)).double()


def test_softmax_policy_with_temperature():
    pi = policy64(temperature=2.5)
    obs = torch.randn(5, 3, dtype=torch.float64)
    h = pi.preferences(obs)
    actions = torch.tensor([0, 1, 1, 0, 1])
    logp, entropy = pi.log_prob(obs, actions)
    reference = torch.distributions.Categorical(logits=h / 2.5)
    assert torch.allclose(logp, reference.log_prob(actions)) and torch.allclose(entropy, reference.entropy())
    # grad_h log pi(a|s) = (onehot(a) - pi(.|s)) / T, the softmax-with-temperature score function
    hh = h.detach().requires_grad_(True)
    torch.log_softmax(hh / 2.5, dim=-1)[torch.arange(5), actions].sum().backward()
    expected = (torch.nn.functional.one_hot(actions, 2) - torch.softmax(h / 2.5, dim=-1)) / 2.5
    assert torch.allclose(hh.grad, expected.detach())


def test_registered_networks_are_the_ones_the_trainer_trains():
    # D -> 64 -> 64 -> A: (4 + 1) 64 + (64 + 1) 64 + (64 + 1) 2 parameters for CartPole
    assert get_model("softmax-policy").example_parameters() == 5 * 64 + 65 * 64 + 65 * 2
    assert get_model("value-function").example_parameters() == 5 * 64 + 65 * 64 + 65
    trainer = Trainer(PGSettings(num_envs=2, hidden=16, temperature=0.5), algorithm="actor-critic", env_id="CartPole-v1", seed=3)
    policy = build_model("softmax-policy", obs_dim=4, n_actions=2, hidden=16, temperature=0.5)
    value = build_model("value-function", obs_dim=4, hidden=16)
    assert [p.shape for p in trainer.policy.parameters()] == [p.shape for p in policy.parameters()]
    assert [p.shape for p in trainer.value.parameters()] == [p.shape for p in value.parameters()]
    assert trainer.policy.temperature == policy.temperature == 0.5
    # orthogonal initial weights, gain sqrt 2 on hidden layers and 0.01 / 1 on the outputs, zero biases
    first, last = trainer.policy.preferences[0], trainer.policy.preferences[-1]
    assert torch.allclose(first.weight.T @ first.weight, 2 * torch.eye(4), atol=1e-5)
    assert torch.allclose(last.weight @ last.weight.T, 1e-4 * torch.eye(2), atol=1e-9)
    assert not any(layer.bias.any() for layer in (first, last, trainer.value.net[-1]))
    # drawn from the seed's generator alone: the same seed gives the same networks
    again = Trainer(PGSettings(num_envs=2, hidden=16, temperature=0.5), algorithm="actor-critic", env_id="CartPole-v1", seed=3)
    for net, other in ((trainer.policy, again.policy), (trainer.value, again.value)):
        assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), other.state_dict().values()))


# A two-step episodic MDP, enumerated exactly: from s0 action a leads to s1 (a = 0) or s2 (a = 1);
# there any action ends the episode. States are one-hot observations.
REWARD_1 = {(0, 0): 1.0, (0, 1): 0.0}  # r(s0, a)
REWARD_2 = {(1, 0): 0.0, (1, 1): 2.0, (2, 0): 3.0, (2, 1): -1.0}  # r(s, a) for s = s1, s2
OBS = torch.eye(3, dtype=torch.float64)


def trajectories():
    for a0, a1 in itertools.product((0, 1), repeat=2):
        s1 = 1 + a0
        yield [0, s1], [a0, a1], [REWARD_1[(0, a0)], REWARD_2[(s1, a1)]]


def exact_objective(pi: SoftmaxPolicy) -> torch.Tensor:
    """J(theta) = sum over trajectories of P(trajectory) G_0."""
    total = torch.zeros((), dtype=torch.float64)
    for states, actions, rewards in trajectories():
        logp, _ = pi.log_prob(OBS[states], torch.tensor(actions))
        total = total + logp.sum().exp() * sum(rewards)
    return total


@pytest.mark.parametrize("baseline", [0.0, 1.7])
def test_reinforce_surrogate_gives_the_exact_policy_gradient(baseline):
    """grad J = E[sum_t grad log pi(a_t|s_t) (G_t - b(s_t))]: the expectation taken exactly, over all trajectories."""
    pi = policy64(temperature=0.7)
    params = list(pi.parameters())
    true_grad = torch.autograd.grad(exact_objective(pi), params)

    trajs = list(trajectories())
    rewards = np.array([r for _, _, r in trajs]).T  # (T=2, N=4 trajectories)
    ended = np.array([[False] * 4, [True] * 4])
    g = reward_to_go(rewards, ended, 1.0)  # (2, 4)
    obs = OBS[[s for states, _, _ in trajs for s in states]].reshape(4, 2, 3).transpose(0, 1).reshape(8, 3)
    actions = torch.tensor([a for _, acts, _ in trajs for a in acts]).reshape(4, 2).T.reshape(8)
    logp, _ = pi.log_prob(obs, actions)
    with torch.no_grad():  # probability of each trajectory, as a fixed weight
        prob = logp.reshape(2, 4).sum(0).exp()
    b = np.array([[baseline] * 4, [-baseline] * 4])  # any function of the state leaves the gradient unchanged
    advantages = torch.as_tensor(g - b).reshape(8) * prob.repeat(2) * 8  # mean over 8 entries -> expectation
    surrogate_grad = torch.autograd.grad(policy_loss(logp, advantages), params)
    for exact, ours in zip(true_grad, surrogate_grad):
        assert torch.allclose(-ours, exact, atol=1e-12)


class Counter(gym.Env):
    """obs = [steps so far]; reward 1 per step; never terminates (a time limit cuts it)."""

    observation_space = gym.spaces.Box(0, 100, (1,), dtype=np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.array([0.0], dtype=np.float32), {}

    def step(self, action):
        self.t += 1
        return np.array([self.t], dtype=np.float32), 1.0, False, False, {}


gym.register("deepkata-test/Counter-v0", entry_point=Counter, max_episode_steps=3)


def test_rollouts_keep_the_final_observation_of_a_cut_episode():
    envs = make_envs("deepkata-test/Counter-v0", 2)
    obs, _ = envs.reset(seed=[0, 1])
    batch, obs = collect_rollout(envs, obs, lambda o: np.zeros(len(o), dtype=np.int64), 7)
    assert batch.obs[:, 0, 0].tolist() == [0, 1, 2, 0, 1, 2, 0]
    assert batch.ended[:, 0].tolist() == [False, False, True, False, False, True, False]
    assert not batch.terminated.any()  # cut by the time limit, not terminal
    assert batch.next_obs[:, 0, 0].tolist() == [1, 2, 3, 1, 2, 3, 1]  # 3: the final observation, not the reset 0
    assert obs[:, 0].tolist() == [1, 1]


def test_reinforce_batches_hold_one_whole_episode_per_environment():
    envs = make_envs("CartPole-v1", 4)
    envs.reset(seed=[0, 1, 2, 3])
    rng = np.random.default_rng(0)
    batch, returns = collect_episodes(envs, lambda o: rng.integers(0, 2, len(o)))
    lengths = batch.mask.sum(axis=0)
    assert (returns == lengths).all()  # CartPole pays 1 per step
    for i, n in enumerate(lengths):
        assert batch.mask[:n, i].all() and not batch.mask[n:, i].any()
        assert batch.ended[n - 1, i] and not batch.ended[: n - 1, i].any()
    assert len(batch.mask) == lengths.max()


def test_training_is_deterministic_for_a_seed():
    def params_after(seed):
        trainer = Trainer(PGSettings(num_envs=2, rollout=8), algorithm="actor-critic", env_id="CartPole-v1", seed=seed)
        for _ in range(3):
            stats = trainer.update()
        assert stats.env_steps == 3 * 2 * 8 == trainer.used_steps
        return torch.cat([p.flatten() for p in trainer.policy.parameters()])

    with torch_threads(1):
        assert torch.equal(params_after(0), params_after(0))
        assert not torch.equal(params_after(0), params_after(1))


def test_divergence_is_reported_not_raised():
    trainer = Trainer(PGSettings(num_envs=2, policy_lr=1e30, value_lr=1e30), algorithm="reinforce", env_id="CartPole-v1", seed=0)
    diverged = [trainer.update().diverged for _ in range(4)]
    assert diverged[0] is False and any(diverged)


def test_evaluator_plays_the_same_episodes_for_everyone():
    evaluate = Evaluator("CartPole-v1", 30, 123, batch=8)
    rng = np.random.default_rng(0)
    always_left = evaluate(lambda o: np.zeros(len(o), dtype=np.int64))
    assert always_left.shape == (30,)
    assert (evaluate(lambda o: np.zeros(len(o), dtype=np.int64)) == always_left).all()
    assert 8 <= always_left.mean() <= 11  # pushing one way topples the pole in about 9 steps
    random = evaluate(lambda o: rng.integers(0, 2, len(o)))
    assert 15 <= random.mean() <= 30  # a random policy lasts about 22 steps


def test_train_until_solved_stops_at_the_target_or_the_budget():
    with torch_threads(1):
        trainer = Trainer(PGSettings(num_envs=2, rollout=10), algorithm="actor-critic", env_id="CartPole-v1", seed=0)
        rec = train_until_solved(trainer, Evaluator("CartPole-v1", 4, 0), budget=10_000, eval_every=50, target=1.0)
        assert rec.solved_at == 60 and rec.env_steps == 60 and len(rec.evaluations) == 1
        trainer = Trainer(PGSettings(num_envs=2, rollout=10), algorithm="actor-critic", env_id="CartPole-v1", seed=0)
        rec = train_until_solved(trainer, Evaluator("CartPole-v1", 4, 0), budget=400, eval_every=100, target=1e9)
    assert rec.solved_at is None and rec.env_steps == 400
    assert [s for s, _ in rec.evaluations] == [100, 200, 300, 400]
    assert rec.train_seconds > 0 and all(steps <= 400 for steps, _ in rec.episodes)
