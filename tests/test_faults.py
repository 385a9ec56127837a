"""Faults while 10,000 events are in flight: afterwards every event is stored exactly once."""

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
from broker.embedded import EmbeddedBroker
from broker.local_mosquitto import LocalMosquitto
from broker.schemas import BadgeRead
from broker.source import EventSource
from security.storage import open_store
from tests.support import event_source, running_service, unique_site, wait_until

pytestmark = pytest.mark.slow

SOURCES = 4
PER_SOURCE = 2500


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
