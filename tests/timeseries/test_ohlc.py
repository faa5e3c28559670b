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
    with pytest.raises(UserError, match=r"bin.csv: line 1: byte 0x81 is neither UTF-8 nor Shift-JIS text"):
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


# --- encodings: a bad byte is named by its line ------------------------------------------------------------


def test_a_bom_then_invalid_utf8_names_the_line_of_the_bad_byte(tmp_path):
    path = tmp_path / "b.csv"
    path.write_bytes(b"\xef\xbb\xbfDate,Close\n2020-01-02,100\n2020-01-03,\xff\n")
    with pytest.raises(UserError) as e:
        read_ohlc(path, require=("close",))
    assert str(e.value) == f"{path}: line 3: byte 0xFF is not UTF-8, though the file starts with UTF-8's byte-order mark"


@pytest.mark.parametrize("bad", [b"\xb0", b"\xff", b"\x81A", b"\xe3\x81"])  # a half-width kana, no character, a kanji, a cut-off UTF-8 character
@pytest.mark.parametrize("bom", [False, True])
def test_utf8_with_one_bad_byte_is_not_mistaken_for_shift_jis(tmp_path, bad, bom):
    lines = [JA_HEADER, *ROWS[:2], ROWS[2].replace("118.72", "118.7") + "{}", "2007/04/05,118.72,118.99,118.44,118.72"]
    raw = "\r\n".join(lines).encode("utf-8").replace(b"{}", bad)  # Windows line ends count once
    path = tmp_path / "fx.csv"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + raw)
    with pytest.raises(UserError) as e:
        read_ohlc(path)
    assert str(e.value).startswith(f"{path}: line 4: byte 0x{bad[0]:02X} is not UTF-8")


def test_an_ascii_file_with_one_bad_byte_names_its_line(tmp_path):
    path = tmp_path / "fx.csv"
    path.write_bytes(b"Date,Close\n2020-01-02,100\n2020-01-03,10\xb01\n2020-01-06,102\n")
    with pytest.raises(UserError, match=r"fx.csv: line 3: byte 0xB0 is not UTF-8 \(the rest of the file is\)"):
        read_ohlc(path, require=("close",))


def test_shift_jis_with_japanese_text_beyond_the_header_still_reads(tmp_path):
    lines = [JA_HEADER + ",備考", *(r + ",祝日前" for r in ROWS)]
    series = read_ohlc(write(tmp_path, lines, "cp932"))
    np.testing.assert_array_equal(series.close, [117.84, 118.96, 118.72])
    assert "Shift-JIS (CP932)" in series.notes[0]


# --- close-only series: FRED's DEXJPUS ----------------------------------------------------------------


FRED = ["DATE,DEXJPUS", "2020-01-01,.", "2020-01-02,108.43", "2020-01-03,107.85", "2020-01-06,108.07"]


def test_fred_close_only_series_with_dots_for_holidays(tmp_path):
    path = write(tmp_path, FRED, name="DEXJPUS.csv")
    with pytest.raises(UserError) as e:
        read_ohlc(path, require=("close",))
    assert str(e.value) == f"{path}: line 2: column DEXJPUS: missing value ('.'); to drop the rows without a value: --set bad_rows=drop"
    series = read_ohlc(path, require=("close",), bad_rows="drop")
    assert [str(d) for d in series.dates] == ["2020-01-02", "2020-01-03", "2020-01-06"]
    np.testing.assert_array_equal(series.close, [108.43, 107.85, 108.07])
    assert series.columns == ("close",) and series.dropped == 1
    assert series.notes == (
        f"read {path} (UTF-8): 4 data rows, 3 days from 2020-01-02 to 2020-01-06",
        "the close is column 'DEXJPUS', the only numeric column besides the date",
        f"dropped 1 bad row(s), 1 of them for a missing value; the first: {path}: line 2: column DEXJPUS: missing value ('.')",
    )


def test_fred_newer_downloads_observation_date_and_empty_cells(tmp_path):
    lines = ["observation_date,DEXJPUS", "2020-01-01,", "2020-01-02,108.43", "2020-01-03,107.85"]
    path = write(tmp_path, lines)
    with pytest.raises(UserError, match=r"line 2: column DEXJPUS: missing value; to drop the rows without a value: --set bad_rows=drop$"):
        read_ohlc(path, require=("close",))
    series = read_ohlc(path, require=("close",), bad_rows="drop")
    np.testing.assert_array_equal(series.close, [108.43, 107.85])


def test_close_column_names_the_close(tmp_path):
    lines = ["Date,Close,Adj Close,Volume", "2020-01-02,100,90,1000", "2020-01-03,101,91,1100"]
    path = write(tmp_path, lines)
    np.testing.assert_array_equal(read_ohlc(path, require=("close",)).close, [100, 101])
    adjusted = read_ohlc(path, require=("close",), close_column="adj close")  # in any case, when unambiguous
    np.testing.assert_array_equal(adjusted.close, [90, 91])
    assert "the close is column 'Adj Close' (close_column)" in adjusted.notes
    with pytest.raises(UserError) as e:
        read_ohlc(path, require=("close",), close_column="Adj Clos")
    assert str(e.value) == f"{path}: line 1: close_column=Adj Clos: no such column (found: Date, Close, Adj Close, Volume); did you mean 'Adj Close'?"
    with pytest.raises(UserError, match="close_column=Date: that is the date column"):
        read_ohlc(path, require=("close",), close_column="Date")


def test_two_numeric_columns_and_no_close_ask_for_close_column(tmp_path):
    path = write(tmp_path, ["DATE,DEXJPUS,DEXUSEU", "2020-01-02,108.43,1.1193", "2020-01-03,107.85,1.1147"])
    with pytest.raises(UserError) as e:
        read_ohlc(path, require=("close",))
    assert str(e.value) == (
        f"{path}: line 1: missing column(s) close; expected 日付,始値,高値,安値,終値 or Date,Open,High,Low,Close, "
        "or a date and one price column (found: DATE, DEXJPUS, DEXUSEU); if one of them is the close, name it: --set close_column=NAME"
    )
    np.testing.assert_array_equal(read_ohlc(path, require=("close",), close_column="DEXUSEU").close, [1.1193, 1.1147])


def test_a_quote_left_open_is_named_by_its_line(tmp_path):
    """Found by fuzzing: a stray quote made a cell of several lines, and the message several lines."""
    path = write(tmp_path, ["Date,Close", "2020-01-02,100", '2020-01-03,"101', "2020-01-06,102"])
    with pytest.raises(UserError) as e:
        read_ohlc(path, require=("close",))
    assert str(e.value) == f"{path}: line 3: a quote opened on this line is never closed"
    path = write(tmp_path, ["Date,Close", "2020-01-02,100", '2020-01-03,"101', '"', "2020-01-06,102"])
    with pytest.raises(UserError) as e:
        read_ohlc(path, require=("close",))
    assert str(e.value) == f"{path}: line 3: a quoted cell runs over more than one line; is a closing quote missing?"
    path = write(tmp_path, ["Date,Close", "", "2020-01-02,100", "2020-01-03,101,9"])
    with pytest.raises(UserError) as e:
        read_ohlc(path, require=("close",))
    assert str(e.value) == f"{path}: line 4: 3 cells, where line 1 has 2"
