"""The time-series katas: importing this package registers them."""

from deepkata.timeseries.katas import fx_forecast

__all__ = ["fx_forecast"]
