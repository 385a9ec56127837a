"""The console's alarm history: alarms raised in a range, filtered and paged in SQL, as life cycles.

Each alarm's row holds its whole history (see `alarm_store`); a page's rows become
`security.office.alarms.kpis.AlarmLife` values, which the KPIs are computed from as well.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, or_, select

from broker.schemas import Priority
from security.office.alarms import AlarmState, RuleName
from security.office.alarms.kpis import AlarmLife, life_of
from security.storage.alarm_store import OPEN, alarm_from_row
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

ALARMS = table("alarms")
MAX_SOURCE = 280


@dataclass(frozen=True, slots=True)
class AlarmFilter:
    """What the alarm history is narrowed to; an empty tuple (or None) means any."""

    priorities: tuple[Priority, ...] = ()
    states: tuple[AlarmState, ...] = ()
    rules: tuple[str, ...] = ()
    source: str | None = None
    """Exactly this source (a door, a credential, a device): the alarm's key after its rule."""

    def __post_init__(self) -> None:
        """Refuse unknown priorities, states and rules, and an over-long source."""
        try:
            object.__setattr__(self, "priorities", tuple(Priority(p) for p in self.priorities))
            object.__setattr__(self, "states", tuple(AlarmState(s) for s in self.states))
        except ValueError as exc:
            raise ReportError(str(exc)) from None
        unknown = [r for r in self.rules if r not in set(RuleName)]
        if unknown:
            raise ReportError(f"unknown rule(s): {', '.join(map(str, unknown))}")
        source = self.source
        if source is not None and (not isinstance(source, str) or not 0 < len(source) <= MAX_SOURCE):
            raise ReportError(f"source: 1 to {MAX_SOURCE} characters")


def _where(time_range: TimeRange, filters: AlarmFilter) -> list[ColumnElement[bool]]:
    found = [ALARMS.c.raised_at >= time_range.start, ALARMS.c.raised_at < time_range.end]
    if filters.priorities:
        found.append(ALARMS.c.priority.in_([str(p) for p in filters.priorities]))
    if filters.states:
        found.append(ALARMS.c.state.in_([str(s) for s in filters.states]))
    if filters.rules:
        found.append(ALARMS.c.rule.in_(list(filters.rules)))
    if filters.source is not None:  # keys are `rule:source`: match the whole key, never a suffix
        rules = filters.rules or tuple(RuleName)
        found.append(ALARMS.c.key.in_([f"{rule}:{filters.source}" for rule in rules]))
    return found


def _life(row: Any) -> AlarmLife:
    return life_of(alarm_from_row(row), int(row.number))


def list_alarm_history(
    conn: Connection, time_range: TimeRange, filters: AlarmFilter = AlarmFilter(), *,
    cursor: str | None = None, limit: int = DEFAULT_PAGE, key: bytes | None = None,
) -> Page[AlarmLife]:
    """One page of the alarms raised in the range, newest first (ties by number), as life cycles."""
    query = select(ALARMS).where(*_where(time_range, filters))
    rows, following = fetch_page(conn, query, (ALARMS.c.raised_at, ALARMS.c.number),
                                 scope=scope_of("alarms", time_range, filters), cursor=cursor, limit=limit,
                                 key=key)
    return Page(tuple(_life(r) for r in rows), following)


def iter_alarm_history(
    conn: Connection, time_range: TimeRange, filters: AlarmFilter = AlarmFilter(), *, page: int = 500,
    key: bytes | None = None,
) -> Iterator[AlarmLife]:
    """Every alarm the history shows for these filters, walked page by page (for a streamed CSV)."""
    return walk(lambda cursor: list_alarm_history(conn, time_range, filters, cursor=cursor, limit=page,
                                                  key=key))


def alarm_life(conn: Connection, alarm_id: str) -> AlarmLife | None:
    """One alarm's life cycle, or None."""
    if not isinstance(alarm_id, str) or not 0 < len(alarm_id) <= 64:
        return None
    row = conn.execute(select(ALARMS).where(ALARMS.c.id == alarm_id)).one_or_none()
    return _life(row) if row is not None else None


def lives_for_kpis(conn: Connection, time_range: TimeRange, *, batch: int = 1000) -> Iterator[AlarmLife]:
    """What `alarm_kpis` needs for the range: alarms raised in it, and older ones still open in it.

    An older alarm counts when it is open now or its row changed at or after the range's start
    (a resolved alarm's row last changes when it is resolved), so standing and shelved alarms
    and shelve actions in the range are all seen. Read in batches by number.
    """
    relevant = or_(ALARMS.c.raised_at >= time_range.start, ALARMS.c.state.in_([str(s) for s in OPEN]),
                   ALARMS.c.updated_at >= time_range.start)
    after = -1
    while True:
        query = (select(ALARMS).where(ALARMS.c.raised_at < time_range.end, relevant, ALARMS.c.number > after)
                 .order_by(ALARMS.c.number).limit(batch))
        rows = conn.execute(query).all()
        yield from (_life(r) for r in rows)
        if len(rows) < batch:
            return
        after = int(rows[-1].number)
