"""Kata ``bandit``: explore vs exploit on the 10-armed testbed (Sutton & Barto Figure 2.2).

Every agent plays the same 2,000 problems (:mod:`deepkata.rl.bandits`) for 1,000 steps: the
greedy agent, epsilon-greedy agents, softmax agents with a temperature (the curriculum's policy
function, ../shared/curriculum/004) and UCB (§2.7). The report draws Figure 2.2 (average reward
and % optimal action against steps) with the extra agents on top, and checks the statements the
book makes about it in §2.3. With ``study=true`` it also sweeps each agent's parameter, as the
book's parameter study (Figure 2.6) does.

Each agent's simulation is one job of the training engine, a :class:`~deepkata.core.engine.Task`
(it cannot pause midway): an interrupted run resumes with the agents that had not finished.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from deepkata.core.config import ConfigError, KataConfig, param
from deepkata.core.engine import JobContext, JobSpec, Task
from deepkata.core.plots import figure
from deepkata.core.registry import Expectation, Outcome, register_kata
from deepkata.core.runner import Run
from deepkata.rl.bandits import BanditAgent, Testbed, simulate

# the parameter study of Figure 2.6: each agent's parameter on a log2 grid
STUDY = {
    "epsilon-greedy": tuple(2.0**k for k in range(-7, -1)),
    "softmax": tuple(2.0**k for k in range(-5, 2)),
    "ucb": tuple(2.0**k for k in range(-4, 3)),
    "optimistic": tuple(2.0**k for k in range(-2, 3)),  # greedy with initial estimates Q1
}


@dataclass(frozen=True, kw_only=True)
class BanditConfig(KataConfig):
    runs: int = param(2000, "independent bandit problems, averaged in the curves", gt=0, le=1_000_000)
    steps: int = param(1000, "pulls per problem", gt=0, le=1_000_000)
    arms: int = param(10, "arms per problem (K)", ge=2, le=10_000)
    epsilons: tuple[float, ...] = param((0.0, 0.01, 0.1), "epsilon-greedy agents; epsilon 0 is the greedy agent", ge=0, le=1)
    temperatures: tuple[float, ...] | None = param((0.1, 0.25, 1.0), "softmax agents' temperatures T; none for no softmax agent", gt=0)
    ucb: tuple[float, ...] | None = param((2.0,), "UCB agents' exploration constants c; none for no UCB agent", gt=0)
    tail: int = param(100, "final steps averaged into each agent's end-of-run figures", gt=0)
    study: bool = param(False, "also sweep each agent's parameter and plot reward against it (Figure 2.6)")

    def validate(self) -> None:
        if self.tail > self.steps:
            raise ConfigError(f"tail must be <= steps ({self.steps}), got {self.tail}")
        if len(set(self.epsilons)) != len(self.epsilons):
            raise ConfigError(f"epsilons: each value once, got {self.epsilons}")


def _key(agent: BanditAgent) -> str:
    """The agent's metric prefix: greedy, eps0.1, softmax0.1, ucb2, optimistic4."""
    if agent.initial:
        return f"optimistic{agent.initial:g}"
    if agent.kind == "greedy":
        return "greedy"
    prefix = {"epsilon-greedy": "eps", "softmax": "softmax", "ucb": "ucb"}[agent.kind]
    return f"{prefix}{agent.parameter:g}"


def _agents(cfg: BanditConfig) -> list[BanditAgent]:
    agents = [BanditAgent("greedy") if e == 0 else BanditAgent("epsilon-greedy", e) for e in cfg.epsilons]
    agents += [BanditAgent("softmax", t) for t in cfg.temperatures or ()]
    agents += [BanditAgent("ucb", c) for c in cfg.ucb or ()]
    return agents


def _study_agents() -> list[tuple[str, float, BanditAgent]]:
    out = [("epsilon-greedy", e, BanditAgent("epsilon-greedy", e)) for e in STUDY["epsilon-greedy"]]
    out += [("softmax", t, BanditAgent("softmax", t)) for t in STUDY["softmax"]]
    out += [("ucb", c, BanditAgent("ucb", c)) for c in STUDY["ucb"]]
    out += [("optimistic", q0, BanditAgent("greedy", initial=q0)) for q0 in STUDY["optimistic"]]
    return out


@register_kata(
    name="bandit",
    topic="rl",
    section="Day 4 · reinforcement learning: explore vs exploit",
    description="10-armed testbed: greedy, ε-greedy, softmax with temperature and UCB, Sutton & Barto Figure 2.2",
    config=BanditConfig,
    presets={
        "smoke": {"runs": 300, "steps": 300, "tail": 50},
        "default": {},
        "full": {"study": True},
    },
    cpu_only=True,
    expectations=[
        Expectation("ε = 0.1 finds the optimal arm more often than greedy", "eps0.1/optimal_tail", ">=", "greedy/optimal_tail", presets=("smoke",)),
        Expectation("ε = 0.1 earns more per step than greedy", "eps0.1/reward_tail", ">=", "greedy/reward_tail", presets=("smoke",)),
        Expectation("greedy earns only about 1 per step at the end (§2.3)", "greedy/reward_tail", "~", 1.0, tol=0.1, presets=("default", "full")),
        Expectation("greedy finds the optimal arm in about one third of problems (§2.3)", "greedy/optimal_tail", "~", 1 / 3, tol=0.05, presets=("default", "full")),
        Expectation("the best possible reward per step is about 1.55 (§2.3)", "testbed/best_mean", "~", 1.55, tol=0.03, presets=("default", "full")),
        Expectation("ε = 0.1 never exceeds 91% optimal actions (§2.3)", "eps0.1/optimal_tail", "<=", 0.91, presets=("default", "full")),
        Expectation("ε = 0.1 is ahead of ε = 0.01 at step 1,000 in % optimal (Figure 2.2)", "eps0.1/optimal_tail", ">=", "eps0.01/optimal_tail", presets=("default", "full")),
        Expectation("ε = 0.01 beats greedy in reward by step 1,000 (Figure 2.2)", "eps0.01/reward_tail", ">=", "greedy/reward_tail", presets=("default", "full")),
        Expectation("ε = 0.1 reaches about 80% optimal actions by step 1,000 (Figure 2.2, read by eye)", "eps0.1/optimal_tail", "~", 0.8, tol=0.05, presets=("default", "full")),
        Expectation("UCB (c = 2) earns more than ε = 0.1 over 1,000 steps (Figure 2.4)", "ucb2/reward_mean", ">=", "eps0.1/reward_mean", presets=("default", "full")),
    ],  # fmt: skip
)
def run(cfg: BanditConfig, run: Run) -> Outcome:
    testbed = Testbed.generate(cfg.runs, cfg.arms, np.random.default_rng(run.seed))
    agents = _agents(cfg)
    plays: list[tuple[str, BanditAgent]] = [(_key(a), a) for a in agents]
    if cfg.study:
        plays += [(f"study/{kind}/{p:g}", a) for kind, p, a in _study_agents()]
    # every agent plays the same problems, with draws from its own stream [seed, index + 1]
    grid = [JobSpec(key, (index, agent), tags={"agent": key}) for index, (key, agent) in enumerate(plays)]

    def make_job(params: tuple[int, BanditAgent], ctx: JobContext) -> Task:
        index, agent = params

        def play() -> dict[str, np.ndarray]:
            result = simulate(agent, testbed, cfg.steps, np.random.default_rng([ctx.seed, index + 1]))
            curves = {
                "reward": result.rewards.mean(axis=1),  # (steps,) average over runs
                "optimal": result.optimal.mean(axis=1),  # (steps,) fraction of runs
            }
            ctx.log(index, {"train/reward_mean": float(curves["reward"].mean())})
            return curves

        return Task(play)

    done = run.sweep(grid, make_job, description="bandit agents")

    metrics: dict[str, Any] = {"testbed/best_mean": float(testbed.q_star.max(axis=1).mean())}
    rows = []
    for key, agent in plays[: len(agents)]:
        curves = done[key]
        m = {
            "reward_mean": float(curves["reward"].mean()),
            "reward_tail": float(curves["reward"][-cfg.tail :].mean()),
            "optimal_tail": float(curves["optimal"][-cfg.tail :].mean()),
        }
        metrics.update({f"{key}/{k}": v for k, v in m.items()})
        rows.append({"agent": agent.label, "metric prefix": key, "reward per step, all steps": m["reward_mean"],
                     f"reward per step, last {cfg.tail}": m["reward_tail"], f"% optimal, last {cfg.tail}": 100 * m["optimal_tail"]})  # fmt: skip
    table = run.save_table("agents", rows, "Each agent's average over all problems")
    run.save_figure(_figure_2_2(agents, done, metrics["testbed/best_mean"]), "figure_2_2", "Average reward and % optimal action against steps (Sutton & Barto Figure 2.2, with softmax and UCB added)")
    sections = [("Agents", _table_preamble(cfg) + "\n\n" + table)]
    if cfg.study:
        study = _study(done)
        metrics.update({f"study/{kind}/best": best for kind, (_, best) in study.items()})
        run.save_figure(_study_figure(done), "parameter_study", f"Average reward over the first {cfg.steps:,} steps against each agent's parameter (Figure 2.6)")
        rows = [{"agent": kind, "best parameter": p, "average reward": best} for kind, (p, best) in study.items()]
        sections.append(("Parameter study", run.save_table("parameter_study", rows, "Each agent at its best parameter")))
    return Outcome(metrics, _summary(cfg, agents, metrics), sections)


def _table_preamble(cfg: BanditConfig) -> str:
    return (
        f"{cfg.runs:,} problems with q*(a) ~ N(0, 1) over {cfg.arms} arms, rewards ~ N(q*(a), 1), "
        f"{cfg.steps:,} pulls each; every agent plays the same problems and keeps sample-average estimates."
    )


def _summary(cfg: BanditConfig, agents: list[BanditAgent], m: dict[str, Any]) -> str:
    ranked = sorted(agents, key=lambda a: -m[f"{_key(a)}/reward_mean"])
    best = ranked[0]
    parts = [
        f"Over {cfg.runs:,} problems × {cfg.steps:,} steps, {best.label} earned the most per step "
        f"({m[f'{_key(best)}/reward_mean']:.3f} on average; the best possible is {m['testbed/best_mean']:.3f}, "
        "always pulling the optimal arm)."
    ]
    if "greedy/reward_tail" in m:
        parts.append(
            f"The greedy agent stalls: {m['greedy/reward_tail']:.2f} per step and the optimal arm in "
            f"{m['greedy/optimal_tail']:.0%} of problems at the end, as in Figure 2.2 (about 1 and one third)."
        )
    for e in cfg.epsilons:
        if e > 0 and f"eps{e:g}/optimal_tail" in m:
            parts.append(f"ε = {e:g}: {m[f'eps{e:g}/reward_tail']:.2f} per step, {m[f'eps{e:g}/optimal_tail']:.0%} optimal over the last {cfg.tail} steps.")
    for t in cfg.temperatures or ():
        parts.append(f"Softmax T = {t:g}: {m[f'softmax{t:g}/reward_tail']:.2f} per step, {m[f'softmax{t:g}/optimal_tail']:.0%} optimal.")
    for c in cfg.ucb or ():
        parts.append(f"UCB c = {c:g}: {m[f'ucb{c:g}/reward_tail']:.2f} per step, {m[f'ucb{c:g}/optimal_tail']:.0%} optimal.")
    return " ".join(parts)


def _figure_2_2(agents: list[BanditAgent], done: dict[str, dict[str, Any]], best: float) -> Any:
    fig, (ax_r, ax_o) = figure(2, 1, width=7.5, height=3.3)
    for agent in agents:
        curves = done[_key(agent)]
        steps = np.arange(1, len(curves["reward"]) + 1)
        ax_r.plot(steps, curves["reward"], lw=0.9, label=agent.label)
        ax_o.plot(steps, 100 * curves["optimal"], lw=0.9, label=agent.label)
    ax_r.axhline(best, color="k", ls=":", lw=0.8, label="best possible")
    ax_r.set(xlabel="steps", ylabel="average reward")
    ax_o.set(xlabel="steps", ylabel="% optimal action", ylim=(0, 100))
    ax_r.legend(fontsize=7, ncol=2)
    return fig


def _study(done: dict[str, dict[str, Any]]) -> dict[str, tuple[float, float]]:
    """For each kind of agent: (best parameter, its average reward)."""
    out = {}
    for kind, params in STUDY.items():
        scores = [float(done[f"study/{kind}/{p:g}"]["reward"].mean()) for p in params]
        i = int(np.argmax(scores))
        out[kind] = (params[i], scores[i])
    return out


def _study_figure(done: dict[str, dict[str, Any]]) -> Any:
    fig, ax = figure(1, 1, width=7, height=4)
    labels = {"epsilon-greedy": "ε-greedy (ε)", "softmax": "softmax (T)", "ucb": "UCB (c)", "optimistic": "greedy, optimistic Q1"}
    for kind, params in STUDY.items():
        ax.plot(params, [done[f"study/{kind}/{p:g}"]["reward"].mean() for p in params], marker="o", label=labels[kind])
    ax.set_xscale("log", base=2)
    ax.set(xlabel="parameter (ε, T, c, Q1)", ylabel="average reward over all steps")
    ax.legend(fontsize=8)
    return fig
