"""CSV cells safe from spreadsheet formulas, read back with the csv module."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from security.office.csv_export import cell, csv_line, csv_lines, safe_text


@pytest.mark.parametrize("text", ["=1+1", "+49 30", "-2+3", "@SUM(A1)", "\tx", "\rx",
                                  "=HYPERLINK(\"http://x\",\"y\")"])
def test_text_a_spreadsheet_would_run_gets_an_apostrophe(text: str) -> None:
    """Each formula start is made text."""
    assert safe_text(text) == "'" + text
    assert cell(text) == "'" + text


@pytest.mark.parametrize("text", ["Budi", "", " =x", "a=b", "'=x", "1-2"])
def test_plain_text_is_left_alone(text: str) -> None:
    """Only the first character matters."""
    assert safe_text(text) == text


def test_values_become_cells() -> None:
    """Numbers (negative ones too) stay numbers; times in the given zone; None is empty."""
    assert cell(-5) == "-5"
    assert cell(-2.5) == "-2.5"
    assert cell(None) == ""
    assert (cell(True), cell(False)) == ("true", "false")
    moment = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    assert cell(moment) == "2026-11-23T08:00:00+00:00"
    assert cell(moment, ZoneInfo("Europe/Warsaw")) == "2026-11-23T09:00:00+01:00"
    assert cell(date(2026, 1, 2)) == "2026-01-02"
    assert cell(timedelta(minutes=2)) == "120"
    with pytest.raises(ValueError, match="without a zone"):
        cell(datetime(2026, 1, 1))


def test_lines_round_trip_through_the_csv_reader() -> None:
    """Commas, quotes and new lines are quoted; the header comes first; lines end in CRLF."""
    rows: list[list[object]] = [["a,b", 'say "hi"', "two\nlines", None],
                                ["=cmd|' /C calc'!A0", 3, False, "-"]]
    text = "".join(csv_lines(["name", "note", "more", "x"], rows))
    assert text.endswith("\r\n")
    read = list(csv.reader(io.StringIO(text, newline="")))
    assert read == [["name", "note", "more", "x"], ["a,b", 'say "hi"', "two\nlines", ""],
                    ["'=cmd|' /C calc'!A0", "3", "false", "'-"]]
    assert csv_line([]) == "\r\n"
