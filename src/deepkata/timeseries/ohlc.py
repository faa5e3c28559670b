"""Daily OHLC price series: reading, validating, and the series itself.

Reads the course's USD/JPY file and files like it:
- headers ``日付,始値,高値,安値,終値`` (the course's) or Date, Open, High, Low, Close in any case,
  in any order, with extra columns (Volume, Adj Close, ...) ignored;
- dates ``YYYY/MM/DD`` or ISO ``YYYY-MM-DD``;
- UTF-8 with or without a byte-order mark, or Shift-JIS (CP932), detected;
- numbers quoted with thousands separators, ``"1,234.5"``.

The caller says which price columns it needs (all four by default; the close alone for a
close-only model); the others are read when present. Every problem is reported on one line
naming the file, the line and the column: a missing column or cell, a non-numeric cell, a
duplicate date, High < Low, a price that is not positive. Rows out of date
order are sorted, and the series says so. With ``bad_rows="drop"`` the bad rows are dropped
instead and the series says how many and why. The file itself is only read.
"""

from __future__ import annotations

import datetime as dt
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from deepkata.core.errors import UserError

FIELDS = ("date", "open", "high", "low", "close")
PRICES = FIELDS[1:]
JAPANESE = {"日付": "date", "始値": "open", "高値": "high", "安値": "low", "終値": "close"}
DATE_FORMATS = ("%Y/%m/%d", "%Y-%m-%d")


@dataclass(frozen=True)
class OHLC:
    """A daily series, oldest first: dates strictly increasing, every price positive.

    The close is always there; open, high and low are None when the file had no such column.
    """

    dates: np.ndarray  # (N,) datetime64[D]
    open: np.ndarray | None  # (N,) float64
    high: np.ndarray | None
    low: np.ndarray | None
    close: np.ndarray
    source: str  # the file it came from, or what generated it
    notes: tuple[str, ...] = ()  # what reading did: encoding, sorting, dropped rows

    def __post_init__(self) -> None:
        n = len(self.dates)
        if any(getattr(self, f) is not None and len(getattr(self, f)) != n for f in PRICES):
            raise ValueError("every column needs one value per date")
        if n > 1 and not np.all(np.diff(self.dates.astype("int64")) > 0):
            raise ValueError("dates must be strictly increasing")

    def __len__(self) -> int:
        return len(self.dates)

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(f for f in PRICES if getattr(self, f) is not None)

    def features(self, names: tuple[str, ...]) -> np.ndarray:
        """The named price columns side by side, (N, F)."""
        missing = [name for name in names if getattr(self, name) is None]
        if missing:
            raise UserError(f"{self.source}: no {', '.join(missing)} column (it has {', '.join(self.columns)})")
        return np.stack([getattr(self, name) for name in names], axis=1)

    def head(self, n: int) -> OHLC:
        """The first ``n`` days."""
        cut = [None if getattr(self, f) is None else getattr(self, f)[:n] for f in PRICES]
        return OHLC(self.dates[:n], *cut, self.source, self.notes)


def decode(raw: bytes, path: Path) -> tuple[str, str]:
    """The text of a CSV file and the encoding found: UTF-8 (BOM or not) or Shift-JIS."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8"), "UTF-8 with BOM"
    try:
        return raw.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp932"), "Shift-JIS (CP932)"
    except UnicodeDecodeError as e:
        raise UserError(f"{path}: byte {e.start}: neither UTF-8 nor Shift-JIS text") from None


def _columns(header: list[str], path: Path, require: tuple[str, ...]) -> dict[str, int]:
    """Field -> position in the header, for the fields found; the required ones must be."""
    found: dict[str, int] = {}
    for i, name in enumerate(header):
        key = name.strip().lstrip("\ufeff")
        field = JAPANESE.get(key) or (key.lower() if key.lower() in FIELDS else None)
        if field is not None:
            if field in found:
                raise UserError(f"{path}: line 1: column {name!r}: {field} appears twice in the header")
            found[field] = i
    missing = [f for f in ("date", *require) if f not in found]
    if missing:
        raise UserError(
            f"{path}: line 1: missing column(s) {', '.join(missing)}; expected 日付,始値,高値,安値,終値 "
            f"or Date,Open,High,Low,Close (found: {', '.join(h.strip() for h in header)})"
        )
    return found


def _date(text: str) -> dt.date:
    for fmt in DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"expected a date as YYYY/MM/DD or YYYY-MM-DD, got {text!r}")


def _price(text: str) -> float:
    if not text:
        raise ValueError("missing value")
    try:
        value = float(text.replace(",", ""))
    except ValueError:
        raise ValueError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {text!r}")
    if value <= 0:
        raise ValueError(f"a price must be positive, got {text!r}")
    return value


def read_ohlc(path: str | Path, *, require: tuple[str, ...] = PRICES, bad_rows: Literal["error", "drop"] = "error") -> OHLC:
    """Read and check a daily OHLC CSV file; see the module docstring.

    ``require`` names the price columns that must be there; the close always must.
    """
    require = tuple(dict.fromkeys((*require, "close")))
    import pandas as pd

    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UserError(f"{path}: is a folder, expected a CSV file") from None
    text, encoding = decode(raw, path)
    try:
        table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, skip_blank_lines=False, header=None)
    except pd.errors.ParserError as e:
        raise UserError(f"{path}: not a CSV file ({str(e).strip()})") from None
    except pd.errors.EmptyDataError:
        raise UserError(f"{path}: empty file, expected a header and daily rows") from None
    header = [str(h) for h in table.iloc[0]]
    where = _columns(header, path, require)
    present = tuple(f for f in PRICES if f in where)
    rows: list[tuple[int, dt.date, tuple[float, ...]]] = []
    problems: list[str] = []
    seen: dict[dt.date, int] = {}
    for i, cells in enumerate(table.iloc[1:].itertuples(index=False), start=2):  # line 1 is the header
        values = [c.strip() if isinstance(c, str) else "" for c in cells]  # short rows give NaN
        if not any(values):
            continue  # a blank line
        try:
            problem_col = "date"
            date = _date(values[where["date"]])
            prices = {}
            for field in present:
                problem_col = field
                prices[field] = _price(values[where[field]])
            problem_col = "high"
            if "high" in prices and "low" in prices and prices["high"] < prices["low"]:
                raise ValueError(f"High {prices['high']:g} < Low {prices['low']:g}")
            problem_col = "date"
            if date in seen:
                raise ValueError(f"duplicate date {date.isoformat()} (first on line {seen[date]})")
        except ValueError as e:
            message = f"{path}: line {i}: column {header[where[problem_col]].strip()}: {e}"
            if bad_rows == "error":
                raise UserError(message) from None
            problems.append(message)
            continue
        seen[date] = i
        rows.append((i, date, tuple(prices[f] for f in present)))
    if not rows:
        raise UserError(f"{path}: no valid rows under the header")
    notes = [f"read {path} ({encoding}), {len(rows):,} days"]
    if problems:
        notes.append(f"dropped {len(problems)} bad row(s); the first: {problems[0]}")
    order = sorted(range(len(rows)), key=lambda k: rows[k][1])
    if order != list(range(len(rows))):
        moved = sum(1 for k, j in enumerate(order) if k != j)
        notes.append(f"dates were out of order: sorted ({moved} rows moved)")
        rows = [rows[k] for k in order]
    table_values = np.array([r[2] for r in rows], dtype=np.float64)  # (N, columns present)
    column = {f: table_values[:, k] for k, f in enumerate(present)}
    return OHLC(
        np.array([r[1] for r in rows], dtype="datetime64[D]"),
        *(column.get(f) for f in PRICES),
        source=str(path),
        notes=tuple(notes),
    )
