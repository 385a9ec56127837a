"""One alarm's record for the console: its life cycle, its cause events, their snapshots, its incidents.

A snapshot belongs to an alarm when a `camera.snapshot` event names one of the alarm's cause events
(`for_event`): cameras take a snapshot of their own motion, person and tamper events, which are
what camera alarms are raised from. The log is searched only from the camera that sent a cause,
within `SNAPSHOT_AFTER` of the last cause's receive time, and the link is then checked by id.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Select, select
from sqlalchemy.orm import Session

from broker.events import ContractError, Event
from broker.schemas import CameraSnapshot
from security.office.alarms.kpis import AlarmLife, life_of
from security.storage import office_models  # noqa: F401  (registers the tables)
from security.storage.alarm_store import alarm_number, get_alarm
from security.storage.models import EventRow, table

log = logging.getLogger(__name__)

ITEMS = table("incident_items")
INCIDENTS = table("incidents")
SNAPSHOT_TYPE = "camera.snapshot"
SNAPSHOT_AFTER = timedelta(minutes=1)
"""A camera writes its snapshot right after the event it is of: looked for this long after it."""
MAX_SNAPSHOTS = 20
MAX_ID = 64


@dataclass(frozen=True, slots=True)
class HoldingIncident:
    """An incident an alarm is attached to."""

    id: str
    title: str
    state: str


@dataclass(frozen=True, slots=True)
class AlarmRecord:
    """An alarm's life cycle, the cause events still in the log, their snapshots, and its incidents."""

    life: AlarmLife
    cause: tuple[str, ...]
    """The ids of the events that raised or repeated it, as the alarm keeps them."""
    events: tuple[Event, ...]
    """Those of them still in the log, oldest first."""
    snapshots: tuple[Event, ...]
    """`camera.snapshot` events of those events, oldest first."""
    incidents: tuple[HoldingIncident, ...]


def _natives(conn: Connection, query: Select[EventRow]) -> list[Event]:
    """The events a query selects; one that no longer fits the contract is logged and left out."""
    found: list[Event] = []
    with Session(bind=conn) as session:
        for row in session.scalars(query):
            try:
                found.append(row.to_native())
            except ContractError as exc:
                log.warning("event %s no longer fits the contract: %s", row.event_id, exc)
    return found


def _snapshots(conn: Connection, events: Sequence[Event]) -> tuple[Event, ...]:
    received = [e.service_time for e in events]
    if not received:
        return ()
    ids = {e.id for e in events}
    query = (select(EventRow).where(EventRow.type == SNAPSHOT_TYPE,
                                    EventRow.source.in_(sorted({e.source for e in events})),
                                    EventRow.received_at >= min(received),
                                    EventRow.received_at < max(received) + SNAPSHOT_AFTER)
             .order_by(EventRow.received_at, EventRow.id).limit(10 * MAX_SNAPSHOTS))
    found = [e for e in _natives(conn, query)
             if isinstance(e.data, CameraSnapshot) and e.data.for_event in ids]
    return tuple(found[:MAX_SNAPSHOTS])


def latest_snapshots(conn: Connection, cameras: Sequence[str], before: datetime) -> tuple[Event, ...]:
    """The newest `camera.snapshot` each camera device sent up to `before`, in the order of `cameras`."""
    found: list[Event] = []
    for camera in dict.fromkeys(cameras):  # once each, at most MAX_SNAPSHOTS cameras
        if len(found) >= MAX_SNAPSHOTS:
            break
        query = (select(EventRow).where(EventRow.type == SNAPSHOT_TYPE, EventRow.device == camera,
                                        EventRow.received_at <= before)
                 .order_by(EventRow.received_at.desc(), EventRow.id.desc()).limit(1))
        found += [e for e in _natives(conn, query) if isinstance(e.data, CameraSnapshot)]
    return tuple(found)


def _incidents(conn: Connection, alarm_id: str) -> tuple[HoldingIncident, ...]:
    query = (select(INCIDENTS.c.id, INCIDENTS.c.title, INCIDENTS.c.state)
             .where(INCIDENTS.c.id.in_(select(ITEMS.c.incident_id)
                                       .where(ITEMS.c.kind == "alarm", ITEMS.c.ref == alarm_id)))
             .order_by(INCIDENTS.c.number))
    return tuple(HoldingIncident(r.id, r.title, r.state) for r in conn.execute(query))


def alarm_record(conn: Connection, alarm_id: str) -> AlarmRecord | None:
    """The record of one alarm, or None when there is no such alarm."""
    if not isinstance(alarm_id, str) or not 0 < len(alarm_id) <= MAX_ID:
        return None
    alarm = get_alarm(conn, alarm_id)
    if alarm is None:
        return None
    events: list[Event] = []
    if alarm.cause:
        events = _natives(conn, select(EventRow).where(EventRow.event_id.in_(list(alarm.cause)))
                          .order_by(EventRow.received_at, EventRow.id))
    life = life_of(alarm, alarm_number(alarm.id))
    return AlarmRecord(life, alarm.cause, tuple(events), _snapshots(conn, events), _incidents(conn, alarm_id))

