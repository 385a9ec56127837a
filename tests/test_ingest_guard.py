"""Ingest that cannot die, against a running service on a real broker and database: messages that
once killed the writer become dead letters, a batch the database or the back office refuses is
split to the one event at fault, the writer is restarted if it stops, /api/health tells the truth,
a device's clock is not believed, a device that starts over is stored and reported once, and no one
else speaks for the service's own devices."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import Connection

from broker import topics
from broker.config import MqttUrl
from broker.events import Event, encode, make_event
from broker.examples import EXAMPLES
from broker.schemas import BadgeRead, IncidentOpened, VisitorCheckedOut
from security.api import ApiServer
from security.ingest.service import CentralService
from security.office.config import OfficeConfig
from security.office.incidents import console_emitter
from security.office.onsite_query import current_on_site
from security.office.runtime import BatchHook, office_for
from security.storage import open_store
from security.storage.records import PREFIX
from tests.fixtures.mqtt import MqttClientFactory
from tests.support import event_source, http, unique_site, wait_until

pytestmark = pytest.mark.mosquitto

KILLERS = {
    "deep data": (b'{"data": ' + b"[" * 5000 + b"]" * 5000 + b"}", "nests deeper than 32"),
    "garbage since": (b'{"state": "online", "since": "garbage"}', "status since 'garbage'"),
}


class FlakyClock:
    """A monotonic clock that fails once, on the writer's thread, when armed (to stop the writer)."""

    def __init__(self) -> None:
        """Not armed."""
        self.armed = threading.Event()
        self.failure: BaseException = RuntimeError("the clock broke")

    def __call__(self) -> float:
        """The time; raises `failure` once on the writer thread after `armed` is set."""
        if self.armed.is_set() and threading.current_thread().name == "central-writer":
            self.armed.clear()
            raise self.failure
        return time.monotonic()


@contextmanager
def service(
    url: MqttUrl, db_url: str, site: str, *, hooks: Sequence[BatchHook] = (), clock: FlakyClock | None = None,
) -> Iterator[CentralService]:
    """A central service with a back office (and extra batch hooks), stopped afterwards."""
    store = open_store(db_url)
    build = office_for(store, OfficeConfig(), audit_key=b"k", hooks=hooks)
    central = CentralService(url, store, site=site, client_id=f"central-{site}", office=build, tick_s=0.2,
                             clock=clock or time.monotonic)
    central.start()
    try:
        assert central.bus.wait_subscribed(10)
        yield central
    finally:
        central.stop()
        store.close()


def killer_event(site: str) -> bytes:
    """A badge read whose time is past the end of datetime once moved to UTC."""
    event = make_event(site, "reader-9", "badge.read", 1, BadgeRead(credential="0A", reader=1))
    doc = json.loads(encode(event))
    return json.dumps({**doc, "time": "9999-12-31T23:59:59-23:00"}).encode()


def test_messages_that_killed_the_writer_are_dead_letters_and_storing_goes_on(
    mosquitto_url: MqttUrl, sqlite_url: str, tmp_path: Path, mqtt_client: MqttClientFactory,
) -> None:
    site = unique_site()
    probe = mqtt_client(mosquitto_url)
    huge = b'{"pad": "' + b"x" * (3 * 1024 * 1024) + b'"}'
    with service(mosquitto_url, sqlite_url, site) as central:
        probe.publish(topics.event(site, "reader-9", "badge.read"), KILLERS["deep data"][0])
        probe.publish(topics.status(site, "reader-9"), KILLERS["garbage since"][0], retain=True)
        probe.publish(topics.event(site, "reader-9", "badge.read"), killer_event(site))
        probe.publish(topics.event(site, "reader-9", "badge.read"), huge)
        wait_until(lambda: central.stats.dead_letters == 4, 10, "four dead letters")
        with event_source(mosquitto_url, tmp_path, site, "reader-1") as source:
            event = source.emit("badge.read", BadgeRead(credential="0B", reader=1))
            wait_until(lambda: source.pending() == 0, 10, "a real device's event stored")
        assert central.health().ok
        assert [e.id for e in central.store.query_events(sources=[event.source])] == [event.id]
        letters = {letter.reason: letter for letter in central.store.list_dead_letters()}
    reasons = " | ".join(letters)
    for _payload, reason in KILLERS.values():
        assert reason in reasons
    assert "out of range" in reasons
    (big,) = [d for d in letters.values() if d.size == len(huge)]
    assert big.payload == huge[:PREFIX]
    assert big.sha256 == hashlib.sha256(huge).hexdigest()
    (deep,) = [d for d in letters.values() if "nests deeper" in d.reason]
    assert len(deep.payload) == PREFIX
    # the retained bad status is read again after a restart: a dead letter again, nothing more
    with service(mosquitto_url, sqlite_url, site) as central, \
            event_source(mosquitto_url, tmp_path, site, "reader-1") as source:
        wait_until(lambda: central.stats.dead_letters == 1, 10, "the retained status refused again")
        source.emit("badge.read", BadgeRead(credential="0C", reader=1))
        wait_until(lambda: source.pending() == 0, 10, "storing after the restart")
        assert central.health().ok


def test_a_batch_the_back_office_cannot_take_is_split_to_the_event_at_fault(
    mosquitto_url: MqttUrl, sqlite_url: str, tmp_path: Path,
) -> None:
    def poisoned(_conn: Connection, events: Sequence[Event], _now: datetime) -> int:
        if any(isinstance(e.data, BadgeRead) and e.data.credential == "DEAD" for e in events):
            raise ValueError("this badge breaks the back office")
        return 0

    site = unique_site()
    with service(mosquitto_url, sqlite_url, site, hooks=(poisoned,)) as central, \
            event_source(mosquitto_url, tmp_path, site, "reader-1") as source:
        central.bus.stop()  # hold the batch back: everything below arrives together
        sent = [source.emit("badge.read", BadgeRead(credential=c, reader=1))
                for c in ("01", "02", "03", "DEAD", "05", "06", "07")]
        central.bus.start()
        wait_until(lambda: source.pending() == 0, 20, "every event stored or let pass")
        stored = {e.id for e in central.store.query_events(sources=[sent[0].source], limit=None)}
        letters = central.store.list_dead_letters()
        assert central.health().ok
    assert stored == {e.id for e in sent} - {sent[3].id}
    (letter,) = letters
    assert letter.reason.endswith("ValueError: this badge breaks the back office")
    assert json.loads(letter.payload)["id"] == sent[3].id


def test_a_writer_that_stops_anyway_is_restarted_and_logged_once(
    mosquitto_url: MqttUrl, sqlite_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    site = unique_site()
    clock = FlakyClock()
    caplog.set_level(logging.ERROR, logger="security.ingest.service")
    with service(mosquitto_url, sqlite_url, site, clock=clock) as central, \
            event_source(mosquitto_url, tmp_path, site, "reader-1") as source:
        clock.armed.set()
        wait_until(lambda: central.stats.restarts == 1, 10, "the writer restarted")
        source.emit("badge.read", BadgeRead(credential="0A", reader=1))
        wait_until(lambda: source.pending() == 0, 10, "storing after the restart")
        assert central.health().running
    assert caplog.text.count("the central writer stopped (RuntimeError: the clock broke)") == 1


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # SystemExit, on purpose
def test_a_writer_thread_that_ends_is_started_again_by_the_next_message(
    mosquitto_url: MqttUrl, sqlite_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    site = unique_site()
    clock = FlakyClock()
    clock.failure = SystemExit(3)  # not an Exception: the writer's own loop lets it end the thread
    caplog.set_level(logging.ERROR, logger="security.ingest.service")
    with service(mosquitto_url, sqlite_url, site, clock=clock) as central, \
            event_source(mosquitto_url, tmp_path, site, "reader-1") as source:
        clock.armed.set()
        wait_until(lambda: not central.health().running, 10, "the writer thread ended")
        assert central.health().problem == "ingest is not running"
        source.emit("badge.read", BadgeRead(credential="0A", reader=1))
        wait_until(lambda: source.pending() == 0, 10, "storing after the thread was started again")
        assert central.health().ok
        assert central.stats.restarts == 1
    assert caplog.text.count("the central writer thread ended; starting it again") == 1


def test_health_reports_ingest_and_answers_503_once_it_stops(
    mosquitto_url: MqttUrl, sqlite_url: str, tmp_path: Path,
) -> None:
    site = unique_site()
    with service(mosquitto_url, sqlite_url, site) as central:
        api = ApiServer(central.store, port=0, site=site, audit_key=None, ingest=central.health)
        api.start()
        try:
            with event_source(mosquitto_url, tmp_path, site, "reader-1") as source:
                source.emit("badge.read", BadgeRead(credential="0A", reader=1))
                wait_until(lambda: source.pending() == 0, 10, "an event stored")
            reply = http("GET", f"{api.url}/api/health")
            assert reply.status == 200
            ingest = reply.json["ingest"]
            assert ingest["running"]
            assert ingest["storing"]
            assert ingest["last_batch_age_s"] is not None
            assert ingest["inbox"] >= 0
            central.stop()
            down = http("GET", f"{api.url}/api/health")
            assert down.status == 503
            assert down.json["status"] == "ingest is not running"
            assert down.json["ingest"]["running"] is False
        finally:
            api.stop()


def test_a_device_clock_is_flagged_and_not_believed(
    mosquitto_url: MqttUrl, sqlite_url: str, mqtt_client: MqttClientFactory,
) -> None:
    site = unique_site()
    probe = mqtt_client(mosquitto_url)
    future = datetime(2099, 1, 1, tzinfo=UTC)
    checked_in = make_event(site, "kiosk-1", "visitor.checked_in", 1, EXAMPLES["visitor.checked_in"],
                            time=future)
    with service(mosquitto_url, sqlite_url, site) as central:
        probe.publish(checked_in.topic, encode(checked_in))
        wait_until(lambda: central.stats.stored >= 2, 10, "the check-in and the flag stored")
        now = datetime.now(UTC)
        assert [p.person_id for p in current_on_site(central.store, now)] == ["v-7f3a"]
        checked_out = make_event(site, "kiosk-1", "visitor.checked_out", 2,
                                 VisitorCheckedOut(visit_id="v-7f3a", method="qr"))
        probe.publish(checked_out.topic, encode(checked_out))
        wait_until(lambda: central.stats.stored >= 3, 10, "the check-out stored")
        assert current_on_site(central.store, datetime.now(UTC)) == ()  # left, whatever 2099 says
        (flag,) = central.store.query_events(types=["clock.skewed"])
        stored = central.store.query_events(types=["visitor.checked_in"])[0]
    assert flag.data.for_source == checked_in.source  # type: ignore[attr-defined]
    assert flag.data.skew_s > 300  # type: ignore[attr-defined]
    assert stored.time == future  # kept as sent
    assert stored.received_at is not None
    assert stored.received_at < future


def test_a_device_that_starts_over_is_stored_and_reported_once(
    mosquitto_url: MqttUrl, sqlite_url: str, tmp_path: Path,
) -> None:
    site = unique_site()
    with service(mosquitto_url, sqlite_url, site) as central:
        with event_source(mosquitto_url, tmp_path / "a", site, "reader-1") as old:
            first = [old.emit("badge.read", BadgeRead(credential=f"A{i}", reader=1)) for i in range(3)]
            wait_until(lambda: old.pending() == 0, 10, "the first outbox drained")
        # the outbox is wiped: a new one starts at seq 1, and its first event goes out before the
        # device has heard any watermark (the retained one is still the old outbox's, seq 3)
        with event_source(mosquitto_url, tmp_path / "b", site, "reader-1") as new:
            again = [new.emit("badge.read", BadgeRead(credential=f"B{i}", reader=1)) for i in range(3)]
            wait_until(lambda: new.pending() == 0, 15, "the new outbox drained")
        with event_source(mosquitto_url, tmp_path / "b", site, "reader-1") as same:
            later = same.emit("badge.read", BadgeRead(credential="B9", reader=1))
            wait_until(lambda: same.pending() == 0, 10, "the new outbox's next event stored")
        stored = central.store.query_events(sources=[first[0].source], limit=None)
        resets = central.store.query_events(types=["delivery.reset"])
        marks = central.store.load_watermarks()
        assert central.stats.dead_letters == 0
    assert [e.seq for e in again] == [1, 2, 3]
    assert later.seq == 4
    assert {e.id for e in stored} == {e.id for e in [*first, *again, later]}
    (reset,) = resets
    assert reset.data.for_source == first[0].source  # type: ignore[attr-defined]
    assert reset.data.incarnation == again[0].incarnation  # type: ignore[attr-defined]
    assert reset.data.previous == [first[0].incarnation]  # type: ignore[attr-defined]
    assert marks[(first[0].source, first[0].incarnation)] == 3
    assert marks[(first[0].source, again[0].incarnation)] == 4


def test_a_message_that_claims_the_services_own_devices_is_refused_and_logged(
    mosquitto_url: MqttUrl, sqlite_url: str, mqtt_client: MqttClientFactory, caplog: pytest.LogCaptureFixture,
) -> None:
    """An event on the bus as `central` or `console` that the service did not publish from its log is a
    dead letter, counted and logged once each; the service's own events coming back are not refused."""
    caplog.set_level(logging.WARNING, logger="security.ingest.service")
    site = unique_site()
    probe = mqtt_client(mosquitto_url)
    probe.subscribe(f"gatehouse/{site}/+/event/incident.opened")
    opened = IncidentOpened(incident_id="i-1", title="Door forced", by="someone")
    with service(mosquitto_url, sqlite_url, site) as central:
        own = central.emit("incident.opened", opened).result(timeout=10)
        console = console_emitter(central.store, site)("incident.opened", opened)
        # both are published, so they come back to the service off the bus (before what the probe sends)
        probe.expect(own.topic, timeout=10)
        probe.expect(console.topic, timeout=10)
        forged = [make_event(site, device, "incident.opened", 7, opened) for device in ("central", "console")]
        for count, event in enumerate(forged, start=1):
            probe.publish(event.topic, encode(event))
            wait_until(partial(refused, central, count), 10, f"{event.device}'s claim refused")
        letters = central.store.list_dead_letters()
        logged = central.store.query_events(types=["incident.opened"], limit=None)
        assert central.stats.dead_letters == 2
    assert {e.id for e in logged} == {own.id, console.id}
    assert sorted(letter.source or "" for letter in letters) == sorted(e.source for e in forged)
    reason = "is the central service's own device: its events are made by the service, not taken from the bus"
    assert all(reason in letter.reason for letter in letters)
    assert caplog.text.count(reason) == 2


def refused(central: CentralService, count: int) -> bool:
    """Whether `central` has kept at least `count` dead letters."""
    return central.stats.dead_letters >= count
