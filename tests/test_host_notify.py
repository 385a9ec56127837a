"""Telling the host: a kiosk's check-in, through a running central service, becomes an e-mail at a real
SMTP server, a POST at a real webhook and `host.notified` in the log; plus the hook and the notifier's
result callback on their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from broker.config import ConfigError, MqttUrl, Settings
from broker.device_link import DeviceLink
from broker.embedded import free_port
from broker.events import Event, make_event
from broker.schemas import HostNotified, VisitorCheckedIn
from security.office.access import Person
from security.office.invitations import arrival_text, queue_host_notices
from security.office.notify import Notifier, NotifyConfig
from security.site.central import Central, CentralConfig
from security.storage import EventStore, insert_batch, open_store
from security.storage.notifications import Notification, enqueue, list_notifications
from security.storage.people import Change, add_person
from tests.fixtures.servers import HookServer, MailServer
from tests.support import unique_site, wait_until

WARSAW = ZoneInfo("Europe/Warsaw")
NOW = datetime(2026, 11, 23, 8, 12, tzinfo=UTC)


def host_notified(store: EventStore) -> list[HostNotified]:
    """The `host.notified` events in the log, oldest first."""
    found = [e.data for e in store.query_events(types=["host.notified"], limit=None)]
    return [d for d in found if isinstance(d, HostNotified)]


def central_config(smtp_port: int, webhooks: list[str], **notify: Any) -> CentralConfig:
    """A central service in Warsaw time telling hosts by e-mail (and webhooks), with no HTTP API."""
    return CentralConfig.from_document({
        "alarms": {"tick_s": 0.2, "timezone": "Europe/Warsaw"},
        "notify": {"smtp": {"host": "127.0.0.1", "port": smtp_port, "sender": "gatehouse@example.org"},
                   "hosts": {"webhooks": webhooks}, **notify},
        "api": {"enabled": False},
    })


def test_a_kiosk_check_in_reaches_the_host_by_email_and_webhook_and_is_logged(
    mosquitto_url: MqttUrl, sqlite_url: str, tmp_path: Path, mail: MailServer, hook: HookServer,
) -> None:
    """visitor.checked_in from a kiosk → e-mail + webhook → host.notified ok=True; the invitation is used."""
    site = unique_site()
    settings = Settings(site=site, data_dir=tmp_path / "data", db=sqlite_url)
    kiosk_link = DeviceLink(mosquitto_url, site=site, device="kiosk-1", kind="kiosk",
                            outbox_dir=tmp_path / "k")
    with open_store(sqlite_url) as store:
        add_person(store.engine, Person("e-1", "Jan Kowalski", email="jan@example.org"),
                   Change("test", NOW))
        with Central(settings, mosquitto_url, store, central_config(mail.port, [hook.url])) as central, \
                kiosk_link as kiosk:
            assert central.service.bus.wait_subscribed(10)
            invitation = central.invitations.invite(visitor_name="Ana López", host_id="e-1", by="test",
                                                    company="Acme").invitation
            kiosk.source.emit("visitor.checked_in", VisitorCheckedIn(
                visit_id=invitation.visit_id, visitor_name="Ana López", visitor_type="guest", company="Acme",
                host_id="e-1", host_name="Jan Kowalski", invited=True))
            wait_until(lambda: len(host_notified(store)) == 2, 20, "host.notified for e-mail and webhook")

        [checked_in] = store.query_events(types=["visitor.checked_in"])
        clock = checked_in.time.astimezone(WARSAW).strftime("%H:%M")
        [(to, message)] = mail.recorder.messages
        assert to == ["jan@example.org"]
        assert str(message["Subject"]) == f"[Gatehouse {site}] Your visitor Ana López is at reception"
        assert f"Ana López from Acme is at reception (checked in {clock} at kiosk-1)" in message.get_content()
        [payload] = hook.answered(200)
        assert (payload["type"], payload["visit_id"], payload["host_id"], payload["host_name"]) == (
            "visitor.arrived", invitation.visit_id, "e-1", "Jan Kowalski")
        assert payload["kiosk"] == "kiosk-1"
        told = host_notified(store)
        assert sorted((n.channel, n.ok, n.visit_id, n.host_id) for n in told) == [
            ("email", True, invitation.visit_id, "e-1"), ("webhook", True, invitation.visit_id, "e-1")]
        used = central.invitations.get(invitation.visit_id)
        assert used is not None
        assert used.state == "checked_in"
        assert [e.type for e in store.query_events(types=["visitor.invited"])] == ["visitor.invited"]


def test_a_host_who_cannot_be_reached_is_logged_as_not_notified(
    mosquitto_url: MqttUrl, sqlite_url: str, tmp_path: Path,
) -> None:
    """The mail server is down and one try is allowed: host.notified ok=False says why."""
    site = unique_site()
    settings = Settings(site=site, data_dir=tmp_path / "data", db=sqlite_url)
    config = central_config(free_port(), [], max_attempts=1)
    kiosk_link = DeviceLink(mosquitto_url, site=site, device="kiosk-2", kind="kiosk",
                            outbox_dir=tmp_path / "k")
    with open_store(sqlite_url) as store:
        add_person(store.engine, Person("e-1", "Jan Kowalski", email="jan@example.org"), Change("test", NOW))
        with Central(settings, mosquitto_url, store, config) as central, kiosk_link as kiosk:
            assert central.service.bus.wait_subscribed(10)
            kiosk.source.emit("visitor.checked_in", VisitorCheckedIn(
                visit_id="WALKIN0001", visitor_name="Bo Berg", visitor_type="delivery", host_id="e-1"))
            wait_until(lambda: host_notified(store) != [], 20, "host.notified")
        [told] = host_notified(store)
        assert (told.visit_id, told.channel, told.ok) == ("WALKIN0001", "email", False)
        assert "connection refused" in (told.detail or "")


@pytest.fixture
def store(db_url: str) -> Iterator[EventStore]:
    """A store with a host who has an e-mail address and one who has none."""
    with open_store(db_url) as opened:
        add_person(opened.engine, Person("e-1", "Jan Kowalski", email="jan@example.org"), Change("t", NOW))
        add_person(opened.engine, Person("e-2", "Ewa Nowak"), Change("t", NOW))
        yield opened


def arrival(visit_id: str, host_id: str | None, seq: int, company: str | None = None) -> Event:
    """A kiosk's check-in naming a host."""
    data = VisitorCheckedIn(visit_id=visit_id, visitor_name="Ana López", visitor_type="guest",
                            host_id=host_id, company=company)
    return make_event("hq", "kiosk-1", "visitor.checked_in", seq, data, time=NOW)


def queued_for(
    store: EventStore, events: list[Event], config: NotifyConfig
) -> tuple[int, list[Notification]]:
    """Store `events` with the host hook in their batch; how many it queued and the queue after."""
    with store.transaction() as conn:
        result = insert_batch(conn, events, NOW)
        counted = queue_host_notices(conn, result.stored, NOW, config=config, site="hq", tz=WARSAW)
    with store.engine.connect() as conn:
        return counted, list(reversed(list_notifications(conn)))


def test_the_hook_queues_one_email_per_host_with_an_address_and_every_webhook(store: EventStore) -> None:
    """No address: webhooks only; no host: nothing; an event stored again: nothing again."""
    config = NotifyConfig.model_validate({"hosts": {"webhooks": ["https://chat.example.org/hook"]}})
    events = [arrival("V1", "e-1", 1, "Acme"), arrival("V2", "e-2", 2), arrival("V3", None, 3),
              arrival("V4", "ghost", 4)]
    count, rows = queued_for(store, events, config)
    assert count == len(rows) == 4
    chat = "https://chat.example.org/hook"
    assert [(r.channel, r.target, r.payload["visit_id"]) for r in rows] == [
        ("email", "jan@example.org", "V1"), ("webhook", chat, "V1"), ("webhook", chat, "V2"),
        ("webhook", chat, "V4")]
    assert rows[0].body.startswith("Ana López from Acme is at reception (checked in 09:12 at kiosk-1).")
    assert rows[0].alarm_id is None
    assert queued_for(store, events, config)[0] == 0  # duplicates are not newly stored


def test_hosts_email_can_be_turned_off(store: EventStore) -> None:
    """`[notify.hosts] email = false` with no webhooks tells nobody."""
    config = NotifyConfig.model_validate({"hosts": {"email": False}})
    assert queued_for(store, [arrival("V1", "e-1", 1)], config) == (0, [])


def test_arrival_text_without_a_company() -> None:
    """The visitor's name alone when no company was given."""
    event = arrival("V1", "e-1", 1)
    assert isinstance(event.data, VisitorCheckedIn)
    expected = "Ana López is at reception (checked in 09:12 at kiosk-1)"
    assert arrival_text(event.data, event, WARSAW) == expected


@pytest.mark.parametrize(("hosts", "problem"), [
    ({"webhooks": ["ftp://x"]}, "webhooks"), ({"sms": True}, "hosts.sms"), ({"email": "yes please"}, "email"),
])
def test_bad_hosts_settings_are_refused(hosts: dict[str, Any], problem: str) -> None:
    """The `[notify.hosts]` section is checked like the rest."""
    with pytest.raises(ConfigError, match=problem):
        CentralConfig.from_document({"notify": {"hosts": hosts}})


def test_the_notifier_tells_its_callback_after_sent_and_after_giving_up(
    store: EventStore, mail: MailServer,
) -> None:
    """on_result(notification, ok, detail) once per final outcome; a failing callback changes nothing."""
    results: list[tuple[str, bool, str | None]] = []

    def told(notification: Notification, ok: bool, detail: str | None) -> None:
        results.append((notification.target, ok, detail))
        raise RuntimeError("the callback's own problem")

    with store.engine.begin() as conn:
        for target in ("jan@example.org", "http://127.0.0.1:1/hook"):
            channel = "email" if "@" in target else "webhook"
            enqueue(conn, channel=channel, target=target, subject="s", body="b", payload={}, now=NOW)
    config = NotifyConfig.model_validate({"smtp": {"host": "127.0.0.1", "port": mail.port},
                                          "max_attempts": 2, "webhook_timeout_s": 2})
    notifier = Notifier(store.engine, config, on_result=told)
    assert notifier.run_once(NOW) == 1
    assert results == [("jan@example.org", True, None)]  # the webhook's first failure is only a retry
    assert notifier.run_once(NOW + timedelta(hours=1)) == 0
    assert len(results) == 2
    assert results[1][:2] == ("http://127.0.0.1:1/hook", False)
    assert "cannot reach" in (results[1][2] or "")
    with store.engine.connect() as conn:
        assert sorted(str(n.state) for n in list_notifications(conn)) == ["failed", "sent"]
    assert mail.recorder.count() == 1
