"""What the retention job reads and rewrites: stored events' personal data and invitations' visitors.

Rows stay here: callers get `PersonalEvent` and `InvitedVisitor` values. Every function takes the
caller's connection, so one run's changes commit with its audit record. What to anonymise is
decided elsewhere (`security.office.audit.plan_retention`); this module only reads and writes.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from security.storage import office_models  # noqa: F401  (registers the tables)
from security.storage.models import table

EVENTS = table("events")
INVITATIONS = table("invitations")


@dataclass(frozen=True, slots=True)
class PersonalEvent:
    """A stored event that may hold personal data: its row key, id, type, receive time and raw data."""

    row_key: int
    event_id: str
    type: str
    received_at: datetime
    data: Any


@dataclass(frozen=True, slots=True)
class InvitedVisitor:
    """The visit id of an invitation and the visitor name it holds now."""

    visit_id: str
    visitor_name: str


def personal_events(conn: Connection, types: Collection[str], before: datetime) -> list[PersonalEvent]:
    """Stored events of `types` the service received before `before`, in storage order."""
    query = (
        select(EVENTS.c.id, EVENTS.c.event_id, EVENTS.c.type, EVENTS.c.received_at, EVENTS.c.data)
        .where(EVENTS.c.type.in_(list(types)), EVENTS.c.received_at < before)
        .order_by(EVENTS.c.id)
    )
    return [PersonalEvent(int(r.id), r.event_id, r.type, r.received_at, r.data) for r in conn.execute(query)]


def rewrite_event_data(conn: Connection, new_data: Sequence[tuple[int, Mapping[str, Any]]]) -> None:
    """Replace the `data` of stored events, given as (row key, new data) pairs."""
    if not new_data:
        return
    stmt = update(EVENTS).where(EVENTS.c.id == bindparam("row_key"))
    rows = [{"row_key": key, "new_data": dict(data)} for key, data in new_data]
    conn.execute(stmt.values(data=bindparam("new_data")), rows)


def invited_visitors(conn: Connection, expected_before: datetime) -> list[InvitedVisitor]:
    """The visitor name of every invitation expected before `expected_before`."""
    query = select(INVITATIONS.c.visit_id, INVITATIONS.c.visitor_name)
    query = query.where(INVITATIONS.c.expected_at < expected_before)
    return [InvitedVisitor(r.visit_id, r.visitor_name) for r in conn.execute(query)]


def forget_visitors(conn: Connection, names: Mapping[str, str]) -> None:
    """Give each invitation in `names` (visit id to new name) that name, and drop its company and e-mail."""
    if not names:
        return
    stmt = update(INVITATIONS).where(INVITATIONS.c.visit_id == bindparam("key")).values(
        visitor_name=bindparam("name"), company=None, email=None)
    conn.execute(stmt, [{"key": v, "name": n} for v, n in names.items()])
