"""The figures of visitors' check-out ratings (`visitor.feedback`): average, spread, by day, by host."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, tzinfo

SCALE = (1, 2, 3, 4, 5)
"""The contract's five faces, very unhappy to very happy."""


@dataclass(frozen=True, slots=True)
class FeedbackFact:
    """One visit's rating as the figures need it: when it was received, and the visit's host."""

    visit_id: str
    at: datetime
    rating: int
    host_id: str | None
    host_name: str | None
    commented: bool


@dataclass(frozen=True, slots=True)
class Ratings:
    """A group of ratings: how many, their average (None when none) and how many of each face."""

    count: int
    average: float | None
    spread: tuple[int, ...]
    """spread[i]: ratings of SCALE[i]."""


@dataclass(frozen=True, slots=True)
class DayRatings:
    """The ratings received on one local day."""

    day: date
    ratings: Ratings


@dataclass(frozen=True, slots=True)
class HostRatings:
    """The ratings of one host's visits (the host's newest known name)."""

    host_id: str
    host_name: str | None
    ratings: Ratings


@dataclass(frozen=True, slots=True)
class FeedbackStats:
    """Every figure of the ratings of one range."""

    overall: Ratings
    commented: int
    days: tuple[DayRatings, ...]
    """Days with ratings, oldest first."""
    hosts: tuple[HostRatings, ...]
    """Hosts with ratings, most rated first (ties by host id)."""


def ratings(values: Iterable[int]) -> Ratings:
    """Count, average and spread of `values` (values off the scale are refused)."""
    spread = [0] * len(SCALE)
    for value in values:
        if value not in SCALE:
            raise ValueError(f"a rating is one of {SCALE}, not {value!r}")
        spread[value - SCALE[0]] += 1
    count = sum(spread)
    total = sum(n * face for n, face in zip(spread, SCALE, strict=True))
    return Ratings(count, round(total / count, 2) if count else None, tuple(spread))


def feedback_stats(facts: Iterable[FeedbackFact], tz: tzinfo) -> FeedbackStats:
    """The figures of `facts` (one rating per visit), days local to `tz`."""
    kept = list(facts)
    by_day: dict[date, list[int]] = defaultdict(list)
    by_host: dict[str, list[int]] = defaultdict(list)
    names: dict[str, tuple[datetime, str]] = {}
    for fact in kept:
        if fact.at.tzinfo is None:
            raise ValueError(f"rating of visit {fact.visit_id} has no time zone")
        by_day[fact.at.astimezone(tz).date()].append(fact.rating)
        if fact.host_id is not None:
            by_host[fact.host_id].append(fact.rating)
            if fact.host_name and (fact.host_id not in names or names[fact.host_id][0] <= fact.at):
                names[fact.host_id] = (fact.at, fact.host_name)
    hosts = sorted(by_host.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    return FeedbackStats(
        overall=ratings(f.rating for f in kept), commented=sum(1 for f in kept if f.commented),
        days=tuple(DayRatings(day, ratings(values)) for day, values in sorted(by_day.items())),
        hosts=tuple(HostRatings(h, names.get(h, (None, None))[1], ratings(values)) for h, values in hosts),
    )
