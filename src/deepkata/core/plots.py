"""Figure helpers: matplotlib figures built without pyplot, so no global state or display."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def figure(nrows: int = 1, ncols: int = 1, *, width: float = 6.4, height: float = 4.0, **kwargs: Any) -> tuple[Figure, Any]:
    """A figure of ``nrows`` x ``ncols`` panels, each ``width`` x ``height`` inches."""
    from matplotlib.figure import Figure  # imported here: matplotlib takes a second to load

    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=True, **kwargs)
    return fig, axes


def moving_average(x: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over ``window`` values (fewer at the start); NaNs are skipped."""
    x = np.asarray(x, dtype=np.float64)
    ok = np.isfinite(x)
    sums = np.concatenate([[0.0], np.cumsum(np.where(ok, x, 0.0))])
    counts = np.concatenate([[0], np.cumsum(ok)])
    idx = np.arange(1, len(x) + 1)
    lo = np.maximum(idx - window, 0)
    n = counts[idx] - counts[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (sums[idx] - sums[lo]) / np.maximum(n, 1), np.nan)


def scale_for(values: Any, *, min_span: float = 20.0) -> str:
    """``"log"`` when the values are positive and span at least a factor ``min_span``, else ``"linear"``.

    A log axis over 61.5–62.4 has no decade in view and labels its ticks 6.15×10¹; a linear one reads.
    """
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0 or x.min() <= 0:
        return "linear"
    return "log" if x.max() / x.min() >= min_span else "linear"


def integer_ticks(ax: Any, axis: str = "x") -> None:
    """Ticks on whole numbers only (epochs, games), never 1.5."""
    from matplotlib.ticker import MaxNLocator

    (ax.xaxis if axis == "x" else ax.yaxis).set_major_locator(MaxNLocator(integer=True))
