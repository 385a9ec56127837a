"""The door agent over real pty pairs: contact lines in, door events and relay bytes out."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from broker import topics
from broker.messages import Command
from broker.schemas import DeviceFault, DoorChange
from devices.door import DoorConfig
from devices.door_agent import DoorAgent
from devices.door_simulator import SimulatedDoor
from devices.relay import RelaySwitch, ascii_relay, lc_technology
from devices.serial_port import Backoff
from tests.support import RecordingEmitter, wait_until

SITE, DEVICE, DOOR = "lobby", "door-1", "main-door"
TOPIC = topics.command(SITE, DEVICE, "unlock")
LOG = "devices.door_agent"
ON, OFF = RelaySwitch.ON, RelaySwitch.OFF


def command(seconds: Any = 2, *, expires_in: float = 30.0, cid: str | None = None) -> bytes:
    """An unlock command payload expiring `expires_in` seconds from now."""
    args = {} if seconds is None else {"seconds": seconds}
    expires = datetime.now(UTC) + timedelta(seconds=expires_in)
    return Command(cid or uuid.uuid4().hex, "unlock", expires, args).encode()


@pytest.fixture
def door() -> Iterator[SimulatedDoor]:
    """A simulated door (LC-Technology relay, OPEN/CLOSED contact) on fresh pty pairs."""
    with SimulatedDoor() as sim:
        yield sim


@pytest.fixture
def emitter() -> RecordingEmitter:
    """A fresh recording emitter."""
    return RecordingEmitter(SITE, DEVICE)


@pytest.fixture
def make_agent(door: SimulatedDoor, emitter: RecordingEmitter) -> Iterator[Any]:
    """Factory of started agents on the simulated door; stopped after the test."""
    made: list[DoorAgent] = []

    def make(**kwargs: Any) -> DoorAgent:
        agent = DoorAgent(door.contact_path, door.relay_path, emitter, door=DOOR, **kwargs)
        agent.start(require_port=True)
        made.append(agent)
        assert door.wait_relay(False, 3.0), "the relay was not switched off at start"
        return agent

    yield make
    for agent in made:
        agent.stop()


def test_unlock_then_a_passage(door: SimulatedDoor, emitter: RecordingEmitter, make_agent: Any) -> None:
    agent: DoorAgent = make_agent()
    door.close_door()
    agent.handle_command(TOPIC, command(5))
    assert door.wait_relay(True, 3.0)
    assert door.raw == lc_technology().off + lc_technology().on  # golden bytes on the wire
    door.open_door()
    wait_until(lambda: emitter.types() == ["door.opened"], 15, "door.opened")
    time.sleep(0.1)
    door.close_door()
    assert door.wait_relay(False, 3.0)  # one grant, one passage: relocked on close
    wait_until(lambda: len(emitter.calls) == 2, 15, "door.closed")
    kind, data = emitter.calls[1]
    assert kind == "door.closed"
    assert isinstance(data, DoorChange)
    assert data.door == DOOR
    assert data.duration_s is not None
    assert 0.05 <= data.duration_s < 2.0
    assert door.switches == [OFF, ON, OFF]


def test_a_late_unlock_is_dropped_and_logged_once(
    door: SimulatedDoor, emitter: RecordingEmitter, make_agent: Any, caplog: pytest.LogCaptureFixture
) -> None:
    agent: DoorAgent = make_agent()
    door.close_door()
    late = command(5, expires_in=-1)
    agent.handle_command(TOPIC, late)
    agent.handle_command(TOPIC, late)  # a QoS 1 redelivery of the same command
    assert door.poll(timeout=0.3) == []
    door.open_door()
    wait_until(lambda: emitter.types() == ["door.opened", "door.forced"], 15, "door.opened + door.forced")
    assert door.switches == [OFF]
    assert not agent.state.relay_on
    drops = [r for r in caplog.records if "dropped late unlock" in r.getMessage()]
    assert len(drops) == 1
    assert drops[0].levelno == logging.WARNING


def test_expiry_is_judged_by_the_given_time(door: SimulatedDoor, make_agent: Any) -> None:
    agent: DoorAgent = make_agent()
    expires = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    payload = Command("c-1", "unlock", expires, {"seconds": 1}).encode()
    agent.handle_command(TOPIC, payload, now=expires)  # now >= expires: late
    assert not agent.state.relay_on
    payload = Command("c-2", "unlock", expires, {"seconds": 1}).encode()
    agent.handle_command(TOPIC, payload, now=expires - timedelta(milliseconds=1))
    assert agent.state.relay_on
    assert door.wait_relay(True, 3.0)


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        (TOPIC, b"not json", "not JSON"),
        (TOPIC, b"[]", "JSON object"),
        (TOPIC, b'{"id": "x", "name": "unlock"}', "string fields"),
        (TOPIC, b'{"id": "x", "name": "unlock", "expires": "soon"}', "RFC 3339"),
        (TOPIC, command("5"), "must be a number"),
        (TOPIC, command(True), "must be a number"),
        (TOPIC, command(0), "must be in"),
        (TOPIC, command(3600), "must be in"),
        (topics.command(SITE, DEVICE, "print"), command(2), "does not match"),
        (topics.event(SITE, DEVICE, "door.opened"), command(2), "not a command topic"),
        ("elsewhere/x", command(2), "not under"),
    ],
)
def test_a_malformed_command_is_logged_and_ignored(
    door: SimulatedDoor, make_agent: Any, caplog: pytest.LogCaptureFixture, topic: str, payload: bytes,
    reason: str,
) -> None:
    agent: DoorAgent = make_agent()
    agent.handle_command(topic, payload)
    assert not agent.state.relay_on
    assert door.poll(timeout=0.1) == []
    warnings = [r.getMessage() for r in caplog.records if r.name == LOG and r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "ignoring malformed command" in warnings[0]
    assert reason in warnings[0]


def test_a_command_for_another_device_name_is_refused(make_agent: Any) -> None:
    agent: DoorAgent = make_agent()
    payload = Command("c-3", "print", datetime.now(UTC) + timedelta(seconds=9), {}).encode()
    agent.handle_command(topics.command(SITE, DEVICE, "print"), payload)
    assert not agent.state.relay_on


def test_the_timer_relocks_and_reports_held_open_once(
    door: SimulatedDoor, emitter: RecordingEmitter, make_agent: Any
) -> None:
    agent: DoorAgent = make_agent(config=DoorConfig(held_open_s=0.4), poll_s=0.05)
    door.close_door()
    agent.handle_command(TOPIC, command(0.2))
    assert door.wait_relay(True, 3.0)
    assert door.wait_relay(False, 3.0)  # ran out with nobody passing
    door.open_door()
    wait_until(lambda: "door.held_open" in emitter.types(), 15, "door.held_open")
    time.sleep(0.3)
    door.close_door()
    wait_until(lambda: "door.closed" in emitter.types(), 15, "door.closed")
    assert emitter.types() == ["door.opened", "door.forced", "door.held_open", "door.closed"]
    held = emitter.calls[2][1]
    assert isinstance(held, DoorChange)
    assert held.duration_s is not None
    assert 0.4 <= held.duration_s < 1.0


def test_an_ascii_relay_and_a_configured_contact(emitter: RecordingEmitter) -> None:
    from devices.door_contact import ContactProtocol

    model = ascii_relay("RELAY1 ON", "RELAY1 OFF")
    proto = ContactProtocol(open_word=b"D2=1", closed_word=b"D2=0")
    with SimulatedDoor(model=model, protocol=proto) as door:
        agent = DoorAgent(door.contact_path, door.relay_path, emitter, door=DOOR, relay_model=model,
                          contact=proto)
        agent.start(require_port=True)
        try:
            door.close_door()
            agent.handle_command(TOPIC, command(3))
            assert door.wait_relay(True, 3.0)
            door.open_door()
            wait_until(lambda: emitter.types() == ["door.opened"], 15, "door.opened")
            assert bytes(door.raw) == b"RELAY1 OFF\nRELAY1 ON\n"
        finally:
            agent.stop()


def test_a_missing_relay_is_one_fault_and_a_replugged_one_is_resynchronised(
    emitter: RecordingEmitter, caplog: pytest.LogCaptureFixture, tmp_path: Any
) -> None:
    link = tmp_path / "relay"
    with SimulatedDoor() as door:
        agent = DoorAgent(door.contact_path, str(link), emitter, door=DOOR, poll_s=0.02,
                          backoff=Backoff(initial=0.01, maximum=0.05))
        agent.start()
        try:
            wait_until(lambda: "device.fault" in emitter.types(), 15, "device.fault")
            for _ in range(5):  # five more ticks, each a failed relay write: still one fault
                agent.tick()
            assert emitter.types() == ["device.fault"]
            with SimulatedDoor(relay_link=link) as plugged:
                assert plugged.wait_relay(False, 5.0)  # told to be off as soon as it is there
                wait_until(lambda: len(emitter.calls) == 2, 15, "fault cleared")
                agent.stop()  # before the relay is unplugged again, which would be a new fault
        finally:
            agent.stop()
    faults = [d for _, d in emitter.calls]
    assert all(isinstance(d, DeviceFault) for d in faults)
    assert [d.cleared for d in faults if isinstance(d, DeviceFault)] == [False, True]
    errors = [r for r in caplog.records if r.name == LOG and r.levelno >= logging.ERROR]
    assert len(errors) == 1


def test_logic_runs_on_an_injected_clock_without_ports(emitter: RecordingEmitter) -> None:
    now = [100.0]
    agent = DoorAgent("/dev/unused-contact", "/dev/unused-relay", emitter, door=DOOR, clock=lambda: now[0])
    from devices.door_contact import ContactReading

    agent.on_contact(ContactReading(is_open=False))
    agent.handle_command(TOPIC, command(5))
    assert agent.state.unlocked_until == 105.0
    now[0] = 110.0
    agent.on_contact(ContactReading(is_open=True))
    agent.tick(200.0)
    types = emitter.types()
    assert types[:1] == ["device.fault"]  # the relay port was never opened
    assert types[1:] == ["door.opened", "door.forced", "door.held_open"]


def test_door_name_is_checked() -> None:
    with pytest.raises(ValueError, match="door"):
        DoorAgent("loop://", "loop://", RecordingEmitter(SITE, DEVICE), door="Main Door")


def test_stopping_during_an_unlock_relocks_the_door() -> None:
    """A runner stopped while a grant runs must not leave the strike energised."""
    from datetime import UTC, datetime, timedelta

    from broker.messages import Command
    from devices.door_agent import DoorAgent
    from devices.door_simulator import SimulatedDoor
    from devices.relay import lc_technology

    class Quiet:
        def emit(self, event_type: str, data: object) -> None:
            """Discard."""

    with SimulatedDoor() as door:
        agent = DoorAgent(door.contact_path, door.relay_path, Quiet(), door="main-door",  # type: ignore[arg-type]
                          relay_model=lc_technology(1))
        agent.start(require_port=True)
        assert door.wait_relay(False, 5.0)
        command = Command("c-1", "unlock", datetime.now(UTC) + timedelta(seconds=30), {"seconds": 30})
        agent.handle_command("gatehouse/s/door-1/command/unlock", command.encode())
        assert door.wait_relay(True, 5.0)
        agent.stop()
        assert door.wait_relay(False, 5.0)


def door_command(name: str, args: dict[str, Any], *, cid: str | None = None) -> tuple[str, bytes]:
    """The topic and payload of a door command `name` expiring in 30 s."""
    expires = datetime.now(UTC) + timedelta(seconds=30)
    return topics.command(SITE, DEVICE, name), Command(cid or uuid.uuid4().hex, name, expires, args).encode()


def test_an_unlock_until_outlasts_a_passage_until_back_to_schedule(
    door: SimulatedDoor, emitter: RecordingEmitter, make_agent: Any
) -> None:
    agent: DoorAgent = make_agent()
    door.close_door()
    until = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    agent.handle_command(*door_command("unlock", {"until": until}))
    assert door.wait_relay(True, 3.0)
    door.open_door()
    wait_until(lambda: emitter.types() == ["door.opened"], 15, "door.opened")
    door.close_door()
    wait_until(lambda: emitter.types() == ["door.opened", "door.closed"], 15, "door.closed")
    assert agent.state.relay_on
    assert agent.state.hold  # a passage does not end an unlock-until
    assert door.switches == [OFF, ON]
    agent.handle_command(*door_command("schedule", {}))
    assert door.wait_relay(False, 3.0)
    assert door.switches == [OFF, ON, OFF]


@pytest.mark.parametrize(
    ("until", "reason"),
    [(timedelta(hours=12, seconds=5), "is not within"), (timedelta(seconds=-5), "is not within")],
)
def test_an_unlock_until_too_far_or_past_is_refused(
    door: SimulatedDoor, make_agent: Any, caplog: pytest.LogCaptureFixture, until: timedelta, reason: str
) -> None:
    agent: DoorAgent = make_agent()
    agent.handle_command(*door_command("unlock", {"until": (datetime.now(UTC) + until).isoformat()}))
    assert not agent.state.relay_on
    assert door.poll(timeout=0.1) == []
    assert any(reason in r.getMessage() for r in caplog.records if r.name == LOG)


def test_a_lockdown_relocks_and_refuses_grants_until_release(
    door: SimulatedDoor, emitter: RecordingEmitter, make_agent: Any, caplog: pytest.LogCaptureFixture
) -> None:
    agent: DoorAgent = make_agent()
    door.close_door()
    agent.handle_command(TOPIC, command(30))
    assert door.wait_relay(True, 3.0)
    agent.handle_command(*door_command("lock", {"lockdown": True}))
    assert door.wait_relay(False, 3.0)
    agent.handle_command(TOPIC, command(5))  # a badge's grant
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    agent.handle_command(*door_command("unlock", {"until": later}))
    assert door.poll(timeout=0.3) == []
    assert door.switches == [OFF, ON, OFF]
    assert sum("in lockdown" in r.getMessage() for r in caplog.records if r.name == LOG) == 2
    door.open_door()
    wait_until(lambda: emitter.types() == ["door.opened", "door.forced"], 15, "door.forced in lockdown")
    door.close_door()
    wait_until(lambda: emitter.types()[-1] == "door.closed", 15, "door.closed")
    agent.handle_command(*door_command("release", {}))
    assert not agent.state.lockdown
    assert not agent.state.relay_on
    agent.handle_command(TOPIC, command(5))
    assert door.wait_relay(True, 3.0)


def test_a_plain_lock_ends_a_grant_without_a_lockdown(door: SimulatedDoor, make_agent: Any) -> None:
    agent: DoorAgent = make_agent()
    agent.handle_command(TOPIC, command(30))
    assert door.wait_relay(True, 3.0)
    agent.handle_command(*door_command("lock", {}))
    assert door.wait_relay(False, 3.0)
    assert not agent.state.lockdown
    agent.handle_command(TOPIC, command(5))
    assert door.wait_relay(True, 3.0)


def test_the_agent_subscribes_to_every_door_command() -> None:
    seen: list[str] = []

    class Bus:
        def subscribe(self, topic_filter: str, handler: Any, qos: int = 1) -> None:
            seen.append(topic_filter)

    agent = DoorAgent("/dev/null-contact", "/dev/null-relay", RecordingEmitter(SITE, DEVICE), door=DOOR)
    agent.subscribe(Bus(), SITE, DEVICE)
    assert seen == [topics.command(SITE, DEVICE, n) for n in ("unlock", "schedule", "lock", "release")]
