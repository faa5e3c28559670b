"""``deepkata forecast``: the next close from a finished ``fx-forecast`` run."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from deepkata.core import records
from deepkata.core.errors import UserError

if TYPE_CHECKING:
    from deepkata.timeseries.ohlc import OHLC


def _series(config: dict, data: Path | None, features: tuple[str, ...]) -> OHLC:
    """The series to forecast from: --data, else the data the run was trained on, read as the run
    read its data (its bad_rows and close_column)."""
    from deepkata.timeseries.ohlc import read_ohlc
    from deepkata.timeseries.synthetic import synthetic_ohlc

    settings = config["config"]
    path = data if data is not None else config.get("data")
    if path is None:
        return synthetic_ohlc(int(config["seed"]), int(settings["synthetic_days"]))
    return read_ohlc(path, require=features, bad_rows=settings.get("bad_rows", "error"), close_column=settings.get("close_column"))


def forecast(
    run_dir: Annotated[Path, typer.Option("--run", help="A finished fx-forecast run folder.")],
    data: Annotated[Path | None, typer.Option("--data", help="A CSV to forecast from, read as the run read its own (bad_rows, close_column); default: the run's data.")] = None,
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
    series = _series(config, data, model.config.columns)
    date, value = model.forecast(series)
    warning = model.range_warning(series)
    if warning is not None:
        print(warning, file=sys.stderr)
    result = {
        "date": str(date),
        "close": round(value, 4),
        "horizon_days": model.config.horizon,
        "last_date": str(series.dates[-1]),
        "last_close": float(series.close[-1]),
        "model": model.config.cell.upper(),
        "data": series.source,
        "warning": warning,
    }
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(
            f"{result['date']}  {value:.3f}   ({result['model']}, {model.config.horizon} trading day(s) after "
            f"{result['last_date']}, whose close was {result['last_close']:.3f}; data: {series.source})"
        )
