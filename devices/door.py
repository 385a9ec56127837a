"""The door state machine: contact and grants in, door events and relay settings out (pure).

`step(state, inp, now, config)` returns the next state and what to do. Time is a plain
number of seconds from a monotonic clock, passed in; nothing here sleeps or does I/O.

Rules:

- An `Unlock` energises the relay until `now + seconds` (a later grant extends it).
- When that time passes (checked by `Tick` and before every other input), the relay is
  released. With `relock_on_close`, closing the door after an opening releases it at once:
  one grant, one passage.
- `Opened` yields `door.opened`; if the door was not unlocked by a grant at that moment, also
  `door.forced`. The first contact report after start-up only learns the state: a door found
  open then is reported `door.opened` but not forced, since nobody knows how it got so.
- An opening that lasts `held_open_s` or longer yields one `door.held_open` with its duration,
  from `Tick` or, at the latest, from the `Closed` that ends it.
- `Closed` yields `door.closed` with how long the door was open. Repeated reports of the
  state the door is already in change nothing.
- A `Hold` unlocks until `now + seconds` like a grant, but closing does not relock: the door
  stays unlocked until then (a guard's unlock-until). `Relock` releases the relay at once.
- `Lockdown` relocks at once and ignores every `Unlock` and `Hold` until `Release`, which
  leaves the door locked. A door opened in lockdown is forced, as any opening while locked.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

DEFAULT_UNLOCK_S = 5.0
DEFAULT_HELD_OPEN_S = 30.0
DEFAULT_MAX_UNLOCK_S = 60.0
DEFAULT_MAX_HOLD_S = 12 * 3600.0


class DoorEventType(StrEnum):
    """The event types this logic decides (the contract's `door.*` vocabulary)."""

    OPENED = "door.opened"
    CLOSED = "door.closed"
    FORCED = "door.forced"
    HELD_OPEN = "door.held_open"


@dataclass(slots=True, frozen=True)
class DoorConfig:
    """Timing of one door."""

    held_open_s: float = DEFAULT_HELD_OPEN_S
    default_unlock_s: float = DEFAULT_UNLOCK_S
    max_unlock_s: float = DEFAULT_MAX_UNLOCK_S
    relock_on_close: bool = True
    max_hold_s: float = DEFAULT_MAX_HOLD_S
    """Longest unlock-until (`Hold`) this door takes."""

    def __post_init__(self) -> None:
        """Refuse times that make no sense."""
        if self.held_open_s <= 0:
            raise ValueError(f"held_open_s must be > 0 seconds, got {self.held_open_s!r}")
        if not 0 < self.default_unlock_s <= self.max_unlock_s:
            raise ValueError(
                f"need 0 < default_unlock_s <= max_unlock_s, got {self.default_unlock_s!r}"
                f" and {self.max_unlock_s!r}"
            )


# inputs
@dataclass(slots=True, frozen=True)
class Opened:
    """The door contact reports open."""


@dataclass(slots=True, frozen=True)
class Closed:
    """The door contact reports closed."""


@dataclass(slots=True, frozen=True)
class Unlock:
    """A grant: unlock the door for `seconds`."""

    seconds: float


@dataclass(slots=True, frozen=True)
class Hold:
    """A guard's unlock-until: unlocked for `seconds`, not relocked by a passage."""

    seconds: float


@dataclass(slots=True, frozen=True)
class Relock:
    """End any unlock now (back to schedule, or a plain lock)."""


@dataclass(slots=True, frozen=True)
class Lockdown:
    """Relock now and refuse every unlock until `Release`."""


@dataclass(slots=True, frozen=True)
class Release:
    """End a lockdown; the door stays locked."""


@dataclass(slots=True, frozen=True)
class Tick:
    """Time passed: relock when the grant ran out, report a door held open too long."""


DoorInput = Opened | Closed | Unlock | Hold | Relock | Lockdown | Release | Tick


# outputs
@dataclass(slots=True, frozen=True)
class DoorEvent:
    """An event to publish, with a duration for `door.closed` and `door.held_open`."""

    type: DoorEventType
    duration_s: float | None = None


@dataclass(slots=True, frozen=True)
class SetRelay:
    """Switch the strike's relay: on unlocks the door, off locks it."""

    on: bool


DoorOutput = DoorEvent | SetRelay


@dataclass(slots=True, frozen=True)
class DoorState:
    """Everything the logic remembers about one door."""

    is_open: bool | None = None
    """None until the contact first reported."""
    opened_at: float | None = None
    unlocked_until: float | None = None
    """While set, the relay is on."""
    held_reported: bool = False
    hold: bool = False
    """The unlock is a `Hold`: a passage does not end it."""
    lockdown: bool = False

    @property
    def relay_on(self) -> bool:
        """Whether the relay should be energised now."""
        return self.unlocked_until is not None


def step(
    state: DoorState, inp: DoorInput, now: float, config: DoorConfig
) -> tuple[DoorState, list[DoorOutput]]:
    """Apply one input at time `now`; return the new state and the outputs, in order."""
    state, out = _expire(state, now)
    match inp:
        case Tick():
            state, held = _check_held(state, now, config)
            out += held
        case Unlock() | Hold():
            state = _unlock(state, inp, now, config, out)
        case Relock() | Lockdown() | Release():
            if state.relay_on and not isinstance(inp, Release):
                out.append(SetRelay(on=False))
                state = replace(state, unlocked_until=None, hold=False)
            if not isinstance(inp, Relock):
                state = replace(state, lockdown=isinstance(inp, Lockdown))
        case Opened():
            if state.is_open is True:
                return state, out
            known = state.is_open is not None
            state = replace(state, is_open=True, opened_at=now, held_reported=False)
            out.append(DoorEvent(DoorEventType.OPENED))
            if known and not state.relay_on:
                out.append(DoorEvent(DoorEventType.FORCED))
        case Closed():
            if state.is_open is False:
                return state, out
            was_open = state.is_open is True and state.opened_at is not None
            state, held = _check_held(state, now, config)
            out += held
            if was_open and state.opened_at is not None:
                out.append(DoorEvent(DoorEventType.CLOSED, duration_s=_since(state.opened_at, now)))
            state = replace(state, is_open=False, opened_at=None, held_reported=False)
            if was_open and config.relock_on_close and state.relay_on and not state.hold:
                state = replace(state, unlocked_until=None)
                out.append(SetRelay(on=False))
    return state, out


def _unlock(state: DoorState, inp: Unlock | Hold, now: float, config: DoorConfig,
            out: list[DoorOutput]) -> DoorState:
    """A grant or an unlock-until, checked against the door's limits; nothing in a lockdown."""
    hold = isinstance(inp, Hold)
    limit = config.max_hold_s if hold else config.max_unlock_s
    if not 0 < inp.seconds <= limit:
        raise ValueError(f"unlock seconds must be in (0, {limit}], got {inp.seconds!r}")
    if state.lockdown:
        return state
    if state.unlocked_until is None:
        out.append(SetRelay(on=True))
    until = max(now + inp.seconds, state.unlocked_until or now)
    # a shorter grant inside an unlock-until leaves it one; one that outlasts it is a plain grant
    return replace(state, unlocked_until=until, hold=hold or (state.hold and until == state.unlocked_until))


def next_deadline(state: DoorState, config: DoorConfig) -> float | None:
    """The next time a `Tick` could change something (relock or held open), if any."""
    times = []
    if state.unlocked_until is not None:
        times.append(state.unlocked_until)
    if state.is_open and state.opened_at is not None and not state.held_reported:
        times.append(state.opened_at + config.held_open_s)
    return min(times, default=None)


def _expire(state: DoorState, now: float) -> tuple[DoorState, list[DoorOutput]]:
    """Release the relay if the grant ran out at or before `now`."""
    if state.unlocked_until is not None and now >= state.unlocked_until:
        return replace(state, unlocked_until=None, hold=False), [SetRelay(on=False)]
    return state, []


def _check_held(state: DoorState, now: float, config: DoorConfig) -> tuple[DoorState, list[DoorOutput]]:
    """Report an opening that reached `held_open_s`, once."""
    if not state.is_open or state.opened_at is None or state.held_reported:
        return state, []
    held = _since(state.opened_at, now)
    if held < config.held_open_s:
        return state, []
    return replace(state, held_reported=True), [DoorEvent(DoorEventType.HELD_OPEN, duration_s=held)]


def _since(start: float, now: float) -> float:
    """Seconds from `start` to `now`, never negative, rounded to milliseconds."""
    return round(max(0.0, now - start), 3)
