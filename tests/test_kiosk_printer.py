"""The kiosk's own printer against simulated printers speaking the real protocols (TCP and a pty)."""

from __future__ import annotations

import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

import cv2
import numpy as np
import pytest

from broker.schemas import BadgePrinted, VisitorType
from devices.printers import SerialPrinterPort, TcpPrinterPort, escpos_printer, zebra
from devices.printers.badge import BROTHER_62, ESCPOS_58, Badge
from devices.printers.simulators import PtyPrinter, SimulatedEscPos, SimulatedZebra, TcpPrinter
from devices.printers.status import Condition
from devices.printers.zpl import decode_graphic
from kiosk.checkin import PrintReport
from kiosk.config import KioskPrinterConfig, parse_kiosk
from kiosk.ports import BadgeRequest, PrintResult
from kiosk.printer import KioskPrinter, NoPrinter, PrintQueue, printer_for
from tests.support import RecordingEmitter, wait_until

UNTIL = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)


def request(photo: bytes | None = None, badge: str = "0A1B2C3D4E5F6071") -> BadgeRequest:
    """A badge request as the check-in flow makes it."""
    return BadgeRequest(visit_id="V7F3A2K9QX", visitor_name="Łukasz Żółć", company="Acme Sp. z o.o.",
                        host_name="Budi Santoso", visitor_type=VisitorType.CONTRACTOR, badge=badge,
                        valid_until=UNTIL, photo=photo, language="pl")


class SilentPrinter:
    """A TCP 'printer' that accepts connections and never answers or reads a byte (a hung printer)."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._server.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, name="silent-printer", daemon=True)

    def __enter__(self) -> SilentPrinter:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._server.shutdown(socket.SHUT_RDWR)  # wakes the accept() (a close alone does not)
        self._server.close()
        self._thread.join(5)
        for connection in self.accepted:
            connection.close()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._server.accept()
            except OSError:
                return
            self.accepted.append(connection)  # held open, never read, never answered


@dataclass
class HeldPrinter:
    """A `BadgePrinter` that waits for `gate` before each print; records the order and the thread."""

    gate: threading.Event = field(default_factory=threading.Event)
    started: list[tuple[str, str]] = field(default_factory=list)
    """(visit id, thread name) of each print, as it began."""
    raising: set[str] = field(default_factory=set)

    def print(self, badge: BadgeRequest) -> PrintResult:
        self.started.append((badge.visit_id, threading.current_thread().name))
        if not self.gate.wait(10):
            raise TimeoutError("the test never opened the gate")
        if badge.visit_id in self.raising:
            raise OSError("printer port gone")
        return PrintResult(ok=True)


def qr_text(label: bytes) -> str | None:
    """The QR code printed on a ZPL label, read back from its graphic."""
    image = decode_graphic(label).convert("L")
    grey = np.asarray(image, dtype=np.uint8)
    text, points, _ = cv2.QRCodeDetector().detectAndDecode(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR))
    return str(text) if points is not None and text else None


@pytest.fixture
def zebra_sim() -> Iterator[tuple[SimulatedZebra, TcpPrinter]]:
    """A simulated Zebra on a local TCP port."""
    model = SimulatedZebra()
    with TcpPrinter(model) as server:
        yield model, server


def test_zebra_over_tcp_prints_the_visitors_badge_and_reports_it(
    zebra_sim: tuple[SimulatedZebra, TcpPrinter],
) -> None:
    model, server = zebra_sim
    events = RecordingEmitter()
    printer = KioskPrinter(TcpPrinterPort("127.0.0.1", server.port), zebra(), printer="kiosk-printer",
                           emit=events.emit)
    try:
        result = printer.print(request())
    finally:
        printer.close()
    assert result.ok, result.detail
    wait_until(lambda: len(model.labels) == 1, 10, "label at the simulated Zebra")
    expected = Badge(visitor_name="Łukasz Żółć", visit_id="V7F3A2K9QX", host="Budi Santoso",
                     company="Acme Sp. z o.o.", day=UNTIL.astimezone().date(), qr="0A1B2C3D4E5F6071")
    assert model.labels[0] == zebra().job(expected).strip()  # name, company, host, day: dot for dot
    assert qr_text(model.labels[0]) == "0A1B2C3D4E5F6071"
    assert events.of("badge.printed") == [BadgePrinted(visit_id="V7F3A2K9QX", printer="kiosk-printer",
                                                       ok=True, detail=None)]
    assert printer.last_send_s is not None
    assert 0 < printer.last_send_s < 30


def test_a_photo_is_printed_on_the_badge(zebra_sim: tuple[SimulatedZebra, TcpPrinter]) -> None:
    model, server = zebra_sim
    face = np.full((240, 180, 3), 200, np.uint8)
    cv2.circle(face, (90, 100), 60, (40, 40, 40), -1)
    ok, jpeg = cv2.imencode(".jpg", face)
    assert ok
    printer = KioskPrinter(TcpPrinterPort("127.0.0.1", server.port), zebra(), printer="kiosk-printer")
    assert printer.print(request(photo=jpeg.tobytes())).ok
    assert printer.print(request(photo=None)).ok
    printer.close()
    wait_until(lambda: len(model.labels) == 2, 10, "two labels at the simulated Zebra")
    with_photo, without = (np.asarray(decode_graphic(label).convert("L")) for label in model.labels)
    assert (with_photo < 128).sum() > (without < 128).sum() + 2000  # the photo's dark dots
    assert qr_text(model.labels[0]) == "0A1B2C3D4E5F6071"


def test_paper_out_is_said_and_nothing_is_sent(zebra_sim: tuple[SimulatedZebra, TcpPrinter]) -> None:
    model, server = zebra_sim
    model.conditions.add(Condition.PAPER_OUT)
    events = RecordingEmitter()
    printer = KioskPrinter(TcpPrinterPort("127.0.0.1", server.port), zebra(), printer="kiosk-printer",
                           emit=events.emit)
    result = printer.print(request())
    assert not result.ok
    assert result.detail == "printer not ready: paper out"
    [printed] = events.of("badge.printed")
    assert isinstance(printed, BadgePrinted)
    assert (printed.ok, printed.detail) == (False, "printer not ready: paper out")
    model.conditions.clear()  # paper loaded: the same printer object prints again
    assert printer.print(request()).ok
    printer.close()
    wait_until(lambda: len(model.labels) == 1, 10, "the one label printed after the paper came")


def test_a_printer_that_does_not_answer_its_status_is_not_ready(
    zebra_sim: tuple[SimulatedZebra, TcpPrinter],
) -> None:
    model, server = zebra_sim
    model.answering = False
    printer = KioskPrinter(TcpPrinterPort("127.0.0.1", server.port), zebra(), printer="kiosk-printer",
                           answer_timeout=0.3)
    result = printer.print(request())
    printer.close()
    assert not result.ok
    assert result.detail == "printer not ready: no answer"
    assert model.labels == []


def test_an_unreachable_printer_is_a_failed_print() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    events = RecordingEmitter()
    printer = KioskPrinter(TcpPrinterPort("127.0.0.1", port, connect_timeout=1.0), zebra(),
                           printer="kiosk-printer", emit=events.emit)
    result = printer.print(request())
    assert not result.ok
    assert result.detail is not None
    assert "cannot connect" in result.detail
    assert [type(e).__name__ for e in events.of("badge.printed")] == ["BadgePrinted"]
    assert printer.ready().ok is False


def test_escpos_printer_on_a_serial_pty() -> None:
    model = SimulatedEscPos()
    driver = escpos_printer(ESCPOS_58)
    with PtyPrinter(model) as sim:
        printer = KioskPrinter(SerialPrinterPort(sim.path), driver, printer="kiosk-printer")
        try:
            assert printer.ready().ok
            result = printer.print(request())
        finally:
            printer.close()
        assert result.ok, result.detail
        wait_until(lambda: model.cuts == 1, 10, "the receipt printer cut the badge")
    assert model.images == [(ESCPOS_58.width, ESCPOS_58.height)]


def test_escpos_paper_out_on_a_serial_pty() -> None:
    model = SimulatedEscPos()
    model.conditions.add(Condition.PAPER_OUT)
    with PtyPrinter(model) as sim:
        printer = KioskPrinter(SerialPrinterPort(sim.path), escpos_printer(), printer="kiosk-printer")
        result = printer.print(request())
        printer.close()
    assert not result.ok
    assert result.detail is not None
    assert "paper out" in result.detail
    assert model.images == []


def test_printer_from_settings() -> None:
    network = KioskPrinter.from_config(KioskPrinterConfig(driver="zpl", address="10.0.0.40"))
    assert network.port.name == "tcp://10.0.0.40:9100"
    assert network.printer == "kiosk-printer"
    assert network.driver.family == "zpl"
    serial_brother = KioskPrinter.from_config(KioskPrinterConfig(
        name="lobby-badges", driver="brother-ql", port="/dev/ttyUSB0", label="brother-62mm"))
    assert serial_brother.port.name == "/dev/ttyUSB0"
    assert serial_brother.driver.size == BROTHER_62
    small = KioskPrinterConfig(driver="escpos", address="printer.lan:9101", label="escpos-58mm")
    assert small.driver_model().size == ESCPOS_58
    with pytest.raises(ValueError, match="either a serial"):
        KioskPrinterConfig(driver="zpl")


def test_the_printer_the_settings_ask_for(tmp_path: Path) -> None:
    none = printer_for(parse_kiosk({}, data_dir=tmp_path, environ={}))
    assert none.print(request()) == PrintResult(ok=False, detail="this kiosk has no printer")
    printer = {"driver": "zpl", "address": "10.0.0.40:9100"}
    chosen = printer_for(parse_kiosk({"kiosk": {"printer": printer}}, data_dir=tmp_path, environ={}))
    assert isinstance(chosen, KioskPrinter)
    assert chosen.port.name == "tcp://10.0.0.40:9100"
    off = {"kiosk": {"printer": {**printer, "enabled": False}}}
    assert isinstance(printer_for(parse_kiosk(off, data_dir=tmp_path, environ={})), NoPrinter)


def visit(visit_id: str) -> BadgeRequest:
    """A badge request for `visit_id`."""
    return BadgeRequest(visit_id=visit_id, visitor_name="Ada Lovelace", company=None,
                        host_name="Grace Hopper", visitor_type=VisitorType.GUEST, badge="0A1B2C3D4E5F6071",
                        valid_until=UNTIL, photo=None, language="en")


def test_a_hung_printer_never_holds_up_the_caller_and_its_failure_is_reported_later() -> None:
    events = RecordingEmitter()
    reports: queue.SimpleQueue[PrintReport] = queue.SimpleQueue()
    with SilentPrinter() as silent:
        printer = KioskPrinter(TcpPrinterPort("127.0.0.1", silent.port), zebra(), printer="kiosk-printer",
                               emit=events.emit, answer_timeout=2.0)
        jobs = PrintQueue(printer)
        started = time.perf_counter()
        jobs.submit(request(), reports.put)
        assert time.perf_counter() - started < 1.0  # the printer takes 2 s to be found silent
        assert reports.empty()
        wait_until(lambda: not reports.empty(), 15, "the silent printer's report")
        report = reports.get()
        assert jobs.stop()
        printer.close()
        assert silent.accepted  # it did connect: the printer hung, it was not missing
    assert report.visit_id == "V7F3A2K9QX"
    assert report.result == PrintResult(ok=False, detail="printer not ready: no answer")
    assert report.sent_at <= time.monotonic()
    assert events.of("badge.printed") == [BadgePrinted(visit_id="V7F3A2K9QX", printer="kiosk-printer",
                                                       ok=False, detail="printer not ready: no answer")]


def test_badges_queue_behind_the_one_printing_and_print_in_order_on_one_worker() -> None:
    printer = HeldPrinter(raising={"v-2"})
    handed: queue.SimpleQueue[Callable[[], object]] = queue.SimpleQueue()
    reports: list[PrintReport] = []
    ticks = iter(range(100))
    jobs = PrintQueue(printer, deliver=handed.put, clock=lambda: float(next(ticks)), name="badge-worker")
    for visit_id in ("v-1", "v-2", "v-3"):
        jobs.submit(visit(visit_id), reports.append)
    wait_until(lambda: len(printer.started) == 1, 10, "the first print to begin")
    assert printer.started == [("v-1", "badge-worker")]  # the others wait behind it: one printer
    printer.gate.set()
    wait_until(lambda: len(printer.started) == 3, 10, "every print to begin")
    assert printer.started == [("v-1", "badge-worker"), ("v-2", "badge-worker"), ("v-3", "badge-worker")]
    wait_until(lambda: handed.qsize() == 3, 10, "three reports handed over")
    assert reports == []  # nothing is reported on the worker's thread: only through `deliver`
    while not handed.empty():
        handed.get()()  # as the UI thread runs what the worker handed over
    assert jobs.stop()
    assert reports == [
        PrintReport("v-1", PrintResult(ok=True), 0.0),
        PrintReport("v-2", PrintResult(ok=False, detail="printer port gone"), 1.0),  # raised: a failure
        PrintReport("v-3", PrintResult(ok=True), 2.0),  # the worker went on after it
    ]


def test_a_stopped_queue_finishes_what_it_holds_and_takes_no_more() -> None:
    printer = HeldPrinter()
    printer.gate.set()
    reports: list[PrintReport] = []
    jobs = PrintQueue(printer)
    assert PrintQueue(printer).stop()  # never used: no worker to wait for
    jobs.submit(visit("v-1"), reports.append)
    jobs.submit(visit("v-2"), reports.append)
    assert jobs.stop()
    assert [r.visit_id for r in reports] == ["v-1", "v-2"]
    with pytest.raises(RuntimeError, match="stopped"):
        jobs.submit(visit("v-3"), reports.append)
