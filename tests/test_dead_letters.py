"""Malformed messages thrown at a running service: it stays up and keeps each as a dead letter."""

from __future__ import annotations

import json
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paho.mqtt.enums import CallbackAPIVersion

from broker import topics
from broker.config import MqttUrl
from broker.events import encode, make_event, to_dict
from broker.examples import EXAMPLES
from broker.schemas import BadgeRead
from security.storage import open_store
from tests.support import running_service, unique_site, wait_until

_BREAKERS: list[tuple[str, Any]] = [
    ("seq", 0), ("seq", -5), ("seq", "12"), ("seq", 1.5), ("seq", None), ("id", ""), ("id", 7),
    ("time", "not a time"), ("time", "2026-11-22T10:00:00"), ("specversion", "0.3"), ("type", "nope"),
    ("type", "badge.read.extra"), ("source", "gatehouse/x"), ("data", "text"), ("data", None),
    ("datacontenttype", "text/xml"), ("unexpected", True),
]


def _json_values() -> st.SearchStrategy[Any]:
    return st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=12,
    )


@st.composite
def _broken_event(draw: st.DrawFn, site: str) -> tuple[str, bytes]:
    """A valid event of some type with one envelope or data field broken."""
    event_type = draw(st.sampled_from(sorted(EXAMPLES)))
    event = make_event(site, "fuzz", event_type, draw(st.integers(1, 10**6)), EXAMPLES[event_type])
    doc = to_dict(event)
    if draw(st.booleans()):
        key, value = draw(st.sampled_from(_BREAKERS))
        doc[key] = value
    else:
        field = draw(st.sampled_from(sorted(doc["data"]) or ["x"]))
        doc["data"][field] = draw(st.sampled_from([{"zz": 1}, [[[]]]]))  # wrong for every field type
    return event.topic, json.dumps(doc).encode()


def _malformed(site: str) -> st.SearchStrategy[tuple[str, bytes]]:
    topic = topics.event(site, "fuzz", "badge.read")
    bad_topics = st.sampled_from([
        f"gatehouse/{site}/Fuzz/event/badge.read", f"gatehouse/{site}/fuzz/event/badge.read/more",
        f"gatehouse/{site}/fuzz/event/BADGE",
    ])
    good_event = encode(make_event(site, "fuzz", "badge.read", 1, BadgeRead(credential="0F", reader=1)))
    return st.one_of(
        st.tuples(st.just(topic), st.binary(max_size=300)),
        st.tuples(st.just(topic), _json_values().map(lambda v: json.dumps(v).encode())),
        _broken_event(site),
        st.tuples(bad_topics, st.just(good_event)),
        st.tuples(st.just(topics.status(site, "fuzz")), st.binary(max_size=50)),
    )


@pytest.mark.mosquitto
def test_malformed_messages_become_dead_letters(mosquitto_url: MqttUrl, sqlite_url: str) -> None:
    site = unique_site()
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.connect(mosquitto_url.host, mosquitto_url.port)
    client.loop_start()
    sent: list[tuple[str, bytes]] = []
    try:
        with running_service(mosquitto_url, sqlite_url, site) as service:

            @settings(max_examples=300, deadline=None, database=None,
                      suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
            @given(message=_malformed(site))
            def throw(message: tuple[str, bytes]) -> None:
                client.publish(*message, qos=1).wait_for_publish(5)
                sent.append(message)

            throw()
            wait_until(lambda: service.stats.dead_letters >= len(sent), 30,
                       f"{len(sent)} dead letters recorded")
            good = make_event(site, "reader-1", "badge.read", 1, BadgeRead(credential="0E", reader=1))
            client.publish(good.topic, encode(good), qos=1).wait_for_publish(5)
            wait_until(lambda: service.stats.stored == 1, 10, "a valid event stored after the storm")
        with open_store(sqlite_url) as store:
            letters = store.list_dead_letters(limit=10_000)
            assert store.count_events() == 1
        assert len(letters) == len(sent)
        assert all(letter.reason for letter in letters)
        assert sorted(letter.payload for letter in letters) == sorted(p for _t, p in sent)
    finally:
        client.loop_stop()
        client.disconnect()
