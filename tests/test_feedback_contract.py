"""`visitor.feedback` in the contract: strict data, round trips, and who may send it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from broker.events import ContractError, decode, encode, make_event, to_dict
from broker.kinds import Kind, may_emit
from broker.schemas import VisitorFeedback
from broker.summaries import summarize

FEEDBACK: dict[str, Any] = {"visit_id": "v-1", "rating": 5, "language": "pl"}


@pytest.mark.parametrize("data", [
    VisitorFeedback(visit_id="v-1", rating=1, language="en"),
    VisitorFeedback(visit_id="v-1", rating=5, language="pl", comment="Bardzo miła obsługa"),
    VisitorFeedback(visit_id="v.2", rating=3, language="id", comment="x" * 200),
])
def test_round_trip_from_a_kiosk(data: VisitorFeedback) -> None:
    event = make_event("lobby", "kiosk-1", "visitor.feedback", 4, data)
    back = decode(encode(event), topic=event.topic)
    assert back.data == data
    assert encode(back) == encode(event)
    line = summarize(back)
    assert f"rated {data.rating}/5" in line
    assert ("with a comment" in line) == (data.comment is not None)
    assert "obsługa" not in line  # the visitor's own words stay off the feed


@pytest.mark.parametrize(("changes", "message"), [
    ({"rating": 0}, "rating"),
    ({"rating": 6}, "rating"),
    ({"rating": "great"}, "rating"),
    ({"rating": 4.5}, "rating"),
    ({"rating": None}, "rating"),
    ({"comment": "x" * 201}, "comment"),
    ({"comment": ""}, "comment"),
    ({"language": "Polish"}, "language"),
    ({"visit_id": "v 1"}, "visit_id"),
    ({"host_id": "h-1"}, "host_id"),
])
def test_bad_feedback_is_refused_saying_why(changes: dict[str, Any], message: str) -> None:
    doc = {k: v for k, v in {**FEEDBACK, **changes}.items() if v is not None}
    with pytest.raises(ValidationError, match=message):
        VisitorFeedback.model_validate(doc)
    envelope = to_dict(make_event("lobby", "kiosk-1", "visitor.feedback", 1, VisitorFeedback(**FEEDBACK)))
    envelope.update(data=doc)
    with pytest.raises(ContractError, match=f"visitor.feedback data: .*{message}"):
        decode(json.dumps(envelope).encode())


def test_kiosks_send_feedback_and_devices_and_stations_do_not() -> None:
    assert may_emit(Kind.KIOSK, "visitor.feedback")
    assert may_emit(Kind.SERVICE, "visitor.feedback")
    for kind in (Kind.STATION, Kind.READER, Kind.DEVICE, Kind.PRINTER, Kind.DOOR):
        assert not may_emit(kind, "visitor.feedback"), kind
