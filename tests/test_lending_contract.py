"""`item.lent` and `item.returned` in the contract: strict data, round trips, and who may send them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from broker.events import ContractError, decode, encode, make_event, to_dict
from broker.kinds import Kind, may_emit
from broker.schemas import ItemKind, ItemLent, ItemReturned
from broker.summaries import summarize

DUE = datetime(2026, 12, 5, 17, 0, tzinfo=UTC)
LENT: dict[str, Any] = {"item_id": "key-17", "item_kind": "key", "description": "Server room key",
                        "visit_id": "v-1", "due_at": "2026-12-05T17:00:00Z", "by": "reception:dewi"}


@pytest.mark.parametrize("data", [
    ItemLent(item_id="key-17", item_kind=ItemKind.KEY, description="Server room key", visit_id="v-1",
             due_at=DUE, by="reception:dewi"),
    ItemLent(item_id="lap.3", item_kind=ItemKind.LAPTOP, description="Loan laptop 3", person_id="e-1001",
             due_at=DUE, by="reception:dewi", note="charger included"),
    ItemReturned(item_id="key-17", by="reception:dewi"),
    ItemReturned(item_id="key-17", by="guard:joe", condition="damaged", note="bent"),
])
def test_round_trip_from_a_station(data: ItemLent | ItemReturned) -> None:
    event_type = "item.lent" if isinstance(data, ItemLent) else "item.returned"
    event = make_event("lobby", "station-1", event_type, 3, data)
    back = decode(encode(event), topic=event.topic)
    assert back.data == data
    assert encode(back) == encode(event)
    assert data.item_id in summarize(back)


@pytest.mark.parametrize(("changes", "message"), [
    ({"visit_id": None}, "exactly one of visit_id and person_id"),
    ({"person_id": "e-1"}, "exactly one of visit_id and person_id"),
    ({"item_kind": "umbrella"}, "item_kind"),
    ({"due_at": "2026-12-05T17:00:00"}, "due_at"),  # no time zone: whose 17:00?
    ({"due_at": "tomorrow"}, "due_at"),
    ({"item_id": "key 17"}, "item_id"),
    ({"description": ""}, "description"),
    ({"by": "x" * 201}, "by"),
    ({"colour": "red"}, "colour"),
])
def test_a_bad_loan_is_refused_saying_why(changes: dict[str, Any], message: str) -> None:
    doc = {k: v for k, v in {**LENT, **changes}.items() if v is not None}
    with pytest.raises(ValidationError, match=message):
        ItemLent.model_validate(doc)
    envelope = to_dict(make_event("lobby", "station-1", "item.returned", 1,
                                  ItemReturned(item_id="k", by="x")))
    envelope.update(type="item.lent", data=doc)
    with pytest.raises(ContractError, match=f"item.lent data: .*{message}"):
        decode(json.dumps(envelope).encode())


@pytest.mark.parametrize("doc", [
    {"item_id": "key-17"},
    {"item_id": "key-17", "by": "x", "condition": "lost"},
    {"item_id": "key-17", "by": "x", "returned_at": "2026-12-05T17:00:00Z"},
])
def test_a_bad_return_is_refused(doc: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ItemReturned.model_validate(doc)


def test_stations_lend_and_kiosks_and_devices_do_not() -> None:
    for event_type in ("item.lent", "item.returned"):
        assert may_emit(Kind.STATION, event_type)
        assert may_emit(Kind.SERVICE, event_type)
        for kind in (Kind.KIOSK, Kind.READER, Kind.DEVICE, Kind.PRINTER):
            assert not may_emit(kind, event_type), (kind, event_type)
