"""Kata ``tabular``: Q-learning, SARSA, Expected SARSA and Monte Carlo control, judged by value iteration.

Pick an environment (gymnasium's FrozenLake-v1, CliffWalking-v1, Taxi-v4 or the notes'
nine-room graph, :mod:`deepkata.rl.envs`) and algorithms (:mod:`deepkata.rl.tabular`). Each
algorithm learns in ``runs`` independent runs; the exact optimum Q* comes from value
iteration on the environment's own model (cross-checked by policy iteration,
:mod:`deepkata.rl.dynamic_programming`). The report shows the learning curves, the greedy
policies drawn on the grid next to the optimal one, ||Q - Q*|| along training, and the
greedy policies' success rate and return, both measured over evaluation episodes and computed
exactly from the model. Each (algorithm, run) is one job of the training engine
(:class:`TabularJob`), which checkpoints it between chunks of ``log_every`` episodes.

Presets: ``default`` and ``full`` reproduce Sutton & Barto Example 6.6 / Figure 6.4 (cliff
walking, epsilon = 0.1, alpha = 0.5: SARSA learns the safe path, Q-learning the path along the
cliff); ``frozenlake`` checks that Q-learning's greedy policy succeeds as often as the
value-iteration policy over 10,000 episodes; ``taxi`` and ``rooms`` run the other two tasks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from deepkata.core.config import ConfigError, KataConfig, param
from deepkata.core.engine import JobContext, JobSpec
from deepkata.core.plots import figure, integer_ticks, moving_average, scale_for
from deepkata.core.registry import Expectation, Outcome, register_kata
from deepkata.core.runner import Run
from deepkata.rl.dynamic_programming import Solution, TabularModel, finite_horizon_value, policy_iteration, value_iteration
from deepkata.rl.envs import Task, get_task
from deepkata.rl.policy_plot import draw_policy
from deepkata.rl.tabular import Algorithm, AgentSettings, evaluate_policy, make_agent, run_episode

EnvId = Literal["FrozenLake-v1", "CliffWalking-v1", "Taxi-v4", "deepkata/NineRooms-v0"]
NO_LIMIT_CAP = 2000  # step limit where the environment has none (cliff walking: its longest first episodes take ~700)
OPTIMAL_TOL = 1e-6  # an action whose Q* is within this of V* counts as optimal
CLIFF_EDGE = frozenset(range(25, 35))  # cliff walking's row 2, columns 1-10: one false step from the cliff


@dataclass(frozen=True, kw_only=True)
class TabularConfig(KataConfig):
    env: EnvId = param("CliffWalking-v1", "environment id")
    algorithms: tuple[Algorithm, ...] = param(("sarsa", "q-learning"), "algorithms to train and compare")
    episodes: int = param(500, "training episodes per run", gt=0, le=10_000_000)
    runs: int = param(50, "independent runs per algorithm, averaged in the curves", gt=0, le=100_000)
    alpha: float = param(0.5, "TD step size alpha (Monte Carlo averages returns instead)", gt=0, le=1)
    alpha_decay: float = param(0.0, "omega: the n-th update of Q(s, a) steps alpha / n^omega; 0 keeps alpha fixed", ge=0, le=1)
    epsilon: float = param(0.1, "exploration rate of the epsilon-greedy behaviour policy", ge=0, le=1)
    gamma: float | None = param(None, "discount; none: the textbook's for the environment (cliff 1, rooms 0.9, others 0.99)", ge=0, le=1)
    max_steps: int = param(0, "step limit of an episode; 0: the environment's own, or 2,000 where it has none", ge=0)
    eval_episodes: int = param(20, "evaluation episodes of each run's greedy policy, and of the optimal one", gt=0)
    tail: int = param(100, "final training episodes averaged into the online-return figure", gt=0)
    log_every: int = param(10, "episodes between measurements of ||Q - Q*||", gt=0)
    smooth: int = param(10, "episodes in the moving average of the learning-curve plot", gt=0)

    def validate(self) -> None:
        if self.gamma == 1.0 and not get_task(self.env).undiscounted:
            raise ConfigError(f"gamma = 1: {self.env} has policies whose return never ends or never counts; use gamma < 1")
        if len(set(self.algorithms)) != len(self.algorithms):
            raise ConfigError(f"algorithms: each algorithm once, got {','.join(self.algorithms)}")
        for name in ("tail", "log_every"):
            if getattr(self, name) > self.episodes:
                raise ConfigError(f"{name} must be <= episodes ({self.episodes}), got {getattr(self, name)}")


@dataclass(frozen=True)
class Setting:
    """What every job of a run shares: the task, its model and its exact solution."""

    task: Task
    gamma: float
    limit: int
    model: TabularModel
    optimum: Solution
    acting: np.ndarray  # (S,) states an agent acts in
    optimal_actions: np.ndarray  # (S, A) Q*(s, a) >= V*(s) - tol


def _setting(cfg: TabularConfig) -> Setting:
    task = get_task(cfg.env)
    gamma = task.gamma if cfg.gamma is None else cfg.gamma
    limit = cfg.max_steps or task.time_limit or NO_LIMIT_CAP
    model = TabularModel.from_env(task.make(), task.goal_states)
    optimum = value_iteration(model, gamma)
    optimal_actions = optimum.q >= optimum.v[:, None] - OPTIMAL_TOL
    return Setting(task, gamma, limit, model, optimum, model.acting_states(), optimal_actions)


def _one_hot(policy: np.ndarray, n_actions: int) -> np.ndarray:
    return np.eye(n_actions)[policy]


def _q_error(q: np.ndarray, setting: Setting) -> np.ndarray:
    """|Q - Q*| on the states an agent acts in, flattened."""
    return np.abs(q - setting.optimum.q)[setting.acting].ravel()


class TabularJob:
    """One run of one algorithm on the engine: training in chunks of ``log_every`` episodes, then its
    greedy policy judged by evaluation episodes and exactly from the model.

    Between episodes the whole state is the agent's table, counts and generator, the environment's
    generator and the record so far, so an interrupted run continues with the very same draws.
    """

    def __init__(self, cfg: TabularConfig, setting: Setting, algorithm: Algorithm, index: int, position: int, ctx: JobContext) -> None:
        """Run ``index`` of ``algorithm``; ``position``, its place in the grid, is the step of its line in metrics.jsonl."""
        self.cfg, self.setting, self.position, self.ctx = cfg, setting, position, ctx
        task, model = setting.task, setting.model
        env_seed, agent_seed, self.eval_seed = np.random.SeedSequence([ctx.seed, index]).generate_state(3)  # same env draws for every algorithm
        settings = AgentSettings(cfg.alpha, cfg.alpha_decay, setting.gamma, cfg.epsilon)
        self.agent = make_agent(algorithm, model.n_states, model.n_actions, settings, np.random.default_rng(agent_seed))
        self.env = task.make(max_episode_steps=setting.limit)
        self.env.reset(seed=int(env_seed))
        self.returns = np.empty(cfg.episodes)
        self.lengths = np.empty(cfg.episodes, dtype=np.int64)
        self.q_error: list[float] = []  # max |Q - Q*| every log_every episodes
        self.episode = 0  # episodes done
        self.judgement: dict[str, Any] | None = None  # the final greedy policy's, once trained
        self.device = torch.device("cpu")  # NumPy
        self.total = cfg.episodes

    @property
    def progress(self) -> int:
        return self.episode

    @property
    def done(self) -> bool:
        return self.judgement is not None

    def step(self) -> None:
        cfg = self.cfg
        end = min(self.episode + cfg.log_every - self.episode % cfg.log_every, cfg.episodes)
        for k in range(self.episode, end):
            episode = run_episode(self.env, self.agent, self.setting.task.goal_states)
            self.returns[k], self.lengths[k] = episode.ret, episode.length
            if (k + 1) % cfg.log_every == 0:
                self.q_error.append(float(_q_error(self.agent.q, self.setting).max()))
            self.ctx.report_progress(k + 1)
        self.episode = end
        if end == cfg.episodes:
            judgement = self._judge()
            self.ctx.log(
                self.position,
                {
                    "train/online_return_tail": float(self.returns[-cfg.tail :].mean()),
                    "eval/success": judgement["eval_success"],
                    "eval/q_error_max": judgement["q_error_max"],
                },
            )
            self.judgement = judgement

    def _judge(self) -> dict[str, Any]:
        """The greedy policy's return and success over evaluation episodes and exactly, and its Q's error."""
        setting, model = self.setting, self.setting.model
        policy = self.agent.greedy_policy()
        eval_env = setting.task.make(max_episode_steps=setting.limit)
        eval_env.reset(seed=int(self.eval_seed))
        eval_returns, successes = evaluate_policy(eval_env, policy, self.cfg.eval_episodes, setting.task.goal_states)
        pi = _one_hot(policy, model.n_actions)
        err = _q_error(self.agent.q, setting)
        return {
            "policy": policy,
            "eval_return": float(eval_returns.mean()),
            "eval_success": float(successes.mean()),
            "exact_return": finite_horizon_value(model, pi, model.reward, setting.limit),
            "exact_success": finite_horizon_value(model, pi, model.success, setting.limit),
            "q_error_max": float(err.max()),
            "q_error_mean": float(err.mean()),
            "optimal_actions": float(setting.optimal_actions[np.flatnonzero(setting.acting), policy[setting.acting]].mean()),
        }

    def state_dict(self) -> dict[str, Any]:
        return {
            "episode": self.episode,
            "agent": self.agent.state_dict(),
            "env_rng": self.env.np_random.bit_generator.state,
            "returns": self.returns.copy(),
            "lengths": self.lengths.copy(),
            "q_error": list(self.q_error),
            "judgement": self.judgement,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.episode = state["episode"]
        self.agent.load_state_dict(state["agent"])
        self.env.np_random.bit_generator.state = state["env_rng"]
        self.returns[:], self.lengths[:] = state["returns"], state["lengths"]
        self.q_error = list(state["q_error"])
        self.judgement = state["judgement"]

    def result(self) -> dict[str, Any]:
        assert self.judgement is not None
        return {"returns": self.returns.copy(), "lengths": self.lengths.copy(), "q_error_curve": np.asarray(self.q_error), **self.judgement}


@register_kata(
    name="tabular",
    topic="rl",
    section="Day 4 · reinforcement learning: Q-learning, SARSA, Monte Carlo",
    description="tabular control on gymnasium (cliff walking, FrozenLake, Taxi) and the notes' nine rooms, against value iteration",
    config=TabularConfig,
    presets={
        "smoke": {"runs": 3, "episodes": 100, "tail": 20, "eval_episodes": 2},
        "default": {},
        "full": {"runs": 500, "algorithms": ("sarsa", "q-learning", "expected-sarsa")},
        "frozenlake": {"env": "FrozenLake-v1", "algorithms": ("q-learning",), "runs": 1, "episodes": 20_000, "alpha": 1.0,
                       "alpha_decay": 0.6, "epsilon": 0.3, "eval_episodes": 10_000, "tail": 1000, "log_every": 100, "smooth": 500},
        "taxi": {"env": "Taxi-v4", "algorithms": ("q-learning", "sarsa", "expected-sarsa"), "runs": 3, "episodes": 4000,
                 "alpha": 0.5, "tail": 200, "log_every": 20, "smooth": 50},
        "rooms": {"env": "deepkata/NineRooms-v0", "algorithms": ("q-learning", "sarsa", "monte-carlo"), "runs": 10,
                  "episodes": 200, "alpha": 1.0, "epsilon": 1.0, "tail": 50, "log_every": 5},
    },  # fmt: skip
    expectations=[
        Expectation("value iteration finds the 13-step optimal path of cliff walking", "optimal/return_exact", "~", -13, tol=1e-9, presets=("smoke", "default", "full")),
        Expectation("policy iteration agrees with value iteration", "optimal/pi_vi_gap", "<=", 1e-8),
        Expectation("Q-learning's online return improves during training", "q-learning/online_return_tail", ">=", "q-learning/online_return_head", presets=("smoke",)),
        Expectation("SARSA's online return improves during training", "sarsa/online_return_tail", ">=", "sarsa/online_return_head", presets=("smoke",)),
        Expectation("SARSA earns about -25 per episode online (Figure 6.4)", "sarsa/online_return_tail", "~", -25, tol=5, presets=("default", "full")),
        Expectation("Q-learning earns about -50 per episode online (Figure 6.4)", "q-learning/online_return_tail", "~", -50, tol=8, presets=("default", "full")),
        Expectation("SARSA does better online than Q-learning (Example 6.6)", "sarsa/online_return_tail", ">=", "q-learning/online_return_tail", presets=("default", "full")),
        Expectation("Q-learning's greedy path runs along the cliff: 13 steps (Example 6.6)", "q-learning/greedy_return", "~", -13, tol=0.5, presets=("default", "full")),
        Expectation("Q-learning's greedy path takes all 10 steps along the cliff edge (Example 6.6)", "q-learning/edge_steps", "~", 10, tol=0.5, presets=("default", "full")),
        Expectation("SARSA's greedy path keeps away from the cliff edge (Example 6.6)", "sarsa/edge_steps", "<=", 1, presets=("default", "full")),
        Expectation("Q-learning's greedy policy succeeds within 0.02 of value iteration's over 10,000 episodes", "q-learning/success_gap", "~", 0.0, tol=0.02, presets=("frozenlake",)),
        Expectation("the same, computed exactly from the model", "q-learning/success_gap_exact", "~", 0.0, tol=0.02, presets=("frozenlake",)),
        Expectation("Q-learning's greedy policy delivers every passenger", "q-learning/greedy_success", ">=", 1.0, presets=("taxi",)),
        Expectation("Q-learning's greedy return is within 0.1 of the optimum", "q-learning/return_gap_exact", "<=", 0.1, presets=("taxi",)),
        Expectation("Q-learning (alpha = 1, random moves, as in the notes) finds Q* exactly", "q-learning/q_error_max", "<=", 1e-6, presets=("rooms",)),
        Expectation("Monte Carlo's greedy policy reaches the goal from every room", "monte-carlo/greedy_success", ">=", 1.0, presets=("rooms",)),
    ],  # fmt: skip
    data="gymnasium environments and the notes' room graph, simulated",
    cpu_only=True,
)
def run(cfg: TabularConfig, run: Run) -> Outcome:
    setting = _setting(cfg)
    check = policy_iteration(setting.model, setting.gamma)
    grid = [
        JobSpec(f"{algorithm}/{r}", (algorithm, r, a * cfg.runs + r), tags={"algorithm": algorithm, "run": r})
        for a, algorithm in enumerate(cfg.algorithms)
        for r in range(cfg.runs)
    ]

    def make_job(params: tuple[Algorithm, int, int], ctx: JobContext) -> TabularJob:
        algorithm, index, position = params
        return TabularJob(cfg, setting, algorithm, index, position, ctx)

    jobs = run.sweep(grid, make_job, description=f"{cfg.env}: {len(cfg.algorithms)} algorithms × {cfg.runs} runs")

    opt_env = setting.task.make(max_episode_steps=setting.limit)
    opt_env.reset(seed=int(np.random.SeedSequence([run.seed, 0]).generate_state(3)[2]))  # run 0's evaluation draws
    opt_returns, opt_success = evaluate_policy(opt_env, setting.optimum.policy.argmax(axis=1), cfg.eval_episodes, setting.task.goal_states)
    model, optimum = setting.model, setting.optimum
    metrics: dict[str, Any] = {
        "optimal/v_start": float(model.initial @ optimum.v),
        "optimal/return_exact": finite_horizon_value(model, optimum.policy, model.reward, setting.limit),
        "optimal/success_exact": finite_horizon_value(model, optimum.policy, model.success, setting.limit),
        "optimal/greedy_return": float(opt_returns.mean()),
        "optimal/greedy_success": float(opt_success.mean()),
        "optimal/vi_sweeps": optimum.iterations,
        "optimal/pi_vi_gap": float(np.abs(check.v - optimum.v).max()),
    }
    for algorithm in cfg.algorithms:
        metrics.update(_algorithm_metrics(algorithm, [jobs[f"{algorithm}/{r}"] for r in range(cfg.runs)], cfg, model, metrics))
    curves = {alg: np.mean([jobs[f"{alg}/{r}"]["returns"] for r in range(cfg.runs)], axis=0) for alg in cfg.algorithms}
    for k in range(cfg.episodes):
        run.log(k + 1, {f"curve/{alg}/return": float(curve[k]) for alg, curve in curves.items()})

    rows = [_row(alg, metrics, cfg) for alg in cfg.algorithms] + [_optimal_row(metrics, cfg)]
    table = run.save_table("algorithms", rows, "Each algorithm against the value-iteration optimum")
    run.save_figure(_curves_figure(cfg, curves, metrics), "learning_curves", _curves_caption(cfg))
    run.save_figure(_q_error_figure(cfg, jobs), "q_error", "max |Q(s, a) − Q*(s, a)| over the states an agent acts in, mean over runs")
    run.save_figure(_policy_figure(cfg, setting, jobs), "policies", "Greedy policies of run 0 and the value-iteration optimum; shaded cells take a non-optimal action")
    sections = [("Algorithms against the optimum", _table_preamble(cfg, setting) + "\n\n" + table)]
    return Outcome(metrics, _summary(cfg, setting, metrics), sections)


def _greedy_path(model: TabularModel, policy: np.ndarray) -> list[int] | None:
    """The states a deterministic policy visits from the start of a deterministic model, or None if it loops."""
    s, path = int(np.argmax(model.initial)), []
    while s not in path:
        path.append(s)
        a = policy[s]
        if model.cont[s, a].sum() == 0:  # the step ends the episode
            return path if model.success[s, a] > 0 else None
        s = int(np.argmax(model.cont[s, a]))
    return None


def _algorithm_metrics(alg: str, jobs: list[dict[str, Any]], cfg: TabularConfig, model: TabularModel, optimal: dict[str, Any]) -> dict[str, Any]:
    returns = np.stack([j["returns"] for j in jobs])  # (runs, episodes)
    head = min(cfg.tail, cfg.episodes)
    m = {
        "online_return_head": float(returns[:, :head].mean()),
        "online_return_tail": float(returns[:, -cfg.tail :].mean()),
        "episode_length_tail": float(np.mean([j["lengths"][-cfg.tail :].mean() for j in jobs])),
        "greedy_return": float(np.mean([j["eval_return"] for j in jobs])),
        "greedy_success": float(np.mean([j["eval_success"] for j in jobs])),
        "greedy_return_exact": float(np.mean([j["exact_return"] for j in jobs])),
        "greedy_success_exact": float(np.mean([j["exact_success"] for j in jobs])),
        "q_error_max": float(np.mean([j["q_error_max"] for j in jobs])),
        "q_error_mean": float(np.mean([j["q_error_mean"] for j in jobs])),
        "optimal_actions": float(np.mean([j["optimal_actions"] for j in jobs])),
    }
    if cfg.env == "CliffWalking-v1":
        paths = [p for p in (_greedy_path(model, j["policy"]) for j in jobs) if p is not None]
        m["edge_steps"] = float(np.mean([len(CLIFF_EDGE.intersection(p)) for p in paths])) if paths else None
    m["success_gap"] = optimal["optimal/greedy_success"] - m["greedy_success"]
    m["success_gap_exact"] = optimal["optimal/success_exact"] - m["greedy_success_exact"]
    m["return_gap_exact"] = optimal["optimal/return_exact"] - m["greedy_return_exact"]
    return {f"{alg}/{k}": v for k, v in m.items()}


def _row(alg: str, m: dict[str, Any], cfg: TabularConfig) -> dict[str, Any]:
    return {
        "policy": alg,
        f"online return, last {cfg.tail} episodes": m[f"{alg}/online_return_tail"],
        "greedy return": m[f"{alg}/greedy_return"],
        "greedy success": m[f"{alg}/greedy_success"],
        "greedy return (exact)": m[f"{alg}/greedy_return_exact"],
        "greedy success (exact)": m[f"{alg}/greedy_success_exact"],
        "optimal actions": m[f"{alg}/optimal_actions"],
        "max |Q − Q*|": m[f"{alg}/q_error_max"],
        "mean |Q − Q*|": m[f"{alg}/q_error_mean"],
    }


def _optimal_row(m: dict[str, Any], cfg: TabularConfig) -> dict[str, Any]:
    return {
        "policy": "value iteration (optimal)",
        f"online return, last {cfg.tail} episodes": None,
        "greedy return": m["optimal/greedy_return"],
        "greedy success": m["optimal/greedy_success"],
        "greedy return (exact)": m["optimal/return_exact"],
        "greedy success (exact)": m["optimal/success_exact"],
        "optimal actions": 1.0,
        "max |Q − Q*|": 0.0,
        "mean |Q − Q*|": 0.0,
    }


def _table_preamble(cfg: TabularConfig, setting: Setting) -> str:
    return (
        f"{cfg.env}, gamma = {setting.gamma:g}, episodes cut at {setting.limit:,} steps; alpha = {cfg.alpha:g}"
        + (f" / n^{cfg.alpha_decay:g}" if cfg.alpha_decay else "")
        + f", epsilon = {cfg.epsilon:g}; {cfg.runs} run(s) of {cfg.episodes:,} episodes per algorithm, averaged. "
        "*Online return* is the undiscounted sum of rewards the learner earned while exploring. The *greedy* "
        f"columns judge each run's final greedy policy: over {cfg.eval_episodes:,} evaluation episodes, and "
        "exactly, from the model, within the same step limit. *Optimal actions* is the share of states (those an "
        "agent can reach) where the greedy action is optimal; |Q − Q*| is over the same states."
    )


def _summary(cfg: TabularConfig, setting: Setting, m: dict[str, Any]) -> str:
    parts = [
        f"Value iteration on {cfg.env}'s own model converged in {m['optimal/vi_sweeps']} sweeps (policy iteration "
        f"agrees to {m['optimal/pi_vi_gap']:.1e}); its policy returns {m['optimal/return_exact']:.4g} and reaches the goal "
        f"with probability {m['optimal/success_exact']:.4f} within {setting.limit:,} steps."
    ]
    for alg in cfg.algorithms:
        parts.append(
            f"{alg}: online return {m[f'{alg}/online_return_tail']:.4g} over the last {cfg.tail} episodes; greedy policy "
            f"return {m[f'{alg}/greedy_return']:.4g}, success {m[f'{alg}/greedy_success']:.4f} "
            f"(exact {m[f'{alg}/greedy_success_exact']:.4f}, optimum {m['optimal/success_exact']:.4f}), optimal in "
            f"{m[f'{alg}/optimal_actions']:.0%} of states, max |Q − Q*| = {m[f'{alg}/q_error_max']:.3g}."
        )
    if cfg.env == "CliffWalking-v1" and {"sarsa", "q-learning"} <= set(cfg.algorithms):
        sarsa, q = m["sarsa/edge_steps"], m["q-learning/edge_steps"]
        safe = sarsa is not None and sarsa <= 1
        edge = q is not None and abs(q - 10) < 0.5
        parts.append(
            "Example 6.6: "
            + ("SARSA learned the safe path" if safe else "SARSA did **not** learn the safe path")
            + f" (its greedy path takes {_fmt(sarsa)} of its steps on the cliff edge, on average over the "
            f"{m['sarsa/greedy_success']:.0%} of runs whose greedy policy reaches the goal) and "
            + ("Q-learning the optimal path along the cliff" if edge else "Q-learning did **not** learn the path along the cliff")
            + f" ({_fmt(q)} of 10 edge steps); online, SARSA earned {m['sarsa/online_return_tail']:.1f} and "
            f"Q-learning {m['q-learning/online_return_tail']:.1f} per episode (the book: about −25 and −50), because "
            "Q-learning's exploratory steps along the edge fall off the cliff."
        )
        if m["sarsa/greedy_success"] < 1:
            parts.append(
                "Not in the book: with alpha = 0.5 SARSA's action values stay noisy, and in some runs its purely greedy "
                "policy (epsilon = 0) walks in a circle somewhere on the way; the epsilon-greedy policy it follows, "
                "which the book's curves measure, still reaches the goal."
            )
    if "sarsa" in cfg.algorithms and cfg.alpha == 1 and cfg.epsilon > 0:
        parts.append(
            "With alpha = 1 SARSA's estimate is just its latest target R + gamma Q(S', A') with a random A', so it never "
            "settles: averaging the policy's randomness needs a step size below 1 (Monte Carlo averages its returns, and "
            "Q-learning's max removes the randomness in a deterministic world)."
        )
    on_policy = [a for a in cfg.algorithms if a != "q-learning"]
    if on_policy and cfg.epsilon > 0:
        parts.append(
            f"{', '.join(on_policy)} learn the values of the epsilon-greedy policy they follow (epsilon = {cfg.epsilon:g}), "
            "not Q*, so their |Q − Q*| stays above zero by design; Q-learning is off-policy and learns Q* from the same "
            "exploratory behaviour."
        )
    return " ".join(parts)


def _fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:.1f}"


def _curves_caption(cfg: TabularConfig) -> str:
    return (
        f"Online sum of rewards per episode, mean over {cfg.runs} run(s), moving average of {cfg.smooth} episodes"
        + (" (Sutton & Barto Figure 6.4)" if cfg.env == "CliffWalking-v1" else "")
    )


def _curves_figure(cfg: TabularConfig, curves: dict[str, np.ndarray], m: dict[str, Any]) -> Any:
    fig, ax = figure(1, 1, width=7.5, height=4.2)
    for alg, mean in curves.items():
        ax.plot(np.arange(1, cfg.episodes + 1), moving_average(mean, cfg.smooth), lw=1.0, label=alg)
    ax.axhline(m["optimal/return_exact"], color="k", ls=":", lw=0.8, label="optimal policy (exact)")
    ax.set(xlabel="episodes", ylabel="sum of rewards during episode")
    if cfg.env == "CliffWalking-v1":
        ax.set_ylim(-100, 0)
    ax.legend(fontsize=8)
    ax.set_title(cfg.env, fontsize=9)
    return fig


def _q_error_figure(cfg: TabularConfig, jobs: dict[str, dict[str, Any]]) -> Any:
    fig, ax = figure(1, 1, width=7.5, height=3.6)
    curves = {alg: np.mean([jobs[f"{alg}/{r}"]["q_error_curve"] for r in range(cfg.runs)], axis=0) for alg in cfg.algorithms}
    for alg, curve in curves.items():
        ax.plot((np.arange(len(curve)) + 1) * cfg.log_every, np.maximum(curve, 1e-12), lw=1.0, label=alg)
    runs = f"mean of {cfg.runs} runs" if cfg.runs > 1 else "one run"
    ax.set(xlabel="episodes", ylabel="max over states and actions of |Q − Q*|", yscale=scale_for(np.concatenate(list(curves.values()))),
           title=f"distance of the learnt Q from the optimal Q* ({runs})")  # fmt: skip
    integer_ticks(ax)
    ax.legend(fontsize=8)
    return fig


def _policy_figure(cfg: TabularConfig, setting: Setting, jobs: dict[str, dict[str, Any]]) -> Any:
    task = setting.task
    views = task.views(task.make())
    policies = [(alg, jobs[f"{alg}/0"]["policy"]) for alg in cfg.algorithms]
    policies.append(("value iteration", setting.optimum.policy.argmax(axis=1)))
    rows, cols = views[0].states.shape
    width = min(2.0 + 0.35 * cols, 5.0)
    fig, axes = figure(len(policies), len(views), width=width, height=width * rows / cols + 0.4)
    axes = np.asarray(axes).reshape(len(policies), len(views))
    for i, (name, policy) in enumerate(policies):
        for j, view in enumerate(views):
            draw_policy(axes[i, j], view, policy, task.glyph, optimal=setting.optimal_actions, title=f"{name} — {view.title}")
    return fig

