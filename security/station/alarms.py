"""The guard station's alarm queue: open alarms from the retained alarm topics, and requests (pure).

No toolkit and no MQTT client is imported here. The queue only mirrors what the central service
publishes on `gatehouse/{site}/alarm/{id}`; a guard's action becomes an `alarm.requested` event
for the service to apply, and the row shows it as pending until the service's next update for
that alarm. Call every method from one thread (the Kivy app's main thread).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Literal, get_args

from broker.messages import PRIORITIES, AlarmStatus
from broker.schemas import AlarmRequested

Action = Literal["acknowledge", "resolve", "shelve", "unshelve"]
ACTIONS: tuple[Action, ...] = get_args(Action)
"""What a guard may ask the central service to do with an alarm."""
MAX_NOTE = 200
"""The longest note a request may carry (the contract's Text)."""
SHELVE_MINUTES = (1, 480)
"""The shortest and the longest shelve a station asks for, in minutes."""
PENDING_TIMEOUT = timedelta(seconds=60)
"""After this long without an answer a pending request is shown as unanswered and may be repeated."""
TIMES = "\N{MULTIPLICATION SIGN}"
"""The multiplication sign written before a count above one."""
HISTORY_LINES = 6
"""How many history steps the details of the selected alarm show, newest first."""

SYSTEM = "system"
"""Who the central service names for steps no person took (raised, repeated, escalated)."""

_OPEN_STATES = ("unacknowledged", "acknowledged", "shelved")
_RANK = {name: i for i, name in enumerate(PRIORITIES)}


@dataclass(slots=True, frozen=True)
class AlarmRow:
    """One open alarm as the queue shows it; every field is display text ('' when not applicable)."""

    alarm_id: str
    priority: str
    state: str
    summary: str
    count: str
    age: str
    escalation: str
    shelved_until: str
    acknowledged_by: str
    silent: str
    pending: str

    @property
    def status_line(self) -> str:
        """The row's second line, e.g. 'unacknowledged · acknowledge requested… · escalated to level 2'."""
        state = f"acknowledged by {self.acknowledged_by}" if self.state == "acknowledged" else self.state
        if self.state == "shelved" and self.shelved_until:
            state = f"shelved {self.shelved_until}"
        parts = [state, self.pending, self.escalation]  # a pending request matters most: before it is cut
        return " · ".join(p for p in parts if p)

    @property
    def text(self) -> str:
        """The whole row, e.g. 'HIGH  Side door forced open  unacknowledged  4 min  silent'."""
        summary = f"{self.summary} {self.count}" if self.count else self.summary
        line = f"{self.priority.upper()}  {summary}  {self.status_line}  {self.age}"
        return f"{line}  {self.silent}" if self.silent else line


@dataclass(slots=True, frozen=True)
class AlarmDetails:
    """What the station shows about the selected alarm."""

    alarm_id: str
    title: str
    facts: str
    history: tuple[str, ...]
    rule: str = ""
    cause: tuple[str, ...] = ()
    procedure: str = ""
    """What the site's procedure says to do (empty: none written for this rule)."""
    cameras: tuple[str, ...] = ()
    """The cameras of the alarm's door or zone, whose latest snapshot the station may show."""


@dataclass(slots=True, frozen=True)
class _Pending:
    action: Action
    at: datetime


class AlarmQueue:
    """Open alarms by id, sorted for guards, with a selection and the requests waiting for an answer."""

    def __init__(
        self,
        *,
        tz: tzinfo | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """Show clock times in `tz` (None: this machine's zone); ages are measured against `now()`."""
        self._alarms: dict[str, AlarmStatus] = {}
        self._pending: dict[str, _Pending] = {}
        self._selected: str | None = None
        self._tz = tz
        self._now = now
        self.version = 0
        """Goes up by one on every change, so a screen can tell whether to redraw."""

    # what the bus (through the app) calls
    def on_alarm(self, alarm_id: str, status: AlarmStatus | None) -> AlarmRow | None:
        """Apply the retained state of one alarm (None: cleared); returns its row, None once gone.

        An update older than the one already shown is ignored. A resolved or cleared alarm leaves
        the queue, and the selection with it.
        """
        if status is not None and status.id != alarm_id:
            raise ValueError(f"alarm topic {alarm_id!r} carries alarm {status.id!r}")
        known = self._alarms.get(alarm_id)
        if status is not None and known is not None and status.updated_at < known.updated_at:
            return self.row(alarm_id)
        self._pending.pop(alarm_id, None)
        self.version += 1
        if status is None or status.state not in _OPEN_STATES:
            self._alarms.pop(alarm_id, None)
            if self._selected == alarm_id:
                self._selected = None
            return None
        self._alarms[alarm_id] = status
        return self.row(alarm_id)

    # what the window reads
    @property
    def rows(self) -> tuple[AlarmRow, ...]:
        """Open alarms, critical first, then the oldest raised first."""
        ordered = sorted(self._alarms.values(), key=lambda a: (_RANK.get(a.priority, 9), a.raised_at, a.id))
        now = self._now()
        return tuple(self._row(alarm, now) for alarm in ordered)

    def row(self, alarm_id: str) -> AlarmRow | None:
        """The row of one open alarm, or None."""
        alarm = self._alarms.get(alarm_id)
        return self._row(alarm, self._now()) if alarm is not None else None

    def counts(self) -> dict[str, int]:
        """How many open alarms are in each state."""
        counts = dict.fromkeys(_OPEN_STATES, 0)
        for alarm in self._alarms.values():
            counts[alarm.state] += 1
        return counts

    @property
    def header(self) -> str:
        """One line for the panel's title, e.g. '3 open, 1 unacknowledged, 1 shelved'."""
        if not self._alarms:
            return "no open alarms"
        parts = [f"{len(self._alarms)} open"]
        parts += [f"{n} {state}" for state, n in self.counts().items() if n]
        silent = sum(1 for a in self._alarms.values() if a.silent)
        if silent:
            parts.append(f"{silent} silent")
        return ", ".join(parts)

    # selection
    @property
    def selected(self) -> str | None:
        """The id of the selected alarm, or None."""
        return self._selected

    def select(self, alarm_id: str | None) -> None:
        """Select an open alarm by id (None: select nothing); raise ValueError for an unknown one."""
        if alarm_id is not None and alarm_id not in self._alarms:
            raise ValueError(f"no open alarm {alarm_id!r}")
        if alarm_id != self._selected:
            self._selected = alarm_id
            self.version += 1

    def details(self) -> AlarmDetails | None:
        """The selected alarm's summary, facts and newest history steps, or None."""
        alarm = self._alarms.get(self._selected or "")
        if alarm is None:
            return None
        causes = len(alarm.cause)
        facts = [
            alarm.id,
            f"rule {alarm.rule}",
            alarm.priority,
            f"raised {self._clock(alarm.raised_at)} ({_age(self._now() - alarm.raised_at)} ago)",
            f"{causes} cause event{'' if causes == 1 else 's'}",
        ]
        if alarm.count > 1:
            facts.append(f"seen {alarm.count} times")
        if alarm.silent:
            facts.append("silent: no sound, no sign at the kiosk")
        if alarm.normal:
            facts.append("returned to normal: acknowledge to clear it")
        history = tuple(
            f"{self._clock(step.at)}  {step.action}"
            + (f" by {step.by}" if step.by != SYSTEM else "")
            + (f": {step.note}" if step.note else "")
            for step in reversed(alarm.history[-HISTORY_LINES:])
        )
        title = f"{alarm.summary} {TIMES}{alarm.count}" if alarm.count > 1 else alarm.summary
        return AlarmDetails(alarm.id, title, " · ".join(facts), history, alarm.rule, alarm.cause,
                            alarm.procedure or "", alarm.cameras)

    # what a guard asks for
    def request(
        self,
        action: str,
        by: str,
        note: str | None = None,
        shelve_minutes: int | None = None,
        now: datetime | None = None,
    ) -> AlarmRequested:
        """Check a guard's action on the selected alarm and return the request to emit.

        Raises ValueError, with a message fit for the guard, when the action does not apply.
        On success the row shows the request as pending until the alarm's next update.
        """
        when = now or self._now()
        alarm = self._alarms.get(self._selected or "")
        if alarm is None:
            raise ValueError("select an alarm first")
        chosen = next((known for known in ACTIONS if known == action), None)
        if chosen is None:
            raise ValueError(f"unknown action {action!r}: choose one of {', '.join(ACTIONS)}")
        by = by.strip()
        if not 0 < len(by) <= MAX_NOTE:
            raise ValueError(f"the operator name must be 1 to {MAX_NOTE} characters")
        note = (note or "").strip() or None
        if note is not None and len(note) > MAX_NOTE:
            raise ValueError(f"the note is {len(note)} characters; the limit is {MAX_NOTE}")
        if chosen == "resolve" and note is None:
            raise ValueError("resolving needs a closing comment: write in the note what was done")
        until = self._until(chosen, shelve_minutes, when)
        _check_state(alarm, chosen)
        waiting = self._pending.get(alarm.id)
        if waiting is not None and waiting.action == chosen and when - waiting.at < PENDING_TIMEOUT:
            raise ValueError(f"{chosen} of {alarm.id} is already requested; waiting for the central service")
        request = AlarmRequested(alarm_id=alarm.id, action=chosen, by=by, note=note, until=until)
        self._pending[alarm.id] = _Pending(chosen, when)
        self.version += 1
        return request

    def forget_request(self, alarm_id: str) -> None:
        """Drop the pending mark of an alarm, e.g. when its request could not be sent."""
        if self._pending.pop(alarm_id, None) is not None:
            self.version += 1

    def _until(self, action: str, minutes: int | None, now: datetime) -> datetime | None:
        if action != "shelve":
            if minutes is not None:
                raise ValueError(f"only shelve takes a duration, not {action}")
            return None
        low, high = SHELVE_MINUTES
        if minutes is None or not low <= minutes <= high:
            got = "none given" if minutes is None else f"got {minutes}"
            raise ValueError(f"shelve needs a duration of {low} to {high} minutes ({got})")
        if now.tzinfo is None:
            raise ValueError("the request time must carry a time zone")
        return now + timedelta(minutes=minutes)

    def _row(self, alarm: AlarmStatus, now: datetime) -> AlarmRow:
        pending = self._pending.get(alarm.id)
        pending_text = ""
        if pending is not None:
            answered = now - pending.at < PENDING_TIMEOUT
            pending_text = f"{pending.action} requested" + ("…" if answered else ", no answer yet")
        shelved = f"until {self._clock(alarm.shelved_until, seconds=False)}" if alarm.shelved_until else ""
        return AlarmRow(
            alarm_id=alarm.id,
            priority=alarm.priority,
            state=alarm.state,
            summary=alarm.summary,
            count=f"{TIMES}{alarm.count}" if alarm.count > 1 else "",
            age=_age(now - alarm.raised_at),
            escalation=f"escalated to level {alarm.escalation_level}" if alarm.escalation_level else "",
            shelved_until=shelved,
            acknowledged_by=_acknowledged_by(alarm),
            silent="silent" if alarm.silent else "",
            pending=pending_text,
        )

    def _clock(self, when: datetime, *, seconds: bool = True) -> str:
        return when.astimezone(self._tz).strftime("%H:%M:%S" if seconds else "%H:%M")


def _check_state(alarm: AlarmStatus, action: str) -> None:
    state = alarm.state
    if action == "acknowledge" and state == "acknowledged":
        raise ValueError(f"alarm {alarm.id} is already acknowledged")
    if action == "acknowledge" and state == "shelved":
        raise ValueError(f"alarm {alarm.id} is shelved: unshelve it first")
    if action == "shelve" and state == "shelved":
        raise ValueError(f"alarm {alarm.id} is already shelved")
    if action == "unshelve" and state != "shelved":
        raise ValueError(f"alarm {alarm.id} is not shelved")


def _acknowledged_by(alarm: AlarmStatus) -> str:
    if alarm.state == "unacknowledged":
        return ""
    steps = [step.by for step in alarm.history if step.action == "acknowledged"]
    return steps[-1] if steps else ""


def _age(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds())) // 60
    if minutes < 1:
        return "<1 min"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"

