"""The console's live feed: the bus's events, alarms and device statuses fanned out to open pages (SSE)."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

from broker import topics
from broker.bus import Bus
from broker.events import ContractError, decode
from broker.messages import AlarmStatus, Status
from broker.summaries import Severity, severity, summarize

log = logging.getLogger(__name__)

BACKLOG = 50
"""Items a page gets when it opens, before the live ones."""
QUEUE_SIZE = 256
"""Items held for one slow page; past this its oldest are dropped (it reloads its panels anyway)."""

_PANELS = {
    "visitor.checked_in": ("people", "expected"), "visitor.checked_out": ("people",),
    "visitor.invited": ("expected",), "access.granted": ("people",),
}


@dataclass(frozen=True, slots=True)
class LiveItem:
    """One line of the live feed and the Today panels it makes stale."""

    kind: str
    source: str
    type: str
    line: str
    severity: str
    at: str
    panels: tuple[str, ...]

    def sse(self) -> str:
        """The item as one server-sent event."""
        return f"event: item\ndata: {json.dumps(asdict(self), separators=(',', ':'))}\n\n"


def describe(topic: str, payload: bytes) -> LiveItem | None:
    """The feed's line for one bus message, or None for what a manager need not see (acks, commands, junk)."""
    try:
        where = topics.parse(topic)
        if where.kind == topics.Kind.EVENT:
            event = decode(payload, topic)
            return LiveItem("event", where.device, event.type, summarize(event), str(severity(event)),
                            event.time.isoformat(), _PANELS.get(event.type, ()))
        if where.kind == topics.Kind.ALARM:
            if not payload:
                return LiveItem("alarm", where.device, "alarm.cleared", f"alarm {where.device} closed",
                                str(Severity.NORMAL), "", ("alarms",))
            alarm = AlarmStatus.decode(payload)
            line = f"{alarm.priority} alarm {alarm.state}: {alarm.summary}"
            level = Severity.ALERT if alarm.state == "unacknowledged" else Severity.WARNING
            return LiveItem("alarm", alarm.id, "alarm." + alarm.state, line, str(level),
                            alarm.updated_at.isoformat(), ("alarms",))
        if where.kind == topics.Kind.STATUS:
            status = Status.decode(payload)
            level = Severity.WARNING if status.state == "offline" else Severity.NORMAL
            line = f"{where.device} {status.state}" + (f": {status.detail}" if status.detail else "")
            since = status.since.isoformat() if status.since else ""
            return LiveItem("status", where.device, "device." + status.state, line, str(level), since,
                            ("devices",))
    except (ContractError, topics.TopicError, ValueError) as exc:
        log.debug("live feed: skipped a message on %s: %s", topic, exc)
    return None


class LiveFeed:
    """Subscribes to the site's events, alarms and statuses; each open page gets every item, in order."""

    def __init__(self, site: str, backlog: int = BACKLOG, queue_size: int = QUEUE_SIZE) -> None:
        """Feed for `site`; new pages get the last `backlog` items first."""
        self.site = site
        self._recent: deque[LiveItem] = deque(maxlen=backlog)
        self._pages: dict[asyncio.Queue[LiveItem], asyncio.AbstractEventLoop] = {}
        self._queue_size = queue_size
        self._lock = threading.Lock()
        self.dropped = 0

    def attach(self, bus: Bus) -> None:
        """Subscribe on `bus` (before it starts, or at once if it runs)."""
        for topic_filter in (topics.all_events(self.site), topics.all_alarms(self.site),
                             topics.all_statuses(self.site)):
            bus.subscribe(topic_filter, self.offer)

    def offer(self, topic: str, payload: bytes) -> None:
        """Take one bus message (on the bus's thread): describe it and hand it to every open page."""
        item = describe(topic, payload)
        if item is None:
            return
        with self._lock:
            self._recent.append(item)
            pages = list(self._pages.items())
        for queue, loop in pages:
            try:
                loop.call_soon_threadsafe(self._put, queue, item)
            except RuntimeError:  # that page's loop has closed; its subscription ends with it
                continue

    def recent(self) -> list[LiveItem]:
        """The last items, oldest first."""
        with self._lock:
            return list(self._recent)

    @property
    def pages(self) -> int:
        """How many pages are listening now."""
        with self._lock:
            return len(self._pages)

    @contextmanager
    def listen(self) -> Iterator[asyncio.Queue[LiveItem]]:
        """A queue of the items to come, for a page served on the running event loop."""
        queue: asyncio.Queue[LiveItem] = asyncio.Queue(self._queue_size)
        with self._lock:
            self._pages[queue] = asyncio.get_running_loop()
        try:
            yield queue
        finally:
            with self._lock:
                self._pages.pop(queue, None)

    def _put(self, queue: asyncio.Queue[LiveItem], item: LiveItem) -> None:
        if queue.full():
            queue.get_nowait()
            self.dropped += 1
        queue.put_nowait(item)
