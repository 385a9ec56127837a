"""Adversarial ingest: hypothesis-made messages on every topic class, sent as every kind of principal
into a running central service on each broker (embedded amqtt, a private Mosquitto with the
generated password and ACL files). After every example a real device's new event is still stored
and acknowledged, and /api/health still says ingest runs and stores.

Each example ends with a handshake: the attacker publishes a status with a fresh nonce on its
own status topic after its message, and the example waits until the service has stored that
status, so the attack was taken in (or refused by the broker) before the device's event is sent.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from broker import topics
from broker.acl import mosquitto_files
from broker.config import MqttUrl
from broker.credentials import CredentialStore, KindLookup, Principal, Role
from broker.device_link import DeviceLink
from broker.embedded import EmbeddedBroker, free_port
from broker.events import MAX_PAYLOAD, make_event, to_dict
from broker.examples import EXAMPLES
from broker.local_mosquitto import MOSQUITTO_BIN, LocalMosquitto
from broker.schemas import BadgeRead
from security.api import ApiServer
from security.ingest.service import CentralService
from security.office.config import OfficeConfig
from security.office.runtime import office_for
from security.storage import EventStore, open_store
from tests.fixtures.mqtt import MqttProbe, mosquitto_run_as
from tests.support import http, unique_site, wait_until

KINDS: tuple[Role, ...] = tuple(Role)
"""Every kind of principal the credential store knows: each gets an attacker of its own."""
SERVICE, DEVICE = "central", "reader-1"
HUNT = "GATEHOUSE_ADVERSARIAL_EXAMPLES"
EXAMPLES_PER_BROKER = int(os.environ.get(HUNT, "100"))
"""About 15 s per broker; set the variable for a longer, randomised hunt (400 take a minute each)."""
WAIT_S = 15.0


def attacker(kind: Role) -> str:
    """The principal name of the attacker of `kind`."""
    return f"x-{kind.value}"


@dataclass(slots=True)
class Rig:
    """A running site: broker, central service with its API, one real device, one client per attacker."""

    site: str
    central: CentralService
    store: EventStore
    api: ApiServer
    device: DeviceLink
    urls: dict[Role, MqttUrl]
    stack: ExitStack
    probes: dict[Role, MqttProbe] = field(default_factory=dict)
    reconnects: int = 0

    def probe(self, kind: Role) -> MqttProbe:
        """The attacker of `kind`, connected again if the broker dropped it (a broker may)."""
        probe = self.probes.get(kind)
        if probe is not None and probe.client.is_connected():
            return probe
        if probe is not None:
            probe.close()
            self.reconnects += 1
        probe = MqttProbe(self.urls[kind], f"{attacker(kind)}@{uuid.uuid4().hex[:6]}")
        code = probe.connect()
        assert not code.is_failure, f"{attacker(kind)} refused: {code}"
        self.stack.callback(probe.close)
        self.probes[kind] = probe
        return probe


def _mosquitto(stack: ExitStack, folder: Path, site: str, principals: list[Principal]) -> MqttUrl:
    if not MOSQUITTO_BIN.exists():
        pytest.skip(f"{MOSQUITTO_BIN} is not installed")
    port = free_port()
    etc, persist = folder / "etc", folder / "persist"
    etc.mkdir()
    persist.mkdir()
    files = mosquitto_files(site, principals, port, config_dir=str(etc), bind="127.0.0.1",
                            persistence_location=str(persist), user=mosquitto_run_as())
    for name, text in files.items():
        (etc / name).write_text(text)
    broker = LocalMosquitto(etc / "mosquitto.conf", port, binary=MOSQUITTO_BIN)
    broker.start()
    stack.callback(broker.kill)
    return broker.url


@pytest.fixture(scope="module", params=["amqtt", "mosquitto"])
def rig(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    """A site on one broker, with password authentication and the generated ACLs."""
    folder = tmp_path_factory.mktemp(f"adversarial-{request.param}")
    site = unique_site()
    credentials = CredentialStore(folder / "credentials.json")
    credentials.ensure(SERVICE, Role.SERVICE)
    credentials.ensure(DEVICE, Role.READER)
    for kind in KINDS:
        credentials.ensure(attacker(kind), kind)
    principals = credentials.principals()
    by_name = {p.name: p for p in principals}
    with ExitStack() as stack:
        if request.param == "amqtt":
            base = stack.enter_context(EmbeddedBroker(port=free_port(), site=site, principals=principals)).url
        else:
            base = _mosquitto(stack, folder, site, principals)

        def url_for(name: str) -> MqttUrl:
            return base.with_credentials(name, by_name[name].password)

        store = open_store(f"sqlite:///{folder / 'db' / 'gatehouse.db'}")
        stack.callback(store.close)
        build = office_for(store, OfficeConfig(), audit_key=b"adversarial")
        central = CentralService(url_for(SERVICE), store, site=site, office=build, tick_s=0.2,
                                 kinds=KindLookup(credentials))
        central.start()
        stack.callback(central.stop)
        assert central.bus.wait_subscribed(10)
        api = ApiServer(store, port=0, site=site, audit_key=None, ingest=central.health)
        api.start()
        stack.callback(api.stop)
        device = DeviceLink(url_for(DEVICE), site=site, device=DEVICE, kind="reader",
                            outbox_dir=folder / "outbox", resend_after=1.0, max_resend_after=2.0)
        device.start()
        stack.callback(device.stop)
        rig = Rig(site, central, store, api, device, {k: url_for(attacker(k)) for k in KINDS}, stack)
        for kind in KINDS:
            rig.probe(kind)
        yield rig
        assert central.health().running  # still running after every example, until stopped here


# what the messages are made of
NAMES = st.sampled_from([DEVICE, SERVICE, "x-device", "kiosk-1", "Bad_Name", "a" * 65, "", "alarm"])
TIMES = st.one_of(
    st.sampled_from(["9999-12-31T23:59:59-23:00", "0001-01-01T00:00:00+23:59", "garbage", "",
                     "2099-01-01T00:00:00Z", "1970-01-01T00:00:00Z", "2026-11-22T08:15:02",
                     "2026-02-30T00:00:00Z", "2016-12-31T23:59:60Z"]),
    st.datetimes().map(lambda d: d.isoformat() + "+05:30"),
    st.text(max_size=30),
)
INTS = st.one_of(st.sampled_from([0, -1, 1, 2**63 - 1, 2**63, 2**64, 10**100]), st.integers())
JSON: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | INTS | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
ODD = st.one_of(JSON, TIMES, INTS)


def _dump(doc: Any) -> bytes:
    return json.dumps(doc, allow_nan=True).encode("utf-8", "surrogatepass")


@st.composite
def envelopes(draw: st.DrawFn, site: str) -> tuple[str, bytes]:
    """A valid event of some type with up to three fields replaced by something odd."""
    event_type = draw(st.sampled_from(sorted(EXAMPLES)))
    device = draw(NAMES)
    doc = to_dict(make_event(site, DEVICE, event_type, draw(st.integers(1, 50)), EXAMPLES[event_type]))
    doc["source"] = f"{topics.ROOT}/{site}/{device}"
    fields = st.sampled_from(["id", "source", "type", "time", "seq", "data", "incarnation", "specversion",
                              "x"])
    doc.update(draw(st.dictionaries(fields, ODD, max_size=3)))
    topic_type = draw(st.sampled_from([event_type, str(doc.get("type")), "badge.read", "no.such"]))
    return f"{topics.ROOT}/{site}/{device}/event/{topic_type}", _dump(doc)


def _typed(site: str, kind: str) -> st.SearchStrategy[tuple[str, bytes]]:
    """A topic of class `kind` with a payload shaped like that class's messages, fields odd."""
    root = f"{topics.ROOT}/{site}"
    if kind == "event":
        return envelopes(site)
    if kind == "status":
        doc = st.fixed_dictionaries({"state": st.sampled_from(["online", "offline", "x"]) | ODD},
                                    optional={"since": TIMES, "kind": ODD, "detail": ODD})
        return st.tuples(NAMES.map(lambda d: f"{root}/{d}/status"), doc.map(_dump))
    if kind == "ack":
        doc = st.fixed_dictionaries({"seq": INTS | ODD}, optional={"incarnation": ODD})
        return st.tuples(NAMES.map(lambda d: f"{root}/{d}/ack"), doc.map(_dump))
    if kind == "alarm":
        doc = st.fixed_dictionaries({"id": ODD, "state": st.sampled_from(["unacknowledged", "x"]) | ODD,
                                     "priority": st.sampled_from(["high", "x"]), "raised_at": TIMES,
                                     "updated_at": TIMES}, optional={"history": ODD, "rule": ODD})
        return st.tuples(st.text("abc-", min_size=1, max_size=8).map(lambda a: f"{root}/alarm/{a}"),
                         doc.map(_dump))
    doc = st.fixed_dictionaries({"id": ODD, "name": ODD, "expires": TIMES}, optional={"args": ODD})
    return st.tuples(NAMES.map(lambda d: f"{root}/{d}/command/unlock"), doc.map(_dump))


BODIES = st.one_of(
    st.binary(max_size=200),
    JSON.map(_dump),
    st.integers(30, 6000).map(lambda n: b'{"data": ' + b"[" * n + b"]" * n + b"}"),
    st.integers(30, 3000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
    st.sampled_from([MAX_PAYLOAD + 1, 2 * MAX_PAYLOAD]).map(lambda n: b'"' + b"x" * n + b'"'),
)


@st.composite
def messages(draw: st.DrawFn, site: str) -> tuple[Role, str, bytes, bool]:
    """Who sends, on which topic, what, retained or not."""
    kind = draw(st.sampled_from(["event", "status", "ack", "alarm", "command"]))
    topic, payload = draw(_typed(site, kind))
    if draw(st.booleans()):
        payload = draw(BODIES)  # the right topic with any bytes at all
    return draw(st.sampled_from(KINDS)), topic, payload, draw(st.booleans())


def _publish(rig: Rig, kind: Role, topic: str, payload: bytes, retain: bool) -> None:
    """Publish as an attacker would: what the broker or the client library refuses is just refused."""
    if "+" in topic or "#" in topic or not topic:
        return
    # the broker may close a client's connection rather than take its message: that is an answer too
    with contextlib.suppress(RuntimeError, ValueError):
        rig.probe(kind).publish(topic, payload, qos=1, retain=retain, timeout=WAIT_S)


def _handshake(rig: Rig, kind: Role) -> None:
    """Wait until the service has stored a fresh status sent after the attack by the same client."""
    nonce = uuid.uuid4().hex
    status = _dump({"state": "online", "detail": nonce})
    rig.probe(kind).publish(topics.status(rig.site, attacker(kind)), status)
    source = topics.source(rig.site, attacker(kind))
    wait_until(lambda: any(s.source == source and s.status.detail == nonce for s in rig.store.list_status()),
               WAIT_S, f"the service taking in {attacker(kind)}'s messages")


def _still_storing(rig: Rig) -> None:
    """A real device's new event is stored and acknowledged, and /api/health says ingest is fine."""
    event = rig.device.source.emit("badge.read", BadgeRead(credential=uuid.uuid4().hex[:8].upper(), reader=1))

    def stored() -> bool:
        recent = rig.store.query_events(sources=[event.source], newest_first=True, limit=20, by_received=True)
        return any(e.id == event.id for e in recent)

    wait_until(stored, WAIT_S, f"the device's event {event.seq} stored")
    wait_until(lambda: rig.device.source.pending() == 0, WAIT_S, "the device's outbox drained")
    reply = http("GET", f"{rig.api.url}/api/health")
    assert reply.status == 200, reply.json
    assert reply.json["ingest"]["running"]
    assert reply.json["ingest"]["storing"]
    assert reply.json["ingest"]["last_batch_age_s"] is not None


@pytest.mark.timeout(240)
def test_no_message_from_any_principal_stops_ingest(rig: Rig) -> None:
    _still_storing(rig)  # the rig works before anything is thrown at it

    @settings(max_examples=EXAMPLES_PER_BROKER, deadline=None, database=None,
              derandomize=HUNT not in os.environ,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                     HealthCheck.data_too_large])
    @given(message=messages(rig.site))
    def attack(message: tuple[Role, str, bytes, bool]) -> None:
        kind, topic, payload, retain = message
        _publish(rig, kind, topic, payload, retain)
        _handshake(rig, kind)
        _still_storing(rig)

    attack()
    assert rig.central.stats.restarts == 0
