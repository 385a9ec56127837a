"""CSV import of an employee list: good rows kept, each bad row reported with its number and reason."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from security.office.access import CredentialFormat, CsvColumns, RowError, parse_employees

HEADER = "employee_id,name,email,badge,badge_format,valid_from,valid_until,groups\n"
GROUPS = frozenset({"staff", "it", "lab"})


def test_good_and_bad_rows() -> None:
    """Each bad row is skipped with a clear reason; the rest import."""
    text = (
        HEADER
        + "\n".join(
            [
                "E1,Alice Arndt,alice@example.com,62e3086ced,em4100,2026-01-01,2026-12-31,staff;lab",  # 2
                "E2,Bob Brandt,,AB12CD,wiegand26,,,staff",  # 3 good
                "E3,Carl,,62E3086CED,,,,staff",  # 4 duplicate of row 2
                "E4,Dora,,XYZ123,wiegand26,,,",  # 5 bad hex
                "E5,Emil,,0102030405,em4100,2026-13-01,,",  # 6 bad date
                "E6,Fay,,0102030406,em4100,,,staff;kitchen",  # 7 unknown group
                "E7,Gus,,,,,,it",  # 8 good, no badge
                "E1,Alice Again,,,,,,",  # 9 duplicate id
                "E8,Hal,,9999086CED,em4100,,,",  # 10 same Wiegand view as row 2
                "E9,Ida,,0A0B0C,osdp,2026-05-01,2026-04-01,",  # 11 window backwards
                "E10,Jon,,0A0B0C,smartcard,,,",  # 12 unknown format
                ",Nobody,,,,,,",  # 13 no id
                "E11,Kim,,123456,wiegand26,,,,extra",  # 14 too many fields
                "E12,Lea,,AA:BB:CC:DD:EE,em4100,2026-06-01T08:00,2026-06-01T17:00+00:00,lab",  # 15 good
            ]
        )
        + "\n"
    )
    result = parse_employees(text, tz="Europe/Berlin", known_groups=GROUPS)
    assert [p.id for p in result.people] == ["E1", "E2", "E7", "E12"]
    assert [c.value for c in result.credentials] == ["62E3086CED", "AB12CD", "AABBCCDDEE"]
    assert [e.row for e in result.errors] == [4, 5, 6, 7, 9, 10, 11, 12, 13, 14]
    reasons = {e.row: e.reason for e in result.errors}
    assert reasons[4] == "duplicate badge 62E3086CED (same as row 2)"
    assert "not hexadecimal" in reasons[5]
    assert "bad date in valid_from" in reasons[6]
    assert reasons[7] == "unknown group(s): kitchen"
    assert reasons[9] == "duplicate employee_id 'E1'"
    assert "duplicate badge 9999086CED" in reasons[10]
    assert "valid_until is not after valid_from" in reasons[11]
    assert "unknown badge_format" in reasons[12]
    assert "required" in reasons[13]
    assert "more fields" in reasons[14]
    alice = result.credentials[0]
    berlin = ZoneInfo("Europe/Berlin")
    assert alice.valid_from == datetime(2026, 1, 1, tzinfo=berlin)
    assert alice.valid_until == datetime(2027, 1, 1, tzinfo=berlin)  # the whole last day included
    assert result.people[0].groups == frozenset({"staff", "lab"})
    assert result.people[0].email == "alice@example.com"
    assert result.credentials[1].format is CredentialFormat.WIEGAND26
    assert result.credentials[2].valid_from == datetime(2026, 6, 1, 8, tzinfo=berlin)
    assert result.credentials[2].valid_until == datetime(2026, 6, 1, 17, tzinfo=UTC)


def test_configurable_headers_and_enrolled_badges() -> None:
    """Other header names map through CsvColumns; badges already enrolled are duplicates."""
    cols = CsvColumns(employee_id="Personalnummer", name="Name", badge="Ausweis")
    text = "\ufeffPersonalnummer,Name,Ausweis\nP1,Anna,0102030405\nP2,Bert,AB12CD\n"
    result = parse_employees(text, columns=cols, enrolled=frozenset({"FFFFAB12CD"}))
    assert [p.id for p in result.people] == ["P1"]
    assert result.errors == (RowError(3, "bad badge: a em4100 credential is 10 hex digits, got 6"),)
    result = parse_employees(
        "Personalnummer,Name,Ausweis\nP2,Bert,FFFFAB12CD\n", columns=cols, enrolled=frozenset({"FFFFAB12CD"})
    )
    assert result.errors == (RowError(2, "duplicate badge FFFFAB12CD (already enrolled)"),)


def test_missing_required_columns() -> None:
    """A file without the id or name column is one error on the header row."""
    result = parse_employees("id,full_name\n1,A\n")
    assert result.people == ()
    assert result.errors == (RowError(1, "missing column(s): employee_id, name"),)
    assert parse_employees("").errors == result.errors
    assert parse_employees("employee_id,name\n") == parse_employees("employee_id,name\n", tz="UTC")


@given(st.text(max_size=400))
def test_any_text_never_raises(text: str) -> None:
    """Arbitrary text gives people and errors, never an exception; every row is accounted for once."""
    result = parse_employees(text, known_groups=GROUPS)
    rows = {e.row for e in result.errors}
    assert len(rows) == len(result.errors)
