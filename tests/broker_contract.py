"""The ACL contract every broker configuration must enforce; subclassed once per broker.

A test module defines a `secured` fixture returning a `SecuredSite` (a running broker that
knows the principals below) and a class `TestX(AclContract)`.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import pytest

from broker.config import MqttUrl
from broker.credentials import CredentialStore, Principal, Role
from tests.fixtures.mqtt import MqttClientFactory

SITE = "lobby"
PRINCIPALS = (
    ("service", Role.SERVICE),
    ("station-1", Role.STATION),
    ("kiosk-1", Role.KIOSK),
    ("reader-1", Role.READER),
    ("reader-2", Role.READER),
)
ROOT = f"gatehouse/{SITE}"
QUIET_S = 0.3  # extra wait for a refused message, after a later one did arrive


def make_store(store: CredentialStore) -> list[Principal]:
    """Create the contract's principals in `store` and return them all."""
    for name, role in PRINCIPALS:
        store.ensure(name, role)
    return store.principals()


@dataclass(slots=True, frozen=True)
class SecuredSite:
    """A running broker with password auth and the generated ACLs for SITE."""

    url: MqttUrl
    principals: dict[str, Principal]

    def url_for(self, name: str) -> MqttUrl:
        """The broker URL with `name`'s credentials."""
        principal = self.principals[name]
        return self.url.with_credentials(principal.name, principal.password)


class AclContract:
    """Authentication and ACL behaviour both brokers share; flags say where they differ."""

    refuses_forbidden_subscribe: bool  # SUBACK 0x80, or a granted SUBACK that delivers nothing
    refuses_forbidden_will: bool  # CONNACK refused, or connected with the Will silently dropped
    refuses_foreign_session: bool  # CONNACK refused, or the session resumed with reads filtered
    refuses_foreign_client_id: bool  # CONNACK refused, or the client id replaced by the user name

    @pytest.mark.timeout(30)
    def test_every_principal_connects_with_its_password(
        self, secured: SecuredSite, mqtt_client: MqttClientFactory
    ) -> None:
        for name in secured.principals:
            mqtt_client(secured.url_for(name), f"{name}@login").close()

    @pytest.mark.timeout(20)
    @pytest.mark.parametrize(
        ("username", "password"),
        [("reader-1", "wrong"), ("nobody", "x"), ("reader-1", ""), (None, None)],
        ids=["wrong-password", "unknown-user", "empty-password", "anonymous"],
    )
    def test_bad_credentials_are_refused(
        self,
        secured: SecuredSite,
        mqtt_client: MqttClientFactory,
        username: str | None,
        password: str | None,
    ) -> None:
        url = secured.url if username is None else secured.url.with_credentials(username, password or "")
        code = mqtt_client(url, connect=False).connect()
        assert code.is_failure
        assert code.value in (0x86, 0x87), str(code)  # 3.1.1 codes 4 and 5, as paho maps them

    @pytest.mark.timeout(20)
    def test_device_events_reach_service_and_station(
        self, secured: SecuredSite, mqtt_client: MqttClientFactory
    ) -> None:
        service = mqtt_client(secured.url_for("service"))
        station = mqtt_client(secured.url_for("station-1"))
        assert not service.subscribe("gatehouse/#").is_failure
        assert not station.subscribe(f"{ROOT}/+/event/#").is_failure
        reader = mqtt_client(secured.url_for("reader-1"))
        reader.publish(f"{ROOT}/reader-1/event/badge.read", b"e1")
        assert service.expect(f"{ROOT}/reader-1/event/#").payload == b"e1"
        assert station.expect(f"{ROOT}/reader-1/event/#").payload == b"e1"

    @pytest.mark.timeout(20)
    @pytest.mark.parametrize(
        "topic",
        [
            f"{ROOT}/reader-2/event/badge.read",
            f"{ROOT}/reader-2/status",
            f"{ROOT}/reader-2/command/unlock",
            f"{ROOT}/reader-1/command/unlock",
            f"{ROOT}/reader-1/ack",
            f"{ROOT}/alarm/a-1",
            "gatehouse/other-site/reader-1/event/badge.read",
            f"{ROOT}/reader-1/event/access.granted",
            f"{ROOT}/reader-1/event/visitor.checked_in",
            f"{ROOT}/reader-1/event/door.opened",
        ],
    )
    def test_device_cannot_publish_outside_its_subtree_or_its_kinds_types(
        self, secured: SecuredSite, mqtt_client: MqttClientFactory, topic: str
    ) -> None:
        spy = mqtt_client(secured.url_for("service"))
        assert not spy.subscribe("gatehouse/#").is_failure
        reader = mqtt_client(secured.url_for("reader-1"))
        reader.publish(topic, b"forbidden")
        reader.publish(f"{ROOT}/reader-1/event/badge.read", b"allowed")  # a barrier
        spy.expect(f"{ROOT}/reader-1/event/badge.read")
        time.sleep(QUIET_S)
        assert spy.received(topic) == []
        assert reader.client.is_connected()  # dropped, not disconnected

    @pytest.mark.timeout(20)
    @pytest.mark.parametrize(
        "topic_filter",
        [
            f"{ROOT}/reader-2/command/#",
            f"{ROOT}/+/command/#",
            f"{ROOT}/+/event/#",
            f"{ROOT}/reader-2/ack",
            "gatehouse/#",
            "#",
        ],
    )
    def test_device_cannot_read_outside_its_subtree(
        self, secured: SecuredSite, mqtt_client: MqttClientFactory, topic_filter: str
    ) -> None:
        reader = mqtt_client(secured.url_for("reader-1"))
        code = reader.subscribe(topic_filter)
        assert code.is_failure is self.refuses_forbidden_subscribe, str(code)
        assert not reader.subscribe(f"{ROOT}/reader-1/command/#").is_failure
        service = mqtt_client(secured.url_for("service"))
        service.publish(f"{ROOT}/reader-2/command/unlock", b"for reader-2")
        service.publish(f"{ROOT}/reader-2/event/badge.read", b"reader-2 event")
        service.publish(f"{ROOT}/reader-1/command/unlock", b"for reader-1")
        assert reader.expect(f"{ROOT}/reader-1/command/unlock").payload == b"for reader-1"
        time.sleep(QUIET_S)
        assert reader.received(f"{ROOT}/reader-2/#") == []

    @pytest.mark.timeout(20)
    def test_only_the_service_commands_devices_and_stations_read_alarms(
        self, secured: SecuredSite, mqtt_client: MqttClientFactory
    ) -> None:
        reader = mqtt_client(secured.url_for("reader-1"))
        assert not reader.subscribe(f"{ROOT}/reader-1/command/#").is_failure
        station = mqtt_client(secured.url_for("station-1"))
        assert not station.subscribe(f"{ROOT}/alarm/#").is_failure
        assert not station.subscribe(f"{ROOT}/+/status").is_failure
        kiosk = mqtt_client(secured.url_for("kiosk-1"))
        kiosk.publish(f"{ROOT}/reader-1/command/unlock", b"from kiosk")
        station.publish(f"{ROOT}/reader-1/command/unlock", b"from station")
        mqtt_client(secured.url_for("service")).publish(f"{ROOT}/reader-1/command/unlock", b"from service")
        assert reader.expect().payload == b"from service"  # the others' came first, if at all
        time.sleep(QUIET_S)
        assert reader.received() == []
        mqtt_client(secured.url_for("service")).publish(f"{ROOT}/alarm/a-7", b"raised")
        assert station.expect(f"{ROOT}/alarm/#").payload == b"raised"

    @pytest.mark.timeout(20)
    def test_last_will_marks_a_vanished_device_offline(
        self, secured: SecuredSite, mqtt_client: MqttClientFactory
    ) -> None:
        status = f"{ROOT}/reader-2/status"
        station = mqtt_client(secured.url_for("station-1"))
        assert not station.subscribe(f"{ROOT}/+/status").is_failure
        reader = mqtt_client(secured.url_for("reader-2"), will=(status, b"offline", True))
        reader.publish(status, b"online", retain=True)
        assert station.expect(status).payload == b"online"
        reader.drop()
        assert station.expect(status).payload == b"offline"
        late = mqtt_client(secured.url_for("station-1"))
        assert not late.subscribe(status).is_failure
        retained = late.expect(status)
        assert (retained.payload, retained.retain) == (b"offline", True)
        mqtt_client(secured.url_for("service")).publish(status, b"", retain=True)  # clear it

    @pytest.mark.timeout(20)
    def test_will_outside_the_acl_never_arrives(
        self, secured: SecuredSite, mqtt_client: MqttClientFactory
    ) -> None:
        spy = mqtt_client(secured.url_for("service"))
        assert not spy.subscribe("gatehouse/#").is_failure
        evil = (f"{ROOT}/reader-2/command/unlock", b"evil", False)
        reader = mqtt_client(secured.url_for("reader-1"), will=evil, connect=False)
        code = reader.connect()
        assert code.is_failure is self.refuses_forbidden_will, str(code)
        if not code.is_failure:
            reader.drop()
        barrier = mqtt_client(secured.url_for("reader-2"))
        barrier.publish(f"{ROOT}/reader-2/event/badge.read", b"barrier")
        spy.expect(f"{ROOT}/reader-2/event/badge.read")
        time.sleep(QUIET_S)
        assert spy.received(f"{ROOT}/reader-2/command/#") == []

    @pytest.mark.timeout(20)
    def test_retained_status_reaches_a_late_subscriber(
        self, secured: SecuredSite, mqtt_client: MqttClientFactory
    ) -> None:
        status = f"{ROOT}/kiosk-1/status"
        kiosk = mqtt_client(secured.url_for("kiosk-1"))
        kiosk.publish(status, b'{"state": "online"}', retain=True)
        station = mqtt_client(secured.url_for("station-1"))
        assert not station.subscribe(f"{ROOT}/+/status").is_failure
        got = station.expect(status)
        assert (got.payload, got.retain) == (b'{"state": "online"}', True)
        kiosk.publish(status, b"", retain=True)

    @pytest.mark.timeout(20)
    def test_service_may_share_its_subscription(
        self, secured: SecuredSite, mqtt_client: MqttClientFactory
    ) -> None:
        service = mqtt_client(secured.url_for("service"))
        assert not service.subscribe("$share/ingest/gatehouse/+/+/event/#").is_failure
        reader = mqtt_client(secured.url_for("reader-1"))
        assert reader.subscribe("$share/ingest/gatehouse/#").is_failure is (
            self.refuses_forbidden_subscribe
        )

    @pytest.mark.timeout(20)
    def test_another_principal_cannot_resume_a_persistent_session(
        self, secured: SecuredSite, mqtt_client: MqttClientFactory
    ) -> None:
        client_id = f"reader-2@{uuid.uuid4().hex[:8]}"
        commands = f"{ROOT}/reader-2/command/#"
        owner = mqtt_client(secured.url_for("reader-2"), client_id, clean_session=False)
        assert not owner.subscribe(commands).is_failure
        owner.close()
        service = mqtt_client(secured.url_for("service"))
        station = mqtt_client(secured.url_for("station-1"))
        assert not station.subscribe(f"{ROOT}/+/event/#").is_failure
        service.publish(f"{ROOT}/reader-2/command/unlock", b"queued while away")
        service.publish(f"{ROOT}/service/event/barrier.passed", b"")  # queued by now
        station.expect(f"{ROOT}/service/event/#")
        thief = mqtt_client(secured.url_for("reader-1"), client_id, clean_session=False, connect=False)
        code = thief.connect()
        assert code.is_failure is self.refuses_foreign_session, str(code)
        if code.is_failure:
            back = mqtt_client(secured.url_for("reader-2"), client_id, clean_session=False)
            assert back.expect(commands).payload == b"queued while away"
        else:
            service.publish(f"{ROOT}/reader-2/command/unlock", b"live")
            time.sleep(3 * QUIET_S)
            assert thief.received() == []

    @pytest.mark.timeout(20)
    def test_a_refused_connect_leaves_the_session_it_names_alone(
        self, secured: SecuredSite, mqtt_client: MqttClientFactory
    ) -> None:
        client_id = f"reader-2@{uuid.uuid4().hex[:8]}"
        commands = f"{ROOT}/reader-2/command/#"
        owner = mqtt_client(secured.url_for("reader-2"), client_id)
        assert not owner.subscribe(commands).is_failure
        wrong = secured.url.with_credentials("reader-2", "wrong")
        assert mqtt_client(wrong, client_id, connect=False).connect().is_failure
        mqtt_client(secured.url_for("service")).publish(f"{ROOT}/reader-2/command/x", b"yours")
        assert owner.expect(commands, timeout=2).payload == b"yours"

    @pytest.mark.timeout(30)
    @pytest.mark.parametrize("clean_session", [True, False], ids=["clean", "persistent"])
    def test_nobody_takes_over_the_service_s_session(
        self, secured: SecuredSite, mqtt_client: MqttClientFactory, clean_session: bool
    ) -> None:
        """A device's password, or a wrong one, with the service's client id leaves the service alone."""
        client_id = f"service@{uuid.uuid4().hex[:8]}"
        service = mqtt_client(secured.url_for("service"), client_id, clean_session=False)
        assert not service.subscribe(f"{ROOT}/+/event/#").is_failure
        for url in (secured.url_for("reader-1"), secured.url.with_credentials("service", "wrong")):
            intruder = mqtt_client(url, client_id, clean_session=clean_session, connect=False)
            code = intruder.connect()
            wrong_password = url.password == "wrong"
            assert code.is_failure is (wrong_password or self.refuses_foreign_client_id), str(code)
            intruder.close()
            mark = f"after {url.username}:{url.password}".encode()
            mqtt_client(secured.url_for("reader-2")).publish(f"{ROOT}/reader-2/event/badge.read", mark)
            assert service.expect(f"{ROOT}/reader-2/event/#").payload == mark
            assert service.client.is_connected()
