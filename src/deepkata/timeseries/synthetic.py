"""A generated daily OHLC series like USD/JPY 2007-2018, so the forecasting kata runs offline.

Business days from 2007-04-02, the close following geometric Brownian motion whose drift and
volatility switch between regimes (a calm drift, a crisis-like slide, a rally), held inside a
band around the course file's level (75..126 yen; daily log-return s.d. 0.0067) by a weak pull
towards 100:

    log S_{t+1} = log S_t + mu_r - kappa (log S_t - log 100) + sigma_r eps_t,   eps_t ~ N(0, 1)

The regime r changes with probability 1/250 a day. Each day opens near the previous close,
and high and low extend beyond open and close by half-normal amounts. It is synthetic — every
report built on it says so — and a random walk at heart, so persistence is hard to beat on it,
which is also true of the real series. The pull makes it slightly predictable far from 100
(a drift of 0.1% a day at 120 yen, against a daily s.d. of about 0.65%).
"""

from __future__ import annotations

import numpy as np

from deepkata.timeseries.ohlc import OHLC

# regime: daily drift mu, daily volatility sigma
REGIMES = np.array(
    [
        [0.0000, 0.0042],  # calm
        [-0.0006, 0.0085],  # slide, crisis-like volatility
        [0.0007, 0.0058],  # rally
    ]
)
SWITCH = 1 / 250  # daily probability of a regime change
KAPPA = 0.005  # pull towards the level 100: keeps seeds 0-9 within about 70..145 yen
START = np.datetime64("2007-04-02")


def synthetic_ohlc(seed: int, days: int = 2925, start_price: float = 117.84) -> OHLC:
    """``days`` business days of generated USD/JPY-like prices, reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    regime = 0
    log_close = np.empty(days)
    log_close[0] = np.log(start_price)
    regimes = np.empty(days, dtype=int)
    regimes[0] = regime
    for t in range(1, days):
        if rng.random() < SWITCH:
            regime = int(rng.choice([r for r in range(len(REGIMES)) if r != regime]))
        regimes[t] = regime
        mu, sigma = REGIMES[regime]
        # log S_{t+1} = log S_t + mu - kappa (log S_t - log 100) + sigma eps
        log_close[t] = log_close[t - 1] + mu - KAPPA * (log_close[t - 1] - np.log(100.0)) + sigma * rng.standard_normal()
    close = np.exp(log_close)
    sigma_day = REGIMES[regimes, 1] * close
    # the open sits near the previous close; the first day opens at its close
    open_ = np.concatenate([[close[0]], close[:-1] + 0.1 * sigma_day[1:] * rng.standard_normal(days - 1)])
    high = np.maximum(open_, close) + np.abs(rng.standard_normal(days)) * 0.5 * sigma_day
    low = np.minimum(open_, close) - np.abs(rng.standard_normal(days)) * 0.5 * sigma_day
    dates = np.busday_offset(START, np.arange(days), roll="forward")
    rounded = [np.round(a, 3) for a in (open_, high, low, close)]
    return OHLC(dates, *rounded, source=f"synthetic USD/JPY-like series (seed {seed})", notes=("generated, not market data",))
