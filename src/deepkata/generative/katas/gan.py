"""Kata ``gan``: an MLP GAN and a DCGAN, each with the minimax and the non-saturating generator loss, measured by a judge.

The notes (Day 4, GAN and DCGAN) teach the two-player game and DCGAN's architecture
(:mod:`deepkata.generative.gan`). Pictures alone do not say whether a GAN works, so a judge is
trained first, in this run (:mod:`deepkata.generative.judge`): a small CNN classifier of the same
images. Its features give the classifier-FID of the samples against real images (lower is
better), its predictions the samples' class coverage (an even spread over the classes, or mode
collapse: a class the generator stopped drawing). Every epoch ends with both measured against the
validation images and a grid of samples of a fixed noise; the final samples are scored once
against the test images, beside three references: held-out real images (the floor a perfect
generator reaches with as many samples), a VAE's samples (the issue's bar: the DCGAN's FID must
be below it), and independent pixels (each pixel drawn from its own training histogram: no
structure at all).

The ``full`` preset runs on MNIST (``--data $DEEPKATA_DATA/mnist``); ``--data`` with
Fashion-MNIST's files (or ``dataset=fashion-mnist``) runs the same on clothes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from deepkata.core.config import ConfigError, KataConfig, param, require_distinct
from deepkata.core.engine import JobContext, JobSpec
from deepkata.core.plots import figure
from deepkata.core.registry import Expectation, Outcome, register_kata
from deepkata.core.runner import Run
from deepkata.core.trainer import TrainerJob
from deepkata.generative.gan import GAN, GanLoss
from deepkata.generative.images import Dataset, Intensities, load_intensities
from deepkata.generative.judge import Judge, judge_job, judge_splits
from deepkata.generative.measures import Coverage
from deepkata.generative.train import GanRecipe, GanTrainer, VaeRecipe, VaeTrainer
from deepkata.generative.vae import VAE
from deepkata.models import build_model, count_parameters, get_model

NETWORKS = ("gan-mlp", "dcgan")
LOSSES: tuple[GanLoss, ...] = ("nonsaturating", "minimax")
LABELS = {"gan-mlp": "MLP GAN", "dcgan": "DCGAN", "nonsaturating": "non-saturating", "minimax": "minimax"}


@dataclass(frozen=True, kw_only=True)
class GanKataConfig(KataConfig):
    dataset: Dataset = param("auto", "images: auto (--data's IDX files, else digits), digits, mnist or fashion-mnist")
    models: tuple[str, ...] = param(NETWORKS, "GANs of the registry (topic generative)")
    losses: tuple[GanLoss, ...] = param(LOSSES, "generator losses, each trained with every model")
    latent: int = param(32, "noise dimensions of z", ge=1, le=1024)
    width: int = param(32, "the networks' base width", ge=4, le=1024)
    train: GanRecipe = param(GanRecipe(epochs=60), "the GANs' training recipe")
    judge_epochs: int = param(30, "epochs of the judge (the classifier whose features and predictions score the samples)", gt=0)
    vae_epochs: int = param(100, "epochs of the MLP VAE whose samples are the FID bar (0: no VAE)", ge=0)
    validation: int = param(300, "training images held out: the per-epoch FID's reference and the judge's validation", gt=1)
    train_limit: int = param(0, "training images used (0: all)", ge=0)
    samples: int = param(1000, "samples scored at each epoch's end and at the end", ge=10)
    collapse_share: float = param(0.02, "a class drawn by fewer than this share of the final samples signals mode collapse", gt=0, lt=1)
    epochs_shown: int = param(6, "epochs in the report's evolution of the samples", ge=2, le=20)

    def validate(self) -> None:
        if not self.models or not self.losses:
            raise ConfigError("models, losses: name at least one of each")
        require_distinct("models", self.models)
        require_distinct("losses", self.losses)


@register_kata(
    name="gan",
    topic="generative",
    section="Day 4 · GAN and DCGAN: minimax game, non-saturating loss, transposed convolutions (note 003)",
    description="MLP GAN and DCGAN, minimax and non-saturating: D(x), D(G(z)), classifier-FID and class coverage per epoch against a VAE and real images",
    config=GanKataConfig,
    presets={
        "smoke": {"train.epochs": 2, "train_limit": 128, "validation": 40, "judge_epochs": 1, "vae_epochs": 1, "samples": 40, "latent": 4, "width": 8},
        "default": {},
        "full": {"dataset": "mnist", "validation": 5000, "latent": 64, "width": 64, "train.epochs": 10, "judge_epochs": 3, "vae_epochs": 30, "samples": 5000},
    },  # fmt: skip
    expectations=[
        Expectation("training stays finite (no divergence)", "gan/diverged", "<=", 0),
        Expectation("the judge classifies the test images (accuracy >= 0.9)", "judge/test_accuracy", ">=", 0.9, presets=("default", "full")),
        Expectation("the best DCGAN's samples are closer to real images than independent pixels' (lower FID)", "gan/dcgan_gain_over_pixels", ">=", 0.0, presets=("default", "full")),
        Expectation("the best DCGAN's FID is below the VAE's samples' (the issue's target)", "gan/dcgan_gain_over_vae", ">=", 0.0, presets=("default", "full")),
        Expectation("the best DCGAN draws every class in at least 5% of its samples (the issue's target)", "gan/dcgan_min_class_share", ">=", 0.05, presets=("default", "full")),
    ],
    data="scikit-learn's 8 x 8 digits (bundled); --data DIR: MNIST or Fashion-MNIST IDX files; full: MNIST",
    takes_data=True,
)
def run(cfg: GanKataConfig, run: Run) -> Outcome:
    for name in cfg.models:
        if get_model(name).topic != "generative" or name.startswith("vae"):
            raise ConfigError(f"models: {name!r} is not a GAN; use {', '.join(NETWORKS)}")
    images = load_intensities(cfg.dataset, run.data, validation=cfg.validation, seed=run.seed, train_limit=cfg.train_limit or None)
    classes = len(images.class_names)

    # 1. the judge (and the VAE whose samples set the bar), cached in this run's folder
    def make_reference(name: str, ctx: JobContext) -> Any:
        if name == "judge":
            return judge_job(judge_splits(images), cfg.judge_epochs, ctx)
        vae = build_model("vae-mlp", side=images.side, latent=cfg.latent)
        return TrainerJob(VaeTrainer(vae, VaeRecipe(epochs=cfg.vae_epochs), images.train, images.val_bits, ctx.device), ctx)  # type: ignore[arg-type]

    first = ["judge", *(["vae"] if cfg.vae_epochs else [])]
    refs = run.sweep([JobSpec(n, n) for n in first], make_reference, description="the judge and the VAE")
    judge = Judge.from_result(refs["judge"], images.side, classes, run.device)
    run.save_file("judge.pt", judge.save)  # the judge's weights stay with the run: Judge.load(RUN/judge.pt)
    val_stats, test_stats = judge.stats(images.val), judge.stats(images.test)

    # 2. the GANs, scored against the validation images at each epoch's end
    def build(name: str) -> GAN:
        if name == "dcgan" and images.side % 4:
            raise ConfigError(f"models: dcgan needs a side that is a multiple of 4; these images are {images.side} x {images.side}")
        return build_model(name, side=images.side, latent=cfg.latent, width=cfg.width)  # type: ignore[return-value]

    def make_gan(key: tuple[str, GanLoss], ctx: JobContext) -> TrainerJob:
        name, loss = key
        trainer = GanTrainer(build(name), replace(cfg.train, loss=loss), images.train, ctx.device, judge=judge, reference=val_stats, samples=cfg.samples, seed=ctx.seed)
        return TrainerJob(trainer, ctx)

    grid = [JobSpec(f"{m}/{loss}", (m, loss)) for m in cfg.models for loss in cfg.losses]
    done = run.sweep(grid, make_gan, description=f"{len(grid)} GANs")

    # 3. the final samples against the test images, once
    g = torch.Generator(device=run.device)
    metrics: dict[str, float | int | None] = {"judge/test_accuracy": refs["judge"]["test_accuracy"], "judge/train_minutes": refs["judge"]["seconds"] / 60}
    rows: list[dict[str, Any]] = []
    coverages: dict[str, Coverage] = {}
    finals: dict[str, torch.Tensor] = {}
    for spec in grid:
        key = spec.key
        gan = build(spec.params[0])
        gan.load_state_dict(done[key]["state"])
        gan = gan.to(run.device).eval()
        finals[key] = gan.sample(cfg.samples, generator=g.manual_seed(run.seed))
        fid, cov = judge.score(finals[key], test_stats)
        coverages[key] = cov
        h = done[key]["history"]
        collapsed = cov.min_share < cfg.collapse_share
        metrics |= {f"{key}/test_fid": fid, f"{key}/min_class_share": cov.min_share, f"{key}/coverage_entropy": cov.normalized_entropy,
                    f"{key}/missing_classes": len(cov.missing), f"{key}/mode_collapse": int(collapsed), f"{key}/val_fid": h["val_fid"][-1],
                    f"{key}/d_real": h["train_d_real"][-1], f"{key}/d_fake": h["train_d_fake"][-1], f"{key}/train_minutes": done[key]["seconds"] / 60,
                    f"{key}/params": count_parameters(gan)}  # fmt: skip
        rows.append(_row(_label(key), fid, cov, images, done[key]["seconds"] / 60,
                         f"{h['train_d_real'][-1]:.2f} / {h['train_d_fake'][-1]:.2f}", "yes" if collapsed else "no"))  # fmt: skip
    references = {"real": images.train[torch.randperm(len(images.train), generator=torch.Generator().manual_seed(run.seed), device="cpu")[: cfg.samples]],
                  "pixels": _independent_pixels(images, cfg.samples, run.seed)}  # fmt: skip
    if cfg.vae_epochs:
        vae: VAE = build_model("vae-mlp", side=images.side, latent=cfg.latent)  # type: ignore[assignment]
        vae.load_state_dict(refs["vae"]["state"])
        references["vae"] = vae.to(run.device).eval().sample(cfg.samples, generator=g.manual_seed(run.seed)).cpu()
    names = {"real": "real training images (the floor)", "vae": "MLP VAE samples (Bernoulli means)", "pixels": "independent pixels (baseline)"}
    for ref, x in references.items():
        fid, cov = judge.score(x, test_stats)
        coverages[ref] = cov
        metrics |= {f"{ref}/test_fid": fid, f"{ref}/min_class_share": cov.min_share, f"{ref}/coverage_entropy": cov.normalized_entropy}
        rows.append(_row(names[ref], fid, cov, images, refs["vae"]["seconds"] / 60 if ref == "vae" else 0.0, "—", "—"))

    # the best DCGAN (by its last validation FID) against the targets
    metrics["gan/diverged"] = sum(r["diverged"] is not None for r in done.values())
    dcgans = [s.key for s in grid if s.params[0] == "dcgan"]
    if dcgans:
        best = min(dcgans, key=lambda k: float(done[k]["history"]["val_fid"][-1]))
        metrics["gan/best_dcgan_fid"] = metrics[f"{best}/test_fid"]
        metrics["gan/dcgan_min_class_share"] = metrics[f"{best}/min_class_share"]
        metrics["gan/dcgan_gain_over_pixels"] = float(metrics["pixels/test_fid"]) - float(metrics[f"{best}/test_fid"])  # type: ignore[arg-type]
        if cfg.vae_epochs:
            metrics["gan/dcgan_gain_over_vae"] = float(metrics["vae/test_fid"]) - float(metrics[f"{best}/test_fid"])  # type: ignore[arg-type]

    table = run.save_table("gan", rows, f"{cfg.samples:,} samples of each generator scored by the judge against the {len(images.test):,} test images")
    run.save_figure(_curves(done, grid), "curves", "Per epoch: D(x) and D(G(z)) on the training batches, both players' losses, the FID against the validation images and the rarest class's share")
    run.save_figure(_finals(finals, grid), "samples", "The final samples of each generator (the first 64 of those scored)")
    run.save_figure(_coverage(coverages, images.class_names), "coverage", "The judge's predicted classes of each generator's final samples (a class far below 10% is mode collapse)")
    for spec in grid:
        _save_grids(run, spec.key, done[spec.key]["grids"])
    show = min(grid, key=lambda s: float(done[s.key]["history"]["val_fid"][-1])).key
    run.save_figure(_evolution(done[show], cfg.epochs_shown), "evolution", f"{_label(show)}: the samples of one fixed noise at the end of epochs along the training (every epoch's grid: grids/)")

    collapsed = [_label(s.key) for s in grid if metrics[f"{s.key}/mode_collapse"]]
    summary = (
        f"{len(grid)} GANs, {cfg.train.epochs} epochs each on {len(images.train):,} images ({images.source}), judged by a CNN with "
        f"{float(metrics['judge/test_accuracy']):.1%} test accuracy. Test classifier-FID: "
        + ", ".join(f"{_label(s.key)} {metrics[f'{s.key}/test_fid']:.2f}" for s in grid)
        + f"; real images {metrics['real/test_fid']:.2f}"
        + (f", VAE {metrics['vae/test_fid']:.2f}" if cfg.vae_epochs else "")
        + f", independent pixels {metrics['pixels/test_fid']:.2f}. "
        + (f"Mode collapse (a class below {cfg.collapse_share:.0%}): {', '.join(collapsed)}. " if collapsed else "No generator collapsed onto a few classes. ")
        + (_verdict(metrics, cfg.vae_epochs > 0) if dcgans else "")
    )
    return Outcome(metrics, summary, [("The generators", table)], timings={f"{s.key}/seconds": done[s.key]["seconds"] for s in grid}, data=images.source)


def _label(key: str) -> str:
    name, loss = key.split("/")
    return f"{LABELS[name]} ({LABELS[loss]})"


def _row(name: str, fid: float, cov: Coverage, images: Intensities, minutes: float, d: str, collapsed: str) -> dict[str, Any]:
    return {"generator": name, "test classifier-FID": f"{fid:.2f}", "class entropy / log C": f"{cov.normalized_entropy:.3f}",
            "rarest class": f"{images.class_names[int(np.argmin(cov.shares))]} ({cov.min_share:.1%})", "D(x) / D(G(z))": d,
            "mode collapse": collapsed, "training (min)": round(minutes, 2)}  # fmt: skip


def _verdict(metrics: dict[str, Any], vae: bool) -> str:
    fid, share = metrics["gan/best_dcgan_fid"], metrics["gan/dcgan_min_class_share"]
    parts = [f"Best DCGAN on validation: FID {fid:.2f}"]
    if vae:
        parts.append(("below" if metrics["gan/dcgan_gain_over_vae"] > 0 else "NOT below") + f" the VAE's {metrics['vae/test_fid']:.2f}")
    parts.append(f"rarest class {share:.1%} (" + ("every class at least 5%" if share >= 0.05 else "a class under the 5% target") + ").")
    return ", ".join(parts)


def _independent_pixels(images: Intensities, count: int, seed: int) -> torch.Tensor:
    """Each pixel drawn on its own from that pixel's values over the training images: (count, 1, S, S)."""
    g = torch.Generator().manual_seed(seed)
    flat = images.train.flatten(1)  # (N, S * S)
    pick = torch.randint(0, len(flat), (count, flat.shape[1]), generator=g, device="cpu")  # an independent source image per pixel
    return flat.gather(0, pick).view(count, *images.train.shape[1:])


def _curves(done: dict[str, Any], grid: list[JobSpec[Any]]) -> Any:
    fig, axes = figure(2, 2, width=5.2, height=3.4)
    for spec in grid:
        h, label = done[spec.key]["history"], _label(spec.key)
        line = axes[0][0].plot(h["epoch"], h["train_d_real"], label=f"{label}: D(x)")[0]
        axes[0][0].plot(h["epoch"], h["train_d_fake"], ls="--", color=line.get_color(), label=f"{label}: D(G(z))")
        axes[0][1].plot(h["epoch"], h["train_d_loss"], color=line.get_color(), label=f"{label}: L_D")
        axes[0][1].plot(h["epoch"], h["train_g_loss"], ls="--", color=line.get_color(), label=f"{label}: L_G")
        axes[1][0].plot(h["epoch"], h["val_fid"], color=line.get_color(), label=label)
        axes[1][1].plot(h["epoch"], h["min_class_share"], color=line.get_color(), label=label)
    axes[0][0].set(xlabel="epoch", ylabel="mean probability", title="D(x) (solid) and D(G(z)) (dashed)", ylim=(0, 1))
    axes[0][1].set(xlabel="epoch", ylabel="loss (nats)", title="L_D (solid) and L_G (dashed)")
    axes[1][0].set(xlabel="epoch", ylabel="classifier-FID", title="FID against the validation images", yscale="log")
    axes[1][1].axhline(0.05, color="grey", lw=0.8, ls=":")
    axes[1][1].set(xlabel="epoch", ylabel="share of the samples", title="The rarest class's share (dotted: 5%)")
    axes[0][0].legend(fontsize=6, ncol=2)
    axes[1][0].legend(fontsize=7)
    return fig


def _tile(images: torch.Tensor, cols: int) -> np.ndarray:
    """Images (N, 1, S, S) as one (rows (S + 1) - 1, cols (S + 1) - 1) array with 1-pixel gaps."""
    x = images[:, 0].float().cpu().numpy()
    if x.max() > 1:
        x = x / 255.0
    n, s = len(x), x.shape[-1]
    rows = -(-n // cols)
    out = np.ones((rows * (s + 1) - 1, cols * (s + 1) - 1))
    for i in range(n):
        r, c = divmod(i, cols)
        out[r * (s + 1) : r * (s + 1) + s, c * (s + 1) : c * (s + 1) + s] = x[i]
    return out


def _finals(finals: dict[str, torch.Tensor], grid: list[JobSpec[Any]]) -> Any:
    fig, axes = figure(1, len(grid), width=3.2, height=3.5)
    for ax, spec in zip(np.atleast_1d(axes), grid, strict=True):
        ax.imshow(_tile(finals[spec.key][:64], 8), cmap="gray", vmin=0, vmax=1)
        ax.set_title(_label(spec.key), fontsize=9)
        ax.axis("off")
    return fig


def _coverage(coverages: dict[str, Coverage], names: tuple[str, ...]) -> Any:
    fig, ax = figure(1, 1, width=8.0, height=3.6)
    keys = list(coverages)
    width = 0.8 / len(keys)
    for i, key in enumerate(keys):
        label = _label(key) if "/" in key else {"real": "real images", "vae": "VAE", "pixels": "independent pixels"}[key]
        ax.bar(np.arange(len(names)) + (i - (len(keys) - 1) / 2) * width, coverages[key].shares, width=width, label=label)
    ax.axhline(0.05, color="grey", lw=0.8, ls=":")
    ax.set_xticks(np.arange(len(names)), names, fontsize=8)
    ax.set(ylabel="share of the samples", title="Predicted class of the final samples (dotted: 5%)")
    ax.legend(fontsize=7, ncol=2)
    return fig


def _evolution(result: dict[str, Any], shown: int) -> Any:
    grids = result["grids"]
    epochs = sorted({round(e) for e in np.linspace(0, len(grids) - 1, min(shown, len(grids)))})
    fig, axes = figure(1, len(epochs), width=2.4, height=2.7)
    for ax, e in zip(np.atleast_1d(axes), epochs, strict=True):
        ax.imshow(_tile(grids[e][:16], 4), cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"epoch {e + 1}", fontsize=9)
        ax.axis("off")
    return fig


def _save_grids(run: Run, key: str, grids: list[torch.Tensor]) -> None:
    from matplotlib.image import imsave

    for epoch, images in enumerate(grids, start=1):

        def write(path: Any, images: torch.Tensor = images) -> None:
            buf = io.BytesIO()
            imsave(buf, _tile(images, 8), cmap="gray", vmin=0, vmax=1, format="png")
            path.write_bytes(buf.getvalue())

        run.save_file(f"grids/{key.replace('/', '-')}/epoch-{epoch:03d}.png", write)

