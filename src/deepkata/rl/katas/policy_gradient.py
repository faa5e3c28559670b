"""Kata ``policy-gradient``: REINFORCE with baseline and actor-critic on CartPole-v1.

Each algorithm (:mod:`deepkata.rl.policy_gradient`) trains with ``seeds`` seeds on gymnasium
vector environments until its greedy policy's mean return over 100 fixed evaluation
episodes reaches the environment's threshold (475 for CartPole-v1), or the step budget runs
out. The report gives the environment steps each seed needed, the learning curves and the
final policies' returns, greedy and sampled. ``full`` is the issue's test: at least 4 of 5
seeds of each algorithm within the stated budget. ``bench/rl.py`` runs the same protocol
against stable-baselines3 PPO.

Each (algorithm, seed) is one job of the training engine, a :class:`~deepkata.core.engine.Task`
that moves its progress bar as it trains: gymnasium's vector environments cannot be saved
midway, so the engine checkpoints between jobs, and an interrupted run trains the job it was
in again from that job's start and ends with the same numbers. The networks live on the run's
device (``--device``); the environments step on the CPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import gymnasium as gym
import numpy as np

from deepkata.core.config import ConfigError, KataConfig, param
from deepkata.core.engine import JobContext, JobSpec, Task
from deepkata.core.plots import figure, moving_average
from deepkata.core.registry import Expectation, Outcome, register_kata
from deepkata.core.runner import Run
from deepkata.rl.policy_gradient import EVAL_SAMPLING_SEED, Algorithm, Evaluator, PGSettings, Trainer, UpdateStats, torch_threads, train_until_solved

EnvId = Literal["CartPole-v1", "Acrobot-v1"]
_EVALUATED = {"greedy": "greedy policy (argmax pi)", "sampled": "policy, sampling its actions from pi,"}
EVAL_SEED = 10_000  # evaluation episode i starts from reset(seed=EVAL_SEED + i), for every algorithm and seed


@dataclass(frozen=True, kw_only=True)
class PolicyGradientConfig(KataConfig):
    env: EnvId = param("CartPole-v1", "gymnasium environment id")
    algorithms: tuple[Algorithm, ...] = param(("reinforce", "actor-critic"), "algorithms to train and compare")
    seeds: int = param(2, "seeds per algorithm: seed, seed+1, ...", gt=0, le=1000)
    budget: int = param(150_000, "environment steps per seed at most", gt=0)
    target: float | None = param(None, "mean evaluation return that counts as solved; none: the environment's threshold")
    eval_every: int = param(5_000, "environment steps between evaluations of the greedy policy", gt=0)
    eval_episodes: int = param(100, "episodes per evaluation, the same ones every time", gt=0, le=100_000)
    evaluation: Literal["greedy", "sampled"] = param("greedy", "evaluations play argmax pi (as stable-baselines3 does) or sample from pi")
    agent: PGSettings = param(PGSettings(), "the agent: vector environments, networks, optimisers, rollouts")
    smooth: int = param(20, "training episodes in the moving average of the learning-curve plot", gt=0)
    threads: int = param(1, "torch threads while training; networks this small run fastest on one", gt=0, le=1024)

    def validate(self) -> None:
        if len(set(self.algorithms)) != len(self.algorithms):
            raise ConfigError(f"algorithms: each algorithm once, got {','.join(self.algorithms)}")

    @property
    def threshold(self) -> float:
        if self.target is not None:
            return self.target
        return float(gym.spec(self.env).reward_threshold)


def _train(cfg: PolicyGradientConfig, algorithm: Algorithm, ctx: JobContext) -> dict[str, Any]:
    """One seed of one algorithm, trained until solved or out of budget; its record."""
    trainer = Trainer(cfg.agent, algorithm=algorithm, env_id=cfg.env, seed=ctx.seed, device=ctx.device)
    evaluate = Evaluator(cfg.env, cfg.eval_episodes, EVAL_SEED)

    def on_update(stats: UpdateStats) -> None:
        values = {"train/policy_loss": stats.policy_loss, "train/value_loss": stats.value_loss, "train/entropy": stats.entropy}
        if stats.episodes:
            values["train/return"] = float(np.mean(stats.episodes))
        ctx.log(stats.env_steps, values)
        ctx.report_progress(stats.env_steps)

    try:
        rec = train_until_solved(
            trainer, evaluate, budget=cfg.budget, eval_every=cfg.eval_every, target=cfg.threshold,
            sampled=cfg.evaluation == "sampled", on_update=on_update,
        )  # fmt: skip
        for steps, mean in rec.evaluations:
            ctx.log(steps, {f"eval/{cfg.evaluation}_return": mean})
        greedy = rec.evaluations[-1][1] if rec.evaluations and cfg.evaluation == "greedy" else float(evaluate(trainer.greedy).mean())
        sampled = rec.evaluations[-1][1] if rec.evaluations and cfg.evaluation == "sampled" else float(evaluate(trainer.sampler(EVAL_SAMPLING_SEED)).mean())
        return {
            "solved_at": rec.solved_at,
            "diverged_at": rec.diverged_at,
            "env_steps": rec.env_steps,
            "used_steps": rec.used_steps,
            "train_seconds": rec.train_seconds,
            "evaluations": np.array(rec.evaluations, dtype=np.float64).reshape(-1, 2),
            "episodes": np.array(rec.episodes, dtype=np.float64).reshape(-1, 2),
            "final_greedy": greedy,
            "final_sampled": sampled,  # the stochastic policy the agent trained with
        }
    finally:
        trainer.close()
        evaluate.close()


@register_kata(
    name="policy-gradient",
    topic="rl",
    section="Day 4 · reinforcement learning: policy gradient",
    description="REINFORCE with baseline and actor-critic with a softmax-with-temperature policy on CartPole-v1",
    config=PolicyGradientConfig,
    presets={
        "smoke": {"algorithms": ("actor-critic",), "seeds": 1, "budget": 6000, "eval_every": 3000, "eval_episodes": 5, "smooth": 5},
        "default": {},
        "full": {"seeds": 5},
    },
    expectations=[
        Expectation("actor-critic's training return rises", "actor-critic/return_last", ">=", "actor-critic/return_first", presets=("smoke",)),
        Expectation("no seed diverges", "diverged_seeds", "<=", 0),
        Expectation("REINFORCE solves CartPole (greedy mean ≥ 475 over 100 episodes) for every seed within 150,000 steps", "reinforce/solved_seeds", ">=", 2, presets=("default",)),
        Expectation("actor-critic solves CartPole for every seed within 150,000 steps", "actor-critic/solved_seeds", ">=", 2, presets=("default",)),
        Expectation("REINFORCE solves CartPole for at least 4 of 5 seeds within 150,000 steps", "reinforce/solved_seeds", ">=", 4, presets=("full",)),
        Expectation("actor-critic solves CartPole for at least 4 of 5 seeds within 150,000 steps", "actor-critic/solved_seeds", ">=", 4, presets=("full",)),
    ],  # fmt: skip
    data="gymnasium CartPole-v1 (or Acrobot-v1), simulated",
)
def run(cfg: PolicyGradientConfig, run: Run) -> Outcome:
    seeds = [run.seed + k for k in range(cfg.seeds)]
    grid = [
        JobSpec(f"{algorithm}/{seed}", algorithm, seed=seed, tags={"algorithm": algorithm, "seed": seed})
        for algorithm in cfg.algorithms
        for seed in seeds
    ]

    def make_job(algorithm: Algorithm, ctx: JobContext) -> Task:
        def train() -> dict[str, Any]:
            with torch_threads(cfg.threads):
                return _train(cfg, algorithm, ctx)

        return Task(train, total=cfg.budget, device=ctx.device)

    jobs = run.sweep(grid, make_job, description=f"{cfg.env}: {len(cfg.algorithms)} algorithms × {len(seeds)} seeds")

    by_algorithm = {algorithm: [jobs[f"{algorithm}/{s}"] for s in seeds] for algorithm in cfg.algorithms}
    metrics: dict[str, Any] = {"diverged_seeds": sum(j["diverged_at"] is not None for j in jobs.values()), "target": cfg.threshold}
    for algorithm, runs in by_algorithm.items():
        metrics.update(_metrics(algorithm, runs, cfg))
    # training throughput, evaluations excluded: wall-clock, so a timing rather than a metric
    timings = {
        f"{algorithm}/env_steps_per_s": sum(j["env_steps"] for j in runs) / max(sum(j["train_seconds"] for j in runs), 1e-9)
        for algorithm, runs in by_algorithm.items()
    }
    rows = [_row(algorithm, seed, jobs[f"{algorithm}/{seed}"]) for algorithm in cfg.algorithms for seed in seeds]
    table = run.save_table("seeds", rows, "Every seed of every algorithm")
    run.save_figure(_curves(cfg, seeds, jobs), "learning_curves", f"Training-episode returns against environment steps (moving average of {cfg.smooth}), and greedy evaluations")
    sections = [("Seeds", _preamble(cfg) + "\n\n" + table)]
    return Outcome(metrics, _summary(cfg, seeds, metrics), sections, timings)


def _metrics(algorithm: str, jobs: list[dict[str, Any]], cfg: PolicyGradientConfig) -> dict[str, Any]:
    steps = sorted(j["solved_at"] for j in jobs if j["solved_at"] is not None)
    first = [j["episodes"][: cfg.smooth, 1].mean() for j in jobs if len(j["episodes"])]
    last = [j["episodes"][-cfg.smooth :, 1].mean() for j in jobs if len(j["episodes"])]
    m = {
        "solved_seeds": len(steps),
        "steps_to_target_median": float(np.median(steps)) if steps else None,
        "steps_to_target_max": steps[-1] if steps else None,
        "return_first": float(np.mean(first)) if first else None,
        "return_last": float(np.mean(last)) if last else None,
        "final_greedy_return": float(np.mean([j["final_greedy"] for j in jobs])),
        "final_sampled_return": float(np.mean([j["final_sampled"] for j in jobs])),
        "used_step_fraction": sum(j["used_steps"] for j in jobs) / sum(j["env_steps"] for j in jobs),
    }
    return {f"{algorithm}/{k}": v for k, v in m.items()}


def _row(algorithm: str, seed: int, job: dict[str, Any]) -> dict[str, Any]:
    return {
        "algorithm": algorithm,
        "seed": seed,
        "solved at (env steps)": job["solved_at"] if job["solved_at"] is not None else "not solved",
        "env steps run": job["env_steps"],
        "used in updates": f"{job['used_steps'] / job['env_steps']:.0%}",
        "final greedy return": job["final_greedy"],
        "final sampled return": job["final_sampled"],
        "training s": round(job["train_seconds"], 1),
    }


def _preamble(cfg: PolicyGradientConfig) -> str:
    agent = cfg.agent
    return (
        f"{cfg.env}, {agent.num_envs} vector environments, softmax policy with T = {agent.temperature:g}, gamma = {agent.gamma:g}, "
        f"Adam {agent.policy_lr:g} / {agent.value_lr:g}; actor-critic rollouts of {agent.rollout} steps with GAE lambda = "
        f"{agent.gae_lambda:g}. Every {cfg.eval_every:,} environment steps the {_EVALUATED[cfg.evaluation]} plays the same "
        f"{cfg.eval_episodes} evaluation episodes; a seed is solved at the first evaluation whose mean return reaches "
        f"{cfg.threshold:g}, and training stops there. *Env steps run* counts every simulated step, including those "
        "REINFORCE discards while it waits for its slowest environment to finish an episode. The final greedy and "
        "sampled returns play the same episodes with argmax pi and with actions drawn from pi, as in training."
    )


def _summary(cfg: PolicyGradientConfig, seeds: list[int], m: dict[str, Any]) -> str:
    parts = []
    for alg in cfg.algorithms:
        solved = m[f"{alg}/solved_seeds"]
        text = f"{alg}: solved {solved} of {len(seeds)} seeds within {cfg.budget:,} environment steps, judged by the {cfg.evaluation} policy"
        if solved:
            text += f" (median {m[f'{alg}/steps_to_target_median']:,.0f}, at most {m[f'{alg}/steps_to_target_max']:,} steps)"
        text += (
            f"; the final greedy policies average {m[f'{alg}/final_greedy_return']:.1f} and the sampled ones "
            f"{m[f'{alg}/final_sampled_return']:.1f} per evaluation episode."
        )
        if alg == "reinforce":
            text += f" REINFORCE used {m['reinforce/used_step_fraction']:.0%} of the steps it simulated; the rest were discarded while it waited for whole episodes."
        parts.append(text)
    if cfg.evaluation == "greedy":
        parts.append(
            "Solving is judged on the greedy policy, as stable-baselines3's evaluate_policy does by default; the "
            "sampled policy that generated the training data scores lower, as the final sampled returns show "
            "(`--set evaluation=sampled` judges that one instead)."
        )
    if m["diverged_seeds"]:
        parts.append(f"**{m['diverged_seeds']} seed(s) diverged** (a loss became NaN or infinite); training stopped there.")
    parts.append(
        f"Baseline: a uniformly random policy lasts about 22 steps on CartPole-v1; the threshold is {cfg.threshold:g}. "
        "bench/rl.py compares steps to the threshold with stable-baselines3 PPO on the same evaluation episodes."
    )
    return " ".join(parts)


def _mean_by_step(episodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(step, return) rows → one mean return per step: the vector environments end several
    episodes on the same step, which a line through them draws as vertical whiskers."""
    steps, index = np.unique(episodes[:, 0], return_inverse=True)
    return steps, np.bincount(index, weights=episodes[:, 1]) / np.bincount(index)


def _curves(cfg: PolicyGradientConfig, seeds: list[int], jobs: dict[str, dict[str, Any]]) -> Any:
    fig, axes = figure(1, len(cfg.algorithms), width=5.0, height=3.6)
    for ax, alg in zip(np.atleast_1d(axes), cfg.algorithms):
        for k, seed in enumerate(seeds):
            job = jobs[f"{alg}/{seed}"]
            colour = f"C{k % 10}"
            if len(job["episodes"]):
                steps, returns = _mean_by_step(job["episodes"])
                ax.plot(steps, moving_average(returns, cfg.smooth), color=colour, lw=0.9, label=f"seed {seed}")
            if len(job["evaluations"]):
                ax.plot(job["evaluations"][:, 0], job["evaluations"][:, 1], "o", color=colour, ms=3)
        ax.axhline(cfg.threshold, color="k", ls=":", lw=0.8, label=f"solved ({cfg.threshold:g})")
        ax.set(xlabel="environment steps", ylabel="return", title=f"{alg} (dots: {cfg.evaluation} evaluations)")
        ax.legend(fontsize=7)
    return fig
