from __future__ import annotations

import numpy as np
import pytest

from deepkata.timeseries import baselines
from deepkata.timeseries.metrics import diebold_mariano, directional_accuracy, mae, mape, rmse, scores

CLOSE = np.array([10.0, 11.0, 13.0, 12.0, 12.0, 15.0])


def test_baselines_by_hand():
    origins = np.array([2, 3, 4])
    np.testing.assert_array_equal(baselines.persistence(CLOSE, origins, 1), [13, 12, 12])
    # drift: y_t + h (y_t - y_0) / t
    np.testing.assert_allclose(baselines.drift(CLOSE, origins, 2), [13 + 2 * 3 / 2, 12 + 2 * 2 / 3, 12 + 2 * 2 / 4])
    np.testing.assert_allclose(baselines.moving_average(CLOSE, origins, 1, 3), [34 / 3, 12, 37 / 3])
    with pytest.raises(ValueError, match="3-day moving average"):
        baselines.moving_average(CLOSE, np.array([1]), 1, 3)


def test_point_metrics_by_hand():
    f, a = np.array([1.0, 2.0, 4.0]), np.array([2.0, 2.0, 2.0])
    assert rmse(f, a) == pytest.approx(np.sqrt(5 / 3))
    assert mae(f, a) == pytest.approx(1.0)
    assert mape(f, a) == pytest.approx(100 * (0.5 + 0 + 1) / 3)


def test_directional_accuracy_counts_days_that_moved():
    today = np.array([10.0, 10.0, 10.0, 10.0])
    actual = np.array([11.0, 9.0, 10.0, 12.0])  # the third day did not move
    forecast = np.array([10.5, 10.5, 11.0, 10.0])  # right, wrong, -, no move forecast: wrong
    assert directional_accuracy(forecast, actual, today) == pytest.approx(1 / 3)
    assert directional_accuracy(forecast, today, today) is None
    assert scores(forecast, actual, today)["directional_accuracy"] == pytest.approx(1 / 3)


def dm_by_hand(e1, e2, h):
    d = [a * a - b * b for a, b in zip(e1, e2)]
    n = len(d)
    mean = sum(d) / n
    gamma = [sum((d[t] - mean) * (d[t - k] - mean) for t in range(k, n)) / n for k in range(h)]
    var = gamma[0] + 2 * sum(gamma[1:])
    dm = mean / (var / n) ** 0.5
    return dm * ((n + 1 - 2 * h + h * (h - 1) / n) / n) ** 0.5


@pytest.mark.parametrize("h", [1, 3])
def test_diebold_mariano_matches_the_formula_and_student_t(h):
    from scipy import stats

    rng = np.random.default_rng(0)
    e2 = rng.normal(size=60)
    e1 = 0.8 * e2 + rng.normal(scale=0.3, size=60)
    res = diebold_mariano(e1, e2, horizon=h)
    expected = dm_by_hand(e1.tolist(), e2.tolist(), h)
    assert res.statistic == pytest.approx(expected, rel=1e-12)
    assert res.p_value == pytest.approx(2 * stats.t.sf(abs(expected), df=59), rel=1e-12)
    swapped = diebold_mariano(e2, e1, horizon=h)
    assert swapped.statistic == pytest.approx(-res.statistic) and swapped.p_value == pytest.approx(res.p_value)


def test_diebold_mariano_edge_cases():
    e = np.array([1.0, -2.0, 0.5, 0.1])
    assert diebold_mariano(e, e).p_value == 1.0
    clearly_better = diebold_mariano(np.full(200, 0.1) * np.sign(np.sin(np.arange(200))), np.random.default_rng(1).normal(size=200))
    assert clearly_better.statistic < 0 and clearly_better.p_value < 1e-6
    with pytest.raises(ValueError, match="at least 3 days"):
        diebold_mariano(e[:2], e[:2])
