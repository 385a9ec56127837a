"""Incidents on SQLite and PostgreSQL: the store, the desk, the console emitter and the audit chain."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from broker.events import Event, make_event
from broker.schemas import (
    CameraSnapshot,
    Data,
    DoorChange,
    IncidentClosed,
    IncidentNoted,
    IncidentOpened,
    Priority,
)
from security.office.alarms import ActionRejected, AlarmBook, BookConfig, Condition, Output, RuleName
from security.office.audit import verify
from security.office.incidents import IncidentDesk, IncidentError, ItemKind, console_emitter
from security.storage import EventStore, open_store
from security.storage.alarm_store import save_alarms
from security.storage.audit_log import chain_head, read_chain
from security.storage.models import table

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
KEY = b"incident-test-key"
SITE = "lobby"
SNAP_PATH = "/data/snapshots/cam-1/20261123-090001.jpg"


class Clock:
    """A clock that moves one second forward each time it is read."""

    def __init__(self, start: datetime) -> None:
        """Start at `start`."""
        self.now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        """The next second."""
        with self._lock:
            self.now += timedelta(seconds=1)
            return self.now


@pytest.fixture
def store(db_url: str) -> Iterator[EventStore]:
    """A migrated store holding two alarms (a-1, a-2), a door.forced event and its snapshot."""
    book = AlarmBook(BookConfig())
    outputs: list[Output] = []
    for n, rule in enumerate((RuleName.DOOR_FORCED, RuleName.CAMERA_TAMPER)):
        condition = Condition(rule, f"{rule}:x", Priority.HIGH, f"alarm {n}", (f"ev-{n}",))
        book, out = book.apply(condition, T0 + timedelta(seconds=n))
        outputs += out
    forced = make_event(SITE, "door-1", "door.forced", 1, DoorChange(door="main-door"), time=T0,
                        event_id="ev-forced")
    snap = make_event(SITE, "cam-1", "camera.snapshot", 1,
                      CameraSnapshot(camera="cam-1", path=SNAP_PATH, for_event="ev-forced"), time=T0,
                      event_id="ev-snap")
    with open_store(db_url) as opened:
        with opened.engine.begin() as conn:
            save_alarms(conn, [o.alarm for o in outputs if not isinstance(o, ActionRejected)], T0)
        assert len(opened.store_batch([forced, snap], T0).stored) == 2
        yield opened


def _desk(store: EventStore, clock: Clock | None = None) -> IncidentDesk:
    clock = clock or Clock(T0)
    emit = console_emitter(store, SITE, clock=clock)
    return IncidentDesk(store.engine, site=SITE, audit_key=KEY, emit=emit, clock=clock)


def _console(store: EventStore) -> list[Event]:
    return store.query_events(sources=[f"gatehouse/{SITE}/console"], limit=None)


def _count(store: EventStore, name: str) -> int:
    with store.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(table(name))) or 0)


def test_an_incident_from_alarms_to_its_close(store: EventStore) -> None:
    """Open from alarms and an event, note, attach a snapshot, close: stored, emitted and audited."""
    desk = _desk(store)
    opened = desk.open("Door forced at the lobby", "guard:maria", alarm_ids=["a-1", "a-2"],
                       event_ids=["ev-forced"])
    assert (opened.id, opened.number, opened.state) == ("i-1", 1, "open")
    desk.note("i-1", "guard:maria", "Patrol sent to the lobby")
    snap = desk.attach("i-1", "guard:joe", kind=ItemKind.SNAPSHOT, ref="ev-snap")
    assert (snap.kind, snap.ref, snap.note) == (ItemKind.SNAPSHOT, "ev-snap", SNAP_PATH)
    closed = desk.close("i-1", "manager:ana", "Contractor propped the door; briefed")
    assert (closed.state, closed.closed_by, closed.outcome) == (
        "closed", "manager:ana", "Contractor propped the door; briefed")

    shown = desk.get("i-1")
    assert shown is not None
    assert [(i.kind, i.ref) for i in shown.items] == [
        (ItemKind.ALARM, "a-1"), (ItemKind.ALARM, "a-2"), (ItemKind.EVENT, "ev-forced"),
        (ItemKind.NOTE, None), (ItemKind.SNAPSHOT, "ev-snap"),
    ]
    assert [i.at for i in shown.items] == sorted(i.at for i in shown.items)
    assert shown.items[3].note == "Patrol sent to the lobby"

    events = _console(store)
    assert [e.seq for e in events] == [1, 2, 3, 4]
    assert [e.type for e in events] == [
        "incident.opened", "incident.noted", "incident.noted", "incident.closed",
    ]
    assert events[0].data == IncidentOpened(incident_id="i-1", title="Door forced at the lobby",
                                            by="guard:maria", alarm_ids=("a-1", "a-2"))
    assert events[1].data == IncidentNoted(incident_id="i-1", by="guard:maria",
                                           note="Patrol sent to the lobby")
    assert isinstance(events[2].data, IncidentNoted)
    assert SNAP_PATH in events[2].data.note
    assert events[3].data == IncidentClosed(incident_id="i-1", by="manager:ana",
                                            outcome="Contractor propped the door; briefed")

    with store.engine.connect() as conn:
        chain = list(read_chain(conn))
        assert verify(chain, key=KEY, expected=chain_head(conn)).ok
    assert [(r.actor, r.action, r.subject) for r in chain] == [
        ("guard:maria", "incident.opened", "incident:i-1"),
        ("guard:maria", "incident.noted", "incident:i-1"),
        ("guard:joe", "incident.attached", "incident:i-1"),
        ("manager:ana", "incident.closed", "incident:i-1"),
    ]
    assert chain[0].details["alarm_ids"] == ["a-1", "a-2"]
    assert chain[2].details == {"kind": "snapshot", "ref": "ev-snap", "path": SNAP_PATH}
    assert not verify(chain, key=b"another key").ok


def test_lists_are_newest_first_and_filtered(store: EventStore) -> None:
    """List open, closed or all incidents, newest first."""
    desk = _desk(store)
    for title in ("first", "second", "third"):
        desk.open(title, "guard:maria")
    desk.close("i-2", "guard:maria", "nothing found")
    assert [i.id for i in desk.list()] == ["i-3", "i-2", "i-1"]
    assert [i.id for i in desk.list("open")] == ["i-3", "i-1"]
    assert [i.id for i in desk.list("closed")] == ["i-2"]
    assert [i.id for i in desk.list(limit=1)] == ["i-3"]


def test_refused_actions_write_nothing(store: EventStore) -> None:
    """Unknown alarms, events and incidents, wrong kinds, repeats and closed incidents are clear errors."""
    desk = _desk(store)
    with pytest.raises(IncidentError, match="no alarm a-9"):
        desk.open("ghost", "guard:maria", alarm_ids=["a-1", "a-9"])
    with pytest.raises(IncidentError, match="no event ev-none"):
        desk.open("ghost", "guard:maria", event_ids=["ev-none"])
    with pytest.raises(IncidentError, match="title must not be empty"):
        desk.open("   ", "guard:maria")
    assert [_count(store, name) for name in ("incidents", "incident_items", "audit_log")] == [0, 0, 0]
    assert _console(store) == []

    desk.open("real", "guard:maria", alarm_ids=["a-1"])
    with pytest.raises(IncidentError, match=r"not a camera\.snapshot"):
        desk.attach("i-1", "guard:maria", kind=ItemKind.SNAPSHOT, ref="ev-forced")
    with pytest.raises(IncidentError, match="already attached"):
        desk.attach("i-1", "guard:maria", kind=ItemKind.ALARM, ref="a-1")
    with pytest.raises(IncidentError, match="no incident i-7"):
        desk.note("i-7", "guard:maria", "hello")
    desk.close("i-1", "guard:maria", "done")
    with pytest.raises(IncidentError, match="cannot be closed again"):
        desk.close("i-1", "guard:joe", "done again")
    with pytest.raises(IncidentError, match="cannot be noted"):
        desk.note("i-1", "guard:joe", "late note")
    with pytest.raises(IncidentError, match="cannot be attached to"):
        desk.attach("i-1", "guard:joe", kind=ItemKind.ALARM, ref="a-2")
    assert _count(store, "audit_log") == 2
    assert [e.type for e in _console(store)] == ["incident.opened", "incident.closed"]


def test_concurrent_opens_get_distinct_numbers_and_seqs(store: EventStore) -> None:
    """Threads opening incidents at once get numbers 1..N, consecutive console seqs, one intact chain."""
    desk = _desk(store)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for k in range(4):
                desk.open(f"worker {n} incident {k}", f"guard:{n}")
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(i.number for i in desk.list(limit=100)) == list(range(1, 21))
    assert [e.seq for e in _console(store)] == list(range(1, 21))
    assert _count(store, "dead_letters") == 0
    with store.engine.connect() as conn:
        report = verify(read_chain(conn), key=KEY, expected=chain_head(conn))
    assert report.ok
    assert report.count == 20


class StaleSeqStore(EventStore):
    """A store whose next_own_seq is always 1, as if another process had just taken the next seq."""

    def next_own_seq(self, source: str) -> int:
        """Always 1."""
        return 1


def test_console_emitter_skips_seqs_taken_by_another_process(store: EventStore) -> None:
    """A seq already taken is not a dead letter: the emitter moves on to the next free one."""
    stale = StaleSeqStore(store.engine)
    emit = console_emitter(stale, SITE, clock=Clock(T0))
    data: list[Data] = [IncidentNoted(incident_id="i-1", by="guard:maria", note=f"note {n}")
                        for n in range(3)]
    for item in data:
        emit("incident.noted", item)
    events = _console(store)
    assert [e.seq for e in events] == [1, 2, 3]
    assert [e.data for e in events] == data
    assert _count(store, "dead_letters") == 0
