"""Kata ``segment``: FCN-8s, SegNet and a dilated-convolution net label every pixel of the shapes images.

The notes (Day 4, section 6) teach three ways back from a coarse feature map to a label per pixel:
FCN's learned up-sampling by transposed convolution with skip connections from finer layers,
SegNet's unpooling that puts each value back where its encoder's max-pool found it (the switch
indices), and dilated convolutions that never lose the resolution and still see far
(:mod:`deepkata.detection.segnets`, built on :mod:`deepkata.detection.upsampling`). Each is
trained alike on the semantic masks of the generated shapes (background, circle, square,
triangle) and scored on the test images by pixel accuracy and by IoU per class and its mean
(mIoU), against the baseline that calls every pixel background (high pixel accuracy, low mIoU:
why segmentation is scored by mIoU).

The ``full`` preset is the issue's target: mIoU ≥ 0.85 for the best of the three.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from deepkata.core.config import ConfigError, KataConfig, param, require_distinct
from deepkata.core.engine import JobContext, JobSpec
from deepkata.core.plots import figure
from deepkata.core.registry import Expectation, Outcome, register_kata
from deepkata.core.runner import Run
from deepkata.detection.metrics import segmentation_scores
from deepkata.detection.shapes import CLASSES, ShapesConfig, make_splits
from deepkata.detection.train import Segmenter, TrainerJob, TrainRecipe
from deepkata.models import build_model, count_parameters, get_model

NETWORKS = ("fcn-small", "segnet-small", "dilated-small")
LABELS = {"fcn-small": "FCN-8s", "segnet-small": "SegNet", "dilated-small": "dilated"}
NAMES = ("background", *CLASSES)


@dataclass(frozen=True, kw_only=True)
class SegmentConfig(KataConfig):
    models: tuple[str, ...] = param(NETWORKS, "segmentation models of the registry (topic detection)")
    train_images: int = param(1000, "generated training images", gt=0)
    val_images: int = param(200, "validation images (mIoU after each epoch)", gt=0)
    test_images: int = param(300, "test images, scored once at the end", gt=0)
    shapes: ShapesConfig = param(ShapesConfig(), "the generated images")
    train: TrainRecipe = param(TrainRecipe(epochs=10, batch=16, lr=3e-3), "the training recipe, the same for every network")
    seeds: int = param(1, "seeds per network", gt=0, le=10)
    show_images: int = param(4, "test images shown with each network's prediction", ge=0, le=16)

    def validate(self) -> None:
        require_distinct("models", self.models)


@register_kata(
    name="segment",
    topic="detection",
    section="Day 4 · semantic segmentation: FCN, SegNet unpooling, dilated convolution (notes 000–002, section 6)",
    description="FCN-8s (transposed convolutions and skips), SegNet (unpooling with switches) and a dilated net on the shapes masks: pixel accuracy, IoU per class, mIoU",
    config=SegmentConfig,
    presets={
        "smoke": {"train_images": 8, "val_images": 4, "test_images": 4, "train.epochs": 1, "train.batch": 4, "show_images": 2,
                  "shapes.size": 64, "shapes.min_side": 8, "shapes.max_side": 24},
        "default": {},
        "full": {"train_images": 3000, "val_images": 300, "test_images": 1000},
    },  # fmt: skip
    expectations=[
        Expectation("every network learns: mIoU above the all-background baseline's", "segment/min_miou_over_baseline", ">=", 0.0, presets=("default", "full")),
        Expectation("training stays finite (no divergence)", "segment/diverged", "<=", 0),
        Expectation("the best network's mIoU ≥ 0.85 (the issue's target)", "segment/best_miou", ">=", 0.85, presets=("full",)),
    ],
    data="generated shapes (circles, squares, triangles; deterministic by seed)",
)
def run(cfg: SegmentConfig, run: Run) -> Outcome:
    for name in cfg.models:
        if get_model(name).topic != "detection" or name.startswith("ssd"):
            raise ConfigError(f"models: {name!r} is not a segmentation model; use {', '.join(NETWORKS)}")
    splits = make_splits(run.seed, train=cfg.train_images, val=cfg.val_images, test=cfg.test_images, cfg=cfg.shapes)
    seeds = [run.seed + k for k in range(cfg.seeds)]
    classes = len(NAMES)

    def make_job(name: str, ctx: JobContext) -> TrainerJob:
        return TrainerJob(Segmenter(build_model(name, in_channels=3, classes=classes), cfg.train, splits.train, splits.val, ctx.device), ctx)

    grid = [JobSpec(f"{m}/seed{seed}", m, seed=seed) for m in cfg.models for seed in seeds]
    done = run.sweep(grid, make_job, description=f"{len(cfg.models)} networks x {len(seeds)} seeds")

    metrics: dict[str, float | int | None] = {}
    rows, predictions, timings = [], {}, {}
    for m in cfg.models:
        per_seed = []
        for seed in seeds:
            result = done[f"{m}/seed{seed}"]
            model = build_model(m, in_channels=3, classes=classes)
            model.load_state_dict(result["state"])
            segmenter = Segmenter(model, cfg.train, splits.train, splits.val, run.device)
            confusion = segmenter.confusion(splits.test)
            per_seed.append((segmentation_scores(confusion, classes), result))
            if seed == seeds[0]:
                predictions[m] = segmenter.predict(splits.test)[: cfg.show_images]
        miou = np.array([s.miou for s, _ in per_seed])
        iou = np.array([s.iou for s, _ in per_seed]).mean(axis=0)
        seconds = float(np.mean([r["seconds"] for _, r in per_seed]))
        metrics |= {f"{m}/miou": float(miou.mean()), f"{m}/pixel_accuracy": float(np.mean([s.pixel_accuracy for s, _ in per_seed]))}
        metrics |= {f"{m}/iou_{NAMES[c]}": float(iou[c]) for c in range(classes)}
        metrics |= {f"{m}/params": count_parameters(model), f"{m}/val_miou": float(np.mean([r["history"]["val_miou"][-1] for _, r in per_seed]))}
        timings[f"{m}/seconds"] = seconds
        metrics[f"{m}/train_minutes"] = seconds / 60
        rows.append({
            "network": LABELS.get(m, m), "model": m, "params": f"{count_parameters(model):,}", "training (min)": round(seconds / 60, 1),
            "pixel accuracy": f"{metrics[f'{m}/pixel_accuracy']:.2%}", **{f"IoU {NAMES[c]}": f"{iou[c]:.3f}" for c in range(classes)},
            "mIoU": f"{miou.mean():.3f}" + (f" ± {miou.std():.3f}" if len(miou) > 1 else ""),
        })  # fmt: skip
    # the baseline: every pixel background
    truth = splits.test.semantic.long().flatten()
    baseline = segmentation_scores(torch.bincount(truth * classes, minlength=classes * classes).reshape(classes, classes), classes)
    rows.append({"network": "all background", "model": "(baseline)", "params": "0", "training (min)": 0.0, "pixel accuracy": f"{baseline.pixel_accuracy:.2%}",
                 **{f"IoU {NAMES[c]}": f"{v:.3f}" if not np.isnan(v) else "—" for c, v in enumerate(baseline.iou)}, "mIoU": f"{baseline.miou:.3f}"})  # fmt: skip
    metrics |= {"baseline/miou": baseline.miou, "baseline/pixel_accuracy": baseline.pixel_accuracy}
    best = max(cfg.models, key=lambda m: metrics[f"{m}/val_miou"])  # chosen on validation
    metrics["segment/best_miou"] = metrics[f"{best}/miou"]
    metrics["segment/min_miou_over_baseline"] = min(float(metrics[f"{m}/miou"]) for m in cfg.models) - baseline.miou  # type: ignore[arg-type]
    metrics["segment/diverged"] = sum(r["diverged"] is not None for r in done.values())

    table = run.save_table("segment", rows, "Each network on the test images (mIoU: mean over background and the three shapes; ± sd over seeds)")
    run.save_figure(_curves(cfg, done, seeds), "curves", "Validation mIoU per epoch")
    if cfg.show_images:
        run.save_figure(_overlays(splits.test, predictions, cfg.show_images), "predictions", "Test images, their true masks and each network's prediction (circles red, squares green, triangles blue)")
    summary = (
        f"{len(cfg.models)} networks × {len(seeds)} seed(s), {cfg.train.epochs} epochs on {len(splits.train):,} generated images; "
        + " ".join(f"{LABELS.get(m, m)}: mIoU {metrics[f'{m}/miou']:.3f} ({timings[f'{m}/seconds'] / 60:.1f} min)." for m in cfg.models)
        + f" Calling every pixel background scores {baseline.pixel_accuracy:.1%} pixel accuracy but mIoU {baseline.miou:.3f}."
        + f" Best on validation: {LABELS.get(best, best)}, test mIoU {metrics['segment/best_miou']:.3f}"
        + (" (the issue's 0.85: met)." if float(metrics["segment/best_miou"]) >= 0.85 else " (the issue's 0.85: not met).")  # type: ignore[arg-type]
    )
    return Outcome(metrics, summary, [("The networks", table)], timings=timings, data=f"generated shapes, seed {run.seed}")


def _curves(cfg: SegmentConfig, done: dict[str, Any], seeds: list[int]) -> Any:
    fig, ax = figure(1, 1, width=6.0, height=4.0)
    for m in cfg.models:
        h = done[f"{m}/seed{seeds[0]}"]["history"]
        ax.plot(h["epoch"], h["val_miou"], marker=".", label=LABELS.get(m, m))
    ax.set(xlabel="epoch", ylabel="validation mIoU", title="Validation mIoU", ylim=(0, 1))
    ax.legend(fontsize=8)
    return fig


PALETTE = np.array([[0, 0, 0], [230, 25, 75], [60, 180, 75], [67, 99, 216]], dtype=np.uint8)  # background, circle, square, triangle


def _overlays(test: Any, predictions: dict[str, torch.Tensor], count: int) -> Any:
    cols = 2 + len(predictions)
    fig, axes = figure(count, cols, width=1.9, height=2.0)
    axes = np.atleast_2d(axes)
    for i in range(count):
        panels = [("image", test.images[i].permute(1, 2, 0).numpy()), ("truth", PALETTE[test.semantic[i].long().numpy()])]
        panels += [(LABELS.get(m, m), PALETTE[p[i].numpy()]) for m, p in predictions.items()]
        for ax, (title, picture) in zip(axes[i], panels, strict=True):
            ax.imshow(picture)
            ax.axis("off")
            if i == 0:
                ax.set_title(title, fontsize=8)
    return fig
