"""Alarm-management KPIs from life cycles the real alarm book produced, with plain values."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.schemas import Priority
from security.office.alarms import (
    Acknowledge,
    ActionRejected,
    Alarm,
    AlarmBook,
    AlarmState,
    BookConfig,
    Condition,
    Resolve,
    RuleName,
    Shelve,
    Unshelve,
)
from security.office.alarms.kpis import (
    AlarmLife,
    alarm_kpis,
    life_of,
    local_days,
    most_within,
    percentile,
    source_of,
)

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
WARSAW = ZoneInfo("Europe/Warsaw")


class Desk:
    """Drives a real AlarmBook and hands out the alarms' life cycles."""

    def __init__(self) -> None:
        self.book = AlarmBook(BookConfig())

    def raise_(self, at: datetime, source: str = "door-1", rule: RuleName = RuleName.DOOR_FORCED,
               priority: Priority = Priority.HIGH) -> str:
        condition = Condition(rule, f"{rule}:{source}", priority, f"{rule} at {source}")
        self.book, out = self.book.apply(condition, at)
        assert not isinstance(out[0], ActionRejected)
        return out[0].alarm.id

    def act(self, action: Acknowledge | Resolve | Shelve | Unshelve, at: datetime) -> None:
        self.book, out = self.book.apply(action, at)
        assert out, f"{action} did nothing"

    def lives(self) -> list[AlarmLife]:
        return [life_of(a, int(a.id.rsplit("-", 1)[1])) for a in self.book.alarms.values()]


def test_percentile_is_nearest_rank_and_handles_one_and_no_values() -> None:
    """One value is every percentile of itself; none gives None; p is checked."""
    assert percentile([42.0], 50) == 42.0
    assert percentile([42.0], 90) == 42.0
    assert percentile([], 50) is None
    values = [float(v) for v in range(10, 0, -1)]
    assert percentile(values, 50) == 5.0
    assert percentile(values, 90) == 9.0
    assert percentile(values, 100) == 10.0
    with pytest.raises(ValueError, match="percentile"):
        percentile(values, 0)


def test_an_empty_range_gives_zeros_and_every_local_day() -> None:
    """No alarms: no rate, each local day with no peak, no times, nothing standing or chattering."""
    kpis = alarm_kpis([], T0, T0 + timedelta(days=2), WARSAW)
    assert kpis.raised == 0
    assert kpis.per_10min_average == 0.0
    assert [(p.day, p.count, p.window_start) for p in kpis.worst_10min_by_day] == [
        (date(2026, 11, 23), 0, None), (date(2026, 11, 24), 0, None), (date(2026, 11, 25), 0, None)]
    assert kpis.ack_by_priority == kpis.ack_by_operator == ()
    assert kpis.standing == ()
    assert kpis.chattering == ()
    assert kpis.top_sources == ()
    assert kpis.shelved_at_end == ()
    with pytest.raises(ValueError, match="start < end"):
        alarm_kpis([], T0, T0, WARSAW)


def test_rate_per_ten_minutes_is_the_average_over_the_range() -> None:
    """12 alarms in one hour is 2 per 10 minutes; a repeat of an open alarm is not a new alarm."""
    desk = Desk()
    for n in range(12):
        desk.raise_(T0 + timedelta(minutes=5 * n), source=f"door-{n}")
    desk.raise_(T0 + timedelta(minutes=1), source="door-0")  # a repeat, counted on a-1
    desk.raise_(T0 + timedelta(hours=1), source="late")  # at the end: outside [start, end)
    kpis = alarm_kpis(desk.lives(), T0, T0 + timedelta(hours=1), UTC)
    assert kpis.raised == 12
    assert kpis.per_10min_average == pytest.approx(2.0)


def test_worst_window_of_each_local_day_runs_past_midnight() -> None:
    """Alarms at 23:55, 23:58, 00:01, 00:03 local: the first day's worst window holds all four."""
    desk = Desk()
    evening = datetime(2026, 11, 23, 23, 55, tzinfo=WARSAW)
    for n, minutes in enumerate((0, 3, 6, 8)):
        desk.raise_(evening + timedelta(minutes=minutes), source=f"s{n}")
    start = datetime(2026, 11, 23, 0, 0, tzinfo=WARSAW)
    kpis = alarm_kpis(desk.lives(), start, start + timedelta(days=2), WARSAW)
    peaks = {p.day: (p.count, p.window_start) for p in kpis.worst_10min_by_day}
    assert peaks[date(2026, 11, 23)] == (4, evening)
    assert peaks[date(2026, 11, 24)] == (2, evening + timedelta(minutes=6))


def test_local_days_follow_the_clock_change() -> None:
    """The night clocks go back, the local day is 25 hours long and still one day."""
    start = datetime(2026, 10, 24, 22, 0, tzinfo=UTC)  # midnight of 25 October in Warsaw (CEST)
    days = local_days(start, start + timedelta(hours=25), WARSAW)
    assert [d for d, _, _ in days] == [date(2026, 10, 25)]
    assert days[0][2] - days[0][1] == timedelta(hours=25)
    spring = datetime(2026, 3, 28, 23, 0, tzinfo=UTC)  # midnight of 29 March (CET)
    assert [d for d, _, _ in local_days(spring, spring + timedelta(hours=23), WARSAW)] == [date(2026, 3, 29)]


def test_time_to_acknowledge_by_priority_and_by_operator() -> None:
    """p50/p90 per priority and operator; a resolve before any acknowledgement counts; none stays apart."""
    desk = Desk()
    waits = {"maria": [10, 20, 30], "jan": [300]}
    for who, seconds in waits.items():
        for s in seconds:
            alarm_id = desk.raise_(T0 + timedelta(minutes=len(desk.book.alarms)), source=f"{who}{s}")
            raised = desk.book.alarms[alarm_id].raised_at
            desk.act(Acknowledge(alarm_id, who), raised + timedelta(seconds=s))
    resolved = desk.raise_(T0, source="x", priority=Priority.LOW)
    desk.act(Resolve(resolved, "jan", "closed"), T0 + timedelta(seconds=60))
    desk.raise_(T0, source="never", priority=Priority.LOW)
    kpis = alarm_kpis(desk.lives(), T0, T0 + timedelta(hours=1), UTC)
    by_priority = {a.group: a for a in kpis.ack_by_priority}
    assert list(by_priority) == ["high", "low"]
    high = by_priority["high"]
    assert (high.acknowledged, high.p50_s, high.p90_s) == (4, 20, 300)
    assert (by_priority["low"].acknowledged, by_priority["low"].unacknowledged) == (1, 1)
    assert by_priority["low"].p50_s == by_priority["low"].p90_s == 60
    by_operator = {a.group: a for a in kpis.ack_by_operator}
    assert (by_operator["maria"].p50_s, by_operator["maria"].p90_s) == (20, 30)
    jan = by_operator["jan"]
    assert (jan.acknowledged, jan.p50_s, jan.p90_s) == (2, 60, 300)


def test_standing_alarms_are_open_over_a_day_at_the_end_even_when_raised_before_the_range() -> None:
    """Open 30 h: standing (raised before the range too); open 23 h or resolved in time: not."""
    end = T0 + timedelta(days=3)
    desk = Desk()
    old = desk.raise_(end - timedelta(hours=30), source="old")
    before_range = desk.raise_(T0 - timedelta(days=2), source="older")
    desk.raise_(end - timedelta(hours=23), source="young")
    fixed = desk.raise_(end - timedelta(hours=40), source="fixed")
    desk.act(Resolve(fixed, "maria", "closed"), end - timedelta(hours=1))
    later = desk.raise_(end - timedelta(hours=50), source="later")
    desk.act(Resolve(later, "maria", "closed"), end + timedelta(hours=1))  # after the range: open at its end
    kpis = alarm_kpis(desk.lives(), T0, end, UTC)
    assert [s.alarm_id for s in kpis.standing] == [before_range, later, old]
    assert kpis.standing[-1].open_for_s == 30 * 3600
    assert kpis.raised == 4  # the one raised before the range is not a raise of this range


def test_shelved_at_the_end_and_shelve_actions_in_the_range() -> None:
    """A shelve still running at the end is listed; one undone is only counted as an action."""
    desk = Desk()
    kept = desk.raise_(T0, source="kept")
    desk.act(Shelve(kept, "maria", T0 + timedelta(hours=8)), T0 + timedelta(minutes=1))
    back = desk.raise_(T0, source="back")
    desk.act(Shelve(back, "jan", T0 + timedelta(hours=8)), T0 + timedelta(minutes=2))
    desk.act(Unshelve(back, "jan"), T0 + timedelta(minutes=3))
    kpis = alarm_kpis(desk.lives(), T0, T0 + timedelta(hours=1), UTC)
    assert kpis.shelved_at_end == (kept,)
    assert kpis.shelve_actions == 2
    life = next(a for a in desk.lives() if a.id == kept)
    assert life.shelves[0].until == T0 + timedelta(hours=8)
    assert life.state is AlarmState.SHELVED
    undone = next(a for a in desk.lives() if a.id == back)
    assert [(s.by, s.until, s.ended_by) for s in undone.shelves] == [("jan", T0 + timedelta(hours=8), "jan")]
    assert [t.until for t in undone.history if t.action == "shelved"] == [T0 + timedelta(hours=8)]


def test_chattering_needs_three_activations_within_one_minute() -> None:
    """Raise and two repeats within 59 s chatter; three spread over 60 s do not (the window is half-open)."""
    desk = Desk()
    for s in (0, 20, 59):
        desk.raise_(T0 + timedelta(seconds=s), source="chatty")
    for s in (0, 30, 60):
        desk.raise_(T0 + timedelta(seconds=s), source="calm")
    first = desk.raise_(T0, source="reopened", rule=RuleName.CAMERA_TAMPER)
    desk.act(Resolve(first, "maria", "closed"), T0 + timedelta(seconds=1))
    desk.raise_(T0 + timedelta(seconds=2), source="reopened", rule=RuleName.CAMERA_TAMPER)
    desk.raise_(T0 + timedelta(seconds=3), source="reopened", rule=RuleName.CAMERA_TAMPER)
    kpis = alarm_kpis(desk.lives(), T0, T0 + timedelta(hours=1), UTC)
    assert [(c.rule, c.source, c.most_in_window) for c in kpis.chattering] == [
        ("camera-tamper", "reopened", 3), ("door-forced", "chatty", 3)]


def test_top_ten_sources_and_their_share() -> None:
    """Sources ranked by alarms raised, ties by rule and source, only ten kept; shares of all alarms."""
    desk = Desk()
    at = T0
    for n in range(12):
        for _ in range(12 - n):
            alarm_id = desk.raise_(at, source=f"door-{n:02d}")
            desk.act(Resolve(alarm_id, "maria", "closed"), at)
            at += timedelta(minutes=1)
    kpis = alarm_kpis(desk.lives(), T0, T0 + timedelta(days=1), UTC)
    total = sum(range(1, 13))
    assert kpis.raised == total
    assert [(s.source, s.alarms) for s in kpis.top_sources] == [(f"door-{n:02d}", 12 - n) for n in range(10)]
    assert kpis.top_sources[0].share == pytest.approx(12 / total)


def test_life_of_reads_acknowledgement_resolution_and_sources() -> None:
    """The life cycle names who acknowledged and resolved, and the source without the rule."""
    desk = Desk()
    alarm_id = desk.raise_(T0, source="door:7", rule=RuleName.REPEATED_DENIALS)
    desk.act(Acknowledge(alarm_id, "maria"), T0 + timedelta(seconds=5))
    desk.act(Resolve(alarm_id, "jan", "closed"), T0 + timedelta(seconds=50))
    life = desk.lives()[0]
    assert (life.source, life.acknowledged_by, life.resolved_by) == ("door:7", "maria", "jan")
    assert life.acknowledged_at == T0 + timedelta(seconds=5)
    assert not life.open_at(T0 + timedelta(seconds=50))
    assert life.open_at(T0 + timedelta(seconds=49))
    assert source_of("door-forced", "other-key") == "other-key"
    bare = Alarm(id="a-9", rule="door-forced", key="door-forced:d", priority=Priority.LOW, summary="s",
                 cause=(), silent=False, raised_at=T0)
    assert life_of(bare, 9).activations == (T0,)


def test_most_within_counts_a_half_open_window() -> None:
    """The densest window and where it starts."""
    times = [T0, T0 + timedelta(seconds=10), T0 + timedelta(seconds=60), T0 + timedelta(seconds=61)]
    assert most_within(times, timedelta(minutes=1)) == (3, T0 + timedelta(seconds=10))
    assert most_within(times[:3], timedelta(minutes=1)) == (2, T0)
    assert most_within([], timedelta(minutes=1)) == (0, None)


@given(st.lists(st.integers(min_value=0, max_value=600), max_size=40),
       st.integers(min_value=1, max_value=120))
def test_most_within_agrees_with_counting_every_window(offsets: list[int], width_s: int) -> None:
    """The densest window found by bisection is the one found by counting from every time."""
    times = sorted(T0 + timedelta(seconds=s) for s in offsets)
    width = timedelta(seconds=width_s)
    counts = [sum(1 for u in times if t <= u < t + width) for t in times]
    most, at = most_within(times, width)
    assert most == max(counts, default=0)
    assert at == (times[counts.index(most)] if times else None)


@given(st.lists(st.floats(min_value=0, max_value=1e6), min_size=1, max_size=50),
       st.floats(min_value=0.5, max_value=100))
def test_a_percentile_is_a_value_with_enough_values_at_or_below_it(values: list[float], p: float) -> None:
    """Nearest rank: a measured value, at least p% of values at or below it, and fewer strictly below."""
    found = percentile(values, p)
    assert found in values
    assert sum(1 for v in values if v <= found) >= p / 100 * len(values)
    assert sum(1 for v in values if v < found) < p / 100 * len(values)
