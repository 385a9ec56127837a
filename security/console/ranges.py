"""A page's time range from its query string: local dates in the site's zone, checked (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo

from security.office.availability import DayWindow
from security.storage.reports.keyset import ReportError, TimeRange

DEFAULT_DAYS = 7
"""A page with no range shows the last seven local days, today included."""


@dataclass(frozen=True, slots=True)
class DayRange:
    """The local dates a page covers (both included) and the same range as times."""

    first: date
    last: date
    times: TimeRange

    def query(self) -> dict[str, str]:
        """The range as query parameters, for links and exports that keep it."""
        return {"from": self.first.isoformat(), "to": self.last.isoformat()}


def _date(text: str | None, name: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10]) if len(text) <= 10 else None
    except ValueError:
        pass
    raise ReportError(f"{name}: a date as YYYY-MM-DD, got {text[:20]!r}")


def day_range(start: str | None, end: str | None, now: datetime, tz: ZoneInfo) -> DayRange:
    """The dates `start` to `end` (YYYY-MM-DD, both included) of `tz`; by default the last week."""
    today = now.astimezone(tz).date()
    last = _date(end, "to") or today
    first = _date(start, "from") or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise ReportError("the range must start on or before the day it ends")
    # in UTC: aware times of one zone subtract by wall clock, blind to a clock change in between
    begin = datetime.combine(first, time(0), tzinfo=tz).astimezone(UTC)
    after = datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    return DayRange(first, last, TimeRange(begin, after))


def day_windows(days: DayRange, tz: ZoneInfo) -> list[DayWindow]:
    """Each local day of the range as its own time range (23 or 25 hours on a clock change)."""
    count = (days.last - days.first).days + 1
    dates = [days.first + timedelta(days=i) for i in range(count)]
    return [DayWindow(d, datetime.combine(d, time(0), tzinfo=tz).astimezone(UTC),
                      datetime.combine(d + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC))
            for d in dates]


def redact(query: str, fields: tuple[str, ...]) -> str:
    """`query` with the values of `fields` replaced by `(given)`: what was searched, not for whom."""
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(k, "(given)" if k in fields and v else v) for k, v in pairs])


def local_moment(text: str, tz: ZoneInfo, name: str) -> datetime | None:
    """A form's `YYYY-MM-DDTHH:MM` as a time in the site's zone, or None when empty; ReportError naming it."""
    if not text.strip():
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ReportError(f"{name}: a date and time, got {text[:40]!r}") from None
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment
