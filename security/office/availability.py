"""A device's availability over a time range, from its history of status changes (pure).

Storage hands in `StateChange` values in time order: the last change before the range (the state
the device was in when it began) followed by the changes inside it. Every moment of [start, end)
is online, offline or unknown (before the first change known); availability is the share of the
known time that was online. An outage is a stretch of offline time: one under way when the range
begins counts, and so does one still going at its end; both are measured inside the range only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from broker.messages import State


@dataclass(frozen=True, slots=True)
class StateChange:
    """A device became `state` at `at` (the service's receive time)."""

    at: datetime
    state: State


@dataclass(frozen=True, slots=True)
class Availability:
    """How a device spent a range: seconds online, offline and unknown, and its outages."""

    online_s: float
    offline_s: float
    unknown_s: float
    percent: float | None
    """Online time as a percentage of the known (online + offline) time; None when none is known."""
    outages: int
    """Stretches of offline time that overlap the range."""
    longest_outage_s: float
    """The longest of them, inside the range (0 without any)."""


NO_TIME = Availability(0.0, 0.0, 0.0, None, 0, 0.0)
"""The figures of an empty range."""


def _aware(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a time-zone aware time, got {moment.isoformat()}")
    return moment


def availability(changes: Iterable[StateChange], start: datetime, end: datetime) -> Availability:
    """The availability over [start, end) of a device whose changes, oldest first, are `changes`.

    Changes before `start` only set the state the range begins in (the last of them wins);
    changes at or after `end` change nothing inside it. A change out of time order is a
    ValueError, as are naive times and an `end` before `start`.
    """
    _aware(start, "start")
    _aware(end, "end")
    if end < start:
        raise ValueError(f"the range ends ({end.isoformat()}) before it starts ({start.isoformat()})")
    spent = {"online": 0.0, "offline": 0.0, "unknown": 0.0}
    outages: list[float] = []
    state: State | None = None
    since = start  # where the current stretch began, inside the range
    previous: datetime | None = None
    for change in changes:
        at = _aware(change.at, "a change's time")
        if previous is not None and at < previous:
            raise ValueError(f"changes out of order: {at.isoformat()} after {previous.isoformat()}")
        previous = at
        if at >= end:
            break
        if at <= start:
            state = change.state
            continue
        if change.state == state:
            continue  # the same state said again: one stretch
        _close(spent, outages, state, since, at)
        state, since = change.state, at
    _close(spent, outages, state, since, end)
    known = spent["online"] + spent["offline"]
    return Availability(
        online_s=spent["online"], offline_s=spent["offline"], unknown_s=spent["unknown"],
        percent=100.0 * spent["online"] / known if known > 0 else None,
        outages=len(outages), longest_outage_s=max(outages, default=0.0),
    )


@dataclass(frozen=True, slots=True)
class DayWindow:
    """A local day as a time range: [start, end) in aware times."""

    day: date
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class DayAvailability:
    """A device's availability on one day; None for a day that has not begun yet."""

    day: date
    availability: Availability | None


def daily(changes: Sequence[StateChange], days: Sequence[DayWindow], now: datetime) -> list[DayAvailability]:
    """`availability` on each day of `days`, measured up to `now` (what comes after it is not known).

    `changes` are as `availability` takes them: the last one before the first day, then the rest.
    """
    _aware(now, "now")
    return [DayAvailability(d.day, availability(changes, d.start, min(d.end, now)) if d.start < now else None)
            for d in days]


def _close(
    spent: dict[str, float], outages: list[float], state: State | None, since: datetime, until: datetime,
) -> None:
    """Count the stretch [since, until) in `state` (None: unknown); an offline one is an outage."""
    seconds = (until - since).total_seconds()
    spent[state or "unknown"] += seconds
    if state == "offline" and seconds > 0:  # offline and online again at one instant is no outage
        outages.append(seconds)
