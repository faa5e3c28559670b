"""Kata ``alphago-rl``: AlphaGo's RL policy network, improved by self-play against earlier versions.

The Day 4 notes' AlphaGo (Lee): the RL policy network starts as the SL policy and improves by
playing games against a randomly chosen earlier version of itself (a pool, so that it does not
overfit to its current self), with REINFORCE (Williams 1992): after a minibatch of games, the
weights move along Σ_t z_t ∇ log p(a_t | s_t) over the current network's moves, z_t = ±1 its
game's outcome (Silver et al. 2016, Methods; no baseline, as there). This kata runs that loop:

- each iteration, ``games`` games of the current network against a network drawn from the pool,
  colours alternating, moves drawn from each network's softmax (:mod:`deepkata.go.selfplay`);
- one step of plain SGD on -mean z_t log p(a_t | s_t) over the current network's moves;
- every ``snapshot_every`` iterations the current weights join the pool (the SL policy is its
  first member).

At the end the RL policy plays ``eval_games`` games against the SL policy it started from, and
the report gives its score with a 95% Wilson interval: AlphaGo's RL policy won more than 80%
of its games against its SL policy. The pool, the optimizer and the generator are checkpointed
with the weights, so an interrupted run resumes exactly. ``policy``: an ``alphago-sl`` run; without
one (the smoke preset) the network starts from random weights on a small board.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deepkata.core.config import KataConfig, param
from deepkata.core.engine import JobContext, JobSpec
from deepkata.core.plots import figure, integer_ticks
from deepkata.core.registry import Expectation, Outcome, register_kata
from deepkata.core.runner import Run
from deepkata.go.alphago import find_weights
from deepkata.go.nets import GoNetConfig, PolicyNet, load_network, save_network
from deepkata.go.rating import MatchEstimate
from deepkata.go.selfplay import PlayedGame, play_games


@dataclass(frozen=True, kw_only=True)
class AlphaGoRLConfig(KataConfig):
    policy: str = param("", "the alphago-sl run folder (or its policy.pt) to start from; empty: random weights (smoke)")
    size: int = param(5, "board size when starting from random weights", ge=5, le=19)
    iterations: int = param(60, "minibatches of games, one update each", gt=0)
    games: int = param(64, "games per iteration (AlphaGo: 128)", gt=1)
    lr: float = param(1e-3, "SGD learning rate (AlphaGo: 0.001)", gt=0, le=1)
    snapshot_every: int = param(10, "iterations between the current network's joining the pool (AlphaGo: 500)", gt=0)
    eval_games: int = param(200, "games against the SL policy at the end", gt=1)
    komi: float = param(7.0, "komi", ge=-50, le=50)


class RLJob:
    """REINFORCE against a pool of earlier versions, as an engine job: one iteration a step."""

    def __init__(self, start: PolicyNet, cfg: AlphaGoRLConfig, seed: int, ctx: JobContext | None = None) -> None:
        self.cfg, self.seed, self.ctx, self.device = cfg, seed, ctx, torch.device("cpu")
        self.net_cfg = start.cfg
        self.net = PolicyNet(self.net_cfg)
        self.net.load_state_dict(start.state_dict())
        self.pool: list[dict[str, torch.Tensor]] = [{k: v.clone() for k, v in start.state_dict().items()}]
        self.opt = torch.optim.SGD(self.net.parameters(), lr=cfg.lr)
        self.iteration, self.seconds = 0, 0.0
        self.history: dict[str, list[float]] = {"iteration": [], "win_rate": [], "loss": [], "moves": [], "opponent": []}

    total = property(lambda self: float(self.cfg.iterations))
    progress = property(lambda self: float(self.iteration))
    done = property(lambda self: self.iteration >= self.cfg.iterations)

    def _opponent(self, index: int) -> PolicyNet:
        net = PolicyNet(self.net_cfg)
        net.load_state_dict(self.pool[index])
        return net.eval()

    def step(self) -> None:
        start = time.perf_counter()
        rng = np.random.default_rng([self.seed, self.iteration])
        pick = int(rng.integers(len(self.pool)))
        self.net.eval()
        games = play_games((self.net, self._opponent(pick)), self.cfg.games, size=self.net_cfg.size, komi=self.cfg.komi,
                           seed=self.seed * 1_000_003 + self.iteration, keep=True)  # fmt: skip
        loss = self._reinforce(games)
        self.iteration += 1
        if self.iteration % self.cfg.snapshot_every == 0:
            self.pool.append({k: v.detach().clone() for k, v in self.net.state_dict().items()})
        wins = np.mean([g.outcome_for(0 if g.black_is == 0 else 1) > 0 for g in games])
        row = {"iteration": self.iteration, "win_rate": wins, "loss": loss, "moves": np.mean([len(g.moves) for g in games]), "opponent": pick}
        for key, value in row.items():
            self.history[key].append(float(value))
        self.seconds += time.perf_counter() - start
        if self.ctx is not None:
            self.ctx.log(self.iteration, {"rl/win_rate": float(wins), "rl/loss": float(loss), "rl/pool": len(self.pool)})

    def _reinforce(self, games: list[PlayedGame]) -> float:
        """One SGD step on -mean z_t log p(a_t | s_t) over the current network's moves."""
        xs, legal, actions, z = [], [], [], []
        for g in games:
            current = 0 if g.black_is == 0 else 1  # the current network's colour
            outcome = g.outcome_for(current)
            for k, (player, action) in enumerate(g.moves):
                if player == current:
                    xs.append(g.planes[k])
                    legal.append(g.legal[k])
                    actions.append(action)
                    z.append(outcome)
        self.net.train()
        logits = self.net(torch.from_numpy(np.stack(xs)).float(), torch.from_numpy(np.stack(legal)))
        log_p = torch.log_softmax(logits, 1)[torch.arange(len(actions), device=self.device), torch.tensor(actions, device=self.device)]
        loss = -(torch.tensor(z, device=self.device) * log_p).mean()
        if torch.isfinite(loss):
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
        return float(loss.detach())

    def state_dict(self) -> dict[str, Any]:
        return {"net": self.net.state_dict(), "opt": self.opt.state_dict(), "pool": self.pool, "iteration": self.iteration,
                "seconds": self.seconds, "history": {k: list(v) for k, v in self.history.items()}}  # fmt: skip

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self.opt.load_state_dict(state["opt"])
        self.pool = list(state["pool"])
        self.iteration, self.seconds = int(state["iteration"]), float(state["seconds"])
        self.history = {k: list(v) for k, v in state["history"].items()}

    def result(self) -> dict[str, Any]:
        return {"state": {k: v.cpu() for k, v in self.net.state_dict().items()}, "history": self.history, "seconds": self.seconds, "pool": len(self.pool)}


@register_kata(
    name="alphago-rl",
    topic="go",
    section="Day 4 · AlphaGo: the RL policy network",
    description="AlphaGo's RL policy: REINFORCE from the SL policy by self-play against a pool of earlier versions; its win rate against the SL policy with a 95% interval",
    config=AlphaGoRLConfig,
    presets={
        "smoke": {"size": 5, "komi": 3.0, "iterations": 3, "games": 8, "eval_games": 10, "snapshot_every": 2},
        "default": {},
        "full": {"iterations": 300, "games": 128, "snapshot_every": 25, "eval_games": 400},
    },
    expectations=[
        Expectation("every REINFORCE loss is finite (no divergence)", "rl/diverged", "<=", 0),
        Expectation("the RL policy scores at least 50% against the SL policy it started from", "eval/score", ">=", 0.5, presets=("default", "full")),
    ],
    data="self-play games of an alphago-sl policy (--set policy=RUN), else of a randomly initialised network",
)
def run(cfg: AlphaGoRLConfig, run: Run) -> Outcome:
    if cfg.policy:
        start = load_network(find_weights(Path(cfg.policy), "policy.pt"), "policy")  # type: ignore[arg-type]
        source = f"the SL policy {cfg.policy}"
    else:
        torch.manual_seed(run.seed)
        start = PolicyNet(GoNetConfig(size=cfg.size, filters=16, layers=3))
        source = f"random weights ({cfg.size}x{cfg.size})"
    assert isinstance(start, PolicyNet)

    def make_job(_: str, ctx: JobContext) -> RLJob:
        return RLJob(start, cfg, ctx.seed, ctx)

    done = run.sweep([JobSpec("rl", "rl")], make_job, description="RL policy")["rl"]
    rl = PolicyNet(start.cfg)
    rl.load_state_dict(done["state"])
    rl.eval()
    run.save_file("policy.pt", lambda path: save_network(path, rl))
    eval_start = time.perf_counter()
    games = play_games((rl, start.eval()), cfg.eval_games, size=start.cfg.size, komi=cfg.komi, seed=run.seed + 7_777_777)
    wins = sum(g.outcome_for(0 if g.black_is == 0 else 1) > 0 for g in games)
    draws = sum(g.winner is None for g in games)
    estimate = MatchEstimate.of(wins, len(games) - wins - draws, draws)
    history = done["history"]
    metrics: dict[str, float | int | None] = {
        "eval/games": len(games), "eval/wins": wins, "eval/draws": draws, "eval/score": estimate.score,
        "eval/score_low": estimate.score_low, "eval/score_high": estimate.score_high,
        "rl/iterations": cfg.iterations, "rl/games": cfg.iterations * cfg.games, "rl/pool": done["pool"],
        "rl/last_win_rate": history["win_rate"][-1], "rl/diverged": int(sum(not np.isfinite(v) for v in history["loss"])),
    }  # fmt: skip
    timings = {"rl/seconds": done["seconds"], "eval/seconds": time.perf_counter() - eval_start}
    run.save_figure(_curves(history, estimate), "training", "Each iteration's win rate against its pool opponent, and the final score against the SL policy (95% interval)")
    rows = [{"match": f"RL policy against {source}", "games": len(games), "wins": wins, "draws": draws, "score (95% interval)": estimate.describe()}]
    table = run.save_table("evaluation", rows, "The RL policy against the policy it started from; colours alternate, moves drawn from each network's softmax")
    verdict = "beats" if estimate.score_low > 0.5 else ("does not clearly beat" if estimate.score >= 0.5 else "loses to")
    summary = (
        f"REINFORCE from {source}: {cfg.iterations} iterations of {cfg.games} games against a pool of earlier versions "
        f"({done['pool']} networks at the end), {cfg.iterations * cfg.games:,} games in {done['seconds'] / 60:.1f} min. Against the policy "
        f"it started from, the RL policy scores **{estimate.describe()}** over {len(games)} games: it {verdict} it. "
        f"AlphaGo's RL policy won more than 80% against its SL policy after 10,000 minibatches of 128 games."
    )
    return Outcome(metrics, summary, [("Against the starting policy", table)], timings=timings, data=source)


def _curves(history: dict[str, list[float]], estimate: MatchEstimate) -> Any:
    fig, (ax_rate, ax_loss) = figure(1, 2, width=5.0, height=3.6)
    ax_rate.plot(history["iteration"], history["win_rate"], marker=".", label="against the pool opponent")
    ax_rate.axhline(estimate.score, color="tab:green", lw=1, label=f"final, against the start: {estimate.score:.0%}")
    ax_rate.axhspan(estimate.score_low, estimate.score_high, color="tab:green", alpha=0.15)
    ax_rate.axhline(0.5, color="k", ls=":", lw=0.8)
    ax_rate.set(xlabel="iteration", ylabel="win rate", ylim=(0, 1), title="win rate")
    ax_rate.legend(fontsize=8)
    ax_loss.plot(history["iteration"], history["loss"], marker=".")
    ax_loss.set(xlabel="iteration", ylabel="-mean z log p", title="REINFORCE loss")
    integer_ticks(ax_rate)
    integer_ticks(ax_loss)
    return fig
