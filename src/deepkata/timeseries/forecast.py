"""A recurrent one-step (or h-step) price forecaster: training, saving, and forecasting.

The course's exercise (../shared/curriculum/000, USD/JPY): windows of 50 scaled closes, an LSTM
with 50 units and a linear output, Adam, mean squared error, batches of 32, 30 epochs. The
network is the project's :class:`~deepkata.models.sequence.SequenceModel` (``readout="last"``),
initialized as Keras initializes it, built from a :class:`ForecasterConfig`.
:class:`ForecastTrainer` keeps its whole state in :meth:`~ForecastTrainer.state_dict` so an
interrupted training resumes to the same weights; it trains on any device, in fp32 or under
bf16 autocast, alone or data-parallel under ``torchrun``.

A trained forecaster is saved as one file of tensors and plain values (:func:`save`), which
:func:`load` reads with ``torch.load(..., weights_only=True)``: the config, the weights, both
scalers and what the data looked like (columns, frequency, last date).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from deepkata.core import checkpoint, distributed
from deepkata.core import device as device_mod
from deepkata.core.config import Config, from_dict, param, to_dict
from deepkata.core.device import Precision
from deepkata.core.distributed import Ranks
from deepkata.core.errors import UserError
from deepkata.models import build_model
from deepkata.models.sequence import CellName, SequenceModel, SequenceModelConfig
from deepkata.timeseries.ohlc import OHLC, PRICES
from deepkata.timeseries.windows import MinMaxScaler, Target, TargetScaler, Windows

FORMAT = "deepkata-forecaster-2"
FORMAT_1 = "deepkata-forecaster-1"  # its "setup" listed the feature columns; still read
FeatureSet = Literal["close", "ohlc"]
FEATURES: dict[str, tuple[str, ...]] = {"close": ("close",), "ohlc": PRICES}  # the price columns of each set
OUTSIDE = 0.1  # warn when an input window leaves the training range by more than this share of it


@dataclass(frozen=True, kw_only=True)
class ForecasterConfig(Config):
    """What a forecaster is, apart from its weights and scalers."""

    cell: CellName = param("lstm", "recurrent cell (the course says LSTM; its notebook ran a plain RNN)")
    features: FeatureSet = param("close", "inputs: the close, or open, high, low and close")
    target: Target = param("level", "forecast the close itself, or its log-return")
    horizon: int = param(1, "forecast the close this many trading days ahead", ge=1, le=60)
    window: int = param(50, "days per input window", ge=2, le=500)
    hidden: int = param(50, "units of the recurrent layer", gt=0, le=1024)

    @property
    def columns(self) -> tuple[str, ...]:
        """The price columns fed to the network, in order."""
        return FEATURES[self.features]

    def model_config(self) -> SequenceModelConfig:
        return SequenceModelConfig(
            cell=self.cell, input_size=len(self.columns), hidden=self.hidden, output_size=1, readout="last", init="keras"
        )


class ForecastTrainer:
    """Minibatch Adam on MSE over shuffled windows, one epoch at a time, resumable.

    The model lives on ``device``; forward passes run under ``precision`` (bf16 autocast or
    fp32). Under ``torchrun`` (``ranks``) it trains data-parallel: every rank builds the same
    model from ``seed``, draws the same order of windows and takes its share of each global
    batch of ``batch`` windows; ``DistributedDataParallel`` averages the gradients over ranks.
    """

    def __init__(
        self,
        config: ForecasterConfig,
        *,
        batch: int,
        lr: float,
        seed: int,
        device: torch.device = torch.device("cpu"),
        precision: Precision = "fp32",
        ranks: Ranks = distributed.SINGLE,
    ) -> None:
        torch.manual_seed(seed)
        self.config = config
        self.device, self.precision, self.ranks = device, precision, ranks
        self.model = build_model("recurrent", **dataclasses.asdict(config.model_config())).to(device)
        self.net = distributed.wrap(self.model, ranks, device)  # what training calls: DDP under torchrun
        self.opt = torch.optim.Adam(self.model.parameters(), lr=lr)
        self.batch = batch
        self.shuffle = torch.Generator().manual_seed(seed)  # on the CPU: the same order on every device
        self.epoch = 0
        self.history: list[dict[str, float]] = []  # per epoch: train loss, valid loss (if any)

    def train_epoch(self, train: Windows, valid: Windows) -> dict[str, float]:
        x, y = self._tensors(train)
        world = self.ranks.world_size
        self.net.train()
        order = torch.randperm(len(train), generator=self.shuffle, device="cpu").to(self.device)
        total = 0.0  # this rank's sum of squared errors over the epoch
        for start in range(0, len(train), self.batch):
            idx = order[start : start + self.batch]  # the global batch of B windows, the same on every rank
            mine = idx[self.ranks.share(len(idx))]
            with self.autocast():
                pred = self.net(x[mine])[0][:, 0]  # (B_r,)
            # L_r = W / B * sum_r (pred - y)^2: DDP averages dL_r over the W ranks, which gives the
            # gradient of the MSE (1/B) sum (pred - y)^2 over the whole batch
            loss = ((pred.float() - y[mine]) ** 2).sum() / len(idx) * world
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            total += loss.item() * len(idx) / world
        total = distributed.all_sum(torch.tensor([total], dtype=torch.float64, device=self.device), self.ranks).item()
        self.epoch += 1
        entry = {"epoch": self.epoch, "train_loss": total / len(train)}
        if len(valid):
            entry["valid_loss"] = float(np.mean((self.predict(valid.x) - valid.y) ** 2))
        if not np.isfinite(entry["train_loss"]):
            raise FloatingPointError(f"training diverged in epoch {self.epoch}: the loss is {entry['train_loss']}")
        self.history.append(entry)
        return entry

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Scaled forecasts (M,) for windows x (M, window, F), in float64 on the CPU."""
        self.model.eval()
        with torch.no_grad(), self.autocast():
            out = self.model(torch.tensor(x, dtype=torch.float32, device=self.device))[0][:, 0]
        return out.double().cpu().numpy()

    def autocast(self) -> Any:
        return device_mod.autocast(self.device, self.precision)

    def weights(self) -> dict[str, torch.Tensor]:
        """A copy of the model's weights on the CPU, as :func:`save` takes them."""
        return {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()}

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

    def _tensors(self, w: Windows) -> tuple[torch.Tensor, torch.Tensor]:
        return (
            torch.tensor(w.x, dtype=torch.float32, device=self.device),  # (M, window, F)
            torch.tensor(w.y, dtype=torch.float32, device=self.device),  # (M,)
        )


# --- the saved forecaster ----------------------------------------------------------------------


@dataclass(frozen=True)
class Forecaster:
    config: ForecasterConfig
    model: SequenceModel
    scaler: MinMaxScaler
    target_scaler: TargetScaler
    data: dict[str, Any]  # source, last_date, median_gap_days

    def forecast(self, series: OHLC) -> tuple[np.datetime64, float]:
        """The close ``horizon`` business days after the series' last day, from its last window."""
        check_fits(self, series)
        x = self.scaler.transform(series.features(self.config.columns)[-self.config.window :])[None]  # (1, window, F)
        device = next(self.model.parameters()).device
        self.model.eval()
        with torch.no_grad():
            scaled = self.model(torch.tensor(x, dtype=torch.float32, device=device))[0][:, 0].double().cpu().numpy()
        value = float(self.target_scaler.to_price(scaled, series.close[-1:])[0])
        return np.busday_offset(series.dates[-1], self.config.horizon, roll="forward"), value

    def range_warning(self, series: OHLC) -> str | None:
        """A one-line warning when the last window leaves the price range the scaler was fitted on
        by more than ``OUTSIDE`` of that range (the network then extrapolates), else None."""
        x = series.features(self.config.columns)[-self.config.window :]  # (window, F)
        lo, hi = np.asarray(self.scaler.lo, dtype=float), np.asarray(self.scaler.hi, dtype=float)  # (F,)
        # how far each column's lowest and highest value fall outside [lo, hi], as a share of hi - lo
        below, above = (lo - x.min(axis=0)) / (hi - lo), (x.max(axis=0) - hi) / (hi - lo)
        k = int(np.argmax(np.maximum(below, above)))
        share = max(below[k], above[k])
        if share <= OUTSIDE:
            return None
        name, value = self.config.columns[k], (x[:, k].max() if above[k] >= below[k] else x[:, k].min())
        return (
            f"warning: the last {self.config.window} days' {name} reaches {value:.4g}, outside the "
            f"{lo[k]:.4g}..{hi[k]:.4g} the forecaster was trained on by {share:.0%} of that range; "
            "the forecast extrapolates and may be far off"
        )


def median_gap_days(dates: np.ndarray) -> float:
    return float(np.median(np.diff(dates.astype("int64")))) if len(dates) > 1 else 0.0


def save(
    path: Path,
    config: ForecasterConfig,
    weights: Mapping[str, torch.Tensor],
    scaler: MinMaxScaler,
    target_scaler: TargetScaler,
    series: OHLC,
) -> None:
    """Write the forecaster ``config`` with ``weights`` (a model state dict) and its scalers."""
    checkpoint.save(
        path,
        {
            "format": FORMAT,
            "config": to_dict(config),
            "model": dict(weights),
            "scaler": {"lo": scaler.lo, "hi": scaler.hi},
            "target_scaler": dataclasses.asdict(target_scaler),
            "data": {"source": series.source, "last_date": str(series.dates[-1]), "median_gap_days": median_gap_days(series.dates)},
        },
    )


def load(path: Path, device: torch.device = torch.device("cpu")) -> Forecaster:
    """The forecaster saved at ``path`` (either format), its model on ``device``."""
    state = checkpoint.load(path)  # weights_only=True
    if state.get("format") == FORMAT:
        config = from_dict(ForecasterConfig, state["config"])
    elif state.get("format") == FORMAT_1:
        config = _config_from_setup(state["setup"])
    else:
        raise UserError(f"{path}: not a deepkata forecaster")
    model = build_model("recurrent", **dataclasses.asdict(config.model_config()))
    model.load_state_dict(state["model"])
    model.to(device).eval()
    scaler = MinMaxScaler(state["scaler"]["lo"], state["scaler"]["hi"])
    return Forecaster(config, model, scaler, TargetScaler(**state["target_scaler"]), state["data"])


def _config_from_setup(setup: Mapping[str, Any]) -> ForecasterConfig:
    """Format 1's "setup": the config's fields, with the feature columns where format 2 names their set."""
    sets = {columns: name for name, columns in FEATURES.items()}
    return ForecasterConfig(**{**setup, "features": sets[tuple(setup["features"])]})


def check_fits(forecaster: Forecaster, series: OHLC) -> None:
    """Refuse a series the forecaster was not trained for: too short, or not daily."""
    need = forecaster.config.window
    if len(series) < need:
        raise UserError(f"{series.source}: {len(series)} days, but the forecaster reads windows of {need}")
    gap, trained_gap = median_gap_days(series.dates), forecaster.data["median_gap_days"]
    if not 0.5 * trained_gap <= gap <= 2 * trained_gap:
        raise UserError(
            f"{series.source}: its dates are {gap:g} days apart (median), the forecaster was trained on data "
            f"{trained_gap:g} days apart; it forecasts daily prices only"
        )
