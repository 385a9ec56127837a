"""Commands only from the service: a station's `command.requested` and the API's unlock, checked,
audited, sent with an expiry and recorded as `command.sent`; a station can no longer command a door.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from broker import topics
from broker.config import MqttUrl, Settings
from broker.credentials import CredentialStore, Role
from broker.device_link import DeviceLink
from broker.embedded import EmbeddedBroker, free_port
from broker.events import Event, make_event
from broker.messages import Command
from broker.schemas import AccessDenied, BadgeRead, CommandRequested, CommandSent, Data, DenyReason
from security.api import ApiServer
from security.office.config import OfficeConfig
from security.office.engine import BackOffice, CommandRequest, Effects
from security.site.central import Central, CentralConfig
from security.storage import open_store
from security.storage.audit_log import read_chain
from security.storage.people import Change
from security.storage.tokens import create_token
from tests.fixtures.mqtt import MqttClientFactory
from tests.support import http, wait_until
from tests.test_backoffice_e2e import BADGE, enrol

SITE = "hq"
T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
ACCESS = {"doors": {"main-door": "door-1"}, "unlock_deadline_s": 3.0}


class Office:
    """A pure back office that knows station-1 as a station (by its credentials)."""

    def __init__(self) -> None:
        self.seqs, self.own, ids = itertools.count(1), itertools.count(1), itertools.count(1)
        config = OfficeConfig.from_document({"access": ACCESS})
        self.office = BackOffice(config, self.emit, new_id=lambda: f"cmd-{next(ids)}",
                                 stations=frozenset({"station-1"}))

    def emit(self, event_type: str, data: Data) -> Event:
        return make_event(SITE, "central", event_type, next(self.own), data)

    def request(self, device: str, data: CommandRequested, sent: datetime = T0) -> Effects:
        event = make_event(SITE, device, "command.requested", next(self.seqs), data, time=sent)
        return self.office.on_event(event, T0)


def unlock(device: str = "door-1", seconds: float | None = 8) -> CommandRequested:
    return CommandRequested(device=device, command="unlock", by="guard:maria", seconds=seconds,
                            note="courier")


def test_a_station_s_request_is_sent_with_an_expiry_audited_and_recorded() -> None:
    fx = Office().request("station-1", unlock())
    expires = T0 + timedelta(seconds=3)
    assert fx.commands == [("door-1", Command("cmd-1", "unlock", expires, {"seconds": 8.0}))]
    [sent] = fx.events
    assert sent.type == "command.sent"
    assert sent.data == CommandSent(device="door-1", command="unlock", command_id="cmd-1", by="guard:maria",
                                    origin=f"gatehouse/{SITE}/station-1", expires=T0 + timedelta(seconds=3),
                                    seconds=8.0, door="main-door", note="courier")
    [record] = fx.audit
    assert (record.actor, record.action, record.subject) == ("guard:maria", "command.unlock", "device:door-1")
    assert record.details["command_id"] == "cmd-1"
    assert fx.refused == []


@pytest.mark.parametrize(("device", "data", "sent", "reason"), [
    ("kiosk-1", unlock(), T0, "kiosk-1 is not a guard station"),
    ("station-1", unlock(device="reader-1"), T0, "reader-1 is not a door device in [access.doors]"),
    ("station-1", unlock(), T0 - timedelta(seconds=60), "the request is 60 s old"),
])
def test_a_request_the_service_refuses_is_audited_and_sends_nothing(
    device: str, data: CommandRequested, sent: datetime, reason: str
) -> None:
    fx = Office().request(device, data, sent=sent)
    assert (fx.commands, fx.events) == ([], [])
    [why] = fx.refused
    assert why.startswith(reason)
    [record] = fx.audit
    assert record.action == "command.unlock_refused"
    assert str(record.details["refused"]).startswith(reason)


def test_an_api_request_without_seconds_gets_the_default_and_names_its_origin() -> None:
    fx = Office().office.command(CommandRequest("door-1", "unlock", "api:maria"), T0, origin="api")
    [(device, command)] = fx.commands
    assert (device, command.args, command.expires) == ("door-1", {"seconds": 5.0}, T0 + timedelta(seconds=3))
    assert fx.audit[0].details["origin"] == "api"


# end to end, on the secured embedded broker
@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[EmbeddedBroker, CredentialStore]]:
    """A secured embedded broker knowing a service, a station, a kiosk and a door."""
    store = CredentialStore(tmp_path / "data" / "credentials.json")
    for name, kind in (("central", Role.SERVICE), ("station-1", Role.STATION), ("kiosk-1", Role.KIOSK),
                       ("door-1", Role.DOOR)):
        store.ensure(name, kind)
    with EmbeddedBroker(port=free_port(), site=SITE, principals=store.principals()) as broker:
        yield broker, store


def _url(broker: EmbeddedBroker, store: CredentialStore, name: str) -> MqttUrl:
    principal = store.get(name)
    assert principal is not None
    return broker.url_for(principal)


@pytest.mark.timeout(60)
def test_stations_and_the_api_ask_the_service_which_alone_commands_the_door(
    site: tuple[EmbeddedBroker, CredentialStore], tmp_path: Path, sqlite_url: str,
    mqtt_client: MqttClientFactory,
) -> None:
    broker, creds = site
    settings = Settings(site=SITE, data_dir=tmp_path / "data", db=sqlite_url)
    config = CentralConfig.from_document({"access": ACCESS, "api": {"port": 0}})
    door = mqtt_client(_url(broker, creds, "door-1"))
    assert not door.subscribe(f"{topics.source(SITE, 'door-1')}/command/#").is_failure
    station = mqtt_client(_url(broker, creds, "station-1"))
    service_url = _url(broker, creds, "central")
    with open_store(sqlite_url) as store, Central(settings, service_url, store, config) as central, \
            DeviceLink(_url(broker, creds, "station-1"), site=SITE, device="station-1", kind="station",
                       outbox_dir=tmp_path / "station") as link:
        assert central.service.bus.wait_subscribed(10)
        assert central.api is not None
        # a station's password publishes no command: the broker drops it
        station.publish(topics.command(SITE, "door-1", "unlock"), b'{"forged": true}')
        # it asks the service instead
        link.source.emit("command.requested", unlock(seconds=7))
        first = Command.decode(door.expect().payload)
        assert (first.name, first.args) == ("unlock", {"seconds": 7.0})

        change = Change("test", datetime.now(UTC), central.audit_key)
        _info, guard = create_token(store.engine, "maria", "guard", change)
        _info, kiosk = create_token(store.engine, "kiosk-1", "kiosk", change)
        api = central.api.url + "/api/doors/door-1/unlock"
        answer = http("POST", api, token=guard, body={"seconds": 12, "note": "delivery"})
        assert answer.status == 202, answer.raw
        said = answer.json
        assert (said["door"], said["seconds"], said["by"]) == ("main-door", 12.0, "api:maria")
        second = Command.decode(door.expect().payload)
        assert (second.id, second.args) == (answer.json["command_id"], {"seconds": 12.0})
        assert http("POST", api, token=kiosk, body={}).status == 403
        assert http("POST", api, token=guard, body={"seconds": 0}).status == 400
        assert http("POST", api, token=guard, body={"seconds": "lots"}).status == 400
        refused = http("POST", central.api.url + "/api/doors/kiosk-1/unlock", token=guard, body={})
        assert refused.status == 409
        assert refused.json["error"] == "kiosk-1 is not a door device in [access.doors]"
        sent = topics.source(SITE, "central")
        wait_until(lambda: len(store.query_events(types=["command.sent"], sources=[sent])) == 2, 10,
                   "both commands recorded")
        assert door.received() == []  # the forged one never came

    with open_store(sqlite_url) as store:
        records = [e.data for e in store.query_events(types=["command.sent"], limit=None)]
        with store.engine.connect() as conn:
            actions = [(r.actor, r.action) for r in read_chain(conn)]
    assert [(r.by, r.origin) for r in records if isinstance(r, CommandSent)] == [
        ("guard:maria", f"gatehouse/{SITE}/station-1"), ("api:maria", "api")]
    assert [a for a in actions if a[1].startswith("command.")] == [
        ("guard:maria", "command.unlock"), ("api:maria", "command.unlock"),
        ("api:maria", "command.unlock_refused")]


def test_the_api_says_503_when_the_service_did_not_take_the_command(sqlite_url: str) -> None:
    def too_slow(request: CommandRequest) -> list[CommandSent] | str:
        raise TimeoutError

    with open_store(sqlite_url) as store, ApiServer(store, port=0, site=SITE, audit_key=b"k",
                                                     door_commands=too_slow) as api:
        _info, token = create_token(store.engine, "maria", "guard", Change("test", datetime.now(UTC), b"k"))
        answer = http("POST", api.url + "/api/doors/door-1/unlock", token=token, body={"seconds": 3})
    assert (answer.status, answer.json["error"]) == (
        503, "the central service did not take the command in time: not sent")


@pytest.mark.timeout(90)
def test_an_unlock_until_and_a_lockdown_that_refuses_a_badge_through_the_api(
    tmp_path: Path, sqlite_url: str, mqtt_client: MqttClientFactory,
) -> None:
    store_ = CredentialStore(tmp_path / "data" / "credentials.json")
    for name, kind in (("central", Role.SERVICE), ("door-1", Role.DOOR), ("reader-1", Role.READER)):
        store_.ensure(name, kind)
    enrol(sqlite_url)  # e-1's badge opens main-door (door group lobby) at any hour
    access = {**ACCESS, "readers": [{"device": "reader-1", "reader": 1, "door": "main-door"}]}
    config = CentralConfig.from_document({"access": access, "api": {"port": 0}})
    commands = f"{topics.source(SITE, 'door-1')}/command/#"
    with EmbeddedBroker(port=free_port(), site=SITE, principals=store_.principals()) as broker:
        door = mqtt_client(_url(broker, store_, "door-1"))
        assert not door.subscribe(commands).is_failure
        settings = Settings(site=SITE, data_dir=tmp_path / "data", db=sqlite_url)
        with open_store(sqlite_url) as store, \
                Central(settings, _url(broker, store_, "central"), store, config) as central, \
                DeviceLink(_url(broker, store_, "reader-1"), site=SITE, device="reader-1", kind="reader",
                           outbox_dir=tmp_path / "reader") as reader:
            assert central.service.bus.wait_subscribed(10)
            assert central.api is not None
            change = Change("test", datetime.now(UTC), central.audit_key)
            _info, guard = create_token(store.engine, "maria", "guard", change)
            _info, kiosk = create_token(store.engine, "kiosk-1", "kiosk", change)
            api = central.api.url

            until = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
            answer = http("POST", api + "/api/doors/door-1/unlock", token=guard,
                          body={"until": until.isoformat(), "note": "open day"})
            assert answer.status == 202, answer.raw
            assert (answer.json["door"], answer.json["seconds"]) == ("main-door", None)
            assert datetime.fromisoformat(answer.json["until"]) == until
            held = Command.decode(door.expect(commands).payload)
            assert (held.name, held.id) == ("unlock", answer.json["command_id"])
            assert datetime.fromisoformat(held.args["until"]) == until
            too_far = (datetime.now(UTC) + timedelta(hours=13)).isoformat()
            refused = http("POST", api + "/api/doors/door-1/unlock", token=guard, body={"until": too_far})
            assert refused.status == 409
            assert "within the next 12 h" in refused.json["error"]

            assert http("POST", api + "/api/door-groups/lobby/lockdown", token=kiosk, body={}).status == 403
            locked = http("POST", api + "/api/door-groups/lobby/lockdown", token=guard,
                          body={"note": "intruder report"})
            assert locked.status == 202, locked.raw
            assert [(d["device"], d["door"]) for d in locked.json["doors"]] == [("door-1", "main-door")]
            lock = Command.decode(door.expect(commands).payload)
            assert (lock.name, lock.args) == ("lock", {"lockdown": True})
            assert http("POST", api + "/api/door-groups/attic/lockdown", token=guard, body={}).status == 409

            reader.source.emit("badge.read", BadgeRead(credential=BADGE, reader=1))
            wait_until(lambda: bool(store.query_events(types=["access.denied"])), 10, "the badge decided")
            [denied] = store.query_events(types=["access.denied"])
            assert isinstance(denied.data, AccessDenied)
            assert (denied.data.reason, denied.data.person_id) == (DenyReason.LOCKDOWN, "e-1")
            assert http("POST", api + "/api/doors/door-1/unlock", token=guard, body={}).status == 409

            released = http("POST", api + "/api/door-groups/lobby/release", token=guard, body={})
            assert released.status == 202, released.raw
            assert Command.decode(door.expect(commands).payload).name == "release"
            assert door.received() == []  # the badge in lockdown opened nothing
            reader.source.emit("badge.read", BadgeRead(credential=BADGE, reader=1))
            opened = Command.decode(door.expect(commands).payload)
            assert (opened.name, opened.args) == ("unlock", {"seconds": 5.0})

    with open_store(sqlite_url) as store, store.engine.connect() as conn:
        actions = [(r.action, r.subject) for r in read_chain(conn) if r.action.startswith("command.")]
    assert actions == [("command.unlock", "device:door-1"), ("command.unlock_refused", "device:door-1"),
                       ("command.lock", "door-group:lobby"), ("command.lock_refused", "door-group:attic"),
                       ("command.unlock_refused", "device:door-1"), ("command.release", "door-group:lobby")]


def test_a_station_may_put_a_door_back_on_schedule_but_not_lock_a_group_down() -> None:
    office = Office()
    fx = office.request("station-1", CommandRequested(device="door-1", command="schedule", by="guard:maria"))
    assert [(d, c.name, c.args) for d, c in fx.commands] == [("door-1", "schedule", {})]
    fx = office.request("station-1", CommandRequested(device="door-1", command="lock", by="guard:maria"))
    assert fx.commands == []
    assert fx.refused == ["lock names a door group"]
    assert fx.audit[0].action == "command.lock_refused"
