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
from deepkata.timeseries.synthetic import synthetic_ohlc
from deepkata.timeseries.windows import prepare
from tests.conftest import resume_run, run_kata

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
    assert not any((tmp_path / "runs" / "fx-forecast").iterdir())


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
