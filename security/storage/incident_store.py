"""Incidents in the database: opened, noted, attached to and closed, each with its audit record.

Every change runs inside the caller's transaction and first writes the audit chain's head row,
which takes the database's write lock (a row lock on PostgreSQL, the whole database on SQLite)
before anything is read. So incident numbers are allocated as max(number) + 1 with no race, a
closed incident cannot be noted by a writer that read it a moment before, and the change and
its audit record commit or roll back together.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.orm import Session

from broker.events import ContractError, Event
from broker.schemas import Category
from security.office.alarms import Alarm
from security.office.audit import AuditRecord
from security.office.audit.chain import JsonValue
from security.office.incident_timeline import (
    Incident,
    IncidentItem,
    IncidentTimeline,
    ItemKind,
    build_timeline,
)
from security.storage import office_models  # noqa: F401  (registers the tables)
from security.storage.alarm_store import alarm_from_row, get_alarm
from security.storage.audit_log import append_audit
from security.storage.models import EventRow, table

log = logging.getLogger(__name__)

__all__ = [  # the incident's plain values live in security.office.incident_timeline; kept here for callers
    "Incident",
    "IncidentConflictError",
    "IncidentError",
    "IncidentItem",
    "IncidentNotFoundError",
    "ItemKind",
    "StateFilter",
    "add_note",
    "attach",
    "close_incident",
    "get_incident",
    "incident_timeline",
    "list_incidents",
    "open_incident",
]

INCIDENTS = table("incidents")
ALARMS = table("alarms")
ITEMS = table("incident_items")
EVENTS = table("events")
HEAD = table("audit_head")
SNAPSHOT_TYPE = "camera.snapshot"
StateFilter = Literal["open", "closed", "all"]


class IncidentError(ValueError):
    """An incident action that cannot be done; the text says why."""


class IncidentNotFoundError(IncidentError):
    """The incident, or an alarm or event named in the action, does not exist."""


class IncidentConflictError(IncidentError):
    """The action clashes with the incident's state: it is closed, or the item is already on it."""


def _text(what: str, value: str, limit: int) -> str:
    """`value` stripped; refuse an empty one or one longer than `limit`."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise IncidentError(f"an incident's {what} must not be empty")
    if len(text) > limit:
        raise IncidentError(f"an incident's {what} is longer than {limit} characters")
    return text


def _lock(conn: Connection) -> None:
    """Take the write lock the audit chain's appends take, before reading anything."""
    conn.execute(update(HEAD).where(HEAD.c.id == 1).values(seq=HEAD.c.seq))


def _record(
    incident_id: str, action: str, by: str, at: datetime, details: dict[str, JsonValue]
) -> AuditRecord:
    """The audit record of `action` on an incident."""
    return AuditRecord(at, by, action, f"incident:{incident_id}", details)


def _row(conn: Connection, incident_id: str) -> Any:
    row = conn.execute(select(INCIDENTS).where(INCIDENTS.c.id == incident_id)).one_or_none()
    if row is None:
        raise IncidentNotFoundError(f"no incident {incident_id}")
    return row


def _open_row(conn: Connection, incident_id: str, doing: str) -> Any:
    row = _row(conn, incident_id)
    if row.state != "open":
        raise IncidentConflictError(
            f"incident {incident_id} was closed by {row.closed_by} at {row.closed_at.isoformat()}; "
            f"it cannot be {doing}"
        )
    return row


def _stored_event(conn: Connection, event_id: str) -> tuple[str, dict[str, Any]]:
    """(type, data) of a stored event; refuse an id the log does not hold."""
    query = select(EVENTS.c.type, EVENTS.c.data).where(EVENTS.c.event_id == event_id)
    row = conn.execute(query).one_or_none()
    if row is None:
        raise IncidentNotFoundError(f"no event {event_id} in the log")
    return str(row.type), dict(row.data or {})


def _resolve(conn: Connection, kind: ItemKind, ref: str) -> tuple[ItemKind, str | None]:
    """Check that `ref` exists; the item kind to store (a snapshot event stays a snapshot) and path."""
    if kind is ItemKind.ALARM:
        if get_alarm(conn, ref) is None:
            raise IncidentNotFoundError(f"no alarm {ref}")
        return kind, None
    event_type, data = _stored_event(conn, ref)
    if event_type == SNAPSHOT_TYPE:
        return ItemKind.SNAPSHOT, str(data.get("path", "")) or None
    if kind is ItemKind.SNAPSHOT:
        raise IncidentError(f"event {ref} is a {event_type} event, not a {SNAPSHOT_TYPE}")
    return kind, None


def _add_item(conn: Connection, incident_id: str, item: IncidentItem) -> IncidentItem:
    conn.execute(insert(ITEMS).values(incident_id=incident_id, kind=str(item.kind), ref=item.ref,
                                      note=item.note, by=item.by, at=item.at))
    return item


def _category(value: Category | str) -> Category:
    """`value` as a Category; refuse anything else."""
    try:
        return Category(value)
    except ValueError:
        known = ", ".join(c.value for c in Category)
        raise IncidentError(f"an incident's category is one of {known}, not {value!r}") from None


def open_incident(
    conn: Connection, *, title: str, by: str, at: datetime, alarm_ids: Sequence[str] = (),
    event_ids: Sequence[str] = (), category: Category | str = Category.OTHER, audit_key: bytes | None = None,
) -> Incident:
    """Open a new incident `i-N` of a category with the given alarms and events attached; all must exist."""
    title, by, kind = _text("title", title, 200), _text("author", by, 200), _category(category)
    _lock(conn)
    refs = [(ItemKind.ALARM, a) for a in dict.fromkeys(alarm_ids)]
    refs += [(ItemKind.EVENT, e) for e in dict.fromkeys(event_ids)]
    resolved = [(ref, *_resolve(conn, kind, ref)) for kind, ref in refs]
    number = int(conn.scalar(select(func.max(INCIDENTS.c.number))) or 0) + 1
    incident_id = f"i-{number}"
    conn.execute(insert(INCIDENTS).values(
        id=incident_id, number=number, title=title, category=kind.value, state="open", opened_by=by,
        opened_at=at, closed_by=None, closed_at=None, outcome=None,
    ))
    items = tuple(
        _add_item(conn, incident_id, IncidentItem(kind, ref, path, by, at)) for ref, kind, path in resolved
    )
    append_audit(conn, [_record(incident_id, "incident.opened", by, at, {
        "title": title, "category": kind.value,
        "alarm_ids": [i.ref for i in items if i.kind is ItemKind.ALARM],
        "event_ids": [i.ref for i in items if i.kind is not ItemKind.ALARM],
    })], key=audit_key)
    return Incident(incident_id, number, title, "open", by, at, None, None, None, items, kind)


def add_note(
    conn: Connection, incident_id: str, *, by: str, note: str, at: datetime, audit_key: bytes | None = None
) -> IncidentItem:
    """Add a note to an open incident."""
    note, by = _text("note", note, 4000), _text("author", by, 200)
    _lock(conn)
    _open_row(conn, incident_id, "noted")
    item = _add_item(conn, incident_id, IncidentItem(ItemKind.NOTE, None, note, by, at))
    append_audit(conn, [_record(incident_id, "incident.noted", by, at, {"note": note})], key=audit_key)
    return item


def attach(
    conn: Connection, incident_id: str, *, kind: ItemKind, ref: str, by: str, at: datetime,
    audit_key: bytes | None = None,
) -> IncidentItem:
    """Attach a stored alarm, event or camera.snapshot event to an open incident, once."""
    if kind is ItemKind.NOTE:
        raise IncidentError("a note is added with add_note, not attached")
    ref, by = _text(f"{kind} id", ref, 300), _text("author", by, 200)
    _lock(conn)
    _open_row(conn, incident_id, "attached to")
    stored_kind, path = _resolve(conn, kind, ref)
    taken = conn.execute(select(ITEMS.c.id).where(
        ITEMS.c.incident_id == incident_id, ITEMS.c.ref == ref, ITEMS.c.kind != str(ItemKind.NOTE),
    ).limit(1)).first()
    if taken is not None:
        raise IncidentConflictError(f"{kind} {ref} is already attached to incident {incident_id}")
    item = _add_item(conn, incident_id, IncidentItem(stored_kind, ref, path, by, at))
    details: dict[str, JsonValue] = {"kind": str(stored_kind), "ref": ref}
    if path is not None:
        details["path"] = path
    append_audit(conn, [_record(incident_id, "incident.attached", by, at, details)], key=audit_key)
    return item


def close_incident(
    conn: Connection, incident_id: str, *, by: str, outcome: str, at: datetime, audit_key: bytes | None = None
) -> Incident:
    """Close an open incident with an outcome; closing it again is an error."""
    outcome, by = _text("outcome", outcome, 200), _text("author", by, 200)
    _lock(conn)
    _open_row(conn, incident_id, "closed again")
    conn.execute(update(INCIDENTS).where(INCIDENTS.c.id == incident_id).values(
        state="closed", closed_by=by, closed_at=at, outcome=outcome,
    ))
    append_audit(conn, [_record(incident_id, "incident.closed", by, at, {"outcome": outcome})], key=audit_key)
    found = get_incident(conn, incident_id)
    assert found is not None  # written above in this transaction
    return found


def _items(conn: Connection, incident_ids: Iterable[str]) -> dict[str, list[IncidentItem]]:
    ids = list(incident_ids)
    out: dict[str, list[IncidentItem]] = {i: [] for i in ids}
    if not ids:
        return out
    query = select(ITEMS).where(ITEMS.c.incident_id.in_(ids)).order_by(ITEMS.c.at, ITEMS.c.id)
    for r in conn.execute(query):
        out[r.incident_id].append(IncidentItem(ItemKind(r.kind), r.ref, r.note, r.by, r.at))
    return out


def _incident(row: Any, items: Sequence[IncidentItem]) -> Incident:
    return Incident(row.id, int(row.number), row.title, row.state, row.opened_by, row.opened_at,
                    row.closed_by, row.closed_at, row.outcome, tuple(items), Category(row.category))


def get_incident(conn: Connection, incident_id: str) -> Incident | None:
    """One incident with its items in time order, or None."""
    row = conn.execute(select(INCIDENTS).where(INCIDENTS.c.id == incident_id)).one_or_none()
    return None if row is None else _incident(row, _items(conn, [incident_id])[incident_id])


def list_incidents(conn: Connection, *, state: StateFilter = "all", limit: int = 100) -> list[Incident]:
    """Incidents newest first (open, closed or all), each with its items."""
    query = select(INCIDENTS).order_by(INCIDENTS.c.number.desc()).limit(limit)
    if state != "all":
        query = query.where(INCIDENTS.c.state == state)
    rows = conn.execute(query).all()
    items = _items(conn, [r.id for r in rows])
    return [_incident(r, items[r.id]) for r in rows]


def _alarms(conn: Connection, alarm_ids: Sequence[str]) -> dict[str, Alarm]:
    if not alarm_ids:
        return {}
    rows = conn.execute(select(ALARMS).where(ALARMS.c.id.in_(list(alarm_ids)))).all()
    return {r.id: alarm_from_row(r) for r in rows}


def _events(conn: Connection, event_ids: Sequence[str]) -> dict[str, Event]:
    """The stored events of these ids; one that no longer fits the contract is logged and left out."""
    if not event_ids:
        return {}
    found: dict[str, Event] = {}
    with Session(bind=conn) as session:
        for row in session.scalars(select(EventRow).where(EventRow.event_id.in_(list(event_ids)))):
            try:
                found[row.event_id] = row.to_native()
            except ContractError as exc:
                log.warning("event %s on an incident no longer fits the contract: %s", row.event_id, exc)
    return found


def incident_timeline(conn: Connection, incident_id: str) -> IncidentTimeline | None:
    """One incident with its timeline oldest first (alarm steps, events, snapshots, notes), or None."""
    incident = get_incident(conn, incident_id)
    if incident is None:
        return None
    refs = [i for i in incident.items if i.ref]
    alarms = _alarms(conn, [i.ref for i in refs if i.ref and i.kind is ItemKind.ALARM])
    events = _events(conn, [i.ref for i in refs if i.ref and i.kind is not ItemKind.ALARM])
    return build_timeline(incident, alarms, events)
