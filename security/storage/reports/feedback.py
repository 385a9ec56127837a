"""Visitors' check-out ratings from the event log, with the host and filters of each visit's check-in.

A rating is a `visitor.feedback` event received in the range; it counts once per visit (the first
received) and only when its visit's check-in is found (received before it, at most `MAX_STAY`
earlier) and matches the Visits page's filters: the host comes from that check-in, never from the
kiosk's feedback. A stored rating off the scale (a hand-edited row) is left out.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from security.office.feedback_report import SCALE, FeedbackFact
from security.storage.reports.keyset import TimeRange
from security.storage.reports.visits import EVENTS, MAX_STAY, VISIT_ID, VisitFilter, visit_where

FEEDBACK = "visitor.feedback"


def _data(row: Any) -> dict[str, Any]:
    return row.data if isinstance(row.data, dict) else {}


def feedback_facts(
    conn: Connection, time_range: TimeRange, filters: VisitFilter | None = None
) -> list[FeedbackFact]:
    """The ratings received in the range whose visits match `filters`, oldest first."""
    query = (select(EVENTS.c.received_at, EVENTS.c.data)
             .where(EVENTS.c.type == FEEDBACK, EVENTS.c.received_at >= time_range.start,
                    EVENTS.c.received_at < time_range.end)
             .order_by(EVENTS.c.received_at, EVENTS.c.id))
    first: dict[str, tuple[Any, dict[str, Any]]] = {}
    for row in conn.execute(query):
        data = _data(row)
        visit_id, rating = data.get("visit_id"), data.get("rating")
        if isinstance(visit_id, str) and type(rating) is int and rating in SCALE and visit_id not in first:
            first[visit_id] = (row.received_at, data)
    if not first:
        return []
    widened = TimeRange(time_range.start - MAX_STAY, time_range.end)
    visits = (select(EVENTS.c.received_at, EVENTS.c.data)
              .where(*visit_where(widened, filters or VisitFilter()), VISIT_ID.in_(list(first)))
              .order_by(EVENTS.c.received_at, EVENTS.c.id))
    host: dict[str, tuple[str | None, str | None]] = {}
    for row in conn.execute(visits):
        data = _data(row)
        visit_id = str(data.get("visit_id"))
        at = first[visit_id][0]
        if row.received_at <= at and at - row.received_at <= MAX_STAY:  # the newest check-in before it
            host[visit_id] = (_text(data.get("host_id")), _text(data.get("host_name")))
    return [FeedbackFact(visit_id, at, int(data["rating"]), *host[visit_id], bool(data.get("comment")))
            for visit_id, (at, data) in first.items() if visit_id in host]


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
