"""The alarm book: every alarm, flood control, shelving expiry and escalation, as a pure state machine."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from types import MappingProxyType

from broker.schemas import AlarmAction, AlarmRaised, AlarmShelved, Priority
from security.office.alarms.conditions import Cleared, Condition
from security.office.alarms.lifecycle import (
    MAX_CAUSE,
    RETURNED,
    SYSTEM,
    Acknowledge,
    Action,
    ActionRejected,
    Alarm,
    AlarmEscalated,
    AlarmEvent,
    AlarmRecounted,
    AlarmReturned,
    AlarmState,
    AlarmUnshelved,
    Output,
    Resolve,
    Shelve,
    Unshelve,
    new_alarm,
)

MAX_TEXT = 200
"""The contract's limit on summaries, notes and `by`."""


@dataclass(frozen=True, slots=True)
class EscalationStep:
    """Escalate to `level`, telling `notify`, when unacknowledged `after_s` seconds after raising."""

    after_s: float
    level: int
    notify: tuple[str, ...]


DEFAULT_ESCALATION: Mapping[Priority, tuple[EscalationStep, ...]] = MappingProxyType({
    Priority.CRITICAL: (EscalationStep(60, 1, ("supervisor",)), EscalationStep(300, 2, ("manager",))),
    Priority.HIGH: (EscalationStep(300, 1, ("supervisor",)), EscalationStep(900, 2, ("manager",))),
    Priority.MEDIUM: (EscalationStep(900, 1, ("supervisor",)), EscalationStep(3600, 2, ("manager",))),
    Priority.LOW: (EscalationStep(3600, 1, ("supervisor",)),),
})
"""Per-priority escalation: level 1 to the next role, level 2 to managers."""


@dataclass(frozen=True, slots=True)
class BookConfig:
    """Settings of the life cycle: the longest shelve, escalation per priority, and alarm id prefix."""

    max_shelve_s: float = 8 * 3600.0
    escalation: Mapping[Priority, tuple[EscalationStep, ...]] = field(
        default_factory=lambda: DEFAULT_ESCALATION
    )
    id_prefix: str = "a"


Result = tuple["AlarmBook", tuple[Output, ...]]
"""A new book and what to publish."""


def _frozen(items: Mapping[str, Alarm] | Mapping[str, str]) -> MappingProxyType[str, object]:
    return MappingProxyType(dict(items))


NEEDS_COMMENT = "a closing comment (note) is required to resolve an alarm"
"""Why a person's resolve without a note is refused (the system's resolutions need none)."""


def _rank(alarm: Alarm) -> tuple[int, datetime]:
    return list(Priority).index(alarm.priority), alarm.raised_at


def _invalid(action: Action) -> str | None:
    if not action.by or len(action.by) > MAX_TEXT:
        return f"by must be 1 to {MAX_TEXT} characters"
    if action.note is not None and not 0 < len(action.note) <= MAX_TEXT:
        return f"a note must be 1 to {MAX_TEXT} characters"
    return None


def _text(value: str) -> str:
    return value if len(value) <= MAX_TEXT else value[: MAX_TEXT - 1] + "…"


@dataclass(frozen=True, slots=True)
class AlarmBook:
    """Every alarm by id and the open one for each key; `apply` and `tick` return a new book."""

    config: BookConfig = field(default_factory=BookConfig)
    alarms: Mapping[str, Alarm] = field(default_factory=lambda: MappingProxyType({}))
    open_keys: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    next_number: int = 1

    def get(self, alarm_id: str) -> Alarm | None:
        """The alarm with this id, if any."""
        return self.alarms.get(alarm_id)

    def open_for(self, key: str) -> Alarm | None:
        """The open alarm for this key, if any."""
        alarm_id = self.open_keys.get(key)
        return self.alarms[alarm_id] if alarm_id is not None else None

    def open_alarms(self) -> tuple[Alarm, ...]:
        """Open alarms, highest priority first, then oldest first."""
        return tuple(sorted((a for a in self.alarms.values() if a.is_open), key=_rank))

    def apply(self, item: Condition | Cleared | Action, now: datetime) -> Result:
        """This book after a condition, its clearing or a person's action at `now`, and what to publish."""
        if isinstance(item, Condition | Cleared):
            return self._condition(item, now) if isinstance(item, Condition) else self._cleared(item, now)
        alarm = self.alarms.get(item.alarm_id)
        reason = f"no alarm {item.alarm_id}" if alarm is None else _invalid(item)
        if alarm is None or reason is not None:
            return self, (ActionRejected(item, reason or "", now),)
        if isinstance(item, Acknowledge):
            return self._acknowledge(alarm, item, now)
        if isinstance(item, Resolve):
            return self._resolve(alarm, item, now)
        if isinstance(item, Shelve):
            return self._shelve(alarm, item, now)
        return self._unshelve(alarm, item.by, now, item.note)

    def tick(self, now: datetime) -> Result:
        """Expire shelves that ran out and escalate alarms not acknowledged in time, at `now`."""
        book, outputs = self, list[Output]()
        for alarm_id in [a.id for a in sorted(self.alarms.values(), key=_rank) if a.is_open]:
            current = book.alarms[alarm_id]
            expires = current.shelved_until
            if current.state == AlarmState.SHELVED and expires is not None and now >= expires:
                book, out = book._unshelve(current, SYSTEM, now, "shelve expired")
                outputs.extend(out)
            book, out = book._escalate(book.alarms[alarm_id], now)
            outputs.extend(out)
        return book, tuple(outputs)

    def _escalate(self, alarm: Alarm, now: datetime) -> Result:
        if alarm.state != AlarmState.UNACKNOWLEDGED:
            return self, ()
        book, outputs = self, list[Output]()
        for step in self.config.escalation.get(alarm.priority, ()):
            due = now - alarm.raised_at >= timedelta(seconds=step.after_s)
            if step.level > alarm.escalation_level and due:
                note = f"level {step.level}: {', '.join(step.notify)}"
                alarm = alarm.step("escalated", SYSTEM, now, note, escalation_level=step.level)
                book = book._put(alarm)
                outputs.append(AlarmEscalated(alarm.id, step.level, step.notify, now, alarm))
        return book, tuple(outputs)

    def _put(self, alarm: Alarm, **changes: object) -> AlarmBook:
        keys = dict(self.open_keys)
        if alarm.is_open:
            keys[alarm.key] = alarm.id
        elif keys.get(alarm.key) == alarm.id:
            del keys[alarm.key]
        alarms = {**self.alarms, alarm.id: alarm}
        return replace(self, alarms=_frozen(alarms), open_keys=_frozen(keys), **changes)  # type: ignore[arg-type]

    def _condition(self, condition: Condition, now: datetime) -> Result:
        current = self.open_for(condition.key)
        if current is not None:
            cause = (*current.cause, *(c for c in condition.cause if c not in current.cause))[-MAX_CAUSE:]
            alarm = current.step("repeated", SYSTEM, now, count=current.count + 1, last_seen=now, cause=cause)
            return self._put(alarm), (AlarmRecounted(alarm.id, alarm.count, now, alarm),)
        alarm = new_alarm(f"{self.config.id_prefix}-{self.next_number}", condition, now)
        data = AlarmRaised(
            alarm_id=alarm.id,
            rule=alarm.rule,
            priority=alarm.priority,
            summary=_text(alarm.summary),
            cause=alarm.cause,
        )
        book = self._put(alarm, next_number=self.next_number + 1)
        return book, (AlarmEvent("alarm.raised", data, now, alarm),)

    def _cleared(self, cleared: Cleared, now: datetime) -> Result:
        """ISA-18.2 return to normal: an acknowledged alarm clears; an unacknowledged one waits, marked."""
        alarm = self.open_for(cleared.key)
        if alarm is None or alarm.normal:
            return self, ()
        alarm = alarm.step(RETURNED, SYSTEM, now, _text(cleared.cause))
        book, outputs = self._put(alarm), (AlarmReturned(alarm.id, now, alarm),)
        more: tuple[Output, ...] = ()
        if alarm.state == AlarmState.ACKNOWLEDGED:
            book, more = book._clear(alarm, now)
        return book, (*outputs, *more)

    def _clear(self, alarm: Alarm, now: datetime) -> Result:
        """Resolve an acknowledged alarm whose condition has returned to normal."""
        return self._resolve(alarm, Resolve(alarm.id, SYSTEM, "acknowledged and returned to normal"), now)

    def _acknowledge(self, alarm: Alarm, action: Acknowledge, now: datetime) -> Result:
        if alarm.state == AlarmState.ACKNOWLEDGED:
            return self, ()  # a second station acknowledging the same alarm: one acknowledgement stands
        if alarm.state != AlarmState.UNACKNOWLEDGED:
            return self, (ActionRejected(action, f"alarm {alarm.id} is {alarm.state}", now),)
        alarm = alarm.step("acknowledged", action.by, now, action.note, state=AlarmState.ACKNOWLEDGED)
        data = AlarmAction(alarm_id=alarm.id, by=action.by, note=action.note)
        book, outputs = self._put(alarm), (AlarmEvent("alarm.acknowledged", data, now, alarm),)
        if not alarm.normal:
            return book, outputs
        book, more = book._clear(alarm, now)
        return book, (*outputs, *more)

    def _resolve(self, alarm: Alarm, action: Resolve, now: datetime) -> Result:
        if alarm.state == AlarmState.RESOLVED:
            return self, ()  # resolved twice at once: the first stands
        if action.by != SYSTEM and action.note is None:
            return self, (ActionRejected(action, NEEDS_COMMENT, now),)
        alarm = alarm.step("resolved", action.by, now, action.note, state=AlarmState.RESOLVED,
                           shelved_until=None, before_shelve=None)
        data = AlarmAction(alarm_id=alarm.id, by=action.by, note=action.note)
        return self._put(alarm), (AlarmEvent("alarm.resolved", data, now, alarm),)

    def _shelve(self, alarm: Alarm, action: Shelve, now: datetime) -> Result:
        if alarm.state not in (AlarmState.UNACKNOWLEDGED, AlarmState.ACKNOWLEDGED):
            return self, (ActionRejected(action, f"alarm {alarm.id} is {alarm.state}", now),)
        if action.until <= now:
            return self, (ActionRejected(action, "shelve until a time in the future", now),)
        if action.until - now > timedelta(seconds=self.config.max_shelve_s):
            reason = f"shelving is limited to {self.config.max_shelve_s:g} s"
            return self, (ActionRejected(action, reason, now),)
        alarm = alarm.step("shelved", action.by, now, action.note, until=action.until,
                           state=AlarmState.SHELVED, shelved_until=action.until, before_shelve=alarm.state)
        data = AlarmShelved(alarm_id=alarm.id, by=action.by, until=action.until, note=action.note)
        return self._put(alarm), (AlarmEvent("alarm.shelved", data, now, alarm),)

    def _unshelve(self, alarm: Alarm, by: str, now: datetime, note: str | None) -> Result:
        if alarm.state != AlarmState.SHELVED or alarm.before_shelve is None:
            reason = f"alarm {alarm.id} is {alarm.state}"
            return self, (ActionRejected(Unshelve(alarm.id, by, note), reason, now),)
        back = alarm.before_shelve
        alarm = alarm.step("unshelved", by, now, note, state=back, shelved_until=None, before_shelve=None)
        book, outputs = self._put(alarm), (AlarmUnshelved(alarm.id, by, back, now, alarm),)
        if back != AlarmState.ACKNOWLEDGED or not alarm.normal:
            return book, outputs
        book, more = book._clear(alarm, now)
        return book, (*outputs, *more)
