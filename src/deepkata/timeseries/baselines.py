"""The forecasts a model has to beat, for origin days t and horizon h, from the past alone.

Hyndman & Athanasopoulos, *Forecasting: Principles and Practice* (3rd ed.), 5.2:

    persistence (naive):  y_{t+h} = y_t                                  "tomorrow = today"
    drift:                y_{t+h} = y_t + h (y_t - y_0) / t             the average change so far
    moving average:       y_{t+h} = mean(y_{t-k+1} .. y_t)
"""

from __future__ import annotations

import numpy as np


def persistence(close: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    return close[origins]


def drift(close: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    if np.any(origins < 1):
        raise ValueError("drift needs at least one day before each origin")
    slope = (close[origins] - close[0]) / origins
    return close[origins] + horizon * slope


def moving_average(close: np.ndarray, origins: np.ndarray, horizon: int, days: int) -> np.ndarray:
    if np.any(origins < days - 1):
        raise ValueError(f"a {days}-day moving average needs {days} days up to each origin")
    sums = np.concatenate([[0.0], np.cumsum(close)])
    return (sums[origins + 1] - sums[origins + 1 - days]) / days
