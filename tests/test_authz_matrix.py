"""The principal kind x event type x topic matrix, generated from the contract, on both brokers.

For every kind and every event type of the contract, a principal of that kind publishes a valid
event of that type on its own event topic, and tries its status and the topics only the service
writes (another's event and status, commands, acks, alarms). Expected (broker.kinds.may_emit and
broker.acl) is asserted against what each broker lets through (embedded amqtt and a private
Mosquitto, each run from the files `gatehouse` generates) and against what the central service
stores or keeps as a dead letter, behind a secured broker and behind an anonymous one (where
only the service can refuse).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from broker import topics
from broker.broker_cli import write_mosquitto_config
from broker.config import MqttUrl, Settings
from broker.credentials import CredentialStore, KindLookup, Principal
from broker.embedded import EmbeddedBroker, free_port
from broker.events import encode, make_event
from broker.examples import EXAMPLES
from broker.kinds import EDGE, EMITTERS, Kind, markdown_table, may_emit
from broker.local_mosquitto import MOSQUITTO_BIN, LocalMosquitto
from broker.schemas import SCHEMAS
from security.ingest.service import CentralService
from security.storage import EventStore, open_store
from tests.fixtures.mqtt import MqttClientFactory, mosquitto_run_as
from tests.support import wait_until

SITE = "matrix"
TYPES = sorted(SCHEMAS)
NAMES: dict[Kind, str] = {kind: f"{kind}-1" for kind in Kind}
NAMES[Kind.SERVICE] = "central"
OBSERVER = "observer"  # a second service principal that watches (one connection per principal)
EDGE_KINDS = sorted(EDGE)
BARRIER = b"barrier"
ROOT = Path(__file__).resolve().parent.parent
TIME = datetime.now(UTC)


def payload(device: str, event_type: str, seq: int) -> bytes:
    """A valid event of `event_type` from `device` with the contract's example data (same bytes each call)."""
    event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{device}/{event_type}/{seq}"))
    event = make_event(SITE, device, event_type, seq, EXAMPLES[event_type], time=TIME, event_id=event_id)
    return encode(event)


def barrier(device: str) -> bytes:
    """The last message a principal sends: a `device.fault` every kind may emit."""
    return payload(device, "device.fault", len(TYPES) + 1)


# the table itself
def test_the_table_covers_exactly_the_contract() -> None:
    assert sorted(EMITTERS) == TYPES
    assert all(Kind.SERVICE not in kinds for kinds in EMITTERS.values())  # the service may emit all


def test_docs_security_shows_the_table() -> None:
    assert markdown_table() in (ROOT / "docs" / "security.md").read_text()


def test_only_the_service_decides_and_commands() -> None:
    decided = [t for t in TYPES if t.split(".")[0] in ("access", "incident", "delivery")]
    outcomes = [t for t in TYPES if t.startswith("alarm.") and t != "alarm.requested"]
    for event_type in [*decided, *outcomes, "command.sent", "visitor.invited", "host.notified"]:
        assert EMITTERS[event_type] == frozenset(), event_type
    assert EMITTERS["alarm.requested"] == EMITTERS["command.requested"] == frozenset({Kind.STATION})


def _emitted_types(paths: list[Path]) -> set[str]:
    """Event types named as string literals in `paths` (how agents call `emit("type", ...)`)."""
    found: set[str] = set()
    for path in paths:
        found |= set(re.findall(r'"([a-z_]+\.[a-z_]+)"', path.read_text())) & set(SCHEMAS)
    return found


def _modules(folder: str) -> list[str]:
    return [str(p.relative_to(ROOT)) for p in sorted((ROOT / folder).rglob("*.py"))]


AGENTS: dict[Kind, list[str]] = {
    Kind.READER: ["devices/readers/badge_agent.py", *_modules("devices/readers/osdp"), "devices/runner.py"],
    Kind.DOOR: ["devices/door.py", "devices/door_agent.py", "devices/runner.py"],
    Kind.CAMERA: [*_modules("devices/camera"), "devices/runner.py"],
    Kind.SCANNER: ["devices/scanner_agent.py", "devices/runner.py"],
    Kind.PRINTER: [*_modules("devices/printers"), "devices/runner.py"],
    Kind.KIOSK: _modules("kiosk"),
    Kind.STATION: ["security/station/runner.py"],
}
"""The modules whose events each kind publishes (station displays and samples are not sent)."""


@pytest.mark.parametrize("kind", sorted(AGENTS))
def test_what_every_real_agent_emits_is_allowed_for_its_kind(kind: Kind) -> None:
    emitted = _emitted_types([ROOT / p for p in AGENTS[kind]])
    assert emitted, f"no event type found in the {kind}'s modules: is the list above stale?"
    assert {t for t in emitted if not may_emit(kind, t)} == set()


# the brokers
@dataclass(slots=True, frozen=True)
class Site:
    """A running broker with one principal per kind (and the observer), as the CLI generates them."""

    url: MqttUrl
    principals: dict[str, Principal]
    store: CredentialStore

    def url_for(self, name: str) -> MqttUrl:
        """The broker URL with `name`'s credentials."""
        principal = self.principals[name]
        return self.url.with_credentials(principal.name, principal.password)


def _store(folder: Path) -> CredentialStore:
    store = CredentialStore(folder / "credentials.json")
    for kind, name in NAMES.items():
        store.ensure(name, kind)
    store.ensure(OBSERVER, Kind.SERVICE)
    return store


@pytest.fixture(params=["amqtt", "mosquitto"])
def secured(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    """A secured embedded amqtt or private Mosquitto broker, from the generated configuration."""
    store = _store(tmp_path / "data")
    principals = {p.name: p for p in store.principals()}
    if request.param == "amqtt":
        with EmbeddedBroker(port=free_port(), site=SITE, principals=principals.values()) as broker:
            yield Site(broker.url, principals, store)
        return
    if not MOSQUITTO_BIN.exists():
        pytest.skip(f"no {MOSQUITTO_BIN}")
    port = free_port()
    settings = Settings(site=SITE, data_dir=tmp_path / "data")
    write_mosquitto_config(settings, tmp_path / "etc", port=port, user=mosquitto_run_as())
    mosquitto = LocalMosquitto(tmp_path / "etc" / "mosquitto.conf", port)
    mosquitto.start()
    try:
        yield Site(mosquitto.url, {p.name: p for p in store.principals()}, store)
    finally:
        mosquitto.kill()


def _publish_every_type(client_for: MqttClientFactory, url: MqttUrl, name: str) -> None:
    """Publish one valid event of every type from `name` on its own topics, then the barrier."""
    client = client_for(url)
    for seq, event_type in enumerate(TYPES, start=1):
        client.publish(topics.event(SITE, name, event_type), payload(name, event_type, seq))
    client.publish(topics.event(SITE, name, "device.fault"), barrier(name))
    client.close()


def topic_matrix(name: str) -> dict[str, str]:
    """Every topic `name` might try, by label: its own event topic per type, its status, and the
    topics only the service may write (another's event and status, commands, its ack, alarms)."""
    other = "reader-1" if name != "reader-1" else "door-1"
    tried = {f"event {t}": topics.event(SITE, name, t) for t in TYPES}
    tried |= {
        "own status": topics.status(SITE, name),
        "another's event": topics.event(SITE, other, "badge.read"),
        "another's status": topics.status(SITE, other),
        "a command to another": topics.command(SITE, other, "unlock"),
        "a command to itself": topics.command(SITE, name, "unlock"),
        "its own ack": topics.ack(SITE, name),
        "an alarm": topics.alarm(SITE, "a-1"),
    }
    return tried


def allowed(kind: Kind, label: str) -> bool:
    """Whether the contract lets a principal of `kind` publish on the topic labelled `label`."""
    if label.startswith("event "):
        return may_emit(kind, label.removeprefix("event "))
    return label == "own status" or kind is Kind.SERVICE


@pytest.mark.timeout(120)
def test_each_broker_lets_through_exactly_what_each_kind_may_publish(
    secured: Site, mqtt_client: MqttClientFactory
) -> None:
    observer = mqtt_client(secured.url_for(OBSERVER))
    assert not observer.subscribe(f"gatehouse/{SITE}/#").is_failure
    for kind, name in sorted(NAMES.items()):
        client = mqtt_client(secured.url_for(name))
        for label, topic in topic_matrix(name).items():
            client.publish(topic, f"{name}: {label}".encode())
        end = f"{name}: end".encode()
        client.publish(topics.event(SITE, name, "device.fault"), end)  # every kind may: a barrier
        # one publisher's messages reach a subscriber in order: once the barrier is in, all are
        got: set[str] = set()
        while (message := observer.expect()).payload != end:
            got.add(message.payload.decode().removeprefix(f"{name}: "))
        expected = {label for label in topic_matrix(name) if allowed(kind, label)}
        assert got == expected, kind
        client.close()


@pytest.mark.timeout(120)
def test_behind_each_broker_the_service_stores_exactly_what_each_kind_may_emit(
    secured: Site, mqtt_client: MqttClientFactory, sqlite_url: str
) -> None:
    with _service(secured.url_for(NAMES[Kind.SERVICE]), secured.store, sqlite_url) as store:
        for kind in EDGE_KINDS:
            _publish_every_type(mqtt_client, secured.url_for(NAMES[kind]), NAMES[kind])
        found = _outcome(store, strangers=())
    for kind in EDGE_KINDS:
        events, letters = found[NAMES[kind]]
        assert events == {t for t in TYPES if may_emit(kind, t)}, kind
        assert letters == {}, kind  # the broker dropped the rest before the service saw them


@pytest.fixture(params=["amqtt", "mosquitto"])
def anonymous(request: pytest.FixtureRequest) -> MqttUrl:
    """An anonymous broker with no ACL (embedded or a private Mosquitto): only the service can refuse."""
    fixture = "embedded_broker" if request.param == "amqtt" else "private_mosquitto"
    broker: EmbeddedBroker | LocalMosquitto = request.getfixturevalue(fixture)
    return broker.url


@pytest.mark.timeout(120)
def test_behind_an_open_broker_the_service_dead_letters_what_a_kind_may_not_emit(
    anonymous: MqttUrl, mqtt_client: MqttClientFactory, sqlite_url: str, tmp_path: Path
) -> None:
    stranger = "stranger-1"  # not in the credential store: believed about nothing
    with _service(anonymous, _store(tmp_path), sqlite_url) as store:
        for name in [*(NAMES[k] for k in EDGE_KINDS), stranger]:
            _publish_every_type(mqtt_client, anonymous, name)
        found = _outcome(store, strangers=(stranger,))
    for kind in EDGE_KINDS:
        events, letters = found[NAMES[kind]]
        allowed = {t for t in TYPES if may_emit(kind, t)}
        assert events == allowed, kind
        assert set(letters) == set(TYPES) - allowed, kind
        for event_type, reason in letters.items():
            assert reason.startswith(f"a {kind} may not emit {event_type} ("), reason
    events, letters = found[stranger]
    assert events == set()
    assert set(letters) == set(TYPES)
    assert all("is not a principal in the credential store" in r for r in letters.values())


@contextmanager
def _service(url: MqttUrl, credentials: CredentialStore, db_url: str) -> Iterator[EventStore]:
    """A central service that learns kinds from `credentials`, storing into `db_url`."""
    store = open_store(db_url)
    service = CentralService(url, store, site=SITE, kinds=KindLookup(credentials))
    service.start()
    try:
        assert service.bus.wait_subscribed(10)
        yield store
    finally:
        service.stop()
        store.close()


def _outcome(store: EventStore, strangers: tuple[str, ...]) -> dict[str, tuple[set[str], dict[str, str]]]:
    """Once every barrier is in: per principal, the types stored and the refused types with reasons."""
    names = [NAMES[k] for k in EDGE_KINDS]

    def all_in() -> bool:
        faults = store.query_events(types=["device.fault"], limit=None)
        letters = store.list_dead_letters(limit=100_000)
        refused = sum(1 for d in letters if d.topic.split("/")[2] in strangers)
        # every kind may emit device.fault: two each (the one of the matrix and the barrier)
        return len(faults) >= 2 * len(names) and refused >= len(strangers) * (len(TYPES) + 1)

    wait_until(all_in, 60, "every principal's barrier handled")
    found: dict[str, tuple[set[str], dict[str, str]]] = {}
    for name in [*names, *strangers]:
        source = topics.source(SITE, name)
        found[name] = ({e.type for e in store.query_events(sources=[source], limit=None)}, {})
    for letter in store.list_dead_letters(limit=100_000):
        name = letter.topic.split("/")[2]
        if name in found:
            found[name][1][letter.topic.rsplit("/", 1)[1]] = letter.reason
    return found
