"""People, badges, rights and CSV files built from fields (what the API and the console's forms send)."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from security.office.access import CredentialFormat, PersonKind, TimeWindow
from security.office.access.fields import (
    FieldError,
    credential_from_fields,
    csv_text,
    person_from_fields,
    right_from_fields,
)


def test_a_person_keeps_the_default_kind_unless_told_and_a_bad_field_is_named() -> None:
    person = person_from_fields("v-1", "  Ana Lopez ", None, ["b", "a"], None, default=PersonKind.VISITOR)
    assert (person.name, person.kind, person.groups) == ("Ana Lopez", PersonKind.VISITOR, frozenset("ab"))
    assert person_from_fields("e-1", "Bo", "employee", [], "bo@example.com").kind is PersonKind.EMPLOYEE
    with pytest.raises(FieldError, match=r"^kind: must be employee or visitor, got 'robot'"):
        person_from_fields("e-1", "Bo", "robot", [], None)
    with pytest.raises(FieldError, match=r"^id: person id must be"):
        person_from_fields("e 1", "Bo", None, [], None)
    with pytest.raises(FieldError, match=r"^id: a person needs a name"):
        person_from_fields("e-1", "   ", None, [], None)


def test_a_badge_is_normalised_and_a_bad_format_value_or_window_is_named() -> None:
    start = datetime(2026, 12, 1, tzinfo=UTC)
    cred = credential_from_fields("e-1", "00a1b2c3d4", "EM4100", start, None)
    assert (cred.value, cred.format, cred.valid_from) == ("00A1B2C3D4", CredentialFormat.EM4100, start)
    with pytest.raises(FieldError, match=r"^format: must be one of em4100, wiegand26, osdp, qr, got 'mif"):
        credential_from_fields("e-1", "00A1B2C3D4", "mifare", None, None)
    with pytest.raises(FieldError, match=r"^value: "):
        credential_from_fields("e-1", "xyz", "em4100", None, None)
    with pytest.raises(FieldError, match=r"^valid_until: "):
        credential_from_fields("e-1", "00A1B2C3D4", "em4100", start, start)


def test_a_right_reads_its_schedule_and_names_exactly_one_subject() -> None:
    doc = {"tz": "Europe/Warsaw", "windows": [[0, "08:00", "18:00"]]}
    right = right_from_fields("lobby", doc, "e-1", None)
    assert right.schedule.windows == (TimeWindow(0, time(8), time(18)),)
    assert (right.schedule.tz, right.person_id, right.group) == ("Europe/Warsaw", "e-1", None)
    assert right_from_fields("lobby", {"always": True}, None, "staff").schedule.always
    with pytest.raises(FieldError, match=r"^schedule: "):
        right_from_fields("lobby", {"tz": "Mars/Olympus"}, "e-1", None)
    with pytest.raises(FieldError, match=r"^schedule: "):
        right_from_fields("lobby", {"windows": [[7, "08:00", "18:00"]]}, "e-1", None)
    with pytest.raises(FieldError, match=r"^person_id/group: "):
        right_from_fields("lobby", {"always": True}, "e-1", "staff")


def test_an_uploaded_file_is_utf8_text_that_can_be_stored() -> None:
    assert csv_text("id,name\ne-1,Łucja\n".encode()) == "id,name\ne-1,Łucja\n"
    with pytest.raises(FieldError, match=r"^file: not UTF-8 \(invalid start byte at byte 0\)"):
        csv_text(b"\xff", "file")
    with pytest.raises(FieldError, match=r"^body: contains a NUL character"):
        csv_text(b"a\x00b")
