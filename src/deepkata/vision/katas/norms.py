"""Kata ``norms``: one small CNN with BatchNorm, LayerNorm, InstanceNorm, GroupNorm or none, at batch sizes 2 to 128.

What the notes say (000, "BatchNorm" and "LayerNorm"), and how each claim is read here:

- *BatchNorm normalizes each channel over the mini-batch; with small batches training may not
  converge and the effect fades, so LayerNorm and the like are used instead.* Read as: BN's test
  accuracy at batch 2 is below its own at the large batch, and below GroupNorm's at batch 2 (Wu and
  He, 2018, Figure 1, make the same comparison on ImageNet).
- *LayerNorm normalizes all H x W x C values of one sample: it does not depend on the mini-batch.*
  Read as: a network with LN (or GN, IN, none) gives the same outputs in training mode, where every
  batch normalizes itself, as in evaluation mode, to float rounding; BN's two modes differ, and its
  accuracy in the two modes differs most at small batches (its running statistics come from noisy
  batch statistics).
- *InstanceNorm normalizes each channel of each sample, which normalizes contrast (style transfer).*
  Read as: accuracy on test images whose contrast is scaled down (x ↦ a x + (1 - a) x̄, a drawn per image)
  falls less with IN than with BN.

The same network (:class:`~deepkata.vision.plain_cnn.PlainCNN`, the norm layers written in
:mod:`deepkata.vision.norms`) is trained for the same number of epochs at every batch size, with the
learning rate scaled linearly with the batch, η = η₃₂ · B / 32 (Goyal et al., 2017; as Wu and He).
Curves and choices are on the validation images; the test images are scored once per run.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from deepkata.core.config import ConfigError, KataConfig, param
from deepkata.core.engine import JobContext, JobSpec
from deepkata.core.plots import figure
from deepkata.core.registry import Expectation, Observation, Outcome, register_kata
from deepkata.core.runner import Run
from deepkata.vision.images import Dataset, Split, load, make_splits
from deepkata.vision.norms import NORM_KINDS
from deepkata.vision.plain_cnn import PlainCNN, PlainCNNConfig
from deepkata.vision.train import Classifier, ClassifierJob, TrainConfig

LABELS = {"batch": "BatchNorm", "layer": "LayerNorm", "instance": "InstanceNorm", "group": "GroupNorm", "none": "no norm"}


@dataclass(frozen=True, kw_only=True)
class NormsConfig(KataConfig):
    dataset: Dataset = param("auto", "images: auto (--data's IDX files, else digits), digits, fashion-mnist or mnist")
    norms: tuple[str, ...] = param(NORM_KINDS, "normalization layers to compare: batch, layer, instance, group, none")
    batches: tuple[int, ...] = param((2, 8, 32, 128), "batch sizes", gt=0)
    model: PlainCNNConfig = param(PlainCNNConfig(), "the network (its norm is set per run)")
    train: TrainConfig = param(TrainConfig(epochs=6, lr=0.05, warmup=0.0, crop=0, flip=False), "training; lr is the rate at batch base_batch")
    base_batch: int = param(32, "the batch size whose learning rate is train.lr; others scale linearly", gt=0)
    validation: float = param(0.1, "share of the training images held out for validation", gt=0, lt=1)
    train_limit: int | None = param(None, "use this many training images (stratified); none: all", gt=10)
    test_limit: int | None = param(None, "score this many test images (stratified); none: all", gt=10)
    contrast: float = param(0.3, "lowest contrast factor a of the contrast test (a ~ U(contrast, 1) per image)", gt=0, le=1)
    seeds: int = param(1, "seeds per setting", gt=0, le=10)

    def validate(self) -> None:
        wrong = [n for n in self.norms if n not in NORM_KINDS]
        if wrong:
            raise ConfigError(f"norms: {', '.join(map(repr, wrong))} not among {', '.join(NORM_KINDS)}")
        if len(set(self.norms)) != len(self.norms) or len(set(self.batches)) != len(self.batches):
            raise ConfigError("norms and batches must not repeat a value")

    def recipe(self, batch: int) -> TrainConfig:
        # η_B = η₃₂ · B / 32
        return dataclasses.replace(self.train, batch=batch, lr=self.train.lr * batch / self.base_batch)


@dataclass(frozen=True)
class Setting:
    norm: str
    batch: int

    @property
    def id(self) -> str:
        return f"{self.norm}/b{self.batch}"


def lower_contrast(x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """x ↦ a x + (1 - a) x̄ per image (x̄ its mean): the contrast scaled by a, the mean brightness kept."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)  # (B, 1, 1, 1)
    return a[:, None, None, None] * x + (1 - a[:, None, None, None]) * mean


def mode_gaps(t: Classifier, batch: int, contrast: float, seed: int) -> dict[str, Any]:
    """Validation accuracy in training mode (each batch of ``batch`` normalizes itself), the largest
    difference of logits between the two modes, and test accuracy at lowered contrast."""
    val, test, memory = t.splits.val, t.splits.test, t.memory
    g = torch.Generator().manual_seed(seed)
    a = contrast + (1 - contrast) * torch.rand(len(test), generator=g, device="cpu")  # (N,)
    dimmed = lower_contrast(test.x, a.to(test.x.device))
    low = int((t.predict(Split(dimmed, test.y)) == test.y).sum()) / len(test)
    batches = [x.contiguous(memory_format=memory) for x in val.x.split(batch)]
    with torch.no_grad():
        model = t.model.eval()
        eval_logits = torch.cat([model(x) for x in batches])  # (N, classes)
        model = copy.deepcopy(t.model).train()  # a copy: training mode moves BatchNorm's running statistics
        train_logits = torch.cat([model(x) for x in batches])
    return {
        "val_accuracy_train_mode": int((train_logits.argmax(1) == val.y).sum()) / len(val),
        "max_mode_logit_diff": float((train_logits - eval_logits).abs().max()),
        "low_contrast_accuracy": low,
    }


def _mean(runs: list[dict[str, Any]], key: str) -> float:
    return float(np.mean([r[key] for r in runs]))


def observations(cfg: NormsConfig, m: dict[str, float]) -> list[Observation]:
    """The notes' claims, judged from the metrics (see the module docstring)."""
    obs = []
    small, large = min(cfg.batches), max(cfg.batches)
    if "batch" in cfg.norms and small != large:
        bn_small, bn_large = m[f"batch/b{small}/test_accuracy"], m[f"batch/b{large}/test_accuracy"]
        gn = m.get(f"group/b{small}/test_accuracy")
        versus = f", GroupNorm at batch {small}: {gn:.2%}" if gn is not None else ""
        obs.append(Observation(
            "BatchNorm", "with small batches BatchNorm may not converge; its effect fades", "— (no figures)",
            f"BN's test accuracy at batch {small} below its own at batch {large}" + (f", and below GroupNorm's at batch {small}" if gn is not None else ""),
            f"BN at batch {small}: {bn_small:.2%}, at batch {large}: {bn_large:.2%}{versus}",
            bool(bn_small < bn_large and (gn is None or bn_small < gn)),
        ))  # fmt: skip
    independent = [n for n in cfg.norms if n != "batch"]
    if independent:
        worst = max(m[f"{n}/max_mode_logit_diff"] for n in independent)
        bn = f"; BN's up to {m['batch/max_mode_logit_diff']:.3g}" if "batch" in cfg.norms else ""
        obs.append(Observation(
            "LayerNorm", "LayerNorm does not depend on the mini-batch", "— (no figures)",
            "training-mode outputs (each batch normalizes itself) equal evaluation-mode outputs to float rounding (≤ 1e-4) for LN, GN, IN and none",
            f"largest logit difference over {', '.join(LABELS[n] for n in independent)}: {worst:.2g}{bn}",
            bool(worst <= 1e-4),
        ))  # fmt: skip
    if "batch" in cfg.norms:
        gaps = {b: m[f"batch/b{b}/mode_gap_points"] for b in cfg.batches}
        obs.append(Observation(
            "BatchNorm", "with small batches the batch statistics (and so the running ones) are unreliable", "— (no figures)",
            f"BN's |train-mode − eval-mode| validation accuracy gap is largest at batch {small}",
            ", ".join(f"batch {b}: {g:.1f} points" for b, g in gaps.items()),
            bool(gaps[small] >= max(gaps.values())),
        ))  # fmt: skip
    if "instance" in cfg.norms and "batch" in cfg.norms:
        drop = {n: m[f"{n}/contrast_drop_points"] for n in ("instance", "batch")}
        obs.append(Observation(
            "InstanceNorm", "InstanceNorm normalizes each image's contrast", "— (no figures)",
            f"at lowered contrast (a ~ U({cfg.contrast:g}, 1) per image) IN's test accuracy falls less than BN's (mean over batch sizes)",
            f"IN falls {drop['instance']:.1f} points, BN {drop['batch']:.1f}",
            bool(drop["instance"] < drop["batch"]),
        ))  # fmt: skip
    return obs


TINY = {"train_limit": 300, "test_limit": 200, "batches": (2, 32), "train.epochs": 1, "model.widths": (8, 16)}


@register_kata(
    name="norms",
    topic="vision",
    section="Day 4 · BatchNorm, LayerNorm, InstanceNorm (notes 000–003)",
    description="one small CNN with BN / LN / IN / GN / none at batch sizes 2–128: accuracy, curves, train/eval gaps",
    config=NormsConfig,
    presets={
        "smoke": TINY,
        "default": {},
        "full": {"dataset": "fashion-mnist", "train_limit": 12000, "train.epochs": 5},
    },
    expectations=[
        Expectation("LN, GN, IN and none: training-mode outputs equal evaluation-mode ones (≤ 1e-4)", "obs/max_independent_logit_diff", "<=", 1e-4),
        Expectation("every run stays finite (no divergence)", "runs/diverged", "<=", 0),
        Expectation("BatchNorm learns at every batch size (test accuracy ≥ 80%)", "bn/min_test_accuracy", ">=", 0.8, presets=("default", "full")),
        Expectation("BatchNorm's train/eval-mode gap is largest at the smallest batch", "obs/bn_gap_largest_at_small_batch", ">=", 1, presets=("default", "full")),
        Expectation("InstanceNorm loses less than BatchNorm at lowered contrast", "obs/in_minus_bn_contrast_drop_points", "<=", 0, presets=("default", "full")),
        # digits are too easy for BN's small-batch trouble to show (it reaches 99% at batch 2); Fashion-MNIST is not
        Expectation("GroupNorm at batch 2 beats BatchNorm at batch 2", "obs/gn_minus_bn_small_points", ">=", 0, presets=("full",)),
    ],
    data="scikit-learn's 8 x 8 digits upsampled to 28 x 28 (bundled); --data DIR: Fashion-MNIST or MNIST IDX files; full: Fashion-MNIST",
    takes_data=True,
    threads=1,  # many small batches: one thread is fastest
)
def run(cfg: NormsConfig, run: Run) -> Outcome:
    images, names = load(cfg.dataset, run.data)
    splits = make_splits(images, names, validation=cfg.validation, train_limit=cfg.train_limit, test_limit=cfg.test_limit, device=run.device)
    settings = [Setting(n, b) for n in cfg.norms for b in cfg.batches]
    seeds = [run.seed + k for k in range(cfg.seeds)]

    def make_job(s: Setting, ctx: JobContext) -> ClassifierJob:
        model = PlainCNN(dataclasses.replace(cfg.model, in_channels=1, classes=splits.classes, norm=s.norm))
        return ClassifierJob(model, cfg.recipe(s.batch), splits, ctx, extra=lambda t: mode_gaps(t, s.batch, cfg.contrast, ctx.seed))

    grid = [JobSpec(f"{s.id}/seed{seed}", s, seed=seed) for s in settings for seed in seeds]
    done = run.sweep(grid, make_job, description=f"{len(cfg.norms)} norms x {len(cfg.batches)} batch sizes x {len(seeds)} seeds")
    runs = {s.id: [done[f"{s.id}/seed{seed}"] for seed in seeds] for s in settings}
    metrics, rows, timings = summarize(cfg, settings, runs, len(splits.train))
    run.save_figure(_accuracy_vs_batch(cfg, runs), "accuracy", "Test accuracy against batch size, each normalization (evaluation mode)")
    run.save_figure(_curves(cfg, runs), "curves", "Validation accuracy per epoch at the smallest and the largest batch")
    table = run.save_table("runs", rows, "Each normalization at each batch size (mean over seeds)")
    small = min(cfg.batches)
    summary = (
        f"{len(settings)} runs × {len(seeds)} seed(s) on {splits.source} ({len(splits.train):,} training, {len(splits.val):,} validation, "
        f"{len(splits.test):,} test images), {cfg.train.epochs} epochs each. At batch {small}: "
        + ", ".join(f"{LABELS[n]} {metrics[f'{n}/b{small}/test_accuracy']:.1%}" for n in cfg.norms)
        + f"; at batch {max(cfg.batches)}: "
        + ", ".join(f"{LABELS[n]} {metrics[f'{n}/b{max(cfg.batches)}/test_accuracy']:.1%}" for n in cfg.norms)
        + "."
    )
    large = max(cfg.batches)
    sections = [("Every run", (
        "Accuracies in evaluation mode unless marked; *train-mode* normalizes each validation batch by itself. "
        f"Every batch size trains for the same {cfg.train.epochs} epochs, so a large batch makes few updates "
        f"({cfg.train.epochs * -(-len(splits.train) // large):,} at batch {large} here): a network that needs many updates "
        "falls behind there for want of them, not because of its batch statistics.\n\n" + table
    ))]  # fmt: skip
    return Outcome(metrics, summary, sections, timings=timings, data=splits.source, observations=observations(cfg, metrics))


def summarize(cfg: NormsConfig, settings: list[Setting], runs: dict[str, list[dict[str, Any]]], n_train: int) -> tuple[dict[str, float], list[dict[str, Any]], dict[str, float]]:
    metrics: dict[str, float] = {}
    rows, timings = [], {}
    for s in settings:
        r = runs[s.id]
        acc, val, val_train = _mean(r, "test_accuracy"), float(np.mean([j["history"]["val_accuracy"][-1] if j["history"]["val_accuracy"] else 0.0 for j in r])), _mean(r, "val_accuracy_train_mode")
        low = _mean(r, "low_contrast_accuracy")
        metrics |= {
            f"{s.id}/test_accuracy": acc, f"{s.id}/val_accuracy": val, f"{s.id}/val_accuracy_train_mode": val_train,
            f"{s.id}/mode_gap_points": 100 * abs(val_train - val), f"{s.id}/low_contrast_accuracy": low,
        }  # fmt: skip
        timings[f"{s.id}/seconds"] = _mean(r, "seconds")
        diverged = sum(j["diverged"] is not None for j in r)
        rows.append({
            "norm": LABELS[s.norm], "batch": s.batch, "lr": f"{cfg.recipe(s.batch).lr:g}", "updates": cfg.train.epochs * -(-n_train // s.batch),
            "test accuracy": f"{acc:.2%}",
            "validation": f"{val:.2%}", "validation, train-mode": f"{val_train:.2%}", "low contrast": f"{low:.2%}",
            "seconds": round(timings[f"{s.id}/seconds"], 1), "diverged": diverged,
        })  # fmt: skip
    for n in cfg.norms:
        metrics[f"{n}/max_mode_logit_diff"] = max(max(j["max_mode_logit_diff"] for j in runs[f"{n}/b{b}"]) for b in cfg.batches)
        metrics[f"{n}/contrast_drop_points"] = 100 * float(np.mean([metrics[f"{n}/b{b}/test_accuracy"] - metrics[f"{n}/b{b}/low_contrast_accuracy"] for b in cfg.batches]))
    independent = [n for n in cfg.norms if n != "batch"]
    metrics["obs/max_independent_logit_diff"] = max((metrics[f"{n}/max_mode_logit_diff"] for n in independent), default=0.0)
    metrics["runs/diverged"] = sum(j["diverged"] is not None for r in runs.values() for j in r)
    small = min(cfg.batches)
    if "batch" in cfg.norms:
        metrics["bn/min_test_accuracy"] = min(metrics[f"batch/b{b}/test_accuracy"] for b in cfg.batches)
        gaps = [metrics[f"batch/b{b}/mode_gap_points"] for b in cfg.batches]
        metrics["obs/bn_gap_largest_at_small_batch"] = int(metrics[f"batch/b{small}/mode_gap_points"] >= max(gaps))
        if "instance" in cfg.norms:
            metrics["obs/in_minus_bn_contrast_drop_points"] = metrics["instance/contrast_drop_points"] - metrics["batch/contrast_drop_points"]
        if "group" in cfg.norms:
            metrics["obs/gn_minus_bn_small_points"] = 100 * (metrics[f"group/b{small}/test_accuracy"] - metrics[f"batch/b{small}/test_accuracy"])
    return metrics, rows, timings


def _accuracy_vs_batch(cfg: NormsConfig, runs: dict[str, list[dict[str, Any]]]) -> Any:
    fig, ax = figure(1, 1, width=6.0, height=4.0)
    for n in cfg.norms:
        ax.plot(cfg.batches, [100 * _mean(runs[f"{n}/b{b}"], "test_accuracy") for b in cfg.batches], marker="o", label=LABELS[n])
    ax.set(xscale="log", xlabel="batch size", ylabel="test accuracy (%)", title="Normalization vs batch size")
    ax.set_xticks(cfg.batches, [str(b) for b in cfg.batches])
    ax.legend(fontsize=8)
    return fig


def _curves(cfg: NormsConfig, runs: dict[str, list[dict[str, Any]]]) -> Any:
    shown = sorted({min(cfg.batches), max(cfg.batches)})
    fig, axes = figure(1, len(shown), width=5.0, height=3.8)
    for ax, b in zip(np.atleast_1d(axes), shown):
        for n in cfg.norms:
            h = runs[f"{n}/b{b}"][0]["history"]
            if h["epoch"]:
                ax.plot(h["epoch"], [100 * np.mean(v) for v in zip(*[j["history"]["val_accuracy"] for j in runs[f"{n}/b{b}"]])], marker=".", label=LABELS[n])
        ax.set(xlabel="epoch", ylabel="validation accuracy (%)", title=f"batch {b}")
        ax.legend(fontsize=8)
    return fig
