"""The kiosk's serial QR scanner over a pty, against the simulated scanner."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from devices.lines import Terminator
from devices.scanner import ScannerConfig
from devices.serial_port import Backoff
from devices.sim_scanner import SimulatedScanner
from kiosk.config import KioskScannerConfig
from kiosk.scanner import KioskScanner
from tests.support import wait_until


class Codes:
    """Collects the codes a scanner hands over, with the thread each came on."""

    def __init__(self) -> None:
        """Nothing received yet."""
        self.codes: list[str] = []
        self.threads: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, code: str) -> None:
        """Take one code."""
        with self._lock:
            self.codes.append(code)
            self.threads.add(threading.current_thread().name)


def test_codes_arrive_in_order_on_the_scanner_thread() -> None:
    got = Codes()
    with SimulatedScanner() as sim:
        scanner = KioskScanner(sim.path, got)
        scanner.start()
        try:
            assert scanner.transport.wait_connected(5)
            assert scanner.connected
            sim.scan("GH1:V7F3A2K9QX:abcdefgh12345678", aim_id="]Q1")
            sim.scan("0A1B2C3D4E5F6071", noise=b"\x00\xff\r")
            sim.scan("https://example.com/ü")
            wait_until(lambda: len(got.codes) == 3, 10, "three codes delivered")
        finally:
            scanner.stop()
    assert got.codes == ["GH1:V7F3A2K9QX:abcdefgh12345678", "0A1B2C3D4E5F6071", "https://example.com/ü"]
    assert got.threads == {f"serial:{sim.path}"}
    assert threading.current_thread().name not in got.threads
    assert scanner.scans == 3


def test_garbage_never_reaches_the_kiosk_and_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    got = Codes()
    caplog.set_level("WARNING", logger="kiosk.scanner")
    with SimulatedScanner() as sim:
        scanner = KioskScanner(sim.path, got)
        scanner.start()
        try:
            assert scanner.transport.wait_connected(5)
            sim.write(b"  \r\xff\xfe\r~~~ \r" + "A\ufffd".encode() + b"\r\x1d\r\x00x\r")
            wait_until(lambda: scanner.decoder.stats.bad_frames == 6, 10, "the garbage read")
            sim.scan("0A1B2C3D4E5F6071")
            wait_until(lambda: len(got.codes) == 1, 10, "the good code delivered")
        finally:
            scanner.stop()
    assert got.codes == ["0A1B2C3D4E5F6071"]
    assert [r.levelname for r in caplog.records] == ["WARNING", "ERROR"]
    assert "malformed line(s) ignored" in caplog.records[0].getMessage()


def test_a_code_held_under_the_scanner_is_one_scan() -> None:
    got = Codes()
    now = [100.0]
    with SimulatedScanner() as sim:
        scanner = KioskScanner(sim.path, got, hold_s=2.0, clock=lambda: now[0])
        scanner.start()
        try:
            assert scanner.transport.wait_connected(5)
            for _ in range(3):
                sim.scan("0A1B2C3D4E5F6071")
            sim.scan("FFFF0000FFFF0000")  # another code passes at once
            wait_until(lambda: scanner.transport.decoder.stats.frames == 4, 10, "four lines read")
            now[0] += 2.5  # taken away and shown again later
            sim.scan("0A1B2C3D4E5F6071")
            wait_until(lambda: len(got.codes) == 3, 10, "the code read again after the hold")
        finally:
            scanner.stop()
    assert got.codes == ["0A1B2C3D4E5F6071", "FFFF0000FFFF0000", "0A1B2C3D4E5F6071"]


def test_scanner_from_settings_with_its_terminator() -> None:
    got = Codes()
    with SimulatedScanner(ScannerConfig(terminator=Terminator.LF, aim_ids=False)) as sim:
        config = KioskScannerConfig(port=sim.path, terminator=Terminator.LF, aim_ids=False)
        scanner = KioskScanner.from_config(config, got)
        scanner.start()
        try:
            assert scanner.transport.wait_connected(5)
            sim.scan("]Q1 kept verbatim")
            wait_until(lambda: got.codes == ["]Q1 kept verbatim"], 10, "code with its LF terminator")
        finally:
            scanner.stop()


def test_a_missing_scanner_does_not_stop_the_kiosk_and_is_found_when_plugged(tmp_path: Path) -> None:
    got = Codes()
    link = tmp_path / "scanner"
    scanner = KioskScanner(str(link), got, backoff=Backoff(initial=0.05, maximum=0.1))
    scanner.start()
    try:
        assert not scanner.connected
        with SimulatedScanner(link=link) as sim:
            assert scanner.transport.wait_connected(10)
            sim.scan("0A1B2C3D4E5F6071")
            wait_until(lambda: got.codes == ["0A1B2C3D4E5F6071"], 10, "code from the scanner plugged in late")
    finally:
        scanner.stop()
