"""Property tests: random sequences of conditions, actions and ticks never leave the alarm book invalid."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from broker.events import make_event
from broker.schemas import AccessDenied, DenyReason, Priority
from security.office.alarms import (
    Acknowledge,
    Action,
    AlarmBook,
    AlarmEvent,
    AlarmState,
    Condition,
    Output,
    RepeatedDenialsConfig,
    Resolve,
    RuleName,
    RulesConfig,
    RuleState,
    Shelve,
    Unshelve,
    evaluate,
)

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
KEYS = ("k-a", "k-b", "k-c")

Step = tuple[str, int, float]
steps = st.lists(
    st.tuples(
        st.sampled_from(["condition", "ack", "resolve", "shelve", "unshelve", "tick"]),
        st.integers(0, 5),
        st.floats(0, 40_000, allow_nan=False),
    ),
    max_size=60,
)


def to_item(kind: str, n: int, value: float, now: datetime) -> Condition | Action | None:
    """The condition or action a step stands for (None for a tick)."""
    alarm_id, by = f"a-{n + 1}", f"station-{n % 2}"
    if kind == "condition":
        priority = list(Priority)[n % 4]
        return Condition(RuleName.DOOR_FORCED, KEYS[n % 3], priority, "s", (f"e-{int(value)}",))
    if kind == "ack":
        return Acknowledge(alarm_id, by)
    if kind == "resolve":
        return Resolve(alarm_id, by, "closed")
    if kind == "shelve":
        return Shelve(alarm_id, by, now + timedelta(seconds=value))
    if kind == "unshelve":
        return Unshelve(alarm_id, by)
    return None


def check(book: AlarmBook) -> None:
    """Every invariant of a book."""
    open_alarms = [a for a in book.alarms.values() if a.is_open]
    assert len({a.key for a in open_alarms}) == len(open_alarms), "two open alarms share a key"
    assert dict(book.open_keys) == {a.key: a.id for a in open_alarms}
    for alarm in book.alarms.values():
        shelved = alarm.state == AlarmState.SHELVED
        assert (alarm.shelved_until is not None) == shelved
        assert (alarm.before_shelve in (AlarmState.UNACKNOWLEDGED, AlarmState.ACKNOWLEDGED)) == shelved
        actions = Counter(t.action for t in alarm.history)
        assert actions["acknowledged"] <= 1
        assert actions["resolved"] == (alarm.state == AlarmState.RESOLVED)
        assert alarm.count == 1 + actions["repeated"]
        assert alarm.escalation_level == actions["escalated"] <= 2
        assert [t.at for t in alarm.history] == sorted(t.at for t in alarm.history)


@settings(max_examples=300, deadline=None)
@given(steps)
def test_random_sequences_keep_the_book_valid(sequence: list[Step]) -> None:
    """Whatever happens, in whatever order, the book's invariants hold after every step."""
    book, now, published = AlarmBook(), T0, list[Output]()
    for kind, n, value in sequence:
        now += timedelta(seconds=value / 10)
        item = to_item(kind, n, value, now)
        book, outputs = book.tick(now) if item is None else book.apply(item, now)
        published += outputs
        check(book)
    events = [o for o in published if isinstance(o, AlarmEvent)]
    acks = Counter(o.data.alarm_id for o in events if o.type == "alarm.acknowledged")
    assert all(v == 1 for v in acks.values())
    raised = [o.data.alarm_id for o in events if o.type == "alarm.raised"]
    assert sorted(raised) == sorted(book.alarms)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0, 30, allow_nan=False), st.sampled_from(["d1", "d2"])), min_size=1, max_size=20
    ),
    st.integers(1, 6),
    st.floats(1, 60, allow_nan=False),
)
def test_repeated_denials_matches_a_plain_count(
    gaps: list[tuple[float, str]], count: int, window: float
) -> None:
    """The door alarm fires exactly when a brute-force count over the window reaches N."""
    config = RulesConfig(repeated_denials=RepeatedDenialsConfig(count=count, window_s=window))
    state, when, seen = RuleState(), T0, list[tuple[datetime, str]]()
    for i, (gap, door) in enumerate(gaps):
        when += timedelta(seconds=gap)
        data = AccessDenied(credential=f"C{i:X}", door=door, reason=DenyReason.NO_RIGHTS)
        state, found = evaluate(make_event("s", "r", "access.denied", i + 1, data, time=when), state, config)
        seen.append((when, door))
        expected = sum(1 for t, d in seen if d == door and when - t <= timedelta(seconds=window)) >= count
        assert (f"repeated-denials:door:{door}" in [c.key for c in found]) == expected
