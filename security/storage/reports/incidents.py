"""The console's incident list: incidents opened in a range, filtered by state and text, paged in SQL.

Incidents have no category yet (no column holds one); the list filters by state, time and text.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, or_, select

from security.storage.models import table
from security.storage.reports.keyset import (
    DEFAULT_PAGE,
    Page,
    ReportError,
    TimeRange,
    fetch_page,
    scope_of,
    walk,
)

INCIDENTS = table("incidents")
ITEMS = table("incident_items")
STATES = ("open", "closed")
MAX_TEXT = 200


@dataclass(frozen=True, slots=True)
class IncidentFilter:
    """What the incident list is narrowed to; None means any."""

    state: str | None = None
    """`open` or `closed`."""
    text: str | None = None
    """Part of the title, the outcome, or who opened or closed it, any case."""

    def __post_init__(self) -> None:
        """Refuse an unknown state and an over-long text."""
        if self.state is not None and self.state not in STATES:
            raise ReportError(f"state: one of {', '.join(STATES)}, not {self.state!r}")
        if self.text is not None and (not isinstance(self.text, str) or len(self.text) > MAX_TEXT):
            raise ReportError(f"text: at most {MAX_TEXT} characters")


@dataclass(frozen=True, slots=True)
class IncidentRow:
    """One incident as the list shows it, with how many items it holds."""

    id: str
    number: int
    title: str
    state: str
    opened_by: str
    opened_at: datetime
    closed_by: str | None
    closed_at: datetime | None
    outcome: str | None
    items: int


def _contains(column: ColumnElement[Any], part: str) -> ColumnElement[bool]:
    return func.lower(column).contains(part.lower(), autoescape=True)


def _where(time_range: TimeRange, filters: IncidentFilter) -> list[ColumnElement[bool]]:
    found = [INCIDENTS.c.opened_at >= time_range.start, INCIDENTS.c.opened_at < time_range.end]
    if filters.state is not None:
        found.append(INCIDENTS.c.state == filters.state)
    if filters.text:
        columns = (INCIDENTS.c.title, INCIDENTS.c.outcome, INCIDENTS.c.opened_by, INCIDENTS.c.closed_by)
        found.append(or_(*(_contains(c, filters.text) for c in columns)))
    return found


def list_incidents(
    conn: Connection, time_range: TimeRange, filters: IncidentFilter = IncidentFilter(), *,
    cursor: str | None = None, limit: int = DEFAULT_PAGE, key: bytes | None = None,
) -> Page[IncidentRow]:
    """One page of the incidents opened in the range, newest first (ties by number)."""
    items = (select(func.count()).select_from(ITEMS).where(ITEMS.c.incident_id == INCIDENTS.c.id)
             .scalar_subquery().label("items"))
    query = select(*INCIDENTS.c, items).where(*_where(time_range, filters))
    rows, following = fetch_page(conn, query, (INCIDENTS.c.opened_at, INCIDENTS.c.number),
                                 scope=scope_of("incidents", time_range, filters), cursor=cursor, limit=limit,
                                 key=key)
    return Page(tuple(
        IncidentRow(r.id, int(r.number), r.title, r.state, r.opened_by, r.opened_at, r.closed_by, r.closed_at,
                    r.outcome, int(r.items))
        for r in rows), following)


def iter_incidents(
    conn: Connection, time_range: TimeRange, filters: IncidentFilter = IncidentFilter(), *, page: int = 500,
    key: bytes | None = None,
) -> Iterator[IncidentRow]:
    """Every incident the list shows for these filters, walked page by page (for a streamed CSV)."""
    return walk(lambda cursor: list_incidents(conn, time_range, filters, cursor=cursor, limit=page, key=key))
