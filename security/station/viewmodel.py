"""What the guard station shows: a bounded live event feed, the devices table, the alarm queue and
the visitor behind a watchlist alarm (pure).

No toolkit is imported here. `on_event`, `on_status` and `alarms.on_alarm` must be called from one
thread (the Kivy app moves bus callbacks onto its main thread before calling them).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, tzinfo

from broker.events import Event
from broker.messages import Status
from broker.summaries import Severity, severity, summarize
from security.station.alarms import AlarmQueue
from security.station.visits import VISITS, VisitorDetails, Visits

FEED_SIZE = 200
"""How many lines the live feed keeps by default."""


@dataclass(slots=True, frozen=True)
class FeedLine:
    """One event as the feed shows it."""

    event_id: str
    time: str
    device: str
    type: str
    summary: str
    severity: Severity

    @property
    def text(self) -> str:
        """The whole line, e.g. '08:15:02  reader-1  badge.read  credential 0A1B at reader 1'."""
        return f"{self.time}  {self.device}  {self.type}  {self.summary}"


@dataclass(slots=True, frozen=True)
class DeviceRow:
    """One device's availability as the table shows it."""

    device: str
    online: bool
    kind: str
    since: str
    detail: str = ""
    last_event: str = ""

    @property
    def state(self) -> str:
        """'online' or 'offline'."""
        return "online" if self.online else "offline"

    @property
    def text(self) -> str:
        """The whole row, e.g. 'reader-1  online since 08:00:00'."""
        detail = f" ({self.detail})" if self.detail else ""
        since = f" since {self.since}" if self.since else ""
        return f"{self.device}  {self.state}{since}{detail}"


class StationViewModel:
    """The guard station's live feed, device table, counters and alarm queue."""

    def __init__(
        self,
        *,
        feed_size: int = FEED_SIZE,
        visits: int = VISITS,
        tz: tzinfo | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """Keep the newest `feed_size` lines and `visits` visits; show times in `tz` (None: local)."""
        if feed_size < 1:
            raise ValueError(f"feed_size must be >= 1, got {feed_size}")
        self._feed: deque[FeedLine] = deque(maxlen=feed_size)
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._seen_limit = feed_size * 4
        self._devices: dict[str, DeviceRow] = {}
        self._tz = tz
        self._now = now
        self._counts = dict.fromkeys(Severity, 0)
        self.alarms = AlarmQueue(tz=tz, now=now)
        """The open alarms from the retained alarm topics (it counts its own versions)."""
        self.visits = Visits(limit=visits)
        """The newest visits seen live: who checked in, their photo, the screenings of their check-ins."""
        self.version = 0
        """Goes up by one on every change, so a screen can tell whether to redraw."""

    # what the window reads
    @property
    def feed(self) -> tuple[FeedLine, ...]:
        """The live feed, newest first."""
        return tuple(self._feed)

    @property
    def devices(self) -> tuple[DeviceRow, ...]:
        """Every device heard of, offline ones first, then by name."""
        return tuple(sorted(self._devices.values(), key=lambda r: (r.online, r.device)))

    @property
    def event_count(self) -> int:
        """Events received since start (duplicates not counted)."""
        return sum(self._counts.values())

    def count(self, level: Severity) -> int:
        """Events of one severity received since start."""
        return self._counts[level]

    @property
    def headline(self) -> str:
        """One status line, e.g. '1,234 events · 2 alerts · 1 warning · 5 of 6 devices online'."""
        online = sum(1 for row in self._devices.values() if row.online)
        alerts, warnings = self._counts[Severity.ALERT], self._counts[Severity.WARNING]
        return (
            f"{_plural(self.event_count, 'event')} · {_plural(alerts, 'alert')} · "
            f"{_plural(warnings, 'warning')} · {online} of {len(self._devices)} devices online"
        )

    def selected_visitor(self) -> VisitorDetails | None:
        """The visitor behind the selected alarm (name, match, photo), or None when it is no visitor's."""
        details = self.alarms.details()
        return self.visits.for_alarm(details.rule, details.cause) if details is not None else None

    # what the bus (through the app) calls
    def on_event(self, event: Event) -> FeedLine | None:
        """Add one event to the feed; returns its line, or None for a repeat of a known id."""
        if event.id in self._seen:
            return None
        self._seen[event.id] = None
        if len(self._seen) > self._seen_limit:
            self._seen.popitem(last=False)
        level = severity(event)
        line = FeedLine(
            event_id=event.id,
            time=self._clock_text(event.time),
            device=event.device,
            type=event.type,
            summary=summarize(event),
            severity=level,
        )
        self._feed.appendleft(line)
        self.visits.on_event(event)
        self._counts[level] += 1
        row = self._devices.get(event.device)
        if row is not None:
            self._devices[event.device] = replace(row, last_event=line.time)
        self.version += 1
        return line

    def on_status(self, device: str, status: Status) -> DeviceRow:
        """Record a device's availability; returns its new row."""
        since = status.since or self._now()
        old = self._devices.get(device)
        row = DeviceRow(
            device=device,
            online=status.state == "online",
            kind=status.kind,
            since=self._clock_text(since),
            detail=status.detail or "",
            last_event=old.last_event if old else "",
        )
        self._devices[device] = row
        self.version += 1
        return row

    def _clock_text(self, when: datetime) -> str:
        return when.astimezone(self._tz).strftime("%H:%M:%S")


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")
