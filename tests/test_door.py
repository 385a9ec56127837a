"""The pure door logic, as a table: inputs at times in, events and relay settings out."""

from __future__ import annotations

import pytest

from devices.door import (
    Closed,
    DoorConfig,
    DoorEvent,
    DoorEventType,
    DoorInput,
    DoorOutput,
    DoorState,
    Hold,
    Lockdown,
    Opened,
    Release,
    Relock,
    SetRelay,
    Tick,
    Unlock,
    next_deadline,
    step,
)

OP, CL, TK = Opened(), Closed(), Tick()
RELOCK, LOCKDOWN, RELEASE = Relock(), Lockdown(), Release()
ON, OFF = SetRelay(on=True), SetRelay(on=False)
OPENED = DoorEvent(DoorEventType.OPENED)
FORCED = DoorEvent(DoorEventType.FORCED)


def grant(seconds: float) -> Unlock:
    """An unlock grant."""
    return Unlock(seconds)


def closed(duration: float) -> DoorEvent:
    """door.closed after `duration` seconds open."""
    return DoorEvent(DoorEventType.CLOSED, duration_s=duration)


def held(duration: float) -> DoorEvent:
    """door.held_open after `duration` seconds open."""
    return DoorEvent(DoorEventType.HELD_OPEN, duration_s=duration)


CONFIG = DoorConfig(held_open_s=30.0)
NO_RELOCK_ON_CLOSE = DoorConfig(held_open_s=30.0, relock_on_close=False)

# name: (steps as (time, input), expected outputs in order, config)
CASES: dict[str, tuple[list[tuple[float, DoorInput]], list[DoorOutput], DoorConfig]] = {
    "granted passage relocks on close": (
        [(0, CL), (1, grant(5)), (2, OP), (4, CL)], [ON, OPENED, closed(2.0), OFF], CONFIG,
    ),
    "forced door": ([(0, CL), (1, OP), (3, CL)], [OPENED, FORCED, closed(2.0)], CONFIG),
    "held open is reported once": (
        [(0, CL), (0, grant(5)), (1, OP), (5, TK), (31, TK), (40, TK), (45, TK), (50, CL)],
        [ON, OPENED, OFF, held(30.0), closed(49.0)],
        CONFIG,
    ),
    "held open found at close when no tick came": (
        [(0, CL), (1, OP), (41, CL)], [OPENED, FORCED, held(40.0), closed(40.0)], CONFIG,
    ),
    "held open again on the next opening": (
        [(0, CL), (0, OP), (31, TK), (32, CL), (33, OP), (64, TK), (65, TK)],
        [OPENED, FORCED, held(31.0), closed(32.0), OPENED, FORCED, held(31.0)],
        CONFIG,
    ),
    "an unlock that expires before the door opens": (
        [(0, CL), (0, grant(5)), (6, OP)], [ON, OFF, OPENED, FORCED], CONFIG,
    ),
    "an unlock is over at its very end": (
        [(0, CL), (0, grant(5)), (5, OP)], [ON, OFF, OPENED, FORCED], CONFIG,
    ),
    "a tick relocks when the grant ran out": (
        [(0, CL), (0, grant(5)), (4.9, TK), (5, TK), (6, TK)], [ON, OFF], CONFIG,
    ),
    "a second grant extends the first": (
        [(0, CL), (0, grant(5)), (3, grant(5)), (6, OP), (7, CL)], [ON, OPENED, closed(1.0), OFF], CONFIG,
    ),
    "a shorter grant never cuts a longer one": (
        [(0, CL), (0, grant(10)), (1, grant(1)), (5, OP)], [ON, OPENED], CONFIG,
    ),
    "repeated reports change nothing": (
        [(0, CL), (0, CL), (1, grant(5)), (2, OP), (2.5, OP), (3, CL), (3.1, CL)],
        [ON, OPENED, closed(1.0), OFF],
        CONFIG,
    ),
    "one grant, one passage": (
        [(0, CL), (0, grant(10)), (1, OP), (2, CL), (3, OP)],
        [ON, OPENED, closed(1.0), OFF, OPENED, FORCED],
        CONFIG,
    ),
    "without relock on close the grant runs its time": (
        [(0, CL), (0, grant(10)), (1, OP), (2, CL), (3, OP), (10, TK)],
        [ON, OPENED, closed(1.0), OPENED, OFF],
        NO_RELOCK_ON_CLOSE,
    ),
    "a grant while forced open does not excuse the opening": (
        [(0, CL), (1, OP), (2, grant(5)), (3, CL)], [OPENED, FORCED, ON, closed(2.0), OFF], CONFIG,
    ),
    "a door found open at start-up is not forced": ([(0, OP), (2, CL)], [OPENED, closed(2.0)], CONFIG),
    "a door found closed at start-up says nothing": ([(0, CL), (1, TK)], [], CONFIG),
    "an unlock-until outlasts passages and relocks at its end": (
        [(0, CL), (0, Hold(3600)), (1, OP), (2, CL), (3, OP), (4, CL), (3599, TK), (3600, TK), (3601, OP)],
        [ON, OPENED, closed(1.0), OPENED, closed(1.0), OFF, OPENED, FORCED],
        CONFIG,
    ),
    "a grant during an unlock-until does not cut it at the next passage": (
        [(0, CL), (0, Hold(600)), (10, grant(5)), (11, OP), (12, CL), (13, OP)],
        [ON, OPENED, closed(1.0), OPENED],
        CONFIG,
    ),
    "back to schedule relocks now; a later opening is forced": (
        [(0, CL), (0, Hold(600)), (10, RELOCK), (11, OP)], [ON, OFF, OPENED, FORCED], CONFIG,
    ),
    "a relock of a locked door says nothing": ([(0, CL), (1, RELOCK), (2, TK)], [], CONFIG),
    "lockdown relocks and refuses grants until release": (
        [(0, CL), (0, grant(5)), (1, LOCKDOWN), (2, grant(5)), (3, Hold(600)), (4, OP), (5, CL),
         (6, RELEASE), (7, grant(5)), (8, OP)],
        [ON, OFF, OPENED, FORCED, closed(1.0), ON, OPENED],
        CONFIG,
    ),
    "a release leaves the door locked": (
        [(0, CL), (1, LOCKDOWN), (2, RELEASE), (3, OP)], [OPENED, FORCED], CONFIG,
    ),
    "a grant before the first contact report": (
        [(0, grant(5)), (1, CL), (2, OP), (3, CL)], [ON, OPENED, closed(1.0), OFF], CONFIG,
    ),
}


def run(steps: list[tuple[float, DoorInput]], config: DoorConfig) -> tuple[DoorState, list[DoorOutput]]:
    """Apply every step in order from a fresh state; return the end state and all outputs."""
    state, outputs = DoorState(), []
    for now, inp in steps:
        state, out = step(state, inp, now, config)
        outputs += out
    return state, outputs


@pytest.mark.parametrize("name", list(CASES))
def test_door_logic(name: str) -> None:
    steps, expected, config = CASES[name]
    assert run(steps, config)[1] == expected


def test_event_types_are_the_contracts() -> None:
    from broker.schemas import SCHEMAS, DoorChange

    for kind in DoorEventType:
        assert SCHEMAS[kind.value] is DoorChange


def test_state_and_relay_after_a_passage() -> None:
    state, _ = run([(0, CL), (0, grant(5)), (1, OP)], CONFIG)
    assert (state.is_open, state.opened_at, state.relay_on) == (True, 1, True)
    state, _ = step(state, CL, 2, CONFIG)
    assert (state.is_open, state.opened_at, state.relay_on) == (False, None, False)


@pytest.mark.parametrize(
    ("steps", "deadline"),
    [
        ([], None),
        ([(0, CL)], None),
        ([(0, CL), (1, grant(5))], 6),
        ([(0, CL), (1, OP)], 31),
        ([(0, CL), (10, grant(5)), (11, OP)], 15),
        ([(0, CL), (0, grant(50)), (1, OP)], 31),
        ([(0, CL), (1, OP), (31, TK)], None),
    ],
)
def test_next_deadline(steps: list[tuple[float, DoorInput]], deadline: float | None) -> None:
    assert next_deadline(run(steps, CONFIG)[0], CONFIG) == deadline


@pytest.mark.parametrize("seconds", [0, -1, 60.5, float("nan"), float("inf")])
def test_unlock_seconds_out_of_range_are_refused(seconds: float) -> None:
    with pytest.raises(ValueError, match="unlock seconds"):
        step(DoorState(), Unlock(seconds), 0, CONFIG)


@pytest.mark.parametrize(
    "kwargs",
    [{"held_open_s": 0}, {"default_unlock_s": 0}, {"default_unlock_s": 90, "max_unlock_s": 60}],
)
def test_config_is_checked(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        DoorConfig(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("seconds", [0, 12 * 3600 + 1, float("nan")])
def test_unlock_until_beyond_the_doors_limit_is_refused(seconds: float) -> None:
    with pytest.raises(ValueError, match="unlock seconds"):
        step(DoorState(), Hold(seconds), 0, CONFIG)
    assert step(DoorState(), Hold(12 * 3600), 0, CONFIG)[0].unlocked_until == 12 * 3600
