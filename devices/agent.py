"""A generic reader agent: transport -> decoder -> debouncer -> one event per presentation."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable
from typing import Generic, Protocol, TypedDict, TypeVar

from broker.events import Event
from broker.schemas import Data
from devices.framing import Decoder, DecoderStats
from devices.readers.debounce import Debouncer
from devices.serial_port import Backoff, SerialTransport

log = logging.getLogger(__name__)

ReadingT = TypeVar("ReadingT", bound=Hashable)


class Emitter(Protocol):
    """Where an agent's events go; `broker.bus.EventSource` satisfies it as it is."""

    def emit(self, event_type: str, data: Data) -> Event:
        """Store `data` as an event of `event_type` durably, publish it, and return it."""
        ...


class SerialOptions(TypedDict, total=False):
    """The optional serial and timing settings every reader agent passes on to `ReaderAgent`."""

    baudrate: int
    backoff: Backoff | None
    on_connection: Callable[[bool], None] | None
    clock: Callable[[], float]


class ReaderAgent(Generic[ReadingT]):
    """Emit one `event_type` event per presentation read by a device on a serial port.

    Readings are debounced on their own value (equal readings are one presentation until
    absent for `hold_s`), turned into event data by `to_data`, and emitted. If `emit` raises,
    the presentation is not counted, so the reader's next repeat of it tries again. `emit`
    runs on the transport's reader thread: the emitter must be safe to call from there.
    """

    def __init__(
        self,
        port_url: str,
        emitter: Emitter,
        decoder: Decoder[ReadingT],
        to_data: Callable[[ReadingT], Data],
        *,
        event_type: str,
        hold_s: float,
        baudrate: int = 9600,
        backoff: Backoff | None = None,
        on_connection: Callable[[bool], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Wire the layers; nothing is opened until `start()`."""
        self._emitter = emitter
        self._to_data = to_data
        self._event_type = event_type
        self._clock = clock
        self._debouncer: Debouncer[ReadingT] = Debouncer(hold_s)
        self._emit_failing = False
        self.transport = SerialTransport(
            port_url,
            decoder,
            self.on_reading,
            baudrate=baudrate,
            backoff=backoff,
            on_connection=on_connection,
        )

    @property
    def stats(self) -> DecoderStats:
        """The decoder's counters: good frames, bad checksums, malformed frames, noise."""
        return self.transport.decoder.stats

    @property
    def connected(self) -> bool:
        """True while the serial port is open."""
        return self.transport.connected

    def wait_connected(self, timeout: float) -> bool:
        """Block until the port is open or `timeout` seconds passed; True if it is open."""
        return self.transport.wait_connected(timeout)

    def start(self, *, require_port: bool = False) -> None:
        """Open the port and start reading (see `SerialTransport.start`)."""
        self.transport.start(require_port=require_port)

    def stop(self) -> None:
        """Stop reading and close the port."""
        self.transport.stop()

    def on_reading(self, reading: ReadingT) -> Event | None:
        """Debounce one decoded reading; emit and return the event if it is a new presentation."""
        if not self._debouncer.accept(reading, self._clock()):
            log.debug("repeat of %s on %s suppressed", reading, self.transport.url)
            return None
        try:
            event = self._emitter.emit(self._event_type, self._to_data(reading))
        except Exception as exc:
            self._debouncer.forget(reading)  # not stored: let the reader's next repeat retry
            if not self._emit_failing:
                log.warning("%s: cannot record %s (%s); retrying on the next read",
                            self.transport.url, reading, exc)
            self._emit_failing = True
            return None
        if self._emit_failing:
            self._emit_failing = False
            log.info("%s: recording reads again", self.transport.url)
        log.debug("%s emitted as %s seq %d", reading, event.type, event.seq)
        return event
