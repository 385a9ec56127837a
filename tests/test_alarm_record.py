"""One alarm's record from the database: its cause events, the snapshots of them only, its incidents."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from broker.events import Event, make_event
from broker.schemas import CameraSnapshot, CameraTamper, Data, Priority
from security.office.alarms import AlarmBook, AlarmEvent, BookConfig, Condition, RuleName
from security.storage import EventStore, insert_batch, open_store
from security.storage.alarm_store import save_alarms
from security.storage.incident_store import open_incident
from security.storage.reports.alarm_record import alarm_record, latest_snapshots

T0 = datetime(2026, 12, 4, 22, 0, tzinfo=UTC)
SITE = "hq"


@pytest.fixture
def store(db_url: str) -> Iterator[EventStore]:
    """A migrated event log on SQLite and on PostgreSQL."""
    with open_store(db_url) as opened:
        yield opened


class Camera:
    """A camera's events stored as the service stores them, at chosen receive times."""

    def __init__(self, store: EventStore, name: str) -> None:
        self.store, self.name, self.seq = store, name, itertools.count(1)

    def put(self, seconds: float, event_type: str, data: Data) -> Event:
        at = T0 + timedelta(seconds=seconds)
        event = make_event(SITE, self.name, event_type, next(self.seq), data, time=at)
        with self.store.transaction() as conn:
            assert insert_batch(conn, [event], at).stored == (event,)
        return event

    def snapshot(self, seconds: float, of: Event, path: str) -> Event:
        snapshot = CameraSnapshot(camera=self.name, path=path, for_event=of.id)
        return self.put(seconds, "camera.snapshot", snapshot)


def test_a_camera_alarm_s_record_holds_its_causes_their_snapshots_and_incidents(store: EventStore) -> None:
    cam, other = Camera(store, "cam-1"), Camera(store, "cam-2")
    covered = cam.put(0, "camera.tamper", CameraTamper(camera="cam-1", kind="covered"))
    unrelated = cam.put(2, "camera.tamper", CameraTamper(camera="cam-1", kind="moved"))
    kept = cam.snapshot(5, covered, "snapshots/cam-1/a.jpg")
    cam.snapshot(6, unrelated, "snapshots/cam-1/b.jpg")  # of another event
    other.snapshot(7, covered, "snapshots/cam-2/c.jpg")  # another camera cannot speak for cam-1's event
    cam.snapshot(90, covered, "snapshots/cam-1/late.jpg")  # later than a camera writes its own
    _book, [raised] = AlarmBook(BookConfig()).apply(
        Condition(RuleName.CAMERA_TAMPER, "camera-tamper:cam-1", Priority.HIGH, "Camera cam-1 covered",
                  (covered.id, "gone-from-the-log")), T0)
    assert isinstance(raised, AlarmEvent)
    alarm = raised.alarm
    with store.transaction() as conn:
        save_alarms(conn, [alarm], T0)
        open_incident(conn, title="Lobby camera covered", by="guard:gus", at=T0, alarm_ids=[alarm.id])
    with store.engine.connect() as conn:
        record = alarm_record(conn, alarm.id)
        assert alarm_record(conn, "a-99") is None
        assert alarm_record(conn, "x" * 65) is None
    assert record is not None
    assert record.life.id == alarm.id
    assert record.cause == (covered.id, "gone-from-the-log")
    assert [e.id for e in record.events] == [covered.id]
    assert [e.id for e in record.snapshots] == [kept.id]
    assert [(i.id, i.title, i.state) for i in record.incidents] == [("i-1", "Lobby camera covered", "open")]


def test_the_latest_snapshot_of_each_camera_up_to_a_time(store: EventStore) -> None:
    lobby, street, yard = Camera(store, "cam-lobby"), Camera(store, "cam-street"), Camera(store, "cam-yard")
    motion = lobby.put(0, "camera.tamper", CameraTamper(camera="cam-lobby", kind="moved"))
    lobby.snapshot(1, motion, "snapshots/cam-lobby/1.jpg")
    newest = lobby.snapshot(30, motion, "snapshots/cam-lobby/2.jpg")
    lobby.snapshot(90, motion, "snapshots/cam-lobby/after.jpg")  # after the moment asked about
    street_one = street.snapshot(10, motion, "snapshots/cam-street/1.jpg")
    yard.snapshot(5, motion, "snapshots/cam-yard/1.jpg")  # not asked for
    with store.engine.connect() as conn:
        asked = ["cam-street", "cam-lobby", "cam-lobby", "cam-gone"]
        found = latest_snapshots(conn, asked, T0 + timedelta(seconds=60))
        assert latest_snapshots(conn, [], T0) == ()
        assert latest_snapshots(conn, ["cam-lobby"], T0) == ()
    assert [e.id for e in found] == [street_one.id, newest.id]
