"""One alarm's ISA-18.2 life cycle: states, the actions people take, what transitions output (pure)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from broker.schemas import AlarmAction, AlarmRaised, AlarmShelved, Priority
from security.office.alarms.conditions import Condition

SYSTEM = "system"
"""`by` of transitions nobody made by hand: raising, counting, shelve expiry, escalation."""

RETURNED = "returned"
"""The history step of an alarm whose condition cleared (kept in the history: no column needed)."""

MAX_CAUSE = 64
"""At most this many cause event ids are kept on an alarm (the contract's limit)."""


class AlarmState(StrEnum):
    """Where an alarm is in its life cycle."""

    UNACKNOWLEDGED = "unacknowledged"
    ACKNOWLEDGED = "acknowledged"
    SHELVED = "shelved"
    RESOLVED = "resolved"


OPEN_STATES = frozenset({AlarmState.UNACKNOWLEDGED, AlarmState.ACKNOWLEDGED, AlarmState.SHELVED})
"""States in which an alarm is open: a repeat of its condition counts on it."""


@dataclass(frozen=True, slots=True)
class Transition:
    """One step in an alarm's history: what happened, who did it, and when."""

    action: str
    by: str
    at: datetime
    note: str | None = None
    until: datetime | None = None
    """How long a `shelved` step shelved the alarm for (None on every other step)."""


def returned_to_normal(history: tuple[Transition, ...]) -> bool:
    """True when the newest of these steps about the condition says it cleared (`returned`)."""
    for step in reversed(history):
        if step.action == RETURNED:
            return True
        if step.action in ("raised", "repeated"):
            return False
    return False


@dataclass(frozen=True, slots=True)
class Alarm:
    """One alarm and everything about its life so far."""

    id: str
    rule: str
    key: str
    priority: Priority
    summary: str
    cause: tuple[str, ...]
    silent: bool
    raised_at: datetime
    state: AlarmState = AlarmState.UNACKNOWLEDGED
    count: int = 1
    last_seen: datetime | None = None
    shelved_until: datetime | None = None
    before_shelve: AlarmState | None = None
    escalation_level: int = 0
    history: tuple[Transition, ...] = ()

    @property
    def is_open(self) -> bool:
        """True until the alarm is resolved."""
        return self.state in OPEN_STATES

    @property
    def normal(self) -> bool:
        """True when its condition cleared (ISA-18.2 "returned to normal") and has not come again since."""
        return returned_to_normal(self.history)

    @property
    def acknowledged(self) -> bool:
        """True once someone acknowledged (or resolved) it, shelved or not."""
        done = (AlarmState.ACKNOWLEDGED, AlarmState.RESOLVED)
        return self.state in done or self.before_shelve in done

    def step(self, action: str, by: str, at: datetime, note: str | None = None, *,
             until: datetime | None = None, **changes: object) -> Alarm:
        """This alarm with `changes` applied and the transition added to its history."""
        step = Transition(action, by, at, note, until)
        return replace(self, history=(*self.history, step), **changes)  # type: ignore[arg-type]


def new_alarm(alarm_id: str, condition: Condition, now: datetime) -> Alarm:
    """A freshly raised, unacknowledged alarm for `condition`."""
    alarm = Alarm(
        id=alarm_id,
        rule=str(condition.rule),
        key=condition.key,
        priority=condition.priority,
        summary=condition.summary,
        cause=condition.cause[-MAX_CAUSE:],
        silent=condition.silent,
        raised_at=now,
        last_seen=now,
    )
    return alarm.step("raised", SYSTEM, now)


# actions: what people (stations) ask for
@dataclass(frozen=True, slots=True)
class Acknowledge:
    """A person acknowledges an alarm."""

    alarm_id: str
    by: str
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Resolve:
    """A person resolves an alarm (and so acknowledges it if nobody had)."""

    alarm_id: str
    by: str
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Shelve:
    """A person shelves an alarm until a time (at most the book's maximum shelve duration ahead)."""

    alarm_id: str
    by: str
    until: datetime
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Unshelve:
    """A person brings a shelved alarm back before its shelve expires."""

    alarm_id: str
    by: str
    note: str | None = None


Action = Acknowledge | Resolve | Shelve | Unshelve


# outputs: what to publish after a transition; `alarm` is the alarm's new state (for the retained topic)
@dataclass(frozen=True, slots=True)
class AlarmEvent:
    """A transition the contract has an `alarm.*` event for; `data` is that event's data."""

    type: str
    data: AlarmRaised | AlarmAction | AlarmShelved
    at: datetime
    alarm: Alarm


@dataclass(frozen=True, slots=True)
class AlarmRecounted:
    """The condition of an open alarm came again (flood control); not in the contract."""

    alarm_id: str
    count: int
    at: datetime
    alarm: Alarm


@dataclass(frozen=True, slots=True)
class AlarmUnshelved:
    """A shelved alarm came back, by hand or when its shelve expired; not in the contract."""

    alarm_id: str
    by: str
    back_to: AlarmState
    at: datetime
    alarm: Alarm


@dataclass(frozen=True, slots=True)
class AlarmEscalated:
    """An alarm was not acknowledged in time and goes to `notify` at `level`; not in the contract."""

    alarm_id: str
    level: int
    notify: tuple[str, ...]
    at: datetime
    alarm: Alarm


@dataclass(frozen=True, slots=True)
class AlarmReturned:
    """An alarm's condition cleared while nobody had acknowledged it; not in the contract."""

    alarm_id: str
    at: datetime
    alarm: Alarm


@dataclass(frozen=True, slots=True)
class ActionRejected:
    """An action that is not a valid transition (unknown alarm, acknowledging a resolved one...)."""

    action: Action
    reason: str
    at: datetime


Output = AlarmEvent | AlarmRecounted | AlarmUnshelved | AlarmEscalated | AlarmReturned | ActionRejected
