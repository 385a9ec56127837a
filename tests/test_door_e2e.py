"""A door end to end: unlock commands over a real broker, pty ports, events in the central log."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from broker import topics
from broker.config import MqttUrl
from broker.device_link import DeviceLink
from broker.messages import Command, Status
from devices.door_agent import DoorAgent
from devices.door_simulator import SimulatedDoor
from devices.relay import RelaySwitch, lc_technology
from security.storage import open_store
from tests.fixtures.mqtt import MqttClientFactory
from tests.support import running_service, unique_site, wait_until

DEVICE, DOOR = "door-1", "main-door"


@pytest.fixture(params=["embedded", pytest.param("mosquitto", marks=pytest.mark.mosquitto)])
def broker_url(request: pytest.FixtureRequest) -> MqttUrl:
    """The test runs on the embedded broker and on Mosquitto."""
    if request.param == "mosquitto":
        url: MqttUrl = request.getfixturevalue("mosquitto_url")
        return url
    return request.getfixturevalue("embedded_broker").url  # type: ignore[no-any-return]


def unlock(seconds: float, expires_in: float) -> bytes:
    """An unlock command payload expiring `expires_in` seconds from now."""
    expires = datetime.now(UTC) + timedelta(seconds=expires_in)
    return Command(uuid.uuid4().hex, "unlock", expires, {"seconds": seconds}).encode()


def test_unlock_commands_and_door_events_end_to_end(
    broker_url: MqttUrl, sqlite_url: str, tmp_path: Path, mqtt_client: MqttClientFactory
) -> None:
    site = unique_site()
    command_topic = topics.command(site, DEVICE, "unlock")
    station = mqtt_client(broker_url)
    station.subscribe(topics.status(site, DEVICE))
    with running_service(broker_url, sqlite_url, site), SimulatedDoor() as door, \
            DeviceLink(broker_url, site=site, device=DEVICE, kind="door", outbox_dir=tmp_path) as link:
        agent = DoorAgent(door.contact_path, door.relay_path, link.source, door=DOOR)
        agent.subscribe(link.bus, site, DEVICE)
        agent.start(require_port=True)
        try:
            # The status is published after the subscriptions on the same connection: once it is
            # seen, the broker routes commands to the agent.
            wait_until(lambda: any(Status.decode(m.payload).state == "online"
                                   for m in station.received(topics.status(site, DEVICE))),
                       10, "door online")
            assert door.wait_relay(False, 3.0)
            door.close_door()

            station.publish(command_topic, unlock(5, expires_in=30))
            assert door.wait_relay(True, 5.0), "a fresh unlock did not reach the relay"
            assert door.raw.endswith(lc_technology().on)
            door.open_door()
            wait_until(lambda: agent.state.is_open is True, 15, "door seen open")
            door.close_door()
            assert door.wait_relay(False, 3.0)

            before = len(door.raw)
            station.publish(command_topic, unlock(5, expires_in=-1))
            station.publish(command_topic, b"{not a command")
            door.poll(timeout=0.5)
            assert len(door.raw) == before, "a late or malformed unlock wrote to the relay"
            door.open_door()  # nobody unlocked it: forced
            wait_until(lambda: agent.state.is_open is True, 15, "door seen open again")
            door.close_door()
            wait_until(lambda: link.source.pending() == 0 and link.source.outbox.watermark == 5, 20,
                       "all door events stored")
        finally:
            agent.stop()
    with open_store(sqlite_url) as store:
        stored = store.query_events(types=["door."], limit=None)
    assert [e.type for e in stored] == [
        "door.opened", "door.closed", "door.opened", "door.forced", "door.closed",
    ]
    assert {e.source for e in stored} == {topics.source(site, DEVICE)}
    assert all(e.data.door == DOOR for e in stored)  # type: ignore[attr-defined]
    assert door.switches == [RelaySwitch.OFF, RelaySwitch.ON, RelaySwitch.OFF]
