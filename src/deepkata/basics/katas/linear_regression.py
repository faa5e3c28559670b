"""Kata ``linear-regression``: the notes' TensorFlow linear-regression exercise, in PyTorch.

The course notebook (Study-AI's ``4_1_tensorflow_codes``, 線形回帰) draws ``n = 100`` points
``x ~ U[0, 1)``, ``d = 3 x + 2 + noise · N(0, 1)``, starts ``W`` and ``b`` at zero and runs
``iters_num = 300`` full-batch steps of ``GradientDescentOptimizer(0.1)`` on the mean squared
error. The notes (../shared/curriculum/004, 線形回帰演習) set the noise to 0, 1 and 3 and read
off (w, b) = (2.96, 2.01), (2.85, 1.90) and (3.76, 1.79): "the larger the noise, the further
the estimates from the truth", and "changes of the weight and bias seem not to affect
prediction accuracy".

Here every noise level runs with several seeds (a job per noise level and seed). Each job runs
the notebook's plain gradient descent, written by hand (:func:`~deepkata.basics.regression.gd_step`
on the gradient of :func:`~deepkata.basics.regression.mse_gradients`), beside
``torch.optim.SGD`` on autograd's gradients from the same start over the notebook's steps
(their largest gap is a metric), past the notebook's 300 steps to ``converge_steps``, and fits the same points by
least squares in closed form (``numpy.linalg.lstsq``) with the OLS standard errors and
t-intervals. The report gives both estimates with their intervals and their spread over seeds,
shows why noise 0 does not give exactly (3, 2) after 300 steps (gradient descent has not
converged: the slow direction of the quadratic loss shrinks by about 1.3% a step), and judges
each of the notes' observations. Float64 throughout, so that the gap to ``torch.optim`` and to
the closed form is rounding, not precision.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from deepkata.basics.regression import (
    design,
    excess_mse_uniform,
    gd_contraction,
    gd_step,
    least_squares,
    line_data,
    mse_gradients,
)
from deepkata.core.config import ConfigError, KataConfig, param
from deepkata.core.engine import JobContext, JobSpec
from deepkata.core.plots import figure
from deepkata.core.registry import Expectation, Observation, Outcome, register_kata
from deepkata.core.runner import Run

TRUTH = np.array([3.0, 2.0])  # the notebook's d = 3 x + 2
NOTES = {0.0: (2.96, 2.01), 1.0: (2.85, 1.90), 3.0: (3.76, 1.79)}  # the notes' (w, b) by noise level
EXERCISE = "Day 4 · TensorFlow: linear regression"


@dataclass(frozen=True, kw_only=True)
class LinearRegressionConfig(KataConfig):
    noises: tuple[float, ...] = param((0.0, 1.0, 3.0), "noise standard deviations σ (the notes' 0, 1 and 3)", ge=0, le=100)
    n: int = param(100, "points per data set (the notebook's n)", ge=3, le=100_000)
    lr: float = param(0.1, "gradient descent's learning rate (the notebook's 0.1; stable below 2 / the loss's top curvature, about 0.8)", gt=0, le=0.5)
    steps: int = param(300, "the notebook's gradient-descent steps (iters_num), where the estimates are read", gt=0, le=100_000)
    converge_steps: int = param(3000, "steps gradient descent continues to, to show where it converges", gt=0, le=100_000)
    seeds: int = param(50, "data sets per noise level: seed, seed + 1, ...", gt=1, le=1000)
    level: float = param(0.95, "confidence level of the OLS t-intervals", gt=0, lt=1)

    def validate(self) -> None:
        if self.converge_steps < self.steps:
            raise ConfigError(f"converge_steps ({self.converge_steps}) must be at least steps ({self.steps})")
        if len(set(self.noises)) != len(self.noises):
            raise ConfigError(f"noises: each level once, got {self.noises}")


def data_rng(seed: int, noise: float) -> np.random.Generator:
    """The generator of one data set: seeded with the job's seed and the noise level, so that each
    level draws its own points (as the notes' three runs did), not the same ones scaled."""
    return np.random.default_rng((seed, round(noise * 1_000_000)))


class LineJob:
    """One data set (noise level x seed): hand-written gradient descent beside ``torch.optim.SGD``.

    The data come from :func:`data_rng`. An engine step is
    ``CHUNK`` gradient steps; ``path`` holds (w, b) after each, row 0 the notebook's zeros.
    """

    CHUNK = 100

    def __init__(self, noise: float, cfg: LinearRegressionConfig, ctx: JobContext) -> None:
        self.cfg, self.ctx, self.device = cfg, ctx, ctx.device
        self.total = cfg.converge_steps
        self.x_np, self.d_np = line_data(data_rng(ctx.seed, noise), cfg.n, *TRUTH, noise)
        f64 = {"dtype": torch.float64, "device": ctx.device}
        self.x, self.d = torch.tensor(self.x_np, **f64), torch.tensor(self.d_np, **f64)  # (n,) each
        self.X = design(self.x)  # (n, 2)
        self.path = torch.zeros(cfg.converge_steps + 1, 2, **f64)  # (steps + 1, 2): w, b
        self.twin = torch.zeros(2, **f64, requires_grad=True)  # the same descent by torch.optim.SGD, cfg.steps long
        self.opt = torch.optim.SGD([self.twin], lr=cfg.lr)
        self.gap = torch.zeros((), **f64)  # largest |hand-written - torch.optim.SGD| so far
        self.progress = 0

    @property
    def done(self) -> bool:
        return self.progress >= self.total

    def step(self) -> None:
        theta = self.path[self.progress]  # (2,)
        for _ in range(min(self.CHUNK, self.total - self.progress)):
            theta = gd_step(theta, mse_gradients(theta, self.X, self.d), self.cfg.lr)
            self.progress += 1
            self.path[self.progress] = theta
            if self.progress <= self.cfg.steps:  # the twin follows the notebook's steps
                loss = torch.mean((self.twin[0] * self.x + self.twin[1] - self.d) ** 2)
                self.opt.zero_grad()
                loss.backward()
                self.opt.step()
                self.gap = torch.maximum(self.gap, (theta - self.twin.detach()).abs().max())
        w, b = theta.tolist()
        self.ctx.log(self.progress, {"train/loss": torch.mean((w * self.x + b - self.d) ** 2).item(), "train/w": w, "train/b": b})

    def state_dict(self) -> dict[str, Any]:
        return {"path": self.path, "twin": self.twin.detach(), "opt": self.opt.state_dict(), "gap": self.gap, "progress": self.progress}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.path.copy_(state["path"])
        with torch.no_grad():
            self.twin.copy_(state["twin"])
        self.opt.load_state_dict(state["opt"])
        self.gap.copy_(state["gap"])
        self.progress = state["progress"]

    def result(self) -> dict[str, Any]:
        fit = least_squares(self.x_np, self.d_np)
        return {
            "x": self.x_np, "d": self.d_np, "path": self.path.cpu().numpy(), "torch_gap": self.gap.item(),
            "contraction": gd_contraction(self.x_np, self.cfg.lr),
            "ols": fit.coef, "ols_se": fit.se, "ols_ci": fit.interval(self.cfg.level), "ols_sigma": fit.sigma,
        }  # fmt: skip


# --- the estimates over seeds -----------------------------------------------------------------


@dataclass(frozen=True)
class Level:
    """One noise level's estimates over its seeds (k seeds)."""

    noise: float
    gd: np.ndarray  # (k, 2): (w, b) after cfg.steps
    gd_end: np.ndarray  # (k, 2): after cfg.converge_steps
    ols: np.ndarray  # (k, 2)
    ols_se: np.ndarray  # (k, 2)
    ols_ci: np.ndarray  # (k, 2, 2): w/b, low/high
    paths: np.ndarray  # (k, converge_steps + 1, 2)
    contraction: np.ndarray  # (k,)
    jobs: list[dict[str, Any]]

    @classmethod
    def of(cls, noise: float, jobs: list[dict[str, Any]], steps: int) -> Level:
        paths = np.stack([j["path"] for j in jobs])
        return cls(
            noise, paths[:, steps], paths[:, -1], np.stack([j["ols"] for j in jobs]), np.stack([j["ols_se"] for j in jobs]),
            np.stack([j["ols_ci"] for j in jobs]), paths, np.array([j["contraction"] for j in jobs]), jobs,
        )  # fmt: skip

    def distance(self, est: np.ndarray) -> np.ndarray:
        """Each seed's distance from (3, 2)."""
        return np.linalg.norm(est - TRUTH, axis=-1)

    def excess(self) -> np.ndarray:
        """Each seed's extra mean-square error of the gradient-descent line on new data (x ~ U[0, 1))."""
        dw, db = (self.gd - TRUTH).T
        return np.array([excess_mse_uniform(a, b) for a, b in zip(dw, db)])

    def coverage(self) -> np.ndarray:
        """The fraction of seeds whose OLS t-interval holds the truth, for w and b: (2,)."""
        return np.mean((self.ols_ci[:, :, 0] <= TRUTH) & (TRUTH <= self.ols_ci[:, :, 1]), axis=0)


def key(noise: float) -> str:
    return f"noise{noise:g}"


def _pm(est: np.ndarray) -> str:
    """(w, b) as 'mean ± sd' over seeds."""
    m, s = est.mean(axis=0), est.std(axis=0, ddof=1)
    return f"w {m[0]:.3f} ± {s[0]:.3f}, b {m[1]:.3f} ± {s[1]:.3f}"


# --- the notes' observations -------------------------------------------------------------------


def observations(levels: list[Level], cfg: LinearRegressionConfig) -> tuple[list[Observation], dict[str, float]]:
    """Each observation of the notes as a rule on the estimates over seeds; the 0/1 metrics that encode them."""
    seeds = f"{len(levels[0].jobs)} seeds"
    obs: list[Observation] = []
    metrics: dict[str, float] = {}
    dist = [float(np.median(lv.distance(lv.gd))) for lv in levels]
    per_seed = np.stack([lv.distance(lv.gd) for lv in levels])  # (levels, k)
    in_order = float(np.mean(np.all(np.diff(per_seed, axis=0) > 0, axis=0)))
    ok = bool(np.all(np.diff(dist) > 0))
    metrics["obs/noise_order_holds"] = float(ok)
    notes_dist = ", ".join(f"σ={s:g}: {np.hypot(*(np.array(NOTES[s]) - TRUTH)):.2f}" for s in sorted(NOTES))
    obs.append(Observation(
        EXERCISE, "the larger the noise, the further the estimates from the truth",
        f"distance of (w, b) from (3, 2) — {notes_dist}",
        f"the median distance from (3, 2) over seeds, after the notebook's {cfg.steps} steps, grows with σ",
        "median distance " + ", ".join(f"σ={lv.noise:g}: {d:.3f}" for lv, d in zip(levels, dist))
        + f" ({seeds}); in that order on {in_order:.0%} of seeds one by one",
        ok,
    ))  # fmt: skip

    parts, oks = [], []
    for lv in levels:
        extra = float(np.median(lv.excess()))
        if lv.noise == 0:
            oks.append(np.sqrt(extra) <= 0.03)
            parts.append(f"σ=0: extra RMSE {np.sqrt(extra):.4f}")
        else:
            oks.append(extra <= 0.05 * lv.noise**2)
            parts.append(f"σ={lv.noise:g}: +{extra / lv.noise**2:.1%} of σ²")
    ok = bool(all(oks))
    metrics["obs/prediction_unaffected"] = float(ok)
    obs.append(Observation(
        EXERCISE, "changes of the weight and bias seem not to affect prediction accuracy", "— (plots only)",
        "the fitted line predicts new points almost as well as the true line: its extra mean-square error over "
        "the noise σ² (exact for x ~ U[0, 1)) is under 5% of σ², or its extra RMSE under 0.03 (1% of the targets' range) at σ = 0; medians over seeds",
        "; ".join(parts) + f" ({seeds}), while the distance of (w, b) from the truth grows {dist[-1] / max(dist[0], 1e-12):.0f}-fold",
        ok,
    ))  # fmt: skip

    by_noise = {lv.noise: lv for lv in levels}
    if 0.0 in by_noise:
        lv = by_noise[0.0]
        med = np.median(lv.gd, axis=0)
        near = bool(np.all(np.abs(med - NOTES[0.0]) <= 0.02))
        ols_d, end_d = float(np.max(lv.distance(lv.ols))), float(np.max(lv.distance(lv.gd_end)))
        ok = near and ols_d <= 1e-9 and end_d <= 1e-6
        metrics["obs/noise0_is_convergence"] = float(ok)
        rate = float(np.median(lv.contraction))
        obs.append(Observation(
            EXERCISE, "noise 0 gives (2.96, 2.01), not (3, 2)", "(2.96, 2.01)",
            f"gradient descent after {cfg.steps} steps within 0.02 of (2.96, 2.01) (median), while least squares gives "
            f"(3, 2) within 1e-9 and gradient descent reaches it within 1e-6 by step {cfg.converge_steps}: unfinished convergence, not noise",
            f"after {cfg.steps} steps ({med[0]:.3f}, {med[1]:.3f}); distance ×{rate:.4f} a step (slowest direction, "
            f"{rate ** cfg.steps:.1e} after {cfg.steps}); lstsq off by ≤ {ols_d:.0e}; step {cfg.converge_steps} off by ≤ {end_d:.0e} ({seeds})",
            ok,
        ))  # fmt: skip

    for noise in (1.0, 3.0):
        if noise not in by_noise:
            continue
        lv = by_noise[noise]
        sd = lv.gd.std(axis=0, ddof=1)
        with np.errstate(divide="ignore"):  # no spread over seeds: any error is infinitely many sd
            z = np.abs(np.array(NOTES[noise]) - TRUTH) / sd
        ok = bool(np.all(z <= 2))
        metrics[f"obs/notes_{key(noise)}_within_2sd"] = float(ok)
        obs.append(Observation(
            EXERCISE, f"noise {noise:g} gives ({NOTES[noise][0]:.2f}, {NOTES[noise][1]:.2f})", f"({NOTES[noise][0]:.2f}, {NOTES[noise][1]:.2f})",
            "the notes' estimate lies within 2 standard deviations (of our seeds' estimates) of the truth in w and in b: its error is what this noise does to 100 points",
            f"{_pm(lv.gd)} ({seeds}); the notes' estimate is {z[0]:.1f} sd off in w, {z[1]:.1f} sd in b",
            ok,
        ))  # fmt: skip
    return obs, metrics


# --- the kata ------------------------------------------------------------------------------------


@register_kata(
    name="linear-regression",
    topic="basics",
    section="Day 4 · TensorFlow exercise: linear regression",
    description="y = 3x + 2 with noise 0, 1, 3: hand-written gradient descent vs least squares, intervals over seeds, the notes' observations checked",
    config=LinearRegressionConfig,
    presets={"smoke": {"seeds": 3, "converge_steps": 1500}, "default": {}, "full": {"seeds": 200, "converge_steps": 5000}},
    expectations=[
        Expectation("hand-written gradient descent equals torch.optim.SGD (float64)", "gd/torch_sgd_max_gap", "<=", 1e-12),
        Expectation("least squares gives (3, 2) at noise 0", "noise0/ols_distance_max", "<=", 1e-9),
        Expectation("gradient descent reaches (3, 2) at noise 0 by converge_steps", "noise0/gd_end_distance_max", "<=", 1e-6),
        Expectation("noise 0, the notebook's 300 steps: w as the notes' 2.96", "noise0/gd_w", "~", 2.96, tol=0.02),
        Expectation("noise 0, the notebook's 300 steps: b as the notes' 2.01", "noise0/gd_b", "~", 2.01, tol=0.02),
        Expectation("the larger the noise, the further the estimates (medians)", "obs/noise_order_holds", ">=", 1),
        Expectation("the fitted lines predict as well as the truth, within 5% of σ²", "obs/prediction_unaffected", ">=", 1, presets=("default", "full")),
        Expectation("the notes' noise-1 estimate is within 2 sd of the truth", "obs/notes_noise1_within_2sd", ">=", 1, presets=("default", "full")),
        Expectation("the notes' noise-3 estimate is within 2 sd of the truth", "obs/notes_noise3_within_2sd", ">=", 1, presets=("default", "full")),
        Expectation("95% OLS t-intervals hold the true w at noise 3 on at least 80% of seeds", "noise3/ols_coverage_w", ">=", 0.8, presets=("default", "full")),
        Expectation("all five observations reproduce", "observations/reproduced", ">=", 5, presets=("default", "full")),
    ],
)
def run(cfg: LinearRegressionConfig, run: Run) -> Outcome:
    noises = sorted(cfg.noises)
    seeds = [run.seed + k for k in range(cfg.seeds)]
    grid = [JobSpec(f"{key(s)}/seed{seed}", s, seed=seed) for s in noises for seed in seeds]
    done = run.sweep(grid, lambda s, ctx: LineJob(s, cfg, ctx), description=f"{len(noises)} noise levels x {len(seeds)} seeds")
    levels = [Level.of(s, [done[f"{key(s)}/seed{seed}"] for seed in seeds], cfg.steps) for s in noises]
    obs, obs_metrics = observations(levels, cfg)

    metrics: dict[str, Any] = {"gd/torch_sgd_max_gap": max(j["torch_gap"] for lv in levels for j in lv.jobs), **obs_metrics}
    rows, conv_rows = [], []
    checkpoints = sorted({0, 10, 100, cfg.steps, 1000, cfg.converge_steps} & set(range(cfg.converge_steps + 1)))
    for lv in levels:
        k = key(lv.noise)
        gd_med, ols_med = np.median(lv.gd, axis=0), np.median(lv.ols, axis=0)
        cover = lv.coverage()
        metrics.update({
            f"{k}/gd_w": gd_med[0], f"{k}/gd_b": gd_med[1], f"{k}/gd_distance": float(np.median(lv.distance(lv.gd))),
            f"{k}/gd_w_sd": float(lv.gd[:, 0].std(ddof=1)), f"{k}/gd_b_sd": float(lv.gd[:, 1].std(ddof=1)),
            f"{k}/ols_w": ols_med[0], f"{k}/ols_b": ols_med[1], f"{k}/ols_distance": float(np.median(lv.distance(lv.ols))),
            f"{k}/ols_distance_max": float(np.max(lv.distance(lv.ols))),
            f"{k}/gd_to_ols": float(np.median(np.linalg.norm(lv.gd - lv.ols, axis=1))),
            f"{k}/gd_end_distance_max": float(np.max(lv.distance(lv.gd_end))),
            f"{k}/gd_end_to_ols_max": float(np.max(np.linalg.norm(lv.gd_end - lv.ols, axis=1))),
            f"{k}/ols_se_w": float(np.median(lv.ols_se[:, 0])), f"{k}/ols_se_b": float(np.median(lv.ols_se[:, 1])),
            f"{k}/ols_coverage_w": None if lv.noise == 0 else float(cover[0]),
            f"{k}/ols_coverage_b": None if lv.noise == 0 else float(cover[1]),
        })  # fmt: skip
        ci = lv.ols_ci[0]
        notes = NOTES.get(lv.noise)
        rows.append({
            "σ": f"{lv.noise:g}", "the notes": "—" if notes is None else f"({notes[0]:.2f}, {notes[1]:.2f})",
            f"gradient descent, {cfg.steps} steps": _pm(lv.gd), "least squares": _pm(lv.ols),
            "OLS standard errors (median)": f"w {np.median(lv.ols_se[:, 0]):.3f}, b {np.median(lv.ols_se[:, 1]):.3f}",
            f"seed {seeds[0]}: {cfg.level:.0%} t-intervals": f"w [{ci[0, 0]:.3f}, {ci[0, 1]:.3f}], b [{ci[1, 0]:.3f}, {ci[1, 1]:.3f}]",
            "intervals holding the truth": "—" if lv.noise == 0 else f"w {cover[0]:.0%}, b {cover[1]:.0%}",
        })  # fmt: skip
        conv_rows.append({"σ": f"{lv.noise:g}", "distance": "to (3, 2)", **{
            f"step {t}": f"{np.median(lv.distance(lv.paths[:, t])):.2e}" for t in checkpoints}})  # fmt: skip
        conv_rows.append({"σ": f"{lv.noise:g}", "distance": "to least squares", **{
            f"step {t}": f"{np.median(np.linalg.norm(lv.paths[:, t] - lv.ols, axis=1)):.2e}" for t in checkpoints}})  # fmt: skip

    table = run.save_table("estimates", rows, "Estimates of (w, b) over seeds (mean ± sd), standard errors, intervals")
    conv = run.save_table("convergence", conv_rows, "Median distance of gradient descent's (w, b) from (3, 2) and from the least-squares fit, by step")
    run.save_figure(_fits(levels, cfg), "fits", f"Seed {seeds[0]}'s data per noise level, the true line, gradient descent after {cfg.steps} steps and least squares")
    run.save_figure(_convergence(levels, cfg), "convergence", "Gradient descent's distance from (3, 2) and from the least-squares fit (medians over seeds); its estimates per seed")

    zero = next((lv for lv in levels if lv.noise == 0), None)
    why = ""
    if zero is not None:
        rate = float(np.median(zero.contraction))
        why = (
            f" At noise 0 the least-squares fit is (3, 2) to {metrics['noise0/ols_distance_max']:.0e}, yet gradient descent stops at "
            f"({metrics['noise0/gd_w']:.3f}, {metrics['noise0/gd_b']:.3f}) after {cfg.steps} steps, as in the notes (2.96, 2.01): with "
            f"x in [0, 1) the loss is a long narrow valley, whose slow direction shrinks only ×{rate:.4f} a step, so "
            f"{cfg.steps} steps leave {rate ** cfg.steps:.1%} of the starting error in it; by step {cfg.converge_steps} gradient descent is "
            f"within {metrics['noise0/gd_end_distance_max']:.0e} of (3, 2). Convergence, not noise."
        )
    summary = (
        f"{len(levels)} noise levels × {len(seeds)} seeds, n = {cfg.n}, plain gradient descent (lr {cfg.lr:g}) written by hand "
        f"(largest gap to torch.optim.SGD {metrics['gd/torch_sgd_max_gap']:.0e}) and least squares in closed form. "
        "Median distance of the estimates from (3, 2) after the notebook's steps: "
        + ", ".join(f"σ={lv.noise:g} {metrics[f'{key(lv.noise)}/gd_distance']:.3f}" for lv in levels) + "." + why
    )
    sections = [
        ("Estimates", f"Gradient descent after the notebook's {cfg.steps} steps and least squares (numpy.linalg.lstsq) on the same "
         f"data, mean ± standard deviation over {len(seeds)} seeds; the OLS standard errors σ̂ √((XᵀX)⁻¹) and the {cfg.level:.0%} "
         f"t-intervals (n − 2 degrees of freedom) of seed {seeds[0]}'s fit, and how many seeds' intervals hold the truth.\n\n" + table),
        ("Convergence", "Gradient descent's error shrinks geometrically, to the least-squares fit: at noise 0 that is (3, 2), "
         "at noise σ > 0 it stays at the least-squares fit's own distance from the truth (sampling error).\n\n" + conv),
    ]  # fmt: skip
    return Outcome(metrics, summary, sections, observations=obs)


def _fits(levels: list[Level], cfg: LinearRegressionConfig) -> Any:
    fig, axes = figure(1, len(levels), width=4.2, height=3.6)
    line = np.array([0.0, 1.0])
    axes = np.atleast_1d(axes)
    for ax, lv in zip(axes, levels):
        job = lv.jobs[0]
        gd, ols = lv.gd[0], lv.ols[0]
        ax.scatter(job["x"], job["d"], s=10, alpha=0.6, color="tab:gray", label="data")
        ax.plot(line, TRUTH[0] * line + TRUTH[1], "k--", lw=1.2, label="truth 3x + 2")
        ax.plot(line, gd[0] * line + gd[1], color="tab:blue", label=f"GD {cfg.steps} steps ({gd[0]:.2f}, {gd[1]:.2f})")
        ax.plot(line, ols[0] * line + ols[1], color="tab:orange", ls=":", lw=2, label=f"least squares ({ols[0]:.2f}, {ols[1]:.2f})")
        ax.set(title=f"noise σ = {lv.noise:g}", xlabel="x")
        ax.legend(fontsize=7, loc="upper left")
    axes[0].set_ylabel("d")
    return fig


def _convergence(levels: list[Level], cfg: LinearRegressionConfig) -> Any:
    fig, (left, right) = figure(1, 2, width=5.0, height=3.8)
    steps = np.arange(cfg.converge_steps + 1)
    for i, lv in enumerate(levels):
        color = f"C{i}"
        floor = 1e-16  # rounding: a log axis shows no zeros
        left.plot(steps, np.maximum(np.median(lv.distance(lv.paths), axis=0), floor), color=color, label=f"σ = {lv.noise:g}: to (3, 2)")
        to_ols = np.median(np.linalg.norm(lv.paths - lv.ols[:, None], axis=2), axis=0)
        left.plot(steps, np.maximum(to_ols, floor), color=color, ls="--", label=f"σ = {lv.noise:g}: to least squares")
        if lv.noise in NOTES:
            right.scatter(*NOTES[lv.noise], marker="*", s=140, color=color, edgecolor="k", label=f"σ = {lv.noise:g}, the notes")
        right.scatter(lv.gd[:, 0], lv.gd[:, 1], s=12, alpha=0.7, color=color, edgecolor="none", label=f"σ = {lv.noise:g}, per seed")
    left.axvline(cfg.steps, color="k", lw=0.8, ls=":")
    left.text(cfg.steps, 0.03, f" the notebook's {cfg.steps} steps", fontsize=8, transform=left.get_xaxis_transform())
    left.set(yscale="log", xlabel="gradient-descent step", ylabel="distance of (w, b)", title="convergence (median over seeds)")
    left.legend(fontsize=7)
    right.scatter(*TRUTH, marker="x", s=80, color="k", label="truth (3, 2)")
    right.set(xlabel="w", ylabel="b", title=f"estimates after {cfg.steps} steps")
    right.legend(fontsize=7)
    return fig
