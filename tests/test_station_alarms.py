"""The guard station's alarm queue, driven like a function: retained states in, rows and requests out."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from broker.messages import AlarmStateName, AlarmStatus, AlarmStep
from broker.schemas import AlarmRequested
from security.station.alarms import PENDING_TIMEOUT, AlarmQueue
from security.station.samples import sample_alarms
from security.station.viewmodel import StationViewModel

T0 = datetime(2026, 11, 22, 8, 20, tzinfo=UTC)
X = "\N{MULTIPLICATION SIGN}"


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def alarm(
    alarm_id: str = "a-1",
    *,
    priority: str = "high",
    state: AlarmStateName = "unacknowledged",
    minutes_ago: float = 5,
    updated_minutes_ago: float | None = None,
    **fields: Any,
) -> AlarmStatus:
    raised = T0 - timedelta(minutes=minutes_ago)
    updated = T0 - timedelta(minutes=minutes_ago if updated_minutes_ago is None else updated_minutes_ago)
    return AlarmStatus(
        id=alarm_id, rule="door-forced", priority=priority, summary=f"summary of {alarm_id}",
        state=state, raised_at=raised, updated_at=updated, **fields,
    )


def queue_of(*alarms: AlarmStatus, clock: FakeClock | None = None) -> AlarmQueue:
    queue = AlarmQueue(tz=UTC, now=clock or FakeClock())
    for status in alarms:
        queue.on_alarm(status.id, status)
    return queue


def ids(queue: AlarmQueue) -> list[str]:
    return [row.alarm_id for row in queue.rows]


# ordering
@pytest.mark.parametrize(
    ("alarms", "expected"),
    [
        ([("a-1", "low", 50), ("a-2", "critical", 1), ("a-3", "medium", 9), ("a-4", "high", 3)],
         ["a-2", "a-4", "a-3", "a-1"]),
        ([("a-1", "high", 1), ("a-2", "high", 30), ("a-3", "high", 10)], ["a-2", "a-3", "a-1"]),
        ([("a-9", "medium", 5), ("a-1", "critical", 0), ("a-2", "medium", 6)], ["a-1", "a-2", "a-9"]),
        ([("a-2", "low", 5), ("a-1", "low", 5)], ["a-1", "a-2"]),  # same moment: by id
        ([], []),
    ],
)  # fmt: skip
def test_rows_put_critical_first_then_the_oldest(
    alarms: list[tuple[str, str, float]], expected: list[str]
) -> None:
    queue = queue_of(*(alarm(i, priority=p, minutes_ago=m) for i, p, m in alarms))
    assert ids(queue) == expected


def test_sample_alarms_survive_the_wire_and_come_out_critical_first() -> None:
    queue = queue_of(*(AlarmStatus.decode(a.encode()) for a in sample_alarms(T0)))
    assert ids(queue) == ["a-2", "a-1", "a-5", "a-3", "a-4"]
    assert queue.header == "5 open, 3 unacknowledged, 1 acknowledged, 1 shelved, 1 silent"


# update and clear
def test_an_update_replaces_the_row_and_an_older_one_is_ignored() -> None:
    queue = queue_of(alarm("a-1", updated_minutes_ago=5), alarm("a-2"))
    version = queue.version
    newer = alarm("a-1", state="acknowledged", updated_minutes_ago=1, count=2,
                  history=(AlarmStep("acknowledged", "guard:maria", T0 - timedelta(minutes=1)),))  # fmt: skip
    row = queue.on_alarm("a-1", newer)
    assert row is not None
    assert (row.state, row.count, row.acknowledged_by) == ("acknowledged", f"{X}2", "guard:maria")
    assert queue.version == version + 1
    stale = alarm("a-1", state="unacknowledged", updated_minutes_ago=3)
    assert queue.on_alarm("a-1", stale) == row
    assert queue.version == version + 1
    assert [r.state for r in queue.rows] == ["acknowledged", "unacknowledged"]


@pytest.mark.parametrize("cleared", [None, "resolved"])
def test_a_cleared_or_resolved_alarm_leaves_the_queue(cleared: str | None) -> None:
    queue = queue_of(alarm("a-1"), alarm("a-2", minutes_ago=1))
    status = None if cleared is None else alarm("a-1", state="resolved", updated_minutes_ago=0)
    assert queue.on_alarm("a-1", status) is None
    assert ids(queue) == ["a-2"]
    assert queue.row("a-1") is None
    assert queue.on_alarm("a-7", None) is None  # clearing an alarm never seen is harmless
    assert ids(queue) == ["a-2"]


def test_a_payload_for_another_alarm_is_refused() -> None:
    queue = queue_of()
    with pytest.raises(ValueError, match="alarm topic 'a-1' carries alarm 'a-2'"):
        queue.on_alarm("a-1", alarm("a-2"))
    assert queue.rows == ()


# selection
@pytest.mark.parametrize(
    ("change", "selected_after"),
    [
        (("a-2", "update"), "a-2"),
        (("a-1", "update"), "a-2"),
        (("a-1", "clear"), "a-2"),
        (("a-3", "new-critical"), "a-2"),
        (("a-2", "clear"), None),
        (("a-2", "resolve"), None),
    ],
)
def test_the_selection_follows_the_alarm_not_the_position(
    change: tuple[str, str], selected_after: str | None
) -> None:
    queue = queue_of(alarm("a-1", minutes_ago=9), alarm("a-2", minutes_ago=3))
    queue.select("a-2")
    alarm_id, what = change
    if what == "update":
        queue.on_alarm(alarm_id, alarm(alarm_id, state="acknowledged", updated_minutes_ago=0))
    elif what == "new-critical":
        queue.on_alarm(alarm_id, alarm(alarm_id, priority="critical"))
    elif what == "resolve":
        queue.on_alarm(alarm_id, alarm(alarm_id, state="resolved", updated_minutes_ago=0))
    else:
        queue.on_alarm(alarm_id, None)
    assert queue.selected == selected_after
    details = queue.details()
    assert (details.alarm_id if details else None) == selected_after


def test_selecting_an_unknown_alarm_is_refused_and_none_clears() -> None:
    queue = queue_of(alarm("a-1"))
    with pytest.raises(ValueError, match="no open alarm 'a-9'"):
        queue.select("a-9")
    queue.select("a-1")
    queue.select(None)
    assert queue.selected is None
    assert queue.details() is None


# requests
@pytest.mark.parametrize(
    ("state", "action", "minutes", "note", "until", "note_sent"),
    [
        ("unacknowledged", "acknowledge", None, None, None, None),
        ("unacknowledged", "acknowledge", None, "  on my way ", None, "on my way"),
        ("unacknowledged", "acknowledge", None, "   ", None, None),
        ("acknowledged", "resolve", None, "door checked", None, "door checked"),
        ("shelved", "resolve", None, "false alarm", None, "false alarm"),
        ("unacknowledged", "resolve", None, " re-secured ", None, "re-secured"),
        ("unacknowledged", "shelve", 15, None, T0 + timedelta(minutes=15), None),
        ("acknowledged", "shelve", 1, None, T0 + timedelta(minutes=1), None),
        ("acknowledged", "shelve", 480, "n" * 200, T0 + timedelta(minutes=480), "n" * 200),
        ("shelved", "unshelve", None, None, None, None),
    ],
)  # fmt: skip
def test_a_valid_request_is_built_for_the_selected_alarm(
    state: AlarmStateName, action: str, minutes: int | None, note: str | None,
    until: datetime | None, note_sent: str | None,
) -> None:  # fmt: skip
    queue = queue_of(alarm("a-1", state=state), alarm("a-2"))
    queue.select("a-1")
    request = queue.request(action, " guard:ada ", note=note, shelve_minutes=minutes)
    expected = {"alarm_id": "a-1", "action": action, "by": "guard:ada", "note": note_sent, "until": until}
    assert request == AlarmRequested.model_validate(expected)
    assert AlarmRequested.model_validate(request.model_dump()) == request  # the contract accepts it


@pytest.mark.parametrize(
    ("state", "action", "kwargs", "message"),
    [
        (None, "acknowledge", {}, "select an alarm first"),
        ("unacknowledged", "silence", {},
         "unknown action 'silence': choose one of acknowledge, resolve, shelve, unshelve"),
        ("acknowledged", "acknowledge", {}, "alarm a-1 is already acknowledged"),
        ("shelved", "acknowledge", {}, "alarm a-1 is shelved: unshelve it first"),
        ("shelved", "shelve", {"shelve_minutes": 15}, "alarm a-1 is already shelved"),
        ("unacknowledged", "unshelve", {}, "alarm a-1 is not shelved"),
        ("acknowledged", "unshelve", {}, "alarm a-1 is not shelved"),
        ("unacknowledged", "shelve", {}, "shelve needs a duration of 1 to 480 minutes (none given)"),
        ("unacknowledged", "shelve", {"shelve_minutes": 0},
         "shelve needs a duration of 1 to 480 minutes (got 0)"),
        ("unacknowledged", "shelve", {"shelve_minutes": 481}, "(got 481)"),
        ("unacknowledged", "shelve", {"shelve_minutes": -5}, "(got -5)"),
        ("unacknowledged", "acknowledge", {"shelve_minutes": 15},
         "only shelve takes a duration, not acknowledge"),
        ("unacknowledged", "acknowledge", {"note": "x" * 201},
         "the note is 201 characters; the limit is 200"),
        ("acknowledged", "resolve", {}, "resolving needs a closing comment: write in the note what was done"),
        ("acknowledged", "resolve", {"note": "   "}, "resolving needs a closing comment"),
        ("unacknowledged", "acknowledge", {"by": "  "}, "the operator name must be 1 to 200 characters"),
        ("unacknowledged", "acknowledge", {"by": "g" * 201}, "the operator name must be 1 to 200 characters"),
        ("unacknowledged", "shelve", {"shelve_minutes": 15, "now": datetime(2026, 11, 22, 8, 20)},
         "the request time must carry a time zone"),
    ],
)  # fmt: skip
def test_a_request_that_does_not_apply_says_why_and_changes_nothing(
    state: AlarmStateName | None, action: str, kwargs: dict[str, Any], message: str
) -> None:
    queue = queue_of(alarm("a-1", state=state or "unacknowledged"))
    if state is not None:
        queue.select("a-1")
    version = queue.version
    by = kwargs.pop("by", "guard:ada")
    with pytest.raises(ValueError) as caught:
        queue.request(action, by, **kwargs)
    assert message in str(caught.value)
    assert queue.version == version
    row = queue.row("a-1")
    assert row is not None
    assert row.pending == ""


def test_a_request_is_pending_until_the_next_update_of_that_alarm() -> None:
    clock = FakeClock()
    queue = queue_of(alarm("a-1"), alarm("a-2"), clock=clock)
    queue.select("a-1")
    queue.request("acknowledge", "guard:ada")
    row = queue.row("a-1")
    assert row is not None
    assert row.pending == "acknowledge requested…"
    assert row.status_line == "unacknowledged · acknowledge requested…"
    assert row.state == "unacknowledged"  # the station never changes the alarm itself
    with pytest.raises(ValueError, match="acknowledge of a-1 is already requested"):
        queue.request("acknowledge", "guard:ada")
    queue.on_alarm("a-2", alarm("a-2", state="acknowledged", updated_minutes_ago=0))
    assert queue.row("a-1").pending  # type: ignore[union-attr]  # another alarm's update changes nothing
    queue.on_alarm("a-1", alarm("a-1", state="acknowledged", updated_minutes_ago=0))
    assert queue.row("a-1").pending == ""  # type: ignore[union-attr]


def test_an_unanswered_request_says_so_and_may_be_repeated() -> None:
    clock = FakeClock()
    queue = queue_of(alarm("a-1"), clock=clock)
    queue.select("a-1")
    queue.request("resolve", "guard:ada", "door closed")
    clock.advance(seconds=PENDING_TIMEOUT.total_seconds() - 1)
    assert queue.row("a-1").pending == "resolve requested…"  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="already requested"):
        queue.request("resolve", "guard:ada", "door closed")
    clock.advance(seconds=1)
    assert queue.row("a-1").pending == "resolve requested, no answer yet"  # type: ignore[union-attr]
    assert queue.request("resolve", "guard:ada", "door closed").action == "resolve"
    assert queue.row("a-1").pending == "resolve requested…"  # type: ignore[union-attr]


def test_forgetting_a_request_that_could_not_be_sent_clears_the_mark() -> None:
    queue = queue_of(alarm("a-1"))
    queue.select("a-1")
    queue.request("acknowledge", "guard:ada")
    queue.forget_request("a-1")
    assert queue.row("a-1").pending == ""  # type: ignore[union-attr]
    assert queue.request("acknowledge", "guard:ada").alarm_id == "a-1"


# what a row says
@pytest.mark.parametrize(
    ("seconds", "age"),
    [
        (-30, "<1 min"), (0, "<1 min"), (59, "<1 min"), (60, "1 min"), (270, "4 min"),
        (3599, "59 min"), (3600, "1 h"), (7500, "2 h 5 min"), (86400, "1 d"), (93600, "1 d 2 h"),
    ],
)  # fmt: skip
def test_ages_come_from_the_injected_clock(seconds: int, age: str) -> None:
    clock = FakeClock(T0 - timedelta(minutes=5))
    queue = queue_of(alarm("a-1", minutes_ago=5), clock=clock)  # raised as the clock starts
    clock.advance(seconds=seconds)
    assert queue.rows[0].age == age


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, {"count": "", "escalation": "", "shelved_until": "", "acknowledged_by": "", "silent": ""}),
        ({"count": 1}, {"count": ""}),
        ({"count": 3}, {"count": f"{X}3"}),
        ({"escalation_level": 2}, {"escalation": "escalated to level 2"}),
        ({"silent": True}, {"silent": "silent"}),
        ({"state": "shelved", "shelved_until": T0 + timedelta(minutes=25)},
         {"shelved_until": "until 08:45", "state": "shelved"}),
        ({"state": "acknowledged", "history": (
            AlarmStep("raised", "system", T0),
            AlarmStep("acknowledged", "guard:maria", T0),
            AlarmStep("shelved", "guard:ben", T0),
            AlarmStep("unshelved", "system", T0),
        )}, {"acknowledged_by": "guard:maria"}),
        ({"state": "unacknowledged", "history": (AlarmStep("acknowledged", "guard:maria", T0),)},
         {"acknowledged_by": ""}),
        ({"priority": "critical"}, {"priority": "critical"}),
    ],
)  # fmt: skip
def test_row_texts(fields: dict[str, Any], expected: dict[str, str]) -> None:
    queue = queue_of(alarm("a-1", **fields))
    row = queue.rows[0]
    for name, text in expected.items():
        assert getattr(row, name) == text, name


@pytest.mark.parametrize(
    ("fields", "status_line", "text"),
    [
        ({}, "unacknowledged", "HIGH  summary of a-1  unacknowledged  5 min"),
        ({"silent": True, "escalation_level": 1, "priority": "critical", "count": 2},
         "unacknowledged · escalated to level 1",
     f"CRITICAL  summary of a-1 {X}2  unacknowledged · escalated to level 1  5 min  silent"),
        ({"state": "acknowledged", "history": (AlarmStep("acknowledged", "guard:maria", T0),)},
         "acknowledged by guard:maria", "HIGH  summary of a-1  acknowledged by guard:maria  5 min"),
        ({"state": "shelved", "shelved_until": T0 + timedelta(hours=1)},
         "shelved until 09:20", "HIGH  summary of a-1  shelved until 09:20  5 min"),
    ],
)  # fmt: skip
def test_a_row_reads_as_one_line(fields: dict[str, Any], status_line: str, text: str) -> None:
    row = queue_of(alarm("a-1", **fields)).rows[0]
    assert row.status_line == status_line
    assert row.text == text


def test_silent_alarms_are_listed_and_marked() -> None:
    queue = queue_of(alarm("a-1", silent=True, priority="critical"), alarm("a-2"))
    queue.select("a-1")
    details = queue.details()
    assert details is not None
    assert details.facts.endswith(" · silent: no sound, no sign at the kiosk")
    loud, quiet = queue.row("a-2"), queue.row("a-1")
    assert quiet is not None
    assert loud is not None
    assert (quiet.silent, loud.silent) == ("silent", "")
    assert ids(queue) == ["a-1", "a-2"]
    assert queue.header == "2 open, 2 unacknowledged, 1 silent"


@pytest.mark.parametrize(
    ("states", "header"),
    [
        ([], "no open alarms"),
        (["unacknowledged"], "1 open, 1 unacknowledged"),
        (["acknowledged", "acknowledged", "shelved"], "3 open, 2 acknowledged, 1 shelved"),
        (["unacknowledged", "acknowledged", "shelved"],
         "3 open, 1 unacknowledged, 1 acknowledged, 1 shelved"),
    ],
)
def test_the_header_counts_alarms_per_state(states: list[AlarmStateName], header: str) -> None:
    queue = queue_of(*(alarm(f"a-{i}", state=s) for i, s in enumerate(states)))
    assert queue.header == header
    assert sum(queue.counts().values()) == len(states)


def test_the_details_show_causes_and_history_newest_first() -> None:
    history = (
        AlarmStep("raised", "system", T0 - timedelta(minutes=5)),
        AlarmStep("repeated", "system", T0 - timedelta(minutes=4)),
        AlarmStep("acknowledged", "guard:maria", T0 - timedelta(minutes=2), "on my way"),
    )
    queue = queue_of(alarm("a-1", count=2, cause=("ev-1", "ev-2"), history=history))
    assert queue.details() is None
    queue.select("a-1")
    details = queue.details()
    assert details is not None
    assert details.title == f"summary of a-1 {X}2"
    assert details.facts == (
        "a-1 · rule door-forced · high · raised 08:15:00 (5 min ago) · 2 cause events · seen 2 times"
    )
    assert details.history == (
        "08:18:00  acknowledged by guard:maria: on my way",
        "08:16:00  repeated",
        "08:15:00  raised",
    )


def test_the_details_carry_the_procedure_the_cameras_and_a_return_to_normal() -> None:
    guided = alarm("a-1", procedure="Close the door.", cameras=("cam-lobby",), normal=True)
    queue = queue_of(guided, alarm("a-2"))
    queue.select("a-1")
    details = queue.details()
    assert details is not None
    assert (details.procedure, details.cameras) == ("Close the door.", ("cam-lobby",))
    assert details.facts.endswith(" · returned to normal: acknowledge to clear it")
    queue.select("a-2")
    plain = queue.details()
    assert plain is not None
    assert (plain.procedure, plain.cameras, "normal" in plain.facts) == ("", (), False)


def test_times_are_shown_in_the_station_zone_and_the_view_model_shares_its_clock() -> None:
    clock = FakeClock()
    vm = StationViewModel(tz=timezone(timedelta(hours=1)), now=clock)
    status = replace(alarm("a-1", state="shelved"), shelved_until=T0 + timedelta(minutes=25))
    vm.alarms.on_alarm("a-1", status)
    clock.advance(minutes=10)
    row = vm.alarms.rows[0]
    assert (row.shelved_until, row.age) == ("until 09:45", "15 min")


@pytest.mark.parametrize(
    ("rule", "cause"),
    [("watchlist-match", ("ev-120",)), ("door-forced", ("ev-1", "ev-2")), ("device-offline", ())],
)
def test_the_details_carry_the_rule_and_the_causes_for_the_visitor_lookup(
    rule: str, cause: tuple[str, ...]
) -> None:
    queue = queue_of(replace(alarm("a-1", cause=cause), rule=rule))
    queue.select("a-1")
    details = queue.details()
    assert details is not None
    assert (details.rule, details.cause) == (rule, cause)
