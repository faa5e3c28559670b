"""The fx-forecast kata and `deepkata forecast`, end to end on small generated data."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from deepkata.core import checkpoint, records, runner
from deepkata.core.errors import UserError
from deepkata.timeseries import forecast
from deepkata.timeseries.metrics import diebold_mariano
from deepkata.timeseries.ohlc import OHLC
from deepkata.timeseries.synthetic import synthetic_ohlc
from deepkata.timeseries.windows import MinMaxScaler, TargetScaler, prepare
from tests.conftest import NEEDS_BF16_LSTM, resume_run, run_kata

SMALL = ["epochs=3", "model.window=10", "model.hidden=8", "synthetic_days=400", "batch=16"]


def fx(tmp_path, *sets, **kwargs):
    """fx-forecast's default preset made small: 400 days, 320 of them for training."""
    return run_kata("fx-forecast", tmp_path, preset="default", sets=[*SMALL, *sets], **kwargs)


def write_csv(path, series, every=1, header="日付,始値,高値,安値,終値", columns=("open", "high", "low", "close")):
    lines = [header]
    for k in range(0, len(series), every):
        date = str(series.dates[k]).replace("-", "/")
        lines.append(",".join([date, *(f"{getattr(series, c)[k]:.3f}" for c in columns)]))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def rmse(forecast, actual):
    return float(np.sqrt(np.mean((forecast - actual) ** 2)))


def test_a_run_scores_the_model_and_the_baselines_on_the_same_days(tmp_path):
    res = fx(tmp_path)
    m = res.result["metrics"]
    assert res.status == "completed"
    # the test days are the last 80 of 400; each score recomputed here from the series alone
    close = synthetic_ohlc(0, 400).close
    origins = np.arange(319, 399)  # day t forecasts t + 1; the last target is day 399
    actual = close[origins + 1]
    assert m["test/days"] == 80
    assert m["test/persistence/rmse"] == pytest.approx(rmse(close[origins], actual), rel=1e-12)
    assert m["test/drift/rmse"] == pytest.approx(rmse(close[origins] + (close[origins] - close[0]) / origins, actual), rel=1e-12)
    ma = np.array([close[t - 4 : t + 1].mean() for t in origins])
    assert m["test/moving_average/rmse"] == pytest.approx(rmse(ma, actual), rel=1e-12)
    assert m["test/persistence/directional_accuracy"] is None
    # the saved forecaster reproduces the model's scores and the Diebold-Mariano test
    f = forecast.load(res.dir / "forecaster.pt")
    prepared = prepare(close[:, None], close, n_train=320, window=10, horizon=1, target="level")
    assert np.array_equal(prepared.test.origins, origins)
    with torch.no_grad():
        scaled = f.model(torch.tensor(prepared.test.x, dtype=torch.float32))[0][:, 0].double().numpy()
    model = f.target_scaler.to_price(scaled, close[origins])
    assert m["test/model/rmse"] == pytest.approx(rmse(model, actual), rel=1e-9)
    assert m["test/rmse_ratio"] == pytest.approx(m["test/model/rmse"] / m["test/persistence/rmse"])
    dm = diebold_mariano(model - actual, close[origins] - actual)
    assert (m["test/dm_statistic"], m["test/dm_p_value"]) == pytest.approx((dm.statistic, dm.p_value), rel=1e-6)
    assert m["test/beats_persistence"] == int(m["test/rmse_ratio"] < 1 and dm.p_value < 0.05)
    # the training curve in the log is the one the metrics summarize
    losses = [r["train/loss"] for r in records.read_metrics(res.dir / "metrics.jsonl")]
    assert len(losses) == m["train/epochs"] == 3 and (losses[0], losses[-1]) == (m["train/loss_first"], m["train/loss_last"])
    # the report's verdict is the one the numbers give
    summary = (res.dir / "report.md").read_text().split("## Summary")[1][:400]
    verdict = "does not beat" if m["test/rmse_ratio"] >= 1 else ("The LSTM beats" if m["test/beats_persistence"] else "does not reliably beat")
    assert verdict in summary and f"{m['test/model/rmse']:.4g} vs {m['test/persistence/rmse']:.4g} yen" in summary
    assert "synthetic, not market data" in (res.dir / "report.md").read_text()
    for name in ("forecast.png", "residuals.png", "training.png"):
        assert (res.dir / name).read_bytes()[:4] == b"\x89PNG"


def test_interrupted_training_resumes_to_the_same_final_weights(tmp_path, interrupt_at_checkpoint):
    whole = fx(tmp_path / "whole")
    interrupt_at_checkpoint(2)  # after epoch 2 of 3
    with pytest.raises(runner.Interrupted) as e:
        fx(tmp_path / "cut", checkpoint_interval=0)
    resumed = resume_run(e.value.run_dir)
    a = forecast.load(whole.dir / "forecaster.pt").model.state_dict()
    b = forecast.load(resumed.dir / "forecaster.pt").model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.result["metrics"] == whole.result["metrics"]
    assert records.read_metrics(resumed.dir / "metrics.jsonl") == records.read_metrics(whole.dir / "metrics.jsonl")


def test_walk_forward_refits_and_early_stopping(tmp_path):
    res = fx(tmp_path, "refit_every=30", "valid_fraction=0.2", "patience=1", "epochs=6")
    m = res.result["metrics"]
    assert m["test/days"] == 80  # folds of 30, 30 and 20 test days
    logged = records.read_metrics(res.dir / "metrics.jsonl")
    assert [r["fold"] for r in logged] == sorted(r["fold"] for r in logged) and {r["fold"] for r in logged} == {0, 1, 2}
    assert m["train/epochs"] == len(logged)
    for fold in range(3):
        valid = [r["valid/loss"] for r in logged if r["fold"] == fold]
        # patience 1: a fold stops after the first epoch that does not improve on the best so far
        worse = [e for e in range(1, len(valid)) if valid[e] >= min(valid[:e])]
        assert len(valid) == (worse[0] + 1 if worse else 6)
    # forecaster.pt holds the last fold's best epoch: its validation loss is that fold's lowest
    close = synthetic_ohlc(0, 400).close
    last = prepare(close[:, None], close, n_train=380, window=10, horizon=1, target="level", valid_fraction=0.2)
    f = forecast.load(res.dir / "forecaster.pt")
    with torch.no_grad():
        scaled = f.model(torch.tensor(last.valid.x, dtype=torch.float32))[0][:, 0].double().numpy()
    assert float(np.mean((scaled - last.valid.y) ** 2)) == pytest.approx(min(r["valid/loss"] for r in logged if r["fold"] == 2), rel=1e-12)


def test_walk_forward_resumes_with_the_best_epoch_it_had(tmp_path, interrupt_at_checkpoint):
    sets = ("refit_every=30", "valid_fraction=0.2", "patience=1", "epochs=6")
    whole = fx(tmp_path / "whole", *sets)
    interrupt_at_checkpoint(5)  # folds 0 and 1 done (one epoch in progress, then filed, each); fold 2 after epoch 1
    with pytest.raises(runner.Interrupted) as e:
        fx(tmp_path / "cut", *sets, checkpoint_interval=0)
    assert [r["fold"] for r in records.read_metrics(e.value.run_dir / "metrics.jsonl")] == [0, 0, 1, 1, 2]
    resumed = resume_run(e.value.run_dir)
    # fold 2 stops after epoch 2 and keeps epoch 1's weights, which only the checkpoint remembers
    a = forecast.load(whole.dir / "forecaster.pt").model.state_dict()
    b = forecast.load(resumed.dir / "forecaster.pt").model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.result["metrics"] == whole.result["metrics"]


@NEEDS_BF16_LSTM
def test_bf16_runs_the_forward_passes_in_bfloat16(tmp_path):
    fp32, bf16 = fx(tmp_path), fx(tmp_path, precision="bf16")
    a, b = fp32.result["metrics"], bf16.result["metrics"]
    assert bf16.result["precision"] == "bf16" and b["train/loss_last"] < b["train/loss_first"]
    assert b["train/loss_first"] != a["train/loss_first"]  # autocast changed the arithmetic
    assert b["test/model/rmse"] == pytest.approx(a["test/model/rmse"], rel=0.5)


def test_data_from_a_csv_and_the_forecast_command(tmp_path, cli):
    series = synthetic_ohlc(3, days=400)
    csv = write_csv(tmp_path / "prices.csv", series)
    res = fx(tmp_path / "runs", "model.features=ohlc", data=csv)
    assert res.result["data"] == str(csv.resolve())
    assert str(csv.resolve()) in (res.dir / "report.md").read_text()

    code, out, _ = cli("forecast", "--run", str(res.dir), "--json", "--device", "cpu")
    assert code == 0
    got = json.loads(out)
    assert got["last_date"] == str(series.dates[-1]) and got["date"] == str(np.busday_offset(series.dates[-1], 1, roll="forward"))
    # the network on the last 10 days of open, high, low and close (as written, 3 decimals), scaled as in training
    f = forecast.load(res.dir / "forecaster.pt")
    prices = np.round(np.stack([series.open, series.high, series.low, series.close], axis=1), 3)
    x = (prices[-10:] - f.scaler.lo) / (f.scaler.hi - f.scaler.lo)
    with torch.no_grad():
        scaled = f.model(torch.tensor(x[None], dtype=torch.float32))[0][0, 0].item()
    assert got["close"] == pytest.approx(scaled * f.target_scaler.b + f.target_scaler.a, abs=1e-4)
    assert f.config.columns == ("open", "high", "low", "close")

    code, _, err = cli("forecast", "--run", str(res.dir), "--device", "tpu")
    assert code == 2 and "expected auto, cpu, cuda or cuda:N" in err
    weekly = write_csv(tmp_path / "weekly.csv", series, every=5)
    code, _, err = cli("forecast", "--run", str(res.dir), "--data", str(weekly))
    assert code == 2 and "7 days apart (median)" in err and "daily" in err
    close_only = write_csv(tmp_path / "close.csv", series, header="Date,Close", columns=("close",))
    code, _, err = cli("forecast", "--run", str(res.dir), "--data", str(close_only))
    assert code == 2 and "missing column(s) open, high, low" in err
    short = write_csv(tmp_path / "short.csv", series.head(5))
    code, _, err = cli("forecast", "--run", str(res.dir), "--data", str(short))
    assert code == 2 and "reads windows of 10" in err


def test_forecast_refuses_runs_that_cannot_forecast(tmp_path, cli):
    code, _, err = cli("forecast", "--run", str(tmp_path))
    assert code == 2 and "not a run folder" in err
    other = run_kata("binary-addition", tmp_path)
    code, _, err = cli("forecast", "--run", str(other.dir))
    assert code == 2 and "not of fx-forecast" in err


def test_bad_data_leaves_no_run_behind(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("日付,始値,高値,安値,終値\n2007/04/02,1,2,1,1\n2007/04/03,1,x,1,1\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"bad.csv: line 3: column 高値: expected a number, got 'x'"):
        fx(tmp_path / "runs", data=bad)
    assert not (tmp_path / "runs").exists()  # no run folder, nor the folders above it


def test_forecaster_file_loads_with_weights_only_in_both_formats(tmp_path):
    res = fx(tmp_path)
    path = res.dir / "forecaster.pt"
    state = torch.load(path, weights_only=True)
    assert state["format"] == "deepkata-forecaster-2"
    f = forecast.load(path)
    assert f.config == forecast.ForecasterConfig(window=10, hidden=8) and f.config.columns == ("close",)
    # format 1 kept the config as "setup", with the feature columns listed
    old = checkpoint.load(path)
    old["format"] = "deepkata-forecaster-1"
    old["setup"] = {**old.pop("config"), "features": ["close"]}
    checkpoint.save(tmp_path / "v1.pt", old)
    g = forecast.load(tmp_path / "v1.pt")
    assert g.config == f.config
    assert all(torch.equal(g.model.state_dict()[k], v) for k, v in f.model.state_dict().items())


# --- a close-only series from FRED, tested from a date --------------------------------------------


def write_fred(path, series, holiday_every=20):
    """FRED's DEXJPUS as downloaded: DATE,DEXJPUS, close only, '.' on holidays (every 20th day here)."""
    lines = ["DATE,DEXJPUS"]
    for k, (day, close) in enumerate(zip(series.dates, series.close)):
        lines.append(f"{day},{'.' if k % holiday_every == 5 else f'{close:.4f}'}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_fred_series_trains_up_to_a_date_and_forecasts(tmp_path, cli):
    series = synthetic_ohlc(7, days=420)
    fred = write_fred(tmp_path / "DEXJPUS.csv", series)
    kept = np.array([k % 20 != 5 for k in range(420)])
    dates, close = series.dates[kept], np.round(series.close[kept], 4)  # 399 days
    test_from = str(dates[320])
    runs = tmp_path / "runs"
    # under bad_rows=error the first holiday stops the run, naming its line, and leaves no run folder
    code, _, err = cli("run", "fx-forecast", "--preset", "smoke", "--data", str(fred), "-o", str(runs), "-q")
    assert code == 2
    assert err.strip().endswith(f"{fred}: line 7: column DEXJPUS: missing value ('.'); to drop the rows without a value: --set bad_rows=drop")
    assert not list(runs.glob("fx-forecast/*"))
    code, out, err = cli("run", "fx-forecast", "--preset", "smoke", "--data", str(fred), "-o", str(runs), "-q", "--set", "bad_rows=drop", "--set", f"test_from={test_from}")
    assert code == 0, err
    run_dir = next(runs.glob("fx-forecast/*"))
    m = json.loads((run_dir / "result.json").read_text())["metrics"]
    assert m["test/days"] == 399 - 320  # every day from test_from on
    origins = np.arange(319, 398)
    assert m["test/persistence/rmse"] == pytest.approx(rmse(close[origins], close[origins + 1]), rel=1e-12)
    report = (run_dir / "report.md").read_text()
    summary = report.split("## Summary\n\n")[1].split("\n## ")[0]
    assert summary.startswith(f"Data: DEXJPUS.csv (`{fred}`): 399 days of closes from 2007-04-02 to {dates[-1]}, 21 bad row(s) dropped.")
    intro = report.split("**Status:**")[0]
    assert f"Data: DEXJPUS.csv (`{fred}`): 399 days of closes" in intro  # the opening names the file read
    assert "synthetic" not in intro and "synthetic" not in summary and "generated" not in summary
    assert f"320 training days up to {dates[319]}, 79 test days from {test_from} to {dates[-1]}" in report
    assert "the close is column 'DEXJPUS', the only numeric column besides the date" in report

    # the forecast reads the file as the run did (holidays dropped) and ends on its last day
    code, out, err = cli("forecast", "--run", str(run_dir), "--json", "--device", "cpu")
    assert code == 0, err
    got = json.loads(out)
    f = forecast.load(run_dir / "forecaster.pt")
    x = (close[-20:, None] - f.scaler.lo) / (f.scaler.hi - f.scaler.lo)
    with torch.no_grad():
        scaled = f.model(torch.tensor(x[None], dtype=torch.float32))[0][0, 0].item()
    assert (got["last_date"], got["last_close"]) == (str(dates[-1]), close[-1])
    assert got["close"] == pytest.approx(scaled * f.target_scaler.b + f.target_scaler.a, abs=1e-4)
    inside = close[-20:].min() >= f.scaler.lo[0] - 0.1 * (f.scaler.hi[0] - f.scaler.lo[0]) and close[-20:].max() <= f.scaler.hi[0] + 0.1 * (f.scaler.hi[0] - f.scaler.lo[0])
    assert (got["warning"] is None) == inside and (err == "") == inside

    # a window far above the training range is forecast with a one-line warning on stderr
    lifted = write_fred(tmp_path / "lifted.csv", OHLC(series.dates, None, None, None, series.close * 1.5, "lifted"))
    code, out, err = cli("forecast", "--run", str(run_dir), "--data", str(lifted))
    lo, hi, top = f.scaler.lo[0], f.scaler.hi[0], np.round(1.5 * series.close[kept], 4)[-20:].max()  # as written
    share = (top - hi) / (hi - lo)
    assert code == 0 and share > 0.1
    assert err == (
        f"warning: the last 20 days' close reaches {top:.4g}, outside the {lo:.4g}..{hi:.4g} the forecaster was trained "
        f"on by {share:.0%} of that range; the forecast extrapolates and may be far off\n"
    )
    assert out.startswith(str(np.busday_offset(dates[-1], 1, roll="forward")))


@pytest.mark.parametrize(
    "test_from, message",
    [
        ("2008/01/02", "test_from: expected a date as YYYY-MM-DD, got '2008/01/02'"),
        ("2008-02-30", "test_from: expected a date as YYYY-MM-DD, got '2008-02-30'"),
        ("2007-04-02", "test_from=2007-04-02: outside the series, whose days run from 2007-04-02 to 2008-11-07 ("),
        ("2008-11-08", "test_from=2008-11-08: outside the series, whose days run from 2007-04-02 to 2008-11-07 ("),
        ("2007-05-12", "test_from=2007-05-12: 30 training days (of 420 in "),  # a Saturday: the test starts on Monday, day 30
        ("2008-10-20", "test_from=2008-10-20: leaves 15 test days (of 420 in "),
    ],
)
def test_test_from_is_checked_against_the_series(tmp_path, test_from, message):
    csv = write_csv(tmp_path / "prices.csv", synthetic_ohlc(1, days=420))
    with pytest.raises(UserError) as e:
        fx(tmp_path / "runs", f"test_from={test_from}", data=csv)
    assert str(e.value).startswith(message)
    assert not list((tmp_path / "runs").glob("fx-forecast/*"))


def test_ohlc_features_on_a_close_only_series_are_refused(tmp_path):
    fred = write_fred(tmp_path / "DEXJPUS.csv", synthetic_ohlc(7, days=300))
    with pytest.raises(UserError) as e:
        fx(tmp_path / "runs", "bad_rows=drop", "model.features=ohlc", data=fred)
    assert str(e.value) == f"model.features=ohlc: {fred} has no open, high, low column (only close); train on the close alone: --set model.features=close"
    with pytest.raises(UserError, match="close_column=DEXJPUS: names a column of a --data file, and this run has no --data"):
        fx(tmp_path / "runs", "close_column=DEXJPUS")
    assert not list((tmp_path / "runs").glob("fx-forecast/*"))


@pytest.mark.parametrize(
    "window, warning",
    [
        ([100.0, 105.0, 108.0], None),
        ([101.0, 105.0, 110.9], None),  # 9% of the range above it: close enough
        ([100.0, 105.0, 111.5], "the last 3 days' close reaches 111.5, outside the 100..110 the forecaster was trained on by 15% of that range"),
        ([95.0, 100.0, 105.0], "the last 3 days' close reaches 95, outside the 100..110 the forecaster was trained on by 50% of that range"),
    ],
)
def test_range_warning_measures_the_last_window_against_the_training_range(window, warning):
    config = forecast.ForecasterConfig(window=3, hidden=2)
    model = forecast.ForecastTrainer(config, batch=1, lr=0.1, seed=0).model
    f = forecast.Forecaster(config, model, MinMaxScaler(np.array([100.0]), np.array([110.0])), TargetScaler("level", 100.0, 10.0), {})
    closes = np.array([200.0, *window])  # the day before the window is far out, and does not count
    series = OHLC(np.datetime64("2020-01-06") + np.arange(4), None, None, None, closes, "test")
    got = f.range_warning(series)
    assert got == (None if warning is None else f"warning: {warning}; the forecast extrapolates and may be far off")
