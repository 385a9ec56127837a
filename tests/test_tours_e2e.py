"""A guard tour in a running central service on Mosquitto: a reader's `badge.read` of the first checkpoint
starts a round, the service's clock finds the next checkpoint missed and retains its alarm, a restart
finds the round where it was, and the late read then raises `tour-checkpoint-late`."""

from __future__ import annotations

from pathlib import Path

import pytest

from broker import topics
from broker.config import MqttUrl
from broker.device_link import DeviceLink
from broker.messages import AlarmStatus
from broker.schemas import BadgeRead, TourCheckpoint
from security.office.config import OfficeConfig
from security.storage import open_store
from tests.fixtures.mqtt import MqttClientFactory, MqttProbe
from tests.support import running_service, unique_site, wait_until

pytestmark = pytest.mark.mosquitto

CONFIG = OfficeConfig.from_document({"tours": {"devices": ["reader-1"], "tour": [{
    "name": "night-round",
    "checkpoints": [
        {"name": "lobby", "badge": "C0000001", "device": "reader-1"},
        {"name": "dock", "badge": "C0000002", "device": "reader-1", "max_minutes": 0.05},  # 3 s
        {"name": "roof", "badge": "C0000003", "device": "reader-1", "max_minutes": 60},
    ],
}]}})


def alarms_of(probe: MqttProbe, site: str, rule: str) -> list[AlarmStatus]:
    """The newest retained state of each alarm of `rule` the probe saw."""
    newest: dict[str, bytes] = {}
    for message in probe.received(topics.all_alarms(site)):
        newest[message.topic] = message.payload
    found = [AlarmStatus.decode(p) for p in newest.values() if p]
    return [a for a in found if a.rule == rule]


def test_a_missed_checkpoint_raises_its_alarm_and_a_restart_keeps_the_round(
    mosquitto_url: MqttUrl, sqlite_url: str, tmp_path: Path, mqtt_client: MqttClientFactory,
) -> None:
    site = unique_site()
    watcher = mqtt_client(mosquitto_url)
    watcher.subscribe(topics.all_alarms(site))
    with running_service(mosquitto_url, sqlite_url, site, office=CONFIG) as service, \
            DeviceLink(mosquitto_url, site=site, device="reader-1", kind="reader",
                       outbox_dir=tmp_path / "reader-1") as reader:
        wait_until(lambda: service.stats.statuses >= 1, 10, "the reader's status")
        reader.source.emit("badge.read", BadgeRead(credential="C0000001", reader=1, format="rdm6300"))
        wait_until(lambda: bool(alarms_of(watcher, site, "tour-checkpoint-missed")), 20, "the missed alarm")
        [missed] = alarms_of(watcher, site, "tour-checkpoint-missed")
        assert (missed.priority, missed.state) == ("high", "unacknowledged")
        assert "dock" in missed.summary
        assert alarms_of(watcher, site, "unknown-credential") == []  # the tag is a place, not a badge

    with running_service(mosquitto_url, sqlite_url, site, office=CONFIG) as again, \
            DeviceLink(mosquitto_url, site=site, device="reader-1", kind="reader",
                       outbox_dir=tmp_path / "reader-1") as reader:
        office = again.office
        assert office is not None
        running = office.office.state.tours.rounds["night-round"]
        assert (running.position, running.missed_reported) == (1, True)
        reader.source.emit("badge.read", BadgeRead(credential="C0000002", reader=1, format="rdm6300"))
        wait_until(lambda: bool(alarms_of(watcher, site, "tour-checkpoint-late")), 20, "the late alarm")

    with open_store(sqlite_url) as store:
        own = store.query_events(types=["tour.checkpoint"], limit=None)
    outcomes = [(e.data.checkpoint, e.data.outcome) for e in own if isinstance(e.data, TourCheckpoint)]
    assert outcomes == [("lobby", "on_time"), ("dock", "missed"), ("dock", "late")]
