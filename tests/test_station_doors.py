"""The station's door states from plain events, statuses and an injected clock."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from broker.events import Event, make_event
from broker.messages import Status
from broker.schemas import CommandSent, Data, DoorChange
from security.station.doors import DoorBoard, DoorState, DoorView

SITE = "hq"
T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
DOORS = {"main-door": "door-1", "side-door": "door-2"}
SEQ = itertools.count(1)


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def event(event_type: str, data: Data, source: str = "door-1", at: datetime = T0) -> Event:
    return make_event(SITE, source, event_type, next(SEQ), data, time=at)


def door(event_type: str, name: str = "main-door") -> Event:
    return event(event_type, DoorChange(door=name))


def sent(command: str, name: str = "main-door", at: datetime = T0, **fields: object) -> Event:
    data = CommandSent.model_validate({
        "device": DOORS[name], "command": command, "command_id": f"c-{next(SEQ)}", "by": "api:maria",
        "origin": "api", "expires": at + timedelta(seconds=3), "door": name, **fields})
    return event("command.sent", data, source="central", at=at)


def state(board: DoorBoard, name: str = "main-door") -> tuple[DoorState, datetime | None]:
    [view] = [v for v in board.views() if v.door == name]
    return view.state, view.until


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def board(clock: Clock) -> DoorBoard:
    return DoorBoard(DOORS, clock)


def test_doors_start_locked_in_door_order(board: DoorBoard) -> None:
    assert board.views() == [DoorView("main-door", "door-1", DoorState.LOCKED),
                             DoorView("side-door", "door-2", DoorState.LOCKED)]


@pytest.mark.parametrize(("events", "expected"), [
    (["door.opened"], DoorState.OPEN),
    (["door.opened", "door.closed"], DoorState.LOCKED),
    (["door.opened", "door.forced"], DoorState.FORCED),
    (["door.opened", "door.forced", "door.held_open"], DoorState.FORCED),
    (["door.opened", "door.held_open"], DoorState.HELD_OPEN),
    (["door.opened", "door.held_open", "door.closed"], DoorState.LOCKED),
    (["door.opened", "door.forced", "door.closed"], DoorState.LOCKED),
])
def test_the_door_s_own_events(board: DoorBoard, events: list[str], expected: DoorState) -> None:
    for kind in events:
        assert board.on_event(door(kind))
    assert state(board) == (expected, None)
    assert state(board, "side-door") == (DoorState.LOCKED, None)


def test_an_unlock_until_runs_out_on_the_clock_or_ends_back_on_schedule(
    board: DoorBoard, clock: Clock
) -> None:
    until = T0 + timedelta(hours=8)
    assert board.on_event(sent("unlock", until=until))
    assert state(board) == (DoorState.UNLOCKED, until)
    board.on_event(door("door.opened"))
    assert state(board) == (DoorState.OPEN, None)
    board.on_event(door("door.closed"))
    assert state(board) == (DoorState.UNLOCKED, until)
    clock.now = until
    assert state(board) == (DoorState.LOCKED, None)
    clock.now = T0
    board.on_event(sent("schedule"))
    assert state(board) == (DoorState.LOCKED, None)


def test_a_momentary_unlock_lasts_its_seconds_from_when_it_was_sent(board: DoorBoard, clock: Clock) -> None:
    board.on_event(sent("unlock", seconds=8.0, at=T0 + timedelta(seconds=2)))
    clock.now = T0 + timedelta(seconds=9)
    assert state(board) == (DoorState.UNLOCKED, T0 + timedelta(seconds=10))
    clock.now = T0 + timedelta(seconds=10)
    assert state(board) == (DoorState.LOCKED, None)


def test_a_lockdown_until_release_and_a_forced_door_in_it(board: DoorBoard) -> None:
    board.on_event(sent("unlock", until=T0 + timedelta(hours=1)))
    board.on_event(sent("lock", group="ground"))
    assert state(board) == (DoorState.LOCKDOWN, None)
    board.on_event(door("door.opened"))
    board.on_event(door("door.forced"))
    assert state(board) == (DoorState.FORCED, None)
    board.on_event(door("door.closed"))
    assert state(board) == (DoorState.LOCKDOWN, None)
    board.on_event(sent("release", group="ground"))
    assert state(board) == (DoorState.LOCKED, None)  # the lockdown ended the unlock-until


def test_offline_comes_first_and_goes_with_the_status(board: DoorBoard) -> None:
    board.on_event(door("door.opened"))
    assert board.on_status("door-1", Status("offline"))
    assert state(board) == (DoorState.OFFLINE, None)
    board.on_status("door-1", Status("online"))
    assert state(board) == (DoorState.OPEN, None)
    assert not board.on_status("reader-1", Status("offline"))


def test_what_is_not_about_a_known_door_changes_nothing(board: DoorBoard) -> None:
    assert not board.on_event(door("door.opened", "yard-gate"))
    assert not board.on_event(event("door.opened", DoorChange(door="back-door")))
    assert [v.state for v in board.views()] == [DoorState.LOCKED, DoorState.LOCKED]
