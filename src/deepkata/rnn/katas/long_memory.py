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

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from deepkata.core.config import ConfigError, KataConfig, param
from deepkata.core.engine import JobContext, JobSpec
from deepkata.core.plots import figure
from deepkata.core.registry import Expectation, Outcome, register_kata
from deepkata.core.report import fmt
from deepkata.core.runner import Run
from deepkata.models import build_model
from deepkata.models.sequence import CellName, SequenceModel
from deepkata.rnn.adding import TRIVIAL_MSE, adding_batch
from deepkata.rnn.gradient_flow import hidden_gradient_norms

CELLS: tuple[CellName, ...] = ("rnn", "lstm", "gru")
LABELS = {"rnn": "simple RNN (tanh)", "lstm": "LSTM", "gru": "GRU", "irnn": "ReLU RNN, W_h = 1.2 I"}


@dataclass(frozen=True, kw_only=True)
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
        if self.flow_length not in self.lengths:
            raise ConfigError(f"flow_length {self.flow_length} must be one of lengths {self.lengths}")
        if len(set(self.cells)) != len(self.cells):
            raise ConfigError(f"cells: each cell once, got {self.cells}")


# --- one training ---------------------------------------------------------------------------------


class AddingTrainer:
    """Adam (or SGD) on fresh adding-problem batches, resumable: all state in :meth:`state_dict`.

    The batches come from a CPU generator seeded with ``seed`` and move to the model's device,
    so every device trains on the same numbers. Forward passes run under ``autocast``.
    """

    def __init__(
        self, model: SequenceModel, length: int, batch: int, lr: float, clip: float, seed: int,
        *, sgd: bool = False, blowup: float = float("inf"), autocast: Callable[[], Any] = contextlib.nullcontext,
    ) -> None:  # fmt: skip
        self.model, self.autocast = model, autocast
        self.device = next(model.parameters()).device
        self.length, self.batch, self.clip, self.blowup = length, batch, clip, blowup
        params = model.parameters()
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
            x, y = (t.to(self.device) for t in adding_batch(self.data, self.batch, self.length))  # (B, T, 2), (B, 1)
            with self.autocast():
                out = self.model(x)[0]
            loss = torch.nn.functional.mse_loss(out.float(), y)
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
        with torch.no_grad(), self.autocast():
            out = self.model(x)[0]
        return float(torch.nn.functional.mse_loss(out.float(), y))

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


def _model(cell: str, hidden: int, device: torch.device) -> nn.Module:
    """The cell with a last-step readout, initialized from PyTorch's global generator on the CPU,
    then moved: the same weights on every device."""
    kind = {"cell": "rnn", "nonlinearity": "relu"} if cell == "irnn" else {"cell": cell}
    return build_model("recurrent", **kind, input_size=2, hidden=hidden, output_size=1, readout="last").to(device)


HELD_OUT = {"valid": 100_003, "test": 200_003}  # offsets of their generators' seeds


def _held_out(name: str, seed: int, length: int, size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The validation or test set of one length, from its own stream (never the training one)."""
    generator = torch.Generator().manual_seed(seed * 1000 + HELD_OUT[name] + length)
    x, y = adding_batch(generator, size, length)
    return x.to(device), y.to(device)


def _flow(trainer: AddingTrainer, valid: tuple[torch.Tensor, torch.Tensor], n: int = 256) -> dict[str, Any]:
    norms, loss = hidden_gradient_norms(trainer.model, valid[0][:n], valid[1][:n])
    return {"norms": norms, "loss": loss}


class AddingJob:
    """One cell at one length on the engine: ``eval_every`` steps, then a validation check, until
    the validation MSE is below the target or the budget is spent.

    With ``flow``, ||dL/dh_t|| is measured before the first step (kept in the job's state, so
    a resumed job still has it) and after the last; the result carries both.
    """

    def __init__(self, cell: str, length: int, cfg: LongMemoryConfig, ctx: JobContext, *, flow: bool) -> None:
        model = _model(cell, cfg.hidden, ctx.device)
        self.trainer = AddingTrainer(model, length, cfg.batch, cfg.lr, cfg.clip, ctx.seed, blowup=cfg.blowup, autocast=ctx.autocast)
        self.valid = _held_out("valid", ctx.seed, length, cfg.valid_size, ctx.device)
        self.test = _held_out("test", ctx.seed, length, cfg.test_size, ctx.device)
        self.cfg, self.ctx, self.flow = cfg, ctx, flow
        self.best = float("inf")  # lowest validation MSE so far
        self.seconds = 0.0  # spent training, validation excluded
        self.flow_init: dict[str, Any] | None = None
        self.device = ctx.device
        self.total = cfg.steps

    @property
    def progress(self) -> int:
        return self.trainer.step

    @property
    def done(self) -> bool:
        t = self.trainer
        return t.step >= self.cfg.steps or t.diverged_at is not None or self.best <= self.cfg.target_mse

    def step(self) -> None:
        t, cfg = self.trainer, self.cfg
        if self.flow and t.step == 0:
            self.flow_init = _flow(t, self.valid)
        start = time.perf_counter()
        train_loss = t.train(min(cfg.eval_every, cfg.steps - t.step))
        self.seconds += time.perf_counter() - start
        valid_mse = t.mse(*self.valid)
        self.best = min(self.best, valid_mse)
        self.ctx.log(t.step, {"train/loss": train_loss, "valid/mse": valid_mse})

    def state_dict(self) -> dict[str, Any]:
        return {"trainer": self.trainer.state_dict(), "best": self.best, "seconds": self.seconds, "flow_init": self.flow_init}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.trainer.load_state_dict(state["trainer"])
        self.best, self.seconds, self.flow_init = state["best"], state["seconds"], state["flow_init"]

    def result(self) -> dict[str, Any]:
        t = self.trainer
        return {
            "test_mse": t.mse(*self.test),
            "valid_mse": t.mse(*self.valid),
            "steps": t.step,
            "seconds": self.seconds,
            "diverged_at": t.diverged_at,
            "parameters": t.model.num_parameters(),
            "flow": {"init": self.flow_init, "trained": _flow(t, self.valid)} if self.flow else None,
        }


class ExplodeJob:
    """The exploding-gradient demonstration: a ReLU RNN started at W_h = 1.2 I, plain SGD,
    clipped at ``clip`` (0: not clipped), until it diverges or runs ``explode_steps`` steps."""

    def __init__(self, clip: float, cfg: LongMemoryConfig, ctx: JobContext) -> None:
        model = _model("irnn", cfg.hidden, ctx.device)
        with torch.no_grad():
            # Le et al.'s IRNN starts the ReLU RNN at W_h = I; 1.2 I makes every step amplify
            model.rnn.weight_hh_l0.copy_(1.2 * torch.eye(cfg.hidden, device=ctx.device))
            model.rnn.bias_hh_l0.zero_()
            model.rnn.bias_ih_l0.zero_()
        self.trainer = AddingTrainer(
            model, cfg.explode_length, cfg.batch, cfg.explode_lr, clip, ctx.seed, sgd=True, blowup=cfg.blowup, autocast=ctx.autocast
        )
        self.test = _held_out("test", ctx.seed, cfg.explode_length, cfg.test_size, ctx.device)
        self.cfg, self.ctx = cfg, ctx
        self.device = ctx.device
        self.total = cfg.explode_steps

    @property
    def progress(self) -> int:
        return self.trainer.step

    @property
    def done(self) -> bool:
        return self.trainer.step >= self.cfg.explode_steps or self.trainer.diverged_at is not None

    def step(self) -> None:
        t = self.trainer
        loss = t.train(min(self.cfg.eval_every, self.cfg.explode_steps - t.step))
        self.ctx.log(t.step, {"train/loss": loss, "train/grad_norm": t.grad_norms[-1]})

    def state_dict(self) -> dict[str, Any]:
        return self.trainer.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.trainer.load_state_dict(state)

    def result(self) -> dict[str, Any]:
        t = self.trainer
        norms = np.asarray(t.grad_norms)
        finite = norms[np.isfinite(norms)]
        return {
            "diverged": int(t.diverged_at is not None),
            "diverged_at": t.diverged_at,
            "steps": t.step,
            "grad_norm_max": float(finite.max()) if finite.size else None,
            "grad_norms": norms,
            "losses": np.asarray(t.losses),
            "test_mse": None if t.diverged_at is not None else t.mse(*self.test),
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
    precisions=("fp32", "bf16"),
)
def run(cfg: LongMemoryConfig, run: Run) -> Outcome:
    grid = [JobSpec(f"T{length}/{cell}", (length, cell)) for length in cfg.lengths for cell in cfg.cells]

    def make_job(params: tuple[int, str], ctx: JobContext) -> AddingJob:
        length, cell = params
        return AddingJob(cell, length, cfg, ctx, flow=length == cfg.flow_length)

    done = run.sweep(grid, make_job, description=f"adding problem: {len(cfg.cells)} cells x {len(cfg.lengths)} lengths")
    explode = {}
    if cfg.explode_length:
        grid = [JobSpec(f"explode/{'clip' if clip else 'noclip'}", clip) for clip in (0.0, 1.0)]
        explode = run.sweep(grid, lambda clip, ctx: ExplodeJob(clip, cfg, ctx), description="exploding gradients")
    return _outcome(cfg, run, done, explode)


# --- results -----------------------------------------------------------------------------------


def _outcome(cfg: LongMemoryConfig, run: Run, done: dict[str, dict[str, Any]], explode: dict[str, dict[str, Any]]) -> Outcome:
    metrics: dict[str, Any] = {"trivial_mse": TRIVIAL_MSE}
    for key, job in done.items():
        for k in ("test_mse", "steps"):
            metrics[f"{key}/{k}"] = job[k]
    for key, job in explode.items():
        for k in ("diverged", "diverged_at", "steps", "grad_norm_max", "test_mse"):
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
    run.save_figure(_flow_figure(cfg, done), "gradient_flow", f"||dL/dh_t|| against t at T = {cfg.flow_length}, at initialization and after training")
    sections = [("Test MSE by sequence length", _table_note(cfg) + "\n\n" + table)]
    if explode:
        run.save_figure(_explode_figure(cfg, explode), "exploding_gradients", "Gradient norm per SGD step, without and with clipping")
        sections.append(("Exploding gradients", _explode_text(cfg, explode)))
    timings = {f"{key}/seconds": job["seconds"] for key, job in done.items()}
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
            " Exploding gradients: without clipping the IRNN "
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
    if len(cfg.lengths) == 1:  # one length (the smoke preset): a bar per cell, not lone dots on a line chart
        (length,) = cfg.lengths
        mses = [done[f"T{length}/{cell}"]["test_mse"] for cell in cfg.cells]
        ax.bar([LABELS[cell] for cell in cfg.cells], mses, color=[f"C{i}" for i in range(len(mses))], width=0.6)
        for x, mse in enumerate(mses):
            ax.annotate(fmt(mse), (x, mse), ha="center", va="bottom", fontsize=8, xytext=(0, 2), textcoords="offset points")
        ax.set(ylabel="test MSE", yscale="log", title=f"Adding problem at T = {length}")
    else:
        for cell in cfg.cells:
            ax.plot(cfg.lengths, [done[f"T{length}/{cell}"]["test_mse"] for length in cfg.lengths], marker="o", label=LABELS[cell])
        ax.set(xlabel="sequence length T", ylabel="test MSE", yscale="log", title="Adding problem", xticks=list(cfg.lengths))
    ax.axhline(TRIVIAL_MSE, color="k", ls="--", lw=0.8, label="trivial predictor (1/6)")
    ax.legend(fontsize=8)
    return fig


def _flow_figure(cfg: LongMemoryConfig, done: dict[str, dict[str, Any]]) -> Any:
    fig, axes = figure(1, 2, width=5.0, height=3.8, sharey=True)
    steps = np.arange(1, cfg.flow_length + 1)
    for ax, when in zip(axes, ("init", "trained")):
        for cell in cfg.cells:
            norms = np.asarray(done[f"T{cfg.flow_length}/{cell}"]["flow"][when]["norms"])
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
