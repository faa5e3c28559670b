"""Kata ``long-memory``: why a simple RNN forgets and the LSTM and GRU do not.

The adding problem (:mod:`deepkata.rnn.adding`) at sequence lengths T: a tanh RNN, an LSTM and
a GRU with the same hidden size, optimizer and step budget, each trained until its validation
MSE falls below ``target_mse`` or the budget runs out, then scored once on a test set against
the trivial predictor (MSE 1/6). The gradient norm ||dL/dh_t|| against t, at initialization and
after training, shows where the simple RNN's gradient vanishes. A last pair of runs shows
exploding gradients: a ReLU RNN whose recurrent weights start at 1.2 I (Le et al.'s IRNN, scaled
past 1), trained by plain SGD without clipping, then the same run clipped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from deepkata.core.config import KataConfig, param
from deepkata.core.plots import figure
from deepkata.core.registry import Expectation, Outcome, register_kata
from deepkata.core.report import fmt
from deepkata.core.runner import Run
from deepkata.rnn.adding import TRIVIAL_MSE, adding_batch
from deepkata.rnn.gradient_flow import hidden_gradient_norms
from deepkata.models.sequence import CellName, SequenceModel, SequenceModelConfig

CELLS: tuple[CellName, ...] = ("rnn", "lstm", "gru")
LABELS = {"rnn": "simple RNN (tanh)", "lstm": "LSTM", "gru": "GRU", "irnn": "ReLU RNN, W_h = 1.2 I"}


@dataclass(frozen=True)
class LongMemoryConfig(KataConfig):
    lengths: tuple[int, ...] = param((10, 50, 100, 200), "sequence lengths T", ge=2, le=2000)
    cells: tuple[Literal["rnn", "lstm", "gru"], ...] = param(CELLS, "cells to compare")
    hidden: int = param(64, "hidden units, the same for every cell", gt=0, le=2048)
    batch: int = param(64, "sequences per step", gt=0)
    lr: float = param(0.01, "Adam learning rate", gt=0)
    steps: int = param(2500, "step budget per cell and length", gt=0)
    target_mse: float = param(0.002, "stop early once the validation MSE falls below this", ge=0)
    eval_every: int = param(100, "steps between validation checks", gt=0)
    clip: float = param(1.0, "maximum global gradient norm; 0 turns clipping off", ge=0)
    valid_size: int = param(1000, "validation sequences (early stopping)", gt=0)
    test_size: int = param(2000, "test sequences (scored once, at the end)", gt=0)
    flow_length: int = param(100, "T of the gradient-norm plots; must be one of lengths", ge=2)
    explode_length: int = param(50, "T of the exploding-gradient demonstration; 0 skips it", ge=0)
    explode_steps: int = param(300, "SGD steps of each exploding-gradient run", gt=0)
    explode_lr: float = param(0.01, "SGD learning rate of the exploding-gradient runs", gt=0)
    blowup: float = param(1e3, "a training loss this many times the first step's counts as divergence", gt=1)

    def validate(self) -> None:
        from deepkata.core.errors import ConfigError

        if self.flow_length not in self.lengths:
            raise ConfigError(f"flow_length {self.flow_length} must be one of lengths {self.lengths}")
        if len(set(self.cells)) != len(self.cells):
            raise ConfigError(f"cells: each cell once, got {self.cells}")


# --- one training ---------------------------------------------------------------------------------


class AddingTrainer:
    """Adam (or SGD) on fresh adding-problem batches, resumable: all state in :meth:`state_dict`."""

    def __init__(
        self, model_cfg: SequenceModelConfig, length: int, batch: int, lr: float, clip: float, seed: int,
        *, sgd: bool = False, blowup: float = float("inf"),
    ) -> None:  # fmt: skip
        torch.manual_seed(seed)
        self.model = SequenceModel(model_cfg)
        self.length, self.batch, self.clip, self.blowup = length, batch, clip, blowup
        params = self.model.parameters()
        self.opt = torch.optim.SGD(params, lr=lr) if sgd else torch.optim.Adam(params, lr=lr)
        self.data = torch.Generator().manual_seed(seed)
        self.step = 0
        self.first_loss: float | None = None
        self.diverged_at: int | None = None
        self.grad_norms: list[float] = []  # per step, before clipping
        self.losses: list[float] = []  # per step, before the update

    def train(self, n: int) -> float:
        """``n`` more steps (fewer if training diverges); the mean training loss."""
        losses = []
        self.model.train()
        for _ in range(n):
            x, y = adding_batch(self.data, self.batch, self.length)
            loss = torch.nn.functional.mse_loss(self.model(x)[0], y)
            self.opt.zero_grad()
            loss.backward()
            # the global norm, measured before any clipping; clip_grad_norm_ with inf only measures
            norm = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.clip or float("inf")))
            self.step += 1
            self.grad_norms.append(norm)
            self.losses.append(loss.item())
            if self.first_loss is None:
                self.first_loss = loss.item()
            # divergence: a non-finite loss or gradient, or a loss ``blowup`` times the first one
            if not (np.isfinite(norm) and loss.item() <= self.blowup * self.first_loss):
                self.diverged_at = self.step
                break
            self.opt.step()
            losses.append(loss.item())
        return float(np.mean(losses)) if losses else float("nan")

    def mse(self, x: torch.Tensor, y: torch.Tensor) -> float:
        self.model.eval()
        with torch.no_grad():
            return float(torch.nn.functional.mse_loss(self.model(x)[0], y))

    def state_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(), "opt": self.opt.state_dict(), "data": self.data.get_state(),
            "step": self.step, "first_loss": self.first_loss, "diverged_at": self.diverged_at,
            "grad_norms": list(self.grad_norms), "losses": list(self.losses),
        }  # fmt: skip

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["opt"])
        self.data.set_state(state["data"])
        self.step, self.first_loss, self.diverged_at = int(state["step"]), state["first_loss"], state["diverged_at"]
        self.grad_norms, self.losses = list(state["grad_norms"]), list(state["losses"])


def _model_cfg(cell: str, hidden: int) -> SequenceModelConfig:
    if cell == "irnn":
        return SequenceModelConfig(cell="rnn", nonlinearity="relu", input_size=2, hidden=hidden, output_size=1, readout="last")
    return SequenceModelConfig(cell=cell, input_size=2, hidden=hidden, output_size=1, readout="last")  # type: ignore[arg-type]


def _sets(seed: int, length: int, cfg: LongMemoryConfig) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Validation and test sets of one length, from their own streams (never the training one)."""
    return {
        name: adding_batch(torch.Generator().manual_seed(seed * 1000 + offset + length), size, length)
        for name, offset, size in (("valid", 100_003, cfg.valid_size), ("test", 200_003, cfg.test_size))
    }


# --- the kata --------------------------------------------------------------------------------------


@register_kata(
    name="long-memory",
    topic="rnn",
    section="Day 3 · LSTM, GRU, vanishing and exploding gradients",
    description="adding problem at T = 10..200: simple RNN vs LSTM vs GRU, gradient flow, exploding gradients",
    config=LongMemoryConfig,
    presets={
        "smoke": {"lengths": (10,), "flow_length": 10, "steps": 400, "hidden": 16, "batch": 32, "valid_size": 200,
                  "test_size": 200, "explode_length": 40, "explode_steps": 60},
        "default": {},
        "full": {"lengths": (10, 50, 100, 200, 400), "steps": 6000, "hidden": 128, "test_size": 10_000},
    },  # fmt: skip
    expectations=[
        Expectation("the LSTM beats the trivial predictor at T = 10", "T10/lstm/test_mse", "<=", 0.5 * TRIVIAL_MSE, presets=("smoke",)),
        Expectation("LSTM reaches test MSE < 0.01 at T = 100", "T100/lstm/test_mse", "<=", 0.01, presets=("default", "full")),
        Expectation("GRU reaches test MSE < 0.01 at T = 100", "T100/gru/test_mse", "<=", 0.01, presets=("default", "full")),
        Expectation("the simple RNN stays near the trivial 1/6 at T = 100", "T100/rnn/test_mse", ">=", 0.8 * TRIVIAL_MSE, presets=("default", "full")),
        Expectation("the simple RNN stays near the trivial 1/6 at T = 200", "T200/rnn/test_mse", ">=", 0.8 * TRIVIAL_MSE, presets=("default", "full")),
        Expectation("without clipping the IRNN diverges", "explode/noclip/diverged", ">=", 1),
        Expectation("with clipping the same run does not", "explode/clip/diverged", "<=", 0),
    ],  # fmt: skip
    threads=1,  # these small matrices run fastest on one thread
)
def run(cfg: LongMemoryConfig, run: Run) -> Outcome:
    state = run.load_checkpoint() or {"done": {}, "current": None, "flow": {}}
    done: dict[str, dict[str, Any]] = state["done"]
    flows: dict[str, dict[str, Any]] = state["flow"]

    def checkpoint(key: str | None = None, trainer: AddingTrainer | None = None, extra: Any = None) -> None:
        current = None if trainer is None else {"key": key, "trainer": trainer.state_dict(), "extra": extra}
        run.save_checkpoint({"done": done, "current": current, "flow": flows})

    jobs = [(length, cell) for length in cfg.lengths for cell in cfg.cells]
    with run.bar(f"adding problem: {len(cfg.cells)} cells x {len(cfg.lengths)} lengths", len(jobs)) as bar:
        for length, cell in jobs:
            key = f"T{length}/{cell}"
            if key not in done:
                done[key] = _train_one(cfg, run, key, cell, length, state.get("current"), checkpoint, flows)
                state["current"] = None
                checkpoint()
            bar.advance()

    explode = {}
    if cfg.explode_length:
        for clip in (0.0, 1.0):
            key = f"explode/{'clip' if clip else 'noclip'}"
            if key not in done:
                done[key] = _explode(cfg, run, key, clip, state.get("current"), checkpoint)
                state["current"] = None
                checkpoint()
            explode[key] = done[key]
    return _outcome(cfg, run, done, flows, explode)


def _train_one(
    cfg: LongMemoryConfig,
    run: Run,
    key: str,
    cell: str,
    length: int,
    current: dict[str, Any] | None,
    checkpoint: Callable[..., None],
    flows: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    trainer = AddingTrainer(_model_cfg(cell, cfg.hidden), length, cfg.batch, cfg.lr, cfg.clip, run.seed, blowup=cfg.blowup)
    sets = _sets(run.seed, length, cfg)
    valid, test = sets["valid"], sets["test"]
    best = float("inf")
    seconds = 0.0
    if current is not None and current["key"] == key:
        trainer.load_state_dict(current["trainer"])
        best, seconds = current["extra"]
    elif length == cfg.flow_length:
        flows[f"{cell}/init"] = _flow(trainer, valid)
    with run.bar(f"  {key}", cfg.steps) as bar:
        bar.advance(trainer.step)
        while trainer.step < cfg.steps and trainer.diverged_at is None and best > cfg.target_mse:
            start = time.perf_counter()
            n = min(cfg.eval_every, cfg.steps - trainer.step)
            train_loss = trainer.train(n)
            seconds += time.perf_counter() - start
            valid_mse = trainer.mse(*valid)
            best = min(best, valid_mse)
            run.log(trainer.step, {"train/loss": train_loss, "valid/mse": valid_mse}, job=key)
            bar.advance(n)
            if run.checkpoint_due():
                checkpoint(key, trainer, (best, seconds))
    if length == cfg.flow_length:
        flows[f"{cell}/trained"] = _flow(trainer, valid)
    return {
        "test_mse": trainer.mse(*test),
        "valid_mse": trainer.mse(*valid),
        "steps": trainer.step,
        "seconds": seconds,
        "diverged_at": trainer.diverged_at,
        "parameters": trainer.model.num_parameters(),
    }


def _flow(trainer: AddingTrainer, valid: tuple[torch.Tensor, torch.Tensor], n: int = 256) -> dict[str, Any]:
    norms, loss = hidden_gradient_norms(trainer.model, valid[0][:n], valid[1][:n])
    return {"norms": norms, "loss": loss}


def _explode(
    cfg: LongMemoryConfig, run: Run, key: str, clip: float, current: dict[str, Any] | None, checkpoint: Callable[..., None]
) -> dict[str, Any]:
    trainer = AddingTrainer(
        _model_cfg("irnn", cfg.hidden), cfg.explode_length, cfg.batch, cfg.explode_lr, clip, run.seed, sgd=True, blowup=cfg.blowup
    )
    with torch.no_grad():
        # Le et al.'s IRNN starts the ReLU RNN at W_h = I; 1.2 I makes every step amplify
        trainer.model.rnn.weight_hh_l0.copy_(1.2 * torch.eye(cfg.hidden))
        trainer.model.rnn.bias_hh_l0.zero_()
        trainer.model.rnn.bias_ih_l0.zero_()
    if current is not None and current["key"] == key:
        trainer.load_state_dict(current["trainer"])
    test = _sets(run.seed, cfg.explode_length, cfg)["test"]
    with run.bar(f"  {key}", cfg.explode_steps) as bar:
        bar.advance(trainer.step)
        while trainer.step < cfg.explode_steps and trainer.diverged_at is None:
            before = trainer.step
            loss = trainer.train(min(cfg.eval_every, cfg.explode_steps - trainer.step))
            run.log(trainer.step, {"train/loss": loss, "train/grad_norm": trainer.grad_norms[-1]}, job=key)
            bar.advance(trainer.step - before)
            if run.checkpoint_due():
                checkpoint(key, trainer)
    norms = np.asarray(trainer.grad_norms)
    finite = norms[np.isfinite(norms)]
    return {
        "diverged": int(trainer.diverged_at is not None),
        "diverged_at": trainer.diverged_at,
        "steps": trainer.step,
        "grad_norm_max": float(finite.max()) if finite.size else None,
        "grad_norms": norms,
        "losses": np.asarray(trainer.losses),
        "test_mse": None if trainer.diverged_at is not None else trainer.mse(*test),
    }


# --- results -----------------------------------------------------------------------------------


def _outcome(
    cfg: LongMemoryConfig, run: Run, done: dict[str, dict[str, Any]], flows: dict[str, dict[str, Any]], explode: dict[str, dict[str, Any]]
) -> Outcome:
    metrics: dict[str, Any] = {"trivial_mse": TRIVIAL_MSE}
    for key, job in done.items():
        if key.startswith("explode/"):
            for k in ("diverged", "diverged_at", "steps", "grad_norm_max", "test_mse"):
                metrics[f"{key}/{k}"] = job[k]
        else:
            for k in ("test_mse", "steps"):
                metrics[f"{key}/{k}"] = job[k]
    rows = []
    for length in cfg.lengths:
        row: dict[str, Any] = {"T": length}
        for cell in cfg.cells:
            job = done[f"T{length}/{cell}"]
            row[f"{LABELS[cell]} test MSE"] = job["test_mse"]
            row[f"{cell} steps"] = job["steps"]
        row["trivial"] = TRIVIAL_MSE
        rows.append(row)
    table = run.save_table("mse_by_length", rows, "Test MSE by sequence length and cell")
    run.save_figure(_mse_figure(cfg, done), "mse_by_length", "Test MSE against sequence length, with the trivial predictor")
    if flows:
        run.save_figure(_flow_figure(cfg, flows), "gradient_flow", f"||dL/dh_t|| against t at T = {cfg.flow_length}, at initialization and after training")
    sections = [("Test MSE by sequence length", _table_note(cfg) + "\n\n" + table)]
    if explode:
        run.save_figure(_explode_figure(cfg, explode), "exploding_gradients", "Gradient norm per SGD step, without and with clipping")
        sections.append(("Exploding gradients", _explode_text(cfg, explode)))
    timings = {f"{key}/seconds": job["seconds"] for key, job in done.items() if "seconds" in job}
    return Outcome(metrics, _summary(cfg, done, explode), sections, timings)


def _table_note(cfg: LongMemoryConfig) -> str:
    return (
        f"Hidden {cfg.hidden}, batch {cfg.batch}, Adam lr {cfg.lr:g}, gradient clipping at {cfg.clip:g}, at most "
        f"{cfg.steps:,} steps, stopping once the validation MSE (on {cfg.valid_size:,} sequences) is below "
        f"{cfg.target_mse:g}. Test MSE on {cfg.test_size:,} other sequences, measured once at the end. "
        f"The trivial predictor (always 1) scores 1/6 = {TRIVIAL_MSE:.4f}."
    )


def _summary(cfg: LongMemoryConfig, done: dict[str, dict[str, Any]], explode: dict[str, dict[str, Any]]) -> str:
    parts = []
    for length in cfg.lengths:
        bits = []
        for cell in cfg.cells:
            mse = done[f"T{length}/{cell}"]["test_mse"]
            verdict = "solved" if mse < 0.01 else ("beats trivial" if mse < 0.5 * TRIVIAL_MSE else "at the trivial level")
            bits.append(f"{LABELS[cell]} {fmt(mse)} ({verdict})")
        parts.append(f"T = {length}: " + ", ".join(bits) + ".")
    text = "Test MSE against the trivial 0.1667 — " + " ".join(parts)
    if explode:
        no, yes = explode["explode/noclip"], explode["explode/clip"]
        text += (
            f" Exploding gradients: without clipping the IRNN "
            + (f"diverged at step {no['diverged_at']}" if no["diverged"] else "did not diverge")
            + f" (gradient norm up to {fmt(no['grad_norm_max'])}); clipped at norm 1 it "
            + ("diverged too." if yes["diverged"] else f"trained all {yes['steps']} steps.")
        )
    return text


def _explode_text(cfg: LongMemoryConfig, explode: dict[str, dict[str, Any]]) -> str:
    lines = [
        f"A ReLU RNN (hidden {cfg.hidden}) with recurrent weights 1.2 I on the adding problem at T = "
        f"{cfg.explode_length}, plain SGD at lr {cfg.explode_lr:g}, the same seed and batches, once without "
        "clipping and once with the global gradient norm clipped to 1."
    ]
    for key, job in explode.items():
        what = (
            f"diverged at step {job['diverged_at']}" if job["diverged"]
            else f"ran all {job['steps']} steps, test MSE {fmt(job['test_mse'])} (trivial {TRIVIAL_MSE:.4f})"
        )  # fmt: skip
        lines.append(f"- {'clipped' if key.endswith('/clip') else 'not clipped'}: {what}; largest finite gradient norm {fmt(job['grad_norm_max'])}.")
    return "\n".join(lines)


def _mse_figure(cfg: LongMemoryConfig, done: dict[str, dict[str, Any]]) -> Any:
    fig, ax = figure(1, 1, width=6.4, height=4.2)
    for cell in cfg.cells:
        ax.plot(cfg.lengths, [done[f"T{length}/{cell}"]["test_mse"] for length in cfg.lengths], marker="o", label=LABELS[cell])
    ax.axhline(TRIVIAL_MSE, color="k", ls="--", lw=0.8, label="trivial predictor (1/6)")
    ax.set(xlabel="sequence length T", ylabel="test MSE", yscale="log", title="Adding problem")
    ax.legend(fontsize=8)
    return fig


def _flow_figure(cfg: LongMemoryConfig, flows: dict[str, dict[str, Any]]) -> Any:
    fig, axes = figure(1, 2, width=5.0, height=3.8, sharey=True)
    steps = np.arange(1, cfg.flow_length + 1)
    for ax, when in zip(axes, ("init", "trained")):
        for cell in cfg.cells:
            flow = flows.get(f"{cell}/{when}")
            if flow is not None:
                norms = np.asarray(flow["norms"])
                ax.plot(steps, norms / norms[-1], label=LABELS[cell])
        ax.set(xlabel="time step t", yscale="log", title="at initialization" if when == "init" else "after training")
        ax.legend(fontsize=8)
    axes[0].set_ylabel("||dL/dh_t|| / ||dL/dh_T||")
    return fig


def _explode_figure(cfg: LongMemoryConfig, explode: dict[str, dict[str, Any]]) -> Any:
    fig, (ax_norm, ax_loss) = figure(1, 2, width=5.2, height=3.8)
    # the clipped run first, so the short unclipped one stays visible on top
    for key in ("explode/clip", "explode/noclip"):
        job = explode[key]
        clipped = key.endswith("/clip")
        style = {"label": "clipped at 1" if clipped else "not clipped", "color": "tab:blue" if clipped else "tab:red"}
        if not clipped:
            style |= {"marker": "o", "lw": 2}
        for ax, values in ((ax_norm, job["grad_norms"]), (ax_loss, job["losses"])):
            values = np.asarray(values, dtype=float)
            ax.plot(np.arange(1, len(values) + 1), values, **style)
        if job["diverged"]:
            for ax in (ax_norm, ax_loss):
                ax.axvline(job["diverged_at"], color="tab:red", ls=":", lw=0.8)
            last = float(np.asarray(job["losses"], dtype=float)[-1])
            ax_loss.annotate(f"diverged at step {job['diverged_at']}: loss {fmt(last)}", (job["diverged_at"], 1), xycoords=("data", "axes fraction"),
                             xytext=(5, -15), textcoords="offset points", color="tab:red", fontsize=8)  # fmt: skip
    ax_norm.set(xlabel="SGD step", ylabel="global gradient norm (before clipping)", yscale="log", title=f"IRNN at T = {cfg.explode_length}: gradient")
    ax_loss.axhline(TRIVIAL_MSE, color="k", ls="--", lw=0.8, label="trivial predictor")
    ax_loss.set(xlabel="SGD step", ylabel="training loss (MSE)", yscale="log", title="loss")
    for ax in (ax_norm, ax_loss):
        ax.legend(fontsize=8)
    return fig
