"""The service's own events (an incident opened through the API) take the bus's path into the log, and the
console's (an incident opened with the CLI) reach the back office and the bus through the log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pytest
from sqlalchemy import Connection

from broker import topics
from broker.config import MqttUrl
from broker.events import Event, decode
from broker.schemas import IncidentOpened
from security.ingest.service import CentralService
from security.office.config import OfficeConfig
from security.office.incidents import console_emitter
from security.office.runtime import office_for
from security.storage import open_store
from tests.fixtures.mqtt import MqttClientFactory
from tests.support import unique_site

pytestmark = pytest.mark.mosquitto


def test_an_own_event_is_stored_once_seen_by_the_back_office_and_published(
    mosquitto_url: MqttUrl, sqlite_url: str, mqtt_client: MqttClientFactory,
) -> None:
    """`emit` stores the event in a batch, hands it to the back office's hooks there, then publishes it."""
    site = unique_site()
    seen: list[str] = []

    def hook(_conn: Connection, events: Sequence[Event], _now: datetime) -> int:
        seen.extend(e.id for e in events)
        return 0

    watcher = mqtt_client(mosquitto_url)
    watcher.subscribe(f"gatehouse/{site}/central/event/#")
    opened = IncidentOpened(incident_id="i-1", title="Door forced", by="api:maria")
    with open_store(sqlite_url) as store:
        build = office_for(store, OfficeConfig(), audit_key=b"k", hooks=[hook])
        service = CentralService(mosquitto_url, store, site=site, client_id=f"central-{site}", office=build)
        service.start()
        try:
            assert service.bus.wait_subscribed(10)
            event = service.emit("incident.opened", opened).result(timeout=10)
            published = watcher.expect(topics.event(site, "central", "incident.opened"), timeout=10)
        finally:
            service.stop()
        logged = store.query_events(types=["incident.opened"], limit=None)
    assert (event.source, event.data) == (topics.source(site, "central"), opened)
    assert [e.id for e in logged] == [event.id]
    assert seen == [event.id]
    assert decode(published.payload, published.topic).id == event.id


def test_the_consoles_events_are_handed_to_the_back_office_and_published_once(
    mosquitto_url: MqttUrl, sqlite_url: str, mqtt_client: MqttClientFactory,
) -> None:
    """What the CLI writes into the log while the service runs is seen by the hooks and published, once.

    What the console wrote before the service first ran is history: neither handed on nor published.
    """
    site = unique_site()
    seen: list[str] = []

    def hook(_conn: Connection, events: Sequence[Event], _now: datetime) -> int:
        seen.extend(e.id for e in events)
        return 0

    watcher = mqtt_client(mosquitto_url)
    watcher.subscribe(f"gatehouse/{site}/console/event/#")
    opened = IncidentOpened(incident_id="i-1", title="Door forced", by="cli:maria")
    with open_store(sqlite_url) as store:
        console = console_emitter(store, site)
        before = console("incident.opened", opened)

        def run() -> tuple[Event, str]:
            build = office_for(store, OfficeConfig(), audit_key=b"k", hooks=[hook])
            service = CentralService(mosquitto_url, store, site=site, client_id=f"central-{site}",
                                     office=build, tick_s=0.2)
            service.start()
            try:
                assert service.bus.wait_subscribed(10)
                made = console("incident.opened", opened)
                got = watcher.expect(topics.event(site, "console", "incident.opened"), timeout=10)
            finally:
                service.stop()
            return made, decode(got.payload, got.topic).id

        first, published_first = run()
        second, published_second = run()  # started again: the first is not handed on or published again
        logged = store.query_events(types=["incident.opened"], limit=None)
    assert [e.id for e in logged] == [before.id, first.id, second.id]
    assert (published_first, published_second) == (first.id, second.id)
    assert [i for i in seen if i in (before.id, first.id, second.id)] == [first.id, second.id]
    assert watcher.received(f"gatehouse/{site}/console/event/#") == []


def test_what_the_console_wrote_while_the_service_was_stopped_is_handed_on_at_start_once(
    mosquitto_url: MqttUrl, sqlite_url: str, mqtt_client: MqttClientFactory,
) -> None:
    """The position handed on is kept in the log: an incident opened with the CLI while the service is
    stopped reaches the back office and the bus when it starts, and is not handed on again after a restart.
    """
    site = unique_site()
    seen: list[str] = []

    def hook(_conn: Connection, events: Sequence[Event], _now: datetime) -> int:
        seen.extend(e.id for e in events)
        return 0

    watcher = mqtt_client(mosquitto_url)
    watcher.subscribe(f"gatehouse/{site}/console/event/#")
    opened = IncidentOpened(incident_id="i-1", title="Door forced", by="cli:maria")
    with open_store(sqlite_url) as store:
        console = console_emitter(store, site)

        def run(*, until_published: bool) -> str | None:
            build = office_for(store, OfficeConfig(), audit_key=b"k", hooks=[hook])
            service = CentralService(mosquitto_url, store, site=site, client_id=f"central-{site}",
                                     office=build, tick_s=0.2)
            service.start()
            try:
                assert service.bus.wait_subscribed(10)
                if not until_published:
                    return None
                got = watcher.expect(topics.event(site, "console", "incident.opened"), timeout=10)
                return decode(got.payload, got.topic).id
            finally:
                service.stop()

        run(until_published=False)  # the first start ever: the log keeps where the console stands
        stopped = console("incident.opened", opened)  # written while the service is stopped
        published = run(until_published=True)
        again = console("incident.opened", opened)  # started again: this one only, not the one before
        published_again = run(until_published=True)
    assert (published, published_again) == (stopped.id, again.id)
    assert seen == [stopped.id, again.id]
    assert watcher.received(f"gatehouse/{site}/console/event/#") == []
