"""The incident desk: open, note, attach to and close incidents, and tell the event log each time.

The desk is what the CLI and the HTTP API call. Each action commits the incident change and
its audit record in one transaction, then emits the matching event (`incident.opened`,
`incident.noted`, `incident.closed`) through `emit`: inside the central service that is the
service's own emitter; in a command-line process it is `console_emitter`, which writes the
event straight into the log as the site's `console` source. The central service reads such
events back from the log (at once if it runs, else when it starts), hands them to the back office
and publishes them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, tzinfo
from pathlib import Path

from sqlalchemy import Engine

from broker.events import Event, make_event
from broker.schemas import Category, Data, IncidentClosed, IncidentNoted, IncidentOpened
from security.office.incident_timeline import IncidentTimeline
from security.office.snapshot_files import load_snapshots
from security.storage import EventStore, StorageError
from security.storage import incident_store as incidents
from security.storage.batch import write_events
from security.storage.incident_store import (
    Incident,
    IncidentError,
    IncidentItem,
    IncidentNotFoundError,
    ItemKind,
    StateFilter,
)

log = logging.getLogger(__name__)

Emit = Callable[[str, Data], object]
"""Put one event of the caller's own into the log: (event type, data); what it returns is ignored."""
CONSOLE_DEVICE = "console"
SEQ_ATTEMPTS = 20

__all__ = [
    "CONSOLE_DEVICE",
    "Category",
    "Emit",
    "Incident",
    "IncidentDesk",
    "IncidentError",
    "IncidentItem",
    "IncidentTimeline",
    "ItemKind",
    "console_emitter",
]


def _now() -> datetime:
    return datetime.now(UTC)


class IncidentDesk:
    """Incidents for guards and managers: every change stored, audited, then emitted as an event."""

    def __init__(
        self,
        engine: Engine,
        *,
        site: str,
        audit_key: bytes | None,
        emit: Emit,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        """Work on the database at `engine`; seal audit records with `audit_key` (None: unkeyed)."""
        if audit_key is not None and not audit_key:
            raise ValueError("audit_key must not be empty; pass None for an unkeyed chain")
        self._engine = engine
        self.site = site
        self._key = audit_key
        self._emit = emit
        self._clock = clock

    def open(
        self, title: str, by: str, *, alarm_ids: Sequence[str] = (), event_ids: Sequence[str] = (),
        category: Category | str = Category.OTHER,
    ) -> Incident:
        """Open an incident of a category (fixed from then on) from stored alarms and events; emit it."""
        with self._engine.begin() as conn:
            incident = incidents.open_incident(
                conn, title=title, by=by, at=self._clock(), alarm_ids=alarm_ids, event_ids=event_ids,
                category=category, audit_key=self._key,
            )
        alarms = tuple(i.ref for i in incident.items if i.kind is ItemKind.ALARM and i.ref)
        self._emit("incident.opened", IncidentOpened(
            incident_id=incident.id, title=incident.title, by=incident.opened_by, alarm_ids=alarms,
            category=incident.category,
        ))
        log.info("incident %s (%s) opened by %s: %s", incident.id, incident.category, incident.opened_by,
                 incident.title)
        return incident

    def note(self, incident_id: str, by: str, note: str) -> IncidentItem:
        """Add a note to an open incident; emit `incident.noted`."""
        with self._engine.begin() as conn:
            item = incidents.add_note(conn, incident_id, by=by, note=note, at=self._clock(),
                                      audit_key=self._key)
        text = item.note or note
        self._emit("incident.noted", IncidentNoted(incident_id=incident_id, by=item.by, note=text))
        return item

    def attach(self, incident_id: str, by: str, *, kind: ItemKind, ref: str) -> IncidentItem:
        """Attach a stored alarm, event or snapshot event; emit `incident.noted` saying what."""
        with self._engine.begin() as conn:
            item = incidents.attach(conn, incident_id, kind=kind, ref=ref, by=by, at=self._clock(),
                                    audit_key=self._key)
        text = f"attached {item.kind} {item.ref}" + (f" ({item.note})" if item.note else "")
        self._emit("incident.noted", IncidentNoted(incident_id=incident_id, by=item.by, note=text[:4000]))
        return item

    def close(self, incident_id: str, by: str, outcome: str) -> Incident:
        """Close an open incident with its outcome; emit `incident.closed`."""
        with self._engine.begin() as conn:
            incident = incidents.close_incident(conn, incident_id, by=by, outcome=outcome, at=self._clock(),
                                                audit_key=self._key)
        self._emit("incident.closed", IncidentClosed(
            incident_id=incident.id, by=incident.closed_by or by, outcome=incident.outcome or outcome,
        ))
        log.info("incident %s closed by %s: %s", incident.id, incident.closed_by, incident.outcome)
        return incident

    def get(self, incident_id: str) -> Incident | None:
        """One incident with its items in time order."""
        with self._engine.connect() as conn:
            return incidents.get_incident(conn, incident_id)

    def list(self, state: StateFilter = "all", limit: int = 100) -> list[Incident]:
        """Incidents newest first: open, closed or all."""
        with self._engine.connect() as conn:
            return incidents.list_incidents(conn, state=state, limit=limit)

    def timeline(self, incident_id: str) -> IncidentTimeline | None:
        """One incident with its timeline oldest first and its snapshots, or None."""
        with self._engine.connect() as conn:
            return incidents.incident_timeline(conn, incident_id)

    def report(self, incident_id: str, *, tz: tzinfo, snapshots: Path, data_dir: Path) -> bytes:
        """The incident's printable report (PDF), times in `tz`, images read from inside `snapshots`."""
        from security.office.incident_report import incident_pdf  # fpdf2 takes 0.2 s to import: only here

        found = self.timeline(incident_id)
        if found is None:
            raise IncidentNotFoundError(f"no incident {incident_id}")
        images = load_snapshots(found.snapshots, snapshots, base=data_dir)
        pdf = incident_pdf(found.incident, found.entries, images, tz, self.site, generated_at=self._clock())
        shown = sum(1 for i in images if i.jpeg is not None)
        log.info("report of incident %s made: %d bytes, %d of %d snapshot(s)", incident_id, len(pdf), shown,
                 len(images))
        return pdf


def console_emitter(
    store: EventStore, site: str, *, clock: Callable[[], datetime] = _now
) -> Callable[[str, Data], Event]:
    """An `emit` for processes with no central service: store the event as `gatehouse/{site}/console`.

    Each event takes the source's next free seq; when another process took that seq first
    (the log's unique (source, seq)), it tries again with the next one. It writes through
    `write_events` rather than `store_batch`, so a lost race is retried instead of being kept
    as a dead letter.
    """
    source = f"gatehouse/{site}/{CONSOLE_DEVICE}"

    def emit(event_type: str, data: Data) -> Event:
        seq = store.next_own_seq(source)
        for _ in range(SEQ_ATTEMPTS):
            now = clock()
            event = make_event(site, CONSOLE_DEVICE, event_type, seq, data, time=now)
            with store.engine.begin() as conn:
                result = write_events(conn, [event], now)
            if result.stored:
                return event
            log.debug("seq %d of %s was taken by another process; trying the next", seq, source)
            seq = max(seq + 1, store.next_own_seq(source))
        raise StorageError(f"could not find a free seq for {source} after {SEQ_ATTEMPTS} attempts")

    return emit
