"""A simulated serial barcode/QR scanner on a pty pair, for the demo and the tests."""

from __future__ import annotations

from pathlib import Path

from devices.scanner import ScannerConfig, encode_scan
from devices.simulator import VirtualSerialPort


class SimulatedScanner(VirtualSerialPort):
    """A scanner set up as `config`: `scan()` a code and it sends one line."""

    def __init__(self, config: ScannerConfig | None = None, *, link: Path | None = None) -> None:
        """A scanner on a fresh pty (and optional `link`), sending lines as `config` says."""
        super().__init__(link=link)
        self.config = config or ScannerConfig()

    def scan(self, code: str, *, aim_id: str | None = None, noise: bytes = b"") -> bytes:
        """Send the line for `code` (with an AIM id such as ']Q1' first), after `noise`."""
        data = noise + encode_scan(code, self.config, aim_id=aim_id)
        self.write(data)
        return data
