"""The barcode/QR scanner agent: a serial scanner emitting `code.scanned` events.

Only well-formed codes are published (`devices.scanner.refusal`). A malformed line is dropped
and counted; the first one is logged with its reason (never its bytes), later ones in one line
at most once a minute. `devices.scanner.FAULT_AFTER` malformed lines in a row (no good code
between them) make one `device.fault` ("other", naming the scanner and the reason): a scanner
set to the wrong baud rate or terminator, a failing one, or someone typing into its port. The
next good code clears it.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Unpack

from broker.schemas import CodeScanned, DeviceFault
from devices.agent import Emitter, ReaderAgent, SerialOptions
from devices.scanner import Health, Scan, ScannerConfig, ScannerDecoder, WatchedDecoder

log = logging.getLogger(__name__)
DEFAULT_HOLD_S = 1.0
_NAME = re.compile(r"[a-z0-9-]{1,64}")


class ScannerAgent(ReaderAgent[Scan]):
    """Emit one `code.scanned` per code read by the scanner `scanner` on `port_url`.

    The same code (and symbology) read again within `hold_s` is one scan: a scanner in
    presentation mode re-reads a code held under it. `hold_s=0` passes every read.
    """

    def __init__(
        self,
        port_url: str,
        emitter: Emitter,
        scanner: str,
        *,
        config: ScannerConfig | None = None,
        hold_s: float = DEFAULT_HOLD_S,
        **options: Unpack[SerialOptions],
    ) -> None:
        """Check the scanner's name (a device name, e.g. 'kiosk-scanner') and wire the layers."""
        if not isinstance(scanner, str) or not _NAME.fullmatch(scanner):
            raise ValueError(f"scanner must be a name like 'kiosk-scanner' ([a-z0-9-]), got {scanner!r}")
        self.scanner = scanner
        clock = options.get("clock", time.monotonic)
        self.decoder = WatchedDecoder(ScannerDecoder(config), self._health, clock)
        super().__init__(
            port_url, emitter, self.decoder, self.to_code_scanned,
            event_type="code.scanned", hold_s=hold_s, **options,
        )

    def to_code_scanned(self, scan: Scan) -> CodeScanned:
        """The `code.scanned` data for one scan at this scanner."""
        return CodeScanned(code=scan.code, symbology=scan.symbology, scanner=self.scanner)

    def _health(self, said: list[Health]) -> None:
        """Log malformed lines and report (or clear) the scanner's fault; runs on the reader thread."""
        why = self.decoder.inner.last_refusal or "malformed"
        for what in said:
            if what is Health.LOG:
                log.warning("scanner %s: %d malformed line(s) dropped, not published (last: %s)",
                            self.scanner, self.decoder.watch.logged(), why)
            elif what is Health.FAULT:
                log.error("scanner %s: %d malformed lines in a row (last: %s); check its baud rate and "
                          "terminator", self.scanner, self.decoder.inner.malformed_run, why)
                self._fault(f"scanner {self.scanner}: malformed lines in a row ({why})", cleared=False)
            else:
                log.info("scanner %s reads well-formed codes again", self.scanner)
                self._fault(f"scanner {self.scanner} reads well-formed codes again", cleared=True)

    def _fault(self, detail: str, *, cleared: bool) -> None:
        try:
            fault = DeviceFault(fault="other", detail=detail[:200], cleared=cleared)
            self._emitter.emit("device.fault", fault)
        except Exception:
            log.exception("scanner %s: its device.fault could not be recorded", self.scanner)
