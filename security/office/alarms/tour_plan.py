"""Guard tours as plain values: checkpoints in order, their time windows, schedules, priorities (pure)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum

from broker.schemas import Priority


class TagKind(StrEnum):
    """How a checkpoint's tag is read: a badge at a reader (`badge.read`) or a QR code (`code.scanned`)."""

    BADGE = "badge"
    QR = "qr"


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """One place of a tour: its tag, where it must be read, and its window after the previous one."""

    name: str
    kind: TagKind
    tag: str
    min_s: float = 0.0
    max_s: float = 900.0
    device: str | None = None
    """The reader or scanner that must read it (None: any)."""


@dataclass(frozen=True, slots=True)
class TourSchedule:
    """Rounds due every `every_s` from `start` until `end` (local time in `tz`) on `days` (0 = Monday).

    `end` at or before `start` means the window runs past midnight (a night round from 22:00 to 06:00);
    a round is due at `start` itself, never at `end`.
    """

    every_s: float
    start: time
    end: time
    days: frozenset[int] = frozenset(range(7))
    tz: tzinfo = UTC

    def _windows(self, around: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The windows (UTC start, UTC end) opened on the local days around `around`, oldest first."""
        local_day = around.astimezone(self.tz).date()
        for offset in (-2, -1, 0, 1, 2):
            day = local_day + timedelta(days=offset)
            if day.weekday() in self.days:
                yield self._window(day)

    def _window(self, day: date) -> tuple[datetime, datetime]:
        opens = datetime.combine(day, self.start, tzinfo=self.tz).astimezone(UTC)
        end_day = day if self.end > self.start else day + timedelta(days=1)
        return opens, datetime.combine(end_day, self.end, tzinfo=self.tz).astimezone(UTC)

    def latest(self, now: datetime) -> datetime | None:
        """The last round due at or before `now` (None: none in the last two days)."""
        found: datetime | None = None
        every = timedelta(seconds=self.every_s)
        for opens, closes in self._windows(now):
            if opens > now:
                continue
            last = min(now, closes - timedelta(microseconds=1))
            slot = opens + every * ((last - opens) // every)
            found = slot if found is None or slot > found else found
        return found

    def following(self, now: datetime) -> datetime | None:
        """The first round due after `now` (None: none in the next two days)."""
        every = timedelta(seconds=self.every_s)
        for opens, closes in self._windows(now):
            slot = opens if opens > now else opens + every * ((now - opens) // every + 1)
            if slot < closes and slot > now:
                return slot
        return None


@dataclass(frozen=True, slots=True)
class TourPriorities:
    """The priority of each tour alarm."""

    early: Priority = Priority.LOW
    late: Priority = Priority.MEDIUM
    missed: Priority = Priority.HIGH
    out_of_sequence: Priority = Priority.MEDIUM
    not_started: Priority = Priority.HIGH


@dataclass(frozen=True, slots=True)
class Tour:
    """A guard tour: checkpoints read in this order; started by reading the first, or on a schedule too."""

    name: str
    checkpoints: tuple[Checkpoint, ...]
    schedule: TourSchedule | None = None
    priorities: TourPriorities = field(default_factory=TourPriorities)

    @property
    def longest_s(self) -> float:
        """Seconds a round may take at most (every checkpoint at its latest)."""
        return sum(c.max_s for c in self.checkpoints)


@dataclass(frozen=True, slots=True)
class TourPlan:
    """Every tour of the site, and which tag belongs to which checkpoint."""

    tours: tuple[Tour, ...] = ()
    enabled: bool = True
    tz: tzinfo = UTC
    """The site's zone, for the times in alarm summaries."""

    def find(self, kind: TagKind, tag: str, device: str) -> tuple[Tour, int] | None:
        """The tour and checkpoint index whose tag this is, read at `device` (None: not a checkpoint here)."""
        if not self.enabled:
            return None
        for tour in self.tours:
            for index, checkpoint in enumerate(tour.checkpoints):
                if checkpoint.kind == kind and checkpoint.tag == tag:
                    return (tour, index) if checkpoint.device in (None, device) else None
        return None

    def tour(self, name: str) -> Tour | None:
        """The tour called `name` (None: not in the plan, e.g. removed since a round was recorded)."""
        return next((t for t in self.tours if t.name == name), None)


__all__ = ["Checkpoint", "TagKind", "Tour", "TourPlan", "TourPriorities", "TourSchedule"]
