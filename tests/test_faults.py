"""Faults while 10,000 events are in flight: afterwards every event is stored exactly once.

The service is killed, the broker is restarted, and a fault proxy (tests/fixtures/proxy.py) between
the devices and the broker and between the broker and the service resets, delays, cuts an outbox
flush in the middle and leaves connections half-open.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from broker.config import MqttUrl
from broker.device_link import DeviceLink
from broker.embedded import EmbeddedBroker
from broker.events import Event
from broker.local_mosquitto import LocalMosquitto
from broker.schemas import BadgeRead
from broker.source import EventSource
from security.ingest.service import CentralService
from security.storage import open_store
from tests.fixtures.proxy import FaultProxy
from tests.support import event_source, running_service, unique_site, wait_until

pytestmark = pytest.mark.slow

SOURCES = 4
PER_SOURCE = 2500
KEEPALIVE_S = 2
"""Short, so a half-open link is noticed in about 4 s instead of a minute."""


@contextmanager
def _service_process(
    url: MqttUrl, db_url: str, site: str, data_dir: Path
) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "gatehouse", "--mqtt", f"mqtt://{url.host}:{url.port}", "--db", db_url,
         "--site", site, "--data-dir", str(data_dir), "serve"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)


def _emit_all(sources: list[EventSource], ids: list[str], progress: list[int]) -> list[threading.Thread]:
    lock = threading.Lock()

    def run(source: EventSource) -> None:
        for i in range(PER_SOURCE):
            event = source.emit("badge.read", BadgeRead(credential=f"{i:06X}", reader=1))
            with lock:
                ids.append(event.id)
                progress[0] += 1

    threads = [threading.Thread(target=run, args=(s,)) for s in sources]
    for thread in threads:
        thread.start()
    return threads


def _check_exactly_once(db_url: str, ids: list[str]) -> None:
    with open_store(db_url) as store:
        stored = [e.id for e in store.query_events(limit=None)]
        assert store.list_dead_letters() == []
    assert len(stored) == SOURCES * PER_SOURCE
    assert len(set(stored)) == len(stored)
    assert set(stored) == set(ids)


def test_service_killed_mid_stream(mosquitto_url: MqttUrl, sqlite_url: str, tmp_path: Path) -> None:
    site = unique_site()
    ids: list[str] = []
    progress = [0]
    with ExitStack() as stack:
        sources = [stack.enter_context(event_source(mosquitto_url, tmp_path, site, f"src-{n}",
                                                    resend_after=2.0, max_resend_after=4.0))
                   for n in range(SOURCES)]
        service = stack.enter_context(_service_process(mosquitto_url, sqlite_url, site, tmp_path))
        threads = _emit_all(sources, ids, progress)
        wait_until(lambda: progress[0] >= 3000, 60, "3,000 events emitted")
        os.kill(service.pid, signal.SIGKILL)
        service.wait()
        time.sleep(1.0)
        for thread in threads:
            thread.join()
        stack.enter_context(_service_process(mosquitto_url, sqlite_url, site, tmp_path))
        wait_until(lambda: all(s.pending() == 0 for s in sources), 120, "every outbox drained")
    _check_exactly_once(sqlite_url, ids)


@pytest.fixture(params=["mosquitto", "embedded"])
def restartable(request: pytest.FixtureRequest) -> tuple[MqttUrl, Callable[[], None]]:
    """A broker of our own and a function that kills it and brings it back on the same port."""
    if request.param == "mosquitto":
        mosquitto: LocalMosquitto = request.getfixturevalue("private_mosquitto")

        def bounce_mosquitto() -> None:
            mosquitto.kill()
            time.sleep(1.0)
            mosquitto.start()

        return mosquitto.url, bounce_mosquitto
    embedded: EmbeddedBroker = request.getfixturevalue("embedded_broker")

    def bounce_embedded() -> None:
        embedded.kill()
        time.sleep(1.0)
        embedded.start()
        embedded.wait_ready()

    return embedded.url, bounce_embedded


def test_broker_restarted_mid_stream(
    restartable: tuple[MqttUrl, Callable[[], None]], sqlite_url: str, tmp_path: Path
) -> None:
    url, bounce = restartable
    site = unique_site()
    ids: list[str] = []
    progress = [0]
    with ExitStack() as stack:
        stack.enter_context(running_service(url, sqlite_url, site))
        sources = [stack.enter_context(event_source(url, tmp_path, site, f"src-{n}",
                                                    resend_after=2.0, max_resend_after=4.0))
                   for n in range(SOURCES)]
        for source in sources:
            assert source.bus.wait_connected(10)
        threads = _emit_all(sources, ids, progress)
        wait_until(lambda: progress[0] >= 3000, 60, "3,000 events emitted")
        bounce()
        for thread in threads:
            thread.join()
        wait_until(lambda: all(s.pending() == 0 for s in sources), 120, "every outbox drained")
    _check_exactly_once(sqlite_url, ids)


@contextmanager
def _service_with_keepalive(url: MqttUrl, db_url: str, site: str) -> Iterator[CentralService]:
    store = open_store(db_url)
    service = CentralService(url, store, site=site, client_id=f"central-{site}")
    service.bus.keepalive = KEEPALIVE_S
    service.start()
    try:
        assert service.bus.wait_subscribed(10), "the service could not subscribe through the proxy"
        yield service
    finally:
        service.stop()
        store.close()


def test_faults_between_devices_broker_and_service(
    restartable: tuple[MqttUrl, Callable[[], None]], sqlite_url: str, tmp_path: Path
) -> None:
    url, _bounce = restartable  # not restarted here: the proxies make the faults
    site = unique_site()
    emitted: list[Event] = []
    with ExitStack() as stack:
        to_broker = stack.enter_context(FaultProxy(url.host, url.port))  # the devices' side
        to_service = stack.enter_context(FaultProxy(url.host, url.port))
        service = stack.enter_context(_service_with_keepalive(to_service.url, sqlite_url, site))
        links = [stack.enter_context(DeviceLink(
            to_broker.url, site=site, device=f"src-{n}", kind="device", outbox_dir=tmp_path,
            resend_after=2.0, max_resend_after=4.0, keepalive=KEEPALIVE_S)) for n in range(SOURCES)]
        for link in links:
            assert link.bus.wait_connected(10)

        def emit(count: int) -> None:  # each device emits its share on a thread of its own
            shares: list[list[Event]] = [[] for _ in links]

            def run(link: DeviceLink, share: list[Event]) -> None:
                for i in range(count // SOURCES):
                    share.append(link.source.emit("badge.read", BadgeRead(credential=f"{i:06X}", reader=1)))

            threads = [threading.Thread(target=run, args=pair) for pair in zip(links, shares, strict=True)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            emitted.extend(event for share in shares for event in share)

        def devices_down() -> bool:
            return not any(link.bus.connected for link in links)

        emit(1000)
        to_broker.delay(40)  # a slow link both ways
        to_service.delay(40)
        emit(1500)
        to_broker.resume()
        to_service.resume()
        emit(500)  # connections reset while events flow
        to_broker.cut()
        emit(500)
        to_service.cut()
        emit(500)

        to_broker.refuse()  # the devices lose the broker and keep events in their outboxes
        wait_until(devices_down, 10, "every device noticing the refused connection")
        emit(2000)
        waiting = sum(len(p.payload) for link in links for p in link.outbox.pending(limit=10_000))
        cut = to_broker.cut_after(waiting // 2)
        to_broker.resume()
        assert cut.wait(60), "the outboxes' flush never reached half of what they hold"

        to_service.blackhole()  # half-open: only the service's keepalive can tell
        emit(1500)
        wait_until(lambda: not service.bus.connected, 30, "the service noticing its half-open link")
        to_service.resume()

        to_broker.blackhole()  # half-open on the devices' side
        emit(1000)
        wait_until(devices_down, 30, "every device noticing its half-open link")
        to_broker.resume()
        emit(1500)
        wait_until(lambda: all(link.source.pending() == 0 for link in links), 120, "every outbox drained")
        handed_out = sum(link.outbox.last_seq for link in links)
    assert len(emitted) == handed_out == SOURCES * PER_SOURCE
    assert to_broker.stats.resets > SOURCES  # the faults happened
    assert to_service.stats.resets >= 1
    _check_exactly_once(sqlite_url, [e.id for e in emitted])
