"""An event source: every event goes to the durable outbox, then to the bus, until acknowledged."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from broker import topics
from broker.bus import Bus
from broker.events import ContractError, Event, make_event
from broker.messages import Ack
from broker.outbox import Outbox
from broker.schemas import Data

log = logging.getLogger(__name__)

RECONNECT_SETTLE = 1.0
"""Seconds to wait after a reconnection for the retained watermark before resending."""


class EventSource:
    """Publishes one device's events with nothing lost: outbox first, resend until watermarked."""

    def __init__(
        self,
        bus: Bus,
        outbox: Outbox,
        *,
        site: str,
        device: str,
        resend_after: float = 5.0,
        max_resend_after: float = 60.0,
        batch: int = 500,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Tie `outbox` to `bus` for `device`; unacknowledged events are resent after a quiet spell."""
        self.bus, self.outbox = bus, outbox
        self.site, self.device = site, device
        self._base_delay = resend_after
        self._max_delay = max_resend_after
        self._delay = resend_after
        self._batch = batch
        self._clock = clock
        self._last_progress = clock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._failing = False
        self._thread: threading.Thread | None = None
        self._offline_logged = False

    def start(self) -> None:
        """Listen for the watermark and resend what waits, on every (re)connection and after quiet."""
        self.bus.subscribe(topics.ack(self.site, self.device), self._on_ack)
        self.bus.on_connect(self._wake.set)
        self._thread = threading.Thread(
            target=self._run, name=f"resend-{self.device}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop the resend thread (the outbox keeps what is unacknowledged)."""
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=5)

    def emit(self, event_type: str, data: Data) -> Event:
        """Store the event durably, then publish it; raise OutboxError if it cannot be stored."""
        event, payload = self.outbox.append(
            lambda seq: make_event(self.site, self.device, event_type, seq, data,
                                   incarnation=self.outbox.incarnation)
        )
        if event.seq == self.outbox.watermark + 1:
            self._last_progress = self._clock()  # nothing older waits: start the quiet clock now
        if self.bus.connected:  # else the outbox holds it and the reconnection resends it
            self.bus.publish(event.topic, payload, qos=1)
        return event

    def pending(self) -> int:
        """How many events are not yet confirmed stored."""
        return self.outbox.count()

    def _on_ack(self, _topic: str, payload: bytes) -> None:
        try:
            ack = Ack.decode(payload)
        except ContractError as exc:
            log.warning("ignoring bad watermark for %s: %s", self.device, exc)
            return
        if ack.incarnation != self.outbox.incarnation:
            log.debug("%s: ignoring the watermark of incarnation %r (ours is %r)",
                      self.device, ack.incarnation, self.outbox.incarnation)
            return
        if self.outbox.acknowledge(ack.seq, ack.incarnation):
            self._last_progress = self._clock()
            self._delay = self._base_delay

    def _run(self) -> None:
        while not self._stop.is_set():
            woke = self._wake.wait(timeout=min(self._delay, 1.0))
            self._wake.clear()
            if woke:  # reconnected: let the retained watermark arrive before resending
                self._stop.wait(RECONNECT_SETTLE)
            if self._stop.is_set():
                return
            quiet = self._clock() - self._last_progress
            if woke or quiet >= self._delay:
                try:
                    self._resend(reason="reconnected" if woke else "no watermark")
                    self._failing = False
                except Exception as exc:  # keep the thread alive; the outbox keeps the events
                    if not self._failing:
                        log.exception("%s: resending failed (%s); will retry", self.device, exc)
                    self._failing = True

    def _resend(self, *, reason: str) -> None:
        """Send again what is above the watermark, a window at a time, each one waited for."""
        sent, after = 0, self.outbox.watermark
        while not self._stop.is_set() and self.bus.connected:
            rows = self.outbox.pending(limit=self._batch, after=after)
            if not rows:
                break
            last = None
            for row in rows:
                last = self.bus.publish(row.topic, row.payload, qos=1) or last
            if last is None:
                break
            try:  # flow control: never queue more than a window in paho
                last.wait_for_publish(timeout=30)
            except (RuntimeError, ValueError):  # the connection went: the next one resends
                break
            if not last.is_published():
                break
            sent += len(rows)
            after = rows[-1].seq
        if sent:
            log.info("%s: resent %d unacknowledged event(s) (%s)", self.device, sent, reason)
            self._delay = min(self._delay * 2, self._max_delay)
        self._last_progress = self._clock()
