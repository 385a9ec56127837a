"""The HTTP API's typed bodies: round trips, the JSON exactly as the API sends it, bad bodies refused."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from broker.api_models import (
    AlarmBody,
    AlarmStepBody,
    BadgesRevoked,
    Body,
    CreatedInvitation,
    CredentialBody,
    DoorGroupBody,
    HostEntry,
    ImportReportBody,
    ImportRowError,
    IncidentBody,
    IncidentItemBody,
    IncidentSummary,
    KioskInvitation,
    MusterEntry,
    MusterList,
    OnSiteEntry,
    PersonBody,
    PersonRemoved,
    ReturningVisitor,
    RightBody,
    RightRevoked,
    ScheduleBody,
    TokenBody,
    UnlockSent,
    UpcomingInvitation,
    VisitorDetailsBody,
    WatchlistEntryBody,
    WatchlistName,
    dump_list,
    read_list,
)
from broker.schemas import VisitorType
from broker.seal import unseal
from security.api.views import kiosk_invitation_json, watch_json
from security.storage.invitations import Invitation
from security.storage.watchlist import WatchEntry

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
WARSAW = timezone(timedelta(hours=1))
SHA = "ab" * 32

BODIES: list[Body] = [
    HostEntry(id="e-1", name="Jan Kowalski"),
    KioskInvitation(visit_id="V7F3A2K9QX", visitor_name="Ana López", company=None, email="ana@example.org",
                    visitor_type=VisitorType.INTERVIEW, host_id="e-1", host_name="Jan Kowalski",
                    expected_at=NOW, valid_from=NOW.astimezone(WARSAW), valid_until=NOW + timedelta(hours=8)),
    UpcomingInvitation(visit_id="V7F3A2K9QX", visitor_name="A** L****", company="Ana*****", host_name=None,
                       visitor_type=VisitorType.GUEST, host_id="e-1", expected_at=NOW, valid_from=NOW,
                       valid_until=NOW, code_sha256=SHA, sealed="s2.abc"),
    ReturningVisitor(token="tok-1", name="M**** G*****", company=None, last_visit=date(2026, 10, 1)),
    VisitorDetailsBody(visitor_name="Maria Garcia", company="Globex", visitor_type=None, language="en",
                       last_visit=date(2026, 10, 1)),
    OnSiteEntry(visit_id="V100", name="J** K*******", company=None, since=NOW),
    OnSiteEntry(visit_id="V101", name="J** K*******", company="Glo***", since=None),
    WatchlistName(id=7, name="Lukasz Zolc", aliases=["Lucky Z"]),
    WatchlistEntryBody(id=7, name="Lukasz Zolc", aliases=[], reason=None, added_by="guard-1", added_at=NOW,
                       removed_at=None),
    CreatedInvitation(visit_id="V1", code="GH1:V1:x", visitor_name="Ana", company=None, email=None,
                      visitor_type="guest", host_id="e-1", host_name=None, expected_at=NOW, valid_from=NOW,
                      valid_until=NOW, state="open", created_by="api:guard-1", created_at=NOW,
                      cancelled_at=None, checked_in_at=None, qr_png="/api/invitations/V1/qr.png",
                      emailed=False),
    UnlockSent(device="door-1", command="unlock", command_id="c-1", seconds=5.0, door="main", expires=NOW,
               by="api:guard-1"),
    AlarmBody(id="a-1", rule="door_forced", key="door-1", priority="high", summary="forced",
              state="acknowledged", count=2, silent=False, raised_at=NOW, last_seen=None, shelved_until=None,
              escalation_level=0, cause=["e-1"],
              history=[AlarmStepBody(action="acknowledged", by="guard-1", at=NOW, note=None)]),
    IncidentSummary(id="i-1", number=1, title="t", state="open", opened_by="g", opened_at=NOW, closed_by=None,
                    closed_at=None, outcome=None, item_count=0),
    IncidentBody(id="i-1", number=1, title="t", state="open", opened_by="g", opened_at=NOW, closed_by=None,
                 closed_at=None, outcome=None, item_count=1,
                 items=[IncidentItemBody(kind="note", ref=None, note="n", by="g", at=NOW)]),
    MusterList(site="hq", as_of=NOW, count=1,
               people=[MusterEntry(person_id="p-1", name="Jan", kind="employee", since=NOW, last_door=None,
                                   company=None, host=None)]),
    TokenBody(id=1, name="kiosk-1", role="kiosk", created_at=NOW, revoked_at=None),
    PersonBody(id="p-1", name="Jan", kind="employee", groups=["staff"], email=None,
               credentials=[CredentialBody(value="****3D4E", format="hex", valid_from=None, valid_until=NOW,
                                           revoked_at=None, state="expired")],
               rights=[RightBody(id=1, door_group="lobby", person_id=None, group="staff",
                                 schedule=ScheduleBody(tz="Europe/Warsaw", always=False,
                                                       windows=[(0, "08:00", "18:00")]))]),
    ImportReportBody(dry_run=True, added=["p-1"], updated=[], credentials=1,
                     errors=[ImportRowError(row=3, reason="no name")]),
    PersonRemoved(removed="p-1", credentials=2),
    BadgesRevoked(person_id="p-1", revoked=1),
    DoorGroupBody(name="lobby", doors=["main", "side"]),
    RightRevoked(revoked=4),
]


@pytest.mark.parametrize("body", BODIES, ids=lambda b: type(b).__name__)
def test_a_body_round_trips_through_json(body: Body) -> None:
    wire = json.loads(json.dumps(body.dump()))
    assert type(body).read(wire) == body
    assert read_list(type(body), [wire, wire]) == [body, body]


def test_times_keep_their_offset_and_every_field_is_written() -> None:
    doc = BODIES[1].dump()
    assert list(doc) == ["visit_id", "visitor_name", "company", "email", "visitor_type", "host_id",
                         "host_name", "expected_at", "valid_from", "valid_until"]
    assert (doc["company"], doc["visitor_type"]) == (None, "interview")
    assert doc["expected_at"] == "2026-11-22T09:00:00+00:00"
    assert doc["valid_from"] == "2026-11-22T10:00:00+01:00"
    assert OnSiteEntry.read({"visit_id": "V1", "name": "A", "company": None, "since": None}).since is None
    read = KioskInvitation.read(doc)
    assert read.valid_from.utcoffset() == timedelta(hours=1)  # shown as the service sent it
    assert read.dump() == doc
    assert dump_list([HostEntry(id="e", name="E")]) == [{"id": "e", "name": "E"}]
    assert BODIES[16].dump()["rights"][0]["schedule"]["windows"] == [[0, "08:00", "18:00"]]


def test_the_api_answers_a_kiosk_in_the_same_json_as_before() -> None:
    invitation = Invitation(visit_id="V7F3A2K9QX", code="GH1:V7F3A2K9QX:secret", visitor_name="Ana López",
                            company="Analytica Experts", email="ana@example.org", visitor_type="interview",
                            host_id="e-1", expected_at=NOW, valid_until=NOW + timedelta(hours=8),
                            created_by="api:guard-1", created_at=NOW)
    shown = kiosk_invitation_json(invitation, "Jan Kowalski", valid_from=NOW.astimezone(WARSAW), cache=False)
    assert shown == {
        "visit_id": "V7F3A2K9QX", "visitor_name": "Ana López", "company": "Analytica Experts",
        "email": "ana@example.org", "visitor_type": "interview", "host_id": "e-1",
        "host_name": "Jan Kowalski",
        "expected_at": NOW.isoformat(), "valid_from": NOW.astimezone(WARSAW).isoformat(),
        "valid_until": (NOW + timedelta(hours=8)).isoformat(),
    }
    listed = kiosk_invitation_json(invitation, None, valid_from=NOW, cache=True)
    assert list(listed) == ["visit_id", "visitor_name", "company", "visitor_type", "host_id", "host_name",
                            "expected_at", "valid_from", "valid_until", "code_sha256", "sealed"]
    masked = (listed["visitor_name"], listed["company"], listed["host_name"])
    assert masked == ("A** L****", "Ana****** E******", None)
    sealed = unseal(invitation.code, listed["sealed"])
    assert sealed == {"visitor_name": "Ana López", "company": "Analytica Experts"}
    entry = WatchEntry(id=3, name="X Y", aliases=("Z",), reason="r", added_by="m", added_at=NOW)
    assert watch_json(entry, full=False) == {"id": 3, "name": "X Y", "aliases": ["Z"]}
    assert watch_json(entry, full=True) == {"id": 3, "name": "X Y", "aliases": ["Z"], "reason": "r",
                                            "added_by": "m", "added_at": NOW.isoformat(), "removed_at": None}


@pytest.mark.parametrize(
    ("model", "doc"),
    [
        (HostEntry, {"id": "e-1"}),
        (HostEntry, {"id": 1, "name": "A"}),
        (HostEntry, ["e-1", "A"]),
        (KioskInvitation, {**BODIES[1].dump(), "visitor_type": "burglar"}),
        (KioskInvitation, {**BODIES[1].dump(), "expected_at": "2026-11-22T09:00:00"}),  # no zone
        (KioskInvitation, {k: v for k, v in BODIES[1].dump().items() if k != "host_name"}),
        (UpcomingInvitation, {**BODIES[2].dump(), "code_sha256": "GH1:V7F3A2K9QX:secret"}),
        (ReturningVisitor, {**BODIES[3].dump(), "last_visit": "yesterday"}),
        (VisitorDetailsBody, {**BODIES[4].dump(), "visitor_name": None}),
        (OnSiteEntry, {"visit_id": "V1", "name": "A", "company": None, "since": "soon"}),
        (WatchlistName, {"id": 1, "name": "A", "aliases": [3]}),
        (WatchlistName, {"id": True, "name": "A"}),
        (WatchlistEntryBody, {"id": 1, "name": "A", "aliases": []}),
        (UnlockSent, {**BODIES[10].dump(), "expires": None}),
        (AlarmBody, {**BODIES[11].dump(), "history": [{"action": "x"}]}),
        (IncidentBody, BODIES[12].dump()),  # a summary has no items
        (MusterList, {**BODIES[14].dump(), "count": "one"}),
        (PersonBody, {**BODIES[16].dump(), "credentials": [{"value": "x", "state": "lost"}]}),
        (ImportReportBody, {**BODIES[17].dump(), "errors": [{"row": "three"}]}),
        (DoorGroupBody, {"name": "lobby", "doors": "main"}),
        (RightRevoked, {"revoked": "four"}),
    ],
)
def test_a_bad_body_is_refused(model: type[Body], doc: Any) -> None:
    with pytest.raises(ValidationError):
        model.read(doc)
    with pytest.raises(ValueError, match=model.__name__):
        read_list(model, [doc])


def test_a_list_must_be_a_list() -> None:
    with pytest.raises(ValueError, match="HostEntry"):
        read_list(HostEntry, {"id": "e", "name": "E"})


def test_fields_a_newer_service_adds_are_ignored() -> None:
    assert HostEntry.read({"id": "e", "name": "E", "department": "Sales"}) == HostEntry(id="e", name="E")
