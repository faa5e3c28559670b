"""Kata ``alphago-sl``: AlphaGo's SL policy network, trained to predict the moves of game records.

The Day 4 notes' AlphaGo (Lee): a policy network of convolutions and ReLU with a softmax over the
board, first trained by supervised learning on expert games (the SL policy network), which the
RL policy, the value network and the search then build on. This kata trains
:class:`~deepkata.go.nets.PolicyNet` on the positions of game records
(:mod:`deepkata.go.positions`) and reports its move-prediction accuracy, top-1 and top-5, on
validation games it never saw, plainly and averaged over the eight board symmetries, against the
baseline of a uniformly random legal move. It saves the network as ``policy.pt`` for the search
(``deepkata gtp --player policy``) and the later katas.

Records: ``--data DIR``, a collection made by ``deepkata go-records`` (GNU Go against itself,
split by match), else ``$DEEPKATA_DATA/go-records-9x9`` when present, else games that our MCTS
plays against itself (generated; validation: every tenth game).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from deepkata.core.config import param
from deepkata.core.engine import JobContext, JobSpec
from deepkata.core.plots import figure, integer_ticks
from deepkata.core.registry import Expectation, Outcome, register_kata
from deepkata.core.runner import Run
from deepkata.core.trainer import TrainerJob
from deepkata.go.features import PLANES
from deepkata.go.nets import GoNetConfig, PolicyNet, save_network
from deepkata.go.policy_training import (
    PolicyRecipe,
    PolicyTrainer,
    policy_probabilities,
)
from deepkata.go.positions import (
    Positions,
    RecordsConfig,
    kata_games,
    positions_from_games,
)


@dataclass(frozen=True, kw_only=True)
class AlphaGoSLConfig(RecordsConfig):
    net: GoNetConfig = param(GoNetConfig(), "the policy network (size and planes set by the kata)")
    train: PolicyRecipe = param(PolicyRecipe(), "the training")


@register_kata(
    name="alphago-sl",
    topic="go",
    section="Day 4 · AlphaGo: the SL policy network",
    description="AlphaGo's SL policy network (convolutions, softmax over the board) trained on game records: top-1 and top-5 move prediction on held-out games against a random legal move",
    config=AlphaGoSLConfig,
    presets={
        "smoke": {"games": "generated", "generated_games": 24, "generated_size": 5, "teacher_playouts": 40, "net.filters": 8, "net.layers": 2, "train.epochs": 2, "train.batch": 32},
        "default": {},
        "full": {"net.filters": 128, "net.layers": 10, "train.epochs": 12},
    },  # fmt: skip
    expectations=[
        Expectation("training stays finite (no divergence)", "sl/diverged", "<=", 0),
        Expectation("the policy predicts the held-out moves better than a random legal move (by a point at least)", "val/top1_gain", ">=", 0.01, presets=("default", "full")),
    ],
    data="game records: a go-records collection (--data DIR or $DEEPKATA_DATA/go-records-9x9), else games of MCTS against itself (generated)",
    takes_data=True,
)
def run(cfg: AlphaGoSLConfig, run: Run) -> Outcome:
    start = time.perf_counter()
    train_games, val_games, source = kata_games(cfg, run)
    size = train_games[0].size
    train, val = positions_from_games(train_games), positions_from_games(val_games)
    prepare_seconds = time.perf_counter() - start
    net_cfg = replace(cfg.net, size=size, planes=PLANES)

    def make_job(_: str, ctx: JobContext) -> TrainerJob:
        torch.manual_seed(ctx.seed)
        return TrainerJob(PolicyTrainer(PolicyNet(net_cfg), cfg.train, train, val, ctx.device, seed=ctx.seed), ctx)

    done = run.sweep([JobSpec("policy", "policy")], make_job, description="SL policy")["policy"]
    net = PolicyNet(net_cfg)
    net.load_state_dict(done["state"])
    net.eval()
    run.save_file("policy.pt", lambda path: save_network(path, net))

    plain, symmetric = done["val"], done["val_symmetric"]
    legal_counts = val.legal.sum(1)
    random_top1 = float(np.mean(1.0 / legal_counts))
    random_top5 = float(np.mean(np.minimum(5, legal_counts) / legal_counts))
    ms = _forward_ms(net, size)
    metrics: dict[str, float | int | None] = {
        "data/train_games": len(train_games), "data/val_games": len(val_games), "data/train_positions": len(train), "data/val_positions": len(val),
        "val/top1": plain["top1"], "val/top5": plain["top5"], "val/loss": plain["loss"],
        "val/top1_symmetric": symmetric["top1"], "val/top5_symmetric": symmetric["top5"],
        "random/top1": random_top1, "random/top5": random_top5, "val/top1_gain": plain["top1"] - random_top1,
        "sl/diverged": int(done["diverged"] is not None), "net/parameters": sum(p.numel() for p in net.parameters()),
    }  # fmt: skip
    timings = {"sl/seconds": done["seconds"], "data/seconds": prepare_seconds, "policy/ms_per_position": ms}
    rows = [
        {"predictor": "policy network", "top-1": f"{plain['top1']:.1%}", "top-5": f"{plain['top5']:.1%}", "log-loss (nats)": f"{plain['loss']:.3f}"},
        {"predictor": "policy network, 8 symmetries averaged", "top-1": f"{symmetric['top1']:.1%}", "top-5": f"{symmetric['top5']:.1%}", "log-loss (nats)": f"{symmetric['loss']:.3f}"},
        {"predictor": "a random legal move (baseline)", "top-1": f"{random_top1:.1%}", "top-5": f"{random_top5:.1%}", "log-loss (nats)": f"{float(np.mean(np.log(legal_counts))):.3f}"},
    ]  # fmt: skip
    table = run.save_table("accuracy", rows, f"Move prediction on {len(val):,} positions of {len(val_games)} held-out games")
    run.save_figure(_curves(done["history"], random_top1), "training", "Loss and held-out top-1 / top-5 accuracy by epoch")
    run.save_figure(_board(net, val, size), "policy", "The network's move probabilities in held-out positions; the ring marks the move that was played")
    beats = "beats" if plain["top1"] > random_top1 else "does not beat"
    summary = (
        f"A policy network of {metrics['net/parameters']:,} parameters ({net_cfg.layers} convolutions of {net_cfg.filters} channels) trained "
        f"{cfg.train.epochs} epochs on {len(train):,} positions of {len(train_games)} games of {source}. On {len(val):,} positions of "
        f"{len(val_games)} held-out games it predicts the move played **{plain['top1']:.1%}** of the time (top-5 {plain['top5']:.1%}; "
        f"with the eight symmetries averaged {symmetric['top1']:.1%} / {symmetric['top5']:.1%}); a random legal move would "
        f"{random_top1:.1%} / {random_top5:.1%}, so the network {beats} that baseline. AlphaGo's 13-layer SL network reached 57.0% "
        f"on 19 x 19 expert games (Silver et al. 2016). One forward pass takes {ms:.2f} ms a position on this machine (batch 1)."
    )
    return Outcome(metrics, summary, [("Move prediction", table)], timings=timings, data=source)


def _forward_ms(net: PolicyNet, size: int, repeats: int = 50) -> float:
    x = torch.zeros(1, PLANES, size, size, device="cpu")  # the speed a move costs on the CPU
    with torch.no_grad():
        net(x)
        start = time.perf_counter()
        for _ in range(repeats):
            net(x)
    return (time.perf_counter() - start) / repeats * 1000


def _curves(history: dict[str, list[float]], random_top1: float) -> Any:
    fig, (ax_loss, ax_acc) = figure(1, 2, width=5.0, height=3.6)
    epochs = [int(e) for e in history["epoch"]]  # recorded after the epoch: 1, 2, ...
    ax_loss.plot(epochs, history["train_loss"], marker="o", label="training")
    ax_loss.plot(epochs, history["val_loss"], marker="o", label="held-out")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy (nats)", title="loss")
    ax_loss.legend(fontsize=8)
    ax_acc.plot(epochs, history["val_top1"], marker="o", label="top-1")
    ax_acc.plot(epochs, history["val_top5"], marker="o", label="top-5")
    ax_acc.axhline(random_top1, color="tab:red", ls="--", lw=0.8, label="random legal move, top-1")
    ax_acc.set(xlabel="epoch", ylabel="held-out accuracy", ylim=(0, 1), title="move prediction")
    ax_acc.legend(fontsize=8)
    integer_ticks(ax_loss)
    integer_ticks(ax_acc)
    return fig


def _board(net: PolicyNet, val: Positions, size: int, count: int = 3) -> Any:
    """Heat maps of p(a | s) over the board for a few held-out positions (from the middle of games)."""
    picks = np.flatnonzero(val.number == 12)[:count]
    if len(picks) == 0:
        picks = np.arange(min(count, len(val)))
    fig, axes = figure(1, len(picks), width=3.4, height=3.6)
    axes = np.atleast_1d(axes)
    with torch.no_grad():
        x = torch.from_numpy(val.planes[picks]).float()
        p = policy_probabilities(net, x, torch.from_numpy(val.legal[picks]), symmetric=False).numpy()
    for ax, i, probs in zip(axes, picks, p, strict=True):
        board = probs[: size * size].reshape(size, size)
        ax.imshow(board, origin="lower", cmap="Blues", vmin=0, vmax=max(board.max(), 1e-6))
        own, opp = val.planes[i, 0], val.planes[i, 1]
        black_to_play = val.planes[i, -1, 0, 0] == 1
        black, white = (own, opp) if black_to_play else (opp, own)
        ys, xs = np.nonzero(black)
        ax.scatter(xs, ys, s=120, c="black")
        ys, xs = np.nonzero(white)
        ax.scatter(xs, ys, s=120, c="white", edgecolors="black")
        move = int(val.moves[i])
        if move < size * size:
            ax.scatter([move % size], [move // size], s=260, facecolors="none", edgecolors="tab:red", linewidths=2)
        ax.set(xticks=range(size), yticks=range(size), xticklabels="ABCDEFGHJKLMNOPQRST"[:size], yticklabels=range(1, size + 1),
               title=f"move {int(val.number[i]) + 1}, {'black' if black_to_play else 'white'} to play; pass {probs[-1]:.0%}")  # fmt: skip
        ax.tick_params(labelsize=7)
        ax.title.set_fontsize(8)
    return fig
