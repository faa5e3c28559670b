"""Kata ``wavenet``: WaveNet on spoken digits, scored in bits per sample against two baselines, generated two ways and judged.

The notes (Day 4, WaveNet) teach dilated causal convolutions, a receptive field that grows
exponentially with depth, a softmax over μ-law classes and gated residual and skip connections
(:mod:`deepkata.generative.wavenet`). The network is conditioned on the digit and the speaker.

- **Likelihood.** Test negative log-likelihood in bits per sample, on recordings never trained on
  (FSDD's convention: indices 0-4 of every training speaker) and on a speaker never trained on
  (conditioned as the unknown speaker), against the μ-law marginal (a histogram: no context) and
  a linear-predictive model (least squares on the previous samples, a Gaussian residual).
- **Generation** naive (the network rerun over the receptive field a sample) and with the fast
  algorithm's queues: the speed ratio for ``speed_seconds`` of audio, and whether they are equal.
- **Judged.** A spectrogram classifier trained in this run (:mod:`deepkata.generative.judge`)
  names the digit of each generated recording: does a generated "7" sound like a 7? The WAVs
  are in the run folder.

Recordings are peak-normalized to 0.9 before μ-law coding, and so are the generated ones before
the judge hears them (it was trained on the normalized real recordings). ``--data $DEEPKATA_DATA/fsdd`` runs on
the Free Spoken Digit Dataset (the ``full`` preset); the default runs on generated tones.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from deepkata.core.config import ConfigError, KataConfig, param
from deepkata.core.engine import JobContext, JobSpec
from deepkata.core.errors import UserError
from deepkata.core.metrics import confusion_matrix
from deepkata.core.plots import figure
from deepkata.core.registry import Expectation, Outcome, register_kata
from deepkata.core.runner import Run
from deepkata.core.trainer import TrainerJob
from deepkata.datasets.spoken_digits import RATE, Recording, SpokenDigits, load_fsdd, make_tones, write_wav
from deepkata.generative.judge import Judge, judge_job, log_spectrogram, standardized
from deepkata.generative.train import Waves, WaveNetRecipe, WaveNetTrainer, bits_per_sample
from deepkata.generative.wavenet import (
    WaveNet, WaveNetConfig, fit_linear_predictor, generate_cached, generate_naive, linear_predictive_bits, marginal_bits, mu_law_decode,
    mu_law_encode,
)  # fmt: skip
from deepkata.models import count_parameters

DIGITS = tuple(str(d) for d in range(10))


@dataclass(frozen=True, kw_only=True)
class WaveNetKataConfig(KataConfig):
    dataset: Literal["auto", "tones", "fsdd"] = param("auto", "recordings: auto (--data's FSDD, else tones), tones or fsdd")
    net: WaveNetConfig = param(WaveNetConfig(), "the network (digits and speakers are set from the data)")
    condition_on_speaker: bool = param(True, "condition on the speaker besides the digit")
    train: WaveNetRecipe = param(WaveNetRecipe(), "the training recipe")
    held_out_speaker: str = param("", "the speaker kept out of training for the speaker test (empty: the last by name; 'none': no speaker test)")
    test_below: int = param(5, "recordings of index below this are the test recordings (FSDD's convention: 0-4)", ge=1)
    val_below: int = param(10, "recordings of index from test_below to below this are the validation recordings", ge=2)
    tones_per_digit: int = param(20, "generated tones: recordings of each digit and speaker", ge=3)
    train_limit: int = param(0, "training recordings used (0: all)", ge=0)
    lpc_order: int = param(16, "previous samples of the linear-predictive baseline", ge=1, le=256)
    judge_epochs: int = param(20, "epochs of the spectrogram classifier that judges generated audio", gt=0)
    generate_per_digit: int = param(2, "recordings generated for each digit (and judged)", ge=1, le=50)
    generate_seconds: float = param(0.35, "length of each generated recording (seconds; the tones last 0.25-0.4 s)", gt=0, le=5)
    speed_seconds: float = param(0.25, "audio generated both ways to time them (seconds; batch 1; the issue's figure: 1.0)", gt=0, le=10)

    def validate(self) -> None:
        if self.val_below <= self.test_below:
            raise ConfigError(f"val_below ({self.val_below}) must exceed test_below ({self.test_below})")


@register_kata(
    name="wavenet",
    topic="generative",
    section="Day 4 · WaveNet: dilated causal convolutions, μ-law softmax, gated residual and skip connections (notes 000-002)",
    description="WaveNet on spoken digits: test bits/sample against the μ-law marginal and linear prediction; naive vs cached generation; generated digits judged",
    config=WaveNetKataConfig,
    presets={
        "smoke": {"tones_per_digit": 4, "test_below": 1, "val_below": 2, "net.layers": 3, "net.stacks": 1, "net.residual": 8, "net.skip": 8, "net.hidden": 8,
                  "train.epochs": 1, "train.window": 64, "judge_epochs": 1, "generate_per_digit": 1, "generate_seconds": 0.01, "speed_seconds": 0.01,
                  "lpc_order": 4},
        "default": {},
        "full": {"dataset": "fsdd", "net.residual": 32, "net.skip": 64, "net.hidden": 64, "net.layers": 9, "net.stacks": 2, "train.epochs": 8,
                 "train.window": 1000, "judge_epochs": 30, "generate_per_digit": 3, "generate_seconds": 0.6, "speed_seconds": 1.0},
    },  # fmt: skip
    expectations=[
        Expectation("training stays finite (no divergence)", "wavenet/diverged", "<=", 0),
        Expectation("cached generation equals naive generation", "speed/equal", ">=", 1),
        Expectation("WaveNet's test NLL is below the linear-predictive baseline's (the issue's target)", "wavenet/gain_over_lpc_bits", ">=", 0.0, presets=("default", "full")),
        # the ratio grows with the receptive field (naive: O(RF) a sample): full's 1,024 samples, not default's 512
        Expectation("cached generation is at least 10x faster than naive (the issue's target)", "speed/ratio", ">=", 10.0, presets=("full",)),
        Expectation("the judge names the digit of real test recordings (accuracy >= 0.8)", "judge/test_accuracy", ">=", 0.8, presets=("default", "full")),
    ],
    data="generated tones (5 speakers x 10 digits); --data DIR: the Free Spoken Digit Dataset (DIR/recordings/*.wav); full: $DEEPKATA_DATA/fsdd",
    takes_data=True,
)
def run(cfg: WaveNetKataConfig, run: Run) -> Outcome:
    audio = _peak_normalized(_load(cfg, run))
    held = _held_out(cfg, audio)
    trained_speakers = tuple(s for s in audio.speakers if s != held)
    speaker_id = {s: i + 1 for i, s in enumerate(trained_speakers)}  # 0: the unknown speaker
    splits: dict[str, list[Recording]] = {"train": [], "val": [], "test": [], "speaker": []}
    for r in audio.recordings:
        key = "speaker" if r.speaker == held else "test" if r.index < cfg.test_below else "val" if r.index < cfg.val_below else "train"
        splits[key].append(r)
    if cfg.train_limit:
        splits["train"] = splits["train"][:: max(1, len(splits["train"]) // cfg.train_limit)][: cfg.train_limit]
    for key in ("train", "val", "test"):
        if not splits[key]:
            raise UserError(f"{audio.source}: no {key} recordings with test_below={cfg.test_below}, val_below={cfg.val_below}")

    waves = {k: _waves(v, speaker_id, cfg.condition_on_speaker) for k, v in splits.items() if v}
    net_cfg = replace(cfg.net, digits=10, speakers=len(trained_speakers) + 1 if cfg.condition_on_speaker else 0)

    # the judge (a spectrogram classifier of the digits) and the WaveNet, cached in this run's folder
    images = {k: (log_spectrogram([torch.from_numpy(r.samples) for r in v]), torch.tensor([r.digit for r in v], device="cpu")) for k, v in splits.items() if k != "speaker"}
    judge_splits = standardized(images["train"], images["val"], images["test"], DIGITS)

    def make_job(name: str, ctx: JobContext) -> Any:
        if name == "judge":
            return judge_job(judge_splits, cfg.judge_epochs, ctx)
        trainer = WaveNetTrainer(WaveNet(net_cfg), cfg.train, waves["train"], waves["val"], ctx.device, speaker_dropout=0.1 if cfg.condition_on_speaker else 0.0)
        return TrainerJob(trainer, ctx)

    done = run.sweep([JobSpec("judge", "judge"), JobSpec("wavenet", "wavenet")], make_job, description="the judge and the WaveNet")
    net = WaveNet(net_cfg)
    net.load_state_dict(done["wavenet"]["state"])
    net = net.to(run.device).eval()
    judge = Judge.from_result(done["judge"], int(images["train"][0].shape[-1]), 10, run.device)
    run.save_file("judge.pt", judge.save)  # the judge's weights stay with the run: Judge.load(RUN/judge.pt)

    # likelihood against the baselines, on unseen recordings and on the unseen speaker
    coef, sigma = fit_linear_predictor(waves["train"].classes, cfg.lpc_order)
    metrics: dict[str, float | int | None] = {"wavenet/receptive_field": net.receptive_field, "wavenet/params": count_parameters(net),
                                              "wavenet/train_minutes": done["wavenet"]["seconds"] / 60, "judge/test_accuracy": done["judge"]["test_accuracy"]}  # fmt: skip
    rows = []
    for key, label in (("test", "test: unseen recordings"), ("speaker", f"test: unseen speaker ({held})")):
        if key not in waves:
            continue
        w = waves[key]
        figures = {"WaveNet": bits_per_sample(net, w, run.device), "linear prediction": linear_predictive_bits(coef, sigma, w.classes),
                   "μ-law marginal": marginal_bits(waves["train"].classes, w.classes)}  # fmt: skip
        for name, value in figures.items():
            metrics[f"{key}/{_slug(name)}_bits"] = value
        rows.append({"recordings": label, "count": len(w), "samples": f"{sum(len(q) for q in w.classes):,}", **{f"{k} (bits/sample)": f"{v:.3f}" for k, v in figures.items()}})
    metrics["wavenet/gain_over_lpc_bits"] = float(metrics["test/linear_prediction_bits"]) - float(metrics["test/wavenet_bits"])  # type: ignore[arg-type]
    metrics["wavenet/gain_over_marginal_bits"] = float(metrics["test/marginal_bits"]) - float(metrics["test/wavenet_bits"])  # type: ignore[arg-type]
    metrics["wavenet/diverged"] = int(done["wavenet"]["diverged"] is not None)

    # generation: the speed of the two ways, then recordings of every digit, judged
    speed = _speed(net, cfg.speed_seconds, run)
    metrics |= {f"speed/{k}": v for k, v in speed.items()}
    generated, digits = _generate(net, cfg, trained_speakers, speaker_id, run)
    predicted = judge.predict(log_spectrogram(list(generated)))
    metrics["generated/judge_accuracy"] = float((predicted == digits).float().mean())
    for i, (x, d, p) in enumerate(zip(generated, digits.tolist(), predicted.tolist(), strict=True)):
        run.save_file(f"wavs/generated-{i:02d}-digit{d}-judged{p}.wav", lambda path, x=x: write_wav(path, x.numpy()))

    table = run.save_table("nll", rows, "Negative log-likelihood of every sample of the held-out recordings, bits per sample (8 bits: a uniform guess over 256 classes)")
    gen_rows = [{"way": "naive (rerun over the receptive field)", "seconds": f"{speed['naive_seconds']:.2f}", "samples/s": f"{speed['naive_rate']:,.0f}"},
                {"way": "cached (queues)", "seconds": f"{speed['cached_seconds']:.2f}", "samples/s": f"{speed['cached_rate']:,.0f}"}]  # fmt: skip
    gen_table = run.save_table("generation", gen_rows, f"{cfg.speed_seconds:g} s of audio ({int(cfg.speed_seconds * RATE):,} samples), batch 1; equal samples: {'yes' if speed['equal'] else 'NO'}")
    run.save_figure(_curves(done["wavenet"], metrics), "curves", "Validation bits per sample after each epoch, with the test set's baselines")
    run.save_figure(_waveforms(splits["test"], generated, digits, predicted), "waveforms", "Real test recordings (left) and generated ones (right) of the same digits: waveforms and log-spectrograms; the judge's verdict in the title")
    run.save_figure(_confusion(digits, predicted), "judged", "The judge's digit for each generated recording (rows: the digit asked for)")

    summary = (
        f"WaveNet ({count_parameters(net):,} parameters, receptive field {net.receptive_field} samples = {net.receptive_field / RATE * 1000:.0f} ms) trained "
        f"{done['wavenet']['seconds'] / 60:.1f} min on {len(splits['train'])} recordings ({audio.source}). Test: {metrics['test/wavenet_bits']:.3f} bits/sample "
        f"against {metrics['test/linear_prediction_bits']:.3f} for linear prediction and {metrics['test/marginal_bits']:.3f} for the μ-law marginal"
        + (" (below both)." if float(metrics["wavenet/gain_over_lpc_bits"]) > 0 and float(metrics["wavenet/gain_over_marginal_bits"]) > 0 else " (NOT below both baselines).")  # type: ignore[arg-type]
        + (f" Unseen speaker: {metrics['speaker/wavenet_bits']:.3f} (linear prediction {metrics['speaker/linear_prediction_bits']:.3f})." if "speaker" in waves else "")
        + f" Cached generation {speed['ratio']:.1f}x faster than naive, samples {'identical' if speed['equal'] else 'DIFFERENT'}."
        + f" The judge ({float(metrics['judge/test_accuracy']):.1%} right on real test recordings)"
        + f" names the asked-for digit for {metrics['generated/judge_accuracy']:.0%} of {len(digits)} generated recordings (chance: 10%)."
    )
    return Outcome(metrics, summary, [("Likelihood", table), ("Generation", gen_table)], timings={"wavenet/seconds": done["wavenet"]["seconds"]}, data=audio.source)


def _slug(name: str) -> str:
    return {"WaveNet": "wavenet", "linear prediction": "linear_prediction", "μ-law marginal": "marginal"}[name]


def _load(cfg: WaveNetKataConfig, run: Run) -> SpokenDigits:
    if run.data is not None and cfg.dataset != "tones":
        return load_fsdd(run.data)
    if cfg.dataset == "fsdd":
        root = os.environ.get("DEEPKATA_DATA")
        if not root:
            raise UserError("dataset=fsdd: pass --data DIR (the FSDD folder) or set DEEPKATA_DATA to the folder that holds fsdd/")
        return load_fsdd(Path(root) / "fsdd")
    return make_tones(per_digit=cfg.tones_per_digit, seed=0)


def _held_out(cfg: WaveNetKataConfig, audio: SpokenDigits) -> str | None:
    if cfg.held_out_speaker == "none":
        return None
    held = cfg.held_out_speaker or audio.speakers[-1]
    if held not in audio.speakers:
        raise ConfigError(f"held_out_speaker: {held!r} is not one of {', '.join(audio.speakers)}")
    if len(audio.speakers) < 2:
        raise ConfigError("held_out_speaker: the data have one speaker; use 'none'")
    return held


def _peak(x: np.ndarray) -> np.ndarray:
    """x scaled to a peak of 0.9 (silence left alone)."""
    return (x * (0.9 / max(float(np.abs(x).max()), 1e-6))).astype(np.float32)


def _peak_normalized(audio: SpokenDigits) -> SpokenDigits:
    """Every recording at a peak of 0.9: what WaveNet models and what the judge hears, real or generated."""
    return SpokenDigits([replace(r, samples=_peak(r.samples)) for r in audio.recordings], audio.speakers, audio.source)


def _waves(recordings: list[Recording], speaker_id: dict[str, int], by_speaker: bool) -> Waves:
    classes = [mu_law_encode(torch.from_numpy(r.samples)) for r in recordings]
    speakers = torch.tensor([speaker_id.get(r.speaker, 0) if by_speaker else 0 for r in recordings], device="cpu")
    return Waves(classes, torch.tensor([r.digit for r in recordings], device="cpu"), speakers)


def _speed(net: WaveNet, seconds: float, run: Run) -> dict[str, float]:
    steps = max(2, int(seconds * RATE))
    u = torch.rand(1, steps, generator=torch.Generator().manual_seed(run.seed), device="cpu").to(run.device)
    digit = torch.tensor([7], device=run.device)
    speaker = torch.tensor([1 if net.speaker is not None else 0], device=run.device)
    out = {}
    for way, generate in (("cached", generate_cached), ("naive", generate_naive)):
        start = time.perf_counter()
        samples, _ = generate(net, u, digit, speaker if net.speaker is not None else None)
        out[way] = (time.perf_counter() - start, samples)
    equal = torch.equal(out["cached"][1], out["naive"][1])
    agree = float((out["cached"][1] == out["naive"][1]).float().mean())
    return {"naive_seconds": out["naive"][0], "cached_seconds": out["cached"][0], "ratio": out["naive"][0] / out["cached"][0],
            "naive_rate": steps / out["naive"][0], "cached_rate": steps / out["cached"][0], "equal": int(equal), "agreement": agree}  # fmt: skip


def _generate(net: WaveNet, cfg: WaveNetKataConfig, speakers: tuple[str, ...], speaker_id: dict[str, int], run: Run) -> tuple[torch.Tensor, torch.Tensor]:
    digits = torch.arange(10, device="cpu").repeat_interleave(cfg.generate_per_digit)
    voice = torch.tensor([speaker_id[speakers[i % len(speakers)]] for i in range(len(digits))], device="cpu")
    steps = max(2, int(cfg.generate_seconds * RATE))
    u = torch.rand(len(digits), steps, generator=torch.Generator().manual_seed(run.seed), device="cpu")
    samples, _ = generate_cached(net, u.to(run.device), digits.to(run.device), voice.to(run.device) if net.speaker is not None else None)
    return torch.stack([torch.from_numpy(_peak(x.numpy())) for x in mu_law_decode(samples.cpu())]), digits


def _curves(result: dict[str, Any], metrics: dict[str, Any]) -> Any:
    fig, ax = figure(1, 1, width=6.5, height=4.0)
    h = result["history"]
    ax.plot(h["epoch"], h["train_bits"], marker=".", label="WaveNet, training windows")
    ax.plot(h["epoch"], h["val_bits"], marker=".", label="WaveNet, validation recordings")
    ax.axhline(metrics["test/linear_prediction_bits"], color="C3", ls="--", label="linear prediction (test)")
    ax.axhline(metrics["test/marginal_bits"], color="grey", ls=":", label="μ-law marginal (test)")
    ax.set(xlabel="epoch", ylabel="bits per sample", title="Negative log-likelihood (lower is better)")
    ax.legend(fontsize=8)
    return fig


def _waveforms(real: list[Recording], generated: torch.Tensor, digits: torch.Tensor, predicted: torch.Tensor) -> Any:
    show = [d for d in (0, 3, 7) if d in digits.tolist()][:3]
    fig, axes = figure(2 * len(show), 2, width=4.6, height=1.6)
    axes = np.atleast_2d(axes)
    for r, d in enumerate(show):
        x_real = next(rec.samples for rec in real if rec.digit == d)
        i = int((digits == d).nonzero()[0])
        for c, (x, title) in enumerate(((x_real, f"real “{d}”"), (generated[i].numpy(), f"generated “{d}”, judged {int(predicted[i])}"))):
            t = np.arange(len(x)) / RATE
            axes[2 * r][c].plot(t, x, lw=0.5)
            axes[2 * r][c].set(title=title, xlabel="seconds", ylim=(-1, 1))
            spec = log_spectrogram([torch.as_tensor(x, device="cpu")], length=len(x), side=64)[0, 0].numpy()
            axes[2 * r + 1][c].imshow(spec, origin="lower", aspect="auto", extent=(0, len(x) / RATE, 0, RATE / 2))
            axes[2 * r + 1][c].set(xlabel="seconds", ylabel="Hz")
    return fig


def _confusion(digits: torch.Tensor, predicted: torch.Tensor) -> Any:
    matrix = confusion_matrix(digits, predicted, 10).numpy()
    fig, ax = figure(1, 1, width=4.6, height=4.0)
    ax.imshow(matrix, cmap="Blues")
    for (i, j), v in np.ndenumerate(matrix):
        if v:
            ax.text(j, i, str(v), ha="center", va="center", fontsize=8, color="white" if v > matrix.max() / 2 else "black")
    ax.set(xlabel="judged digit", ylabel="digit asked for", xticks=range(10), yticks=range(10), title="Generated digits, judged")
    return fig
