"""CSV cells safe from spreadsheet formulas, read back with the csv module."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from broker.schemas import Priority
from security.office.alarms.kpis import life_of
from security.office.alarms.lifecycle import Alarm, AlarmState, Transition
from security.office.csv_export import cell, csv_line, csv_lines, safe_text
from security.office.exports import ALARM_COLUMNS, alarms_csv


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


def test_an_alarm_s_line_names_its_shelves_and_the_last_one_s_who_when_and_until() -> None:
    t0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    minute = timedelta(minutes=1)
    history = (Transition("raised", "system", t0),
               Transition("shelved", "guard:gus", t0 + minute, None, t0 + 31 * minute),
               Transition("unshelved", "guard:gus", t0 + 5 * minute),
               Transition("shelved", "guard:ana", t0 + 6 * minute, "painters", t0 + 120 * minute))
    alarm = Alarm("a-1", "door-forced", "door-forced:d1", Priority.HIGH, "Door d1 forced", (), False, t0,
                  AlarmState.SHELVED, history=history, shelved_until=t0 + timedelta(hours=2))
    [row] = list(csv.DictReader(io.StringIO("".join(alarms_csv([life_of(alarm, 1)], UTC)))))
    assert list(row) == list(ALARM_COLUMNS)
    assert (row["shelves"], row["last_shelved_by"], row["last_shelved_at"], row["last_shelved_until"]) == (
        "2", "guard:ana", "2026-12-04T09:06:00+00:00", "2026-12-04T11:00:00+00:00")
