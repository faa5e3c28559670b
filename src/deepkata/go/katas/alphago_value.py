"""Kata ``alphago-value``: AlphaGo's value network, one position per self-play game.

The Day 4 notes' AlphaGo (Lee): a value network (convolutions, then a fully connected layer and
one tanh unit) predicts the outcome of a position under strong play. AlphaGo trained it by
regression (mean squared error) on 30 million positions, each from a different self-play game,
because successive positions of one game are strongly correlated and a network trained on whole
games memorised their outcomes (Silver et al. 2016). This kata does the same at small scale:

- ``policy``: an ``alphago-rl`` run, as AlphaGo, or an ``alphago-sl`` one (its ``policy.pt``)
  plays ``games`` games against itself
  (:func:`~deepkata.go.selfplay.play_games`), moves drawn from its softmax, one uniformly random
  move at a random turn U, and the position after that move is the game's one sample, labelled
  with the game's outcome for the player to move there;
- without ``policy`` (the embedded default), our MCTS with random playouts plays the games on a
  small board (:func:`~deepkata.go.positions.teacher_games`) and one position of each is drawn;
- the network trains on nine tenths of the games' positions, with a random board symmetry per
  batch, and is scored on the rest (averaged over the eight symmetries as well) by mean squared
  error against the trivial predictor, the training outcomes' mean. It is saved as ``value.pt``
  for the search (``deepkata gtp --player alphago --mix 0.5``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from deepkata.core.config import KataConfig, param
from deepkata.core.engine import JobContext, JobSpec
from deepkata.core.errors import UserError
from deepkata.core.plots import figure, integer_ticks
from deepkata.core.registry import Expectation, Outcome, register_kata
from deepkata.core.runner import Run
from deepkata.core.trainer import EpochRecipe, EpochTrainer, TrainerJob
from deepkata.go.alphago import find_weights
from deepkata.go.features import PLANES, SYMMETRIES, planes, transform_planes
from deepkata.go.nets import GoNetConfig, PolicyNet, ValueNet, load_network, save_network
from deepkata.go.positions import outcome_of, teacher_games
from deepkata.go.selfplay import play_games


@dataclass(frozen=True, kw_only=True)
class ValueRecipe(EpochRecipe):
    epochs: int = param(10, "passes over the training positions", gt=0)
    batch: int = param(128, "positions per update", gt=0)
    optimizer: Literal["sgd", "adam"] = param("adam", "AdamW, or SGD with Nesterov momentum")
    lr: float = param(1e-3, "peak learning rate", gt=0, le=10)
    weight_decay: float = param(1e-4, "weight decay", ge=0)
    chunk: int = param(20, "batches per engine step (a checkpoint may follow each)", gt=0)


@dataclass(frozen=True, kw_only=True)
class AlphaGoValueConfig(KataConfig):
    policy: str = param("", "an alphago-rl or alphago-sl run folder (or its policy.pt) whose self-play makes the positions; empty: MCTS games (generated)")
    games: int = param(4000, "self-play games, one position each", gt=9)
    random_move: int = param(60, "the random move U is drawn from 1..this", gt=0)
    generated_size: int = param(7, "board of the MCTS games when no policy is given", ge=5, le=19)
    teacher_playouts: int = param(100, "MCTS playouts per move of those games", gt=0)
    net: GoNetConfig = param(GoNetConfig(), "the value network (size and planes set by the kata)")
    train: ValueRecipe = param(ValueRecipe(), "the training")


class ValueTrainer(EpochTrainer):
    cfg: ValueRecipe

    def __init__(self, net: ValueNet, cfg: ValueRecipe, x: np.ndarray, z: np.ndarray, val_x: np.ndarray, val_z: np.ndarray, device: torch.device, seed: int) -> None:
        super().__init__(net, cfg, len(x), device)
        self.x, self.z, self.val_x, self.val_z, self.seed = x, z, val_x, val_z, seed

    def loss(self, index: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        k = int(np.random.default_rng([self.seed, self.updates]).integers(SYMMETRIES))
        x = torch.from_numpy(np.ascontiguousarray(transform_planes(self.x[index.numpy()], k))).to(self.device, torch.float32)
        return F.mse_loss(self.model(x), torch.from_numpy(self.z[index.numpy()]).to(self.device)), {}

    @torch.no_grad()
    def predict(self, x: np.ndarray, *, symmetric: bool) -> np.ndarray:
        self.model.eval()
        frames = range(SYMMETRIES) if symmetric else (0,)
        out = np.mean([self.model(torch.from_numpy(np.ascontiguousarray(transform_planes(x, k))).to(self.device, torch.float32)).cpu().numpy() for k in frames], axis=0)
        self.model.train()
        return out

    def measure(self, last: bool) -> dict[str, float]:
        return {"val_mse": float(np.mean((self.predict(self.val_x, symmetric=False) - self.val_z) ** 2))}

    def outputs(self) -> dict[str, Any]:
        return {"val_symmetric_mse": float(np.mean((self.predict(self.val_x, symmetric=True) - self.val_z) ** 2))}


@register_kata(
    name="alphago-value",
    topic="go",
    section="Day 4 · AlphaGo: the value network",
    description="AlphaGo's value network (convolutions → FC → tanh) trained on one position per self-play game of the SL policy (or of MCTS, generated): held-out MSE against the trivial predictor; value.pt saved",
    config=AlphaGoValueConfig,
    presets={
        "smoke": {"games": 40, "generated_size": 5, "teacher_playouts": 30, "random_move": 10, "net.filters": 8, "net.layers": 2, "net.hidden": 16, "train.epochs": 2, "train.batch": 16},
        "default": {},
        "full": {"games": 20000, "train.epochs": 20},
    },  # fmt: skip
    expectations=[
        Expectation("training stays finite (no divergence)", "value/diverged", "<=", 0),
        Expectation("the value network predicts held-out outcomes better than the trivial predictor", "val/mse_gain", ">=", 0.0, presets=("default", "full")),
    ],
    data="self-play games of an alphago-rl or alphago-sl policy (--set policy=RUN), else games of MCTS against itself (generated)",
)
def run(cfg: AlphaGoValueConfig, run: Run) -> Outcome:
    start = time.perf_counter()
    x, z, source, size = _positions(cfg, run.seed)
    play_seconds = time.perf_counter() - start
    cut = int(round(len(x) * 0.9))
    train_x, train_z, val_x, val_z = x[:cut], z[:cut], x[cut:], z[cut:]
    net_cfg = replace(cfg.net, size=size, planes=PLANES)

    def make_job(_: str, ctx: JobContext) -> TrainerJob:
        torch.manual_seed(ctx.seed)
        return TrainerJob(ValueTrainer(ValueNet(net_cfg), cfg.train, train_x, train_z, val_x, val_z, ctx.device, ctx.seed), ctx)

    done = run.sweep([JobSpec("value", "value")], make_job, description="value network")["value"]
    net = ValueNet(net_cfg)
    net.load_state_dict(done["state"])
    run.save_file("value.pt", lambda path: save_network(path, net.eval()))
    mse = done["history"]["val_mse"][-1]
    trivial = float(np.mean((float(np.mean(train_z)) - val_z) ** 2))
    metrics: dict[str, float | int | None] = {
        "data/games": len(x), "data/train_positions": len(train_x), "data/val_positions": len(val_x), "data/mover_wins": float(np.mean(z > 0)),
        "val/mse": mse, "val/mse_symmetric": done["val_symmetric_mse"], "trivial/mse": trivial, "val/mse_gain": trivial - mse,
        "value/diverged": int(done["diverged"] is not None),
    }  # fmt: skip
    rows = [
        {"predictor": "value network", "held-out MSE": f"{mse:.3f}"},
        {"predictor": "value network, 8 symmetries averaged", "held-out MSE": f"{done['val_symmetric_mse']:.3f}"},
        {"predictor": "the training outcomes' mean (trivial)", "held-out MSE": f"{trivial:.3f}"},
    ]
    table = run.save_table("value", rows, f"Outcome prediction on {len(val_x):,} positions of held-out games (z = ±1 for the player to move)")
    run.save_figure(_curves(done["history"], trivial), "training", "Training and held-out mean squared error by epoch, against the trivial predictor")
    verdict = f"beats the trivial predictor by {trivial - mse:.3f} ({(trivial - mse) / trivial:.1%})" if mse < trivial else "does not beat the trivial predictor"
    summary = (
        f"{len(x):,} positions, one from each game of {source}, labelled with the game's outcome for the player to move. A value "
        f"network of {sum(p.numel() for p in net.parameters()):,} parameters trained on {len(train_x):,} of them has a held-out mean "
        f"squared error of **{mse:.3f}** ({done['val_symmetric_mse']:.3f} with the eight symmetries averaged); predicting the "
        f"training outcomes' mean gives {trivial:.3f}, so the network {verdict}. AlphaGo's value network "
        f"reached 0.226 on its self-play test set (0.234 on KGS games)."
    )
    timings = {"data/seconds": play_seconds, "value/seconds": done["seconds"]}
    return Outcome(metrics, summary, [("Outcome prediction", table)], timings=timings, data=source)


def _positions(cfg: AlphaGoValueConfig, seed: int) -> tuple[np.ndarray, np.ndarray, str, int]:
    """(planes uint8, z) of one position per game, in game order, what made them, and the board size."""
    if cfg.policy:
        policy = load_network(find_weights(Path(cfg.policy), "policy.pt"), "policy")  # type: ignore[arg-type]
        assert isinstance(policy, PolicyNet)
        size = policy.cfg.size
        games = play_games((policy, policy), cfg.games, size=size, komi=7.0, seed=seed, random_move=cfg.random_move)
        kept = [g for g in games if g.sample is not None]
        if len(kept) < 10:
            raise UserError(f"random_move={cfg.random_move}: only {len(kept)} games lasted that long; lower it")
        x = np.stack([g.sample[0] for g in kept])  # type: ignore[index]
        z = np.array([g.outcome_for(g.sample[1]) for g in kept], dtype=np.float32)  # type: ignore[index]
        return x, z, f"the SL policy {cfg.policy} against itself ({size}x{size}, a random move at U ≤ {cfg.random_move})", size
    size = cfg.generated_size
    records = teacher_games(cfg.games, size=size, komi=7.0 if size >= 7 else 3.0, playouts=cfg.teacher_playouts, seed=seed)
    xs, zs = [], []
    for g, record in enumerate(records):
        rng = np.random.default_rng([seed, g, 1])
        turn = int(rng.integers(1, min(cfg.random_move, len(record.moves)) + 1)) if record.moves else 0
        state = record.start_state()
        for player, action in record.moves[:turn]:
            state.play_as(player, action)
        winner = outcome_of(record.result)
        xs.append(planes(state).astype(np.uint8))
        zs.append(0.0 if winner is None else (1.0 if winner == state.to_play else -1.0))
    return np.stack(xs), np.asarray(zs, dtype=np.float32), f"MCTS against itself ({cfg.teacher_playouts} playouts a move, {size}x{size}, generated)", size


def _curves(history: dict[str, list[float]], trivial: float) -> Any:
    fig, ax = figure(1, 1, width=5.5, height=3.6)
    epochs = [int(e) for e in history["epoch"]]
    ax.plot(epochs, history["train_loss"], marker="o", label="training")
    ax.plot(epochs, history["val_mse"], marker="o", label="held-out")
    ax.axhline(trivial, color="tab:red", ls="--", lw=0.8, label="trivial predictor, held-out")
    ax.set(xlabel="epoch", ylabel="mean squared error", title="value network")
    ax.legend(fontsize=8)
    integer_ticks(ax)
    return fig
