"""Kata ``rnn-options``: the notes' Keras RNN exercise, in PyTorch, on binary addition.

The course notebook trains ``SimpleRNN(16, activation="relu", return_sequences=True)`` and
``Dense(1, activation="sigmoid")`` with mean squared error and ``SGD(lr=0.1)``, 5 epochs of
batches of 2 over 10,000 random pairs of 7-bit numbers (bits least significant first), and the
notes (../shared/curriculum/004, Keras演習 RNN) record what happens when one option changes.
Here the same network is the project's :class:`~deepkata.models.sequence.SequenceModel` with Keras'
initialization, every setting runs with the same seeds, and each observation of the notes is
turned into a check on the measured accuracies and reported as reproduced or not.

The notes read their conclusions off Keras' training history, whose ``accuracy`` for an epoch is
the fraction of output bits right averaged over that epoch's batches, each scored before its
update — so epoch 1 includes the untrained start. The observations are checked on that same
training accuracy; the accuracy on all 128 x 128 pairs after each epoch (bits and whole sums)
is reported beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from deepkata.core.config import ConfigError, KataConfig, param
from deepkata.core.engine import JobContext, JobSpec
from deepkata.core.plots import figure
from deepkata.core.registry import Expectation, Outcome, register_kata
from deepkata.core.report import fmt
from deepkata.core.runner import Run
from deepkata.models import build_model
from deepkata.rnn.binary_addition import all_pairs, make_batch


@dataclass(frozen=True)
class Setting:
    id: str
    label: str
    units: int
    activation: Literal["relu", "sigmoid", "tanh"]
    optimizer: Literal["sgd", "adam"]
    input_dropout: float
    notes: str  # the notes' observation, in English


# id, label, units, activation, optimizer, input dropout, what the notes observed
SETTINGS = (
    Setting("baseline", "16 units, ReLU, SGD 0.1", 16, "relu", "sgd", 0.0, "the notebook as given"),
    Setting("units128", "128 units", 128, "relu", "sgd", 0.0, "more expressive: accuracy high from the first epochs"),
    Setting("sigmoid", "sigmoid activation", 16, "sigmoid", "sgd", 0.0, "accuracy lower than with ReLU"),
    Setting("tanh", "tanh activation", 16, "tanh", "sgd", 0.0, "accuracy improves sharply from the 2nd epoch"),
    Setting("adam", "Adam", 16, "relu", "adam", 0.0, "accuracy rises from the early epochs"),
    Setting("dropout", "input dropout 0.5", 16, "relu", "sgd", 0.5, "no accuracy"),
)
SETTING_IDS = tuple(s.id for s in SETTINGS)


@dataclass(frozen=True, kw_only=True)
class RNNOptionsConfig(KataConfig):
    train_size: int = param(10_000, "random training pairs a, b < 128", gt=0)
    epochs: int = param(5, "passes over the training pairs", ge=2)
    batch: int = param(2, "pairs per SGD step", gt=0)
    sgd_lr: float = param(0.1, "learning rate of SGD", gt=0)
    adam_lr: float = param(0.001, "learning rate of Adam (Keras' default)", gt=0)
    seeds: int = param(3, "seeds per setting: seed, seed+1, ...", gt=0, le=100)
    settings: tuple[Literal["baseline", "units128", "sigmoid", "tanh", "adam", "dropout"], ...] = param(SETTING_IDS, "settings to run; observations need the baseline")

    def validate(self) -> None:
        if "baseline" not in self.settings:
            raise ConfigError("settings: the observations compare with the baseline; include it")


class OptionsJob:
    """One setting with one seed on the engine, an epoch a step: the notebook's training loop.

    The training pairs and the order of every epoch come from a NumPy generator seeded with the
    job's seed; the model is initialized (and input dropout drawn) from PyTorch's global
    generator, which the engine seeds and saves. The result is the history, one entry per epoch:
    Keras' training bit accuracy, bit and sum accuracy on all pairs, mean loss.
    """

    def __init__(self, setting: Setting, cfg: RNNOptionsConfig, ctx: JobContext) -> None:
        self.model = build_model(
            "recurrent", cell="rnn", input_size=2, hidden=setting.units, nonlinearity=setting.activation, output_size=1,
            readout="all", input_dropout=setting.input_dropout, init="keras",
        ).to(ctx.device)  # fmt: skip
        params = self.model.parameters()
        self.opt = torch.optim.SGD(params, lr=cfg.sgd_lr) if setting.optimizer == "sgd" else torch.optim.Adam(params, lr=cfg.adam_lr)
        self.rng = np.random.default_rng(ctx.seed)
        a, b = self.rng.integers(0, 128, size=(2, cfg.train_size))
        # (N, 8, 2) and (N, 8, 1): bits least significant first
        self.x, self.d = (torch.tensor(v, dtype=torch.float32, device=ctx.device) for v in make_batch(a, b, 8))
        self.all_x, self.all_d = (torch.tensor(v, dtype=torch.float32, device=ctx.device) for v in make_batch(*all_pairs(8), 8))
        self.history: dict[str, list[float]] = {"train_bit_accuracy": [], "bit_accuracy": [], "accuracy": [], "loss": []}
        self.cfg, self.ctx = cfg, ctx
        self.device = ctx.device
        self.total = cfg.epochs

    @property
    def progress(self) -> int:
        return len(self.history["loss"])

    @property
    def done(self) -> bool:
        return self.progress >= self.cfg.epochs

    def step(self) -> None:
        cfg, model, history = self.cfg, self.model, self.history
        model.train()
        order = torch.from_numpy(self.rng.permutation(cfg.train_size)).to(self.device)  # Keras shuffles every epoch
        losses, hits = [], []
        for start in range(0, cfg.train_size, cfg.batch):
            idx = order[start : start + cfg.batch]
            x, d = self.x[idx], self.d[idx]
            with self.ctx.autocast():
                out = model(x)[0].float()  # (B, 8, 1) logits
            # Dense(1, sigmoid) and Keras' mean_squared_error
            loss = torch.mean((torch.sigmoid(out) - d) ** 2)
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            losses.append(loss.item())
            hits.append(((out.detach() > 0) == (d > 0.5)).float().mean().item())  # Keras' batch accuracy
        model.eval()
        with torch.no_grad(), self.ctx.autocast():
            right = (model(self.all_x)[0] > 0) == (self.all_d > 0.5)  # (16384, 8, 1)
        history["train_bit_accuracy"].append(float(np.mean(hits)))
        history["bit_accuracy"].append(float(right.float().mean()))
        history["accuracy"].append(float(right.all(dim=1).float().mean()))
        history["loss"].append(float(np.mean(losses)))
        self.ctx.log(
            self.progress,
            {"train/loss": history["loss"][-1], "train/bit_accuracy": history["train_bit_accuracy"][-1],
             "test/bit_accuracy": history["bit_accuracy"][-1], "test/accuracy": history["accuracy"][-1]},
        )  # fmt: skip

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


# --- the notes' observations as checks ---------------------------------------------------------


def _median(jobs: list[dict[str, Any]], key: str, epoch: int) -> float:
    return float(np.median([j[key][epoch] for j in jobs]))


def _observations(runs: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Each observation of the notes: the check that formalizes it, and whether it held.

    Checked on Keras' training accuracy per epoch, the curves the notes looked at.
    """
    acc = "train_bit_accuracy"
    base = runs["baseline"]
    checks = []

    def add(setting: str, claim: str, rule: str, ok: bool, evidence: str) -> None:
        checks.append({"setting": setting, "notes": claim, "check": rule, "evidence": evidence, "reproduced": ok})

    if "units128" in runs:
        a, b = _median(runs["units128"], acc, 0), _median(base, acc, 0)
        add("units128", "accuracy high from the first epochs", "epoch-1 accuracy above the baseline's", a > b, f"{a:.1%} vs {b:.1%}")
    if "sigmoid" in runs:
        a, b = _median(runs["sigmoid"], acc, -1), _median(base, acc, -1)
        add("sigmoid", "accuracy lower than with ReLU", "final accuracy below the baseline's", a < b, f"{a:.1%} vs {b:.1%}")
    if "tanh" in runs:
        h = runs["tanh"]
        gains = [_median(h, acc, e) - _median(h, acc, e - 1) for e in range(1, len(h[0][acc]))]
        first, jump = _median(h, acc, 0), gains[0]
        ok = jump == max(gains) and jump >= 0.05
        add("tanh", "accuracy improves sharply from the 2nd epoch", "largest gain between epochs 1 and 2, at least 5 points", ok, f"epoch 1 {first:.1%}, gain to epoch 2 {jump:+.1%}, largest later gain {max(gains[1:], default=0):+.1%}")
    if "adam" in runs:
        a, b = _median(runs["adam"], acc, 0), _median(base, acc, 0)
        add("adam", "accuracy rises from the early epochs", "epoch-1 accuracy above the baseline's", a > b, f"{a:.1%} vs {b:.1%}")
    if "dropout" in runs:
        a, b = _median(runs["dropout"], acc, -1), _median(base, acc, -1)
        add("dropout", "no accuracy", "final accuracy at least 5 points below the baseline's", a <= b - 0.05, f"{a:.1%} vs {b:.1%}")
    return checks


# --- the kata --------------------------------------------------------------------------------------


@register_kata(
    name="rnn-options",
    topic="rnn",
    section="Day 3 · Keras exercise: RNN options",
    description="the notes' Keras RNN options (units, activation, optimizer, dropout) on binary addition, checked",
    config=RNNOptionsConfig,
    presets={
        "smoke": {"train_size": 600, "epochs": 2, "seeds": 1, "settings": ("baseline", "adam")},
        "default": {},
        "full": {"seeds": 10},
    },
    expectations=[
        Expectation("Adam learns within two short epochs (bit accuracy on all pairs above 75%)", "adam/bit_accuracy_final", ">=", 0.75, presets=("smoke",)),
        Expectation("the baseline learns: final bit accuracy above 90%", "baseline/bit_accuracy_final", ">=", 0.9, presets=("default", "full")),
        Expectation("at least four of the notes' five observations reproduce", "observations/reproduced", ">=", 4, presets=("default", "full")),
    ],
    threads=1,  # batches of 2 run fastest on one thread
    precisions=("fp32", "bf16"),
)
def run(cfg: RNNOptionsConfig, run: Run) -> Outcome:
    settings = [s for s in SETTINGS if s.id in cfg.settings]
    seeds = [run.seed + k for k in range(cfg.seeds)]
    grid = [JobSpec(f"{s.id}/seed{seed}", s, seed=seed) for s in settings for seed in seeds]
    done = run.sweep(grid, lambda s, ctx: OptionsJob(s, cfg, ctx), description=f"{len(settings)} settings x {len(seeds)} seeds")
    runs = {s.id: [done[f"{s.id}/seed{seed}"] for seed in seeds] for s in settings}
    return _outcome(cfg, run, settings, runs, seeds)


def _outcome(cfg: RNNOptionsConfig, run: Run, settings: list[Setting], runs: dict[str, list[dict[str, Any]]], seeds: list[int]) -> Outcome:
    metrics: dict[str, Any] = {}
    rows = []
    for s in settings:
        jobs = runs[s.id]
        metrics[f"{s.id}/train_bit_accuracy_epoch1"] = _median(jobs, "train_bit_accuracy", 0)
        metrics[f"{s.id}/train_bit_accuracy_final"] = _median(jobs, "train_bit_accuracy", -1)
        metrics[f"{s.id}/bit_accuracy_final"] = _median(jobs, "bit_accuracy", -1)
        metrics[f"{s.id}/accuracy_final"] = _median(jobs, "accuracy", -1)
        row: dict[str, Any] = {"setting": s.label}
        for e in range(cfg.epochs):
            row[f"epoch {e + 1}"] = f"{_median(jobs, 'train_bit_accuracy', e):.1%}"
        finals = [j["bit_accuracy"][-1] for j in jobs]
        row["all pairs after training: bits"] = f"{_median(jobs, 'bit_accuracy', -1):.1%} [{min(finals):.1%}–{max(finals):.1%}]"
        row["whole sums"] = f"{_median(jobs, 'accuracy', -1):.1%}"
        rows.append(row)
    table = run.save_table("accuracy", rows, "Training accuracy per epoch as Keras reports it, and accuracy on all pairs (medians over seeds)")
    checks = _observations(runs)
    metrics["observations/reproduced"] = sum(c["reproduced"] for c in checks)
    metrics["observations/checked"] = len(checks)
    obs_rows = [{**c, "reproduced": "yes" if c["reproduced"] else "no"} for c in checks]
    obs_table = run.save_table("observations", obs_rows, "The notes' observations, checked")
    run.save_figure(_figure(cfg, settings, runs), "accuracy", "Bit accuracy on all pairs after each epoch (median over seeds)")
    summary = (
        f"{len(settings)} settings × {len(seeds)} seeds, {cfg.epochs} epochs of batches of {cfg.batch} over "
        f"{cfg.train_size:,} pairs. {metrics['observations/reproduced']} of the notes' {len(checks)} observations "
        "reproduce: " + "; ".join(f"{c['setting']} {'yes' if c['reproduced'] else 'no'} ({c['evidence']})" for c in checks) + ". "
        f"On all pairs after training the baseline gets {fmt(metrics['baseline/bit_accuracy_final'] * 100)}% of bits and "
        f"{fmt(metrics['baseline/accuracy_final'] * 100)}% of whole sums right (chance: 50% and 0.39%). "
        "Not checked: the notes' recurrent dropout 0.3 (nn.RNN has none) and Keras' unroll=True (a graph option)."
    )
    sections = [
        ("The notes' observations", obs_table),
        ("Accuracy per epoch", "Epoch columns: Keras' training accuracy, the fraction of output bits right averaged over the "
         "epoch's batches before each update (the curves of the notes). Then the accuracy on all 16,384 pairs after "
         "the last epoch, bits [range over seeds] and whole sums. Medians over seeds.\n\n" + table),
    ]
    return Outcome(metrics, summary, sections)


def _figure(cfg: RNNOptionsConfig, settings: list[Setting], runs: dict[str, list[dict[str, Any]]]) -> Any:
    fig, axes = figure(1, 2, width=5.2, height=4.0, sharey=True)
    epochs = np.arange(1, cfg.epochs + 1)
    for ax, key, title in zip(axes, ("train_bit_accuracy", "bit_accuracy"), ("training accuracy (Keras' history)", "all 16,384 pairs, after each epoch")):
        for s in settings:
            ax.plot(epochs, [_median(runs[s.id], key, e) for e in range(cfg.epochs)], marker="o", label=s.label)
        ax.axhline(0.5, color="k", ls=":", lw=0.8, label="chance")
        ax.set(xlabel="epoch", ylim=(0.4, 1.01), xticks=epochs, title=title)
    axes[0].set_ylabel("fraction of output bits right")
    axes[1].legend(fontsize=8)
    return fig
