"""Point-forecast accuracy, and whether one forecast is really better than another.

Errors e_t = forecast_t - actual_t on the same days, in the series' unit (yen):

    RMSE = sqrt(mean e^2)     MAE = mean |e|     MAPE = 100 mean |e / actual|   (%)
    directional accuracy = share of days where sign(forecast - today) = sign(actual - today),
                           over the days the actual price moved (a forecast of no move is wrong)

Diebold & Mariano, "Comparing predictive accuracy" (1995), with the small-sample correction of
Harvey, Leybourne & Newbold (1997). With the loss differential d_t = e1_t^2 - e2_t^2 and its
autocovariances gamma_k,

    DM  = mean(d) / sqrt((gamma_0 + 2 sum_{k=1}^{h-1} gamma_k) / n)
    DM* = DM sqrt((n + 1 - 2h + h (h - 1) / n) / n),     p = 2 P(T_{n-1} > |DM*|)

A negative DM* means forecast 1 has the smaller squared errors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def rmse(forecast: np.ndarray, actual: np.ndarray) -> float:
    return float(np.sqrt(np.mean((forecast - actual) ** 2)))


def mae(forecast: np.ndarray, actual: np.ndarray) -> float:
    return float(np.mean(np.abs(forecast - actual)))


def mape(forecast: np.ndarray, actual: np.ndarray) -> float:
    return float(100.0 * np.mean(np.abs((forecast - actual) / actual)))


def directional_accuracy(forecast: np.ndarray, actual: np.ndarray, today: np.ndarray) -> float | None:
    """Share of days with a move whose direction the forecast got right; None if nothing moved."""
    moved = actual != today
    if not np.any(moved):
        return None
    return float(np.mean(np.sign(forecast[moved] - today[moved]) == np.sign(actual[moved] - today[moved])))


def scores(forecast: np.ndarray, actual: np.ndarray, today: np.ndarray) -> dict[str, float | None]:
    return {
        "rmse": rmse(forecast, actual),
        "mae": mae(forecast, actual),
        "mape": mape(forecast, actual),
        "directional_accuracy": directional_accuracy(forecast, actual, today),
    }


@dataclass(frozen=True)
class DieboldMariano:
    statistic: float  # DM* (HLN-corrected); negative: forecast 1 is better
    p_value: float  # two-sided
    mean_loss_difference: float  # mean(e1^2 - e2^2)


def diebold_mariano(e1: np.ndarray, e2: np.ndarray, horizon: int = 1) -> DieboldMariano:
    """Test equal accuracy of two forecasts from their errors on the same days (squared loss)."""
    from scipy import stats

    d = np.asarray(e1, dtype=np.float64) ** 2 - np.asarray(e2, dtype=np.float64) ** 2
    n = len(d)
    if n < 3:
        raise ValueError(f"the Diebold-Mariano test needs at least 3 days, got {n}")
    mean = float(d.mean())
    dev = d - mean
    # gamma_k = (1/n) sum_t dev_t dev_{t-k}
    gammas = [float(dev[k:] @ dev[: n - k]) / n for k in range(horizon)]
    variance = gammas[0] + 2.0 * sum(gammas[1:])
    if variance <= 0:
        return DieboldMariano(0.0, 1.0, mean)  # identical losses: no evidence either way
    dm = mean / np.sqrt(variance / n)
    # Harvey, Leybourne & Newbold's correction, compared with Student's t on n - 1 degrees of freedom
    dm_star = dm * np.sqrt((n + 1 - 2 * horizon + horizon * (horizon - 1) / n) / n)
    p = 2.0 * float(stats.t.sf(abs(dm_star), df=n - 1))
    return DieboldMariano(float(dm_star), p, mean)
