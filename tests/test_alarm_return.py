"""ISA-18.2 return to normal: the events that clear a condition and what the book does (plain values)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from broker.events import make_event
from broker.messages import Status
from broker.schemas import DeviceFault, DoorChange, Priority
from security.office.alarms import (
    SYSTEM,
    Acknowledge,
    AlarmBook,
    AlarmEvent,
    AlarmState,
    Cleared,
    Condition,
    RuleName,
    RulesConfig,
    Shelve,
    Unshelve,
)
from security.office.alarms.rules import returned_to_normal, status_returned_to_normal

T0 = datetime(2026, 12, 5, 22, 0, tzinfo=UTC)
HELD = Condition(RuleName.DOOR_HELD_OPEN, "door-held-open:dock", Priority.MEDIUM, "Door dock held open")
CLOSED = Cleared("door-held-open:dock", "door dock closed")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def names(outputs: tuple[object, ...]) -> list[str]:
    return [o.type if isinstance(o, AlarmEvent) else type(o).__name__ for o in outputs]


def test_an_unacknowledged_alarm_that_returns_to_normal_waits_then_clears_when_acknowledged() -> None:
    book, _ = AlarmBook().apply(HELD, T0)
    book, out = book.apply(CLOSED, at(30))
    assert names(out) == ["AlarmReturned"]
    alarm = book.alarms["a-1"]
    assert (alarm.state, alarm.normal, alarm.is_open) == (AlarmState.UNACKNOWLEDGED, True, True)
    assert (alarm.history[-1].action, alarm.history[-1].by, alarm.history[-1].note) == (
        "returned", SYSTEM, "door dock closed")
    again, out = book.apply(CLOSED, at(31))
    assert (again, out) == (book, ())  # closed twice: one return
    book, out = book.apply(Acknowledge("a-1", "guard:ana"), at(60))
    assert names(out) == ["alarm.acknowledged", "alarm.resolved"]
    alarm = book.alarms["a-1"]
    assert alarm.state == AlarmState.RESOLVED
    assert (alarm.history[-1].by, alarm.history[-1].note) == (SYSTEM, "acknowledged and returned to normal")
    assert book.open_for(HELD.key) is None


def test_an_acknowledged_alarm_clears_when_its_condition_returns_to_normal() -> None:
    book, _ = AlarmBook().apply(HELD, T0)
    book, _ = book.apply(Acknowledge("a-1", "guard:ana"), at(10))
    assert book.alarms["a-1"].normal is False
    book, out = book.apply(CLOSED, at(40))
    assert names(out) == ["AlarmReturned", "alarm.resolved"]
    steps = [t.action for t in book.alarms["a-1"].history]
    assert steps == ["raised", "acknowledged", "returned", "resolved"]


def test_the_condition_coming_again_makes_the_alarm_abnormal_again() -> None:
    book, _ = AlarmBook().apply(HELD, T0)
    book, _ = book.apply(CLOSED, at(30))
    book, out = book.apply(HELD, at(90))
    alarm = book.alarms["a-1"]
    assert (names(out), alarm.count, alarm.normal) == (["AlarmRecounted"], 2, False)
    book, out = book.apply(Acknowledge("a-1", "guard:ana"), at(100))
    assert names(out) == ["alarm.acknowledged"]  # still abnormal: it stays open
    assert book.alarms["a-1"].state == AlarmState.ACKNOWLEDGED


def test_a_shelved_alarm_is_marked_and_clears_when_it_comes_back_acknowledged() -> None:
    book, _ = AlarmBook().apply(HELD, T0)
    book, _ = book.apply(Acknowledge("a-1", "guard:ana"), at(5))
    book, _ = book.apply(Shelve("a-1", "guard:ana", at(3600)), at(6))
    book, out = book.apply(CLOSED, at(30))
    assert names(out) == ["AlarmReturned"]
    assert book.alarms["a-1"].state == AlarmState.SHELVED
    book, out = book.apply(Unshelve("a-1", "guard:ana"), at(40))
    assert names(out) == ["AlarmUnshelved", "alarm.resolved"]


def test_a_clearing_with_no_open_alarm_changes_nothing() -> None:
    book = AlarmBook()
    assert book.apply(CLOSED, T0) == (book, ())


@pytest.mark.parametrize(("kind", "data", "keys"), [
    ("door.closed", DoorChange(door="dock"), ["door-forced:dock", "door-held-open:dock"]),
    ("door.opened", DoorChange(door="dock"), []),
    ("device.fault", DeviceFault(fault="paper_out", cleared=True), ["printer-fault:SOURCE"]),
    ("device.fault", DeviceFault(fault="paper_out"), []),
    ("device.fault", DeviceFault(fault="power", cleared=True), []),  # not a printer fault the rule watches
])  # fmt: skip
def test_the_events_that_say_a_condition_cleared(kind: str, data: DoorChange | DeviceFault,
                                                 keys: list[str]) -> None:
    event = make_event("s", "door-1", kind, 1, data, time=T0)
    keys = [k.replace("SOURCE", event.source) for k in keys]
    assert [c.key for c in returned_to_normal(event, RulesConfig())] == keys


def test_a_listed_door_is_believed_closed_only_from_its_own_device() -> None:
    doors = {"dock": "door-1"}
    own = make_event("s", "door-1", "door.closed", 1, DoorChange(door="dock"), time=T0)
    other = make_event("s", "reader-9", "door.closed", 1, DoorChange(door="dock"), time=T0)
    unlisted = make_event("s", "reader-9", "door.closed", 1, DoorChange(door="yard-gate"), time=T0)
    assert len(returned_to_normal(own, RulesConfig(), doors)) == 2
    assert returned_to_normal(other, RulesConfig(), doors) == ()
    assert len(returned_to_normal(unlisted, RulesConfig(), doors)) == 2


def test_a_device_back_online_returns_its_offline_alarm_to_normal() -> None:
    online = Status(state="online", kind="camera", since=T0)
    offline = Status(state="offline", kind="camera", since=T0)
    [back] = status_returned_to_normal("gatehouse/s/cam-1", online, was_offline=True)
    assert back.key == "device-offline:gatehouse/s/cam-1"
    assert status_returned_to_normal("gatehouse/s/cam-1", online, was_offline=False) == ()
    assert status_returned_to_normal("gatehouse/s/cam-1", offline, was_offline=True) == ()
