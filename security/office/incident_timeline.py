"""An incident and its timeline as plain values, and the timeline shaped from what it holds (pure).

Storage reads an incident, the alarms and events attached to it, and hands them to `build_timeline`;
the console's detail page and the printed report show the result. Times are the service's: an
event's receive time (its device's clock is not trusted), an alarm's transition times, a note's
writing time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from broker.events import Event
from broker.schemas import CameraSnapshot, Category
from broker.summaries import summarize
from security.office.alarms import Alarm

SNAPSHOT_TYPE = "camera.snapshot"
SUMMARY_LIMIT = 300
"""The longest line an attached event's summary takes in a timeline."""


class ItemKind(StrEnum):
    """What an incident item is."""

    ALARM = "alarm"
    EVENT = "event"
    SNAPSHOT = "snapshot"
    NOTE = "note"


@dataclass(slots=True, frozen=True)
class IncidentItem:
    """One thing on an incident: an alarm or event id, a snapshot (event id and path) or a note."""

    kind: ItemKind
    ref: str | None
    """The alarm id or event id (None for a note)."""
    note: str | None
    """The note's text, or a snapshot's file path."""
    by: str
    at: datetime


@dataclass(slots=True, frozen=True)
class Incident:
    """An incident with its items in time order."""

    id: str
    number: int
    title: str
    state: str
    opened_by: str
    opened_at: datetime
    closed_by: str | None
    closed_at: datetime | None
    outcome: str | None
    items: tuple[IncidentItem, ...] = ()
    category: Category = Category.OTHER

    @property
    def is_open(self) -> bool:
        """True until the incident is closed."""
        return self.state == "open"


class EntryKind(StrEnum):
    """What a line of an incident's timeline is."""

    OPENED = "opened"
    ALARM = "alarm"
    EVENT = "event"
    SNAPSHOT = "snapshot"
    NOTE = "note"
    CLOSED = "closed"


_RANK = {kind: n for n, kind in enumerate(EntryKind)}
"""Lines at the same instant: the opening first, the closing last, the rest in this order."""


@dataclass(slots=True, frozen=True)
class TimelineEntry:
    """One line of an incident's timeline: when, what, who and a readable text."""

    at: datetime
    kind: EntryKind
    by: str
    """A person, `system`, or the device an event came from."""
    text: str
    ref: str | None = None
    """The alarm id or event id the line is about."""
    step: str | None = None
    """An alarm's life-cycle step (`raised`, `acknowledged`, `shelved`, ...) or an event's type."""


@dataclass(slots=True, frozen=True)
class SnapshotRef:
    """A camera snapshot attached to an incident: its event, its camera and where its JPEG was written."""

    event_id: str
    camera: str | None
    """None when the snapshot's event is no longer in the log."""
    path: str
    at: datetime
    for_event: str | None = None


@dataclass(slots=True, frozen=True)
class SnapshotImage:
    """A snapshot with its JPEG bytes, or the reason they could not be had."""

    ref: SnapshotRef
    jpeg: bytes | None
    problem: str | None = None


@dataclass(slots=True, frozen=True)
class IncidentTimeline:
    """An incident, its timeline oldest first, and its snapshots oldest first."""

    incident: Incident
    entries: tuple[TimelineEntry, ...]
    snapshots: tuple[SnapshotRef, ...]


def _alarm_lines(alarm: Alarm) -> Iterable[TimelineEntry]:
    """One line per step of an alarm's life cycle."""
    head = f"{alarm.id} {alarm.priority.value} {alarm.summary}"
    for step in alarm.history:
        text = head if step.action == "raised" else f"{alarm.id} {step.action}"
        yield TimelineEntry(step.at, EntryKind.ALARM, step.by, text + (f": {step.note}" if step.note else ""),
                            alarm.id, step.action)


def _snapshot(item: IncidentItem, event: Event | None) -> SnapshotRef:
    """The snapshot an item names: its event's camera, path and receive time when the log still has it."""
    ref = item.ref or ""
    if event is not None and isinstance(event.data, CameraSnapshot):
        data = event.data
        return SnapshotRef(ref, data.camera, data.path, event.service_time, data.for_event)
    return SnapshotRef(ref, None, item.note or "", item.at)


def _item_lines(
    item: IncidentItem, alarms: Mapping[str, Alarm], events: Mapping[str, Event]
) -> Iterable[TimelineEntry]:
    ref = item.ref or ""
    if item.kind is ItemKind.NOTE:
        yield TimelineEntry(item.at, EntryKind.NOTE, item.by, item.note or "")
    elif item.kind is ItemKind.ALARM:
        alarm = alarms.get(ref)
        if alarm is None:
            yield TimelineEntry(item.at, EntryKind.ALARM, item.by, f"{ref} (no longer stored)", ref)
        else:
            yield from _alarm_lines(alarm)
    elif item.kind is ItemKind.SNAPSHOT:
        snap = _snapshot(item, events.get(ref))
        where = f"camera {snap.camera}" if snap.camera else "camera unknown (event no longer in the log)"
        device = events[ref].device if ref in events else item.by
        yield TimelineEntry(snap.at, EntryKind.SNAPSHOT, device, f"{where}: {snap.path}", ref, SNAPSHOT_TYPE)
    else:
        event = events.get(ref)
        if event is None:
            yield TimelineEntry(item.at, EntryKind.EVENT, item.by, f"event {ref} (no longer in the log)", ref)
        else:
            yield TimelineEntry(event.service_time, EntryKind.EVENT, event.device,
                                f"{event.type}: {summarize(event, SUMMARY_LIMIT)}", ref, event.type)


def build_timeline(
    incident: Incident, alarms: Mapping[str, Alarm], events: Mapping[str, Event]
) -> IncidentTimeline:
    """The incident's timeline oldest first: opening, alarm steps, events, snapshots, notes, closing.

    `alarms` and `events` hold what storage still has of the items' alarms and events (snapshots'
    events too); an item whose alarm or event is gone keeps a line saying so, at its attaching time.
    """
    entries = [TimelineEntry(incident.opened_at, EntryKind.OPENED, incident.opened_by,
                             f"opened ({incident.category.value}): {incident.title}")]
    for item in incident.items:
        entries.extend(_item_lines(item, alarms, events))
    if incident.closed_at is not None:
        entries.append(TimelineEntry(incident.closed_at, EntryKind.CLOSED, incident.closed_by or "",
                                     f"closed: {incident.outcome or ''}"))
    ordered = sorted(enumerate(entries), key=lambda pair: (pair[1].at, _RANK[pair[1].kind], pair[0]))
    snapshots = sorted(
        (_snapshot(i, events.get(i.ref or "")) for i in incident.items if i.kind is ItemKind.SNAPSHOT),
        key=lambda snap: snap.at,
    )
    return IncidentTimeline(incident, tuple(entry for _, entry in ordered), tuple(snapshots))
