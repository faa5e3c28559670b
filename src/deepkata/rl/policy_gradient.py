"""Policy gradient: REINFORCE with a learned baseline, and a synchronous advantage actor-critic.

The curriculum's policy gradient (../shared/curriculum/002-004, Day 4 Section 1)::

    theta <- theta + eta grad J(theta),      grad J(theta) = E_pi[grad log pi_theta(a|s) Q^pi(s, a)]

with the softmax policy with temperature T, pi_theta(a|s) = exp(h(s, a)/T) / sum_b exp(h(s, b)/T),
where the notes' Q(s, a) is here the output h_theta(s, a) of a network (the action
preferences of Sutton & Barto §13.1).

- **REINFORCE with baseline** (Sutton & Barto, 2nd ed., §13.3-13.4; Williams 1992): Q^pi(s_t, a_t)
  is estimated by the reward-to-go G_t of a whole episode, and a learned state value V_w(s_t)
  is subtracted as a baseline, which leaves the gradient unbiased and lowers its variance.
  A batch is one complete episode from each of the N vector environments, all started afresh
  under the current policy; an environment that ends early idles (its further steps are
  simulated by the vector environment but discarded, and counted as environment steps).
- **Actor-critic** (§13.5; Mnih et al. 2016, A2C): every N x T steps the critic V_w
  bootstraps the advantage with generalized advantage estimation (:mod:`deepkata.rl.advantages`),
  so episodes need not end before an update.

Both minimise the surrogate loss -mean(log pi(a|s) A) (:func:`policy_loss`), whose gradient is
minus the sample policy gradient, with Adam; the critic or baseline minimises mean (V(s) - target)^2.
Like most implementations, and unlike the pseudo-code of §13.3, the updates leave out the factor
gamma^t: with gamma < 1 the direction is then not exactly the gradient of the discounted return
from the start state (Thomas 2014, *Bias in natural actor-critic algorithms*), but late steps of
long episodes are not ignored; with gamma = 1 it is exact (the tests check this on an MDP whose
trajectories can be enumerated).
Environments come from gymnasium's vector API (``gym.make_vec``), with same-step autoreset, so the
final observation of an episode cut by the time limit is there to bootstrap from.

The two networks are registered models (``softmax-policy``, ``value-function``) built from their
configs (:class:`PolicyConfig`, :class:`ValueConfig`); :class:`PGSettings` holds the rest of an
agent's settings, and the :class:`Trainer` takes the algorithm and the environment.

Shapes: N environments, T steps, D observation features, A actions.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode
from torch import nn

from deepkata.core.config import Config, param
from deepkata.models.registry import register_model
from deepkata.rl.advantages import gae, reward_to_go

Algorithm = Literal["reinforce", "actor-critic"]
EVAL_SAMPLING_SEED = 20_000  # the generator of sampled evaluations: the same draws every time


@dataclass(frozen=True, kw_only=True)
class PGSettings(Config):
    """How an agent learns; the algorithm and the environment are the :class:`Trainer`'s own arguments."""

    num_envs: int = param(8, "vector environments N", gt=0, le=1024)
    hidden: int = param(64, "units in each of the two hidden layers of the policy and value networks", gt=0, le=4096)
    temperature: float = param(1.0, "temperature T of the softmax policy", gt=0)
    gamma: float = param(0.99, "discount", ge=0, le=1)
    policy_lr: float = param(1e-3, "Adam step size of the policy", gt=0)
    value_lr: float = param(1e-3, "Adam step size of the baseline / critic", gt=0)
    rollout: int = param(32, "actor-critic: steps per environment between updates (T)", gt=0)
    gae_lambda: float = param(0.95, "actor-critic: lambda of the advantage estimate (0: one-step TD)", ge=0, le=1)
    entropy: float = param(0.0, "weight of the entropy bonus", ge=0)
    normalize_advantages: bool = param(True, "standardise advantages within each batch")
    max_grad_norm: float = param(0.0, "clip each network's gradient norm; 0 turns clipping off", ge=0)


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block on ``n`` intra-op threads, then restore the count: networks this small train
    fastest on one thread, and on a busy CPU several threads can be ten times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# --- the networks ----------------------------------------------------------------------------------


def _mlp(sizes: list[int], generator: torch.Generator | None, out_gain: float) -> nn.Sequential:
    """Linear-tanh layers with orthogonal weights (gain sqrt 2, the last ``out_gain``) and zero biases."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        linear = nn.Linear(n_in, n_out)
        last = i == len(sizes) - 2
        nn.init.orthogonal_(linear.weight, gain=out_gain if last else np.sqrt(2), generator=generator)
        nn.init.zeros_(linear.bias)
        layers += [linear] if last else [linear, nn.Tanh()]
    return nn.Sequential(*layers)


@dataclass(frozen=True, kw_only=True)
class PolicyConfig(Config):
    """The policy network: D and A come from the environment."""

    obs_dim: int = param(1, "D: observation features (from the environment)", ge=1)
    n_actions: int = param(2, "A: discrete actions (from the environment)", ge=2)
    hidden: int = param(64, "units in each of the two hidden layers", ge=1)
    temperature: float = param(1.0, "temperature T of the softmax", gt=0)


class SoftmaxPolicy(nn.Module):
    """pi_theta(a|s) = softmax(h_theta(s, .) / T): an MLP gives the preferences h (N, A).

    ``generator`` draws the initial weights (None: PyTorch's global generator).
    """

    def __init__(self, cfg: PolicyConfig, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.temperature = cfg.temperature
        self.preferences = _mlp([cfg.obs_dim, cfg.hidden, cfg.hidden, cfg.n_actions], generator, out_gain=0.01)

    def logits(self, obs: torch.Tensor) -> torch.Tensor:
        # log pi(a|s) up to a constant: h(s, a) / T
        return self.preferences(obs) / self.temperature

    def log_prob(self, obs: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """log pi(a|s) (N,) of ``actions`` and the entropy (N,) of pi(.|s)."""
        logp = torch.log_softmax(self.logits(obs), dim=-1)  # (N, A)
        return logp.gather(-1, actions[:, None]).squeeze(-1), -(logp.exp() * logp).sum(-1)

    def sample(self, obs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        probs = torch.softmax(self.logits(obs), dim=-1)  # (N, A)
        if not torch.isfinite(probs).all():
            raise FloatingPointError("the policy's action probabilities are not finite")
        return torch.multinomial(probs, 1, generator=generator).squeeze(-1)

    def greedy(self, obs: torch.Tensor) -> torch.Tensor:
        return self.logits(obs).argmax(dim=-1)


@dataclass(frozen=True, kw_only=True)
class ValueConfig(Config):
    """The value network (critic or baseline): D comes from the environment."""

    obs_dim: int = param(1, "D: observation features (from the environment)", ge=1)
    hidden: int = param(64, "units in each of the two hidden layers", ge=1)


class ValueFunction(nn.Module):
    """V_w(s): an MLP with one output; ``generator`` draws the initial weights (None: PyTorch's global one)."""

    def __init__(self, cfg: ValueConfig, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.net = _mlp([cfg.obs_dim, cfg.hidden, cfg.hidden, 1], generator, out_gain=1.0)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs).squeeze(-1)


@register_model("softmax-policy", config=PolicyConfig, topic="rl", example={"obs_dim": 4, "n_actions": 2})
def softmax_policy(cfg: PolicyConfig) -> SoftmaxPolicy:
    """pi(a|s): a two-hidden-layer tanh MLP's action preferences through a softmax with temperature T."""
    return SoftmaxPolicy(cfg)


@register_model("value-function", config=ValueConfig, topic="rl", example={"obs_dim": 4})
def value_function(cfg: ValueConfig) -> ValueFunction:
    """V(s): a two-hidden-layer tanh MLP with one output, the critic or the baseline."""
    return ValueFunction(cfg)


def policy_loss(log_probs: torch.Tensor, advantages: torch.Tensor) -> torch.Tensor:
    """-mean(log pi(a|s) A): its gradient is minus the sample estimate of grad J(theta)."""
    # grad J ~ mean_t grad log pi(a_t|s_t) A_t, so descending this loss ascends J
    return -(log_probs * advantages.detach()).mean()


def _standardize(x: torch.Tensor) -> torch.Tensor:
    return (x - x.mean()) / (x.std() + 1e-8) if len(x) > 1 else x - x.mean()


# --- collecting experience ------------------------------------------------------------------------

Policy = Callable[[np.ndarray], np.ndarray]  # observations (N, D) -> actions (N,)


@dataclass(frozen=True)
class Batch:
    """T steps of N environments, arrays (T, N, ...); ``mask`` marks the steps an update may use."""

    obs: np.ndarray  # (T, N, D) s_t
    actions: np.ndarray  # (T, N) a_t
    rewards: np.ndarray  # (T, N) r_t
    terminated: np.ndarray  # (T, N) s_{t+1} is terminal
    ended: np.ndarray  # (T, N) the episode ended at this step (terminated or cut by the time limit)
    next_obs: np.ndarray  # (T, N, D) s_{t+1}: the final observation where the episode ended
    mask: np.ndarray  # (T, N) bool


def collect_episodes(envs: gym.vector.VectorEnv, policy: Policy) -> tuple[Batch, np.ndarray]:
    """One fresh episode from each environment, and their returns (N,).

    All N environments are reset and stepped together until each has ended its first episode;
    steps after an environment's first episode are simulated (the vector steps all of them)
    but masked out, so every episode of the batch is an independent sample of the current policy.
    """
    obs, _ = envs.reset()
    n = envs.num_envs
    active = np.ones(n, dtype=bool)  # still in its first episode
    returns = np.zeros(n)
    steps = []
    while active.any():
        a = policy(obs)
        next_obs, r, terminated, truncated, info = envs.step(a)
        ended = terminated | truncated
        steps.append((obs, a, r, terminated, ended, _final(next_obs, ended, info), active.copy()))
        returns += r * active
        active &= ~ended
        obs = next_obs
    return Batch(*(np.stack(x) for x in zip(*steps))), returns


def collect_rollout(envs: gym.vector.VectorEnv, obs: np.ndarray, policy: Policy, steps: int) -> tuple[Batch, np.ndarray]:
    """``steps`` steps of every environment from observations ``obs``; returns the batch and the next ``obs``.

    Episodes run on across rollouts: the vector environment resets an environment in the same
    step that ends its episode, and ``next_obs`` keeps the final observation for bootstrapping.
    """
    rows = []
    for _ in range(steps):
        a = policy(obs)
        next_obs, r, terminated, truncated, info = envs.step(a)
        ended = terminated | truncated
        rows.append((obs, a, r, terminated, ended, _final(next_obs, ended, info), np.ones(len(a), dtype=bool)))
        obs = next_obs
    return Batch(*(np.stack(x) for x in zip(*rows))), obs


def _final(next_obs: np.ndarray, ended: np.ndarray, info: dict[str, Any]) -> np.ndarray:
    """s_{t+1} of each environment: with same-step autoreset the final observation of an ended episode is in ``info``."""
    if not ended.any():
        return next_obs
    out = next_obs.copy()
    for i in np.flatnonzero(ended):
        out[i] = info["final_obs"][i]
    return out


def make_envs(env_id: str, num_envs: int) -> gym.vector.VectorEnv:
    """N synchronous copies of ``env_id`` that reset an environment in the step that ends its episode."""
    return gym.make_vec(
        env_id, num_envs=num_envs, vectorization_mode="sync", vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP}
    )


# --- training --------------------------------------------------------------------------------------


@dataclass
class UpdateStats:
    env_steps: int  # environment steps so far, discarded ones included
    episodes: list[float]  # returns of the episodes completed in this batch
    policy_loss: float
    value_loss: float
    entropy: float
    diverged: bool  # a loss, a weight or an action probability stopped being finite; nothing was updated


class Trainer:
    """One agent of ``algorithm`` on N vector environments of ``env_id``; :meth:`update` collects a
    batch and takes one step.

    The networks live on ``device``: observations go there from the environments, actions come
    back as NumPy arrays. Their initial weights are drawn on the CPU from the seed's generator,
    so they are the same on every device; on the CPU the actions' draws continue that stream,
    elsewhere they come from a generator of the device's own with the same seed.
    """

    def __init__(
        self, settings: PGSettings, *, algorithm: Algorithm, env_id: str, seed: int, device: torch.device | str = "cpu"
    ) -> None:
        self.s, self.algorithm = settings, algorithm
        self.device = torch.device(device)
        self.envs = make_envs(env_id, settings.num_envs)
        obs_dim = int(np.prod(self.envs.single_observation_space.shape))
        n_actions = int(self.envs.single_action_space.n)
        init = torch.Generator().manual_seed(seed)
        policy = PolicyConfig(obs_dim=obs_dim, n_actions=n_actions, hidden=settings.hidden, temperature=settings.temperature)
        self.policy = SoftmaxPolicy(policy, init).to(self.device)
        self.value = ValueFunction(ValueConfig(obs_dim=obs_dim, hidden=settings.hidden), init).to(self.device)
        self.generator = init if self.device.type == "cpu" else torch.Generator(self.device).manual_seed(seed)
        self.policy_opt = torch.optim.Adam(self.policy.parameters(), lr=settings.policy_lr)
        self.value_opt = torch.optim.Adam(self.value.parameters(), lr=settings.value_lr)
        self.obs, _ = self.envs.reset(seed=[seed * 1000 + i for i in range(settings.num_envs)])
        self.running = np.zeros(settings.num_envs)  # actor-critic: return so far of each environment's episode
        self.env_steps = 0
        self.used_steps = 0  # steps whose transitions entered an update
        self.updates = 0

    def _tensor(self, x: np.ndarray, dtype: torch.dtype | None = torch.float32) -> torch.Tensor:
        """An array from the environments as a tensor on the networks' device: float32, or with
        ``dtype=None`` its own type (actions stay int64)."""
        return torch.as_tensor(x, dtype=dtype, device=self.device)

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Actions sampled from pi(.|s) for observations (N, D), with the training generator."""
        with torch.no_grad():
            return self.policy.sample(self._tensor(obs), self.generator).cpu().numpy()

    def sampler(self, seed: int) -> Policy:
        """pi(.|s) sampled with a generator of its own, so an evaluation does not disturb training's draws."""
        generator = torch.Generator(self.device).manual_seed(seed)

        def sample(obs: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return self.policy.sample(self._tensor(obs), generator).cpu().numpy()

        return sample

    def greedy(self, obs: np.ndarray) -> np.ndarray:
        """argmax_a pi(a|s) for observations (N, D)."""
        with torch.no_grad():
            return self.policy.greedy(self._tensor(obs)).cpu().numpy()

    def update(self) -> UpdateStats:
        try:
            if self.algorithm == "reinforce":
                return self._reinforce()
            return self._actor_critic()
        except FloatingPointError:  # pi(.|s) stopped being a distribution
            return UpdateStats(self.env_steps, [], float("nan"), float("nan"), float("nan"), True)

    def _reinforce(self) -> UpdateStats:
        batch, returns = collect_episodes(self.envs, self.act)
        self.env_steps += batch.mask.size
        self.used_steps += int(batch.mask.sum())
        m = batch.mask
        # G_t = sum_{k >= t} gamma^(k-t) r_k within each environment's episode
        g = self._tensor(reward_to_go(batch.rewards, batch.ended, self.s.gamma)[m])  # (M,)
        obs = self._tensor(batch.obs[m])  # (M, D)
        v = self.value(obs)
        # A_t = G_t - b(s_t), with the learned baseline b = V_w
        stats = self._step(obs, self._tensor(batch.actions[m], dtype=None), g - v.detach(), v, g)
        return UpdateStats(self.env_steps, returns.tolist(), *stats)

    def _actor_critic(self) -> UpdateStats:
        batch, self.obs = collect_rollout(self.envs, self.obs, self.act, self.s.rollout)
        self.env_steps += batch.mask.size
        self.used_steps += batch.mask.size
        finished = []
        for rewards, ended in zip(batch.rewards, batch.ended):
            self.running += rewards
            finished += self.running[ended].tolist()
            self.running[ended] = 0.0
        t, n = batch.rewards.shape
        obs = self._tensor(batch.obs.reshape(t * n, -1))  # (T N, D)
        with torch.no_grad():
            values = self.value(obs).double().cpu().numpy().reshape(t, n)  # V(s_t)
            next_values = self.value(self._tensor(batch.next_obs.reshape(t * n, -1))).double().cpu().numpy().reshape(t, n)
        adv = gae(batch.rewards, values, next_values, batch.terminated, batch.ended, self.s.gamma, self.s.gae_lambda)  # (T, N)
        # the critic's target: the lambda-return A_t + V(s_t)
        target = self._tensor((adv + values).ravel())
        stats = self._step(obs, self._tensor(batch.actions.ravel(), dtype=None), self._tensor(adv.ravel()), self.value(obs), target)
        return UpdateStats(self.env_steps, finished, *stats)

    def _step(
        self, obs: torch.Tensor, actions: torch.Tensor, advantages: torch.Tensor, v: torch.Tensor, target: torch.Tensor
    ) -> tuple[float, float, float, bool]:
        """One Adam step of the policy on -mean(log pi A) - entropy bonus and of V on its squared error."""
        if self.s.normalize_advantages:
            advantages = _standardize(advantages)
        logp, entropy = self.policy.log_prob(obs, actions)
        loss_pi = policy_loss(logp, advantages) - self.s.entropy * entropy.mean()
        loss_v = torch.mean((v - target) ** 2)
        numbers = (float(loss_pi.detach()), float(loss_v.detach()), float(entropy.mean().detach()))
        if not all(np.isfinite(numbers)):
            return (*numbers, True)
        for loss, net, opt in ((loss_pi, self.policy, self.policy_opt), (loss_v, self.value, self.value_opt)):
            opt.zero_grad()
            loss.backward()
            if self.s.max_grad_norm:
                nn.utils.clip_grad_norm_(net.parameters(), self.s.max_grad_norm)
            opt.step()
        self.updates += 1
        finite = all(bool(torch.isfinite(p).all()) for net in (self.policy, self.value) for p in net.parameters())
        return (*numbers, not finite)

    def close(self) -> None:
        self.envs.close()


class Evaluator:
    """Mean return of a deterministic policy over fixed evaluation episodes: the same ones for everyone.

    Episode i starts from ``reset(seed=seed + i)``; ``policy`` maps a batch of observations
    (N, D) to actions (N,), so an SB3 model's ``predict`` serves as well as :meth:`Trainer.greedy`.
    """

    def __init__(self, env_id: str, episodes: int, seed: int, batch: int = 50) -> None:
        self.episodes, self.seed = episodes, seed
        self.batch = min(batch, episodes)
        self.envs = gym.make_vec(env_id, num_envs=self.batch, vectorization_mode="sync")

    def __call__(self, policy: Policy) -> np.ndarray:
        returns = np.empty(self.episodes)
        for start in range(0, self.episodes, self.batch):
            obs, _ = self.envs.reset(seed=[self.seed + start + i for i in range(self.batch)])
            total = np.zeros(self.batch)
            active = np.ones(self.batch, dtype=bool)
            while active.any():
                obs, r, terminated, truncated, _ = self.envs.step(policy(obs))
                total += r * active
                active &= ~(terminated | truncated)
            take = min(self.batch, self.episodes - start)
            returns[start : start + take] = total[:take]
        return returns

    def close(self) -> None:
        self.envs.close()


@dataclass
class TrainingRecord:
    """What :func:`train_until_solved` saw: enough for the report, the bench and a checkpoint."""

    solved_at: int | None = None  # environment steps when an evaluation first reached the target
    diverged_at: int | None = None  # environment steps when a loss stopped being finite
    env_steps: int = 0
    used_steps: int = 0
    train_seconds: float = 0.0  # wall time of the updates, evaluations excluded
    evaluations: list[tuple[int, float]] = field(default_factory=list)  # (env steps, mean greedy return)
    episodes: list[tuple[int, float]] = field(default_factory=list)  # (env steps, return) of training episodes


def train_until_solved(
    trainer: Trainer,
    evaluate: Evaluator,
    *,
    budget: int,
    eval_every: int,
    target: float,
    sampled: bool = False,
    on_update: Callable[[UpdateStats], None] | None = None,
) -> TrainingRecord:
    """Update until the policy's mean evaluation return reaches ``target`` or ``budget`` steps pass.

    The policy is evaluated after the first update past every multiple of ``eval_every``
    environment steps; training stops at the first evaluation that reaches the target, so the
    final policy is the one that did. Evaluations play the greedy policy argmax_a pi(a|s), the
    convention of stable-baselines3's ``evaluate_policy``, or with ``sampled`` actions drawn
    from pi as in training (each evaluation with the same draws, :data:`EVAL_SAMPLING_SEED`).
    """
    record = TrainingRecord()
    next_eval = eval_every
    while trainer.env_steps < budget:
        start = time.perf_counter()
        stats = trainer.update()
        record.train_seconds += time.perf_counter() - start
        record.episodes += [(stats.env_steps, r) for r in stats.episodes]
        if on_update is not None:
            on_update(stats)
        if stats.diverged:
            record.diverged_at = trainer.env_steps
            break
        if trainer.env_steps >= next_eval:
            next_eval += eval_every * ((trainer.env_steps - next_eval) // eval_every + 1)
            mean = float(evaluate(trainer.sampler(EVAL_SAMPLING_SEED) if sampled else trainer.greedy).mean())
            record.evaluations.append((trainer.env_steps, mean))
            if mean >= target:
                record.solved_at = trainer.env_steps
                break
    record.env_steps, record.used_steps = trainer.env_steps, trainer.used_steps
    return record
