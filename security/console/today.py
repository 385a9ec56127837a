"""The Today page as plain values: who is on site, today's invitations, open alarms, devices offline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from broker.schemas import Priority
from security.office.access import OnSite
from security.office.access.model import PersonKind
from security.office.alarms.lifecycle import Alarm, AlarmState
from security.storage import DeviceState
from security.storage.invitations import Invitation

PRIORITY_ORDER = {p: i for i, p in enumerate(Priority)}


@dataclass(frozen=True, slots=True)
class PersonLine:
    """One person on site, for the table."""

    name: str
    kind: str
    company: str
    host: str
    since: str
    last_door: str


@dataclass(frozen=True, slots=True)
class ExpectedLine:
    """One invitation of today: who, when, for whom, and whether they came."""

    visitor: str
    company: str
    host: str
    expected: str
    state: str


@dataclass(frozen=True, slots=True)
class AlarmLine:
    """One open alarm, most urgent first."""

    id: str
    priority: str
    summary: str
    state: str
    raised: str
    count: int


@dataclass(frozen=True, slots=True)
class DeviceLine:
    """One device that says it is offline, and since when."""

    source: str
    kind: str
    since: str
    detail: str


@dataclass(frozen=True, slots=True)
class TodayPage:
    """Everything the Today page shows, already formatted in the site's time zone."""

    date: str
    visitors_on_site: int
    employees_on_site: int
    people: tuple[PersonLine, ...]
    expected: int
    arrived: int
    expected_lines: tuple[ExpectedLine, ...]
    open_alarms: tuple[AlarmLine, ...]
    unacknowledged: int
    devices_offline: tuple[DeviceLine, ...]
    devices_known: int


def day_bounds(now: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The start and end (UTC-aware) of the site's local day that holds `now`."""
    local = now.astimezone(tz).date()
    start = datetime.combine(local, time(0), tzinfo=tz)
    end = datetime.combine(local + timedelta(days=1), time(0), tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def _clock(at: datetime | None, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%H:%M") if at is not None else ""


def _state(invitation: Invitation) -> str:
    if invitation.cancelled_at is not None:
        return "cancelled"
    return "arrived" if invitation.checked_in_at is not None else "expected"


def today_page(
    now: datetime, tz: ZoneInfo, *, on_site: Sequence[OnSite], invitations: Sequence[Invitation],
    alarms: Sequence[Alarm], devices: Sequence[DeviceState],
) -> TodayPage:
    """Shape the day's records into the page (`invitations` are those expected today, any state)."""
    people = sorted(on_site, key=lambda p: (p.kind != PersonKind.VISITOR, p.name.casefold()))
    open_alarms = sorted((a for a in alarms if a.is_open),
                         key=lambda a: (PRIORITY_ORDER.get(a.priority, 99), a.raised_at))
    offline = sorted((d for d in devices if d.status.state == "offline"), key=lambda d: d.source)
    live = [i for i in invitations if i.cancelled_at is None]
    return TodayPage(
        date=now.astimezone(tz).strftime("%Y-%m-%d"),
        visitors_on_site=sum(p.kind == PersonKind.VISITOR for p in people),
        employees_on_site=sum(p.kind == PersonKind.EMPLOYEE for p in people),
        people=tuple(PersonLine(p.name, str(p.kind), p.company or "", p.host or "", _clock(p.since, tz),
                                p.last_door or "") for p in people),
        expected=len(live),
        arrived=sum(i.checked_in_at is not None for i in live),
        expected_lines=tuple(ExpectedLine(i.visitor_name, i.company or "", i.host_id,
                                          _clock(i.expected_at, tz), _state(i))
                             for i in sorted(invitations, key=lambda i: i.expected_at)),
        open_alarms=tuple(AlarmLine(a.id, str(a.priority), a.summary, str(a.state), _clock(a.raised_at, tz),
                                    a.count) for a in open_alarms),
        unacknowledged=sum(a.state == AlarmState.UNACKNOWLEDGED for a in open_alarms),
        devices_offline=tuple(DeviceLine(d.source, d.status.kind, _clock(d.status.since or d.updated_at, tz),
                                         d.status.detail or "") for d in offline),
        devices_known=len(devices),
    )
