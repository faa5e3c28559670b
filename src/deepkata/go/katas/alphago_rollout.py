"""Kata ``alphago-rollout``: AlphaGo's fast rollout policy, its accuracy and its speed.

The Day 4 notes' AlphaGo (Lee) plays many games to the end from each position it searches, with
a "fast rollout policy": a linear softmax over local patterns that is far less accurate than the
policy network but about a thousand times faster. This kata learns the weights of
:class:`~deepkata.go.rollout.RolloutPolicy` from the same game records as ``alphago-sl``
(maximum likelihood of the move played, on the shared epoch loop), reports its top-1 accuracy on
held-out games against a random candidate, and times a move of it inside a whole compiled
playout against a move of the policy network (input planes and one forward pass, batch 1, the
default network of ``alphago-sl``). AlphaGo's figures: 24.2% and 2 µs for the rollout policy,
57.0% and 3 ms for the SL network. The weights are saved as ``rollout.pt`` for the search.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from deepkata.core.config import param
from deepkata.core.engine import JobContext, JobSpec
from deepkata.core.plots import figure, integer_ticks
from deepkata.core.registry import Expectation, Outcome, register_kata
from deepkata.core.runner import Run
from deepkata.core.trainer import EpochRecipe, EpochTrainer, TrainerJob
from deepkata.go.board import GoState
from deepkata.go.features import PLANES, planes
from deepkata.go.nets import GoNetConfig, PolicyNet
from deepkata.go.positions import RecordsConfig, kata_games
from deepkata.go.rollout import FEATURES, RolloutExamples, RolloutPolicy, playout_with_policy, rollout_examples, save_rollout


@dataclass(frozen=True, kw_only=True)
class RolloutRecipe(EpochRecipe):
    epochs: int = param(6, "passes over the training positions", gt=0)
    batch: int = param(256, "positions per update", gt=0)
    optimizer: Literal["sgd", "adam"] = param("adam", "AdamW, or SGD with Nesterov momentum")
    lr: float = param(0.05, "peak learning rate", gt=0, le=10)
    weight_decay: float = param(0.0, "weight decay", ge=0)
    chunk: int = param(20, "batches per engine step (a checkpoint may follow each)", gt=0)


@dataclass(frozen=True, kw_only=True)
class AlphaGoRolloutConfig(RecordsConfig):
    train: RolloutRecipe = param(RolloutRecipe(), "the training")
    speed_playouts: int = param(200, "whole playouts timed for the rollout policy's speed", gt=0)
    speed_positions: int = param(200, "positions timed for the policy network's speed", gt=0)


class RolloutTrainer(EpochTrainer):
    cfg: RolloutRecipe

    def __init__(self, policy: RolloutPolicy, cfg: RolloutRecipe, train: RolloutExamples, val: RolloutExamples, device: torch.device) -> None:
        super().__init__(policy, cfg, len(train), device)
        self.train, self.val = train, val

    def _tensors(self, data: RolloutExamples, index: np.ndarray) -> tuple[torch.Tensor, ...]:
        return tuple(torch.from_numpy(a[index]).to(self.device) for a in (data.ids, data.feats, data.mask, data.target))

    def loss(self, index: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        ids, feats, mask, target = self._tensors(self.train, index.numpy())
        logits = self.model(ids, feats, mask)
        return F.cross_entropy(logits, target), {"accuracy": float((logits.argmax(1) == target).float().mean())}

    @torch.no_grad()
    def accuracy(self, data: RolloutExamples) -> float:
        ids, feats, mask, target = self._tensors(data, np.arange(len(data)))
        return float((self.model(ids, feats, mask).argmax(1) == target).float().mean())

    def measure(self, last: bool) -> dict[str, float]:
        return {"val_top1": self.accuracy(self.val)}


@register_kata(
    name="alphago-rollout",
    topic="go",
    section="Day 4 · AlphaGo: the fast rollout policy",
    description="AlphaGo's rollout policy (a linear softmax over 3x3 patterns and cheap features) learned from game records: held-out top-1 against a random candidate, and its speed per move against the policy network's",
    config=AlphaGoRolloutConfig,
    presets={
        "smoke": {"games": "generated", "generated_games": 24, "generated_size": 5, "teacher_playouts": 40, "train.epochs": 2,
                  "speed_playouts": 20, "speed_positions": 20},
        "default": {},
        "full": {"train.epochs": 12},
    },  # fmt: skip
    expectations=[
        Expectation("training stays finite (no divergence)", "rollout/diverged", "<=", 0),
        Expectation("the rollout policy predicts the held-out moves better than a random candidate", "val/top1_gain", ">=", 0.01, presets=("default", "full")),
    ],
    data="game records: a go-records collection (--data DIR or $DEEPKATA_DATA/go-records-9x9), else games of MCTS against itself (generated)",
    takes_data=True,
)
def run(cfg: AlphaGoRolloutConfig, run: Run) -> Outcome:
    start = time.perf_counter()
    train_games, val_games, source = kata_games(cfg, run)
    size = train_games[0].size
    train, val = rollout_examples(train_games), rollout_examples(val_games)
    prepare_seconds = time.perf_counter() - start

    def make_job(_: str, ctx: JobContext) -> TrainerJob:
        torch.manual_seed(ctx.seed)
        return TrainerJob(RolloutTrainer(RolloutPolicy(), cfg.train, train, val, ctx.device), ctx)

    done = run.sweep([JobSpec("rollout", "rollout")], make_job, description="rollout policy")["rollout"]
    policy = RolloutPolicy()
    policy.load_state_dict(done["state"])
    run.save_file("rollout.pt", lambda path: save_rollout(path, policy))
    table, weights = policy.arrays()
    with torch.no_grad():
        ids, feats, mask = (torch.from_numpy(a) for a in (val.ids, val.feats, val.mask))
        top1 = float((policy(ids, feats, mask).argmax(1) == torch.from_numpy(val.target)).float().mean())
    random_top1 = float(np.mean(1.0 / (val.mask.sum(1) + 1)))
    rollout_us, moves = _rollout_speed(size, table, weights, cfg.speed_playouts, run.seed)
    net_ms = _network_speed(size, cfg.speed_positions)
    metrics: dict[str, float | int | None] = {
        "data/train_positions": len(train), "data/val_positions": len(val), "data/dropped": train.dropped + val.dropped,
        "val/top1": top1, "random/top1": random_top1, "val/top1_gain": top1 - random_top1,
        "rollout/diverged": int(done["diverged"] is not None), "rollout/patterns_seen": int(np.count_nonzero(table)),
    }  # fmt: skip
    timings = {"rollout/us_per_move": rollout_us, "network/ms_per_move": net_ms, "speed/ratio": net_ms * 1000 / rollout_us,
               "rollout/seconds": done["seconds"], "data/seconds": prepare_seconds}  # fmt: skip
    rows = [
        {"policy": "rollout policy (linear softmax)", "held-out top-1": f"{top1:.1%}", "time a move": f"{rollout_us:.1f} µs (inside playouts)"},
        {"policy": "policy network (alphago-sl's default shape)", "held-out top-1": "see alphago-sl", "time a move": f"{net_ms:.2f} ms (planes + forward)"},
        {"policy": "a random candidate (baseline)", "held-out top-1": f"{random_top1:.1%}", "time a move": "—"},
    ]  # fmt: skip
    table_md = run.save_table("rollout", rows, f"Move prediction on {len(val):,} held-out positions, and speed")
    weight_rows = [{"feature": name, "weight": f"{w:+.3f}"} for name, w in zip(FEATURES, weights, strict=True)] + [
        {"feature": "pass", "weight": f"{float(policy.pass_weight.detach()):+.3f}"}
    ]
    weights_md = run.save_table("weights", weight_rows, "The cheap features' weights (the patterns add their own)")
    run.save_figure(_curves(done["history"], random_top1), "training", "Loss and held-out top-1 by epoch")
    ratio = net_ms * 1000 / rollout_us
    summary = (
        f"The rollout policy learned {metrics['rollout/patterns_seen']:,} pattern weights and {len(FEATURES)} feature weights from "
        f"{len(train):,} positions of {len(train_games)} games of {source}. On {len(val):,} held-out positions it predicts the move "
        f"played {top1:.1%} of the time, against {random_top1:.1%} for a random candidate. A move of it takes {rollout_us:.1f} µs "
        f"inside a whole compiled playout ({moves:.0f} moves a game), a move of the policy network {net_ms:.2f} ms: "
        f"**{ratio:,.0f} times faster** (the issue's target: 100; AlphaGo's: about 1,500, 2 µs against 3 ms). "
        f"{train.dropped + val.dropped} positions whose move filled the mover's own eye are left out (never a candidate)."
    )
    return Outcome(metrics, summary, [("Accuracy and speed", table_md), ("Weights", weights_md)], timings=timings, data=source)


def _rollout_speed(size: int, table: np.ndarray, weights: np.ndarray, playouts: int, seed: int) -> tuple[float, float]:
    """µs per move of whole playouts from the empty board, and the moves a playout lasts."""
    state = GoState(size, 7.0)
    s, zob = state._s, state._zob
    rng = np.array([seed + 1], dtype=np.uint64)
    playout_with_policy(s.copy(), zob, rng, state.komi, 3 * size * size, table, weights, -1)  # compiled before timing
    moves = 0
    start = time.perf_counter()
    for _ in range(playouts):
        _, n = playout_with_policy(s.copy(), zob, rng, state.komi, 3 * size * size, table, weights, -1)
        moves += n
    return (time.perf_counter() - start) / max(moves, 1) * 1e6, moves / playouts


def _network_speed(size: int, positions: int) -> float:
    """ms per move of the policy network: planes of a position and one forward pass, batch 1."""
    net = PolicyNet(GoNetConfig(size=size, planes=PLANES)).eval()
    state = GoState(size)
    rng = np.random.default_rng(0)
    with torch.no_grad():
        net(torch.from_numpy(planes(state))[None])
        start = time.perf_counter()
        for _ in range(positions):
            x = torch.from_numpy(planes(state))[None]
            net(x)
            options = state.sensible_actions()
            state.play(int(options[rng.integers(len(options))]))
            if state.is_over():
                state = GoState(size)
    return (time.perf_counter() - start) / positions * 1000


def _curves(history: dict[str, list[float]], random_top1: float) -> Any:
    fig, (ax_loss, ax_acc) = figure(1, 2, width=5.0, height=3.6)
    epochs = [int(e) for e in history["epoch"]]
    ax_loss.plot(epochs, history["train_loss"], marker="o")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy (nats)", title="training loss")
    ax_acc.plot(epochs, history["val_top1"], marker="o", label="rollout policy")
    ax_acc.axhline(random_top1, color="tab:red", ls="--", lw=0.8, label="random candidate")
    ax_acc.set(xlabel="epoch", ylabel="held-out top-1", ylim=(0, 1), title="move prediction")
    ax_acc.legend(fontsize=8)
    integer_ticks(ax_loss)
    integer_ticks(ax_acc)
    return fig
