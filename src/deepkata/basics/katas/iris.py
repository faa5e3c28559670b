"""Kata ``iris``: the notes' Keras iris exercise, in PyTorch, every observation checked over seeds.

The course notebook (see :mod:`deepkata.basics.iris`) trains Dense(12, relu) -> Dense(3, softmax)
on the raw iris measurements with Keras' ``'sgd'`` optimizer (plain SGD, lr = 0.01), batches of 5,
20 epochs, 20% held out for test. The notes (004, Keras演習 "Irisデータの分類") try two changes:

- a sigmoid hidden layer: "the gradient vanished and learning stopped progressing";
- ``SGD(lr=0.1)``: "learning progressed faster, but the accuracy is not stable".

Here each seed s draws its own stratified split (``train_test_split(stratify=..., random_state=s)``),
which every setting and scikit-learn's logistic regression (the linear baseline) share. Every
network trains ``epochs`` epochs (100 by default, five times the notebook's, to see whether a slow
setting catches up); the notes' claims are judged at the notebook's 20 epochs (``notes_epochs``).
What we chose where the notes are vague, and why:

- *learning stalls*: after 20 epochs the sigmoid network's training accuracy (Keras' history, the
  curve of the notes' figures) is at least 10 points below ReLU's, mean over seeds. Epochs to 90%
  training accuracy, and the accuracy after all epochs, say whether it stalls or only slows.
- *the gradient vanishes*: the norm of ∂L/∂W1 (mean over the first epoch's steps) at least 10x —
  an order of magnitude — smaller than ReLU's, absolutely or relative to the output layer's
  ∂L/∂W2 (a gradient that vanishes shrinks as it flows back). One hidden layer passes the error
  back through f' once, so only a constant factor (the sigmoid's slope, at most 1/4) is possible;
  the control setting "sigmoid, SGD 0.1" tests whether a larger step undoes the slowness.
- *faster*: the median over seeds of the epochs to 90% training accuracy is below the baseline's.
- *unstable*: over the 20 epochs, more drops of at least 10 points in test accuracy from one
  epoch to the next (mean per seed) and a larger standard deviation of test accuracy over epochs
  11-20 than the baseline's.
- *the baseline*: the notebook's MLP beats logistic regression if its mean test accuracy after 20
  epochs is higher on the same splits.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import torch

from deepkata.basics.iris import IrisMLP, IrisMLPConfig, evaluate, load_split, logistic_regression_accuracy, mean_slope, train_epoch
from deepkata.core.config import ConfigError, KataConfig, param
from deepkata.core.engine import JobContext, JobSpec
from deepkata.core.plots import figure, integer_ticks, scale_for
from deepkata.core.registry import Expectation, Observation, Outcome, register_kata
from deepkata.core.runner import Run

EXERCISE = "Keras: iris"


@dataclass(frozen=True)
class Setting:
    id: str
    label: str
    activation: Literal["relu", "sigmoid"] | None  # None: the model config's (the notebook's relu)
    fast: bool  # SGD with fast_lr instead of lr


# id, label, hidden activation, larger learning rate
SETTINGS = (
    Setting("baseline", "ReLU, SGD 0.01 (the notebook)", None, False),
    Setting("sigmoid", "sigmoid, SGD 0.01", "sigmoid", False),
    Setting("sgd0.1", "ReLU, SGD 0.1", None, True),
    Setting("sigmoid-sgd0.1", "sigmoid, SGD 0.1 (control)", "sigmoid", True),
)
SETTING_IDS = tuple(s.id for s in SETTINGS)
SettingId = Literal["baseline", "sigmoid", "sgd0.1", "sigmoid-sgd0.1"]


@dataclass(frozen=True, kw_only=True)
class IrisConfig(KataConfig):
    model: IrisMLPConfig = param(IrisMLPConfig(), "the notebook's network, Dense(12, relu) -> Dense(3, softmax)")
    test_size: float = param(0.2, "share of the 150 flowers held out for test, stratified by species", ge=0.05, le=0.5)
    batch: int = param(5, "flowers per SGD step (the notebook's batch_size=5)", gt=0, le=150)
    lr: float = param(0.01, "learning rate of SGD: Keras' default, the notebook's optimizer='sgd'", gt=0, le=10)
    fast_lr: float = param(0.1, "the exercise's larger SGD learning rate, SGD(lr=0.1)", gt=0, le=10)
    epochs: int = param(100, "epochs every network trains, to see whether a slow one catches up", gt=0, le=10_000)
    notes_epochs: int = param(20, "the notebook's epochs: the notes' claims are judged after these", ge=2)
    threshold: float = param(0.9, "training accuracy counted as learned, for epochs-to-threshold", gt=0, le=1)
    drop: float = param(0.1, "fall in test accuracy between consecutive epochs counted as a drop", gt=0, le=1)
    seeds: int = param(10, "seeds (each its own stratified split): seed, seed+1, ...", gt=0, le=100)
    settings: tuple[SettingId, ...] = param(SETTING_IDS, "settings to run; the observations compare with the baseline")

    def validate(self) -> None:
        if "baseline" not in self.settings:
            raise ConfigError("settings: the observations compare with the baseline; include it")
        if self.notes_epochs > self.epochs:
            raise ConfigError(f"notes_epochs={self.notes_epochs} is more than epochs={self.epochs}; train at least as long as the notebook")
        if self.model.activation != "relu":
            raise ConfigError("model.activation: the baseline is the notebook's relu network (the sigmoid settings swap it); leave it relu")
        if self.model.inputs != 4 or self.model.classes != 3:
            raise ConfigError("model.inputs and model.classes: iris has 4 measurements and 3 species; leave them 4 and 3")


class IrisJob:
    """One setting with one seed on the engine, an epoch a step: the notebook's ``model.fit``.

    The seed picks the stratified split and, through a NumPy generator, the order of every epoch
    (Keras shuffles each epoch); the engine seeds PyTorch's generator, which initializes the
    weights. The result is the history, one entry per epoch.
    """

    # the history's keys, and their names in metrics.jsonl
    LOG = {"train_loss": "train/loss", "train_accuracy": "train/accuracy", "test_loss": "test/loss", "test_accuracy": "test/accuracy",
           "grad_w1": "grad/w1", "grad_w2": "grad/w2", "slope": "grad/slope"}  # fmt: skip

    def __init__(self, setting: Setting, cfg: IrisConfig, ctx: JobContext) -> None:
        split = load_split(ctx.seed, cfg.test_size)
        dev = ctx.device
        self.x, self.xt = (torch.tensor(a, dtype=torch.float32, device=dev) for a in (split.x_train, split.x_test))  # (N, 4)
        self.y, self.yt = (torch.tensor(a, dtype=torch.long, device=dev) for a in (split.y_train, split.y_test))  # (N,)
        model_cfg = cfg.model if setting.activation is None else replace(cfg.model, activation=setting.activation)
        self.model = IrisMLP(model_cfg).to(dev)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=cfg.fast_lr if setting.fast else cfg.lr)
        self.rng = np.random.default_rng(ctx.seed)
        self.history: dict[str, list[float]] = {k: [] for k in self.LOG}
        self.cfg, self.ctx, self.device, self.total = cfg, ctx, dev, cfg.epochs

    @property
    def progress(self) -> int:
        return len(self.history["train_loss"])

    @property
    def done(self) -> bool:
        return self.progress >= self.cfg.epochs

    def step(self) -> None:
        order = torch.from_numpy(self.rng.permutation(len(self.x))).to(self.device)
        stats = train_epoch(self.model, self.opt, self.x, self.y, order, self.cfg.batch)
        test_loss, test_acc = evaluate(self.model, self.xt, self.yt)
        row = {"train_loss": stats.loss, "train_accuracy": stats.accuracy, "test_loss": test_loss, "test_accuracy": test_acc,
               "grad_w1": stats.grad_w1, "grad_w2": stats.grad_w2, "slope": mean_slope(self.model, self.x)}  # fmt: skip
        for k, v in row.items():
            self.history[k].append(v)
        self.ctx.log(self.progress, {self.LOG[k]: v for k, v in row.items()})

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "opt": self.opt.state_dict(), "rng": self.rng.bit_generator.state,
                "history": {k: list(v) for k, v in self.history.items()}}  # fmt: skip

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["opt"])
        self.rng.bit_generator.state = state["rng"]
        self.history = {k: list(v) for k, v in state["history"].items()}

    def result(self) -> dict[str, list[float]]:
        return self.history


# --- statistics of the histories ------------------------------------------------------------------


def epochs_to(history: dict[str, list[float]], threshold: float) -> int:
    """First epoch (from 1) whose training accuracy reaches ``threshold``; epochs + 1 if none does."""
    acc = history["train_accuracy"]
    return next((e + 1 for e, a in enumerate(acc) if a >= threshold), len(acc) + 1)


def drops(history: dict[str, list[float]], upto: int, size: float) -> int:
    """How often test accuracy falls by at least ``size`` from one epoch to the next, epochs 1..upto."""
    acc = history["test_accuracy"][:upto]
    return sum(b - a <= -size + 1e-9 for a, b in itertools.pairwise(acc))


def late_std(history: dict[str, list[float]], upto: int) -> float:
    """Standard deviation of test accuracy over the second half of epochs 1..upto."""
    return float(np.std(history["test_accuracy"][upto // 2 : upto]))


def at(jobs: list[dict[str, list[float]]], key: str, epoch: int) -> np.ndarray:
    """``key`` after ``epoch`` (from 1) of every seed."""
    return np.array([j[key][epoch - 1] for j in jobs])


def pct(values: np.ndarray) -> str:
    """Mean over seeds, and the range: ``94.7% [90.0–100.0]``."""
    return f"{values.mean():.1%} [{values.min() * 100:.1f}–{values.max() * 100:.1f}]"


def summarize(cfg: IrisConfig, jobs: list[dict[str, list[float]]]) -> dict[str, float]:
    """One setting's metrics over its seeds (means unless named otherwise)."""
    n, last = cfg.notes_epochs, cfg.epochs
    reach = [epochs_to(j, cfg.threshold) for j in jobs]
    return {
        "train_accuracy_notes": float(at(jobs, "train_accuracy", n).mean()),
        "test_accuracy_notes": float(at(jobs, "test_accuracy", n).mean()),
        "test_accuracy_notes_min": float(at(jobs, "test_accuracy", n).min()),
        "test_accuracy_final": float(at(jobs, "test_accuracy", last).mean()),
        "epochs_to_threshold": float(np.median(reach)),  # epochs + 1 where not reached
        "reached_threshold": sum(r <= last for r in reach),
        "drops_notes": float(np.mean([drops(j, n, cfg.drop) for j in jobs])),
        "test_std_notes": float(np.mean([late_std(j, n) for j in jobs])),
        "test_std_last": float(np.mean([float(np.std(j["test_accuracy"][-n:])) for j in jobs])),
        "grad_w1_epoch1": float(at(jobs, "grad_w1", 1).mean()),
        "grad_w2_epoch1": float(at(jobs, "grad_w2", 1).mean()),
        "slope_epoch1": float(at(jobs, "slope", 1).mean()),
    }


# --- the notes' observations as checks ---------------------------------------------------------


def judge(cfg: IrisConfig, runs: dict[str, list[dict[str, list[float]]]], logreg: list[float], seeds: list[int]) -> tuple[dict[str, float], list[Observation]]:
    """The ``obs/`` metrics and an Observation for each claim whose settings ran."""
    s = {k: summarize(cfg, jobs) for k, jobs in runs.items()}
    base, n, thr, last = s["baseline"], cfg.notes_epochs, cfg.threshold, cfg.epochs
    who = f"seeds {seeds[0]}–{seeds[-1]}" if len(seeds) > 1 else f"seed {seeds[0]}"
    metrics: dict[str, float] = {}
    obs: list[Observation] = []

    def reach(x: dict[str, float]) -> str:
        e = x["epochs_to_threshold"]
        return f"{e:g}" if e <= last else f"> {last}"

    if "sigmoid" in runs:
        sig = s["sigmoid"]
        gap = metrics["obs/sigmoid_train_gap"] = base["train_accuracy_notes"] - sig["train_accuracy_notes"]
        obs.append(Observation(
            EXERCISE, "sigmoid hidden layer: learning stalls", "— (a flat accuracy curve, figure only)",
            f"after the notebook's {n} epochs the sigmoid net's training accuracy (Keras' history, mean over seeds) is "
            f"≥ 10 points below ReLU's; epochs to {thr:.0%} training accuracy and the accuracy after {last} epochs say whether it stops or slows",
            f"training accuracy after {n} epochs {sig['train_accuracy_notes']:.1%} vs ReLU's {base['train_accuracy_notes']:.1%} "
            f"({who}); epochs to {thr:.0%}: {reach(sig)} vs {reach(base)} (medians); test accuracy after {last} epochs "
            f"{sig['test_accuracy_final']:.1%} vs {base['test_accuracy_final']:.1%}: "
            + ("it slows, it does not stop" if sig["reached_threshold"] == len(seeds) else f"{sig['reached_threshold']} of {len(seeds)} seeds reach it"),
            gap >= 0.10,
        ))  # fmt: skip
        shrink = metrics["obs/sigmoid_w1_shrink"] = base["grad_w1_epoch1"] / sig["grad_w1_epoch1"]
        ratio = {k: x["grad_w1_epoch1"] / x["grad_w2_epoch1"] for k, x in (("relu", base), ("sigmoid", sig))}
        depth = metrics["obs/sigmoid_depth_shrink"] = ratio["relu"] / ratio["sigmoid"]
        control = ""
        if "sigmoid-sgd0.1" in runs:
            control = (f"; epochs to {thr:.0%}: sigmoid with SGD 0.1 {reach(s['sigmoid-sgd0.1'])}, ReLU with 0.01 {reach(base)} "
                       "(medians): a larger step makes up for the smaller gradient")
        obs.append(Observation(
            EXERCISE, "sigmoid hidden layer: the gradient vanishes", "—",
            "vanishing: ‖∂L/∂W1‖ (mean over the 1st epoch's steps and seeds) ≥ 10x smaller than ReLU's, absolutely or "
            "relative to the output layer's ‖∂L/∂W2‖; one hidden layer passes the error back through f' once (≤ 1/4 for the sigmoid)",
            f"‖∂L/∂W1‖ {sig['grad_w1_epoch1']:.3g} vs ReLU's {base['grad_w1_epoch1']:.3g} ({shrink:.1f}x smaller); "
            f"‖∂L/∂W1‖/‖∂L/∂W2‖ {ratio['sigmoid']:.2f} vs {ratio['relu']:.2f} ({depth:.1f}x); mean f'(u) {sig['slope_epoch1']:.3f} "
            f"vs {base['slope_epoch1']:.3f} ({who}): a constant factor, not a vanishing gradient{control}",
            max(shrink, depth) >= 10,
        ))  # fmt: skip
    if "sgd0.1" in runs:
        fast = s["sgd0.1"]
        saved = metrics["obs/sgd_epochs_saved"] = base["epochs_to_threshold"] - fast["epochs_to_threshold"]
        ranges = {k: [epochs_to(j, thr) for j in runs[k]] for k in ("baseline", "sgd0.1")}
        obs.append(Observation(
            EXERCISE, "SGD(lr=0.1): learns faster", "— (figure only)",
            f"the median over seeds of the epochs to {thr:.0%} training accuracy (Keras' history) is below the baseline's "
            f"(SGD 0.01); a seed that never reaches it counts as {last + 1}",
            f"epochs to {thr:.0%}: {reach(fast)} vs {reach(base)} (medians, {who}; ranges {min(ranges['sgd0.1'])}–{max(ranges['sgd0.1'])} "
            f"vs {min(ranges['baseline'])}–{max(ranges['baseline'])})",
            saved > 0,
        ))  # fmt: skip
        extra = metrics["obs/sgd_extra_drops"] = fast["drops_notes"] - base["drops_notes"]
        metrics["obs/sgd_std_ratio"] = fast["test_std_notes"] / max(base["test_std_notes"], 1e-12)
        obs.append(Observation(
            EXERCISE, "SGD(lr=0.1): the accuracy is unstable", "— (figure only)",
            f"over the notebook's {n} epochs, more drops of ≥ {cfg.drop * 100:g} points in test accuracy between consecutive epochs "
            f"(mean per seed) and a larger std of test accuracy over epochs {n // 2 + 1}–{n} than the baseline's",
            f"{fast['drops_notes']:.1f} vs {base['drops_notes']:.1f} drops, std {fast['test_std_notes'] * 100:.1f} vs "
            f"{base['test_std_notes'] * 100:.1f} points ({who}); over the last {n} of {last} epochs std "
            f"{fast['test_std_last'] * 100:.1f} vs {base['test_std_last'] * 100:.1f} points",
            extra > 0 and fast["test_std_notes"] > base["test_std_notes"],
        ))  # fmt: skip
    mlp, lin = at(runs["baseline"], "test_accuracy", n), np.array(logreg)
    diff = metrics["obs/mlp_minus_logreg"] = float(mlp.mean() - lin.mean())
    wins, ties = int((mlp > lin + 1e-9).sum()), int((abs(mlp - lin) <= 1e-9).sum())
    best = max(s, key=lambda k: s[k]["test_accuracy_final"])
    obs.append(Observation(
        EXERCISE, "the notebook's MLP beats scikit-learn's logistic regression (the issue's baseline)", "— (the notes give no baseline)",
        f"the MLP beats it if its mean test accuracy after {n} epochs is higher, on the same stratified splits",
        f"MLP {pct(mlp)} vs logistic regression {pct(lin)} ({who}; MLP wins/ties/losses per seed "
        f"{wins}/{ties}/{len(mlp) - wins - ties}); best after {last} epochs: {best} {s[best]['test_accuracy_final']:.1%}",
        diff > 0,
    ))  # fmt: skip
    return metrics, obs


# --- the kata --------------------------------------------------------------------------------------


@register_kata(
    name="iris",
    topic="basics",
    section="Day 4 · Keras exercise: iris classification",
    description="the notes' Keras iris MLP: sigmoid vs ReLU, SGD 0.1, and logistic regression, over seeds and stratified splits",
    config=IrisConfig,
    presets={
        "smoke": {"epochs": 20, "seeds": 2, "settings": ("baseline", "sigmoid")},
        "default": {},
        "full": {"seeds": 30, "epochs": 200},
    },
    expectations=[
        Expectation("the notebook's MLP learns: test accuracy after 20 epochs at least 80%", "baseline/test_accuracy_notes", ">=", 0.8),
        Expectation("sigmoid: after 20 epochs training accuracy at least 10 points below ReLU's", "obs/sigmoid_train_gap", ">=", 0.10),
        Expectation("sigmoid: ‖∂L/∂W1‖ 2-10x smaller than ReLU's, a constant factor, not vanishing", "obs/sigmoid_w1_shrink", "~", 6.0, tol=4.0, presets=("default", "full")),
        Expectation("SGD 0.1 reaches 90% training accuracy at least 1 epoch sooner (median)", "obs/sgd_epochs_saved", ">=", 1.0, presets=("default", "full")),
        Expectation("SGD 0.1: at least half a drop more per seed in test accuracy over 20 epochs", "obs/sgd_extra_drops", ">=", 0.5, presets=("default", "full")),
        Expectation("the notebook's MLP does not beat logistic regression after 20 epochs", "obs/mlp_minus_logreg", "<=", 0.0, presets=("default", "full")),
        Expectation("after all epochs the notebook's MLP reaches 90% test accuracy", "baseline/test_accuracy_final", ">=", 0.9, presets=("default", "full")),
    ],
    data="scikit-learn's bundled iris (150 flowers, 4 measurements, 3 species)",
    threads=1,  # batches of 5: one thread is fastest
)
def run(cfg: IrisConfig, run: Run) -> Outcome:
    settings = [s for s in SETTINGS if s.id in cfg.settings]
    seeds = [run.seed + k for k in range(cfg.seeds)]
    grid = [JobSpec(f"{s.id}/seed{seed}", s, seed=seed) for s in settings for seed in seeds]
    done = run.sweep(grid, lambda s, ctx: IrisJob(s, cfg, ctx), description=f"{len(settings)} settings x {len(seeds)} seeds")
    runs = {s.id: [done[f"{s.id}/seed{seed}"] for seed in seeds] for s in settings}
    logreg = [logistic_regression_accuracy(load_split(seed, cfg.test_size)) for seed in seeds]
    return _outcome(cfg, run, settings, runs, logreg, seeds)


def _outcome(cfg: IrisConfig, run: Run, settings: list[Setting], runs: dict[str, list[dict[str, list[float]]]], logreg: list[float], seeds: list[int]) -> Outcome:
    n, last = cfg.notes_epochs, cfg.epochs
    obs_metrics, observations = judge(cfg, runs, logreg, seeds)
    metrics: dict[str, Any] = {"logreg/test_accuracy": float(np.mean(logreg)), "logreg/test_accuracy_min": float(np.min(logreg)), **obs_metrics}
    rows = []
    for s in settings:
        for k, v in summarize(cfg, runs[s.id]).items():
            metrics[f"{s.id}/{k}"] = v
        jobs = runs[s.id]
        rows.append({
            "setting": s.label, f"train acc. @{n}": f"{at(jobs, 'train_accuracy', n).mean():.1%}",
            f"test acc. @{n}": pct(at(jobs, "test_accuracy", n)), f"test acc. @{last}": pct(at(jobs, "test_accuracy", last)),
            f"epochs to {cfg.threshold:.0%} train": _median_reach(jobs, cfg.threshold, last),
            f"drops ≥{cfg.drop * 100:g} pts in {n} ep.": f"{metrics[f'{s.id}/drops_notes']:.1f}",
            "‖∂L/∂W1‖ ep. 1": f"{metrics[f'{s.id}/grad_w1_epoch1']:.3g}", "‖∂L/∂W2‖ ep. 1": f"{metrics[f'{s.id}/grad_w2_epoch1']:.3g}",
            "mean f'(u)": f"{metrics[f'{s.id}/slope_epoch1']:.3f}",
        })  # fmt: skip
    lin = np.array(logreg)
    rows.append({"setting": "logistic regression (scikit-learn)", f"train acc. @{n}": "—", f"test acc. @{n}": pct(lin), f"test acc. @{last}": pct(lin)})
    rows[-1].update({k: "—" for k in rows[0] if k not in rows[-1]})
    table = run.save_table("accuracy", rows, "Accuracy and gradients per setting, mean [range] over seeds")
    run.save_figure(_curves(cfg, settings, runs, lin), "curves", f"Accuracy and loss per epoch, each setting (mean over {len(seeds)} seeds; thin: test accuracy of each seed)")
    run.save_figure(_gradients(cfg, settings, runs), "gradients", "Gradient norms of the two weight matrices per epoch (mean over the epoch's steps and the seeds)")
    split = load_split(seeds[0], cfg.test_size)
    verdicts = "; ".join(f"{o.claim}: {'yes' if o.reproduced else 'no'}" for o in observations)
    summary = (
        f"{len(settings)} settings x {len(seeds)} seeds, each seed its own stratified split ({len(split.y_train)} train / "
        f"{len(split.y_test)} test flowers), SGD with batches of {cfg.batch}, {last} epochs; the notes' claims are judged after "
        f"the notebook's {n}. The notebook's MLP reaches {metrics['baseline/test_accuracy_notes']:.1%} test accuracy after {n} epochs"
        + (f" and {metrics['baseline/test_accuracy_final']:.1%} after {last}" if last > n else "")
        + f"; logistic regression on the same splits "
        f"{metrics['logreg/test_accuracy']:.1%}. Verdicts — {verdicts}."
    )
    sections = [
        ("Per setting", f"Test accuracy is mean [min–max] over seeds; a test set of {len(split.y_test)} flowers moves in steps of "
         f"{100 / len(split.y_test):.1f} points. Epochs to {cfg.threshold:.0%}: median over seeds of the first epoch whose training "
         f"accuracy (Keras' history) reaches it. Gradients: Frobenius norms, mean over the first epoch's steps; mean f'(u) is the "
         "activation's slope averaged over training flowers and hidden units after epoch 1.\n\n" + table),
    ]  # fmt: skip
    return Outcome(metrics, summary, sections, observations=observations)


def _median_reach(jobs: list[dict[str, list[float]]], threshold: float, last: int) -> str:
    m = float(np.median([epochs_to(j, threshold) for j in jobs]))
    return f"{m:g}" if m <= last else f"> {last}"


def _curves(cfg: IrisConfig, settings: list[Setting], runs: dict[str, list[dict[str, list[float]]]], logreg: np.ndarray) -> Any:
    fig, axes = figure(2, len(settings), width=3.6, height=3.0, sharex=True, sharey="row")
    axes = np.asarray(axes).reshape(2, -1)  # (rows, settings), also for one setting
    epochs = np.arange(1, cfg.epochs + 1)
    for col, s in enumerate(settings):
        jobs = runs[s.id]
        acc, loss = axes[0][col], axes[1][col]
        for j in jobs:
            acc.plot(epochs, j["test_accuracy"], color="C1", lw=0.6, alpha=0.25)
        acc.plot(epochs, np.mean([j["train_accuracy"] for j in jobs], axis=0), color="C0", label="train (Keras' history)")
        acc.plot(epochs, np.mean([j["test_accuracy"] for j in jobs], axis=0), color="C1", label="test")
        acc.axhline(logreg.mean(), color="k", ls="--", lw=0.8, label="logistic regression, test")
        loss.plot(epochs, np.mean([j["train_loss"] for j in jobs], axis=0), color="C0", label="train (Keras' history)")
        loss.plot(epochs, np.mean([j["test_loss"] for j in jobs], axis=0), color="C1", label="test")
        for ax in (acc, loss):
            ax.axvline(cfg.notes_epochs, color="grey", ls=":", lw=0.8)
            integer_ticks(ax)
        acc.set(title=s.label, ylim=(0, 1.02))
        loss.set(xlabel="epoch")
    axes[0][0].set_ylabel(f"accuracy (dotted: epoch {cfg.notes_epochs})")
    axes[1][0].set_ylabel("cross-entropy")
    axes[0][0].legend(fontsize=7, loc="lower right")
    return fig


def _gradients(cfg: IrisConfig, settings: list[Setting], runs: dict[str, list[dict[str, list[float]]]]) -> Any:
    fig, axes = figure(1, 2, width=4.6, height=3.4, sharey=True)
    epochs = np.arange(1, cfg.epochs + 1)
    curves = {(s.id, k): np.mean([j[k] for j in runs[s.id]], axis=0) for s in settings for k in ("grad_w1", "grad_w2")}
    scale = scale_for(np.concatenate(list(curves.values())))
    for ax, k, title in zip(axes, ("grad_w1", "grad_w2"), ("first layer, ‖∂L/∂W1‖", "output layer, ‖∂L/∂W2‖")):
        for i, s in enumerate(settings):
            ax.plot(epochs, curves[(s.id, k)], color=f"C{i}", label=s.label)
        ax.set(title=title, xlabel="epoch", yscale=scale)
        if scale == "linear":
            ax.set_ylim(bottom=0)
        integer_ticks(ax)
    axes[0].set_ylabel("gradient norm, mean over an epoch's steps")
    axes[1].legend(fontsize=8)
    return fig
