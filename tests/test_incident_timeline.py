"""An incident's timeline: shaped from plain values, read from SQLite and PostgreSQL; its snapshot files."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from broker.events import Event, make_event
from broker.schemas import CameraSnapshot, Category, DoorChange, Priority
from broker.summaries import summarize
from security.office.alarms import (
    Acknowledge,
    ActionRejected,
    Alarm,
    AlarmBook,
    BookConfig,
    Condition,
    Output,
    Resolve,
    RuleName,
    Transition,
)
from security.office.incident_timeline import (
    EntryKind,
    Incident,
    IncidentItem,
    ItemKind,
    SnapshotRef,
    build_timeline,
)
from security.office.incidents import IncidentDesk, console_emitter
from security.office.snapshot_files import JPEG_START, MAX_JPEG, load_snapshots
from security.storage import EventStore, open_store
from security.storage.alarm_store import save_alarms

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SITE = "lobby"


def at(seconds: float) -> datetime:
    """T0 plus `seconds`."""
    return T0 + timedelta(seconds=seconds)


def received(event: Event, when: datetime) -> Event:
    """`event` as the service stored it at `when`."""
    return Event(event.id, event.source, event.type, event.time, event.seq, event.data, received_at=when)


def test_the_timeline_is_oldest_first_with_every_alarm_step_and_what_is_gone() -> None:
    """Alarm steps, events by receive time, snapshots, notes, and items whose records are gone."""
    alarm = Alarm(id="a-1", rule="door_forced", key="k", priority=Priority.HIGH, summary="Door forced",
                  cause=("ev-1",), silent=False, raised_at=at(-60),
                  history=(Transition("raised", "system", at(-60)),
                           Transition("acknowledged", "guard:maria", at(30), "on my way")))
    forced = received(make_event(SITE, "door-1", "door.forced", 1, DoorChange(door="main"), time=at(-3600),
                                 event_id="ev-1"), at(-61))
    snap = received(make_event(SITE, "cam-1", "camera.snapshot", 1,
                               CameraSnapshot(camera="cam-1", path="snapshots/cam-1/a.jpg", for_event="ev-1"),
                               time=at(-59), event_id="ev-snap"), at(-59))
    items = (
        IncidentItem(ItemKind.ALARM, "a-1", None, "guard:maria", at(0)),
        IncidentItem(ItemKind.EVENT, "ev-1", None, "guard:maria", at(0)),
        IncidentItem(ItemKind.SNAPSHOT, "ev-snap", "snapshots/cam-1/a.jpg", "guard:joe", at(5)),
        IncidentItem(ItemKind.NOTE, None, "Patrol sent", "guard:maria", at(30)),
        IncidentItem(ItemKind.EVENT, "ev-gone", None, "guard:joe", at(40)),
        IncidentItem(ItemKind.ALARM, "a-9", None, "guard:joe", at(50)),
        IncidentItem(ItemKind.SNAPSHOT, "ev-snap-gone", "/old/b.jpg", "guard:joe", at(55)),
    )
    incident = Incident("i-1", 1, "Forced door", "closed", "guard:maria", at(0), "manager:ana", at(600),
                        "Lock replaced", items, Category.SECURITY)
    found = build_timeline(incident, {"a-1": alarm}, {"ev-1": forced, "ev-snap": snap})
    lines = [(e.at, e.kind, e.by, e.ref, e.step) for e in found.entries]
    assert lines == [
        (at(-61), EntryKind.EVENT, "door-1", "ev-1", "door.forced"),  # the service's time, not the device's
        (at(-60), EntryKind.ALARM, "system", "a-1", "raised"),
        (at(-59), EntryKind.SNAPSHOT, "cam-1", "ev-snap", "camera.snapshot"),
        (at(0), EntryKind.OPENED, "guard:maria", None, None),
        (at(30), EntryKind.ALARM, "guard:maria", "a-1", "acknowledged"),  # an alarm step before a note
        (at(30), EntryKind.NOTE, "guard:maria", None, None),
        (at(40), EntryKind.EVENT, "guard:joe", "ev-gone", None),
        (at(50), EntryKind.ALARM, "guard:joe", "a-9", None),
        (at(55), EntryKind.SNAPSHOT, "guard:joe", "ev-snap-gone", "camera.snapshot"),
        (at(600), EntryKind.CLOSED, "manager:ana", None, None),
    ]
    texts = [e.text for e in found.entries]
    assert texts[0] == f"door.forced: {summarize(forced, 300)}"
    assert texts[1] == "a-1 high Door forced"
    assert texts[3] == "opened (security): Forced door"
    assert texts[4] == "a-1 acknowledged: on my way"
    assert texts[5] == "Patrol sent"
    assert "no longer in the log" in texts[6]
    assert "no longer stored" in texts[7]
    assert texts[9] == "closed: Lock replaced"
    assert found.snapshots == (
        SnapshotRef("ev-snap", "cam-1", "snapshots/cam-1/a.jpg", at(-59), "ev-1"),
        SnapshotRef("ev-snap-gone", None, "/old/b.jpg", at(55)),
    )


def test_an_open_incident_has_no_closing_line_and_the_opening_comes_first_at_its_instant() -> None:
    """Lines at the opening's instant follow it; an open incident ends with its last item."""
    incident = Incident("i-2", 2, "Lost wallet", "open", "guard:joe", at(0), None, None, None,
                        (IncidentItem(ItemKind.NOTE, None, "Brown leather", "guard:joe", at(0)),),
                        Category.LOST_ITEM)
    found = build_timeline(incident, {}, {})
    assert [(e.kind, e.text) for e in found.entries] == [
        (EntryKind.OPENED, "opened (lost_item): Lost wallet"), (EntryKind.NOTE, "Brown leather")]
    assert found.snapshots == ()


@pytest.fixture
def store(db_url: str) -> Iterator[EventStore]:
    """A migrated store on SQLite and on PostgreSQL."""
    with open_store(db_url) as opened:
        yield opened


def test_the_timeline_read_from_storage_follows_the_real_write_paths(store: EventStore) -> None:
    """Alarms through the book, events through store_batch, the incident through the desk: read in order."""
    book = AlarmBook(BookConfig())
    outputs: list[Output] = []
    condition = Condition(RuleName.DOOR_FORCED, "door_forced:main", Priority.HIGH, "Door forced: main",
                          ("ev-1",))
    for item, when in ((condition, at(1)), (Acknowledge("a-1", "guard:maria", "going"), at(20)),
                       (Resolve("a-1", "guard:maria", "closed"), at(700))):
        book, out = book.apply(item, when)
        outputs += out
    with store.engine.begin() as conn:
        save_alarms(conn, [o.alarm for o in outputs if not isinstance(o, ActionRejected)], at(700))
    forced = make_event(SITE, "door-1", "door.forced", 1, DoorChange(door="main"), time=at(0),
                        event_id="ev-1")
    shot = CameraSnapshot(camera="cam-1", path="snapshots/cam-1/f.jpg", for_event="ev-1")
    snap = make_event(SITE, "cam-1", "camera.snapshot", 1, shot, time=at(2), event_id="ev-snap")
    assert len(store.store_batch([forced], at(0)).stored) == 1
    assert len(store.store_batch([snap], at(2)).stored) == 1
    times = iter([at(10), at(30), at(40), at(800)])  # the desk reads its clock once an action
    desk = IncidentDesk(store.engine, site=SITE, audit_key=None, clock=lambda: next(times),
                        emit=console_emitter(store, SITE, clock=lambda: at(1000)))
    desk.open("Forced door", "guard:maria", alarm_ids=["a-1"], event_ids=["ev-1"], category=Category.SECURITY)
    desk.note("i-1", "guard:maria", "Zamek wyłamany, Łukasz powiadomiony")
    desk.attach("i-1", "guard:joe", kind=ItemKind.SNAPSHOT, ref="ev-snap")
    desk.close("i-1", "manager:ana", "Lock replaced")

    found = desk.timeline("i-1")
    assert found is not None
    assert desk.timeline("i-9") is None
    assert found.incident.category is Category.SECURITY
    assert [(e.kind, e.step, e.at) for e in found.entries] == [
        (EntryKind.EVENT, "door.forced", at(0)),
        (EntryKind.ALARM, "raised", at(1)),
        (EntryKind.SNAPSHOT, "camera.snapshot", at(2)),
        (EntryKind.OPENED, None, at(10)),
        (EntryKind.ALARM, "acknowledged", at(20)),
        (EntryKind.NOTE, None, at(30)),
        (EntryKind.ALARM, "resolved", at(700)),
        (EntryKind.CLOSED, None, at(800)),
    ]
    assert found.entries[5].text == "Zamek wyłamany, Łukasz powiadomiony"
    assert found.entries[0].text == "door.forced: door main"
    assert found.snapshots == (SnapshotRef("ev-snap", "cam-1", "snapshots/cam-1/f.jpg", at(2), "ev-1"),)


def _jpeg(path: Path, size: int = 64) -> bytes:
    content = JPEG_START + bytes(size)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return content


def test_snapshot_files_are_read_only_from_inside_the_snapshot_folder(tmp_path: Path) -> None:
    """A JPEG inside the folder is read (relative paths from the data folder); anything else says why not."""
    data = tmp_path / "data"
    folder = data / "snapshots"
    inside = _jpeg(folder / "cam-1" / "a.jpg")
    outside = _jpeg(tmp_path / "elsewhere" / "b.jpg", size=32)
    (folder / "cam-1" / "link.jpg").symlink_to(tmp_path / "elsewhere" / "b.jpg")
    (folder / "cam-1" / "note.jpg").write_bytes(b"GIF89a not a jpeg")
    (folder / "cam-1" / "huge.jpg").write_bytes(JPEG_START + bytes(MAX_JPEG))
    os.mkfifo(folder / "cam-1" / "pipe.jpg")
    paths = {
        "relative": "snapshots/cam-1/a.jpg", "absolute": str(folder / "cam-1" / "a.jpg"),
        "outside": str(tmp_path / "elsewhere" / "b.jpg"), "dots": "snapshots/../../elsewhere/b.jpg",
        "link": "snapshots/cam-1/link.jpg", "gif": "snapshots/cam-1/note.jpg",
        "huge": "snapshots/cam-1/huge.jpg", "pipe": "snapshots/cam-1/pipe.jpg",
        "missing": "snapshots/cam-1/none.jpg", "empty": "",
    }
    refs = [SnapshotRef(name, "cam-1", path, T0) for name, path in paths.items()]
    loaded = {i.ref.event_id: i for i in load_snapshots(refs, folder, base=data)}
    assert loaded["relative"].jpeg == inside == loaded["absolute"].jpeg
    assert (loaded["relative"].problem, loaded["absolute"].problem) == (None, None)
    assert outside != inside
    for name in ("outside", "dots", "link"):
        assert loaded[name].jpeg is None
        assert "outside the snapshot folder" in (loaded[name].problem or ""), name
    assert (loaded["gif"].jpeg, loaded["gif"].problem) == (None, "the file is not a JPEG")
    assert loaded["huge"].problem == "the file is larger than 8 MiB"
    assert loaded["pipe"].problem == "not a regular file"
    assert loaded["missing"].problem == "the file is not there"
    assert loaded["empty"].problem == "no file was recorded"
