"""From a price series to supervised windows, with no look-ahead.

Day t is a forecast *origin*: everything up to and including t is known, and the model
forecasts the close of day t+h. Its input is the window of the last ``window`` days of the
chosen features, scaled; its target is the close at t+h (``level``) or the log-return
log(close_{t+h} / close_t) (``log-return``).

    x_t = scale(features[t-window+1 .. t])      (window, F)
    y_t = scale(close[t+h])  or  (log(close[t+h] / close[t]) - mean) / sd

The first ``n_train`` days are the training period (80% in the course, chronological). The
scalers are fitted on the training period alone, and a training origin needs its target inside
it too (t + h < n_train), so no value after the split point reaches the scalers or any training
window. Test origins have their targets in the test period; their inputs may reach back into
the training period, which is the past and known at forecast time. The validation slice, if any,
is the last training origins, held out from the fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Target = Literal["level", "log-return"]


@dataclass(frozen=True)
class MinMaxScaler:
    """x -> (x - lo) / (hi - lo) per column, fitted on the training period only."""

    lo: np.ndarray  # (F,)
    hi: np.ndarray  # (F,)

    @classmethod
    def fit(cls, x: np.ndarray) -> MinMaxScaler:
        lo, hi = x.min(axis=0), x.max(axis=0)
        if np.any(hi <= lo):
            raise ValueError("a column is constant over the training period; it cannot be min-max scaled")
        return cls(lo, hi)

    def transform(self, x: np.ndarray) -> np.ndarray:
        return (x - self.lo) / (self.hi - self.lo)

    def inverse(self, x: np.ndarray, column: int) -> np.ndarray:
        return x * (self.hi[column] - self.lo[column]) + self.lo[column]


@dataclass(frozen=True)
class TargetScaler:
    """How targets are scaled: the close's min-max for levels, a z-score for log-returns."""

    target: Target
    a: float  # level: lo; log-return: mean
    b: float  # level: hi - lo; log-return: standard deviation

    def to_price(self, y: np.ndarray, close_at_origin: np.ndarray) -> np.ndarray:
        """Scaled targets back to prices in the series' unit (yen)."""
        raw = y * self.b + self.a
        return raw if self.target == "level" else close_at_origin * np.exp(raw)


@dataclass(frozen=True)
class Windows:
    """Supervised examples: x (M, window, F), y (M,), and each one's origin day t."""

    x: np.ndarray
    y: np.ndarray
    origins: np.ndarray  # (M,) indices t into the series

    def __len__(self) -> int:
        return len(self.origins)

    def take(self, mask: np.ndarray) -> Windows:
        return Windows(self.x[mask], self.y[mask], self.origins[mask])


@dataclass(frozen=True)
class Prepared:
    scaler: MinMaxScaler
    target_scaler: TargetScaler
    train: Windows
    valid: Windows  # the last training origins, held out (may be empty)
    test: Windows


def split_point(n: int, train_fraction: float) -> int:
    """Days in the training period: the course's int(n * 0.8)."""
    n_train = int(n * train_fraction)
    if not 0 < n_train < n:
        raise ValueError(f"a train fraction of {train_fraction} leaves no training or no test days out of {n}")
    return n_train


def windows(features: np.ndarray, targets: np.ndarray, origins: np.ndarray, window: int) -> Windows:
    """x_t = features[t-window+1 .. t] for each origin t, with targets[t]."""
    idx = origins[:, None] + np.arange(-window + 1, 1)[None, :]  # (M, window)
    return Windows(features[idx], targets[origins], origins)


def prepare(
    features: np.ndarray,
    close: np.ndarray,
    *,
    n_train: int,
    window: int,
    horizon: int,
    target: Target,
    valid_fraction: float = 0.0,
    test_stop: int | None = None,
) -> Prepared:
    """Scale with the training period alone and cut training, validation and test windows.

    ``features`` (N, F) are prices; ``close`` (N,) the series being forecast. Test origins run
    until their target reaches ``test_stop`` (default: the end of the series).
    """
    n = len(close)
    test_stop = n if test_stop is None else test_stop
    if window < 1 or horizon < 1:
        raise ValueError("window and horizon must be at least 1")
    scaler = MinMaxScaler.fit(features[:n_train])
    scaled = scaler.transform(features)
    # targets indexed by origin t: known for t + h < N
    origin_all = np.arange(n - horizon)
    if target == "level":
        close_scaler = MinMaxScaler.fit(close[:n_train, None])
        raw = close_scaler.transform(close[:, None])[:, 0]
        y_by_origin = np.full(n, np.nan)
        y_by_origin[origin_all] = raw[origin_all + horizon]
        target_scaler = TargetScaler("level", float(close_scaler.lo[0]), float(close_scaler.hi[0] - close_scaler.lo[0]))
    else:
        log_ret = np.full(n, np.nan)
        log_ret[origin_all] = np.log(close[origin_all + horizon] / close[origin_all])
        train_returns = log_ret[: n_train - horizon]  # returns whose end lies in the training period
        mean, sd = float(np.mean(train_returns)), float(np.std(train_returns))
        y_by_origin = (log_ret - mean) / sd
        target_scaler = TargetScaler("log-return", mean, sd)
    first = window - 1  # the first origin with a full window
    train_origins = np.arange(first, n_train - horizon)  # t + h <= n_train - 1
    if len(train_origins) < 2:
        raise ValueError(f"the training period ({n_train} days) is too short for a window of {window}")
    test_origins = np.arange(max(first, n_train - horizon), test_stop - horizon)
    all_train = windows(scaled, y_by_origin, train_origins, window)
    n_valid = int(round(len(train_origins) * valid_fraction))
    keep = np.arange(len(train_origins)) < len(train_origins) - n_valid
    return Prepared(
        scaler, target_scaler, all_train.take(keep), all_train.take(~keep), windows(scaled, y_by_origin, test_origins, window)
    )
