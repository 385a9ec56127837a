"""Wiegand and scanner agents over real pty pairs, and end to end into the central log."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from broker import topics
from broker.config import MqttUrl
from broker.schemas import BadgeRead, CodeScanned, DeviceFault
from devices.lines import Terminator
from devices.readers.badge_agent import WiegandReaderAgent
from devices.readers.sim_wiegand import SimulatedWiegandConverter
from devices.readers.wiegand import RAW_HEX, WIE232_HEX, WiegandCard, WiegandLineFormat
from devices.scanner import ScannerConfig
from devices.scanner_agent import ScannerAgent
from devices.sim_scanner import SimulatedScanner
from security.storage import open_store
from tests.support import RecordingEmitter, event_source, running_service, unique_site, wait_until


@pytest.fixture
def emitter() -> RecordingEmitter:
    """A fresh recording emitter."""
    return RecordingEmitter("lobby", "device-1")


@pytest.fixture
def stoppers() -> Iterator[list[Callable[[], None]]]:
    """Things to stop after the test, even when it fails."""
    stops: list[Callable[[], None]] = []
    yield stops
    for stop in reversed(stops):
        stop()


def badge(facility: int, card: int, reader: int = 3) -> tuple[str, BadgeRead]:
    """The emit call expected for one Wiegand presentation."""
    credential = WiegandCard(facility, card).credential
    return ("badge.read", BadgeRead(credential=credential, reader=reader, format="wiegand26",
                                    facility=facility))


def scanned(code: str, symbology: str | None = None) -> tuple[str, CodeScanned]:
    """The emit call expected for one scan at the lobby scanner."""
    return ("code.scanned", CodeScanned(code=code, symbology=symbology, scanner="lobby-scanner"))


@pytest.mark.parametrize(
    "line_format", [WiegandLineFormat(), RAW_HEX, WIE232_HEX], ids=["bits-crlf", "hex26-crlf", "hex24-cr"]
)
def test_wiegand_agent_over_a_pty(
    line_format: WiegandLineFormat, emitter: RecordingEmitter, stoppers: list[Callable[[], None]]
) -> None:
    sim = SimulatedWiegandConverter(line_format)
    stoppers.append(sim.close)
    agent = WiegandReaderAgent(sim.path, emitter, 3, line_format=line_format, hold_s=1.0)
    agent.start(require_port=True)
    stoppers.append(agent.stop)
    sim.present(18, 37848)
    sim.present(18, 37848)  # the reader repeats while the card is held: one presentation
    sim.present(1, 1, noise=b"\x00garbage" + line_format.terminator.wire)
    if line_format.encoding.has_parity:
        sim.present_bad_parity(2, 2)
    bad_parity = 1 if line_format.encoding.has_parity else 0
    assert wait_for(lambda: (agent.stats.frames, agent.stats.bad_checksum) == (3, bad_parity))
    assert emitter.calls == [badge(18, 37848), badge(1, 1)]
    assert agent.stats.bad_frames == 1
    assert emitter.calls[0][1].credential == "1293D8"  # type: ignore[attr-defined]


def test_wiegand_agent_debounces_on_its_injected_clock(emitter: RecordingEmitter) -> None:
    now = [0.0]
    agent = WiegandReaderAgent("/dev/unused", emitter, 3, hold_s=1.0, clock=lambda: now[0])
    assert agent.on_reading(WiegandCard(18, 37848)) is not None
    now[0] = 0.5
    assert agent.on_reading(WiegandCard(18, 37848)) is None
    assert agent.on_reading(WiegandCard(18, 37849)) is not None
    now[0] = 1.6
    assert agent.on_reading(WiegandCard(18, 37848)) is not None
    assert len(emitter.calls) == 3


@pytest.mark.parametrize("number", [-1, 256, 1.0])
def test_wiegand_reader_number_is_checked_up_front(number: int, emitter: RecordingEmitter) -> None:
    with pytest.raises(ValueError, match="reader_number"):
        WiegandReaderAgent("loop://", emitter, number)


def test_scanner_agent_over_a_pty(emitter: RecordingEmitter, stoppers: list[Callable[[], None]]) -> None:
    config = ScannerConfig(terminator=Terminator.CRLF, max_length=64)
    sim = SimulatedScanner(config)
    stoppers.append(sim.close)
    agent = ScannerAgent(sim.path, emitter, "lobby-scanner", config=config, hold_s=0.5)
    agent.start(require_port=True)
    stoppers.append(agent.stop)
    for part in (b"]Q1GH-V-7f3a", b"-2c91\r", b"\n"):  # one line over three reads
        sim.write(part)
        time.sleep(0.02)
    sim.scan("GH-V-7f3a-2c91", aim_id="]Q1")  # presentation mode re-read: suppressed
    sim.write(b"x" * 100 + b"\r\n" + b"\x1b[2J\r\n")  # over-long, then a control sequence
    sim.scan("4006381333931", aim_id="]E0", noise=b"\r\n")
    sim.scan("PARCEL 12")
    assert wait_for(lambda: agent.stats.frames == 4 and agent.stats.bad_frames == 2)
    assert emitter.calls == [
        scanned("GH-V-7f3a-2c91", "qr"), scanned("4006381333931", "ean-upc"), scanned("PARCEL 12")
    ]


def test_a_scanner_sending_garbage_publishes_none_of_it_and_reports_one_fault_until_a_good_code(
    emitter: RecordingEmitter, stoppers: list[Callable[[], None]], caplog: pytest.LogCaptureFixture
) -> None:
    sim = SimulatedScanner()
    stoppers.append(sim.close)
    agent = ScannerAgent(sim.path, emitter, "lobby-scanner", hold_s=0.5)
    agent.start(require_port=True)
    stoppers.append(agent.stop)
    garbage = [b"\xff\xfe\x80", b"   ", b"|9G ", "AB\ufffd".encode(), b"\x1d\x1d", b"\x00\x1b[2J", b"x" * 600]
    caplog.set_level("WARNING", logger="devices.scanner_agent")
    sim.write(b"".join(line + b"\r" for line in garbage))
    assert wait_for(lambda: agent.stats.bad_frames == len(garbage))
    assert wait_for(lambda: len(emitter.calls) == 1)
    [(kind, fault)] = emitter.calls
    assert kind == "device.fault"
    assert isinstance(fault, DeviceFault)
    assert (fault.fault, fault.cleared) == ("other", False)
    assert "lobby-scanner" in (fault.detail or "")
    assert not [c for c in emitter.calls if c[0] == "code.scanned"]
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1  # logged once, the rest counted
    assert "\\x" not in warnings[0].getMessage()  # the reason, never the bytes
    sim.scan("GH1:V-7f3a:secret", aim_id="]Q1")
    assert wait_for(lambda: len(emitter.calls) == 3)
    assert emitter.calls[1:] == [
        ("device.fault", DeviceFault(fault="other", cleared=True,
                                     detail="scanner lobby-scanner reads well-formed codes again")),
        scanned("GH1:V-7f3a:secret", "qr"),
    ]


@pytest.mark.parametrize("name", ["", "Lobby", "a/b", "x" * 65])
def test_scanner_name_is_checked_up_front(name: str, emitter: RecordingEmitter) -> None:
    with pytest.raises(ValueError, match="scanner"):
        ScannerAgent("loop://", emitter, name)


def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> bool:
    """Poll `condition` until it holds or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


@pytest.fixture(params=["embedded", pytest.param("mosquitto", marks=pytest.mark.mosquitto)])
def broker_url(request: pytest.FixtureRequest) -> MqttUrl:
    """The end-to-end test runs on the embedded broker and on Mosquitto."""
    if request.param == "mosquitto":
        url: MqttUrl = request.getfixturevalue("mosquitto_url")
        return url
    return request.getfixturevalue("embedded_broker").url  # type: ignore[no-any-return]


def test_frames_on_the_simulators_become_events_in_the_central_log(
    broker_url: MqttUrl, sqlite_url: str, tmp_path: Path, stoppers: list[Callable[[], None]]
) -> None:
    site = unique_site()
    converter = SimulatedWiegandConverter(WIE232_HEX)
    scanner = SimulatedScanner()
    stoppers += [converter.close, scanner.close]
    with running_service(broker_url, sqlite_url, site), \
            event_source(broker_url, tmp_path / "reader", site, "door-reader") as reader_source, \
            event_source(broker_url, tmp_path / "scanner", site, "kiosk-scanner") as scanner_source:
        reader = WiegandReaderAgent(converter.path, reader_source, 4, line_format=WIE232_HEX)
        kiosk = ScannerAgent(scanner.path, scanner_source, "kiosk-scanner")
        for agent in (reader, kiosk):
            agent.start(require_port=True)
            stoppers.append(agent.stop)
        converter.write(b"1293D8\r")
        scanner.write(b"]Q1GH-V-7f3a-2c91\r")
        wait_until(lambda: reader_source.outbox.watermark == 1 and scanner_source.outbox.watermark == 1,
                   20, "both events acknowledged by the central service")
        reader.stop()
        kiosk.stop()
    with open_store(sqlite_url) as store:
        stored = {e.source: e for e in store.query_events(limit=None)}
    assert set(stored) == {topics.source(site, "door-reader"), topics.source(site, "kiosk-scanner")}
    read = stored[topics.source(site, "door-reader")]
    assert (read.type, read.seq) == ("badge.read", 1)
    assert read.data == BadgeRead(credential="1293D8", reader=4, format="wiegand26", facility=18)
    scan = stored[topics.source(site, "kiosk-scanner")]
    assert (scan.type, scan.seq) == ("code.scanned", 1)
    assert scan.data == CodeScanned(code="GH-V-7f3a-2c91", symbology="qr", scanner="kiosk-scanner")
