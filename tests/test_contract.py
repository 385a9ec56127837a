"""The contract: topics, envelope and codec, round-tripped over every event type."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from broker import topics
from broker.events import ContractError, decode, encode, make_event, to_dict
from broker.examples import EXAMPLES
from broker.messages import Ack, Command, Status
from broker.schemas import SCHEMAS, BadgeRead


def test_every_type_has_an_example() -> None:
    assert set(EXAMPLES) == set(SCHEMAS)


@pytest.mark.parametrize("event_type", sorted(SCHEMAS))
def test_round_trip(event_type: str) -> None:
    event = make_event("lobby", "reader-1", event_type, 7, EXAMPLES[event_type])
    back = decode(encode(event), topic=event.topic)
    assert back.data == event.data
    assert (back.id, back.source, back.type, back.seq) == (event.id, event.source, event.type, 7)
    assert abs((back.time - event.time).total_seconds()) < 0.001
    assert encode(back) == encode(event)


def _doc(**changes: object) -> dict[str, object]:
    event = make_event("lobby", "reader-1", "badge.read", 1, BadgeRead(credential="0A1B", reader=1))
    doc = to_dict(event)
    doc.update(changes)
    return doc


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", "payload is not JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[1, 2]", "must be a JSON object, got list"),
        (json.dumps(_doc(seq=0)).encode(), "seq must be an integer from 1 to 2^63-1, got 0"),
        (json.dumps(_doc(seq="3")).encode(), "seq must be an integer from 1 to 2^63-1, got '3'"),
        (json.dumps(_doc(seq=True)).encode(), "seq must be an integer from 1 to 2^63-1, got True"),
        (json.dumps(_doc(seq=2**63)).encode(), "from 1 to 2^63-1, got 9223372036854775808"),
        (json.dumps(_doc(specversion="0.3")).encode(), "specversion must be '1.0'"),
        (json.dumps(_doc(type="badge.eaten")).encode(), "unknown event type 'badge.eaten'"),
        (json.dumps(_doc(type="Badge")).encode(), "must be dotted lower-case"),
        (json.dumps(_doc(time="yesterday")).encode(), "time 'yesterday' is not RFC 3339"),
        (json.dumps(_doc(time="2026-11-22T08:00:00")).encode(), "has no time zone"),
        (json.dumps(_doc(id="")).encode(), "id must be a non-empty string"),
        (json.dumps(_doc(source="gatehouse/Lobby/reader-1")).encode(), "site 'Lobby'"),
        (json.dumps(_doc(source="elsewhere/x")).encode(), "source 'elsewhere/x' must be"),
        (json.dumps(_doc(extra=1)).encode(), "unknown envelope field(s): extra"),
        (json.dumps(_doc(data=[])).encode(), "data must be a JSON object, got list"),
        (json.dumps(_doc(data={"credential": "0A1B"})).encode(), "badge.read data: reader: Field required"),
        (
            json.dumps(_doc(data={"credential": "zz", "reader": 1})).encode(),
            "badge.read data: credential: String should match pattern",
        ),
        (
            json.dumps(_doc(data={"credential": "0A", "reader": 1, "pin": 1234})).encode(),
            "pin: Extra inputs are not permitted",
        ),
    ],
)
def test_decode_says_what_is_wrong(payload: bytes, message: str) -> None:
    with pytest.raises(ContractError) as err:
        decode(payload)
    assert message in str(err.value)


def test_topic_must_match_payload() -> None:
    event = make_event("lobby", "reader-1", "badge.read", 1, BadgeRead(credential="0A1B", reader=1))
    with pytest.raises(ContractError, match="does not match source"):
        decode(encode(event), topic="gatehouse/lobby/reader-2/event/badge.read")


def test_make_event_checks_the_data_type() -> None:
    with pytest.raises(ContractError, match="needs DoorChange data, got BadgeRead"):
        make_event("lobby", "d-1", "door.opened", 1, BadgeRead(credential="0A", reader=1))


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("gatehouse/lobby/reader-1/event/badge.read",
         topics.Topic("lobby", "reader-1", topics.Kind.EVENT, "badge.read")),
        ("gatehouse/lobby/reader-1/status", topics.Topic("lobby", "reader-1", topics.Kind.STATUS)),
        ("gatehouse/lobby/reader-1/ack", topics.Topic("lobby", "reader-1", topics.Kind.ACK)),
        ("gatehouse/lobby/door-1/command/unlock",
         topics.Topic("lobby", "door-1", topics.Kind.COMMAND, "unlock")),
        ("gatehouse/lobby/alarm/a-1", topics.Topic("lobby", "a-1", topics.Kind.ALARM)),
    ],
)
def test_parse_topics(topic: str, expected: topics.Topic) -> None:
    assert topics.parse(topic) == expected


@pytest.mark.parametrize(
    "topic",
    ["other/lobby/x/status", "gatehouse/lobby", "gatehouse/LOBBY/x/status", "gatehouse/lobby/x/y",
     "gatehouse/lobby/x/event/Bad", "gatehouse/lobby/alarm/a/b", "gatehouse/" + "a" * 65 + "/x/status"],
)
def test_parse_rejects(topic: str) -> None:
    with pytest.raises(topics.TopicError):
        topics.parse(topic)


def test_builders_match_parse() -> None:
    assert topics.event("s", "d", "door.opened") == "gatehouse/s/d/event/door.opened"
    assert topics.parse(topics.command("s", "d", "unlock")).name == "unlock"
    with pytest.raises(topics.TopicError, match="reserved"):
        topics.source("s", "alarm")


def test_messages_round_trip() -> None:
    when = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
    assert Status.decode(Status("online", "reader", when).encode()) == Status("online", "reader", when)
    assert Ack.decode(Ack(41).encode()) == Ack(41)
    cmd = Command("c-1", "unlock", when, {"seconds": 5})
    assert Command.decode(cmd.encode()) == cmd
    assert cmd.expired(when)
    assert not cmd.expired(datetime(2026, 11, 22, 7, 59, tzinfo=UTC))
    with pytest.raises(ContractError, match="has no time zone"):
        Command.decode(b'{"id": "c", "name": "unlock", "expires": "2026-11-22T08:00:00"}')
    with pytest.raises(ContractError, match="'online' or 'offline'"):
        Status.decode(b'{"state": "sleepy"}')
