"""Reading OHLC files: formats, encodings, and a one-line error for every kind of bad input."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from deepkata.core.errors import UserError
from deepkata.timeseries.ohlc import read_ohlc

JA_HEADER = "日付,始値,高値,安値,終値"
ROWS = ["2007/04/02,117.84,118.08,117.46,117.84", "2007/04/03,117.84,118.98,117.72,118.96", "2007/04/04,118.92,119.08,118.56,118.72"]


def write(tmp_path: Path, lines: list[str], encoding: str = "utf-8", bom: bool = False, name: str = "fx.csv") -> Path:
    path = tmp_path / name
    raw = ("\n".join(lines) + "\n").encode(encoding)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + raw)
    return path


@pytest.mark.parametrize("encoding, bom, found", [("utf-8", True, "UTF-8 with BOM"), ("utf-8", False, "UTF-8"), ("cp932", False, "Shift-JIS (CP932)")])
def test_the_course_format_in_every_encoding(tmp_path, encoding, bom, found):
    series = read_ohlc(write(tmp_path, [JA_HEADER, *ROWS], encoding, bom))
    assert len(series) == 3
    assert str(series.dates[0]) == "2007-04-02"
    np.testing.assert_array_equal(series.close, [117.84, 118.96, 118.72])
    np.testing.assert_array_equal(series.high, [118.08, 118.98, 119.08])
    assert found in series.notes[0]


def test_english_headers_any_case_any_order_extra_columns_iso_dates_and_thousands(tmp_path):
    lines = [
        "date,CLOSE,Volume,open,High,low,Adj Close",
        '2020-01-02,"1,234.5",100,"1,200",1250,1190.25,1234.5',
        "2020-01-03,1240,90,1234.5,1245,1230,1240",
    ]
    series = read_ohlc(write(tmp_path, lines))
    np.testing.assert_array_equal(series.close, [1234.5, 1240.0])
    np.testing.assert_array_equal(series.open, [1200.0, 1234.5])
    assert series.columns == ("open", "high", "low", "close")


def test_a_close_only_file_serves_a_close_only_reader(tmp_path):
    path = write(tmp_path, ["Date,Close", "2020-01-02,100", "2020-01-03,101"])
    series = read_ohlc(path, require=("close",))
    assert series.open is None and series.columns == ("close",)
    with pytest.raises(UserError, match=r"fx.csv: line 1: missing column\(s\) open, high, low; expected"):
        read_ohlc(path)
    with pytest.raises(UserError, match="no open column"):
        series.features(("open", "close"))


@pytest.mark.parametrize(
    "row, message",
    [
        ("2007/04/05,118.72,,118.44,118.72", "line 5: column 高値: missing value"),
        ("2007/04/05,118.72,abc,118.44,118.72", "line 5: column 高値: expected a number, got 'abc'"),
        ("2007/04/05,118.72,118.99,118.44,-1", "line 5: column 終値: a price must be positive, got '-1'"),
        ("2007/04/05,0,118.99,118.44,118.72", "line 5: column 始値: a price must be positive, got '0'"),
        ("2007/04/05,118.72,118.00,118.44,118.72", "line 5: column 高値: High 118 < Low 118.44"),
        ("2007/04/03,118.72,118.99,118.44,118.72", "line 5: column 日付: duplicate date 2007-04-03 (first on line 3)"),
        ("2007-13-05,118.72,118.99,118.44,118.72", "line 5: column 日付: expected a date as YYYY/MM/DD or YYYY-MM-DD"),
        ("2007/04/05,118.72,118.99,118.44", "line 5: column 終値: missing value"),
    ],
)
def test_bad_rows_are_named_by_file_line_and_column(tmp_path, row, message):
    path = write(tmp_path, [JA_HEADER, *ROWS, row])
    before = (path.read_bytes(), os.stat(path).st_mtime_ns)
    with pytest.raises(UserError) as e:
        read_ohlc(path)
    assert str(e.value) == f"{path}: {message}" or str(e.value).startswith(f"{path}: {message}")
    assert "\n" not in str(e.value)
    assert (path.read_bytes(), os.stat(path).st_mtime_ns) == before  # the input is only read


def test_drop_mode_drops_bad_rows_and_says_how_many(tmp_path):
    lines = [JA_HEADER, *ROWS, "2007/04/05,118.72,abc,118.44,118.72", "2007/04/06,118.72,119.39,118.67,119.27", "2007/04/06,1,2,1,1"]
    series = read_ohlc(write(tmp_path, lines), bad_rows="drop")
    assert len(series) == 4
    assert any("dropped 2 bad row(s); the first:" in note and "line 5" in note for note in series.notes)


def test_unsorted_dates_are_sorted_and_reported(tmp_path):
    series = read_ohlc(write(tmp_path, [JA_HEADER, ROWS[2], ROWS[0], ROWS[1]]))
    assert [str(d) for d in series.dates] == ["2007-04-02", "2007-04-03", "2007-04-04"]
    np.testing.assert_array_equal(series.close, [117.84, 118.96, 118.72])
    assert any("out of order: sorted" in note for note in series.notes)


def test_files_that_are_not_ohlc_at_all(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        read_ohlc(tmp_path / "missing.csv")
    with pytest.raises(UserError, match="empty file"):
        read_ohlc(write(tmp_path, [""], name="empty.csv"))
    with pytest.raises(UserError, match="neither UTF-8 nor Shift-JIS"):
        (tmp_path / "bin.csv").write_bytes(b"Date,\x81\x7f")
        read_ohlc(tmp_path / "bin.csv")
    with pytest.raises(UserError, match=r"missing column\(s\) date, open"):
        read_ohlc(write(tmp_path, ["when,high,low,close", "1,2,1,1"], name="h.csv"))
    with pytest.raises(UserError, match="no valid rows"):
        read_ohlc(write(tmp_path, [JA_HEADER], name="header.csv"))


@pytest.mark.skipif(not os.environ.get("DEEPKATA_DATA"), reason="the course file is read from $DEEPKATA_DATA/fx/usd_jpy.csv")
def test_the_course_file():
    series = read_ohlc(Path(os.environ["DEEPKATA_DATA"]) / "fx" / "usd_jpy.csv")
    assert len(series) == 2925
    assert (str(series.dates[0]), series.close[0]) == ("2007-04-02", 117.84)
    assert (str(series.dates[-1]), series.close[-1]) == ("2018-07-03", 110.55)
