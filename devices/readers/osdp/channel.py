"""Bytes between libosdp and a port: a pyserial channel adapter, and the one refresh loop."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

import serial

from devices.serial_port import PortError, open_port

log = logging.getLogger(__name__)


class RawPort(Protocol):
    """The part of `serial.Serial` the channel uses."""

    def read(self, size: int = 1) -> bytes:
        """Up to `size` bytes; with timeout 0 it returns at once."""
        ...

    def write(self, data: bytes, /) -> int | None:
        """Send `data`; the number of bytes written."""
        ...

    def reset_input_buffer(self) -> None:
        """Drop bytes received and not yet read."""
        ...

    def close(self) -> None:
        """Close the port."""
        ...


class SerialChannel:
    """libosdp's channel (`read`, `write`, `flush`, `id`) over a pyserial URL, non-blocking.

    libosdp calls it from inside `refresh()`, where an exception must never escape: errors are
    logged once, the port is closed and reopened at most every `reopen_s` seconds, and libosdp
    meanwhile sees silence (so its PDs go offline and come back on their own).
    """

    def __init__(
        self, url: str, *, baudrate: int = 115200, reopen_s: float = 1.0, channel_id: int = 0
    ) -> None:
        """Remember where the port is; nothing is opened until `open()`."""
        if not url:
            raise ValueError("OSDP serial port URL must not be empty")
        self.url = url
        self.id = channel_id
        self._baudrate = baudrate
        self._reopen_s = reopen_s
        self._port: RawPort | None = None
        self._next_open = 0.0
        self._failed = False

    @property
    def is_open(self) -> bool:
        """True while the port is open."""
        return self._port is not None

    def open(self) -> None:
        """Open the port now; PortError (naming it) if it cannot be opened."""
        self._port = open_port(self.url, baudrate=self._baudrate, timeout=0)
        self._failed = False

    def close(self) -> None:
        """Close the port if open; safe to call twice."""
        port, self._port = self._port, None
        if port is not None:
            try:
                port.close()
            except (serial.SerialException, OSError) as exc:
                log.debug("closing %s failed: %s", self.url, exc)

    def read(self, max_bytes: int) -> bytes:
        """Up to `max_bytes` bytes already received, b'' if none or if the port is down."""
        port = self._usable()
        if port is None:
            return b""
        try:
            return bytes(port.read(max_bytes))
        except (serial.SerialException, OSError) as exc:
            self._lost(exc)
            return b""

    def write(self, buf: bytes) -> int:
        """Send `buf`; the count written, or -1 if the port is down."""
        port = self._usable()
        if port is None:
            return -1
        try:
            written = port.write(buf)
        except (serial.SerialException, OSError) as exc:
            self._lost(exc)
            return -1
        return len(buf) if written is None else written

    def flush(self) -> None:
        """Drop received bytes not yet read (libosdp calls this to resynchronise)."""
        port = self._port
        if port is not None:
            try:
                port.reset_input_buffer()
            except (serial.SerialException, OSError) as exc:
                self._lost(exc)

    def _usable(self) -> RawPort | None:
        """The open port, reopening a lost one when its retry time has come."""
        if self._port is None and time.monotonic() >= self._next_open:
            try:
                self.open()
            except PortError as exc:
                self._next_open = time.monotonic() + self._reopen_s
                if not self._failed:
                    self._failed = True
                    log.warning("%s; retrying every %.1f s", exc, self._reopen_s)
                return None
            log.info("OSDP serial port %s is back", self.url)
        return self._port

    def _lost(self, exc: BaseException) -> None:
        """Close a port that failed and log it once until it works again."""
        self.close()
        self._next_open = time.monotonic() + self._reopen_s
        if not self._failed:
            self._failed = True
            log.warning("OSDP serial port %s lost: %s", self.url, exc)


class RefreshLoop:
    """One thread calling `step()` every `period_s` (libosdp needs a refresh every 50 ms at most).

    A failing step is logged (with its traceback the first time in a row) and the loop goes on;
    `stop()` ends the thread after its current step.
    """

    def __init__(self, step: Callable[[], None], *, name: str, period_s: float = 0.02) -> None:
        """Prepare the loop; the thread starts in `start()`."""
        if not 0 < period_s <= 0.05:
            raise ValueError(f"period_s must be in (0, 0.05] seconds, got {period_s!r}")
        self._step = step
        self._name = name
        self._period_s = period_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """True while the thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the thread; RuntimeError if it already runs."""
        if self._thread is not None:
            raise RuntimeError(f"refresh loop {self._name} already started")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the thread and wait for it; safe to call twice, or from inside a step."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                log.warning("refresh loop %s did not stop within %.1f s", self._name, timeout)

    def _run(self) -> None:
        """Call the step at a steady pace until stopped."""
        failing = False
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self._step()
            except Exception:
                if failing:
                    log.debug("refresh step of %s failed again", self._name, exc_info=True)
                else:
                    log.exception("refresh step of %s failed", self._name)
                failing = True
            else:
                failing = False
            self._stop.wait(max(0.0, self._period_s - (time.monotonic() - started)))
