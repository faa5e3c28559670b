"""``deepkata forecast``: the next close from a finished ``fx-forecast`` run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from deepkata.core import records
from deepkata.core.errors import UserError

if TYPE_CHECKING:
    from deepkata.timeseries.ohlc import OHLC


def _series(run_dir: Path, config: dict, data: Path | None, features: tuple[str, ...]) -> OHLC:
    """The series to forecast from: --data, else the data the run was trained on."""
    from deepkata.timeseries.ohlc import read_ohlc
    from deepkata.timeseries.synthetic import synthetic_ohlc

    if data is not None:
        return read_ohlc(data, require=features)
    if config.get("data"):
        return read_ohlc(config["data"], require=features)
    return synthetic_ohlc(int(config["seed"]), int(config["config"]["synthetic_days"]))


def forecast(
    run_dir: Annotated[Path, typer.Option("--run", help="A finished fx-forecast run folder.")],
    data: Annotated[Path | None, typer.Option("--data", help="An OHLC CSV to forecast from (default: the run's data).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    device: Annotated[str, typer.Option("--device", help="Where the model runs: auto, cpu, cuda or cuda:N.")] = "auto",
) -> None:
    """Print the forecast close after the last day of the data, from a trained fx-forecast run."""
    # PyTorch and the model code load here, not when the deepkata command starts
    from deepkata.core import device as device_mod
    from deepkata.timeseries import forecast as forecast_mod

    where = device_mod.resolve(device)
    if not (run_dir / records.CONFIG).is_file():
        raise UserError(f"{run_dir}: not a run folder (no {records.CONFIG})")
    config = records.read_json(run_dir / records.CONFIG)
    if config.get("kata") != "fx-forecast":
        raise UserError(f"{run_dir}: a run of {config.get('kata')}, not of fx-forecast")
    path = run_dir / "forecaster.pt"
    if not path.is_file():
        raise UserError(f"{run_dir}: no forecaster.pt; the run did not finish (continue it with: deepkata resume {run_dir})")
    model = forecast_mod.load(path, where)
    series = _series(run_dir, config, data, model.config.columns)
    date, value = model.forecast(series)
    result = {
        "date": str(date),
        "close": round(value, 4),
        "horizon_days": model.config.horizon,
        "last_date": str(series.dates[-1]),
        "last_close": float(series.close[-1]),
        "model": model.config.cell.upper(),
        "data": series.source,
    }
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(
            f"{result['date']}  {value:.3f}   ({result['model']}, {model.config.horizon} trading day(s) after "
            f"{result['last_date']}, whose close was {result['last_close']:.3f}; data: {series.source})"
        )
