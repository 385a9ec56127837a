"""The badge reader agent and the serial transport over a real pty, loop:// and socket://."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from broker.events import Event
from broker.schemas import BadgeRead, Data
from devices.readers.badge_agent import BadgeReaderAgent
from devices.readers.rdm6300 import Rdm6300Decoder, TagRead, encode_frame
from devices.serial_port import Backoff, PortConfigError, PortError, SerialTransport
from devices.simulator import SimulatedRdm6300
from tests.support import RecordingEmitter

TAG = "62E3086CED"
OTHER = "0A1B2C3D4E"
FAST = Backoff(initial=0.01, maximum=0.05)
SERIAL_LOG = "devices.serial_port"


def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> bool:
    """Poll `condition` until it holds or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def badge(credential: str, reader: int = 1) -> tuple[str, BadgeRead]:
    """The emit call expected for one presentation."""
    return ("badge.read", BadgeRead(credential=credential, reader=reader, format="rdm6300"))


@pytest.fixture
def emitter() -> RecordingEmitter:
    """A fresh recording emitter."""
    return RecordingEmitter("lobby", "reader-1")


@pytest.fixture
def sim() -> Iterator[SimulatedRdm6300]:
    """A simulated RDM6300 on a fresh pty pair, closed after the test."""
    with SimulatedRdm6300() as reader:
        yield reader


@pytest.fixture
def stoppers() -> Iterator[list[Callable[[], None]]]:
    """Things to stop after the test, even when it fails."""
    stops: list[Callable[[], None]] = []
    yield stops
    for stop in reversed(stops):
        stop()


def test_three_frames_of_one_presentation_emit_one_badge_read(
    sim: SimulatedRdm6300, emitter: RecordingEmitter, stoppers: list[Callable[[], None]]
) -> None:
    agent = BadgeReaderAgent(sim.path, emitter, 1, hold_s=1.0)
    agent.start(require_port=True)
    stoppers.append(agent.stop)
    assert agent.connected
    sim.present(TAG, repeats=3, interval=0.05)
    assert wait_for(lambda: agent.stats.frames == 3)
    assert emitter.calls == [badge(TAG)]


def test_noise_and_a_second_tag_over_the_pty(
    sim: SimulatedRdm6300, emitter: RecordingEmitter, stoppers: list[Callable[[], None]]
) -> None:
    agent = BadgeReaderAgent(sim.path, emitter, 7, hold_s=1.0)
    agent.start(require_port=True)
    stoppers.append(agent.stop)
    sim.present(TAG, repeats=2, interval=0.02, noise=b"\x00\xff\x02ZZ")
    sim.write(b"\x0262E3086CED09\x03")  # a bad checksum on the line
    sim.present(OTHER, repeats=2, interval=0.02)
    assert wait_for(lambda: agent.stats.frames == 4 and agent.stats.bad_checksum == 1)
    assert emitter.calls == [badge(TAG, 7), badge(OTHER, 7)]
    assert agent.stats.noise_bytes == 10


def test_agent_debounces_on_its_injected_clock_with_no_port(emitter: RecordingEmitter) -> None:
    now = [0.0]
    agent = BadgeReaderAgent("/dev/unused", emitter, 2, hold_s=1.0, clock=lambda: now[0])
    first = agent.on_reading(TagRead(bytes.fromhex(TAG)))
    assert first is not None
    assert (first.type, first.data) == badge(TAG, 2)
    now[0] = 0.5
    assert agent.on_reading(TagRead(bytes.fromhex(TAG))) is None
    now[0] = 1.6
    assert agent.on_reading(TagRead(bytes.fromhex(TAG))) is not None
    assert len(emitter.calls) == 2


class FailingOnceEmitter(RecordingEmitter):
    """Fails its first emit, as an outbox on a full disk would."""

    def emit(self, event_type: str, data: Data) -> Event:
        """Raise the first time, then record."""
        if not hasattr(self, "failed"):
            self.failed = True
            raise OSError("database or disk is full")
        return super().emit(event_type, data)


def test_a_failed_emit_is_retried_on_the_next_repeat(
    sim: SimulatedRdm6300, caplog: pytest.LogCaptureFixture, stoppers: list[Callable[[], None]]
) -> None:
    emitter = FailingOnceEmitter()
    agent = BadgeReaderAgent(sim.path, emitter, 1, hold_s=1.0)
    agent.start(require_port=True)
    stoppers.append(agent.stop)
    sim.present(TAG, repeats=3, interval=0.02)
    assert wait_for(lambda: agent.stats.frames == 3)
    assert emitter.calls == [badge(TAG)]
    said = [r.getMessage() for r in caplog.records if "cannot record" in r.getMessage()]
    assert len(said) == 1  # one clear line, no traceback per repeated frame
    assert "disk is full" in said[0]


@pytest.mark.parametrize("number", [-1, 256, 1.0, True])
def test_reader_number_is_checked_up_front(number: int, emitter: RecordingEmitter) -> None:
    with pytest.raises(ValueError, match="reader_number"):
        BadgeReaderAgent("loop://", emitter, number)


def test_loop_transport_decodes_split_writes(stoppers: list[Callable[[], None]]) -> None:
    got: list[TagRead] = []
    transport = SerialTransport("loop://", Rdm6300Decoder(), got.append)
    transport.start(require_port=True)
    stoppers.append(transport.stop)
    frame = encode_frame(TAG)
    transport.write(frame[:6])
    transport.write(frame[6:] + encode_frame(OTHER))
    assert wait_for(lambda: len(got) == 2)
    assert [r.hex for r in got] == [TAG, OTHER]


def test_a_failing_callback_is_logged_and_reading_goes_on(
    caplog: pytest.LogCaptureFixture, stoppers: list[Callable[[], None]]
) -> None:
    got: list[TagRead] = []

    def handle(read: TagRead) -> None:
        got.append(read)
        if len(got) == 1:
            raise RuntimeError("outbox full")

    transport = SerialTransport("loop://", Rdm6300Decoder(), handle)
    transport.start(require_port=True)
    stoppers.append(transport.stop)
    transport.write(encode_frame(TAG) + encode_frame(OTHER))
    assert wait_for(lambda: len(got) == 2)
    assert any("outbox full" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)


def test_socket_transport(stoppers: list[Callable[[], None]]) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        got: list[TagRead] = []
        transport = SerialTransport(f"socket://127.0.0.1:{port}", Rdm6300Decoder(), got.append)
        transport.start(require_port=True)
        stoppers.append(transport.stop)
        conn, _ = server.accept()
        with conn:
            conn.sendall(encode_frame(TAG))
            assert wait_for(lambda: len(got) == 1)
    assert got[0].hex == TAG


def test_transport_writes_reach_the_device_side(
    sim: SimulatedRdm6300, stoppers: list[Callable[[], None]]
) -> None:
    transport = SerialTransport(sim.path, Rdm6300Decoder(), lambda _: None)
    transport.start(require_port=True)
    stoppers.append(transport.stop)
    transport.write(b"beep")
    assert sim.read(timeout=2.0) == b"beep"


def test_missing_port_raises_a_clear_error_naming_it(emitter: RecordingEmitter) -> None:
    agent = BadgeReaderAgent("/dev/gatehouse-no-such-reader", emitter, 1)
    with pytest.raises(PortError) as caught:
        agent.start(require_port=True)
    message = str(caught.value)
    assert "/dev/gatehouse-no-such-reader" in message
    assert "No such file or directory" in message
    assert "\n" not in message
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_unknown_url_scheme_always_raises(emitter: RecordingEmitter) -> None:
    agent = BadgeReaderAgent("bogus://reader", emitter, 1)
    with pytest.raises(PortConfigError, match="bogus://reader"):
        agent.start()


def test_missing_port_is_logged_once_while_retrying(
    emitter: RecordingEmitter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=SERIAL_LOG)
    agent = BadgeReaderAgent("/dev/gatehouse-no-such-reader", emitter, 1, backoff=FAST)
    agent.start()
    try:
        assert wait_for(lambda: len(caplog.records) >= 4)  # the first warning, then debug lines
    finally:
        agent.stop()
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert "/dev/gatehouse-no-such-reader" in warnings[0].getMessage()
    assert warnings[0].exc_info is None
    assert not agent.connected


def test_unplug_and_replug_reconnects_logging_once_each_way(
    tmp_path: Path,
    emitter: RecordingEmitter,
    caplog: pytest.LogCaptureFixture,
    stoppers: list[Callable[[], None]],
) -> None:
    caplog.set_level(logging.DEBUG, logger=SERIAL_LOG)
    link = tmp_path / "rdm6300"
    changes: list[bool] = []
    first = SimulatedRdm6300(link=link)
    stoppers.append(first.close)
    agent = BadgeReaderAgent(str(link), emitter, 1, backoff=FAST, on_connection=changes.append)
    agent.start(require_port=True)
    stoppers.append(agent.stop)
    first.present(TAG, repeats=1)
    assert wait_for(lambda: len(emitter.calls) == 1)

    first.close()  # unplugged: the pty and its by-id style link vanish
    assert wait_for(lambda: not agent.connected)
    # Several failed reopen attempts follow; they may log at debug level only.
    assert wait_for(lambda: sum("cannot open" in r.getMessage() for r in caplog.records) >= 2)
    second = SimulatedRdm6300(link=link)
    stoppers.append(second.close)
    assert agent.wait_connected(3.0)
    second.present(OTHER, repeats=1)
    assert wait_for(lambda: len(emitter.calls) == 2)

    assert emitter.calls == [badge(TAG), badge(OTHER)]
    assert changes == [True, False, True]
    lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.levelno >= logging.INFO]
    assert [level for level, _ in lines] == ["WARNING", "INFO"]
    assert "lost" in lines[0][1]
    assert str(link) in lines[0][1]
    assert lines[1][1] == f"serial port {link} is back"
