"""A recurrent one-step (or h-step) price forecaster: training, saving, and forecasting.

The course's exercise (../shared/curriculum/000, USD/JPY): windows of 50 scaled closes, an LSTM
with 50 units and a linear output, Adam, mean squared error, batches of 32, 30 epochs. The
network is the project's :class:`~deepkata.models.sequence.SequenceModel` (``readout="last"``),
initialized as Keras initializes it. :class:`ForecastTrainer` keeps its whole state in
:meth:`~ForecastTrainer.state_dict` so an interrupted training resumes to the same weights.

A trained forecaster is saved as one file of tensors and plain values (:func:`save`), which
:func:`load` reads with ``torch.load(..., weights_only=True)``: the setup, the weights, both
scalers and what the data looked like (columns, frequency, last date).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deepkata.core import checkpoint
from deepkata.core.errors import UserError
from deepkata.models.sequence import CellName, SequenceModel, SequenceModelConfig
from deepkata.timeseries.ohlc import OHLC
from deepkata.timeseries.windows import MinMaxScaler, Target, TargetScaler, Windows

FORMAT = "deepkata-forecaster-1"


@dataclass(frozen=True)
class Setup:
    """What a forecaster is, apart from its weights and scalers."""

    cell: CellName = "lstm"
    features: tuple[str, ...] = ("close",)  # price columns fed to the network
    target: Target = "level"  # the next close, or its log-return
    window: int = 50  # days per input window
    horizon: int = 1  # forecast the close h days after the last day of the window
    hidden: int = 50  # units of the recurrent layer

    def model_config(self) -> SequenceModelConfig:
        return SequenceModelConfig(
            cell=self.cell, input_size=len(self.features), hidden=self.hidden, output_size=1, readout="last", init="keras"
        )


class ForecastTrainer:
    """Minibatch Adam on MSE over shuffled windows, one epoch at a time, resumable."""

    def __init__(self, setup: Setup, batch: int, lr: float, seed: int) -> None:
        torch.manual_seed(seed)
        self.setup = setup
        self.model = SequenceModel(setup.model_config())
        self.opt = torch.optim.Adam(self.model.parameters(), lr=lr)
        self.batch = batch
        self.shuffle = torch.Generator().manual_seed(seed)
        self.epoch = 0
        self.history: list[dict[str, float]] = []  # per epoch: train loss, valid loss (if any)

    def train_epoch(self, train: Windows, valid: Windows) -> dict[str, float]:
        x, y = _tensors(train)
        self.model.train()
        order = torch.randperm(len(train), generator=self.shuffle)
        total = 0.0
        for start in range(0, len(train), self.batch):
            idx = order[start : start + self.batch]
            loss = torch.nn.functional.mse_loss(self.model(x[idx])[0][:, 0], y[idx])
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            total += loss.item() * len(idx)
        self.epoch += 1
        entry = {"epoch": self.epoch, "train_loss": total / len(train)}
        if len(valid):
            entry["valid_loss"] = float(np.mean((self.predict(valid.x) - valid.y) ** 2))
        if not np.isfinite(entry["train_loss"]):
            raise FloatingPointError(f"training diverged in epoch {self.epoch}: the loss is {entry['train_loss']}")
        self.history.append(entry)
        return entry

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Scaled forecasts for windows x (M, window, F)."""
        self.model.eval()
        with torch.no_grad():
            return self.model(torch.tensor(x, dtype=torch.float32))[0][:, 0].double().numpy()

    def state_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(), "opt": self.opt.state_dict(), "shuffle": self.shuffle.get_state(),
            "epoch": self.epoch, "history": list(self.history),
        }  # fmt: skip

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["opt"])
        self.shuffle.set_state(state["shuffle"])
        self.epoch, self.history = int(state["epoch"]), list(state["history"])


def _tensors(w: Windows) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.tensor(w.x, dtype=torch.float32), torch.tensor(w.y, dtype=torch.float32)


# --- the saved forecaster ----------------------------------------------------------------------


@dataclass(frozen=True)
class Forecaster:
    setup: Setup
    model: SequenceModel
    scaler: MinMaxScaler
    target_scaler: TargetScaler
    data: dict[str, Any]  # source, last_date, median_gap_days

    def forecast(self, series: OHLC) -> tuple[np.datetime64, float]:
        """The close ``horizon`` business days after the series' last day, from its last window."""
        check_fits(self, series)
        x = self.scaler.transform(series.features(self.setup.features)[-self.setup.window :])[None]
        self.model.eval()
        with torch.no_grad():
            scaled = self.model(torch.tensor(x, dtype=torch.float32))[0][:, 0].double().numpy()
        value = float(self.target_scaler.to_price(scaled, series.close[-1:])[0])
        return np.busday_offset(series.dates[-1], self.setup.horizon, roll="forward"), value


def median_gap_days(dates: np.ndarray) -> float:
    return float(np.median(np.diff(dates.astype("int64")))) if len(dates) > 1 else 0.0


def save(path: Path, trainer: ForecastTrainer, scaler: MinMaxScaler, target_scaler: TargetScaler, series: OHLC) -> None:
    checkpoint.save(
        path,
        {
            "format": FORMAT,
            "setup": dataclasses.asdict(trainer.setup),
            "model": trainer.model.state_dict(),
            "scaler": {"lo": scaler.lo, "hi": scaler.hi},
            "target_scaler": dataclasses.asdict(target_scaler),
            "data": {"source": series.source, "last_date": str(series.dates[-1]), "median_gap_days": median_gap_days(series.dates)},
        },
    )


def load(path: Path) -> Forecaster:
    state = checkpoint.load(path)  # weights_only=True
    if state.get("format") != FORMAT:
        raise UserError(f"{path}: not a deepkata forecaster")
    raw = state["setup"]
    setup = Setup(**{**raw, "features": tuple(raw["features"])})
    model = SequenceModel(setup.model_config())
    model.load_state_dict(state["model"])
    model.eval()
    scaler = MinMaxScaler(state["scaler"]["lo"], state["scaler"]["hi"])
    return Forecaster(setup, model, scaler, TargetScaler(**state["target_scaler"]), state["data"])


def check_fits(forecaster: Forecaster, series: OHLC) -> None:
    """Refuse a series the forecaster was not trained for: too short, or not daily."""
    need = forecaster.setup.window
    if len(series) < need:
        raise UserError(f"{series.source}: {len(series)} days, but the forecaster reads windows of {need}")
    gap, trained_gap = median_gap_days(series.dates), forecaster.data["median_gap_days"]
    if not 0.5 * trained_gap <= gap <= 2 * trained_gap:
        raise UserError(
            f"{series.source}: its dates are {gap:g} days apart (median), the forecaster was trained on data "
            f"{trained_gap:g} days apart; it forecasts daily prices only"
        )
