"""The whole central service of a site (`Central`): escalation delivered by e-mail and webhook, alarms
acted on and incidents opened through the HTTP API, all through the running service over a real
broker, a real database, a real SMTP server and a real webhook receiver.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from broker import topics
from broker.config import ConfigError, MqttUrl, Settings
from broker.device_link import DeviceLink
from broker.schemas import DoorChange, IncidentOpened
from security.office.audit import verify
from security.site.central import Central, CentralConfig, next_run
from security.storage import open_store
from security.storage.audit_log import chain_head, read_chain
from security.storage.people import Change
from security.storage.tokens import create_token
from tests.fixtures.mqtt import MqttClientFactory
from tests.fixtures.servers import HookServer, MailServer
from tests.support import http, unique_site, wait_until

WARSAW = ZoneInfo("Europe/Warsaw")


@pytest.mark.parametrize(("now", "expected"), [
    (datetime(2026, 11, 22, 1, 0, tzinfo=WARSAW), datetime(2026, 11, 22, 3, 0, tzinfo=WARSAW)),
    (datetime(2026, 11, 22, 3, 0, tzinfo=WARSAW), datetime(2026, 11, 23, 3, 0, tzinfo=WARSAW)),
    (datetime(2026, 11, 22, 23, 59, tzinfo=WARSAW), datetime(2026, 11, 23, 3, 0, tzinfo=WARSAW)),
    # the night the clocks go back: 03:00 happens once, at 02:00 UTC
    (datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 10, 25, 2, 0, tzinfo=UTC)),
])
def test_the_nightly_run_is_at_the_hour_local_to_the_site(now: datetime, expected: datetime) -> None:
    assert next_run(now, 3, WARSAW) == expected


@pytest.mark.parametrize(("doc", "message"), [
    ({"api": {"port": 99999}}, "api.port"),
    ({"api": {"colour": "red"}}, "api.colour"),
    ({"retention": {"days": -1}}, "retention.days"),
    ({"notify": {"roles": {"supervisor": {"webhooks": ["ftp://x"]}}}}, "webhooks"),
    ({"alarms": {"rules": {"door-forced": {"priority": "urgent"}}}}, "Priority"),
    ({"accounts": {"session_idle_minutes": 0.5}}, "accounts.session_idle_minutes"),
    ({"accounts": {"session_idle_minutes": 120, "session_hours": 1}}, "idle timeout is at least a minute"),
    ({"accounts": {"lockout": True}}, "accounts.lockout"),
])
def test_bad_sections_stop_the_service_with_what_is_wrong(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        CentralConfig.from_document(doc)


def test_a_missing_or_broken_settings_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        CentralConfig.read(tmp_path / "nope.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[access\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        CentralConfig.read(broken)


def call(base: str, method: str, path: str, token: str, body: Any = None) -> tuple[int, Any]:
    """One JSON request to the API; its status and decoded answer."""
    reply = http(method, base + path, token=token, body=body)
    return reply.status, reply.json


def test_escalation_reaches_email_and_webhook_and_the_api_acts_through_the_service(
    mosquitto_url: MqttUrl, sqlite_url: str, tmp_path: Path, mail: MailServer, hook: HookServer,
    mqtt_client: MqttClientFactory,
) -> None:
    site = unique_site()
    settings = Settings(site=site, data_dir=tmp_path / "data", db=sqlite_url)
    config = CentralConfig.from_document({
        "alarms": {"tick_s": 0.2,
                   "escalation": {"high": [{"after_s": 0.5, "level": 1, "notify": ["supervisor"]}]}},
        "notify": {"smtp": {"host": "127.0.0.1", "port": mail.port, "sender": "gatehouse@example.org"},
                   "roles": {"supervisor": {"emails": ["sup@example.org"], "webhooks": [hook.url]}}},
        "api": {"port": 0},
    })
    watcher = mqtt_client(mosquitto_url)
    watcher.subscribe(f"gatehouse/{site}/central/event/#")
    door_link = DeviceLink(mosquitto_url, site=site, device="door-1", kind="door",
                           outbox_dir=tmp_path / "door")
    with open_store(sqlite_url) as store, Central(settings, mosquitto_url, store, config) as central, \
            door_link as door:
        assert central.service.bus.wait_subscribed(10)
        assert central.api is not None
        door.source.emit("door.forced", DoorChange(door="server-room"))

        wait_until(lambda: hook.answered(200) != [] and mail.recorder.count() == 1, 20,
                   "escalation delivered")
        [payload] = hook.answered(200)
        assert payload["type"] == "alarm.escalated"
        assert payload["alarm"]["id"] == "a-1"
        assert payload["level"] == 1
        [(to, message)] = mail.recorder.messages
        assert to == ["sup@example.org"]
        assert "server-room" in str(message["Subject"]) + message.get_content()

        change = Change("test", datetime.now(UTC), central.audit_key)
        _info, token = create_token(store.engine, "maria", "guard", change)
        api = central.api.url
        status, alarm = call(api, "POST", "/api/alarms/a-1/acknowledge", token, {"note": "on my way"})
        assert (status, alarm["state"]) == (200, "acknowledged")
        status, again = call(api, "POST", "/api/alarms/a-1/acknowledge", token, {})
        assert (status, again["state"]) == (200, "acknowledged")  # a second acknowledgement changes nothing
        status, missing = call(api, "POST", "/api/alarms/a-9/resolve", token, {"note": "checked"})
        assert (status, missing["error"]) == (409, "no alarm a-9")
        status, incident = call(api, "POST", "/api/incidents", token,
                                {"title": "Server room door forced", "alarm_ids": ["a-1"]})
        assert (status, incident["state"]) == (201, "open")
        opened = f"gatehouse/{site}/central/event/incident.opened"
        wait_until(lambda: watcher.received(opened) != [], 10, "incident.opened published")
        status, resolved = call(api, "POST", "/api/alarms/a-1/resolve", token, {"note": "secured"})
        assert (status, resolved["state"]) == (200, "resolved")

    with open_store(sqlite_url) as store:
        own = [e.type for e in store.query_events(sources=[topics.source(site, "central")], limit=None)]
        with store.engine.connect() as conn:
            report = verify(read_chain(conn), key=central.audit_key, expected=chain_head(conn))
            actions = [r.action for r in read_chain(conn)]
    assert own[:2] == ["alarm.raised", "alarm.escalated"]
    assert own.count("alarm.acknowledged") == 1
    assert own.index("alarm.acknowledged") < own.index("incident.opened") < own.index("alarm.resolved")
    assert report.ok
    assert actions == ["api_token.created", "alarm.acknowledge", "alarm.acknowledge", "alarm.resolve_refused",
                       "incident.opened", "alarm.resolve"]


def test_an_event_the_writer_cannot_take_is_written_straight_into_the_log(
    sqlite_url: str, tmp_path: Path,
) -> None:
    """With the service not running, a desk's event still reaches the log (as the console's), once."""
    settings = Settings(site=unique_site(), data_dir=tmp_path / "data", db=sqlite_url)
    unused = MqttUrl.parse("mqtt://127.0.0.1:1")  # never connected: the writer never runs
    with open_store(sqlite_url) as store:
        config = CentralConfig.from_document({"api": {"enabled": False}})
        central = Central(settings, unused, store, config)
        central.call_timeout_s = 0.2
        opened = IncidentOpened(incident_id="i-1", title="Door forced", by="api:maria")
        central.emit("incident.opened", opened)
        logged = store.query_events(types=["incident.opened"], limit=None)
    assert [(e.device, e.data) for e in logged] == [("console", opened)]
