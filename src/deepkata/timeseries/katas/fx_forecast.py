"""Kata ``fx-forecast``: the course's USD/JPY LSTM, compared honestly with "tomorrow = today".

The default preset is the course's setup (../shared/curriculum/000): the close only, the first
80% of days for training, a min-max scaler fitted on them, windows of 50, an LSTM of 50 units,
Adam, MSE, batches of 32, 30 epochs, the next day's close. The test period is scored once, in
yen, against persistence, drift and a moving average on exactly the same days, with a
Diebold-Mariano test of the model against persistence.

Without ``--data`` it runs on a generated series (:mod:`deepkata.timeseries.synthetic`) and
says so; ``--data $DEEPKATA_DATA/fx/usd_jpy.csv`` runs it on the course's file. The trained
forecaster is saved as ``forecaster.pt`` for ``deepkata forecast``.

Each fit (one, or one per walk-forward fold) is a job on the training engine, an epoch a step.
Under ``torchrun`` it trains data-parallel: every rank takes its share of each batch and the
weights, losses and scores are a single process's up to float rounding.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from deepkata.core.config import ConfigError, KataConfig, param
from deepkata.core.engine import JobContext, JobSpec
from deepkata.core.plots import figure
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
    train_fraction: float = param(0.8, "share of the days, oldest first, for training", gt=0, lt=1)
    valid_fraction: float = param(0.0, "share of the training windows, at its end, held out for early stopping (0: none)", ge=0, lt=0.5)
    patience: int = param(5, "epochs without a better validation loss before stopping", gt=0)
    refit_every: int = param(0, "walk-forward: re-fit from scratch every k test days (0: one fit)", ge=0)
    ma_days: int = param(5, "days of the moving-average baseline", gt=0)
    bad_rows: Literal["error", "drop"] = param("error", "a bad row in --data: stop with an error, or drop it and say so")
    synthetic_days: int = param(2925, "days of the generated series used without --data", ge=200)

    def validate(self) -> None:
        if self.model.window <= self.ma_days - 1:
            raise ConfigError(f"model.window {self.model.window} must cover the moving average's {self.ma_days} days")


def _series(cfg: FXForecastConfig, run: Run) -> OHLC:
    if run.data is None:
        return synthetic_ohlc(run.seed, cfg.synthetic_days)
    return read_ohlc(run.data, require=cfg.model.columns, bad_rows=cfg.bad_rows)


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
    data="a generated USD/JPY-like daily series (synthetic); --data reads an OHLC CSV such as $DEEPKATA_DATA/fx/usd_jpy.csv",
    takes_data=True,
    threads=1,  # an LSTM of 50 units on batches of 32 runs fastest on one thread
    precisions=("fp32", "bf16"),
    distributed=True,  # data-parallel: each rank takes its share of every batch
)
def run(cfg: FXForecastConfig, run: Run) -> Outcome:
    series = _series(cfg, run)
    m = cfg.model
    features, close = series.features(m.columns), series.close
    n = len(series)
    try:
        n_train = split_point(n, cfg.train_fraction)
    except ValueError as e:
        raise ConfigError(f"train_fraction: {e}") from None
    if n_train - m.window - m.horizon < 2 * cfg.batch:
        raise ConfigError(f"{series.source}: {n} days leave too few training windows of {m.window} days")

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
    run.save_figure(_forecast_figure(series, origins, h, forecasts, cfg), "forecast", "Test period: actual close, the model's forecast and persistence")
    run.save_figure(_residual_figure(model - actual, forecasts["persistence"] - actual, cfg), "residuals", "Forecast errors on the test days")
    run.save_figure(_training_figure(folds), "training", "Training (and validation) loss per epoch")
    sentence = _verdict(cfg, ratio, dm, table)
    data_line = f"Data: {series.source}" + (" — **synthetic, not market data**." if run.data is None else ".") + " " + " ".join(series.notes)
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
    return Outcome(metrics, sentence, sections, timings)


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


def _forecast_figure(series: OHLC, origins: np.ndarray, h: int, forecasts: dict[str, np.ndarray], cfg: FXForecastConfig) -> Any:
    fig, ax = figure(1, 1, width=10, height=4.5)
    days = series.dates[origins + h]
    ax.plot(days, series.close[origins + h], color="k", lw=1.2, label="actual close")
    ax.plot(days, forecasts[cfg.model.cell.upper()], color="tab:red", lw=0.9, label=f"{cfg.model.cell.upper()} forecast")
    ax.plot(days, forecasts["persistence"], color="tab:blue", lw=0.8, ls="--", label="persistence (tomorrow = today)")
    ax.set(ylabel="close (yen)", title="Test period")
    ax.legend(fontsize=8)
    return fig


def _residual_figure(model_err: np.ndarray, naive_err: np.ndarray, cfg: FXForecastConfig) -> Any:
    fig, ax = figure(1, 1, width=6.4, height=4.0)
    bins = np.linspace(min(model_err.min(), naive_err.min()), max(model_err.max(), naive_err.max()), 50)
    ax.hist(naive_err, bins=bins, alpha=0.6, label="persistence", color="tab:blue")
    ax.hist(model_err, bins=bins, alpha=0.6, label=cfg.model.cell.upper(), color="tab:red")
    ax.set(xlabel="forecast - actual (yen)", ylabel="days", title="Errors on the test days")
    ax.legend(fontsize=8)
    return fig


def _training_figure(folds: list[dict[str, Any]]) -> Any:
    fig, ax = figure(1, 1, width=6.4, height=4.0)
    for k, f in enumerate(folds):
        epochs = [e["epoch"] for e in f["history"]]
        label = "" if len(folds) == 1 else f" (fit {k + 1})"
        ax.plot(epochs, [e["train_loss"] for e in f["history"]], color="tab:blue", alpha=0.8, label="train" + label if k in (0, len(folds) - 1) else None)
        if "valid_loss" in f["history"][0]:
            ax.plot(epochs, [e["valid_loss"] for e in f["history"]], color="tab:orange", alpha=0.8, label="validation" + label if k in (0, len(folds) - 1) else None)
    ax.set(xlabel="epoch", ylabel="MSE (scaled)", yscale="log", title="Training")
    ax.legend(fontsize=8)
    return fig

