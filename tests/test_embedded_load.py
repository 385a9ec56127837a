"""The embedded broker under load: 100 devices connecting at once while events flow.

amqtt 0.12.1 iterates its subscription map across awaits while other connections add to it
(broker.amqtt_patches says where); unpatched, this storm drops connections with
`RuntimeError: dictionary changed size during iteration` and loses QoS 1 messages.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from broker.amqtt_patches import AmqttVersionError, check_amqtt_version
from broker.credentials import CredentialStore, Role
from broker.embedded import EmbeddedBroker, free_port
from tests.broker_contract import SITE, SecuredSite
from tests.fixtures.mqtt import MqttClientFactory, MqttProbe

DEVICES = 100
EVENTS_EACH = 5
ROOT = f"gatehouse/{SITE}"
WAIT_S = 60.0  # 100 argon2 checks on a busy 2-core machine; only a failure ever waits this long


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[SecuredSite, Path]]:
    """An authenticated embedded broker (the demo's configuration) knowing 100 devices."""
    store = CredentialStore(tmp_path / "credentials.json")
    store.ensure("service", Role.SERVICE)
    store.ensure("flow", Role.READER)
    store.ensure("station-1", Role.STATION)
    for n in range(DEVICES):
        store.ensure(f"dev-{n:03d}", Role.READER)
    principals = store.principals()
    log = tmp_path / "broker.log"
    with EmbeddedBroker(port=free_port(), site=SITE, principals=principals, log_file=log) as broker:
        yield SecuredSite(broker.url, {p.name: p for p in principals}), log


def _event(name: str) -> str:
    return f"{ROOT}/{name}/event/badge.read"


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_a_hundred_devices_connect_at_once_while_events_flow(
    site: tuple[SecuredSite, Path], mqtt_client: MqttClientFactory
) -> None:
    secured, log = site
    service = mqtt_client(secured.url_for("service"), f"service@{SITE}")
    assert not service.subscribe(f"{ROOT}/+/event/#").is_failure
    assert not service.subscribe(f"{ROOT}/+/status").is_failure
    # A second reader of the same events, on a filter of its own placed after the service's in
    # amqtt's map: a broadcast whose walk of the map broke off never reached it.
    station = mqtt_client(secured.url_for("station-1"), f"station-1@{SITE}")
    assert not station.subscribe(f"{ROOT}/+/event/badge.read").is_failure

    # A steady stream from one source for as long as the storm lasts: every broadcast of it
    # walks the subscription map while the devices below add their own filters to it.
    flow = mqtt_client(secured.url_for("flow"), f"flow@{SITE}")
    storm_over = threading.Event()
    flow_sent: list[bytes] = []
    failures: list[str] = []

    def stream() -> None:
        try:
            while not storm_over.is_set():
                payload = f"flow-{len(flow_sent)}".encode()
                flow.publish(_event("flow"), payload, timeout=WAIT_S)
                flow_sent.append(payload)
        except AssertionError as exc:
            failures.append(f"flow: {exc}")

    streamer = threading.Thread(target=stream, name="flow")
    streamer.start()

    devices: dict[str, MqttProbe] = {}
    start = threading.Barrier(DEVICES)

    def device(name: str) -> None:
        try:
            probe = mqtt_client(secured.url_for(name), f"{name}@{SITE}", connect=False)
            devices[name] = probe
            start.wait()
            code = probe.connect(timeout=WAIT_S)
            assert not code.is_failure, f"{name} refused: {code}"
            probe.publish(f"{ROOT}/{name}/status", b"online", retain=True, timeout=WAIT_S)
            assert not probe.subscribe(f"{ROOT}/{name}/ack", timeout=WAIT_S).is_failure
            for n in range(EVENTS_EACH):
                probe.publish(_event(name), f"{name}-{n}".encode(), timeout=WAIT_S)
        except (AssertionError, threading.BrokenBarrierError) as exc:
            failures.append(f"{name}: {exc}")

    names = [f"dev-{n:03d}" for n in range(DEVICES)]
    threads = [threading.Thread(target=device, args=(name,), name=name) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    storm_over.set()
    streamer.join()
    assert not failures, "\n".join(failures[:10])

    # Every device is still connected and its own subscription delivers to it.
    for name in names:
        service.publish(f"{ROOT}/{name}/ack", f"ack-{name}".encode())
    for name, probe in devices.items():
        got = probe.expect(f"{ROOT}/{name}/ack", timeout=WAIT_S)
        assert got.payload == f"ack-{name}".encode()

    # The service got every QoS 1 event and every status, whatever the storm did meanwhile.
    wanted = Counter({f"{name}-{n}".encode(): 1 for name in names for n in range(EVENTS_EACH)})
    wanted.update(flow_sent)
    for reader in (service, station):
        received: Counter[bytes] = Counter()
        while received != wanted and not (received - wanted):
            received[reader.expect(f"{ROOT}/+/event/#", timeout=WAIT_S).payload] += 1
        missing, extra = list(wanted - received)[:5], list(received - wanted)[:5]
        assert received == wanted, f"{reader.url.username}: missing {missing}, extra {extra}"
    statuses = {m.topic for m in service.received(f"{ROOT}/+/status")}
    assert statuses >= {f"{ROOT}/{name}/status" for name in names}

    # Nobody saw anything but its own ack: no other device's retained status leaked to it.
    for name, probe in devices.items():
        assert [m.topic for m in probe.received()] == [], f"{name} got what it never subscribed to"
        assert probe.disconnects == [], f"{name} was disconnected: {probe.disconnects}"
    assert service.disconnects == []
    assert station.disconnects == []
    assert flow.disconnects == []
    assert "Traceback" not in log.read_text(errors="replace"), log.read_text(errors="replace")[-3000:]


def test_the_patches_refuse_an_amqtt_they_were_not_written_for() -> None:
    check_amqtt_version()  # the installed one: the pin in pyproject.toml
    with pytest.raises(AmqttVersionError, match=r"patches amqtt 0\.12\.1 .* amqtt 0\.12\.2 is installed"):
        check_amqtt_version("0.12.2")
