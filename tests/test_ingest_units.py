"""The pure parts of guarded ingest, with plain values: the one RFC 3339 parser, the depth check,
dead-letter truncation, incarnations in the envelope and the ack, and watermarks per incarnation."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest

from broker.events import (
    MAX_DEPTH,
    MAX_PAYLOAD,
    ContractError,
    ShapeError,
    decode,
    encode,
    json_depth,
    load_json,
    make_event,
    parse_time,
)
from broker.messages import Ack, AlarmStatus, Command, Status
from broker.schemas import BadgeRead
from security.ingest.health import IngestHealth, SkewWatch
from security.ingest.sorting import Work
from security.ingest.watermarks import Gap, Watermarks
from security.storage.records import PREFIX, Rejected


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-11-22T08:15:02.113Z", datetime(2026, 11, 22, 8, 15, 2, 113000, tzinfo=UTC)),
    ("2026-11-22t08:15:02z", datetime(2026, 11, 22, 8, 15, 2, tzinfo=UTC)),
    ("2026-11-22 09:15:02+01:00", datetime(2026, 11, 22, 8, 15, 2, tzinfo=UTC)),
    ("2026-11-22T08:15:02.123456789-00:30", datetime(2026, 11, 22, 8, 45, 2, 123456, tzinfo=UTC)),
    ("2016-12-31T23:59:60Z", datetime(2016, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),  # a leap second
])
def test_rfc3339_times_are_read_in_utc(text: str, expected: datetime) -> None:
    parsed = parse_time(text)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(("value", "message"), [
    ("garbage", "is not RFC 3339"),
    ("2026-11-22", "is not RFC 3339"),
    ("2026-11-22T08:15:02", "has no time zone"),
    ("2026-11-22T08:15:02+0100", "is not RFC 3339"),  # ISO 8601 basic offset, not RFC 3339
    ("20261122T081502Z", "is not RFC 3339"),
    ("2026-02-30T08:00:00Z", "is not a valid moment"),
    ("2026-11-22T24:00:00Z", "is not a valid moment"),
    ("2026-11-22T08:00:00+24:00", "is not a valid moment"),
    ("9999-12-31T23:59:59-23:00", "out of range"),  # past datetime.max once in UTC
    ("0001-01-01T00:00:00+23:59", "out of range"),  # before datetime.min once in UTC
    ("1969-12-31T23:59:59Z", "out of range"),
    ("\uff12\uff10\uff12\uff16-11-22T08:15:02Z", "is not RFC 3339"),  # fullwidth digits are not digits here
    (12345, "must be an RFC 3339 string"),
    (None, "must be an RFC 3339 string"),
])
def test_anything_else_is_a_contract_error(value: object, message: str) -> None:
    with pytest.raises(ContractError, match=message):
        parse_time(value, "time")


def test_every_time_in_the_contract_goes_through_the_one_parser() -> None:
    for bad in ("garbage", "9999-12-31T23:59:59-23:00"):
        with pytest.raises(ContractError, match="status since"):
            Status.decode(json.dumps({"state": "online", "since": bad}).encode())
        with pytest.raises(ContractError, match="command expires"):
            Command.decode(json.dumps({"id": "c", "name": "unlock", "expires": bad}).encode())
        alarm = {"id": "a", "rule": "r", "priority": "high", "summary": "s", "state": "resolved",
                 "raised_at": bad, "updated_at": bad}
        with pytest.raises(ContractError, match="alarm raised_at"):
            AlarmStatus.decode(json.dumps(alarm).encode())
        read = BadgeRead(credential="0A", reader=1)
        event = json.loads(encode(make_event("s", "reader-1", "badge.read", 1, read)))
        with pytest.raises(ContractError, match="time"):
            decode(json.dumps({**event, "time": bad}).encode())


@pytest.mark.parametrize(("payload", "depth"), [
    (b"{}", 1),
    (b"1", 0),
    (b'{"a": [1, {"b": []}]}', 4),
    (b'{"a": "[[[[{{{{"}', 1),  # brackets inside strings do not count
    (b'{"a": "\\"[[[[", "b": ["\\\\"]}', 2),  # nor after an escaped quote; an escaped backslash ends
    (b"[" * 40 + b"]" * 40, MAX_DEPTH + 1),  # counting stops once past the limit
])
def test_depth_is_counted_without_recursion(payload: bytes, depth: int) -> None:
    assert json_depth(payload) == depth


def test_deep_and_large_payloads_are_shape_errors() -> None:
    with pytest.raises(ShapeError, match="nests deeper than 32"):
        load_json(b'{"data": ' + b"[" * 5000 + b"]" * 5000 + b"}", "event")
    with pytest.raises(ShapeError, match=f"the limit is {MAX_PAYLOAD}"):
        load_json(b" " * (MAX_PAYLOAD + 1), "status")
    assert load_json(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None
    # json.loads's own recursion limit is far above ours, so it is never reached
    with pytest.raises(ShapeError):
        Status.decode(b"[" * 100_000)


def test_a_dead_letter_keeps_a_prefix_size_and_hash_of_what_was_too_big() -> None:
    big = b"x" * (10 * 1024 * 1024)
    kept = Rejected("t", big, "too big", None, whole=False).kept()
    assert kept.payload == big[:PREFIX]
    assert kept.size == len(big)
    assert kept.sha256 == hashlib.sha256(big).hexdigest()
    small = Rejected("t", b"{bad", "not JSON").kept()
    assert (small.payload, small.size) == (b"{bad", 4)
    over = Rejected("t", b"y" * (MAX_PAYLOAD + 1), "whole, but over the limit anyway").kept()
    assert len(over.payload) == PREFIX


def test_the_incarnation_travels_in_the_envelope_and_old_messages_stay_readable() -> None:
    at = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
    read = BadgeRead(credential="0A", reader=1)
    event = make_event("s", "reader-1", "badge.read", 7, read, time=at, event_id="e-1",
                       incarnation="9b2c41d0")
    payload = encode(event)
    assert json.loads(payload)["incarnation"] == "9b2c41d0"
    assert decode(payload) == event
    old = make_event("s", "reader-1", "badge.read", 7, read, time=at, event_id="e-1")
    assert "incarnation" not in json.loads(encode(old))
    assert decode(encode(old)).incarnation == ""
    assert decode(payload) != old  # the same seq of another incarnation is another event
    with pytest.raises(ContractError, match="incarnation"):
        decode(json.dumps({**json.loads(payload), "incarnation": "no/slash"}).encode())


def test_the_service_time_is_the_receive_time_when_known() -> None:
    event = make_event("s", "reader-1", "badge.read", 1, BadgeRead(credential="0A", reader=1),
                       time=datetime(2099, 1, 1, tzinfo=UTC))
    assert event.service_time == event.time
    now = datetime(2026, 12, 4, tzinfo=UTC)
    received = decode(encode(event), received_at=now)
    assert received.service_time == now
    assert received == event  # the receive time is not part of the event's identity


def test_an_ack_names_its_incarnation() -> None:
    assert Ack.decode(Ack(5, "9b2c").encode()) == Ack(5, "9b2c")
    assert Ack.decode(b'{"seq": 5}') == Ack(5, "")  # from before incarnations
    with pytest.raises(ContractError, match="incarnation"):
        Ack.decode(b'{"seq": 5, "incarnation": 3}')


def test_watermarks_are_kept_per_incarnation() -> None:
    marks: Watermarks[tuple[str, str]] = Watermarks({("reader-1", "old"): 500})
    assert marks.add(("reader-1", "new"), [1, 2], now=0)  # starts over at 1: stored, not a duplicate
    assert marks.get(("reader-1", "new")) == 2
    assert marks.get(("reader-1", "old")) == 500
    assert not marks.add(("reader-1", "new"), [4], now=1)
    assert marks.overdue(now=40, timeout=30) == [Gap(("reader-1", "new"), 3, 3)]


def test_health_says_what_is_wrong() -> None:
    assert IngestHealth(True, True, 0.5, 0, 0).problem is None
    assert IngestHealth(False, True, None, 3, 1).problem == "ingest is not running"
    assert IngestHealth(True, False, 12.0, 0, 0).problem == "events cannot be stored"
    assert IngestHealth(True, True, 1.23456, 2, 0).to_json()["last_batch_age_s"] == 1.235


def test_times_beyond_the_range_leave_room_for_arithmetic() -> None:
    latest = parse_time("9998-12-31T23:59:59Z")
    assert latest + timedelta(days=300) > latest


def test_a_skewed_clock_is_said_once_until_it_agrees_again() -> None:
    watch = SkewWatch(300)
    assert watch.observe("reader-1", 10) is None
    assert watch.observe("reader-1", -3600) is True
    assert watch.observe("reader-1", 9e9) is None  # still off: said once
    assert watch.observe("reader-1", 299) is False
    assert watch.observe("reader-1", 301) is True


def test_events_of_the_services_own_devices_are_held_then_dropped_as_echoes_or_refused() -> None:
    """Off the bus, a reserved source's event is never stored: an echo is dropped, any other refused."""
    work = Work(own=[], dead=[], statuses={}, reserved=frozenset({"gatehouse/hq/central"}))
    echo, forged = (make_event("hq", "central", "badge.read", seq, BadgeRead(credential="0A", reader=1))
                    for seq in (1, 2))
    device = make_event("hq", "reader-1", "badge.read", 1, BadgeRead(credential="0A", reader=1))
    for event in (echo, forged, device):
        work.classify(event.topic, encode(event))
    assert [e.id for e in work.events] == [device.id]
    assert [e.id for e, _, _ in work.claims] == [echo.id, forged.id]
    work.refuse_claims({echo.id})
    assert work.claims == []
    (letter,) = work.dead
    assert (letter.topic, letter.payload, letter.source) == (forged.topic, encode(forged), forged.source)
    assert letter.reason.startswith("central is the central service's own device")
    assert work.poisoned == {}  # nothing of the service's own streams moves a watermark
