"""The kiosk's own QR scanner on a serial port: each code read goes to a callback.

The scanner's line decoder (`devices.scanner`) and the reconnecting serial transport
(`devices.serial_port`) do the work; this adds the kiosk's debouncing (a code held under the
scanner is one scan) and a log of what it refuses: only well-formed codes reach the callback
(`devices.scanner.refusal`); malformed lines are counted and logged with their reason, at most
once a minute, and a run of them is logged as an error once (the kiosk sends no `device.fault`:
the staff see it in the kiosk's log). The callback runs on the scanner's reader thread: a Kivy
front end moves it onto the UI thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from devices.readers.debounce import Debouncer
from devices.scanner import Health, Scan, ScannerConfig, ScannerDecoder, WatchedDecoder
from devices.serial_port import Backoff, SerialTransport
from kiosk.config import KioskScannerConfig

log = logging.getLogger(__name__)


class KioskScanner:
    """A serial QR scanner that hands each new code to `on_code` (on its reader thread)."""

    def __init__(
        self,
        url: str,
        on_code: Callable[[str], object],
        *,
        config: ScannerConfig | None = None,
        baudrate: int = 9600,
        hold_s: float = 1.0,
        backoff: Backoff | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Prepare; nothing is opened until `start()`."""
        self._on_code = on_code
        self._debouncer: Debouncer[str] = Debouncer(hold_s)
        self._lock = threading.Lock()
        self._clock = clock
        self.scans = 0
        """Codes handed to the callback so far."""
        self.decoder = WatchedDecoder(ScannerDecoder(config), self._health, clock)
        self.transport = SerialTransport(url, self.decoder, self._scanned, baudrate=baudrate, backoff=backoff)

    @classmethod
    def from_config(cls, config: KioskScannerConfig, on_code: Callable[[str], object]) -> KioskScanner:
        """The scanner the `[kiosk.scanner]` settings describe."""
        scan = ScannerConfig(config.terminator, config.max_length, config.aim_ids)
        return cls(config.port, on_code, config=scan, baudrate=config.baudrate, hold_s=config.hold_s)

    @property
    def connected(self) -> bool:
        """True while the scanner's port is open."""
        return self.transport.connected

    def start(self) -> None:
        """Open the port and read in a thread; a missing scanner is retried in the background."""
        self.transport.start()

    def stop(self) -> None:
        """Stop reading and close the port; safe to call twice."""
        self.transport.stop()

    def _scanned(self, scan: Scan) -> None:
        """One decoded line: pass it on unless it repeats a code still under the scanner."""
        with self._lock:
            if not self._debouncer.accept(scan.code, self._clock()):
                log.debug("repeat of a code within %.1f s ignored", self._debouncer.hold_s)
                return
            self.scans += 1
        log.info("code scanned (%d characters, %s)", len(scan.code), scan.symbology or "unknown symbology")
        self._on_code(scan.code)

    def _health(self, said: list[Health]) -> None:
        """Log malformed lines (with their reason, never their bytes); on the reader thread."""
        why = self.decoder.inner.last_refusal or "malformed"
        url = self.transport.url
        for what in said:
            if what is Health.LOG:
                log.warning("kiosk scanner %s: %d malformed line(s) ignored (last: %s)", url,
                            self.decoder.watch.logged(), why)
            elif what is Health.FAULT:
                log.error("kiosk scanner %s sends only malformed lines (last: %s); check its baud rate and "
                          "terminator", url, why)
            else:
                log.info("kiosk scanner %s reads well-formed codes again", url)
