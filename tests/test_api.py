"""The HTTP API on a real port: tokens, roles, people, CSV import, the muster list, alarms and incidents."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from broker.events import Event, make_event
from broker.schemas import (
    AccessGranted,
    CameraSnapshot,
    DoorChange,
    IncidentClosed,
    IncidentNoted,
    IncidentOpened,
    Priority,
    VisitorCheckedIn,
    VisitorCheckedOut,
)
from security.api import MAX_BODY, ApiServer
from security.office.alarms import (
    NEEDS_COMMENT,
    Action,
    ActionRejected,
    AlarmBook,
    BookConfig,
    Condition,
    Output,
    RuleName,
)
from security.office.audit import verify
from security.office.incidents import IncidentDesk, console_emitter
from security.storage import EventStore, open_store
from security.storage.alarm_store import save_alarms
from security.storage.audit_log import chain_head, read_chain
from security.storage.people import Change
from security.storage.tokens import create_token, revoke_token
from tests.support import Reply, http

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
KEY = b"api-test-key"


@dataclass
class Site:
    """A running API server, its store and a token per role."""

    server: ApiServer
    store: EventStore
    tokens: dict[str, str] = field(default_factory=dict)

    def call(self, method: str, path: str, role: str | None = None, body: Any = None, *,
             data: bytes | None = None, content_type: str = "application/json",
             token: str | None = None) -> Reply:
        """One request with urllib; `role` picks the token to send."""
        bearer = token or (self.tokens[role] if role else None)
        return http(method, self.server.url + path, token=bearer, body=body, data=data,
                    content_type=content_type)


class Alarms:
    """The central service's alarm book in miniature: apply an action, save the alarms, return outputs."""

    def __init__(self, store: EventStore) -> None:
        """An empty book (shelving up to an hour) saving to `store`."""
        self.store = store
        self.book = AlarmBook(BookConfig(max_shelve_s=3600))
        self.lock = threading.Lock()

    def raise_(self, rule: RuleName, key: str) -> None:
        """Raise an alarm for a condition."""
        self.apply(Condition(rule, key, Priority.HIGH, f"{rule} at {key}"))

    def apply(self, item: Condition | Action) -> Sequence[Output]:
        """Apply to the book and store the changed alarms, as the service does."""
        with self.lock:
            self.book, outputs = self.book.apply(item, NOW)
        with self.store.engine.begin() as conn:
            save_alarms(conn, [o.alarm for o in outputs if not isinstance(o, ActionRejected)], NOW)
        return outputs


def _site(url: str, alarm_actions: Any = None, *, incidents: bool = False) -> Iterator[Site]:
    with open_store(url) as store:
        desk = IncidentDesk(store.engine, site="hq", audit_key=KEY, emit=console_emitter(store, "hq"),
                            clock=lambda: NOW) if incidents else None
        server = ApiServer(store, host="127.0.0.1", port=0, site="hq", audit_key=KEY, now=lambda: NOW,
                           alarm_actions=alarm_actions(store) if alarm_actions else None, incidents=desk)
        site = Site(server, store)
        for role in ("guard", "manager", "admin"):
            site.tokens[role] = create_token(store.engine, role + "-1", role, Change("test", NOW, KEY))[1]
        with server:
            yield site


@pytest.fixture
def site(sqlite_url: str) -> Iterator[Site]:
    """An API server on SQLite with no central service."""
    yield from _site(sqlite_url)


@pytest.fixture
def alarms_site(sqlite_url: str) -> Iterator[tuple[Site, Alarms]]:
    """An API server whose alarm actions go to a real alarm book."""
    holder: list[Alarms] = []

    def hook(store: EventStore) -> Any:
        holder.append(Alarms(store))
        return holder[0].apply

    for running in _site(sqlite_url, hook):
        yield running, holder[0]


def test_health_needs_no_token(site: Site) -> None:
    """GET /api/health answers without a token."""
    reply = site.call("GET", "/api/health")
    assert (reply.status, reply.json["status"], reply.json["site"]) == (200, "ok", "hq")


def test_authentication_and_roles(site: Site) -> None:
    """401 without or with a bad/revoked token, 403 for a role too low, 404 and 405 for routes."""
    no_token = site.call("GET", "/api/people")
    assert no_token.status == 401
    assert no_token.headers["WWW-Authenticate"].startswith("Bearer")
    assert "Bearer" in no_token.json["error"]
    assert site.call("GET", "/api/people", token="gh_not-a-real-token").status == 401
    assert site.call("GET", "/api/nothing").status == 401
    assert site.call("GET", "/api/people", "guard").status == 200
    forbidden = site.call("POST", "/api/people", "guard", {"id": "e-1", "name": "Ann"})
    assert forbidden.status == 403
    assert "guard" in forbidden.json["error"]
    assert site.call("GET", "/api/nothing", "guard").status == 404
    wrong = site.call("PATCH", "/api/people", "admin", {})
    assert wrong.status == 405
    assert "GET, POST" in wrong.json["error"]
    token = create_token(site.store.engine, "temp", "admin", Change("test", NOW))
    assert site.call("GET", "/api/people", token=token[1]).status == 200
    revoke_token(site.store.engine, token[0].id, Change("test", NOW))
    assert site.call("GET", "/api/people", token=token[1]).status == 401


@pytest.fixture
def db_site(db_url: str) -> Iterator[Site]:
    """An API server on SQLite and on PostgreSQL."""
    yield from _site(db_url)


def test_people_crud(db_site: Site) -> None:
    """Add, read, change, badge, revoke and remove a person; guards see badges masked."""
    call = db_site.call
    added = call("POST", "/api/people", "manager", {"id": "e-1", "name": "Ann", "groups": ["staff"]})
    assert added.status == 201
    assert added.json["groups"] == ["staff"]
    assert call("POST", "/api/people", "manager", {"id": "e-1", "name": "Again"}).status == 409
    put = call("PUT", "/api/people/e-1", "manager", {"name": "Ann Lee", "email": "ann@example.org"})
    assert (put.status, put.json["name"], put.json["groups"]) == (200, "Ann Lee", [])
    assert call("PUT", "/api/people/e-9", "manager", {"name": "X"}).status == 404
    call("POST", "/api/people", "manager", {"id": "v-1", "name": "Vera", "kind": "visitor"})
    assert call("PUT", "/api/people/v-1", "manager", {"name": "Vera M"}).json["kind"] == "visitor"
    badge = call("POST", "/api/people/e-1/credentials", "manager",
                 {"value": "0a1b2c3d4e", "format": "em4100", "valid_until": "2027-01-01T00:00:00Z"})
    assert badge.status == 201
    assert badge.json["credentials"][0]["value"] == "0A1B2C3D4E"
    call("POST", "/api/people", "admin", {"id": "e-2", "name": "Bob"})
    clash = call("POST", "/api/people/e-2/credentials", "manager",
                 {"value": "0A1B2C3D4E", "format": "em4100"})
    assert clash.status == 409
    assert "e-1" in clash.json["error"]
    guard_view = call("GET", "/api/people/e-1", "guard").json
    assert guard_view["credentials"][0]["value"] == "******3D4E"
    assert "0A1B2C3D4E" not in call("GET", "/api/people", "guard").raw.decode()
    assert "0A1B2C3D4E" in call("GET", "/api/people", "manager").raw.decode()
    revoked = call("DELETE", "/api/people/e-1/credentials/0A1B2C3D4E", "manager")
    assert revoked.json == {"person_id": "e-1", "revoked": 1}
    assert call("DELETE", "/api/people/e-1/credentials", "manager").status == 404
    assert call("GET", "/api/people/e-1", "guard").json["credentials"][0]["state"] == "revoked"
    assert call("DELETE", "/api/people/e-1", "manager").json == {"removed": "e-1", "credentials": 1}
    assert call("GET", "/api/people/e-1", "guard").status == 404


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/people", {"name": "Ann"}, "id"),
        ("/api/people", {"id": "bad id", "name": "Ann"}, "id"),
        ("/api/people", {"id": "e-1"}, "name"),
        ("/api/people", {"id": "e-1", "name": "Ann", "kind": "alien"}, "kind"),
        ("/api/people", {"id": "e-1", "name": "Ann", "groups": "staff"}, "groups"),
        ("/api/people/e-0/credentials", {"value": "0A", "format": "mifare"}, "format"),
        ("/api/people/e-0/credentials", {"value": "XYZ", "format": "em4100"}, "value"),
        ("/api/people/e-0/credentials", {"value": "0A0000000A", "format": "em4100",
                                         "valid_from": "2026-01-01T00:00"}, "valid_from"),
        ("/api/rights", {"door_group": "lobby"}, "person_id/group"),
    ],
)
def test_bad_input_names_the_field(site: Site, path: str, body: dict[str, Any], field: str) -> None:
    """A bad body is 400 and the error starts with the offending field's name."""
    site.call("POST", "/api/people", "manager", {"id": "e-0", "name": "Zero"})
    reply = site.call("POST", path, "admin", body)
    assert reply.status == 400
    assert reply.json["error"].startswith(f"{field}:")


@pytest.mark.parametrize(
    ("method", "path", "body", "error"),
    [
        ("POST", "/api/people", {"id": "e-1", "name": "Ann", "team": "it"}, "team: unknown field"),
        ("POST", "/api/people", {"id": 7, "name": ["Ann"]}, "name: must be a string; id: must be a string"),
        ("PUT", "/api/door-groups/lobby", {"doors": ["d-1", None]}, "doors[1]: must be a string"),
        ("POST", "/api/rights", {"door_group": "lobby", "group": "staff", "schedule": {"always": "yes"}},
         "schedule.always: must be true or false"),
        ("POST", "/api/people/e-0/credentials", {"value": "0A0000000A", "format": "em4100",
                                                 "valid_until": "2026-13-01T00:00:00Z"}, "valid_until: time"),
    ],
)
def test_a_bad_body_is_400_naming_every_bad_field(
    site: Site, method: str, path: str, body: dict[str, Any], error: str
) -> None:
    """Unknown fields, wrong types and bad times are 400 with the fields named; nothing is stored."""
    site.call("POST", "/api/people", "manager", {"id": "e-0", "name": "Zero"})
    reply = site.call(method, path, "manager", body)
    assert (reply.status, reply.json["error"].startswith(error)) == (400, True), reply.json
    assert [p["id"] for p in site.call("GET", "/api/people", "guard").json] == ["e-0"]
    assert site.call("GET", "/api/door-groups", "guard").json == {}
    assert site.call("GET", "/api/people/e-0", "guard").json["credentials"] == []


def test_malformed_json_is_400(site: Site) -> None:
    """A body that is not a JSON object is 400."""
    reply = site.call("POST", "/api/people", "manager", data=b"{not json")
    assert (reply.status, reply.json["error"].startswith("the body is not valid JSON")) == (400, True)
    assert site.call("POST", "/api/people", "manager", [1, 2]).status == 400


def test_rights_through_the_api(site: Site) -> None:
    """A door group and a scheduled group right; unknown door groups are 404."""
    right = {"door_group": "lobby", "group": "staff"}
    assert site.call("POST", "/api/rights", "manager", right).status == 404
    assert site.call("PUT", "/api/door-groups/lobby", "manager", {"doors": ["main-door"]}).status == 200
    schedule = {"tz": "Europe/Warsaw", "always": False, "windows": [[0, "07:00", "19:00"]]}
    made = site.call("POST", "/api/rights", "manager", {"door_group": "lobby", "group": "staff",
                                                        "schedule": schedule})
    assert made.status == 201
    assert site.call("GET", "/api/rights", "guard").json == [made.json]
    assert made.json["schedule"] == schedule
    assert site.call("DELETE", f"/api/rights/{made.json['id']}", "guard").status == 403
    assert site.call("DELETE", f"/api/rights/{made.json['id']}", "manager").status == 200
    assert site.call("GET", "/api/rights", "guard").json == []


def test_csv_import(site: Site) -> None:
    """text/csv in, a report out; dry run writes nothing; other content types and huge bodies are refused."""
    csv = b"employee_id,name,badge\ne-1,Ann,0A0000000A\ne-2,,\ne-3,Cy,0B0000000B\n"
    dry = site.call("POST", "/api/people/import?dry_run=1", "manager", data=csv, content_type="text/csv")
    assert dry.json == {"dry_run": True, "added": ["e-1", "e-3"], "updated": [], "credentials": 2,
                        "errors": [{"row": 3, "reason": "employee_id and name are required"}]}
    assert site.call("GET", "/api/people", "guard").json == []
    done = site.call("POST", "/api/people/import", "manager", data=csv,
                     content_type="text/csv; charset=utf-8")
    assert (done.status, done.json["added"], done.json["dry_run"]) == (200, ["e-1", "e-3"], False)
    assert [p["id"] for p in site.call("GET", "/api/people", "guard").json] == ["e-1", "e-3"]
    assert site.call("POST", "/api/people/import", "guard", data=csv, content_type="text/csv").status == 403
    assert site.call("POST", "/api/people/import", "manager", data=csv,
                     content_type="application/json").status == 415
    huge = site.call("POST", "/api/people/import", "manager", data=b"x" * (MAX_BODY + 1),
                     content_type="text/csv")
    assert huge.status == 413
    assert str(MAX_BODY) in huge.json["error"]


def test_onsite_json_and_text(site: Site) -> None:
    """Badged-in employees and checked-in visitors are on site; leaving removes them."""
    for pid, name in (("e-1", "Ann Lee"), ("e-2", "Bob Out")):
        site.call("POST", "/api/people", "manager", {"id": pid, "name": name})
    events = [
        make_event("hq", "reader-1", "access.granted", 1, AccessGranted(
            credential="0A0000000A", door="main-door", person_id="e-1", direction="in"),
            time=NOW - timedelta(hours=2)),
        make_event("hq", "reader-1", "access.granted", 2, AccessGranted(
            credential="0B0000000B", door="main-door", person_id="e-2", direction="in"),
            time=NOW - timedelta(hours=2)),
        make_event("hq", "reader-2", "access.granted", 1, AccessGranted(
            credential="0B0000000B", door="main-door", person_id="e-2", direction="out"),
            time=NOW - timedelta(hours=1)),
        make_event("hq", "reader-1", "access.granted", 3, AccessGranted(
            credential="0C0000000C", door="main-door", person_id="e-3", direction="in"),
            time=NOW - timedelta(hours=30)),
        make_event("hq", "kiosk-1", "visitor.checked_in", 1, VisitorCheckedIn(
            visit_id="v-1", visitor_name="Vera", visitor_type="guest", host_name="Ann Lee"),
            time=NOW - timedelta(minutes=40)),
        make_event("hq", "kiosk-1", "visitor.checked_in", 2, VisitorCheckedIn(
            visit_id="v-2", visitor_name="Gone", visitor_type="guest"), time=NOW - timedelta(minutes=30)),
        make_event("hq", "kiosk-1", "visitor.checked_out", 3, VisitorCheckedOut(visit_id="v-2", method="qr"),
                   time=NOW - timedelta(minutes=10)),
    ]
    site.store.store_batch(events, NOW)
    doc = site.call("GET", "/api/onsite", "guard").json
    assert (doc["count"], doc["as_of"]) == (2, NOW.isoformat())
    assert [(p["person_id"], p["kind"], p["last_door"]) for p in doc["people"]] == [
        ("v-1", "visitor", None), ("e-1", "employee", "main-door")]
    text = site.call("GET", "/api/onsite.txt", "guard")
    assert text.headers["Content-Type"].startswith("text/plain")
    body = text.raw.decode()
    assert body.startswith("MUSTER LIST hq")
    assert "host Ann Lee" in body
    assert "Bob Out" not in body
    assert site.call("GET", "/api/onsite?horizon_h=0", "guard").status == 400
    assert site.call("GET", "/api/onsite?horizon_h=48", "guard").json["count"] == 2


def test_alarms_are_read_and_acted_on(alarms_site: tuple[Site, Alarms]) -> None:
    """List and get alarms; acknowledge, shelve, unshelve and resolve; a rejected action is 409."""
    site, book = alarms_site
    book.raise_(RuleName.DOOR_FORCED, "door:main")
    book.raise_(RuleName.CAMERA_TAMPER, "camera:lobby")
    assert [a["id"] for a in site.call("GET", "/api/alarms", "guard").json] == ["a-2", "a-1"]
    one = site.call("GET", "/api/alarms/a-1", "guard").json
    assert (one["state"], one["rule"]) == ("unacknowledged", str(RuleName.DOOR_FORCED))
    assert site.call("GET", "/api/alarms/a-9", "guard").status == 404
    acked = site.call("POST", "/api/alarms/a-1/acknowledge", "guard", {"note": "on my way"})
    assert acked.status == 200
    assert acked.json["state"] == "acknowledged"
    assert acked.json["history"][-1] == {"action": "acknowledged", "by": "api:guard-1",
                                         "at": NOW.isoformat(), "note": "on my way"}
    shelved = site.call("POST", "/api/alarms/a-2/shelve", "guard", {"minutes": 30})
    assert (shelved.json["state"], shelved.json["shelved_until"]) == (
        "shelved", (NOW + timedelta(minutes=30)).isoformat())
    too_long = site.call("POST", "/api/alarms/a-1/shelve", "guard",
                         {"until": (NOW + timedelta(hours=5)).isoformat()})
    assert too_long.status == 409
    assert site.call("POST", "/api/alarms/a-2/shelve", "guard", {}).json["error"].startswith("until:")
    assert site.call("POST", "/api/alarms/a-2/shelve", "guard", {"minutes": -5}).json["error"].startswith(
        "minutes:")
    assert site.call("POST", "/api/alarms/a-2/unshelve", "guard").json["state"] == "unacknowledged"
    bare = site.call("POST", "/api/alarms/a-1/resolve", "manager")
    assert (bare.status, bare.json["error"]) == (400, f"note: {NEEDS_COMMENT}")
    closed = site.call("POST", "/api/alarms/a-1/resolve", "manager", {"note": "door re-secured"})
    assert closed.json["state"] == "resolved"
    assert closed.json["normal"] is False
    again = site.call("POST", "/api/alarms/a-1/acknowledge", "guard")
    assert again.status == 409
    assert again.json["error"]
    assert site.call("POST", "/api/alarms/a-9/acknowledge", "guard").status == 409
    assert site.call("POST", "/api/alarms/a-1/explode", "guard").status == 404
    assert [a["id"] for a in site.call("GET", "/api/alarms?open=1", "guard").json] == ["a-2"]


@pytest.mark.parametrize("minutes", [481, 10**30, 1e300, 480.5])
def test_shelving_for_more_minutes_than_the_book_allows_is_400(
    alarms_site: tuple[Site, Alarms], minutes: float
) -> None:
    """A huge `minutes` is refused by name (it used to overflow `timedelta` into a 500)."""
    site, book = alarms_site
    book.raise_(RuleName.DOOR_FORCED, "door:main")
    reply = site.call("POST", "/api/alarms/a-1/shelve", "guard", {"minutes": minutes})
    assert reply.status == 400
    assert reply.json["error"].startswith("minutes: at most 480")
    for text in (b'{"minutes": Infinity}', b'{"minutes": NaN}'):
        odd = site.call("POST", "/api/alarms/a-1/shelve", "guard", data=text)
        assert odd.status == 400, odd.raw
    longest = site.call("POST", "/api/alarms/a-1/shelve", "guard", {"minutes": 480})
    assert longest.status == 409  # allowed by the API, past this book's own limit (1 h)
    assert site.call("GET", "/api/alarms/a-1", "guard").json["state"] == "unacknowledged"


def test_alarm_actions_without_the_service_are_503(site: Site) -> None:
    """Without the central service in the process, alarm actions cannot be applied."""
    reply = site.call("POST", "/api/alarms/a-1/acknowledge", "guard")
    assert reply.status == 503
    assert reply.json["error"] == "the central service does not run in this process"


def test_an_internal_error_is_logged_once_and_answered_generically(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A failing service hook: 500 with a generic message, the traceback once in the log."""

    def broken(_store: EventStore) -> Any:
        def apply(_action: Action) -> Sequence[Output]:
            raise RuntimeError("secret internals")
        return apply

    for running in _site(sqlite_url, broken):
        with caplog.at_level(logging.ERROR, logger="security.api.server"):
            reply = running.call("POST", "/api/alarms/a-1/acknowledge", "guard")
    assert reply.status == 500
    assert "secret" not in reply.json["error"]
    failures = [r for r in caplog.records if r.name == "security.api.server"]
    assert len(failures) == 1
    assert failures[0].exc_info is not None


SNAP_PATH = "/data/snapshots/cam-1/20261123-095959.jpg"


def _console(site: Site) -> list[Event]:
    """The events the incident desk emitted, in order."""
    return site.store.query_events(sources=["gatehouse/hq/console"], limit=None)


@pytest.fixture
def incident_site(sqlite_url: str) -> Iterator[Site]:
    """An API server with a real incident desk, an alarm a-1, a door.forced event and its snapshot."""
    for running in _site(sqlite_url, incidents=True):
        Alarms(running.store).raise_(RuleName.DOOR_FORCED, "door:main")
        forced = make_event("hq", "door-1", "door.forced", 1, DoorChange(door="main-door"),
                            time=NOW - timedelta(minutes=1), event_id="ev-forced")
        snap = make_event("hq", "cam-1", "camera.snapshot", 1,
                          CameraSnapshot(camera="cam-1", path=SNAP_PATH, for_event="ev-forced"),
                          time=NOW - timedelta(minutes=1), event_id="ev-snap")
        assert len(running.store.store_batch([forced, snap], NOW).stored) == 2
        yield running


def test_an_incident_from_an_alarm_to_its_close(incident_site: Site) -> None:
    """Open from an alarm, note, attach an event and a snapshot, close as manager: logged and audited."""
    call = incident_site.call
    opened = call("POST", "/api/incidents", "guard", {"title": "Door forced at main", "alarm_ids": ["a-1"]})
    assert opened.status == 201
    assert (opened.json["id"], opened.json["state"], opened.json["opened_by"]) == (
        "i-1", "open", "api:guard-1")
    assert opened.json["items"] == [{"kind": "alarm", "ref": "a-1", "note": None, "by": "api:guard-1",
                                     "at": NOW.isoformat()}]
    noted = call("POST", "/api/incidents/i-1/notes", "guard", {"note": "Patrol sent"})
    assert (noted.status, noted.json["items"][-1]["note"]) == (201, "Patrol sent")
    event = call("POST", "/api/incidents/i-1/attach", "guard", {"event_id": "ev-forced"})
    assert (event.status, event.json["items"][-1]["kind"], event.json["items"][-1]["ref"]) == (
        201, "event", "ev-forced")
    snap = call("POST", "/api/incidents/i-1/attach", "guard", {"snapshot_event_id": "ev-snap"}).json
    assert (snap["items"][-1]["kind"], snap["items"][-1]["note"]) == ("snapshot", SNAP_PATH)
    twice = call("POST", "/api/incidents/i-1/attach", "guard", {"alarm_id": "a-1"})
    assert (twice.status, "already attached" in twice.json["error"]) == (409, True)
    listed = call("GET", "/api/incidents?state=open", "guard").json
    assert [(i["id"], i["item_count"], "items" in i) for i in listed] == [("i-1", 4, False)]

    refused = call("POST", "/api/incidents/i-1/close", "guard", {"outcome": "done"})
    assert refused.status == 403
    closed = call("POST", "/api/incidents/i-1/close", "manager", {"outcome": "Contractor; briefed"})
    assert closed.status == 200
    assert (closed.json["state"], closed.json["closed_by"], closed.json["outcome"]) == (
        "closed", "api:manager-1", "Contractor; briefed")
    again = call("POST", "/api/incidents/i-1/close", "manager", {"outcome": "again"})
    assert (again.status, "cannot be closed again" in again.json["error"]) == (409, True)
    late = call("POST", "/api/incidents/i-1/notes", "guard", {"note": "late"})
    assert (late.status, "cannot be noted" in late.json["error"]) == (409, True)
    assert call("GET", "/api/incidents?state=open", "guard").json == []
    assert [i["id"] for i in call("GET", "/api/incidents?state=closed&limit=5", "guard").json] == ["i-1"]
    shown = call("GET", "/api/incidents/i-1", "guard").json
    assert [(i["kind"], i["ref"]) for i in shown["items"]] == [
        ("alarm", "a-1"), ("note", None), ("event", "ev-forced"), ("snapshot", "ev-snap")]

    events = _console(incident_site)
    assert [e.type for e in events] == [
        "incident.opened", "incident.noted", "incident.noted", "incident.noted", "incident.closed"]
    assert events[0].data == IncidentOpened(incident_id="i-1", title="Door forced at main", by="api:guard-1",
                                            alarm_ids=("a-1",))
    assert events[1].data == IncidentNoted(incident_id="i-1", by="api:guard-1", note="Patrol sent")
    assert events[4].data == IncidentClosed(incident_id="i-1", by="api:manager-1",
                                            outcome="Contractor; briefed")
    with incident_site.store.engine.connect() as conn:
        chain = [r for r in read_chain(conn) if r.subject == "incident:i-1"]
        assert verify(read_chain(conn), key=KEY, expected=chain_head(conn)).ok
    assert [(r.actor, r.action) for r in chain] == [
        ("api:guard-1", "incident.opened"), ("api:guard-1", "incident.noted"),
        ("api:guard-1", "incident.attached"), ("api:guard-1", "incident.attached"),
        ("api:manager-1", "incident.closed"),
    ]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "error"),
    [
        ("GET", "/api/incidents/i-9", None, 404, "no incident i-9"),
        ("POST", "/api/incidents/i-9/notes", {"note": "hello"}, 404, "no incident i-9"),
        ("POST", "/api/incidents/i-9/attach", {"alarm_id": "a-1"}, 404, "no incident i-9"),
        ("POST", "/api/incidents", {"title": "ghost", "alarm_ids": ["a-9"]}, 404, "no alarm a-9"),
        ("POST", "/api/incidents", {"title": "ghost", "event_ids": ["ev-none"]}, 404, "no event ev-none"),
        ("POST", "/api/incidents", {}, 400, "title: required"),
        ("POST", "/api/incidents", {"title": "   "}, 400, "title: required"),
        ("POST", "/api/incidents", {"title": "x" * 201}, 400, "an incident's title is longer"),
        ("POST", "/api/incidents", {"title": "t", "alarm_ids": "a-1"}, 400, "alarm_ids:"),
        ("POST", "/api/incidents/i-1/notes", {"note": 5}, 400, "note: must be a string"),
        ("POST", "/api/incidents/i-1/attach", {}, 400, "event_id/alarm_id/snapshot_event_id:"),
        ("POST", "/api/incidents/i-1/attach", {"event_id": "ev-forced", "alarm_id": "a-1"}, 400,
         "event_id/alarm_id/snapshot_event_id:"),
        ("POST", "/api/incidents/i-1/attach", {"snapshot_event_id": "ev-forced"}, 400,
         "event ev-forced is a door.forced event"),
        ("POST", "/api/incidents/i-1/close", {}, 400, "outcome: required"),
        ("GET", "/api/incidents?state=shut", None, 400, "state:"),
        ("GET", "/api/incidents?limit=0", None, 400, "limit:"),
        ("GET", "/api/incidents?limit=ten", None, 400, "limit:"),
    ],
)
def test_refused_incident_requests(
    incident_site: Site, method: str, path: str, body: Any, status: int, error: str
) -> None:
    """Unknown incidents, alarms and events are 404, bad bodies and queries 400; nothing is emitted."""
    assert incident_site.call("POST", "/api/incidents", "guard", {"title": "real"}).status == 201
    reply = incident_site.call(method, path, "manager", body)
    assert (reply.status, reply.json["error"].startswith(error)) == (status, True), reply.json
    assert [e.type for e in _console(incident_site)] == ["incident.opened"]


def test_malformed_incident_json_is_400(incident_site: Site) -> None:
    """A body that is not JSON is 400 and opens nothing."""
    reply = incident_site.call("POST", "/api/incidents", "guard", data=b"{title")
    assert reply.status == 400
    assert incident_site.call("GET", "/api/incidents", "guard").json == []


def test_incidents_without_a_desk_are_503(site: Site) -> None:
    """A server given no incident desk says so for every incident route."""
    for method, path in (("GET", "/api/incidents"), ("GET", "/api/incidents/i-1"),
                         ("POST", "/api/incidents"), ("POST", "/api/incidents/i-1/close")):
        reply = site.call(method, path, "admin", {"title": "t", "outcome": "o"} if method == "POST" else None)
        assert (reply.status, reply.json["error"]) == (503, "incidents are not served by this process")
