"""The alarm life cycle: every transition, invalid ones, shelving, flood control and escalation by clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from broker.schemas import AlarmAction, AlarmRaised, AlarmShelved, Priority
from security.office.alarms import (
    SYSTEM,
    Acknowledge,
    Action,
    ActionRejected,
    AlarmBook,
    AlarmEscalated,
    AlarmEvent,
    AlarmRecounted,
    AlarmState,
    AlarmUnshelved,
    BookConfig,
    Condition,
    EscalationStep,
    Output,
    Resolve,
    RuleName,
    Shelve,
    Unshelve,
)

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
FORCED = Condition(RuleName.DOOR_FORCED, "door-forced:main", Priority.HIGH, "Door main forced open", ("e-1",))
UNACK, ACK, SHELVED, RESOLVED = (
    AlarmState.UNACKNOWLEDGED, AlarmState.ACKNOWLEDGED, AlarmState.SHELVED, AlarmState.RESOLVED
)


def at(seconds: float) -> datetime:
    """T0 plus `seconds`."""
    return T0 + timedelta(seconds=seconds)


def raised(book: AlarmBook | None = None, condition: Condition = FORCED) -> AlarmBook:
    """A book with the door-forced alarm a-1 raised at T0."""
    new, _ = (book or AlarmBook()).apply(condition, T0)
    return new


def to_state(state: AlarmState) -> AlarmBook:
    """A book whose alarm a-1 is in `state` (shelved from unacknowledged)."""
    book = raised()
    steps: dict[AlarmState, list[Action]] = {
        UNACK: [],
        ACK: [Acknowledge("a-1", "guard:ana")],
        SHELVED: [Shelve("a-1", "guard:ana", at(600))],
        RESOLVED: [Resolve("a-1", "guard:ana", "closed")],
    }
    for action in steps[state]:
        book, _ = book.apply(action, at(1))
    return book


def event_types(outputs: tuple[Output, ...]) -> list[str]:
    """The type of each output: the contract event type or the output class name."""
    return [o.type if isinstance(o, AlarmEvent) else type(o).__name__ for o in outputs]


def test_raise_publishes_alarm_raised() -> None:
    """A new condition raises an unacknowledged alarm and an `alarm.raised` event."""
    book, outputs = AlarmBook().apply(FORCED, T0)
    (out,) = outputs
    assert isinstance(out, AlarmEvent)
    assert out.type == "alarm.raised"
    summary = "Door main forced open"
    assert out.data == AlarmRaised(
        alarm_id="a-1", rule="door-forced", priority=Priority.HIGH, summary=summary, cause=("e-1",)
    )
    alarm = book.get("a-1")
    assert alarm is not None
    assert (alarm.state, alarm.count, alarm.raised_at, alarm.history[0].by) == (UNACK, 1, T0, SYSTEM)


LATER = at(30)
TRANSITIONS: list[tuple[AlarmState, Action, AlarmState, list[str]]] = [
    (UNACK, Acknowledge("a-1", "guard:bo"), ACK, ["alarm.acknowledged"]),
    (UNACK, Resolve("a-1", "guard:bo", "re-secured"), RESOLVED, ["alarm.resolved"]),
    (UNACK, Shelve("a-1", "guard:bo", at(3600)), SHELVED, ["alarm.shelved"]),
    (UNACK, Unshelve("a-1", "guard:bo"), UNACK, ["ActionRejected"]),
    (ACK, Acknowledge("a-1", "guard:bo"), ACK, []),
    (ACK, Resolve("a-1", "guard:bo", "closed"), RESOLVED, ["alarm.resolved"]),
    (ACK, Shelve("a-1", "guard:bo", at(3600)), SHELVED, ["alarm.shelved"]),
    (SHELVED, Acknowledge("a-1", "guard:bo"), SHELVED, ["ActionRejected"]),
    (SHELVED, Shelve("a-1", "guard:bo", at(3600)), SHELVED, ["ActionRejected"]),
    (SHELVED, Unshelve("a-1", "guard:bo"), UNACK, ["AlarmUnshelved"]),
    (SHELVED, Resolve("a-1", "guard:bo", "closed"), RESOLVED, ["alarm.resolved"]),
    (RESOLVED, Acknowledge("a-1", "guard:bo"), RESOLVED, ["ActionRejected"]),
    (RESOLVED, Resolve("a-1", "guard:bo", "closed"), RESOLVED, []),
    (RESOLVED, Shelve("a-1", "guard:bo", at(3600)), RESOLVED, ["ActionRejected"]),
    (RESOLVED, Unshelve("a-1", "guard:bo"), RESOLVED, ["ActionRejected"]),
]


@pytest.mark.parametrize(
    ("start", "action", "end", "outputs"),
    TRANSITIONS,
    ids=[f"{s}-{type(a).__name__}-{e}" for s, a, e, _ in TRANSITIONS],
)
def test_transitions(start: AlarmState, action: Action, end: AlarmState, outputs: list[str]) -> None:
    """Each action from each state: the new state and what is published (nothing for a repeat)."""
    book = to_state(start)
    new, out = book.apply(action, LATER)
    alarm = new.get("a-1")
    assert alarm is not None
    assert (alarm.state, event_types(out)) == (end, outputs)
    if outputs and outputs[0].startswith("alarm."):
        assert (alarm.history[-1].by, alarm.history[-1].at) == ("guard:bo", LATER)
    if not outputs or outputs == ["ActionRejected"]:
        assert new == book


def test_action_data_names_who_and_note() -> None:
    """Acknowledge, resolve and shelve publish the contract's data with `by` and `note`."""
    book = raised()
    book, (ack,) = book.apply(Acknowledge("a-1", "guard:ana", "on my way"), at(5))
    book, (shelf,) = book.apply(Shelve("a-1", "guard:ana", at(600), "maintenance"), at(6))
    _, (res,) = book.apply(Resolve("a-1", "guard:bo", "door fixed"), at(7))
    assert isinstance(ack, AlarmEvent)
    assert isinstance(shelf, AlarmEvent)
    assert isinstance(res, AlarmEvent)
    assert ack.data == AlarmAction(alarm_id="a-1", by="guard:ana", note="on my way")
    assert shelf.data == AlarmShelved(alarm_id="a-1", by="guard:ana", until=at(600), note="maintenance")
    resolved = AlarmAction(alarm_id="a-1", by="guard:bo", note="door fixed")
    assert (res.type, res.data, res.at) == ("alarm.resolved", resolved, at(7))


def test_the_system_resolves_without_a_closing_comment() -> None:
    """Only a person must write why an alarm is closed; the system's resolutions carry none."""
    _, (out,) = raised().apply(Resolve("a-1", SYSTEM), at(5))
    assert isinstance(out, AlarmEvent)
    assert out.alarm.state == AlarmState.RESOLVED


@pytest.mark.parametrize(
    ("action", "reason"),
    [
        (Acknowledge("a-9", "guard:ana"), "no alarm a-9"),
        (Acknowledge("a-1", ""), "by must be"),
        (Acknowledge("a-1", "x" * 201), "by must be"),
        (Resolve("a-1", "guard:ana", ""), "a note must be"),
        (Resolve("a-1", "guard:ana"), "a closing comment (note) is required"),
        (Shelve("a-1", "guard:ana", at(8 * 3600 + 0.001)), "limited to 28800 s"),
        (Shelve("a-1", "guard:ana", T0), "in the future"),
    ],
)
def test_rejected_actions(action: Action, reason: str) -> None:
    """Invalid actions change nothing and say why."""
    book = raised()
    new, (out,) = book.apply(action, T0)
    assert isinstance(out, ActionRejected)
    assert reason in out.reason
    assert new == book


def test_shelve_up_to_the_maximum_is_allowed() -> None:
    """Shelving for exactly the maximum duration is allowed."""
    _, (out,) = raised().apply(Shelve("a-1", "guard:ana", at(8 * 3600)), T0)
    assert isinstance(out, AlarmEvent)
    assert out.type == "alarm.shelved"


@pytest.mark.parametrize("before", [UNACK, ACK])
def test_shelve_expires_back_to_previous_state(before: AlarmState) -> None:
    """At `until` (not before) a shelved alarm returns to the state it was shelved from."""
    book = raised()
    if before == ACK:
        book, _ = book.apply(Acknowledge("a-1", "guard:ana"), at(1))
    book, _ = book.apply(Shelve("a-1", "guard:ana", at(600)), at(2))
    still, early = book.tick(at(599.999))
    assert (early, still.alarms["a-1"].state) == ((), SHELVED)
    back, outputs = book.tick(at(600))
    unshelved = outputs[0]
    assert isinstance(unshelved, AlarmUnshelved)
    assert (unshelved.by, unshelved.back_to, unshelved.at) == (SYSTEM, before, at(600))
    alarm = back.alarms["a-1"]
    assert (alarm.state, alarm.shelved_until) == (before, None)
    assert "unshelved" in [t.action for t in alarm.history]


def test_double_acknowledgement_is_one() -> None:
    """Two stations acknowledging the same alarm: the first wins, the second is a no-op."""
    book = raised()
    book, first = book.apply(Acknowledge("a-1", "station-1:ana"), at(3))
    book, second = book.apply(Acknowledge("a-1", "station-2:bo"), at(3))
    alarm = book.alarms["a-1"]
    assert (event_types(first), second) == (["alarm.acknowledged"], ())
    assert [t.by for t in alarm.history if t.action == "acknowledged"] == ["station-1:ana"]


def test_flood_control_counts_on_the_open_alarm() -> None:
    """The same key while open counts on the alarm; after resolving, it raises a new alarm."""
    book = raised()
    again = Condition(FORCED.rule, FORCED.key, FORCED.priority, FORCED.summary, ("e-2",))
    book, out1 = book.apply(again, at(10))
    book, _ = book.apply(Acknowledge("a-1", "guard:ana"), at(11))
    book, out2 = book.apply(again, at(20))
    alarm = book.alarms["a-1"]
    assert event_types(out1) == event_types(out2) == ["AlarmRecounted"]
    assert isinstance(out2[0], AlarmRecounted)
    assert out2[0].count == 3
    assert (alarm.count, alarm.last_seen, alarm.cause, alarm.state) == (3, at(20), ("e-1", "e-2"), ACK)
    assert len(book.alarms) == 1
    other = Condition(FORCED.rule, "door-forced:back", FORCED.priority, "Door back forced open")
    book, out3 = book.apply(other, at(21))
    book, _ = book.apply(Resolve("a-1", "guard:ana", "closed"), at(30))
    book, out4 = book.apply(again, at(40))
    assert event_types(out3) == event_types(out4) == ["alarm.raised"]
    assert sorted(book.alarms) == ["a-1", "a-2", "a-3"]
    assert book.open_for(FORCED.key) == book.alarms["a-3"]


def test_flood_control_counts_on_a_shelved_alarm() -> None:
    """A repeat while shelved counts on the shelved alarm and stays shelved."""
    book = to_state(SHELVED)
    book, out = book.apply(FORCED, at(5))
    assert event_types(out) == ["AlarmRecounted"]
    assert (book.alarms["a-1"].state, book.alarms["a-1"].count) == (SHELVED, 2)


STEPS = BookConfig(escalation={Priority.HIGH: (EscalationStep(300, 1, ("supervisor",)),
                                               EscalationStep(900, 2, ("manager",)))})


@pytest.mark.parametrize(
    ("seconds", "levels"),
    [(299.999, []), (300, [1]), (899.999, [1]), (900, [1, 2]), (5000, [1, 2])],
)
def test_escalation_timing(seconds: float, levels: list[int]) -> None:
    """Unacknowledged alarms escalate at each level's timeout, each level once, at the edge included."""
    book = raised(AlarmBook(STEPS))
    fired: list[int] = []
    for t in sorted({299.999, 300.0, 899.999, 900.0, 5000.0}):
        if t > seconds:
            break
        book, outputs = book.tick(at(t))
        fired += [o.level for o in outputs if isinstance(o, AlarmEscalated)]
    assert fired == levels
    assert book.alarms["a-1"].escalation_level == (levels[-1] if levels else 0)


def test_escalation_outputs_who_to_notify_and_jumps_levels() -> None:
    """A late tick fires every due level in order, naming whom to notify."""
    _, outputs = raised(AlarmBook(STEPS)).tick(at(1000))
    assert [(o.level, o.notify, o.at) for o in outputs if isinstance(o, AlarmEscalated)] == [
        (1, ("supervisor",), at(1000)), (2, ("manager",), at(1000))
    ]


@pytest.mark.parametrize("state", [ACK, SHELVED, RESOLVED])
def test_no_escalation_unless_unacknowledged(state: AlarmState) -> None:
    """Acknowledged, shelved and resolved alarms do not escalate."""
    book = AlarmBook(STEPS).apply(FORCED, T0)[0]
    actions: dict[AlarmState, Action] = {
        ACK: Acknowledge("a-1", "g"), SHELVED: Shelve("a-1", "g", at(1000)),
        RESOLVED: Resolve("a-1", "g", "closed"),
    }
    action = actions[state]
    book, _ = book.apply(action, at(1))
    assert book.tick(at(999))[1] == ()


def test_escalation_resumes_after_shelve_expires() -> None:
    """An unacknowledged alarm whose shelve expired past its timeout escalates on that tick."""
    book = AlarmBook(STEPS).apply(FORCED, T0)[0]
    book, _ = book.apply(Shelve("a-1", "g", at(400)), at(1))
    _, outputs = book.tick(at(400))
    assert event_types(outputs) == ["AlarmUnshelved", "AlarmEscalated"]


def test_default_escalation_and_priority_order() -> None:
    """Critical escalates after 60 s by default; open alarms list highest priority first."""
    low = Condition(RuleName.DELIVERY_GAP, "gap", Priority.LOW, "gap")
    crit = Condition(RuleName.WATCHLIST_MATCH, "wl", Priority.CRITICAL, "match", silent=True)
    book = AlarmBook().apply(low, T0)[0].apply(crit, at(1))[0]
    assert [a.priority for a in book.open_alarms()] == [Priority.CRITICAL, Priority.LOW]
    assert book.tick(at(60))[1] == ()
    assert event_types(book.tick(at(61))[1]) == ["AlarmEscalated"]
    assert book.alarms["a-2"].silent


def test_long_summary_is_cut_to_the_contract_limit() -> None:
    """A summary over 200 characters is cut so `alarm.raised` stays valid."""
    long = Condition(RuleName.DOOR_FORCED, "k", Priority.HIGH, "x" * 300)
    _, (out,) = AlarmBook().apply(long, T0)
    assert isinstance(out, AlarmEvent)
    assert isinstance(out.data, AlarmRaised)
    assert len(out.data.summary) == 200
