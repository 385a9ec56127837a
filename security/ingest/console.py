"""The console's events, read back from the log: handed to the back office once, then published.

The CLI (`gatehouse incident ...`) writes its events straight into the log as the site's `console`
source, whether the service runs or not. The service reads them back from the last seq it handed
on, hands them to the back office in one transaction that also moves that position (the
`handed_on` table), and publishes them after the commit. The position survives restarts, so what
the console wrote while the service was stopped is handed on when it starts, and nothing twice.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from broker import topics
from broker.bus import Bus
from broker.events import encode
from security.office.incidents import CONSOLE_DEVICE
from security.office.runtime import OfficeRuntime
from security.storage import EventStore, put_handed_on
from security.storage.batch import first_line
from security.storage.records import Stream

log = logging.getLogger(__name__)


class ConsoleFeed:
    """Hands the console's stream on from where it was left (the service's writer thread only)."""

    def __init__(self, store: EventStore, site: str) -> None:
        """The console of `site`; nothing is read before `resume()`."""
        self.store = store
        self.stream: Stream = (topics.source(site, CONSOLE_DEVICE), "")
        self.mark = 0  # the last seq handed on, as committed
        self._failing = False

    @property
    def source(self) -> str:
        """The console's source, `gatehouse/{site}/console`."""
        return self.stream[0]

    def resume(self) -> None:
        """Load the last seq handed on. On the log's first start (no position kept yet) that is the
        console's newest stored seq: what it wrote before the service kept a position is history."""
        self.mark = self.store.resume_handing_on(self.stream)

    def take(self, office: OfficeRuntime | None, bus: Bus) -> None:
        """Hand the console's events above the mark to the back office in one transaction that moves the
        mark, then publish them; on a failure nothing moves and the next call tries again."""
        source, incarnation = self.stream
        try:
            events = self.store.events_above(source, self.mark, incarnation)
            if not events:
                return
            now = datetime.now(UTC)
            with self.store.transaction() as conn:
                if office is not None:
                    office.on_batch(conn, events, now)
                put_handed_on(conn, self.stream, events[-1].seq)
        except Exception as exc:
            if office is not None:
                office.rolled_back()
            if not self._failing:
                log.error("cannot hand on the console's events: %s; trying again", first_line(exc))
            self._failing = True
            return
        if self._failing:
            log.info("handing on the console's events again")
            self._failing = False
        self.mark = events[-1].seq
        for event in events:
            bus.publish(event.topic, encode(event), qos=1)
        if office is not None:
            office.published(bus, now)
