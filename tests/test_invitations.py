"""Invitations: the desk on a real database (SQLite and PostgreSQL), its QR code, the check-in hook,
the back office runtime's batch hooks, and the `gatehouse visit` / `gatehouse watchlist` commands.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import cv2
import numpy as np
import pytest
from sqlalchemy import Connection

from broker.events import Event, make_event
from broker.schemas import VisitorCheckedIn, VisitorInvited
from devices.camera.qr import QrReader
from gatehouse.cli import main
from security.office.access import Person, PersonKind
from security.office.audit import verify
from security.office.config import OfficeConfig
from security.office.incidents import console_emitter
from security.office.invitations import InvitationDesk, mark_invited_check_ins, qr_png
from security.office.runtime import OfficeRuntime
from security.storage import EventStore, insert_batch, open_store
from security.storage.audit_log import chain_head, read_chain
from security.storage.invitations import InvitationClosedError, InvitationError, InvitationNotFoundError
from security.storage.notifications import list_notifications
from security.storage.people import Change, add_person

WARSAW = ZoneInfo("Europe/Warsaw")
KEY = b"invitation-test-key"
NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)  # 08:00 in Warsaw
CODE = re.compile(r"^GH1:[0-9A-HJKMNP-TV-Z]{10}:[A-Za-z0-9_-]{16}$")


@dataclass
class Clock:
    """A clock the test moves."""

    now: datetime = NOW

    def __call__(self) -> datetime:
        """The current test time."""
        return self.now


@dataclass
class Desk:
    """An invitation desk on a real store, with its clock."""

    desk: InvitationDesk
    store: EventStore
    clock: Clock = field(default_factory=Clock)


@pytest.fixture
def desk(db_url: str) -> Iterator[Desk]:
    """A desk in Warsaw time with two employees (one without e-mail) and a visitor in the directory."""
    with open_store(db_url) as store:
        change = Change("test", NOW, KEY)
        add_person(store.engine, Person("e-1", "Jan Kowalski", email="jan@example.org"), change)
        add_person(store.engine, Person("e-2", "Ewa Nowak"), change)
        add_person(store.engine, Person("v-1", "Old Visitor", PersonKind.VISITOR), change)
        clock = Clock()
        made = InvitationDesk(store.engine, site="hq", audit_key=KEY, emit=console_emitter(store, "hq"),
                              tz=WARSAW, clock=clock)
        yield Desk(made, store, clock)


def state(desk: Desk, visit_id: str) -> str:
    """The state of a stored invitation."""
    found = desk.desk.get(visit_id)
    assert found is not None
    return found.state


def decode_qr(png: bytes) -> str:
    """The text of the QR code in a PNG, read back with OpenCV."""
    image = cv2.imdecode(np.frombuffer(png, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
    assert image is not None
    reader = QrReader()  # the kiosk's own reader, shown the code as a camera would: frame after frame
    return next((text for _ in range(2) if (text := reader.read(image.astype(np.uint8)))), "")


def test_an_invitation_is_stored_emitted_audited_and_its_qr_code_reads_back(desk: Desk) -> None:
    """The code is GH1:<visit id>:<secret>; visitor.invited is in the log; the audit chain holds."""
    expected = datetime(2026, 11, 23, 9, 30, tzinfo=WARSAW)
    issued = desk.desk.invite(visitor_name="  Ana   López ", host_id="e-1", by="cli:maria",
                              company="Analytica Experts", email="ana@example.org", expected_at=expected)
    inv = issued.invitation
    assert CODE.match(inv.code)
    assert inv.code.split(":")[1] == inv.visit_id
    assert (inv.visitor_name, inv.state, inv.created_by) == ("Ana López", "open", "cli:maria")
    assert inv.valid_until == datetime(2026, 11, 24, 0, 0, tzinfo=WARSAW)  # the end of that local day
    assert decode_qr(issued.png) == inv.code
    assert desk.desk.get(inv.visit_id) == inv

    [event] = desk.store.query_events(types=["visitor.invited"])
    assert isinstance(event.data, VisitorInvited)
    assert (event.data.visit_id, event.data.host_id, event.data.company) == (inv.visit_id, "e-1",
                                                                             "Analytica Experts")
    assert event.data.expected_at == expected
    with desk.store.engine.connect() as conn:
        records = list(read_chain(conn))
        report = verify(records, key=KEY, expected=chain_head(conn))
    assert report.ok
    assert records[-1].action == "invitation.created"
    assert records[-1].subject == f"visit:{inv.visit_id}"
    assert "Ana" not in json.dumps(dict(records[-1].details))  # the audit chain cannot be purged


def test_two_invitations_never_share_a_visit_id_or_a_code(desk: Desk) -> None:
    """Every code is random."""
    made = [desk.desk.invite(visitor_name=f"Guest {i}", host_id="e-2", by="t").invitation for i in range(20)]
    assert len({i.visit_id for i in made}) == len({i.code for i in made}) == 20


@pytest.mark.parametrize(("fields", "message"), [
    ({"host_id": "nobody"}, "no employee 'nobody'"),
    ({"host_id": "v-1"}, "no employee 'v-1'"),
    ({"visitor_type": "vip"}, "visitor_type"),
    ({"email": "not-an-address"}, "email"),
    ({"visitor_name": " "}, "visitor_name"),
    ({"send_email": True}, "email: needed"),
    ({"expected_at": datetime(2026, 11, 23, 9, 0)}, "time zone"),
    ({"valid_until": NOW - timedelta(hours=1), "expected_at": NOW - timedelta(hours=2)}, "already"),
    ({"valid_until": NOW + timedelta(hours=1), "expected_at": NOW + timedelta(hours=2)}, "after expected_at"),
])
def test_a_bad_invitation_is_refused_and_nothing_is_stored(desk: Desk, fields: dict[str, Any],
                                                           message: str) -> None:
    """Each refusal names the problem; no row, no event."""
    given: dict[str, Any] = {"visitor_name": "Ana", "host_id": "e-1", "by": "t", **fields}
    with pytest.raises(InvitationError, match=message):
        desk.desk.invite(**given)
    assert desk.desk.pending() == []
    assert desk.store.query_events(types=["visitor.invited"]) == []


def test_a_kiosk_finds_an_invitation_only_while_it_is_usable(desk: Desk) -> None:
    """Open, from the start of the expected local day to valid_until; not when cancelled or used."""
    expected = datetime(2026, 11, 24, 10, 0, tzinfo=WARSAW)
    inv = desk.desk.invite(visitor_name="Ana", host_id="e-1", by="t", expected_at=expected).invitation
    assert desk.desk.lookup(inv.code) is None  # the day before
    desk.clock.now = datetime(2026, 11, 24, 0, 0, tzinfo=WARSAW)
    assert desk.desk.lookup(inv.code) == inv
    assert desk.desk.lookup(f"  {inv.code}\n") == inv  # a scanner's trailing newline
    assert desk.desk.lookup(inv.code[:-1]) is None
    assert desk.desk.lookup(inv.visit_id) is None  # the visit id alone is not the code
    desk.clock.now = datetime(2026, 11, 25, 0, 0, tzinfo=WARSAW)
    assert desk.desk.lookup(inv.code) is None  # valid_until is exclusive

    desk.clock.now = datetime(2026, 11, 24, 9, 0, tzinfo=WARSAW)
    other = desk.desk.invite(visitor_name="Bo", host_id="e-1", by="t").invitation
    assert desk.desk.lookup(other.code) == other
    cancelled = desk.desk.cancel(other.visit_id, "manager:ann")
    assert (cancelled.state, cancelled.cancelled_at) == ("cancelled", desk.clock.now)
    assert desk.desk.lookup(other.code) is None
    with pytest.raises(InvitationClosedError, match="already cancelled"):
        desk.desk.cancel(other.visit_id, "manager:ann")
    with pytest.raises(InvitationNotFoundError):
        desk.desk.cancel("NOSUCHVISIT", "manager:ann")


def test_a_visit_just_after_midnight_can_check_in_late_the_evening_before(desk: Desk) -> None:
    """Expected at 00:30: usable from 22:30 the day before (two hours early), not at 22:00."""
    expected = datetime(2026, 11, 24, 0, 30, tzinfo=WARSAW)
    inv = desk.desk.invite(visitor_name="Ana", host_id="e-1", by="t", expected_at=expected).invitation
    desk.clock.now = datetime(2026, 11, 23, 22, 0, tzinfo=WARSAW)
    assert desk.desk.lookup(inv.code) is None
    desk.clock.now = datetime(2026, 11, 23, 23, 50, tzinfo=WARSAW)
    assert desk.desk.lookup(inv.code) == inv


def checked_in(visit_id: str, *, invited: bool = True, seq: int = 1) -> Event:
    """A kiosk's check-in event."""
    data = VisitorCheckedIn(visit_id=visit_id, visitor_name="Ana", visitor_type="guest", host_id="e-1",
                            invited=invited)
    return make_event("hq", "kiosk-1", "visitor.checked_in", seq, data, time=NOW + timedelta(minutes=seq))


def test_an_invited_check_in_marks_its_invitation_used_in_the_batch_transaction(desk: Desk) -> None:
    """The hook runs in the batch's transaction: the invitation is used, and a kiosk can no longer find it."""
    inv = desk.desk.invite(visitor_name="Ana", host_id="e-1", by="t").invitation
    walk_in = desk.desk.invite(visitor_name="Bo", host_id="e-1", by="t").invitation
    events = [checked_in(inv.visit_id, seq=1), checked_in(walk_in.visit_id, invited=False, seq=2),
              checked_in("UNKNOWNVIS", seq=3)]

    with desk.store.transaction() as conn:
        assert mark_invited_check_ins(conn, insert_batch(conn, events, NOW).stored, NOW) == 0
    used = desk.desk.get(inv.visit_id)
    assert used is not None
    assert (used.state, used.checked_in_at) == ("checked_in", NOW + timedelta(minutes=1))
    assert desk.desk.lookup(inv.code) is None
    assert state(desk, walk_in.visit_id) == "open"
    assert [i.visit_id for i in desk.desk.pending()] == [walk_in.visit_id]
    with pytest.raises(InvitationClosedError, match="already checked in"):
        desk.desk.cancel(inv.visit_id, "t")


class Bus:
    """The bus as the runtime publishes to it: topics recorded, nothing sent."""

    def __init__(self) -> None:
        """Nothing published yet."""
        self.topics: list[str] = []

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        """Record the topic."""
        self.topics.append(topic)


def test_the_runtime_runs_batch_hooks_in_the_transaction_and_wakes_the_notifier(desk: Desk) -> None:
    """A hook's writes commit with the batch; a hook that queued something wakes the notifier once."""
    woken: list[int] = []
    seen: list[list[str]] = []

    def hook(conn: Connection, events: Any, now: datetime) -> int:
        seen.append([e.type for e in events])
        return mark_invited_check_ins(conn, events, now) + 1

    def emit(event_type: str, data: Any) -> Event:
        return make_event("hq", "central", event_type, 1, data)

    runtime = OfficeRuntime(desk.store, OfficeConfig(), site="hq", emit=emit, hooks=[hook],
                            wake_notifier=lambda: woken.append(1))
    inv = desk.desk.invite(visitor_name="Ana", host_id="e-1", by="t").invitation
    with desk.store.transaction() as conn:
        result = insert_batch(conn, [checked_in(inv.visit_id)], NOW)
        runtime.on_batch(conn, result.stored, NOW)
    assert len(result.stored) == 1
    runtime.published(Bus(), NOW)  # type: ignore[arg-type]
    assert seen == [["visitor.checked_in"]]
    assert woken == [1]
    assert state(desk, inv.visit_id) == "checked_in"
    runtime.published(Bus(), NOW)  # type: ignore[arg-type]
    assert woken == [1]  # nothing new queued: not woken again

    other = desk.desk.invite(visitor_name="Bo", host_id="e-1", by="t").invitation

    def broken(conn: Connection, events: Any, now: datetime) -> int:
        raise RuntimeError("hook failed")

    runtime = OfficeRuntime(desk.store, OfficeConfig(), site="hq", emit=emit, hooks=[hook, broken],
                            wake_notifier=lambda: woken.append(2))
    with pytest.raises(RuntimeError), desk.store.transaction() as conn:
        runtime.on_batch(conn, insert_batch(conn, [checked_in(other.visit_id, seq=2)], NOW).stored, NOW)
    runtime.rolled_back()
    runtime.published(Bus(), NOW)  # type: ignore[arg-type]
    assert woken == [1]  # the failed batch queued nothing that survived
    assert state(desk, other.visit_id) == "open"


def test_the_invitation_email_is_queued_with_the_code_and_the_kiosk_steps(desk: Desk) -> None:
    """send_email queues one plain-text e-mail in the invitation's transaction."""
    inv = desk.desk.invite(visitor_name="Ana", host_id="e-1", by="t", email="ana@example.org",
                           expected_at=datetime(2026, 11, 23, 9, 30, tzinfo=WARSAW), send_email=True)
    assert inv.emailed
    with desk.store.engine.connect() as conn:
        [mail] = list_notifications(conn)
    assert (mail.channel, mail.target, mail.alarm_id) == ("email", "ana@example.org", None)
    assert inv.invitation.code in mail.body
    assert "Jan Kowalski expects you on Monday 23 November 2026 at 09:30" in mail.body
    assert "kiosk" in mail.body
    assert mail.payload == {"type": "visitor.invitation", "visit_id": inv.invitation.visit_id}


def test_lists_for_kiosks_and_staff(desk: Desk) -> None:
    """upcoming(h) is what a kiosk caches; on_day is a local day in any state."""
    today = desk.desk.invite(visitor_name="A", host_id="e-1", by="t",
                             expected_at=datetime(2026, 11, 23, 15, 0, tzinfo=WARSAW)).invitation
    tomorrow = desk.desk.invite(visitor_name="B", host_id="e-1", by="t",
                                expected_at=datetime(2026, 11, 24, 9, 0, tzinfo=WARSAW)).invitation
    later = desk.desk.invite(visitor_name="C", host_id="e-1", by="t",
                             expected_at=datetime(2026, 11, 27, 9, 0, tzinfo=WARSAW)).invitation
    gone = desk.desk.invite(visitor_name="D", host_id="e-1", by="t").invitation
    desk.desk.cancel(gone.visit_id, "t")
    assert [i.visit_id for i in desk.desk.upcoming(1)] == [today.visit_id]
    assert [i.visit_id for i in desk.desk.upcoming(24)] == [today.visit_id, tomorrow.visit_id]
    assert {i.visit_id for i in desk.desk.pending()} == {today.visit_id, tomorrow.visit_id, later.visit_id}
    assert {i.visit_id for i in desk.desk.on_day(date(2026, 11, 23))} == {today.visit_id, gone.visit_id}
    assert desk.desk.host_names() == {"e-1": "Jan Kowalski", "e-2": "Ewa Nowak"}


def test_qr_png_is_a_png() -> None:
    """A PNG signature, and the text reads back."""
    png = qr_png("GH1:0123456789:abc")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert decode_qr(png) == "GH1:0123456789:abc"


def test_visit_and_watchlist_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`gatehouse visit invite|list|cancel` and `gatehouse watchlist add|list|remove` end to end."""
    base = ["--data-dir", str(tmp_path / "data"), "--site", "hq"]
    assert main([*base, "people", "add", "e-1", "Jan Kowalski"]) == 0
    qr = tmp_path / "ana.png"
    assert main([*base, "visit", "invite", "Ana López", "--host", "e-1", "--company", "Acme",
                 "--type", "contractor", "--at", "2099-01-05T09:30", "--qr", str(qr), "--as", "ann"]) == 0
    out = capsys.readouterr().out
    code = re.search(r"code: (\S+)", out)
    assert code is not None
    assert CODE.match(code.group(1))
    assert f"QR code: {qr}" in out
    assert decode_qr(qr.read_bytes()) == code.group(1)
    assert main([*base, "visit", "list", "--json"]) == 0
    [listed] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (listed["visitor_name"], listed["visitor_type"], listed["host_name"], listed["created_by"]) == (
        "Ana López", "contractor", "Jan Kowalski", "ann")
    assert listed["expected_at"] == "2099-01-05T09:30:00+00:00"  # no --config: the site runs on UTC
    assert main([*base, "visit", "invite", "Bo", "--host", "nobody"]) == 1
    assert "no employee 'nobody'" in capsys.readouterr().err
    assert main([*base, "visit", "cancel", listed["visit_id"]]) == 0
    assert main([*base, "visit", "list"]) == 0
    assert capsys.readouterr().out.strip().endswith(f"cancelled {listed['visit_id']} (Ana López)")
    assert main([*base, "visit", "list", "--all"]) == 0
    assert "cancelled" in capsys.readouterr().out

    assert main([*base, "watchlist", "add", "John Smith", "--alias", "Jon Smyth", "--reason", "banned"]) == 0
    assert main([*base, "watchlist", "list", "--json"]) == 0
    [entry] = [json.loads(line) for line in capsys.readouterr().out.splitlines()[1:]]
    assert (entry["name"], entry["aliases"], entry["reason"]) == ("John Smith", ["Jon Smyth"], "banned")
    assert main([*base, "watchlist", "remove", str(entry["id"])]) == 0
    assert main([*base, "watchlist", "remove", str(entry["id"])]) == 1
    assert "no watchlist entry" in capsys.readouterr().err
