"""The console's incident list: incidents opened in a range, filtered by state, category and text, paged."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, or_, select

from broker.schemas import Category
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
    category: str | None = None
    """One of the contract's categories (`security`, `safety`, `complaint`, `lost_item`, `other`)."""
    text: str | None = None
    """Part of the title, the outcome, or who opened or closed it, any case."""

    def __post_init__(self) -> None:
        """Refuse an unknown state or category and an over-long text."""
        if self.state is not None and self.state not in STATES:
            raise ReportError(f"state: one of {', '.join(STATES)}, not {self.state!r}")
        if self.category is not None:
            if not isinstance(self.category, str) or self.category not in set(Category):
                raise ReportError(f"category: one of {', '.join(Category)}, not {self.category!r}")
            # the plain value, so a cursor's scope is the same whether a str or a Category was given
            object.__setattr__(self, "category", Category(self.category).value)
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
    category: Category = Category.OTHER


def _contains(column: ColumnElement[Any], part: str) -> ColumnElement[bool]:
    return func.lower(column).contains(part.lower(), autoescape=True)


def _where(time_range: TimeRange, filters: IncidentFilter) -> list[ColumnElement[bool]]:
    found = [INCIDENTS.c.opened_at >= time_range.start, INCIDENTS.c.opened_at < time_range.end]
    if filters.state is not None:
        found.append(INCIDENTS.c.state == filters.state)
    if filters.category is not None:
        found.append(INCIDENTS.c.category == filters.category)
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
                    r.outcome, int(r.items), Category(r.category))
        for r in rows), following)


def iter_incidents(
    conn: Connection, time_range: TimeRange, filters: IncidentFilter = IncidentFilter(), *, page: int = 500,
    key: bytes | None = None,
) -> Iterator[IncidentRow]:
    """Every incident the list shows for these filters, walked page by page (for a streamed CSV)."""
    return walk(lambda cursor: list_incidents(conn, time_range, filters, cursor=cursor, limit=page, key=key))
