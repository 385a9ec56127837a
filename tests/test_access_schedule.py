"""Weekly schedules: weekday windows, midnight crossing and DST change days, with injected times."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from security.office.access import TimeWindow, WeeklySchedule

BERLIN = "Europe/Berlin"
Z = ZoneInfo(BERLIN)
OFFICE = WeeklySchedule.weekdays(time(8), time(17), BERLIN)
NIGHT = WeeklySchedule(BERLIN, (TimeWindow(4, time(22), time(6)),))  # Friday 22:00 to Saturday 06:00


@pytest.mark.parametrize(
    ("schedule", "local", "open_"),
    [
        (OFFICE, datetime(2026, 11, 23, 8, 0), True),  # Monday, start inclusive
        (OFFICE, datetime(2026, 11, 23, 16, 59), True),
        (OFFICE, datetime(2026, 11, 23, 17, 0), False),  # end exclusive
        (OFFICE, datetime(2026, 11, 23, 7, 59), False),
        (OFFICE, datetime(2026, 11, 28, 10, 0), False),  # Saturday
        (NIGHT, datetime(2026, 11, 27, 21, 59), False),  # Friday before
        (NIGHT, datetime(2026, 11, 27, 22, 0), True),
        (NIGHT, datetime(2026, 11, 27, 23, 59), True),
        (NIGHT, datetime(2026, 11, 28, 0, 0), True),  # past midnight, now Saturday
        (NIGHT, datetime(2026, 11, 28, 5, 59), True),
        (NIGHT, datetime(2026, 11, 28, 6, 0), False),
        (NIGHT, datetime(2026, 11, 27, 3, 0), False),  # Friday early morning is Thursday night: closed
        (
            WeeklySchedule(BERLIN, (TimeWindow(6, time(20), time(2)),)),
            datetime(2026, 11, 23, 1, 0),
            True,
        ),  # Sun→Mon
        (WeeklySchedule(BERLIN, (TimeWindow(2, time(0), time(0)),)), datetime(2026, 11, 26, 23, 59), False),
        (
            WeeklySchedule(BERLIN, (TimeWindow(2, time(9), time(9)),)),
            datetime(2026, 11, 26, 8, 59),
            True,
        ),  # 24 h
        (WeeklySchedule.all_hours(BERLIN), datetime(2026, 11, 29, 3, 0), True),
        (WeeklySchedule(BERLIN), datetime(2026, 11, 23, 10, 0), False),
    ],
)
def test_windows(schedule: WeeklySchedule, local: datetime, open_: bool) -> None:
    """Local wall-clock moments in and out of weekday and overnight windows."""
    assert schedule.is_open(local.replace(tzinfo=Z).astimezone(UTC)) is open_


def test_dst_spring_forward_uses_wall_clock() -> None:
    """On 29 March 2026 Berlin moves to UTC+2: 06:30Z is 08:30 local, inside a Sunday 08:00-09:00 window."""
    sunday = WeeklySchedule(BERLIN, (TimeWindow(6, time(8), time(9)),))
    assert sunday.is_open(datetime(2026, 3, 29, 6, 30, tzinfo=UTC))
    assert not sunday.is_open(datetime(2026, 3, 29, 7, 30, tzinfo=UTC))  # 09:30 CEST
    assert sunday.is_open(datetime(2026, 3, 22, 7, 30, tzinfo=UTC))  # a week before, still UTC+1


def test_dst_night_window_is_shorter_and_longer() -> None:
    """An overnight 22:00-06:00 window lasts 7 real hours into spring-forward, 9 into fall-back."""
    spring = WeeklySchedule(BERLIN, (TimeWindow(5, time(22), time(6)),))  # Saturday night → Sunday 29 March
    start = datetime(2026, 3, 28, 12, 0, tzinfo=Z).astimezone(UTC)
    assert spring.open_minutes(start) == 7 * 60
    autumn = WeeklySchedule(BERLIN, (TimeWindow(5, time(22), time(6)),))  # Saturday night → Sunday 25 October
    start = datetime(2026, 10, 24, 12, 0, tzinfo=Z).astimezone(UTC)
    assert autumn.open_minutes(start) == 9 * 60


def test_dst_fall_back_repeated_hour_is_open_both_times() -> None:
    """On 25 October 2026 02:30 local happens twice; a 02:00-03:00 window admits both real moments."""
    window = WeeklySchedule(BERLIN, (TimeWindow(6, time(2), time(3)),))
    assert window.is_open(datetime(2026, 10, 25, 0, 30, tzinfo=UTC))  # 02:30 CEST
    assert window.is_open(datetime(2026, 10, 25, 1, 30, tzinfo=UTC))  # 02:30 CET
    assert not window.is_open(datetime(2026, 10, 25, 2, 30, tzinfo=UTC))  # 03:30 CET


def test_bad_schedules_are_refused() -> None:
    """Weekday out of range, an unknown zone and a naive `now` are errors."""
    with pytest.raises(ValueError, match="weekday"):
        TimeWindow(7, time(8), time(9))
    with pytest.raises(ValueError, match="tzinfo"):
        TimeWindow(1, time(8, tzinfo=UTC), time(9))
    with pytest.raises(Exception, match="Nowhere"):
        WeeklySchedule("Nowhere/City")
    with pytest.raises(ValueError, match="aware"):
        OFFICE.is_open(datetime(2026, 11, 23, 10, 0))


@given(
    start=st.times(),
    end=st.times(),
    day=st.integers(0, 6),
    moment=st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
    ),
)
def test_window_shifted_a_week_agrees(start: time, end: time, day: int, moment: datetime) -> None:
    """A schedule gives the same answer at the same local wall-clock time one week later."""
    sched = WeeklySchedule(BERLIN, (TimeWindow(day, start, end),))
    local = moment.astimezone(Z).replace(tzinfo=None)
    later = (local + timedelta(days=7)).replace(tzinfo=Z)
    assert sched.is_open(local.replace(tzinfo=Z)) == sched.is_open(later)
