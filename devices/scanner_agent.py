"""The barcode/QR scanner agent: a serial scanner emitting `code.scanned` events."""

from __future__ import annotations

import re
from typing import Unpack

from broker.schemas import CodeScanned
from devices.agent import Emitter, ReaderAgent, SerialOptions
from devices.scanner import Scan, ScannerConfig, ScannerDecoder

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
        super().__init__(
            port_url, emitter, ScannerDecoder(config), self.to_code_scanned,
            event_type="code.scanned", hold_s=hold_s, **options,
        )

    def to_code_scanned(self, scan: Scan) -> CodeScanned:
        """The `code.scanned` data for one scan at this scanner."""
        return CodeScanned(code=scan.code, symbology=scan.symbology, scanner=self.scanner)
