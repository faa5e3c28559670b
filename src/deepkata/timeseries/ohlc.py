"""Daily price series: reading, validating, and the series itself.

Reads the course's USD/JPY file and files like it:
- headers ``日付,始値,高値,安値,終値`` (the course's) or Date, Open, High, Low, Close in any case,
  in any order, with extra columns (Volume, Adj Close, ...) ignored;
- close-only series such as FRED's USD/JPY, ``DATE,DEXJPUS`` (``observation_date,DEXJPUS`` in
  FRED's newer downloads): the close is the column named by ``close_column``, else the one
  numeric column besides the date and the recognized ones, when there is exactly one;
- dates ``YYYY/MM/DD`` or ISO ``YYYY-MM-DD``;
- numbers quoted with thousands separators, ``"1,234.5"``; a ``.`` (FRED's mark for a holiday),
  an empty cell, ``NA`` or ``#N/A`` is a missing value;
- UTF-8 with or without a byte-order mark, or Shift-JIS (CP932), detected as follows. A file that
  starts with UTF-8's byte-order mark is UTF-8, strictly. Otherwise a file that decodes as UTF-8
  is UTF-8. One that does not is Shift-JIS when it decodes as Shift-JIS with double-byte
  characters and has more bytes invalid as UTF-8 than characters valid as UTF-8 beyond ASCII
  (a UTF-8 file with a stray byte has it the other way round). Any other file is refused, and
  the error names the line of its first byte that is not UTF-8.

The caller says which price columns it needs (all four by default; the close alone for a
close-only model); the others are read when present. Every problem is reported on one line
naming the file, the line and the column: a missing column or cell, a non-numeric cell, a
duplicate date, High < Low, a price that is not positive. Rows out of date order are sorted,
and the series says so. With ``bad_rows="drop"`` the bad rows are dropped instead and the
series says how many and why. The file itself is only read.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from deepkata.core.errors import UserError, closest

FIELDS = ("date", "open", "high", "low", "close")
PRICES = FIELDS[1:]
JAPANESE = {"日付": "date", "始値": "open", "高値": "high", "安値": "low", "終値": "close"}
DATE_NAMES = ("date", "observation_date")  # observation_date: FRED's newer downloads
DATE_FORMATS = ("%Y/%m/%d", "%Y-%m-%d")
MISSING = frozenset({"", ".", "na", "n/a", "#n/a", "null"})  # lower case; "." is FRED's holiday
BOM = b"\xef\xbb\xbf"
_UNDECODED = re.compile("[\udc80-\udcff]")  # bytes that surrogateescape kept as they were
_NON_ASCII = re.compile("[^\x00-\x7f]")
_LINE_BREAK = re.compile("\r\n|\r|\n")


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
    notes: tuple[str, ...] = ()  # what reading did: encoding, rows, the close's column, dropped rows, sorting
    dropped: int = 0  # bad rows left out under bad_rows="drop"

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
        return OHLC(self.dates[:n], *cut, self.source, self.notes, self.dropped)


# --- bytes to text ---------------------------------------------------------------------------------


def decode(raw: bytes, path: Path) -> tuple[str, str]:
    """The text of a CSV file and the encoding found (see the module docstring)."""
    if raw.startswith(BOM):
        try:
            return raw[len(BOM) :].decode("utf-8"), "UTF-8 with BOM"
        except UnicodeDecodeError:
            raise _bad_byte(raw, path, "is not UTF-8, though the file starts with UTF-8's byte-order mark") from None
    try:
        return raw.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    loose = raw.decode("utf-8", "surrogateescape")
    invalid = len(_UNDECODED.findall(loose))  # bytes invalid as UTF-8
    valid = len(_NON_ASCII.findall(loose)) - invalid  # characters beyond ASCII that UTF-8 decoded
    try:
        sjis: str | None = raw.decode("cp932")
    except UnicodeDecodeError:
        sjis = None
    if invalid > valid and sjis is not None and len(sjis) < len(raw):  # each double-byte character is two bytes
        return sjis, "Shift-JIS (CP932)"
    if invalid > valid and sjis is None:
        raise _bad_byte(raw, path, "is neither UTF-8 nor Shift-JIS text")
    rest = "the rest of the file is" if invalid == 1 else f"the file has {invalid:,} such bytes"
    raise _bad_byte(raw, path, f"is not UTF-8 ({rest}); fix or delete it")


def _bad_byte(raw: bytes, path: Path, what: str) -> UserError:
    """An error naming the line and value of the first byte in ``raw`` that UTF-8 cannot decode."""
    loose = raw.decode("utf-8", "surrogateescape")
    first = _UNDECODED.search(loose)
    assert first is not None
    line = len(_LINE_BREAK.findall(loose, 0, first.start())) + 1
    return UserError(f"{path}: line {line}: byte 0x{ord(first.group()) - 0xDC00:02X} {what}")


# --- the header --------------------------------------------------------------------------------------


def _field(name: str) -> str | None:
    """The field a header cell names, if any: Japanese, English in any case, or FRED's date."""
    key = name.lower()
    return JAPANESE.get(name) or ("date" if key in DATE_NAMES else key if key in PRICES else None)


def _is_missing(text: str) -> bool:
    return text.lower() in MISSING


def _looks_numeric(cells: list[str]) -> bool:
    """Whether most of a column's present values are numbers (the candidate close of a close-only file)."""
    present = [c for c in cells if not _is_missing(c)]
    numbers = 0
    for c in present:
        try:
            float(c.replace(",", ""))
            numbers += 1
        except ValueError:
            pass
    return numbers > 0 and 2 * numbers > len(present)


def _columns(
    header: list[str], body: list[list[str]], path: Path, require: tuple[str, ...], close_column: str | None
) -> tuple[dict[str, int], str | None]:
    """Field -> position in the header, for the fields found; the required ones must be.

    Also a note saying which column holds the close when it is not named Close or 終値.
    """
    found: dict[str, int] = {}
    for i, name in enumerate(header):
        field = _field(name)
        if field is not None and not (field == "close" and close_column is not None):
            if field in found:
                raise UserError(f"{path}: line 1: column {name!r}: {field} appears twice in the header")
            found[field] = i
    listing = ", ".join(header)
    note = None
    if close_column is not None:
        wanted = close_column.strip()
        named = [i for i, h in enumerate(header) if h == wanted] or [i for i, h in enumerate(header) if h.casefold() == wanted.casefold()]
        if not named:
            hint = closest(wanted, header)
            raise UserError(
                f"{path}: line 1: close_column={close_column}: no such column (found: {listing})"
                + (f"; did you mean {hint!r}?" if hint else "")
            )
        if named[0] == found.get("date"):
            raise UserError(f"{path}: line 1: close_column={close_column}: that is the date column; name the price column")
        found["close"] = named[0]
        note = f"the close is column {header[named[0]]!r} (close_column)"
    elif "close" not in found:
        others = [i for i in range(len(header)) if i not in found.values()]
        numeric = [i for i in others if _looks_numeric([row[i] for row in body])]
        if len(numeric) == 1:
            found["close"] = numeric[0]
            note = f"the close is column {header[numeric[0]]!r}, the only numeric column besides the date"
    missing = [f for f in ("date", *require) if f not in found]
    if missing:
        message = (
            f"{path}: line 1: missing column(s) {', '.join(missing)}; expected 日付,始値,高値,安値,終値 "
            f"or Date,Open,High,Low,Close, or a date and one price column (found: {listing})"
        )
        if "close" in missing:
            message += "; if one of them is the close, name it: --set close_column=NAME"
        raise UserError(message)
    return found, note


# --- cells --------------------------------------------------------------------------------------------


class MissingValue(ValueError):
    """An empty cell, or one marked missing (FRED's ``.`` for a holiday)."""


def _date(text: str) -> dt.date:
    for fmt in DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"expected a date as YYYY/MM/DD or YYYY-MM-DD, got {text!r}")


def _price(text: str) -> float:
    if _is_missing(text):
        raise MissingValue("missing value" + (f" ({text!r})" if text else ""))
    try:
        value = float(text.replace(",", ""))
    except ValueError:
        raise ValueError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {text!r}")
    if value <= 0:
        raise ValueError(f"a price must be positive, got {text!r}")
    return value


def _parser_error(path: Path, message: str) -> UserError:
    """pandas' tokenizer errors, with the line as an editor numbers it."""
    if m := re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message):
        return UserError(f"{path}: line {m[2]}: {m[3]} cells, where line 1 has {m[1]}")
    if m := re.search(r"EOF inside string starting at row (\d+)", message):
        return UserError(f"{path}: line {int(m[1]) + 1}: a quote opened on this line is never closed")
    return UserError(f"{path}: not a CSV file ({message.strip()})")


def _cells(row: tuple[Any, ...]) -> list[str]:
    return [c.strip() if isinstance(c, str) else "" for c in row]  # short rows give NaN


# --- the file -------------------------------------------------------------------------------------------


def read_ohlc(
    path: str | Path,
    *,
    require: tuple[str, ...] = PRICES,
    bad_rows: Literal["error", "drop"] = "error",
    close_column: str | None = None,
) -> OHLC:
    """Read and check a daily price CSV file; see the module docstring.

    ``require`` names the price columns that must be there; the close always must.
    ``close_column`` names the column that holds the close, when it is not Close or 終値.
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
        raise _parser_error(path, str(e)) from None
    except pd.errors.EmptyDataError:
        raise UserError(f"{path}: empty file, expected a header and daily rows") from None
    spans = np.zeros(len(table), dtype=bool)  # rows with a quoted cell that holds a line break
    for name in table.columns:
        spans |= table[name].str.contains("[\r\n]", regex=True, na=False).to_numpy()
    if spans.any():  # rows before the first such row are one line each
        line = int(np.argmax(spans)) + 1
        raise UserError(f"{path}: line {line}: a quoted cell runs over more than one line; is a closing quote missing?")
    header = [h.lstrip("\ufeff") for h in _cells(tuple(table.iloc[0]))]
    # line numbers as an editor shows them: line 1 is the header; blank lines are kept as rows of ""
    body = [(i, _cells(cells)) for i, cells in enumerate(table.iloc[1:].itertuples(index=False), start=2)]
    body = [(i, values) for i, values in body if any(values)]
    where, column_note = _columns(header, [values for _, values in body], path, require, close_column)
    present = tuple(f for f in PRICES if f in where)
    rows: list[tuple[int, dt.date, tuple[float, ...]]] = []
    problems: list[str] = []
    missing_values = 0
    seen: dict[dt.date, int] = {}
    for i, values in body:
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
            message = f"{path}: line {i}: column {header[where[problem_col]]}: {e}"
            if bad_rows == "error":
                if isinstance(e, MissingValue):
                    message += "; to drop the rows without a value: --set bad_rows=drop"
                raise UserError(message) from None
            missing_values += isinstance(e, MissingValue)
            problems.append(message)
            continue
        seen[date] = i
        rows.append((i, date, tuple(prices[f] for f in present)))
    if not rows:
        raise UserError(f"{path}: no valid rows under the header" + (f" (the first bad one: {problems[0]})" if problems else ""))
    order = sorted(range(len(rows)), key=lambda k: rows[k][1])
    moved = sum(1 for k, j in enumerate(order) if k != j)
    rows = [rows[k] for k in order]
    dates = np.array([r[1] for r in rows], dtype="datetime64[D]")
    notes = [f"read {path} ({encoding}): {len(body):,} data rows, {len(rows):,} days from {dates[0]} to {dates[-1]}"]
    if column_note:
        notes.append(column_note)
    if problems:
        why = f", {missing_values:,} of them for a missing value" if missing_values else ""
        notes.append(f"dropped {len(problems):,} bad row(s){why}; the first: {problems[0]}")
    if moved:
        notes.append(f"dates were out of order: sorted ({moved} rows moved)")
    table_values = np.array([r[2] for r in rows], dtype=np.float64)  # (N, columns present)
    column = {f: table_values[:, k] for k, f in enumerate(present)}
    return OHLC(dates, *(column.get(f) for f in PRICES), source=str(path), notes=tuple(notes), dropped=len(problems))
