"""Lending through a running central service on Mosquitto: a station lends an item due a second ahead,
the service raises `item-overdue` (retained on the alarm topic), and the return resolves and clears it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from broker import topics
from broker.config import MqttUrl
from broker.device_link import DeviceLink
from broker.messages import AlarmStatus
from broker.schemas import AlarmAction, ItemKind, ItemLent, ItemReturned
from security.office.config import OfficeConfig
from security.storage import open_store
from security.storage.loans import loan_history, open_loans
from tests.fixtures.mqtt import MqttClientFactory, MqttProbe
from tests.support import running_service, unique_site, wait_until


def retained(probe: MqttProbe, site: str, alarm_id: str) -> AlarmStatus | None:
    """The newest state of an alarm the probe saw (None once cleared or never seen)."""
    seen = probe.received(topics.alarm(site, alarm_id))
    if not seen or not seen[-1].payload:
        return None
    return AlarmStatus.decode(seen[-1].payload)


@pytest.mark.mosquitto
def test_an_item_not_back_in_time_raises_item_overdue_and_its_return_clears_it(
    mosquitto_url: MqttUrl, sqlite_url: str, tmp_path: Path, mqtt_client: MqttClientFactory,
) -> None:
    site = unique_site()
    watcher = mqtt_client(mosquitto_url)
    watcher.subscribe(topics.all_alarms(site))
    config = OfficeConfig.from_document({"alarms": {"rules": {"item-overdue": {"priority": "high"}}}})
    with running_service(mosquitto_url, sqlite_url, site, office=config) as service, \
            DeviceLink(mosquitto_url, site=site, device="station-1", kind="station",
                       outbox_dir=tmp_path / "station-1") as station:
        wait_until(lambda: service.stats.statuses >= 1, 10, "the station's status")
        due = datetime.now(UTC) + timedelta(seconds=1)
        station.source.emit("item.lent", ItemLent(
            item_id="key-17", item_kind=ItemKind.KEY, description="Server room key", visit_id="v-1",
            due_at=due, by="reception:dewi"))
        wait_until(lambda: retained(watcher, site, "a-1") is not None, 15, "item-overdue retained as a-1")
        alarm = retained(watcher, site, "a-1")
        assert alarm is not None
        assert (alarm.rule, alarm.priority, alarm.state) == ("item-overdue", "high", "unacknowledged")
        assert alarm.raised_at >= due
        assert "Key key-17 (Server room key) lent to visit v-1" in alarm.summary

        station.source.emit("item.returned", ItemReturned(item_id="key-17", by="reception:dewi",
                                                          condition="ok"))
        wait_until(lambda: retained(watcher, site, "a-1") is None, 15, "alarm a-1 cleared")
        late = mqtt_client(mosquitto_url)
        late.subscribe(topics.all_alarms(site))
        late.barrier()
        assert late.received(topics.all_alarms(site)) == [], "a resolved alarm is still retained"

    with open_store(sqlite_url) as store:
        resolved = [e.data for e in store.query_events(types=["alarm.resolved"], limit=None)]
        with store.engine.connect() as conn:
            history = loan_history(conn, "key-17")
            still_out = open_loans(conn)
    note = "key-17 returned (ok), by reception:dewi"
    assert resolved == [AlarmAction(alarm_id="a-1", by="system", note=note)]
    assert still_out == []
    assert [(r.loan.due_at, r.returned is not None) for r in history] == [(due, True)]
