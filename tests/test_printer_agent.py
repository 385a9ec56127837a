"""The printer agent over real pty pairs and TCP: print commands, faults, availability."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

from broker import topics
from broker.events import Event
from broker.messages import Command
from broker.schemas import BadgePrinted, Data, DeviceFault
from devices.printers import (
    PrinterAgent,
    PrinterPort,
    SerialPrinterPort,
    TcpPrinterPort,
    brother_ql,
    escpos_printer,
    zebra,
)
from devices.printers.drivers import PrinterDriver
from devices.printers.simulators import (
    PrinterModel,
    PtyPrinter,
    SimulatedBrotherQl,
    SimulatedEscPos,
    SimulatedZebra,
    TcpPrinter,
)
from devices.printers.status import Condition
from tests.support import wait_until

SITE, DEVICE = "lobby", "desk-printer"
TOPIC = topics.command(SITE, DEVICE, "print")


class Recorder:
    """An Emitter that keeps (type, data) in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Data]] = []
        self._lock = threading.Lock()

    def emit(self, event_type: str, data: Data) -> Event:
        with self._lock:
            self.events.append((event_type, data))
        return None  # type: ignore[return-value]

    def printed(self) -> list[BadgePrinted]:
        return [d for t, d in list(self.events) if isinstance(d, BadgePrinted)]

    def faults(self) -> list[tuple[str, bool]]:
        return [(d.fault, d.cleared) for _t, d in list(self.events) if isinstance(d, DeviceFault)]


Running = tuple[PrinterAgent, Recorder, list[tuple[bool, str | None]]]


def command(expires_in: float = 30, cid: str | None = None, **args: object) -> bytes:
    """A print command payload."""
    args = {"visitor_name": "Ana Kowalska", "visit_id": "v-7f3a", "host": "Budi Santoso", **args}
    expires = datetime.now(UTC) + timedelta(seconds=expires_in)
    return Command(cid or uuid.uuid4().hex, "print", expires, args).encode()


@contextmanager
def running(port: PrinterPort, driver: PrinterDriver) -> Iterator[Running]:
    """A started agent on `port`, with its recorder and availability calls."""
    recorder = Recorder()
    availability: list[tuple[bool, str | None]] = []
    agent = PrinterAgent(port, recorder, printer=DEVICE, driver=driver, poll_s=0.2, answer_timeout=0.5,
                         on_availability=lambda on, why: availability.append((on, why)))
    agent.start()
    try:
        yield agent, recorder, availability
    finally:
        agent.stop()


Maker = Callable[[], PrinterDriver]
CASES = [
    pytest.param(SimulatedZebra, zebra, id="zebra"),
    pytest.param(SimulatedEscPos, escpos_printer, id="escpos"),
    pytest.param(SimulatedBrotherQl, brother_ql, id="brother-ql"),
]


def printed_count(model: PrinterModel) -> int:
    """How many badges a simulated printer printed."""
    if isinstance(model, SimulatedZebra):
        return len(model.labels)
    if isinstance(model, SimulatedEscPos):
        return model.cuts
    assert isinstance(model, SimulatedBrotherQl)
    return len(model.pages)


def exercise(agent: PrinterAgent, recorder: Recorder, availability: list[tuple[bool, str | None]],
             model: PrinterModel) -> None:
    """Print, then paper out (refused print), then paper back (cleared, prints again)."""
    wait_until(lambda: availability == [(True, None)], 15, "printer ready")
    agent.handle_command(TOPIC, command())
    wait_until(lambda: len(recorder.printed()) == 1, 10, "badge printed")
    assert recorder.printed()[0].ok
    assert printed_count(model) == 1
    model.conditions.add(Condition.PAPER_OUT)
    wait_until(lambda: ("paper_out", False) in recorder.faults(), 15, "paper out reported")
    assert availability[-1][0] is False
    assert "paper out" in (availability[-1][1] or "")
    agent.handle_command(TOPIC, command(visit_id="v-2"))
    wait_until(lambda: len(recorder.printed()) == 2, 15, "refused print reported")
    assert not recorder.printed()[1].ok
    assert "paper out" in (recorder.printed()[1].detail or "")
    model.conditions.clear()
    wait_until(lambda: ("paper_out", True) in recorder.faults(), 15, "paper back reported")
    assert availability[-1] == (True, None)
    assert printed_count(model) == 1


@pytest.mark.parametrize(("model_type", "make_driver"), CASES)
def test_agent_over_a_pty(model_type: type[PrinterModel], make_driver: Maker) -> None:
    model = model_type()
    with PtyPrinter(model) as sim, running(SerialPrinterPort(sim.path), make_driver()) as (agent, rec, av):
        exercise(agent, rec, av, model)


@pytest.mark.parametrize(("model_type", "make_driver"), CASES[:2])
def test_agent_over_tcp(model_type: type[PrinterModel], make_driver: Maker) -> None:
    model = model_type()
    with TcpPrinter(model) as sim, \
            running(TcpPrinterPort("127.0.0.1", sim.port), make_driver()) as (agent, rec, av):
        exercise(agent, rec, av, model)


def test_a_silent_printer_is_no_answer_and_offline_until_it_answers() -> None:
    model = SimulatedZebra()
    model.answering = False
    with PtyPrinter(model) as sim, running(SerialPrinterPort(sim.path), zebra()) as (_agent, rec, av):
        wait_until(lambda: ("no_answer", False) in rec.faults(), 15, "no answer reported")
        assert av == [(False, "no answer")]
        model.answering = True
        wait_until(lambda: ("no_answer", True) in rec.faults(), 15, "answer again reported")
        assert av[-1] == (True, None)
        assert rec.faults().count(("no_answer", False)) == 1


def test_a_missing_port_is_no_answer_and_a_print_fails_cleanly() -> None:
    port = SerialPrinterPort("/nonexistent/ttyPRN0")
    with running(port, zebra()) as (agent, rec, av):
        wait_until(lambda: av == [(False, "no answer")], 15, "missing port reported")
        agent.handle_command(TOPIC, command())
        wait_until(lambda: len(rec.printed()) == 1, 15, "failed print reported")
        assert not rec.printed()[0].ok


def test_a_closed_tcp_port_is_no_answer() -> None:
    with TcpPrinter(SimulatedZebra()) as sim:
        free = sim.port
    with running(TcpPrinterPort("127.0.0.1", free, connect_timeout=0.5), zebra()) as (_agent, rec, _av):
        wait_until(lambda: ("no_answer", False) in rec.faults(), 15, "refused connection reported")


def test_late_duplicate_and_malformed_commands_are_not_printed(caplog: pytest.LogCaptureFixture) -> None:
    model = SimulatedZebra()
    with PtyPrinter(model) as sim, running(SerialPrinterPort(sim.path), zebra()) as (agent, rec, av):
        wait_until(lambda: bool(av), 15, "printer polled")
        late = command(expires_in=-1)
        agent.handle_command(TOPIC, late)
        agent.handle_command(TOPIC, late)  # the same late command again: not logged twice
        agent.handle_command(TOPIC, b"{nope")
        agent.handle_command(TOPIC, command(visit_id="bad id!"))
        agent.handle_command(TOPIC, command(colour="red"))
        agent.handle_command(topics.command(SITE, DEVICE, "unlock"), command())
        dup = command(cid="c-1")
        agent.handle_command(TOPIC, dup)
        agent.handle_command(TOPIC, dup)
        wait_until(lambda: len(rec.printed()) == 1, 15, "one badge printed")
        agent.poll()  # the worker is idle again: nothing else was queued
        assert len(model.labels) == 1
    assert sum("dropped late print" in r.getMessage() for r in caplog.records) == 1


def test_photo_comes_only_from_the_photo_folder(tmp_path: Path) -> None:
    Image.new("RGB", (30, 40), (90, 90, 90)).save(tmp_path / "v-7f3a.jpg")
    agent = PrinterAgent(SerialPrinterPort("loop://"), Recorder(), printer=DEVICE, driver=zebra(),
                         photo_dir=tmp_path)
    today = datetime.now(UTC).date()
    assert agent.badge_from_args({"visitor_name": "A", "visit_id": "v-1", "photo": "v-7f3a.jpg"},
                                 today).photo == tmp_path / "v-7f3a.jpg"
    for bad in ("../etc/passwd", "/etc/passwd", ".hidden", "missing.jpg", 7):
        with pytest.raises(ValueError, match="photo"):
            agent.badge_from_args({"visitor_name": "A", "visit_id": "v-1", "photo": bad}, today)


def test_date_arg_is_printed_and_checked() -> None:
    agent = PrinterAgent(SerialPrinterPort("loop://"), Recorder(), printer=DEVICE, driver=zebra())
    today = datetime.now(UTC).date()
    badge = agent.badge_from_args({"visitor_name": "A", "visit_id": "v-1", "date": "2026-11-23"}, today)
    assert str(badge.day) == "2026-11-23"
    with pytest.raises(ValueError, match="date"):
        agent.badge_from_args({"visitor_name": "A", "visit_id": "v-1", "date": "tomorrow"}, today)
