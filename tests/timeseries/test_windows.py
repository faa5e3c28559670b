"""Windows and scalers: aligned targets, and no value after the split point used in training."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepkata.timeseries.synthetic import synthetic_ohlc
from deepkata.timeseries.windows import prepare, split_point

SERIES = synthetic_ohlc(0, days=400)
FEATS = SERIES.features(("open", "high", "low", "close"))


def cut(features=FEATS, close=SERIES.close, **kw):
    args = {"n_train": 320, "window": 20, "horizon": 1, "target": "level", "valid_fraction": 0.1} | kw
    return prepare(features, close, **args)


@pytest.mark.parametrize("target", ["level", "log-return"])
@pytest.mark.parametrize("horizon", [1, 5])
@given(day=st.integers(320, 399), factor=st.floats(0.2, 5.0))
@settings(max_examples=15, deadline=None)
def test_no_look_ahead_changing_any_later_value_changes_no_training_input(target, horizon, day, factor):
    """Changing any price on or after the split point changes neither scaler nor any training window."""
    base = cut(target=target, horizon=horizon)
    feats, close = FEATS.copy(), SERIES.close.copy()
    feats[day] *= factor
    close[day] *= factor
    other = cut(feats, close, target=target, horizon=horizon)
    for name in ("lo", "hi"):
        np.testing.assert_array_equal(getattr(base.scaler, name), getattr(other.scaler, name))
    assert base.target_scaler == other.target_scaler
    for part in ("train", "valid"):
        a, b = getattr(base, part), getattr(other, part)
        np.testing.assert_array_equal(a.x, b.x)
        np.testing.assert_array_equal(a.y, b.y)
        assert np.all(a.origins + horizon < 320)


def test_windows_end_today_and_targets_are_h_days_later():
    p = cut(horizon=3)
    t = p.train.origins[7]
    np.testing.assert_allclose(p.train.x[7, -1], p.scaler.transform(FEATS[t : t + 1])[0])
    np.testing.assert_allclose(p.train.x[7, 0], p.scaler.transform(FEATS[t - 19 : t - 18])[0])
    # level targets back to yen are the close 3 days after the origin
    price = p.target_scaler.to_price(p.test.y, SERIES.close[p.test.origins])
    np.testing.assert_allclose(price, SERIES.close[p.test.origins + 3], rtol=1e-12)


def test_log_return_targets_come_back_to_the_price():
    p = cut(target="log-return", horizon=2)
    price = p.target_scaler.to_price(p.test.y, SERIES.close[p.test.origins])
    np.testing.assert_allclose(price, SERIES.close[p.test.origins + 2], rtol=1e-12)
    train_y = p.train.y
    assert abs(train_y.mean()) < 0.2 and 0.8 < train_y.std() < 1.2  # z-scored on the training period


def test_test_targets_cover_the_test_period_and_validation_is_the_end_of_training():
    p = cut()
    assert p.test.origins[0] + 1 == 320 and p.test.origins[-1] + 1 == 399
    assert len(p.test) == 400 - 320
    assert p.valid.origins.min() > p.train.origins.max()
    assert len(p.valid) == round((320 - 1 - 19) * 0.1)
    assert split_point(2925, 0.8) == 2340
    with pytest.raises(ValueError, match="no training or no test days"):
        split_point(10, 0.05)
