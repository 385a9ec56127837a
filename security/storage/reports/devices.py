"""The console's Devices page: each source's availability over a range, last seen, faults and seq gaps.

A source's availability comes from its history of status changes (`device_status_changes`, one row
each time its state differed from the last stored one), folded by `security.office.availability`.
Faults are `device.fault` events and gaps the service's `delivery.gap` events, both by the
service's receive time. Every time here is the service's, never a device's clock.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from pydantic import ValidationError
from sqlalchemy import ColumnElement, Connection, func, select

from broker.messages import State
from broker.schemas import DeliveryGap, DeviceFault
from security.office.availability import Availability, StateChange, availability
from security.storage.models import table
from security.storage.reports.keyset import ReportError, TimeRange

log = logging.getLogger(__name__)

CHANGES = table("device_status_changes")
STATUS = table("device_status")
EVENTS = table("events")
WATERMARKS = table("watermarks")
FAULT = "device.fault"
GAP = "delivery.gap"
MAX_SOURCE = 200
MAX_TIMELINE = 1000
"""The most entries one device's timeline holds (the oldest of the range first)."""
D = TypeVar("D", DeviceFault, DeliveryGap)


@dataclass(frozen=True, slots=True)
class DeviceRow:
    """One source as the Devices page lists it: its state now, and its figures over the range."""

    source: str
    kind: str | None
    """What its last status says it is (None: a source known only from faults or gaps)."""
    state: State | None
    """Its state now (None: no status ever heard)."""
    since: datetime | None
    """When the service saw it take that state."""
    detail: str | None
    """What its last status said (a Last Will's reason, for one)."""
    last_seen: datetime | None
    """The newest of its last status and its newest event, by the service's receive time."""
    availability: Availability
    """Online, offline and unknown time in the range (up to now), its outages."""
    faults: int
    """Faults it reported in the range (clearances not counted)."""
    open_faults: tuple[str, ...]
    """The faults whose latest report, at any time, did not clear them: open now."""
    gaps: int
    """Gaps in its seq the service reported in the range."""
    missing: int
    """How many events those gaps left out."""
    changes: tuple[StateChange, ...] = ()
    """What its availability was folded from: its last change before the range, then those in it."""

    @property
    def device(self) -> str:
        """The device's name within its site (the source's last part)."""
        return self.source.rsplit("/", 1)[-1]


@dataclass(frozen=True, slots=True)
class StatusEntry:
    """The source became `state` at `at`."""

    at: datetime
    state: State
    kind: str
    detail: str | None
    what: Literal["status"] = "status"


@dataclass(frozen=True, slots=True)
class FaultEntry:
    """The source reported `fault` (or that it cleared) at `at`."""

    at: datetime
    fault: str
    detail: str | None
    cleared: bool
    what: Literal["fault"] = "fault"


@dataclass(frozen=True, slots=True)
class GapEntry:
    """The service reported seqs `missing_from`..`missing_to` of the source missing at `at`."""

    at: datetime
    missing_from: int
    missing_to: int
    what: Literal["gap"] = "gap"

    @property
    def missing(self) -> int:
        """How many events the gap left out."""
        return self.missing_to - self.missing_from + 1


TimelineEntry = StatusEntry | FaultEntry | GapEntry


@dataclass(frozen=True, slots=True)
class DeviceTimeline:
    """One source's changes, faults and gaps in a range, oldest first."""

    source: str
    at_start: StatusEntry | None
    """The last change before the range: the state it began in (None: unknown)."""
    entries: tuple[TimelineEntry, ...]
    truncated: bool
    """More entries fell in the range than were returned (the oldest are)."""


def _state(value: str) -> State:
    return "online" if value == "online" else "offline"


def _in(column: ColumnElement[Any], start: datetime, end: datetime) -> list[ColumnElement[bool]]:
    return [column >= start, column < end]


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None or now.utcoffset() is None:
        raise ReportError("now must be a time-zone aware time")
    return now


def _until(time_range: TimeRange, now: datetime) -> datetime:
    """The end of the range's past: its state after now is not known yet."""
    return max(time_range.start, min(time_range.end, now))


def _status_rows(conn: Connection, start: datetime) -> list[Any]:
    """Every source's last status, when it took that state, and its last change before `start`.

    Each is a correlated lookup on the history's (source, at) index, never a read of all of it.
    """
    own = CHANGES.c.source == STATUS.c.source
    since = select(func.max(CHANGES.c.at)).where(own).scalar_subquery()
    before_at = select(func.max(CHANGES.c.at)).where(own, CHANGES.c.at < start).scalar_subquery()
    before_state = (select(CHANGES.c.state).where(own, CHANGES.c.at < start)
                    .order_by(CHANGES.c.at.desc(), CHANGES.c.id.desc()).limit(1).scalar_subquery())
    query = (select(STATUS, since.label("since_at"), before_at.label("before_at"),
                    before_state.label("before_state")).order_by(STATUS.c.source))
    return list(conn.execute(query).all())


def _changes_in(conn: Connection, start: datetime, end: datetime) -> dict[str, list[StateChange]]:
    """Every source's changes in [start, end), oldest first."""
    query = (select(CHANGES.c.source, CHANGES.c.at, CHANGES.c.state)
             .where(*_in(CHANGES.c.at, start, end)).order_by(CHANGES.c.at, CHANGES.c.id))
    found: dict[str, list[StateChange]] = defaultdict(list)
    for source, at, state in conn.execute(query):
        found[source].append(StateChange(at, _state(state)))
    return found


def _last_events(conn: Connection) -> dict[str, datetime]:
    """Per source, when its newest event was received: that of the highest seq of each of its streams.

    Read through the watermarks (a row per stream) and the events' unique (source, incarnation, seq)
    index, one short lookup per stream, rather than a scan of the events.
    """
    newest = (select(EVENTS.c.received_at)
              .where(EVENTS.c.source == WATERMARKS.c.source, EVENTS.c.incarnation == WATERMARKS.c.incarnation)
              .order_by(EVENTS.c.seq.desc()).limit(1).scalar_subquery())
    found: dict[str, datetime] = {}
    for source, at in conn.execute(select(WATERMARKS.c.source, newest)):
        if at is not None and (source not in found or at > found[source]):
            found[source] = at
    return found


def _fault_counts(conn: Connection, start: datetime, end: datetime) -> dict[str, int]:
    """Per source, the faults (not clearances) it reported in [start, end)."""
    cleared = EVENTS.c.data["cleared"].as_boolean()
    query = (select(EVENTS.c.source, func.count()).where(EVENTS.c.type == FAULT, cleared.is_not(True),
                                                          *_in(EVENTS.c.received_at, start, end))
             .group_by(EVENTS.c.source))
    return {source: int(count) for source, count in conn.execute(query)}


def _open_faults(conn: Connection, now: datetime) -> dict[str, tuple[str, ...]]:
    """Per source, the faults whose latest report up to `now` did not clear them, by name.

    Reads every fault report up to now (faults are few: the type's index finds them), not only the range's.
    """
    fault = EVENTS.c.data["fault"].as_string()
    ranked = select(
        EVENTS.c.source, fault.label("fault"), EVENTS.c.data["cleared"].as_boolean().label("cleared"),
        func.row_number().over(partition_by=(EVENTS.c.source, fault),
                               order_by=(EVENTS.c.received_at.desc(), EVENTS.c.id.desc())).label("n"),
    ).where(EVENTS.c.type == FAULT, EVENTS.c.received_at <= now).subquery()
    query = (select(ranked.c.source, ranked.c.fault)
             .where(ranked.c.n == 1, ranked.c.cleared.is_not(True), ranked.c.fault.is_not(None))
             .order_by(ranked.c.source, ranked.c.fault))
    found: dict[str, list[str]] = defaultdict(list)
    for name, fault_name in conn.execute(query):
        found[name].append(fault_name)
    return {name: tuple(faults) for name, faults in found.items()}


def _gap_totals(conn: Connection, start: datetime, end: datetime) -> dict[str, tuple[int, int]]:
    """Per source, the gaps the service reported in [start, end) and the events they left out."""
    gaps = select(
        EVENTS.c.data["for_source"].as_string().label("source"),
        (EVENTS.c.data["missing_to"].as_integer() - EVENTS.c.data["missing_from"].as_integer() + 1)
        .label("missing"),
    ).where(EVENTS.c.type == GAP, *_in(EVENTS.c.received_at, start, end)).subquery()
    query = (select(gaps.c.source, func.count(), func.coalesce(func.sum(gaps.c.missing), 0))
             .where(gaps.c.source.is_not(None)).group_by(gaps.c.source))
    return {source: (int(count), int(missing)) for source, count, missing in conn.execute(query)}


def device_overview(
    conn: Connection, time_range: TimeRange, *, now: datetime | None = None,
) -> list[DeviceRow]:
    """Every known source (a status heard, or a fault or gap in the range) with its figures, by source.

    Availability covers the range up to `now` (default: the current time): what comes after it is
    not known yet, so a range reaching into the future is measured only to now.
    """
    now = _now(now)
    start, until = time_range.start, _until(time_range, now)
    statuses = _status_rows(conn, start)
    changes = _changes_in(conn, start, until)
    last_events = _last_events(conn)
    fault_counts = _fault_counts(conn, start, time_range.end)
    open_faults = _open_faults(conn, now)
    gaps = _gap_totals(conn, start, time_range.end)
    rows: list[DeviceRow] = []
    for row in statuses:
        before = [StateChange(row.before_at, _state(row.before_state))] if row.before_at is not None else []
        folded = (*before, *changes.get(row.source, []))
        seen = max(row.updated_at, last_events.get(row.source, row.updated_at))
        count, missing = gaps.get(row.source, (0, 0))
        rows.append(DeviceRow(
            source=row.source, kind=row.kind, state=_state(row.state), since=row.since_at, detail=row.detail,
            last_seen=seen, availability=availability(folded, start, until),
            faults=fault_counts.get(row.source, 0), open_faults=open_faults.get(row.source, ()),
            gaps=count, missing=missing, changes=folded,
        ))
    heard = {row.source for row in statuses}
    for source in sorted((fault_counts.keys() | gaps.keys()) - heard):  # events, but no status ever
        count, missing = gaps.get(source, (0, 0))
        rows.append(DeviceRow(
            source=source, kind=None, state=None, since=None, detail=None, last_seen=last_events.get(source),
            availability=availability([], start, until), faults=fault_counts.get(source, 0),
            open_faults=open_faults.get(source, ()), gaps=count, missing=missing,
        ))
    return sorted(rows, key=lambda r: r.source)


def _check_source(source: object) -> str:
    if not isinstance(source, str) or not 0 < len(source) <= MAX_SOURCE:
        raise ReportError(f"source: 1 to {MAX_SOURCE} characters")
    return source


def _status_entries(
    conn: Connection, source: str, start: datetime, end: datetime, limit: int,
) -> list[StatusEntry]:
    query = (select(CHANGES).where(CHANGES.c.source == source, *_in(CHANGES.c.at, start, end))
             .order_by(CHANGES.c.at, CHANGES.c.id).limit(limit))
    return [StatusEntry(r.at, _state(r.state), r.kind, r.detail) for r in conn.execute(query)]


def _fault_entries(
    conn: Connection, source: str, start: datetime, end: datetime, limit: int,
) -> list[FaultEntry]:
    query = (select(EVENTS.c.event_id, EVENTS.c.received_at, EVENTS.c.data)
             .where(EVENTS.c.type == FAULT, EVENTS.c.source == source, *_in(EVENTS.c.received_at, start, end))
             .order_by(EVENTS.c.received_at, EVENTS.c.id).limit(limit))
    found: list[FaultEntry] = []
    for event_id, at, data in conn.execute(query):
        fault = _valid(DeviceFault, event_id, data)
        if fault is not None:
            found.append(FaultEntry(at, fault.fault, fault.detail, fault.cleared))
    return found


def _gap_entries(
    conn: Connection, source: str, start: datetime, end: datetime, limit: int,
) -> list[GapEntry]:
    query = (select(EVENTS.c.event_id, EVENTS.c.received_at, EVENTS.c.data)
             .where(EVENTS.c.type == GAP, EVENTS.c.data["for_source"].as_string() == source,
                    *_in(EVENTS.c.received_at, start, end))
             .order_by(EVENTS.c.received_at, EVENTS.c.id).limit(limit))
    found: list[GapEntry] = []
    for event_id, at, data in conn.execute(query):
        gap = _valid(DeliveryGap, event_id, data)
        if gap is not None:
            found.append(GapEntry(at, gap.missing_from, gap.missing_to))
    return found


def _valid(schema: type[D], event_id: str, data: Any) -> D | None:
    """A stored event's data read again against the contract; None (logged) if it no longer fits."""
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        log.warning("stored event %s no longer fits the contract, left out: %s", event_id,
                    str(exc).splitlines()[0])
        return None


def device_changes(conn: Connection, source: str, time_range: TimeRange) -> list[StateChange]:
    """One source's last status change before the range, then its changes in it, oldest first."""
    source = _check_source(source)
    own = CHANGES.c.source == source
    before = conn.execute(select(CHANGES.c.at, CHANGES.c.state).where(own, CHANGES.c.at < time_range.start)
                          .order_by(CHANGES.c.at.desc(), CHANGES.c.id.desc()).limit(1)).all()
    inside = conn.execute(select(CHANGES.c.at, CHANGES.c.state)
                          .where(own, *_in(CHANGES.c.at, time_range.start, time_range.end))
                          .order_by(CHANGES.c.at, CHANGES.c.id)).all()
    return [StateChange(at, _state(state)) for at, state in (*before, *inside)]


def device_timeline(
    conn: Connection, source: str, time_range: TimeRange, *, limit: int = MAX_TIMELINE,
) -> DeviceTimeline:
    """One source's status changes, faults and gaps in the range, oldest first (ties: that order).

    At most `limit` entries, the oldest; `truncated` says whether more fell in the range. An unknown
    source has an empty timeline.
    """
    source = _check_source(source)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_TIMELINE:
        raise ReportError(f"a timeline holds 1 to {MAX_TIMELINE} entries, not {limit!r}")
    start, end = time_range.start, time_range.end
    before = conn.execute(
        select(CHANGES).where(CHANGES.c.source == source, CHANGES.c.at < start)
        .order_by(CHANGES.c.at.desc(), CHANGES.c.id.desc()).limit(1)).one_or_none()
    kinds: Sequence[Iterable[TimelineEntry]] = (
        _status_entries(conn, source, start, end, limit + 1),
        _fault_entries(conn, source, start, end, limit + 1),
        _gap_entries(conn, source, start, end, limit + 1),
    )
    # each list holds its first limit + 1 entries, so the first `limit` of them all are among these
    merged = sorted(((entry.at, order, entry) for order, entries in enumerate(kinds) for entry in entries),
                    key=lambda item: (item[0], item[1]))
    return DeviceTimeline(
        source=source,
        at_start=(StatusEntry(before.at, _state(before.state), before.kind, before.detail)
                  if before is not None else None),
        entries=tuple(entry for _, _, entry in merged[:limit]),
        truncated=len(merged) > limit,
    )
