"""Kata ``fx-forecast``: the course's USD/JPY LSTM, compared honestly with "tomorrow = today".

The default preset is the course's setup (../shared/curriculum/000): the close only, the first
80% of days for training, a min-max scaler fitted on them, windows of 50, an LSTM of 50 units,
Adam, MSE, batches of 32, 30 epochs, the next day's close. The test period is scored once, in
yen, against persistence, drift and a moving average on exactly the same days, with a
Diebold-Mariano test of the model against persistence.

Without ``--data`` it runs on a generated series (:mod:`deepkata.timeseries.synthetic`) and
says so; ``--data $DEEPKATA_DATA/fx/usd_jpy.csv`` runs it on the course's file, and a close-only
series such as FRED's DEXJPUS runs with ``--set bad_rows=drop`` (its holidays are ``.``). The
test period is the last 20% of days, or every day from ``test_from`` on. The trained
forecaster is saved as ``forecaster.pt`` for ``deepkata forecast``.

Each fit (one, or one per walk-forward fold) is a job on the training engine, an epoch a step.
Under ``torchrun`` it trains data-parallel: every rank takes its share of each batch and the
weights, losses and scores are a single process's up to float rounding.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from deepkata.core.config import ConfigError, KataConfig, param
from deepkata.core.engine import JobContext, JobSpec
from deepkata.core.plots import figure, integer_ticks, scale_for
from deepkata.core.registry import Expectation, Outcome, register_kata
from deepkata.core.runner import Run
from deepkata.timeseries import baselines, forecast
from deepkata.timeseries.forecast import ForecasterConfig
from deepkata.timeseries.metrics import diebold_mariano, scores
from deepkata.timeseries.ohlc import OHLC, read_ohlc
from deepkata.timeseries.synthetic import synthetic_ohlc
from deepkata.timeseries.windows import Prepared, prepare, split_point


@dataclass(frozen=True, kw_only=True)
class FXForecastConfig(KataConfig):
    model: ForecasterConfig = param(ForecasterConfig(), "the forecaster: cell, inputs, target, horizon, window, units")
    batch: int = param(32, "windows per step (the global batch under torchrun)", gt=0)
    lr: float = param(0.001, "Adam learning rate", gt=0)
    epochs: int = param(30, "passes over the training windows", gt=0, le=1000)
    train_fraction: float = param(0.8, "share of the days, oldest first, for training (unless test_from is set)", gt=0, lt=1)
    test_from: str | None = param(None, "first day of the test period, YYYY-MM-DD: train on the days before it, test from it on (none: by train_fraction)")
    valid_fraction: float = param(0.0, "share of the training windows, at its end, held out for early stopping (0: none)", ge=0, lt=0.5)
    patience: int = param(5, "epochs without a better validation loss before stopping", gt=0)
    refit_every: int = param(0, "walk-forward: re-fit from scratch every k test days (0: one fit)", ge=0)
    ma_days: int = param(5, "days of the moving-average baseline", gt=0)
    bad_rows: Literal["error", "drop"] = param("error", "a bad row in --data (or a missing value, like FRED's '.' for a holiday): stop with an error, or drop it and say so")
    close_column: str | None = param(None, "the --data column holding the close, for a close-only series such as FRED's DEXJPUS (none: Close or 終値, else the only numeric column); a close-only series trains model.features=close, and ohlc is refused")
    synthetic_days: int = param(2925, "days of the generated series used without --data", ge=200)

    def validate(self) -> None:
        if self.model.window <= self.ma_days - 1:
            raise ConfigError(f"model.window {self.model.window} must cover the moving average's {self.ma_days} days")
        if self.test_from is not None:
            self.first_test_day()

    def first_test_day(self) -> np.datetime64:
        """test_from as a day."""
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(self.test_from)):
                raise ValueError
            return np.datetime64(dt.date.fromisoformat(str(self.test_from)), "D")
        except ValueError:
            raise ConfigError(f"test_from: expected a date as YYYY-MM-DD, got {self.test_from!r}") from None


MIN_TEST_DAYS = 20  # the fewest test days worth scoring, and a Diebold-Mariano test


def _series(cfg: FXForecastConfig, run: Run) -> OHLC:
    if run.data is None:
        if cfg.close_column is not None:
            raise ConfigError(f"close_column={cfg.close_column}: names a column of a --data file, and this run has no --data")
        return synthetic_ohlc(run.seed, cfg.synthetic_days)
    series = read_ohlc(run.data, require=("close",), bad_rows=cfg.bad_rows, close_column=cfg.close_column)
    missing = [c for c in cfg.model.columns if c not in series.columns]
    if missing:
        raise ConfigError(
            f"model.features={cfg.model.features}: {series.source} has no {', '.join(missing)} column (only "
            f"{', '.join(series.columns)}); train on the close alone: --set model.features=close"
        )
    return series


def _split(cfg: FXForecastConfig, series: OHLC) -> int:
    """Days in the training period: before test_from, else the first train_fraction of them."""
    n, m = len(series), cfg.model
    if cfg.test_from is None:
        field = f"train_fraction={cfg.train_fraction}"
        try:
            n_train = split_point(n, cfg.train_fraction)
        except ValueError as e:
            raise ConfigError(f"train_fraction: {e}") from None
    else:
        field = f"test_from={cfg.test_from}"
        day, first, last = cfg.first_test_day(), series.dates[0], series.dates[-1]
        if not first < day <= last:
            raise ConfigError(f"{field}: outside the series, whose days run from {first} to {last} ({series.source})")
        n_train = int(np.searchsorted(series.dates, day))  # the days before test_from
    if n_train - m.window - m.horizon < 2 * cfg.batch:
        raise ConfigError(
            f"{field}: {n_train:,} training days (of {n:,} in {series.source}) leave too few training windows of "
            f"{m.window} days: it takes {m.window + m.horizon + 2 * cfg.batch} days for two batches of {cfg.batch}"
        )
    if n - n_train < MIN_TEST_DAYS:
        raise ConfigError(f"{field}: leaves {n - n_train} test days (of {n:,} in {series.source}); it takes at least {MIN_TEST_DAYS}")
    return n_train


# --- one fit: a job on the engine -------------------------------------------------------------------


@dataclass(frozen=True)
class Fold:
    index: int
    start: int  # the first test day: training uses the days before it
    stop: int  # test targets end before this day


class FoldJob:
    """One fit on the engine, an epoch a step, with early stopping on the validation loss.

    The best epoch's weights travel with the state. Its result is the fold's test forecasts in
    yen, its loss history and the weights it ends with (the best epoch's, if it validated).
    """

    def __init__(self, cfg: FXForecastConfig, prepared: Prepared, close: np.ndarray, ctx: JobContext) -> None:
        self.cfg, self.prepared, self.close, self.ctx = cfg, prepared, close, ctx
        self.trainer = forecast.ForecastTrainer(
            cfg.model, batch=cfg.batch, lr=cfg.lr, seed=ctx.seed, device=ctx.device, precision=ctx.precision, ranks=ctx.ranks
        )
        self.best: dict[str, Any] = {"loss": float("inf"), "weights": None, "epoch": 0}
        self.stopped = False  # early, for want of a better validation loss
        self.device = ctx.device
        self.total = cfg.epochs

    @property
    def progress(self) -> int:
        return self.trainer.epoch

    @property
    def done(self) -> bool:
        return self.stopped or self.trainer.epoch >= self.cfg.epochs

    def step(self) -> None:
        trainer = self.trainer
        started = time.perf_counter()
        entry = trainer.train_epoch(self.prepared.train, self.prepared.valid)
        entry["seconds"] = time.perf_counter() - started
        self.ctx.log(trainer.epoch, {"train/loss": entry["train_loss"]} | ({"valid/loss": entry["valid_loss"]} if "valid_loss" in entry else {}))
        if "valid_loss" in entry:
            if entry["valid_loss"] < self.best["loss"]:
                self.best = {"loss": entry["valid_loss"], "weights": trainer.weights(), "epoch": trainer.epoch}
            self.stopped = trainer.epoch - self.best["epoch"] >= self.cfg.patience

    def state_dict(self) -> dict[str, Any]:
        return {"trainer": self.trainer.state_dict(), "best": self.best, "stopped": self.stopped}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.trainer.load_state_dict(state["trainer"])
        self.best, self.stopped = state["best"], state["stopped"]

    def result(self) -> dict[str, Any]:
        trainer, test = self.trainer, self.prepared.test
        if self.best["weights"] is not None:
            trainer.model.load_state_dict(self.best["weights"])  # early stopping keeps the best epoch
        return {
            "origins": test.origins,
            "forecast": self.prepared.target_scaler.to_price(trainer.predict(test.x), self.close[test.origins]),
            "history": trainer.history,
            "best_epoch": self.best["epoch"] or trainer.epoch,
            "weights": trainer.weights(),
        }


# --- the kata --------------------------------------------------------------------------------------


@register_kata(
    name="fx-forecast",
    topic="timeseries",
    section="Day 3 · RNN exercise: USD/JPY forecasting",
    description="the course's USD/JPY LSTM against persistence, drift and a moving average, with a Diebold-Mariano test",
    config=FXForecastConfig,
    presets={
        "smoke": {"epochs": 6, "model.window": 20, "model.hidden": 16, "synthetic_days": 1200, "lr": 0.01},
        "default": {},
        "full": {"valid_fraction": 0.1, "epochs": 100, "patience": 10, "refit_every": 120},
    },
    expectations=[
        Expectation("training loss falls", "train/loss_last", "<=", "train/loss_first"),
        Expectation("the forecast tracks the price: RMSE within 2x persistence's", "test/rmse_ratio", "<=", 2.0, presets=("smoke",)),
        Expectation("the forecast tracks the price: RMSE within 1.5x persistence's", "test/rmse_ratio", "<=", 1.5, presets=("default", "full")),
        Expectation("yet the course's setup does not significantly beat persistence (a random walk's best forecast)", "test/beats_persistence", "<=", 0, presets=("default",)),
    ],
    data="daily USD/JPY prices: a --data CSV, OHLC like $DEEPKATA_DATA/fx/usd_jpy.csv or close-only like FRED's DEXJPUS; without --data, a generated series",
    takes_data=True,
    threads=1,  # an LSTM of 50 units on batches of 32 runs fastest on one thread
    precisions=("fp32", "bf16"),
    distributed=True,  # data-parallel: each rank takes its share of every batch
)
def run(cfg: FXForecastConfig, run: Run) -> Outcome:
    series = _series(cfg, run)
    m = cfg.model
    features, close = series.features(m.columns), series.close
    n, n_train = len(series), _split(cfg, series)

    def cut(n_train: int, **kw: Any) -> Prepared:
        return prepare(features, close, n_train=n_train, window=m.window, horizon=m.horizon, target=m.target, **kw)

    def make_job(fold: Fold, ctx: JobContext) -> FoldJob:
        return FoldJob(cfg, cut(fold.start, valid_fraction=cfg.valid_fraction, test_stop=fold.stop), close, ctx)

    # one fit, or walk-forward folds of refit_every target days each
    step = cfg.refit_every or (n - n_train)
    starts = list(range(n_train, n, step))
    grid = [JobSpec(f"fold{k}", Fold(k, start, min(start + step, n)), tags={"fold": k}) for k, start in enumerate(starts)]
    results = run.sweep(grid, make_job, description=f"fx-forecast: {len(starts)} fit(s) x {cfg.epochs} epochs")
    folds = [results[spec.key] for spec in grid]
    last = cut(starts[-1])
    run.save_file("forecaster.pt", lambda path: forecast.save(path, m, folds[-1]["weights"], last.scaler, last.target_scaler, series))
    return _evaluate(cfg, run, series, folds, n_train)


# --- evaluation ----------------------------------------------------------------------------------


def _evaluate(cfg: FXForecastConfig, run: Run, series: OHLC, folds: list[dict[str, Any]], n_train: int) -> Outcome:
    close, h = series.close, cfg.model.horizon
    origins = np.concatenate([f["origins"] for f in folds])
    model = np.concatenate([f["forecast"] for f in folds])
    actual, today = close[origins + h], close[origins]
    forecasts = {
        cfg.model.cell.upper(): model,
        "persistence": baselines.persistence(close, origins, h),
        "drift": baselines.drift(close, origins, h),
        f"moving average ({cfg.ma_days} days)": baselines.moving_average(close, origins, h, cfg.ma_days),
    }
    table = {name: scores(f, actual, today) for name, f in forecasts.items()}
    persistence_scores = table["persistence"]
    persistence_scores["directional_accuracy"] = None  # it never forecasts a move
    dm = diebold_mariano(model - actual, forecasts["persistence"] - actual, horizon=h)
    ratio = table[cfg.model.cell.upper()]["rmse"] / persistence_scores["rmse"]
    history = [e for f in folds for e in f["history"]]
    metrics: dict[str, Any] = {
        "train/epochs": sum(len(f["history"]) for f in folds),
        "train/loss_first": history[0]["train_loss"],
        "train/loss_last": folds[-1]["history"][-1]["train_loss"],
        "test/days": len(origins),
        "test/rmse_ratio": ratio,
        "test/beats_persistence": int(ratio < 1 and dm.p_value < 0.05),  # lower RMSE, significantly
        "test/dm_statistic": dm.statistic,
        "test/dm_p_value": dm.p_value,
    }
    keys = {cfg.model.cell.upper(): "model", "persistence": "persistence", "drift": "drift"}
    for name, s in table.items():
        key = keys.get(name, "moving_average")
        for metric, value in s.items():
            metrics[f"test/{key}/{metric}"] = value
    rows = [{"forecast": name, **{k: s[k] for k in ("rmse", "mae", "mape", "directional_accuracy")}} for name, s in table.items()]
    for r in rows:
        r["mape"] = None if r["mape"] is None else f"{r['mape']:.3f}%"
        r["directional_accuracy"] = None if r["directional_accuracy"] is None else f"{r['directional_accuracy']:.1%}"
    metrics_table = run.save_table("test_scores", rows, "Test-period errors in yen, every forecast on the same days")
    name_of_data = "Synthetic series" if run.data is None else Path(series.source).name
    run.save_figure(_forecast_figure(series, origins, h, forecasts, cfg, name_of_data), "forecast", "Test period: actual close, the model's forecast and persistence")
    run.save_figure(_residual_figure(model - actual, forecasts["persistence"] - actual, cfg), "residuals", "Forecast errors on the test days")
    run.save_figure(_training_figure(folds), "training", "Training (and validation) loss per epoch")
    data = _data_sentence(series, synthetic=run.data is None)
    summary = f"Data: {data}.\n\n" + _verdict(cfg, ratio, dm, table)
    data_line = "How the data was read: " + "; ".join(series.notes) + "."
    setup_line = (
        f"Setup: {cfg.model.cell.upper()} with {cfg.model.hidden} units on windows of {cfg.model.window} days of {', '.join(cfg.model.columns)}, "
        f"target {cfg.model.target} {h} day(s) ahead; {n_train:,} training days up to {series.dates[n_train - 1]}, "
        f"{len(origins):,} test days from {series.dates[origins[0] + h]} to {series.dates[origins[-1] + h]}"
        + (f"; walk-forward, re-fit every {cfg.refit_every} days ({len(folds)} fits)." if cfg.refit_every else "; one fit.")
    )
    sections = [
        ("Test scores", metrics_table + f"\n\nDiebold–Mariano (HLN-corrected, squared error), {cfg.model.cell.upper()} against persistence: "
         f"statistic {dm.statistic:.3f}, p = {dm.p_value:.3g} (negative: the model's errors are smaller)."),
        ("Data and setup", data_line + "\n\n" + setup_line),
    ]  # fmt: skip
    timings = {"train/seconds_per_epoch": float(np.mean([e["seconds"] for e in history]))}
    return Outcome(metrics, summary, sections, timings, data=data)


def _data_sentence(series: OHLC, *, synthetic: bool) -> str:
    """What the run read: the file, its days and their range, the rows dropped."""
    *first, last = series.columns
    prices = f"{', '.join(first)} and {last} prices" if first else "closes"
    days = f"{len(series):,} days of {prices} from {series.dates[0]} to {series.dates[-1]}"
    if synthetic:
        return f"{series.source}, **synthetic, not market data**: {days}"
    dropped = f"{series.dropped:,} bad row(s) dropped" if series.dropped else "no rows dropped"
    return f"{Path(series.source).name} (`{series.source}`): {days}, {dropped}"


def _verdict(cfg: FXForecastConfig, ratio: float, dm: Any, table: dict[str, dict[str, Any]]) -> str:
    name = cfg.model.cell.upper()
    model_rmse, naive_rmse = table[name]["rmse"], table["persistence"]["rmse"]
    change = abs(1 - ratio)
    if ratio < 1 and dm.p_value < 0.05:
        verdict = f"The {name} beats persistence: its RMSE is {change:.1%} lower ({model_rmse:.4g} vs {naive_rmse:.4g} yen), and the difference is significant (Diebold–Mariano p = {dm.p_value:.3g})."
    elif ratio < 1:
        verdict = f"The {name} does not reliably beat persistence: its RMSE is {change:.1%} lower ({model_rmse:.4g} vs {naive_rmse:.4g} yen), but the difference is not significant (Diebold–Mariano p = {dm.p_value:.3g})."
    else:
        verdict = f"The {name} does not beat persistence: its RMSE is {change:.1%} higher ({model_rmse:.4g} vs {naive_rmse:.4g} yen; Diebold–Mariano p = {dm.p_value:.3g})."
    return verdict + " Tomorrow's close is mostly today's close; a chart where the forecast hugs the price shows exactly that, not skill."


ZOOM_DAYS = 60  # the forecast figure's lower panel: the last test days, where a one-day lag shows


def _forecast_figure(
    series: OHLC, origins: np.ndarray, h: int, forecasts: dict[str, np.ndarray], cfg: FXForecastConfig, name_of_data: str
) -> Any:
    """The whole test period, and below it its last ZOOM_DAYS days when the period is much longer."""
    name = cfg.model.cell.upper()
    days, actual = series.dates[origins + h], series.close[origins + h]
    ahead = f"{h} trading day{'s' if h > 1 else ''} ahead"
    panels = [(slice(None), {}, f"{name_of_data}, test period {days[0]} to {days[-1]}: the close {ahead}")]
    if len(days) > 2 * ZOOM_DAYS:
        panels.append((slice(-ZOOM_DAYS, None), {"marker": ".", "ms": 4}, f"Its last {ZOOM_DAYS} days, day by day"))
    fig, axes = figure(len(panels), 1, width=10, height=3.6)
    for ax, (k, style, title) in zip(np.atleast_1d(axes), panels):
        ax.plot(days[k], actual[k], color="k", lw=1.2, label="actual close", **style)
        ax.plot(days[k], forecasts[name][k], color="tab:red", lw=0.9, label=f"{name} forecast", **style)
        ax.plot(days[k], forecasts["persistence"][k], color="tab:blue", lw=0.8, ls="--", label="persistence (tomorrow = today)", **style)
        ax.set(xlabel="date", ylabel="close (yen)", title=title)
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[0].legend(fontsize=8)
    return fig


def _residual_figure(model_err: np.ndarray, naive_err: np.ndarray, cfg: FXForecastConfig) -> Any:
    fig, ax = figure(1, 1, width=6.4, height=4.0)
    name = cfg.model.cell.upper()
    bins = np.linspace(min(model_err.min(), naive_err.min()), max(model_err.max(), naive_err.max()), 50)
    for err, label, color in ((naive_err, "persistence", "tab:blue"), (model_err, name, "tab:red")):
        rmse = float(np.sqrt(np.mean(err**2)))
        ax.hist(err, bins=bins, histtype="step", lw=1.6, color=color, label=f"{label} (RMSE {rmse:.3g} yen)")
    ax.axvline(0, color="0.5", lw=0.8)
    ax.set(xlabel="forecast - actual (yen)", ylabel="test days", title=f"Forecast errors on the {len(model_err):,} test days")
    ax.legend(fontsize=8)
    return fig


def _training_figure(folds: list[dict[str, Any]]) -> Any:
    fig, ax = figure(1, 1, width=6.4, height=4.0)
    losses: list[float] = []
    for k, f in enumerate(folds):
        epochs = [e["epoch"] for e in f["history"]]
        label = "" if len(folds) == 1 else f" (a line per fit, {len(folds)} fits)"  # one legend entry for them all
        train = [e["train_loss"] for e in f["history"]]
        ax.plot(epochs, train, color="tab:blue", alpha=0.8, marker=".", label="train" + label if k == 0 else None)
        losses += train
        if "valid_loss" in f["history"][0]:
            valid = [e["valid_loss"] for e in f["history"]]
            ax.plot(epochs, valid, color="tab:orange", alpha=0.8, marker=".", label="validation" + label if k == 0 else None)
            losses += valid
    fits = "" if len(folds) == 1 else f", {len(folds)} walk-forward fits"
    ax.set(xlabel="epoch", ylabel="MSE of the scaled target", yscale=scale_for(losses, min_span=10), title=f"Training loss per epoch{fits}")
    last = max(len(f["history"]) for f in folds)
    ax.set_xlim(0.5, last + 0.5)
    if last <= 10:
        ax.set_xticks(range(1, last + 1))  # every epoch, even a single one
    else:
        integer_ticks(ax)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig
