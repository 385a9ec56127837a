"""Weekly access schedules in a site's time zone, with windows that may cross midnight (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo


@dataclass(slots=True, frozen=True)
class TimeWindow:
    """One window on a weekday (0 = Monday), local wall-clock time; `end <= start` crosses midnight."""

    weekday: int
    start: time
    end: time

    def __post_init__(self) -> None:
        """Refuse a weekday outside 0-6 or times carrying their own time zone."""
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday is 0 (Monday) to 6 (Sunday), got {self.weekday}")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("window times are local wall-clock times, without tzinfo")

    @property
    def crosses_midnight(self) -> bool:
        """Whether the window ends on the next day (an equal start and end means 24 hours)."""
        return self.end <= self.start

    def contains(self, local: datetime) -> bool:
        """Whether a local wall-clock moment falls in this window (start inclusive, end exclusive)."""
        day, moment = local.weekday(), local.time().replace(tzinfo=None)
        if not self.crosses_midnight:
            return day == self.weekday and self.start <= moment < self.end
        if day == self.weekday and moment >= self.start:
            return True
        return day == (self.weekday + 1) % 7 and moment < self.end


@dataclass(slots=True, frozen=True)
class WeeklySchedule:
    """Windows per weekday in a site's IANA time zone; DST is followed through zoneinfo wall-clock time."""

    tz: str
    windows: tuple[TimeWindow, ...] = ()
    always: bool = False

    def __post_init__(self) -> None:
        """Refuse an unknown time zone name up front."""
        ZoneInfo(self.tz)

    @classmethod
    def all_hours(cls, tz: str = "UTC") -> WeeklySchedule:
        """A schedule that is always open."""
        return cls(tz=tz, always=True)

    @classmethod
    def weekdays(
        cls, start: time, end: time, tz: str, days: tuple[int, ...] = (0, 1, 2, 3, 4)
    ) -> WeeklySchedule:
        """The same window on each of `days` (Monday to Friday by default)."""
        return cls(tz=tz, windows=tuple(TimeWindow(day, start, end) for day in days))

    def local(self, now: datetime) -> datetime:
        """`now` (which must be time-zone aware) as the site's local time."""
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("now must be time-zone aware")
        return now.astimezone(ZoneInfo(self.tz))

    def is_open(self, now: datetime) -> bool:
        """Whether the schedule admits the aware moment `now`."""
        if self.always:
            return True
        local = self.local(now)
        return any(window.contains(local) for window in self.windows)

    def open_minutes(self, day_start: datetime) -> int:
        """Real minutes open in the 24 real hours from `day_start` (a diagnostic, e.g. on DST days)."""
        return sum(self.is_open(day_start + timedelta(minutes=m)) for m in range(24 * 60))


def schedule_from_doc(doc: Mapping[str, Any]) -> WeeklySchedule:
    """A schedule from `{"tz", "always", "windows": [[weekday, "HH:MM", "HH:MM"], ...]}` (stored or sent)."""
    windows = tuple(
        TimeWindow(int(day), time.fromisoformat(start), time.fromisoformat(end))
        for day, start, end in doc.get("windows", ())
    )
    return WeeklySchedule(tz=str(doc.get("tz", "UTC")), windows=windows, always=bool(doc.get("always")))
