"""The database goes away under a running service: nothing is lost, it says so once, it recovers."""

from __future__ import annotations

import logging
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from broker import topics
from broker.config import MqttUrl
from broker.schemas import BadgeRead
from security.storage import open_store
from tests.support import event_source, running_service, unique_site, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.mosquitto]


def _allow(server: Engine, database: str, allowed: bool) -> None:
    with server.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS {str(allowed).lower()}'))
        if not allowed:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d"),
                         {"d": database})


def test_database_outage(mosquitto_url: MqttUrl, pg_url: str, pg_server: Engine, tmp_path: Path,
                         caplog: pytest.LogCaptureFixture) -> None:
    database = make_url(pg_url).database
    assert database is not None
    site = unique_site()
    garbage = mqtt.Client(CallbackAPIVersion.VERSION2)
    garbage.connect(mosquitto_url.host, mosquitto_url.port)
    garbage.loop_start()
    caplog.set_level(logging.INFO, logger="security.ingest.service")
    try:
        with running_service(mosquitto_url, pg_url, site) as service, \
                event_source(mosquitto_url, tmp_path, site, "reader-1", resend_after=1.0,
                             max_resend_after=2.0) as source:
            for i in range(20):
                source.emit("badge.read", BadgeRead(credential=f"{i:04X}", reader=1))
            wait_until(lambda: source.pending() == 0, 20, "the first 20 stored")
            _allow(pg_server, database, allowed=False)
            for i in range(20, 40):
                source.emit("badge.read", BadgeRead(credential=f"{i:04X}", reader=1))
            garbage.publish(topics.event(site, "reader-1", "badge.read"), b"{not json", qos=1)
            wait_until(lambda: "cannot store events" in caplog.text, 20, "the outage logged")
            wait_until(lambda: service.stats.batches > 0 and source.pending() == 20, 15, "events held")
            down = service.health()
            assert down.running  # the writer goes on, and says it cannot store
            assert down.problem == "events cannot be stored"
            _allow(pg_server, database, allowed=True)
            wait_until(lambda: source.pending() == 0, 60, "the outbox drained after the outage")
            assert service.health().ok
            wait_until(lambda: service.stats.dead_letters == 1, 10, "the malformed message kept")
    finally:
        _allow(pg_server, database, allowed=True)
        garbage.loop_stop()
        garbage.disconnect()
    assert caplog.text.count("cannot store events") == 1
    assert "storing events again" in caplog.text
    with open_store(pg_url) as store:
        assert store.count_events() == 40
        letters = store.list_dead_letters()
    assert len(letters) == 1
    assert letters[0].reason.startswith("payload is not JSON")
