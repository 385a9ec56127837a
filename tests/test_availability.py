"""A device's availability over a range, from its status changes: plain values in, figures out."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.messages import State
from security.office.availability import (
    NO_TIME,
    Availability,
    DayAvailability,
    DayWindow,
    StateChange,
    availability,
    daily,
)

START = datetime(2026, 12, 1, tzinfo=UTC)
END = START + timedelta(hours=10)
HOUR = 3600.0


def at(hours: float, state: State) -> StateChange:
    """A change `hours` after START."""
    return StateChange(START + timedelta(hours=hours), state)


def test_no_changes_leave_the_whole_range_unknown() -> None:
    assert availability([], START, END) == Availability(0.0, 0.0, 10 * HOUR, None, 0, 0.0)


def test_offline_across_the_whole_range_is_one_outage_of_the_range() -> None:
    figures = availability([at(-30, "offline")], START, END)
    assert figures == Availability(0.0, 10 * HOUR, 0.0, 0.0, 1, 10 * HOUR)


def test_online_across_the_whole_range_is_fully_available() -> None:
    assert availability([at(-1, "online")], START, END) == Availability(10 * HOUR, 0.0, 0.0, 100.0, 0, 0.0)


def test_unknown_until_the_first_change_and_not_counted_in_the_percentage() -> None:
    figures = availability([at(2, "online"), at(6, "offline"), at(7, "online")], START, END)
    assert figures == Availability(7 * HOUR, 1 * HOUR, 2 * HOUR, 87.5, 1, 1 * HOUR)


def test_a_change_exactly_at_start_sets_the_state_from_the_first_moment() -> None:
    figures = availability([at(-5, "online"), at(0, "offline"), at(4, "online")], START, END)
    assert figures == Availability(6 * HOUR, 4 * HOUR, 0.0, 60.0, 1, 4 * HOUR)


def test_a_change_exactly_at_end_changes_nothing_inside() -> None:
    figures = availability([at(-1, "online"), at(10, "offline"), at(11, "online")], START, END)
    assert figures == Availability(10 * HOUR, 0.0, 0.0, 100.0, 0, 0.0)


def test_outages_count_one_under_way_at_start_and_one_still_going_at_end() -> None:
    changes = [at(-2, "offline"), at(1, "online"), at(3, "offline"), at(3.5, "online"), at(8, "offline")]
    figures = availability(changes, START, END)
    assert figures.outages == 3
    assert figures.longest_outage_s == 2 * HOUR  # the one going at the end, inside the range
    assert (figures.online_s, figures.offline_s, figures.unknown_s) == (6.5 * HOUR, 3.5 * HOUR, 0.0)
    assert figures.percent == pytest.approx(65.0)


def test_the_same_state_said_again_is_one_stretch() -> None:
    figures = availability([at(-1, "offline"), at(2, "offline"), at(5, "online")], START, END)
    assert (figures.outages, figures.longest_outage_s, figures.offline_s) == (1, 5 * HOUR, 5 * HOUR)


def test_offline_and_online_at_one_instant_is_no_outage() -> None:
    figures = availability([at(-1, "online"), at(4, "offline"), at(4, "online")], START, END)
    assert figures == Availability(10 * HOUR, 0.0, 0.0, 100.0, 0, 0.0)


def test_an_empty_range_has_no_time() -> None:
    assert availability([at(-1, "offline")], START, START) == NO_TIME


def test_times_in_other_zones_count_the_same() -> None:
    plus_two = timezone(timedelta(hours=2))
    changes = [StateChange((START + timedelta(hours=5)).astimezone(plus_two), "offline")]
    assert availability(changes, START.astimezone(plus_two), END).offline_s == 5 * HOUR


@pytest.mark.parametrize(("changes", "start", "end", "message"), [
    ([at(2, "online"), at(1, "offline")], START, END, "out of order"),
    ([], END, START, "ends"),
    ([], START.replace(tzinfo=None), END, "start must be"),
    ([StateChange(datetime(2026, 12, 1, 3), "online")], START, END, "change's time"),
])
def test_bad_input_is_refused(
    changes: list[StateChange], start: datetime, end: datetime, message: str,
) -> None:
    with pytest.raises(ValueError, match=message):
        availability(changes, start, end)


@given(st.lists(st.tuples(st.integers(-600, 1200), st.sampled_from(["online", "offline"])), max_size=30))
def test_every_second_is_counted_once(raw: list[tuple[int, State]]) -> None:
    """Online, offline and unknown add up to the range; the longest outage fits in the offline time."""
    changes = [StateChange(START + timedelta(minutes=m), s) for m, s in sorted(raw, key=lambda c: c[0])]
    figures = availability(changes, START, END)
    assert figures.online_s + figures.offline_s + figures.unknown_s == 10 * HOUR
    assert figures.longest_outage_s <= figures.offline_s
    assert (figures.outages == 0) == (figures.offline_s == 0)
    if figures.percent is not None:
        assert 0.0 <= figures.percent <= 100.0


def test_each_day_is_measured_on_its_own_and_not_past_now() -> None:
    """Offline from 06:00 on day one until 06:00 on day two; day three has not begun."""
    days = [DayWindow(date(2026, 12, 1) + timedelta(days=n), START + timedelta(days=n),
                      START + timedelta(days=n + 1)) for n in range(3)]
    changes = [at(-1, "online"), at(6, "offline"), at(30, "online")]
    now = START + timedelta(hours=36)
    first, second, third = daily(changes, days, now)
    assert first == DayAvailability(date(2026, 12, 1),
                                    Availability(6 * HOUR, 18 * HOUR, 0.0, 25.0, 1, 18 * HOUR))
    assert second == DayAvailability(date(2026, 12, 2),
                                     Availability(6 * HOUR, 6 * HOUR, 0.0, 50.0, 1, 6 * HOUR))
    assert third == DayAvailability(date(2026, 12, 3), None)
