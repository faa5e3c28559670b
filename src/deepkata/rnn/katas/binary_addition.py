"""Kata ``binary-addition``: the curriculum's simple-RNN exercise, trained with exact BPTT.

One run trains one network (:mod:`deepkata.rnn.binary_addition`). The ``curriculum`` preset
runs the seven settings of the notes (../shared/curriculum/001, Day 3 exercise) with the same
seeds for every setting, compares iterations to converge with the notes' figures, and re-runs
the settings the notes report as blowing up with gradient clipping.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from deepkata.core.config import ConfigError, KataConfig, param
from deepkata.core.engine import JobContext, JobSpec
from deepkata.core.plots import figure, moving_average
from deepkata.core.registry import Expectation, Outcome, register_kata
from deepkata.core.report import markdown_table
from deepkata.core.runner import Run
from deepkata.rnn.binary_addition import Trainer, TrainSettings, evaluate, from_bits, make_batch
from deepkata.rnn.scratch.functional import ActivationName, InitName
from deepkata.rnn.scratch.simple_rnn import SimpleRNN


@dataclass(frozen=True, kw_only=True)
class BinaryAdditionConfig(TrainSettings, KataConfig):
    """One network's :class:`TrainSettings`, and how the kata watches, logs and sweeps it."""

    window: int = param(100, "samples whose accuracy must stay at 100% to count as converged", gt=0)
    spike: float = param(10.0, "a gradient norm above this counts as an exploding-gradient step", gt=0)
    log_every: int = param(100, "iterations between metrics.jsonl lines", gt=0)
    sweep: Literal["none", "curriculum"] = param("none", "none: one network; curriculum: the notes' seven settings")
    seeds: int = param(1, "seeds per setting in a sweep: seed, seed+1, ...", gt=0, le=1000)
    rescue_clip: float = param(5.0, "gradient-norm limit for re-running the notes' diverging settings", gt=0)

    def validate(self) -> None:
        if self.sweep == "curriculum":
            defaults = type(self).__dataclass_fields__
            fixed = [k for k in ("hidden", "lr", "activation", "init") if getattr(self, k) != defaults[k].default]
            if fixed:
                raise ConfigError(
                    f"{', '.join(fixed)}: fixed by each setting of the curriculum sweep; leave at the default "
                    "or use sweep=none"
                )
        elif self.seeds != 1:
            raise ConfigError("seeds: only a sweep runs several seeds; set sweep=curriculum or leave seeds=1")


@dataclass(frozen=True)
class Setting:
    id: str
    label: str
    activation: ActivationName
    init: InitName
    hidden: int
    lr: float
    notes: str  # what the notes report for it
    notes_iters: int | None  # the notes' iterations to converge, where they give one
    notes_fails: bool  # the notes report that its gradients blew up and it did not learn


# The notes' seven settings and what they report (001, Day 3 exercise and its 考察):
# id, label, activation, init, hidden, lr, observation, iterations, blew up
CURRICULUM = (
    Setting("1", "sigmoid, normal init", "sigmoid", "normal", 16, 0.1, "converges in ~6,000 iterations", 6000, False),
    Setting("2", "sigmoid, Xavier", "sigmoid", "xavier", 16, 0.1, "converges in ~4,000 iterations", 4000, False),
    Setting("3", "ReLU, He", "relu", "he", 16, 0.1, "gradients blow up, no learning", None, True),
    Setting("4", "tanh, He", "tanh", "he", 16, 0.1, "gradients blow up, no learning", None, True),
    Setting("5", "sigmoid, Xavier, hidden 32", "sigmoid", "xavier", 32, 0.1, "no figure given", None, False),
    Setting("6", "sigmoid, Xavier, lr 0.05", "sigmoid", "xavier", 16, 0.05, "no figure given", None, False),
    Setting("7", "sigmoid, Xavier, lr 0.2", "sigmoid", "xavier", 16, 0.2, "converges in ~3,000 iterations", 3000, False),
)
NOTES_TOLERANCE = 0.5  # a median within +-50% of the notes' figure agrees with it


def _settings(cfg: BinaryAdditionConfig, **per_job: Any) -> TrainSettings:
    """The library's settings: the fields ``cfg`` inherits, with what a sweep's job sets."""
    inherited = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(TrainSettings)}
    return TrainSettings(**{**inherited, **per_job})


# --- one training job ---------------------------------------------------------------------------


class AdditionJob:
    """One network trained to the end on the engine, in chunks of ``log_every`` iterations.

    Its result is ``label`` with :func:`_summarize`'s figures of merit; with ``trace`` also the per-sample
    loss, correctness and gradient norm and the final weights, for the single run's figure
    and examples.
    """

    def __init__(
        self, settings: TrainSettings, cfg: BinaryAdditionConfig, ctx: JobContext, *, trace: bool = False, label: dict[str, Any] | None = None
    ) -> None:
        self.trainer = Trainer(settings, ctx.seed)
        self.cfg, self.ctx, self.trace, self.label = cfg, ctx, trace, label or {}
        self.device = torch.device("cpu")  # NumPy
        self.total = settings.iterations

    @property
    def progress(self) -> int:
        return self.trainer.iteration

    @property
    def done(self) -> bool:
        return self.trainer.done

    def step(self) -> None:
        trainer, cfg = self.trainer, self.cfg
        start = trainer.iteration
        trainer.train(cfg.log_every - start % cfg.log_every)
        end = trainer.iteration
        recent = trainer.correct[max(0, end - cfg.window) : end]
        self.ctx.log(
            end,
            {
                "train/loss": float(np.nanmean(trainer.losses[start:end])),
                "train/acc": float(recent.mean()),
                "train/grad_norm": float(np.nanmean(trainer.grad_norms[start:end])),
            },
        )

    def state_dict(self) -> dict[str, Any]:
        return self.trainer.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.trainer.load_state_dict(state)

    def result(self) -> dict[str, Any]:
        summary = {**self.label, **_summarize(self.trainer, self.cfg)}
        if self.trace:
            t = self.trainer
            summary["trace"] = {"losses": t.losses.copy(), "correct": t.correct.copy(), "grad_norms": t.grad_norms.copy(),
                                "params": {k: v.copy() for k, v in t.model.params.items()}}  # fmt: skip
        return summary


def _summarize(trainer: Trainer, cfg: BinaryAdditionConfig) -> dict[str, Any]:
    """The job's figures of merit, and its loss curve as block means of ``log_every``."""
    n = trainer.iteration
    g = trainer.grad_norms[:n]
    first = trainer.losses[: min(cfg.window, n)]
    last = trainer.losses[max(0, n - cfg.window) : n]
    blocks = -(-n // cfg.log_every)
    padded = np.full(blocks * cfg.log_every, np.nan)
    padded[:n] = trainer.losses[:n]
    with np.errstate(invalid="ignore"):
        curve = np.nanmean(padded.reshape(blocks, cfg.log_every), axis=1)
    ev = evaluate(trainer.model, cfg.bits)
    return {
        "iterations": n,
        "converged_at": trainer.converged_at(cfg.window),
        "diverged_at": trainer.diverged_at,
        "accuracy": ev["accuracy"],
        "bit_accuracy": ev["bit_accuracy"],
        "eval_loss": ev["loss"],
        "dead_units": ev["dead_units"],
        "loss_first": float(np.nanmean(first)),
        "loss_last": float(np.nanmean(last)) if np.isfinite(last).any() else None,
        "grad_norm_max": float(np.nanmax(g)),
        "grad_norm_median": float(np.nanmedian(g)),
        "grad_spikes": int(np.sum(g > cfg.spike)),
        "loss_curve": curve,
    }


# --- the kata --------------------------------------------------------------------------------------


@register_kata(
    name="binary-addition",
    topic="rnn",
    section="Day 3 · simple RNN exercise",
    description="8-bit binary addition by a NumPy RNN trained with exact BPTT",
    config=BinaryAdditionConfig,
    presets={
        "smoke": {"iterations": 3000},
        "default": {},
        "curriculum": {"sweep": "curriculum", "seeds": 5},
        "full": {"sweep": "curriculum", "seeds": 20},
    },
    expectations=[
        Expectation("training loss falls", "train/loss_last", "<=", "train/loss_first", presets=("smoke", "default")),
        Expectation("bit accuracy over all pairs above chance (50%)", "eval/bit_accuracy", ">=", 0.5, presets=("smoke",)),
        Expectation("converges within the 10,000-iteration budget", "train/converged_at", "<=", 10_000, presets=("default",)),
        Expectation("every sum of two 7-bit numbers right after training", "eval/accuracy", ">=", 1.0, presets=("default",)),
        Expectation("converges near the notes' ~6,000 iterations", "train/converged_at", "~", 6000, tol=3000, presets=("default",)),
        Expectation("setting 1 (sigmoid, normal) converges for every seed", "setting1/converged_frac", ">=", 1.0, presets=("curriculum", "full")),
        Expectation("setting 1 converges near the notes' ~6,000 iterations", "setting1/iters_median", "~", 6000, tol=3000, presets=("curriculum", "full")),
        Expectation("doubling the learning rate (7) converges faster than setting 2, as in the notes", "setting7/iters_median", "<=", "setting2/iters_median", presets=("curriculum", "full")),
        Expectation("halving the learning rate (6) leaves most seeds unconverged at 10,000", "setting6/converged_frac", "<=", 0.4, presets=("curriculum", "full")),
        Expectation("ReLU + He fails in most seeds, as in the notes", "setting3/converged_frac", "<=", 0.4, presets=("curriculum", "full")),
        Expectation("gradient clipping rescues ReLU + He in most seeds", "setting3_clip/converged_frac", ">=", 0.6, presets=("curriculum", "full")),
        Expectation("tanh + He converges in most seeds, unlike the notes", "setting4/converged_frac", ">=", 0.8, presets=("curriculum", "full")),
    ],  # fmt: skip
    cpu_only=True,  # NumPy
)
def run(cfg: BinaryAdditionConfig, run: Run) -> Outcome:
    if cfg.sweep == "curriculum":
        return _run_curriculum(cfg, run)
    return _run_single(cfg, run)


def _run_single(cfg: BinaryAdditionConfig, run: Run) -> Outcome:
    grid = [JobSpec("binary-addition", _settings(cfg), tags={})]  # one network: its lines carry no tag
    job = run.sweep(grid, lambda settings, ctx: AdditionJob(settings, cfg, ctx, trace=True))["binary-addition"]
    metrics = {
        "train/iterations": job["iterations"],
        "train/converged_at": job["converged_at"],
        "train/diverged_at": job["diverged_at"],
        "train/loss_first": job["loss_first"],
        "train/loss_last": job["loss_last"],
        "train/grad_norm_max": job["grad_norm_max"],
        "train/grad_norm_median": job["grad_norm_median"],
        "train/grad_spikes": job["grad_spikes"],
        "eval/accuracy": job["accuracy"],
        "eval/bit_accuracy": job["bit_accuracy"],
        "eval/loss": job["eval_loss"],
        "eval/dead_units": job["dead_units"],
        "eval/chance_accuracy": 2.0**-cfg.bits,
    }
    run.save_figure(_training_figure(job, cfg), "training", "Per-sample loss, running accuracy and gradient norm")
    examples = _examples(job["trace"]["params"], cfg, np.random.default_rng(run.seed + 1))
    sections = [("Examples", "Eight random pairs after training, read least significant bit first by the network.\n\n" + examples)]
    return Outcome(metrics, _single_summary(job, cfg), sections)


def _single_summary(job: dict[str, Any], cfg: BinaryAdditionConfig) -> str:
    pairs = 4 ** (cfg.bits - 1)
    n = job["iterations"]
    lines = []
    if job["diverged_at"] is not None:
        lines.append(
            f"**Diverged at iteration {job['diverged_at']:,}**: the loss or a weight stopped being finite or passed "
            f"{cfg.blowup:g}. Training stopped there; the record up to that point is kept."
        )
    elif job["converged_at"] is not None:
        lines.append(
            f"**Converged at iteration {job['converged_at']:,}** of {n:,}: from there on, every sum in the "
            f"running window of {cfg.window} samples was right."
        )
    elif job["grad_spikes"]:
        lines.append(
            f"**Did not converge** within {n:,} iterations. The gradients exploded ({job['grad_spikes']} steps above "
            f"norm {cfg.spike:g}) but the weights stayed finite (|w| <= {cfg.blowup:g}): training stalled rather "
            "than diverged."
        )
    else:
        lines.append(f"**Did not converge** within {n:,} iterations and did not diverge (no NaN/inf, |w| <= {cfg.blowup:g}).")
    lines.append(
        f"On all {pairs:,} pairs of operands below {2 ** (cfg.bits - 1)} the network gets "
        f"{job['accuracy']:.1%} of sums and {job['bit_accuracy']:.1%} of bits right "
        f"(baseline: guessing gets {2.0**-cfg.bits:.2%} of sums and 50% of bits)."
    )
    ratio = job["grad_norm_max"] / max(job["grad_norm_median"], 1e-12)
    lines.append(
        f"Gradient norm: median {job['grad_norm_median']:.3g}, peak {job['grad_norm_max']:.3g} "
        f"({ratio:,.0f} times the median); {job['grad_spikes']} step(s) above the spike threshold {cfg.spike:g}"
        + (f", each clipped to {cfg.clip:g} before its update." if cfg.clip else ".")
    )
    if job["dead_units"]:
        lines.append(f"{job['dead_units']} of {cfg.hidden} hidden units are dead (zero for every input).")
    if cfg.output_grad == "course":
        lines.append("This run used the course notebook's derivative bug (`output_grad=course`) on purpose.")
    return " ".join(lines)


def _training_figure(job: dict[str, Any], cfg: BinaryAdditionConfig) -> Any:
    n, trace = job["iterations"], job["trace"]
    losses, correct, grad_norms = trace["losses"][:n], trace["correct"][:n], trace["grad_norms"][:n]
    it = np.arange(1, n + 1)
    fig, (ax_loss, ax_acc, ax_grad) = figure(1, 3, width=4.2, height=3.4)
    ax_loss.plot(it, losses, lw=0.3, alpha=0.35, color="tab:blue", label="per sample")
    ax_loss.plot(it, moving_average(losses, cfg.window), color="tab:blue", label=f"mean of {cfg.window}")
    ax_loss.set(xlabel="iteration", ylabel="loss  sum 1/2 (y - d)^2", yscale="log", title="loss")
    ax_loss.legend(fontsize=8)
    ax_acc.plot(it, moving_average(correct.astype(float), cfg.window), color="tab:green")
    converged = job["converged_at"]
    if converged is not None:
        ax_acc.axvline(converged, color="k", ls="--", lw=0.8, label=f"converged at {converged:,}")
        ax_acc.legend(fontsize=8)
    ax_acc.set(xlabel="iteration", ylabel=f"sums right, last {cfg.window}", ylim=(-0.02, 1.02), title="running accuracy")
    ax_grad.plot(it, grad_norms, lw=0.3, color="tab:red")
    ax_grad.axhline(cfg.spike, color="k", ls=":", lw=0.8, label=f"spike threshold {cfg.spike:g}")
    if cfg.clip:
        ax_grad.axhline(cfg.clip, color="tab:purple", ls="--", lw=0.8, label=f"clip {cfg.clip:g}")
    ax_grad.set(xlabel="iteration", ylabel="||dL/dW|| before clipping", yscale="log", title="gradient norm")
    ax_grad.legend(fontsize=8)
    return fig


def _examples(params: dict[str, np.ndarray], cfg: BinaryAdditionConfig, rng: np.random.Generator, n: int = 8) -> str:
    model = SimpleRNN(_settings(cfg).model_config(), params)
    half = 2 ** (cfg.bits - 1)
    a, b = rng.integers(0, half, size=(2, n))
    x, _ = make_batch(a, b, cfg.bits)
    with np.errstate(over="ignore", invalid="ignore"):
        v, _ = model.forward(x)
    pred = from_bits(v[..., 0] > 0)
    rows = [
        {"a": int(ai), "b": int(bi), "a + b": int(ai + bi), "network": int(p), "right": bool(p == ai + bi)}
        for ai, bi, p in zip(a, b, pred)
    ]
    return markdown_table(rows)


# --- the curriculum sweep ------------------------------------------------------------------------


def _run_curriculum(cfg: BinaryAdditionConfig, run: Run) -> Outcome:
    seeds = [run.seed + k for k in range(cfg.seeds)]

    def grid(settings: Sequence[Setting], clip: float) -> list[JobSpec[tuple[Setting, float]]]:
        return [JobSpec(f"{s.id}{'+clip' if clip else ''}/seed{seed}", (s, clip), seed=seed) for s in settings for seed in seeds]

    def make_job(params: tuple[Setting, float], ctx: JobContext) -> AdditionJob:
        s, clip = params
        settings = _settings(cfg, activation=s.activation, init=s.init, hidden=s.hidden, lr=s.lr, clip=clip)
        return AdditionJob(settings, cfg, ctx, label={"setting": s.id, "clip": clip, "seed": ctx.seed})

    jobs = run.sweep(grid(CURRICULUM, 0.0), make_job, description=f"curriculum: 7 settings x {len(seeds)} seeds")
    base = {s.id: [jobs[f"{s.id}/seed{seed}"] for seed in seeds] for s in CURRICULUM}
    # re-run with clipping what the notes report as blowing up, and anything that diverged here
    rescue = [s for s in CURRICULUM if s.notes_fails or any(j["diverged_at"] is not None for j in base[s.id])]
    if rescue:
        jobs |= run.sweep(grid(rescue, cfg.rescue_clip), make_job, description=f"re-run with clipping at {cfg.rescue_clip:g}")
    clipped = {s.id: [jobs[f"{s.id}+clip/seed{seed}"] for seed in seeds] for s in rescue}

    metrics: dict[str, Any] = {}
    for s in CURRICULUM:
        metrics.update(_setting_metrics(f"setting{s.id}", base[s.id], cfg))
    for s in rescue:
        metrics.update(_setting_metrics(f"setting{s.id}_clip", clipped[s.id], cfg))

    rows = [_setting_row(s, base[s.id], cfg) for s in CURRICULUM]
    table = run.save_table("curriculum", rows, "Iterations to converge per setting, against the notes")
    rescue_rows = [
        {**_setting_row(s, clipped[s.id], cfg), "without clipping": _converged_text(base[s.id])} for s in rescue
    ]
    for r in rescue_rows:
        for k in ("notes", "agrees with the notes"):
            r.pop(k)
    rescue_table = run.save_table("curriculum_clipping", rescue_rows, f"The same settings with gradient clipping at {cfg.rescue_clip:g}")
    every = [
        {"job": key, **{k: v for k, v in job.items() if k != "loss_curve"}} for key, job in sorted(jobs.items())
    ]
    run.save_table("curriculum_runs", every, "Every training run of the sweep")
    run.save_figure(_curriculum_figure(base, cfg), "curriculum_loss", "Smoothed loss of the seven settings (median over seeds)")
    if rescue:
        run.save_figure(_clipping_figure(rescue, base, clipped, cfg), "curriculum_clipping", "Diverging settings without and with clipping")
    sections = [
        ("Curriculum table", _table_preamble(cfg, seeds) + "\n\n" + table),
        (f"Re-run with gradient clipping (norm {cfg.rescue_clip:g})", rescue_table),
    ]
    return Outcome(metrics, _curriculum_summary(base, clipped, rescue, cfg, seeds), sections)


def _converged(jobs: Sequence[dict[str, Any]]) -> list[int]:
    return sorted(j["converged_at"] for j in jobs if j["converged_at"] is not None)


def _setting_metrics(prefix: str, jobs: Sequence[dict[str, Any]], cfg: BinaryAdditionConfig) -> dict[str, Any]:
    iters = _converged(jobs)
    return {
        f"{prefix}/converged_frac": len(iters) / len(jobs),
        f"{prefix}/iters_median": float(np.median(iters)) if iters else None,
        f"{prefix}/iters_min": iters[0] if iters else None,
        f"{prefix}/iters_max": iters[-1] if iters else None,
        f"{prefix}/diverged_frac": sum(j["diverged_at"] is not None for j in jobs) / len(jobs),
        f"{prefix}/accuracy_median": float(np.median([j["accuracy"] for j in jobs])),
        f"{prefix}/grad_spikes_median": float(np.median([j["grad_spikes"] for j in jobs])),
    }


def _converged_text(jobs: Sequence[dict[str, Any]]) -> str:
    iters = _converged(jobs)
    return f"{len(iters)}/{len(jobs)}"


def _iters_text(jobs: Sequence[dict[str, Any]]) -> str:
    iters = _converged(jobs)
    if not iters:
        return "did not converge"
    return f"{np.median(iters):,.0f} [{iters[0]:,}–{iters[-1]:,}]"


def _diverged_text(jobs: Sequence[dict[str, Any]]) -> str:
    hits = [f"seed {j['seed']} at {j['diverged_at']:,}" for j in jobs if j["diverged_at"] is not None]
    return "diverged: " + ", ".join(hits) if hits else "none"


def _agreement(s: Setting, jobs: Sequence[dict[str, Any]]) -> str:
    iters = _converged(jobs)
    if s.notes_iters is not None:
        if len(iters) * 2 < len(jobs):
            return "no: most seeds did not converge"
        median = float(np.median(iters))
        ok = abs(median - s.notes_iters) <= NOTES_TOLERANCE * s.notes_iters
        return ("yes" if ok else "no") + f" (median {median:,.0f} vs ~{s.notes_iters:,})"
    if s.notes_fails:
        if len(iters) * 2 >= len(jobs):
            return "no: it converges"
        diverged = sum(j["diverged_at"] is not None for j in jobs)
        return "yes: no learning" + (f", {diverged} diverged" if diverged else ", but no NaN/inf or weight blow-up")
    return "—"


def _setting_row(s: Setting, jobs: Sequence[dict[str, Any]], cfg: BinaryAdditionConfig) -> dict[str, Any]:
    acc = [j["accuracy"] for j in jobs]
    return {
        "setting": f"{s.id}. {s.label}",
        "converged": _converged_text(jobs),
        "iterations to converge, median [range]": _iters_text(jobs),
        "divergence": _diverged_text(jobs),
        "final accuracy, median [range]": f"{np.median(acc):.1%} [{min(acc):.1%}–{max(acc):.1%}]",
        f"steps with gradient norm > {cfg.spike:g}, median": float(np.median([j["grad_spikes"] for j in jobs])),
        "notes": s.notes,
        "agrees with the notes": _agreement(s, jobs),
    }


def _table_preamble(cfg: BinaryAdditionConfig, seeds: Sequence[int]) -> str:
    return (
        f"Each setting trained {cfg.iterations:,} iterations for seeds {seeds[0]}–{seeds[-1]} (the same seeds, "
        f"hence the same training pairs, for every setting). *Iterations to converge* is the first iteration "
        f"after which the running accuracy over the last {cfg.window} samples stays at 100%; *divergence* is a "
        f"non-finite loss or weight, or |w| > {cfg.blowup:g}. *Final accuracy* is over all "
        f"{4 ** (cfg.bits - 1):,} pairs. A figure agrees with the notes when the median is within "
        f"±{NOTES_TOLERANCE:.0%} of it. Gradients are exact (`output_grad={cfg.output_grad}`)."
    )


def _curriculum_summary(
    base: dict[str, list[dict[str, Any]]],
    clipped: dict[str, list[dict[str, Any]]],
    rescue: Sequence[Setting],
    cfg: BinaryAdditionConfig,
    seeds: Sequence[int],
) -> str:
    with_figure = [s for s in CURRICULUM if s.notes_iters is not None or s.notes_fails]
    agree = [s for s in with_figure if _agreement(s, base[s.id]).startswith("yes")]
    disagree = [s for s in with_figure if s not in agree]
    parts = [
        f"Seven settings × {len(seeds)} seeds, {cfg.iterations:,} iterations each, exact BPTT. "
        f"Of the {len(with_figure)} settings the notes describe, our runs agree on "
        f"{', '.join(s.id for s in agree) or 'none'} and disagree on {', '.join(s.id for s in disagree) or 'none'}."
    ]
    for s in disagree:
        parts.append(f"Setting {s.id} ({s.label}): notes say {s.notes}; ours converged in {_converged_text(base[s.id])} seeds, {_iters_text(base[s.id])}.")
    for s in rescue:
        parts.append(
            f"With clipping at {cfg.rescue_clip:g}, setting {s.id} ({s.label}) converged in "
            f"{_converged_text(clipped[s.id])} seeds (without: {_converged_text(base[s.id])})."
        )
    parts.append("Baseline: guessing gets 0.39% of sums right; every converged run gets 100% of all pairs.")
    return " ".join(parts)


def _curriculum_figure(base: dict[str, list[dict[str, Any]]], cfg: BinaryAdditionConfig) -> Any:
    fig, ax = figure(1, 1, width=8, height=4.8)
    for s in CURRICULUM:
        curves = np.array([j["loss_curve"] for j in base[s.id]], dtype=float)
        x = (np.arange(curves.shape[1]) + 1) * cfg.log_every
        with np.errstate(invalid="ignore"):
            median = np.nanmedian(curves, axis=0)
        ax.plot(x, moving_average(median, 5), label=f"{s.id}. {s.label}")
    ax.set(xlabel="iteration", ylabel=f"loss (mean of {cfg.log_every}, median over seeds)", yscale="log")
    ax.set_title("Binary addition: the notes' seven settings")
    ax.legend(fontsize=8)
    return fig


def _clipping_figure(
    rescue: Sequence[Setting],
    base: dict[str, list[dict[str, Any]]],
    clipped: dict[str, list[dict[str, Any]]],
    cfg: BinaryAdditionConfig,
) -> Any:
    fig, axes = figure(1, len(rescue), width=4.6, height=3.6)
    for ax, s in zip(np.atleast_1d(axes), rescue):
        for label, jobs, color in (("no clipping", base[s.id], "tab:red"), (f"clip {cfg.rescue_clip:g}", clipped[s.id], "tab:blue")):
            for k, j in enumerate(jobs):
                x = (np.arange(len(j["loss_curve"])) + 1) * cfg.log_every
                ax.plot(x, j["loss_curve"], color=color, lw=0.8, alpha=0.7, label=label if k == 0 else None)
        ax.set(xlabel="iteration", ylabel="loss", yscale="log", title=f"{s.id}. {s.label}")
        ax.legend(fontsize=8)
    return fig

