"""A thin serial transport: open a pyserial URL, feed a decoder from a thread, reconnect.

Any URL `serial.serial_for_url` understands works: a device path (`/dev/ttyUSB0`, a pty),
`loop://` and `socket://host:port`. All protocol knowledge stays in the decoder.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import serial

from devices.framing import Decoder

log = logging.getLogger(__name__)

ReadingT = TypeVar("ReadingT")


class PortError(OSError):
    """A serial port that cannot be opened or used; the text names the port and the reason."""


class PortConfigError(PortError):
    """A port URL or setting that can never work (unknown scheme, bad baud rate): no retry."""


def open_port(url: str, *, baudrate: int = 9600, timeout: float = 0.1) -> serial.Serial:
    """Open `url` with pyserial; raise PortError with a one-line reason instead of a traceback."""
    try:
        return serial.serial_for_url(url, baudrate=baudrate, timeout=timeout, exclusive=True)
    except ValueError as exc:  # unknown URL scheme, impossible settings: no retry will help
        raise PortConfigError(f"serial port {url} is not usable: {exc}") from None
    except (serial.SerialException, OSError) as exc:
        raise PortError(f"cannot open serial port {url}: {_reason(exc)}") from None


@dataclass(slots=True)
class Backoff:
    """Exponential reconnect delays: `initial`, doubled each failure, capped at `maximum`."""

    initial: float = 0.5
    maximum: float = 30.0
    factor: float = 2.0
    _next: float = 0.0

    def __post_init__(self) -> None:
        """Check the settings and start at `initial`."""
        if not 0 < self.initial <= self.maximum or self.factor < 1:
            raise ValueError("backoff needs 0 < initial <= maximum and factor >= 1")
        self._next = self.initial

    def next_delay(self) -> float:
        """The delay to wait before the next attempt; grows until `maximum`."""
        delay = self._next
        self._next = min(self.maximum, self._next * self.factor)
        return delay

    def reset(self) -> None:
        """Start again from `initial` (after a successful connection)."""
        self._next = self.initial


class SerialTransport(Generic[ReadingT]):
    """Read a serial port in a thread, feed `decoder`, and pass each reading to `on_reading`.

    The port is opened in `start()`. If it is missing, or disappears later, the thread keeps
    retrying with `backoff`; it logs one warning when the port is lost (or cannot be opened)
    and one info line when it is back, never a traceback. `on_reading` and
    `on_connection(connected)` run on the reader thread.
    """

    def __init__(
        self,
        url: str,
        decoder: Decoder[ReadingT],
        on_reading: Callable[[ReadingT], object],
        *,
        baudrate: int = 9600,
        read_timeout: float = 0.1,
        backoff: Backoff | None = None,
        on_connection: Callable[[bool], None] | None = None,
    ) -> None:
        """Prepare the transport; nothing is opened until `start()`."""
        if not url:
            raise ValueError("serial port URL must not be empty")
        if read_timeout <= 0:
            raise ValueError(f"read_timeout must be > 0 seconds, got {read_timeout!r}")
        self.url = url
        self.decoder = decoder
        self._on_reading = on_reading
        self._on_connection = on_connection
        self._baudrate = baudrate
        self._read_timeout = read_timeout
        self._backoff = backoff or Backoff()
        self._port: serial.Serial | None = None
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._thread: threading.Thread | None = None
        self._lost = False  # a warning is out and no "back" line has followed yet

    @property
    def connected(self) -> bool:
        """True while the port is open."""
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        """Block until the port is open or `timeout` seconds passed; True if it is open."""
        return self._connected.wait(timeout)

    def start(self, *, require_port: bool = False) -> None:
        """Open the port and start the reader thread.

        A URL that can never work raises PortConfigError. A port that is merely absent raises
        PortError when `require_port` is set; otherwise it is logged once and retried in the
        background.
        """
        if self._thread is not None:
            raise RuntimeError(f"transport for {self.url} already started")
        try:
            self._open()
        except PortError as exc:
            if require_port or isinstance(exc, PortConfigError):
                raise
            self._mark_lost(str(exc))
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"serial:{self.url}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the reader thread and close the port; safe to call twice."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                log.warning("reader thread of %s did not stop within %.1f s", self.url, timeout)
        self._close()

    def write(self, data: bytes) -> None:
        """Send bytes to the device (commands, acknowledgements); PortError if not open."""
        port = self._port
        if port is None:
            raise PortError(f"serial port {self.url} is not open")
        try:
            port.write(data)
        except (serial.SerialException, OSError) as exc:
            raise PortError(f"cannot write to serial port {self.url}: {_reason(exc)}") from None

    def _run(self) -> None:
        """Reader thread: read, decode, dispatch; reopen with backoff when the port is gone."""
        while not self._stop.is_set():
            port = self._port
            if port is None:
                self._reopen()
                continue
            try:
                data = port.read(max(1, port.in_waiting))
            except (serial.SerialException, OSError) as exc:
                self._close()
                self._mark_lost(f"serial port {self.url} lost: {_reason(exc)}")
                continue
            if data:
                self._dispatch(data)

    def _reopen(self) -> None:
        """Wait out the backoff delay, then try to open the port once."""
        if self._stop.wait(self._backoff.next_delay()):
            return
        try:
            self._open()
        except PortError as exc:
            self._mark_lost(str(exc))

    def _open(self) -> None:
        """Open the port, reset the decoder's partial frame and report the connection."""
        self._port = open_port(self.url, baudrate=self._baudrate, timeout=self._read_timeout)
        self.decoder.reset()
        self._backoff.reset()
        self._connected.set()
        if self._lost:
            self._lost = False
            log.info("serial port %s is back", self.url)
        self._notify(connected=True)

    def _close(self) -> None:
        """Close the port if open, ignoring errors of a port that is already gone."""
        port, self._port = self._port, None
        if port is not None:
            try:
                port.close()
            except (serial.SerialException, OSError) as exc:
                log.debug("closing %s failed: %s", self.url, exc)
        if self._connected.is_set():
            self._connected.clear()
            self._notify(connected=False)

    def _mark_lost(self, message: str) -> None:
        """Log the first failure after a good spell; later failures only at debug level."""
        if self._lost:
            log.debug("%s", message)
            return
        self._lost = True
        log.warning("%s; retrying in the background", message)

    def _dispatch(self, data: bytes) -> None:
        """Decode `data` and hand each reading to the callback; a failing callback is logged."""
        for reading in self.decoder.feed(data):
            try:
                self._on_reading(reading)
            except Exception:
                log.exception("handling a reading from %s failed", self.url)

    def _notify(self, *, connected: bool) -> None:
        """Tell `on_connection` about a change, logging (not raising) its failure."""
        if self._on_connection is None:
            return
        try:
            self._on_connection(connected)
        except Exception:
            log.exception("connection callback of %s failed", self.url)


_OPEN_PREFIX = re.compile(r"^(\[Errno -?\d+\] )?could not open port \S+: ", re.IGNORECASE)


def _reason(exc: BaseException) -> str:
    """The one-line reason pyserial gave, without its 'could not open port X:' preamble."""
    text = (str(exc).strip() or type(exc).__name__).splitlines()[0]
    return _OPEN_PREFIX.sub("", text)
