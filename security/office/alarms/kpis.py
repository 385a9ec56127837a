"""Alarm-management KPIs after ISA-18.2 and EEMUA 191, over typed alarm life cycles (pure).

`life_of` turns a stored `Alarm` (its history) into an `AlarmLife`: when it was raised, every
activation of its condition (the raise and each repeat the book counted on it), the first
acknowledgement, each shelve, and its resolution. `alarm_kpis` folds those over a time range.

Choices the figures rest on:
- The alarm rate counts alarms raised (annunciated) in the range; a repeat of an open alarm's
  condition is not a new alarm (the book's flood control), but it is an activation for chattering.
- A resolve by a person before anyone acknowledged counts as the acknowledgement (the book's rule).
- Percentiles are nearest-rank: always a measured value, and the value itself for one sample.
- A source is an alarm's key without its rule prefix (a door, a credential, a device's source):
  top sources and chattering group by rule and source, that is by key.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from broker.schemas import Priority
from security.office.alarms.lifecycle import SYSTEM, Alarm, AlarmState, Transition

WINDOW = timedelta(minutes=10)
"""The alarm-rate window of ISA-18.2 and EEMUA 191."""
STANDING_AFTER = timedelta(hours=24)
"""An alarm open longer than this is standing (stale)."""
CHATTER_WINDOW = timedelta(minutes=1)
CHATTER_COUNT = 3
"""This many activations of one source and rule within CHATTER_WINDOW make it chattering."""
TOP_SOURCES = 10


@dataclass(frozen=True, slots=True)
class ShelvePeriod:
    """One shelve of an alarm: who shelved it, from when, until when, and when it came back."""

    by: str
    at: datetime
    until: datetime | None
    ended_at: datetime | None
    ended_by: str | None


@dataclass(frozen=True, slots=True)
class AlarmLife:
    """One alarm's life cycle as the reports read it."""

    id: str
    number: int
    rule: str
    key: str
    source: str
    priority: Priority
    summary: str
    state: AlarmState
    silent: bool
    raised_at: datetime
    activations: tuple[datetime, ...]
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    shelves: tuple[ShelvePeriod, ...]
    resolved_at: datetime | None
    resolved_by: str | None
    escalation_level: int
    history: tuple[Transition, ...]

    def open_at(self, moment: datetime) -> bool:
        """True when the alarm had been raised and was not yet resolved at `moment`."""
        return self.raised_at <= moment and (self.resolved_at is None or self.resolved_at > moment)

    def shelved_at(self, moment: datetime) -> bool:
        """True when a shelve covered `moment` (one whose time ran out no longer does, ticked or not)."""
        return any(s.at <= moment and (s.ended_at is None or s.ended_at > moment)
                   and (s.until is None or s.until > moment) for s in self.shelves)


def source_of(rule: str, key: str) -> str:
    """An alarm's source: its key without the `rule:` prefix the rules put in front."""
    prefix = f"{rule}:"
    return key[len(prefix):] if key.startswith(prefix) else key


def _shelves(history: Sequence[Transition]) -> tuple[ShelvePeriod, ...]:
    periods: list[ShelvePeriod] = []
    current: Transition | None = None
    for step in history:
        if step.action == "shelved":
            current = step
        elif step.action in ("unshelved", "resolved") and current is not None:
            periods.append(ShelvePeriod(current.by, current.at, current.until, step.at, step.by))
            current = None
    if current is not None:
        periods.append(ShelvePeriod(current.by, current.at, current.until, None, None))
    return tuple(periods)


def life_of(alarm: Alarm, number: int) -> AlarmLife:
    """The life cycle of `alarm` (number: its running number) read from its history."""
    history = alarm.history
    activations = tuple(t.at for t in history if t.action in ("raised", "repeated")) or (alarm.raised_at,)
    ack = next((t for t in history if t.action == "acknowledged"
                or (t.action == "resolved" and t.by != SYSTEM)), None)
    resolved = next((t for t in history if t.action == "resolved"), None)
    shelves = _shelves(history)
    if shelves and shelves[-1].ended_at is None and alarm.shelved_until is not None:
        last = shelves[-1]
        shelves = (*shelves[:-1], ShelvePeriod(last.by, last.at, alarm.shelved_until, None, None))
    return AlarmLife(
        id=alarm.id, number=number, rule=alarm.rule, key=alarm.key, source=source_of(alarm.rule, alarm.key),
        priority=alarm.priority, summary=alarm.summary, state=alarm.state, silent=alarm.silent,
        raised_at=alarm.raised_at, activations=activations,
        acknowledged_at=ack.at if ack else None, acknowledged_by=ack.by if ack else None,
        shelves=shelves, resolved_at=resolved.at if resolved else None,
        resolved_by=resolved.by if resolved else None, escalation_level=alarm.escalation_level,
        history=history,
    )


@dataclass(frozen=True, slots=True)
class DayPeak:
    """A local day's worst 10-minute window: how many alarms were raised in it, and when it began."""

    day: date
    count: int
    window_start: datetime | None


@dataclass(frozen=True, slots=True)
class AckTimes:
    """Time to acknowledge of one group (a priority or an operator), in seconds."""

    group: str
    acknowledged: int
    unacknowledged: int
    p50_s: float | None
    p90_s: float | None


@dataclass(frozen=True, slots=True)
class Standing:
    """An alarm open for more than STANDING_AFTER at the end of the range."""

    alarm_id: str
    rule: str
    source: str
    priority: Priority
    raised_at: datetime
    open_for_s: float


@dataclass(frozen=True, slots=True)
class Chattering:
    """A source and rule with at least CHATTER_COUNT activations within CHATTER_WINDOW."""

    rule: str
    source: str
    most_in_window: int
    window_start: datetime


@dataclass(frozen=True, slots=True)
class SourceShare:
    """A source and rule, how many alarms it raised in the range, and its share of all of them."""

    rule: str
    source: str
    alarms: int
    share: float


@dataclass(frozen=True, slots=True)
class AlarmKpis:
    """The alarm-management KPIs of one time range [start, end)."""

    start: datetime
    end: datetime
    raised: int
    per_10min_average: float
    worst_10min_by_day: tuple[DayPeak, ...]
    ack_by_priority: tuple[AckTimes, ...]
    ack_by_operator: tuple[AckTimes, ...]
    standing: tuple[Standing, ...]
    shelved_at_end: tuple[str, ...]
    shelve_actions: int
    chattering: tuple[Chattering, ...]
    top_sources: tuple[SourceShare, ...]


def percentile(values: Sequence[float], p: float) -> float | None:
    """The nearest-rank `p`th percentile (0 < p <= 100) of `values`; None when there are none."""
    if not 0 < p <= 100:
        raise ValueError(f"a percentile is over 0 and at most 100, got {p}")
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


def most_within(
    times: Sequence[datetime], width: timedelta, first: int = 0, last: int | None = None
) -> tuple[int, datetime | None]:
    """The most of sorted `times` in one half-open window [t, t + width), and the first such t.

    Windows start at the times `times[first:last]` (the densest window always starts at one).
    """
    best, best_at = 0, None
    for i in range(first, len(times) if last is None else last):
        count = bisect_left(times, times[i] + width, lo=i) - i
        if count > best:
            best, best_at = count, times[i]
    return best, best_at


def local_days(start: datetime, end: datetime, tz: tzinfo) -> list[tuple[date, datetime, datetime]]:
    """Each local day of `tz` that [start, end) touches, with its part of the range in UTC terms."""
    days, day = [], start.astimezone(tz).date()
    last = (end - timedelta(microseconds=1)).astimezone(tz).date()
    while day <= last:
        # in UTC: aware times of one zone compare and subtract by wall clock, blind to a clock change
        begin = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
        after = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
        days.append((day, max(begin, start), min(after, end)))
        day += timedelta(days=1)
    return days


def _day_peaks(raised: Sequence[datetime], start: datetime, end: datetime, tz: tzinfo) -> tuple[DayPeak, ...]:
    peaks = []
    for day, begin, after in local_days(start, end, tz):
        # a window belongs to the day it starts in, and may run past midnight
        best, best_at = most_within(raised, WINDOW, bisect_left(raised, begin), bisect_left(raised, after))
        peaks.append(DayPeak(day, best, best_at))
    return tuple(peaks)


def _ack_times(
    groups: dict[str, list[float]], missing: Counter[str], order: Sequence[str]
) -> tuple[AckTimes, ...]:
    names = [g for g in order if g in groups or g in missing]
    names += sorted((set(groups) | set(missing)) - set(names))
    return tuple(AckTimes(g, len(groups.get(g, [])), missing.get(g, 0), percentile(groups.get(g, []), 50),
                          percentile(groups.get(g, []), 90)) for g in names)


def _chattering(lives: Sequence[AlarmLife], start: datetime, end: datetime) -> tuple[Chattering, ...]:
    by_key: dict[tuple[str, str], list[datetime]] = defaultdict(list)
    for life in lives:
        by_key[life.rule, life.source].extend(t for t in life.activations if start <= t < end)
    found = []
    for (rule, source), times in by_key.items():
        most, at = most_within(sorted(times), CHATTER_WINDOW)
        if most >= CHATTER_COUNT and at is not None:
            found.append(Chattering(rule, source, most, at))
    return tuple(sorted(found, key=lambda c: (-c.most_in_window, c.rule, c.source)))


def alarm_kpis(
    lives: Iterable[AlarmLife], start: datetime, end: datetime, tz: tzinfo, *, as_of: datetime | None = None
) -> AlarmKpis:
    """The KPIs of the alarms raised in [start, end); standing and shelved ones at `as_of` (default end).

    `lives` may hold alarms raised before `start`: they count only towards standing and shelved
    alarms, and shelve actions taken in the range. Days are local days of `tz` (the site's zone).
    """
    if start.tzinfo is None or end.tzinfo is None or not start < end:
        raise ValueError("a KPI range needs time-zone aware start < end")
    moment = as_of or end
    every = list(lives)
    inside = [a for a in every if start <= a.raised_at < end]
    raised = sorted(a.raised_at for a in inside)
    per_window = len(inside) / ((end - start) / WINDOW)

    by_priority: dict[str, list[float]] = defaultdict(list)
    by_operator: dict[str, list[float]] = defaultdict(list)
    unacked: Counter[str] = Counter()
    for life in inside:
        if life.acknowledged_at is None or life.acknowledged_by is None:
            unacked[str(life.priority)] += 1
            continue
        seconds = (life.acknowledged_at - life.raised_at).total_seconds()
        by_priority[str(life.priority)].append(seconds)
        by_operator[life.acknowledged_by].append(seconds)

    standing = tuple(
        Standing(a.id, a.rule, a.source, a.priority, a.raised_at, (moment - a.raised_at).total_seconds())
        for a in sorted(every, key=lambda a: (a.raised_at, a.number))
        if a.open_at(moment) and moment - a.raised_at > STANDING_AFTER
    )
    shelved = tuple(a.id for a in sorted(every, key=lambda a: a.number)
                    if a.open_at(moment) and a.shelved_at(moment))
    shelve_actions = sum(1 for a in every for s in a.shelves if start <= s.at < end)

    counts = Counter((a.rule, a.source) for a in inside)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_SOURCES]
    top = tuple(SourceShare(rule, source, n, n / len(inside)) for (rule, source), n in ranked)

    return AlarmKpis(
        start=start, end=end, raised=len(inside), per_10min_average=per_window,
        worst_10min_by_day=_day_peaks(raised, start, end, tz),
        ack_by_priority=_ack_times(by_priority, unacked, [str(p) for p in Priority]),
        ack_by_operator=_ack_times(by_operator, Counter(), []),
        standing=standing, shelved_at_end=shelved, shelve_actions=shelve_actions,
        chattering=_chattering(every, start, end), top_sources=top,
    )
