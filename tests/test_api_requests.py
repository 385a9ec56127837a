"""The HTTP API's request bodies: each round-trips through JSON; a bad one is refused naming its fields."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from broker.api_models import (
    MAX_SHELVE_MINUTES,
    REQUEST_BODIES,
    AlarmActionBody,
    DoorCommandNote,
    DoorGroupDoors,
    IncidentAttachment,
    IncidentClosing,
    IncidentNote,
    NewCredential,
    NewIncident,
    NewInvitation,
    NewPerson,
    NewRight,
    NewWatchEntry,
    PersonUpdate,
    RequestBody,
    RightSchedule,
    UnlockRequest,
    explain,
)
from broker.schemas import MAX_UNLOCK_S, VisitorType
from security.office.alarms import BookConfig

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
WARSAW = timezone(timedelta(hours=1))

SAMPLES: list[RequestBody] = [
    NewPerson(id="e-1", name="Jan Kowalski", kind="employee", groups=["staff", "it"],
              email="jan@example.org"),
    PersonUpdate(name="Jan Kowalski", groups=[]),
    NewCredential(value="0A1B2C3D4E", format="em4100", valid_from=NOW.astimezone(WARSAW),
                  valid_until=NOW + timedelta(days=30)),
    DoorGroupDoors(doors=["main-door", "side-door"]),
    NewRight(door_group="lobby", group="staff",
             schedule=RightSchedule(tz="Europe/Warsaw", windows=[(0, "07:00", "19:00")])),
    NewRight(door_group="lobby", person_id="e-1"),
    NewIncident(title="Door forced \U0001f6aa", alarm_ids=["a-1"], event_ids=["ev-1"]),
    IncidentNote(note="guard sent"),
    IncidentAttachment(snapshot_event_id="ev-9"),
    IncidentClosing(outcome="false alarm"),
    AlarmActionBody(note="on my way", minutes=30),
    AlarmActionBody(until=NOW.astimezone(WARSAW)),
    UnlockRequest(seconds=5.5, note="delivery"),
    UnlockRequest(),
    UnlockRequest(until=NOW + timedelta(hours=4), note="open day"),
    DoorCommandNote(note="intruder report"),
    NewInvitation(visitor_name="Ana López", host_id="e-1", company="Analytica", email="ana@example.org",
                  visitor_type=VisitorType.INTERVIEW, expected_at=NOW, valid_until=NOW + timedelta(hours=8),
                  send_email=True),
    NewWatchEntry(name="John Doe", aliases=["J. Doe"], reason="banned in 2025"),
]


@pytest.mark.parametrize("body", SAMPLES, ids=lambda b: type(b).__name__)
def test_each_request_body_round_trips_through_json(body: RequestBody) -> None:
    """model → JSON text → model gives the same model, times with their offsets."""
    wire = json.loads(json.dumps(body.dump()))
    again = type(body).read(wire)
    assert again == body
    assert again.dump() == body.dump()


def test_every_request_body_has_a_sample() -> None:
    """The round trip above covers every request body the API reads."""
    assert {type(b) for b in SAMPLES} == set(REQUEST_BODIES)


def test_the_shelve_limit_is_the_alarm_books_default() -> None:
    """The API's longest shelve is the alarm book's default limit (broker cannot import it)."""
    assert BookConfig().max_shelve_s / 60 == MAX_SHELVE_MINUTES


def _refusal(model: type[RequestBody], doc: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        model.read(doc)
    return explain(caught.value)


@pytest.mark.parametrize(
    ("model", "doc", "error"),
    [
        # missing, empty or blank required fields
        (NewPerson, {"name": "Ann"}, "id: required"),
        (NewPerson, {"id": "", "name": "Ann"}, "id: required"),
        (NewPerson, {"id": "e-1", "name": "  "}, "name: required"),
        (NewIncident, {}, "title: required"),
        (NewIncident, {"title": None}, "title: required"),
        (IncidentClosing, {"outcome": "\t"}, "outcome: required"),
        (NewCredential, {"value": "0A"}, "format: required"),
        (NewInvitation, {"visitor_name": "Ana"}, "host_id: required"),
        # wrong types: no number for a string, no string for a number, no true for a number
        (IncidentNote, {"note": 5}, "note: must be a string"),
        (NewIncident, {"title": "t", "alarm_ids": "a-1"}, "alarm_ids: must be a list"),
        (NewWatchEntry, {"name": "n", "aliases": ["ok", 7]}, "aliases[1]: must be a string"),
        (AlarmActionBody, {"minutes": "30"}, "minutes: must be a number"),
        (AlarmActionBody, {"minutes": True}, "minutes: must be a number"),
        (NewInvitation, {"visitor_name": "A", "host_id": "e-1", "send_email": "yes"},
         "send_email: must be true or false"),
        (NewRight, {"door_group": "g", "schedule": "always"}, "schedule: must be an object"),
        (NewRight, {"door_group": "g", "schedule": {"windows": [[0, "07:00", 19]]}},
         "schedule.windows[0][2]: must be a string"),
        (NewRight, {"door_group": "g", "schedule": {"always": 1}}, "schedule.always: must be true or false"),
        # ranges and lengths
        (AlarmActionBody, {"minutes": 0}, "minutes: more than 0, got 0"),
        (AlarmActionBody, {"minutes": 481}, "minutes: at most 480, got 481"),
        (AlarmActionBody, {"minutes": float("inf")}, "minutes: must be a finite number"),
        (UnlockRequest, {"seconds": MAX_UNLOCK_S + 1}, f"seconds: at most {MAX_UNLOCK_S:g}"),
        (UnlockRequest, {"seconds": -1}, "seconds: more than 0"),
        (UnlockRequest, {"note": "x" * 201}, "note: at most 200 characters"),
        (UnlockRequest, {"seconds": 5, "until": "2026-11-23T17:00:00Z"}, "give seconds or until, not both"),
        (UnlockRequest, {"until": "2026-11-23T17:00"}, "until: time '2026-11-23T17:00' is not RFC 3339"),
        (DoorCommandNote, {"lockdown": True}, "lockdown: unknown field"),
        # times: RFC 3339 with a zone, within the API's years
        (AlarmActionBody, {"until": "2026-11-23T09:00:00"},
         "until: time '2026-11-23T09:00:00' has no time zone"),
        (AlarmActionBody, {"until": "tomorrow"}, "until: time 'tomorrow' is not RFC 3339"),
        (AlarmActionBody, {"until": 1_800_000_000}, "until: must be an RFC 3339 time"),
        (NewCredential, {"value": "0A", "format": "em4100", "valid_until": "9500-01-01T00:00:00Z"},
         "valid_until: a year from 1970 to 9000"),
        # text no database stores
        (NewIncident, {"title": "Door\x00forced"}, "title: contains a NUL character"),
        (NewWatchEntry, {"name": "n", "reason": "\ud800"}, "reason: contains a lone surrogate (U+D800)"),
        # fields a model does not name
        (NewWatchEntry, {"name": "n", "alias": ["x"]}, "alias: unknown field"),
        (RightSchedule, {"tz": "UTC", "days": []}, "days: unknown field"),
        # an attachment is exactly one thing
        (IncidentAttachment, {}, "event_id/alarm_id/snapshot_event_id: give exactly one"),
        (IncidentAttachment, {"event_id": "e", "alarm_id": "a"}, "event_id/alarm_id/snapshot_event_id: give"),
        (IncidentAttachment, {"event_id": " "}, "event_id/alarm_id/snapshot_event_id: give"),
        (NewInvitation, {"visitor_name": "A", "host_id": "e-1", "visitor_type": "vip"},
         "visitor_type: Input"),
    ],
)
def test_a_bad_body_is_refused_naming_the_field(model: type[RequestBody], doc: Any, error: str) -> None:
    """Each refusal's text starts with the field at fault."""
    assert _refusal(model, doc).startswith(error)


def test_every_fault_of_a_body_is_named() -> None:
    """Several bad fields: each is named, in one line."""
    said = _refusal(NewInvitation, {"visitor_name": 1, "expected_at": "soon", "colour": "red"})
    assert said.split("; ") == ["visitor_name: must be a string", "host_id: required",
                                "expected_at: time 'soon' is not RFC 3339", "colour: unknown field"]


def test_optional_text_given_empty_counts_as_absent() -> None:
    """`""` for an optional field is as if it was left out; its offset is kept on a time."""
    body = NewInvitation.read({"visitor_name": "Ana", "host_id": "e-1", "company": "", "email": "",
                               "visitor_type": "", "expected_at": "",
                               "valid_until": "2026-11-22T10:00:00+01:00"})
    assert (body.company, body.email, body.visitor_type, body.expected_at) == (None, None, None, None)
    assert body.valid_until is not None
    assert body.valid_until.utcoffset() == timedelta(hours=1)
