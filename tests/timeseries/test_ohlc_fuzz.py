"""Fuzzing the CSV reader: whatever the bytes, it returns a valid series or raises UserError.

Random bytes, and valid files (the course's, English OHLC, FRED's close-only; UTF-8 with or
without a byte-order mark, or Shift-JIS) mutated byte by byte and line by line. Any other
exception (UnicodeDecodeError, IndexError, pandas' own errors...) is a crash the CLI would show
as a traceback, and fails the test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deepkata.core.errors import UserError
from deepkata.timeseries.ohlc import OHLC, PRICES, read_ohlc

VALID = [
    ("日付,始値,高値,安値,終値", ["2007/04/02,117.84,118.08,117.46,117.84", "2007/04/03,117.84,118.98,117.72,118.96", "2007/04/04,118.92,119.08,118.56,118.72"]),
    ("Date,Open,High,Low,Close,Volume", ['2020-01-02,"1,200",1250,1190.25,"1,234.5",100', "2020-01-03,1234.5,1245,1230,1240,90"]),
    ("DATE,DEXJPUS", ["2020-01-01,.", "2020-01-02,108.43", "2020-01-03,107.85", "2020-01-06,108.07"]),
    ("observation_date,DEXJPUS", ["2020-01-01,", "2020-01-02,108.43", "2020-01-03,107.85"]),
]
ENCODINGS = [("utf-8", b""), ("utf-8", b"\xef\xbb\xbf"), ("cp932", b"")]


@st.composite
def valid_files(draw: st.DrawFn) -> bytes:
    header, rows = draw(st.sampled_from(VALID))
    encoding, bom = draw(st.sampled_from(ENCODINGS))
    end = draw(st.sampled_from(["\n", "\r\n"]))
    return bom + end.join([header, *rows]).encode(encoding) + end.encode()


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A valid file after a few random edits: bytes replaced, inserted or deleted; lines doubled, dropped or cut."""
    data = bytearray(draw(valid_files()))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["replace", "insert", "delete", "double_line", "drop_line", "truncate"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "replace" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[at:at] = draw(st.sampled_from([b"\xff", b"\x00", b",", b"\n", b'"', b".", b"-", b"\x81", b"\xe3\x81", b"nan", b"inf", b"1e400"]))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 5))]
        elif kind in ("double_line", "drop_line"):
            lines = bytes(data).split(b"\n")
            k = draw(st.integers(0, len(lines) - 1))
            lines[k:k + 1] = [lines[k]] * (2 if kind == "double_line" else 0)
            data = bytearray(b"\n".join(lines))
        else:
            del data[at:]
    return bytes(data)


def check(path: Path, raw: bytes, require: tuple[str, ...], bad_rows: str, close_column: str | None) -> None:
    path.write_bytes(raw)
    try:
        series = read_ohlc(path, require=require, bad_rows=bad_rows, close_column=close_column)  # type: ignore[arg-type]
    except UserError as e:
        assert str(e) and "\n" not in str(e)  # one line for the CLI
        return
    assert isinstance(series, OHLC) and len(series) > 0
    assert series.dates.dtype == np.dtype("datetime64[D]")
    assert np.all(np.diff(series.dates.astype("int64")) > 0)
    assert set(require) | {"close"} <= set(series.columns)
    for name in series.columns:
        values = getattr(series, name)
        assert values.shape == (len(series),) and np.all(np.isfinite(values)) and np.all(values > 0)
    if series.high is not None and series.low is not None:
        assert np.all(series.high >= series.low)


OPTIONS = {
    "require": st.sampled_from([("close",), PRICES]),
    "bad_rows": st.sampled_from(["error", "drop"]),
    "close_column": st.sampled_from([None, "DEXJPUS", "Close"]),
}


@pytest.fixture(scope="module")
def path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "fx.csv"


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=mutated(), **OPTIONS)
def test_mutated_files_give_a_series_or_a_user_error(path, raw, require, bad_rows, close_column):
    check(path, raw, require, bad_rows, close_column)


@settings(max_examples=100, deadline=None)
@given(raw=st.binary(max_size=200), **OPTIONS)
def test_random_bytes_give_a_series_or_a_user_error(path, raw, require, bad_rows, close_column):
    check(path, raw, require, bad_rows, close_column)


def test_the_unmutated_files_read(path):
    """The seeds of the fuzzing are valid, so the mutants start from files that read."""
    for header, rows in VALID:
        for encoding, bom in ENCODINGS:
            path.write_bytes(bom + "\n".join([header, *rows]).encode(encoding))
            series = read_ohlc(path, require=("close",), bad_rows="drop")
            assert len(series) == len(rows) - rows[0].endswith((",.", ","))
