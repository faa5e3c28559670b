"""The fx-forecast kata and `deepkata forecast`, end to end on small generated data."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from deepkata.core import records, runner
from deepkata.core.errors import UserError
from deepkata.core.registry import get_kata
from deepkata.timeseries import forecast
from deepkata.timeseries.synthetic import synthetic_ohlc

KATA = get_kata("fx-forecast")
SMALL = ["epochs=3", "window=10", "hidden=8", "synthetic_days=400", "batch=16"]


def run(tmp_path, sets=(), data=None, **kwargs):
    cfg, overrides = runner.prepare(KATA, "default", [*SMALL, *sets])
    return runner.execute(KATA, cfg, preset="default", seed=0, root=tmp_path, overrides=overrides, quiet=True, data=data, **kwargs)


def write_csv(path, series, every=1, header="日付,始値,高値,安値,終値", columns=("open", "high", "low", "close")):
    lines = [header]
    for k in range(0, len(series), every):
        date = str(series.dates[k]).replace("-", "/")
        lines.append(",".join([date, *(f"{getattr(series, c)[k]:.3f}" for c in columns)]))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_run_scores_the_model_and_the_baselines_on_the_same_days(tmp_path):
    res = run(tmp_path)
    m = res.result["metrics"]
    assert res.status == "completed"
    assert m["test/days"] == 400 - 320
    for who in ("model", "persistence", "drift", "moving_average"):
        assert m[f"test/{who}/rmse"] > 0
    assert m["test/persistence/directional_accuracy"] is None
    assert m["test/rmse_ratio"] == pytest.approx(m["test/model/rmse"] / m["test/persistence/rmse"])
    assert 0 <= m["test/dm_p_value"] <= 1
    report = (res.dir / "report.md").read_text()
    assert "persistence" in report and "synthetic, not market data" in report
    assert any(word in report.split("## Summary")[1][:400] for word in ("beats persistence", "does not beat persistence", "does not reliably beat"))
    for name in ("forecast.png", "residuals.png", "training.png", "forecaster.pt"):
        assert (res.dir / name).exists()


def test_interrupted_training_resumes_to_the_same_final_weights(tmp_path, interrupt_at_checkpoint):
    whole = run(tmp_path / "whole")
    interrupt_at_checkpoint(2)  # after epoch 2 of 3
    with pytest.raises(runner.Interrupted) as e:
        run(tmp_path / "cut", checkpoint_interval=0)
    resumed = runner.resume(e.value.run_dir, quiet=True)
    a = forecast.load(whole.dir / "forecaster.pt").model.state_dict()
    b = forecast.load(resumed.dir / "forecaster.pt").model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.result["metrics"] == whole.result["metrics"]


def test_walk_forward_refits_and_early_stopping(tmp_path):
    res = run(tmp_path, ["refit_every=30", "valid_fraction=0.2", "patience=1", "epochs=6"])
    m = res.result["metrics"]
    assert m["test/days"] == 80
    logged = records.read_metrics(res.dir / "metrics.jsonl")
    assert {r["fold"] for r in logged} == {0, 1, 2}
    assert all("valid/loss" in r for r in logged)


def test_data_from_a_csv_and_the_forecast_command(tmp_path, cli):
    series = synthetic_ohlc(3, days=400)
    csv = write_csv(tmp_path / "prices.csv", series)
    res = run(tmp_path / "runs", ["features=ohlc"], data=csv)
    assert res.result["data"] == str(csv.resolve())
    assert str(csv.resolve()) in (res.dir / "report.md").read_text()

    code, out, _ = cli("forecast", "--run", str(res.dir), "--json")
    assert code == 0
    got = json.loads(out)
    assert got["last_date"] == str(series.dates[-1]) and got["date"] == str(np.busday_offset(series.dates[-1], 1, roll="forward"))
    assert 0.5 * series.close[-1] < got["close"] < 2 * series.close[-1]

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
    other = runner.execute(get_kata("binary-addition"), get_kata("binary-addition").preset_config("smoke"), preset="smoke", seed=0, root=tmp_path, quiet=True)
    code, _, err = cli("forecast", "--run", str(other.dir))
    assert code == 2 and "not of fx-forecast" in err


def test_bad_data_leaves_no_run_behind(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("日付,始値,高値,安値,終値\n2007/04/02,1,2,1,1\n2007/04/03,1,x,1,1\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"bad.csv: line 3: column 高値: expected a number, got 'x'"):
        run(tmp_path / "runs", data=bad)
    assert not any((tmp_path / "runs" / "fx-forecast").iterdir())


def test_forecaster_file_loads_with_weights_only(tmp_path):
    res = run(tmp_path)
    state = torch.load(res.dir / "forecaster.pt", weights_only=True)
    assert state["format"] == "deepkata-forecaster-1"
    f = forecast.load(res.dir / "forecaster.pt")
    assert f.setup.window == 10 and f.setup.features == ("close",)
