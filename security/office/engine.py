"""The back office as one pure state machine: events, statuses, people's actions and the clock go in;
access decisions, door commands, alarm transitions and audit records come out.

No I/O here: `emit` (given by the service) turns an event type and data into an `Event` of the
service's own source, which this module then feeds to the alarm rules like any other event.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo

from broker.commands import UnlockArgs
from broker.events import Event
from broker.messages import AlarmStatus, AlarmStep, Command, Status
from broker.schemas import (
    AccessDenied,
    AccessGranted,
    AlarmAction,
    AlarmRequested,
    BadgeRead,
    CodeScanned,
    CommandRequested,
    CommandSent,
    Data,
    DenyReason,
    VisitorCheckedIn,
    VisitorCheckedOut,
)
from broker.schemas import AlarmEscalated as AlarmEscalatedData
from security.office.access import (
    AntiPassbackState,
    Credential,
    CredentialFormat,
    Direction,
    Directory,
    Person,
    ReaderPoint,
    decide,
    visitor_badge,
)
from security.office.alarms import (
    SYSTEM,
    Acknowledge,
    Action,
    ActionRejected,
    Alarm,
    AlarmBook,
    AlarmEscalated,
    AlarmEvent,
    AlarmRecounted,
    AlarmReturned,
    AlarmUnshelved,
    Cleared,
    Condition,
    Loan,
    LoanChange,
    Output,
    Resolve,
    RulesConfig,
    RuleState,
    Shelve,
    Unshelve,
    evaluate,
    evaluate_status,
    tick,
)
from security.office.alarms import tours as tracker
from security.office.alarms.guidance import AlarmGuidance
from security.office.alarms.lending import loan_changes, overdue_key, settled
from security.office.alarms.rules import returned_to_normal, status_returned_to_normal
from security.office.alarms.tour_plan import TagKind
from security.office.audit import AuditRecord
from security.office.config import OfficeConfig
from security.office.door_control import (
    LOCK,
    MANUAL_UNLOCK_S,
    RELEASE,
    UNLOCK,
    CommandRequest,
    audit_details,
    plan,
)

log = logging.getLogger(__name__)

Emit = Callable[[str, Data], Event]
"""Make an event of the service's own source (it is stored and published with the effects)."""

HISTORY_SHOWN = 20
"""Transitions kept in the retained alarm payload (the alarms table keeps them all)."""
__all__ = ["MANUAL_UNLOCK_S", "UNLOCK", "BackOffice", "CommandRequest", "Effects", "OfficeState"]

@dataclass(frozen=True, slots=True)
class OfficeState:
    """Everything the back office knows, as immutable values: a snapshot is a reference."""

    book: AlarmBook
    rules: RuleState = field(default_factory=RuleState)
    passback: AntiPassbackState = field(default_factory=AntiPassbackState)
    directory: Directory = field(default_factory=Directory)
    visitors: Mapping[str, tuple[Person, Credential]] = field(default_factory=lambda: MappingProxyType({}))
    tours: tracker.TourState = field(default_factory=tracker.TourState)
    lockdown: frozenset[str] = frozenset()
    """Doors a guard locked down (no badge opens them) until released."""


@dataclass(slots=True)
class Effects:
    """What one step produced: events emitted, commands to send, alarms changed, records to audit."""

    events: list[Event] = field(default_factory=list)
    commands: list[tuple[str, Command]] = field(default_factory=list)
    alarms: dict[str, Alarm] = field(default_factory=dict)
    escalations: list[AlarmEscalated] = field(default_factory=list)
    audit: list[AuditRecord] = field(default_factory=list)
    rejected: list[ActionRejected] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    """Why requests of this step were refused (a command request; alarm actions use `rejected`)."""
    loans: list[LoanChange] = field(default_factory=list)
    """Loans opened and closed by this step's `item.lent` and `item.returned`, in order."""

    @property
    def stored_nothing(self) -> bool:
        """True when nothing of this step goes into the database (commands alone are only sent)."""
        return not (self.events or self.alarms or self.escalations or self.audit or self.loans)

    def extend(self, other: Effects) -> None:
        """Add what `other` produced after what this one did."""
        self.events += other.events
        self.commands += other.commands
        self.alarms.update(other.alarms)
        self.escalations += other.escalations
        self.audit += other.audit
        self.rejected += other.rejected
        self.refused += other.refused
        self.loans += other.loans


def alarm_status(alarm: Alarm, now: datetime, guidance: AlarmGuidance | None = None) -> AlarmStatus:
    """The retained payload of an open alarm, with its rule's procedure and its place's cameras."""
    guide = guidance or AlarmGuidance()
    steps = tuple(AlarmStep(t.action, t.by, t.at, t.note) for t in alarm.history[-HISTORY_SHOWN:])
    return AlarmStatus(
        id=alarm.id, rule=alarm.rule, priority=str(alarm.priority), summary=alarm.summary,
        state=alarm.state.value, raised_at=alarm.raised_at, updated_at=now, count=alarm.count,
        silent=alarm.silent, escalation_level=alarm.escalation_level, shelved_until=alarm.shelved_until,
        cause=alarm.cause, history=steps, procedure=guide.procedure(alarm.rule),
        cameras=guide.cameras_for(alarm.rule, alarm.key), normal=alarm.normal,
    )


class BackOffice:
    """Decides badge reads, runs the alarm rules and the alarm book, and applies people's actions."""

    def __init__(
        self,
        config: OfficeConfig,
        emit: Emit,
        state: OfficeState | None = None,
        *,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
        stations: Container[str] | None = None,
    ) -> None:
        """Start from `state` (default: nothing known) with the settings of `config`.

        `stations` are the device names whose credentials are a guard station's: only they may act
        on alarms or call themselves a station. None (no credential store, an anonymous broker)
        trusts the kind a device's status says, which any device could claim.
        """
        self.config = config
        self._stations = stations
        self._impostors: set[str] = set()
        self._emit = emit
        self._new_id = new_id
        self._points: dict[tuple[str, int], ReaderPoint] = config.access.reader_points()
        self._rules: RulesConfig = config.alarms.rules_config()
        self.guidance: AlarmGuidance = config.alarms.guidance()
        """The procedures and cameras every retained alarm carries."""
        self._tours = config.tours.plan(ZoneInfo(config.alarms.timezone))
        self.state = state or OfficeState(AlarmBook(config.alarms.book_config()))
        self._effective: Directory | None = None
        self._unmapped: set[tuple[str, int]] = set()

    # the state, for snapshots and rebuilding
    def restore(self, state: OfficeState) -> None:
        """Go back to an earlier state (after a transaction that stored this step failed)."""
        self.state = state
        self._effective = None

    def set_directory(self, directory: Directory) -> None:
        """Use a newly loaded directory of employees (visitors on site stay)."""
        self.restore(replace(self.state, directory=directory))

    def directory(self) -> Directory:
        """Employees from the database plus the visitors' temporary badges."""
        if self._effective is None:
            extra = tuple(self.state.visitors.values())
            directory = self.state.directory
            if extra:
                known = {p.id for p in directory.people}
                people = directory.people + tuple(p for p, _ in extra if p.id not in known)
                directory = replace(directory, people=people,
                                    credentials=directory.credentials + tuple(c for _, c in extra))
            self._effective = directory
        return self._effective

    def replay(self, event: Event) -> None:
        """Learn a stored event at start-up (visits, revoked badges, who is inside, rounds); no effects."""
        self._visits(event)
        if isinstance(event.data, tracker.TourRecord):
            self.state = replace(self.state, tours=self.state.tours.apply(event.data))
        rules = self.state.rules.observe(event, self._rules.repeated_denials.window_s)
        passback = self.state.passback
        data = event.data
        if isinstance(data, CommandSent) and data.door and data.command in (LOCK, RELEASE):
            doors = self.state.lockdown
            self.state = replace(self.state, lockdown=doors | {data.door} if data.command == LOCK
                                 else doors - {data.door})
        if isinstance(data, AccessGranted) and data.person_id and data.direction:
            area = next((p.area for (dev, _r), p in self._points.items()
                         if dev == data.reader_device and p.door == data.door), "site")
            passback = passback.moved(area, data.person_id, Direction(data.direction))
        self.state = replace(self.state, rules=rules, passback=passback)

    def learn_loans(self, loans: Iterable[Loan]) -> None:
        """Take the stored open loans at start-up (one whose item has an open `item-overdue` was reported)."""
        by_item = MappingProxyType({loan.item_id: loan for loan in loans})
        book = self.state.book
        reported = frozenset(loan.loan_id for loan in by_item.values()
                             if book.open_for(overdue_key(loan.item_id)) is not None)
        rules = replace(self.state.rules, loans=by_item, reported_overdue=reported)
        self.state = replace(self.state, rules=rules)

    # the inputs
    def on_event(self, event: Event, now: datetime) -> Effects:
        """Handle one newly stored event."""
        fx = Effects()
        data = event.data
        if not self._checkpoint(event, now, fx) and isinstance(data, BadgeRead):
            self._decide(event, data, now, fx)
        elif isinstance(data, AlarmRequested):
            self._request(event, data, now, fx)
        elif isinstance(data, CommandRequested):
            self._command_request(event, data, now, fx)
        self._visits(event)
        self._observe(event, now, fx)
        return fx

    def learn_status(self, source: str, status: Status, at: datetime) -> None:
        """Learn a stored status at start-up (kinds, who is offline), raising nothing."""
        rules = self.state.rules.observe_status(source, self._trusted(source, status), at)
        self.state = replace(self.state, rules=rules)

    def on_status(self, source: str, status: Status, now: datetime) -> Effects:
        """Handle a device's availability (a Last Will raises `device-offline`)."""
        fx = Effects()
        status = self._trusted(source, status)
        was_offline = source in self.state.rules.offline
        rules, conditions = evaluate_status(source, status, now, self.state.rules, self._rules)
        self.state = replace(self.state, rules=rules)
        back = status_returned_to_normal(source, status, was_offline)
        items: tuple[Condition | Cleared, ...] = (*conditions, *back)
        for item in items:
            self._apply(item, now, fx)
        return fx

    def act(self, action: Action, now: datetime, *, origin: str) -> Effects:
        """A person's action on an alarm (from a station's request or the HTTP API), audited."""
        fx = Effects()
        self._apply(action, now, fx)
        rejected = fx.rejected
        verb = type(action).__name__.lower()
        details: dict[str, object] = {"origin": origin}
        if action.note:
            details["note"] = action.note
        if isinstance(action, Shelve):
            details["until"] = action.until.isoformat()
        if rejected:
            details["refused"] = rejected[0].reason
            log.info("%s by %s refused: %s", verb, action.by, rejected[0].reason)
        fx.audit.append(AuditRecord(now, action.by, f"alarm.{verb}" + ("_refused" if rejected else ""),
                                    f"alarm:{action.alarm_id}", details))
        return fx

    def command(self, request: CommandRequest, now: datetime, *, origin: str) -> Effects:
        """A person's door command (a station's request or the API, whose rights were checked).

        Planned by `door_control.plan` against `[access.doors]` and the directory's door groups;
        each door's command is sent with an expiry and recorded as `command.sent`, the request
        audited once. A refusal is audited and logged; a lockdown holds until its release.
        """
        fx = Effects()
        planned = plan(request, self.config.access.doors, self.directory().doors_of, self.state.lockdown, now)
        if isinstance(planned, str):
            return self._refuse_command(request, planned, origin, now, fx)
        self.state = replace(self.state, lockdown=planned.lockdown)
        expires = now + timedelta(seconds=self.config.access.unlock_deadline_s)
        ids = []
        for order in planned.orders:
            command = Command.make(self._new_id(), expires, order.args)
            fx.commands.append((order.device, command))
            sent = CommandSent.model_validate({
                "device": order.device, "command": request.command, "command_id": command.id,
                "by": request.by, "origin": origin, "expires": expires, "seconds": order.seconds,
                "door": order.door, "note": request.note, "until": request.until, "group": request.group})
            fx.events.append(self._emit("command.sent", sent))
            ids.append(command.id)
        fx.audit.append(AuditRecord(now, request.by, f"command.{request.command}", request.target,
                                    audit_details(request, planned, ids, expires, origin)))
        log.info("%s: %s to %d door(s), asked by %s (%s)", request.target, request.command,
                 len(planned.orders), request.by, origin)
        return fx

    def _refuse_command(self, request: CommandRequest, reason: str, origin: str, now: datetime,
                        fx: Effects) -> Effects:
        log.warning("%s of %s asked by %s (%s) refused: %s", request.command, request.target, request.by,
                    origin, reason)
        details: dict[str, object] = {"origin": origin, "command": request.command}
        if request.note:
            details["note"] = request.note
        fx.refused.append(reason)
        fx.audit.append(AuditRecord(now, request.by, f"command.{request.command}_refused",
                                    request.target, {**details, "refused": reason}))
        return fx

    def _command_request(self, event: Event, data: CommandRequested, now: datetime, fx: Effects) -> None:
        """A station's `command.requested`: from a station's credentials, and still fresh, or refused."""
        request = CommandRequest(data.device, data.command, data.by, data.seconds, data.note)
        deadline = timedelta(seconds=self.config.access.unlock_deadline_s)
        age = (now - event.time).total_seconds()
        if not self._is_station(event.device, self.state.rules.kinds.get(event.source)):
            reason = f"{event.device} is not a guard station"
        elif now - event.time > deadline:
            reason = f"the request is {age:.0f} s old (sent only within {deadline.total_seconds():g} s)"
        else:
            fx.extend(self.command(request, now, origin=event.source))
            return
        self._refuse_command(request, reason, event.source, now, fx)

    def tick(self, now: datetime) -> Effects:
        """The clock: shelves that ran out, escalations, silent devices, visitors after closing."""
        fx = Effects()
        book, outputs = self.state.book.tick(now)
        self.state = replace(self.state, book=book)
        self._outputs(outputs, fx)
        rules, conditions = tick(now, self.state.rules, self._rules)
        self.state = replace(self.state, rules=rules)
        for condition in conditions:
            self._apply(condition, now, fx)
        self._tour_step(tracker.on_tick(self._tours, self.state.tours, now), now, fx)
        return fx

    # guard tours
    def _checkpoint(self, event: Event, now: datetime, fx: Effects) -> bool:
        """Hand a checkpoint's tag to the tour tracker; False when `event` reads no checkpoint.

        A checkpoint tag is a place, not a person: its read is never an access decision (no door
        opens, no `access.denied`, so no `unknown-credential` or `repeated-denials`).
        """
        data = event.data
        if isinstance(data, BadgeRead):
            found = self._tours.find(TagKind.BADGE, data.credential, event.device)
        elif isinstance(data, CodeScanned):
            found = self._tours.find(TagKind.QR, data.code, event.device)
        else:
            return False
        if found is None:
            return False
        tour, index = found
        step = tracker.on_read(self.state.tours, tour, index, event.service_time, event.id)
        self._tour_step(step, now, fx)
        return True

    def _tour_step(self, step: tracker.TourStep, now: datetime, fx: Effects) -> None:
        self.state = replace(self.state, tours=step.state)
        for record in step.records:
            fx.events.append(self._emit(tracker.RECORD_TYPES[type(record)], record))
        for condition in step.conditions:
            self._apply(condition, now, fx)

    # access
    def _decide(self, event: Event, read: BadgeRead, now: datetime, fx: Effects) -> None:
        point = self._points.get((event.device, read.reader))
        if point is None:
            if (event.device, read.reader) not in self._unmapped:
                self._unmapped.add((event.device, read.reader))
                log.warning("reader %d of %s opens no door in [access]: its reads are not decided",
                            read.reader, event.device)
            return
        decision = decide(read, point, self.directory(), self.state.passback, event.service_time)
        where = {"reader_device": event.device, "reader": read.reader, "direction": point.direction.value}
        data: AccessGranted | AccessDenied = decision.event.model_copy(update=where)
        if isinstance(data, AccessGranted) and point.door in self.state.lockdown:
            # a lockdown refuses whom the rules would let in (nobody passed: no anti-passback move);
            # other refusals keep their own reason
            data = AccessDenied(credential=data.credential, door=data.door, reason=DenyReason.LOCKDOWN,
                                person_id=data.person_id, **where)
            self._deny(event, data, now, fx)
            return
        self.state = replace(self.state, passback=decision.state)
        if decision.passback_flagged:
            log.info("soft anti-passback: %s passed %s twice the same way", data.person_id, point.door)
        if decision.unlock is not None:
            self._unlock(event, decision.unlock.door, decision.unlock.seconds, now, fx)
        access = self._emit(decision.event_type, data)
        fx.events.append(access)
        self._observe(access, now, fx)

    def _deny(self, event: Event, data: AccessDenied, now: datetime, fx: Effects) -> None:
        log.info("%s at %s refused: door %s is in lockdown", data.credential, event.device, data.door)
        access = self._emit("access.denied", data)
        fx.events.append(access)
        self._observe(access, now, fx)

    def _unlock(self, read: Event, door: str, seconds: float, now: datetime, fx: Effects) -> None:
        device = self.config.access.doors.get(door)
        deadline = timedelta(seconds=self.config.access.unlock_deadline_s)
        if device is None:
            log.warning("door %s has no door device in [access.doors]: granted but not unlocked", door)
        elif now - read.time > deadline:
            log.warning("read %s at %s is %.1f s old: granted in the log, door %s not unlocked",
                        read.id, read.device, (now - read.time).total_seconds(), door)
        else:
            command = Command.make(self._new_id(), now + deadline, UnlockArgs(seconds=seconds))
            fx.commands.append((device, command))

    def _visits(self, event: Event) -> None:
        data, visitors = event.data, self.state.visitors
        if isinstance(data, VisitorCheckedIn) and data.badge:
            fmt = CredentialFormat(data.badge_format or self.config.access.visitor_badge_format)
            try:
                badge = visitor_badge(data.visit_id, data.visitor_name, data.badge, fmt, event.service_time)
            except ValueError as exc:  # the contract allows what a credential cannot be
                log.warning("visit %s: badge %s opens no door: %s", data.visit_id, data.badge, exc)
                return
            visitors = MappingProxyType({**visitors, data.visit_id: badge})
        elif isinstance(data, VisitorCheckedOut) and data.visit_id in visitors:
            person, credential = visitors[data.visit_id]
            revoked = credential.revoke(event.service_time)
            visitors = MappingProxyType({**visitors, data.visit_id: (person, revoked)})
        else:
            return
        self.restore(replace(self.state, visitors=visitors))

    # alarms
    def _observe(self, event: Event, now: datetime, fx: Effects) -> None:
        before = self.state.rules
        rules, conditions = evaluate(event, before, self._rules)
        self.state = replace(self.state, rules=rules)
        back = returned_to_normal(event, self._rules, self.config.access.doors)
        items: tuple[Condition | Cleared, ...] = (*conditions, *back)
        for item in items:
            self._apply(item, now, fx)
        self._lending(event, before, now, fx)

    def _lending(self, event: Event, before: RuleState, now: datetime, fx: Effects) -> None:
        """Record what an `item.lent` or `item.returned` changed; a return resolves the alarms it settles."""
        changes = loan_changes(event, before.loans)
        if not changes:
            if event.type == "item.returned":
                log.info("%s from %s: that item is not out on loan", event.type, event.source)
            return
        fx.loans += changes
        for key, note in settled(changes, before.loans, self.state.rules.loans):
            alarm = self.state.book.open_for(key)
            if alarm is not None:
                self._apply(Resolve(alarm.id, SYSTEM, note), now, fx)

    def _request(self, event: Event, data: AlarmRequested, now: datetime, fx: Effects) -> None:
        origin, reason = event.source, None
        if not self._is_station(event.device, self.state.rules.kinds.get(origin)):
            reason = f"{event.device} is not a guard station"
        elif data.action == "shelve" and data.until is None:
            reason = "a shelve needs until"
        if reason is not None:
            log.warning("alarm request from %s refused: %s", origin, reason)
            fx.audit.append(AuditRecord(now, data.by, f"alarm.{data.action}_refused",
                                        f"alarm:{data.alarm_id}", {"origin": origin, "refused": reason}))
            return
        fx.extend(self.act(_action(data), now, origin=origin))

    def _trusted(self, source: str, status: Status) -> Status:
        """`status`, taken for an ordinary device's if it claims a station's kind without its credentials."""
        device = source.rsplit("/", 1)[-1]
        if status.kind != "station" or self._stations is None or device in self._stations:
            return status
        if device not in self._impostors:
            self._impostors.add(device)
            log.warning("%s says it is a station but its credentials are not a station's", source)
        return replace(status, kind="device")  # no station rights, no muted offline alarm

    def _is_station(self, device: str, kind: str | None) -> bool:
        """Whether `device` may act as a guard station (its credentials, else its status's kind)."""
        return device in self._stations if self._stations is not None else kind == "station"

    def _apply(self, item: Condition | Cleared | Action, now: datetime, fx: Effects) -> None:
        book, outputs = self.state.book.apply(item, now)
        self.state = replace(self.state, book=book)
        self._outputs(outputs, fx)

    def _outputs(self, outputs: tuple[Output, ...], fx: Effects) -> None:
        for out in outputs:
            if isinstance(out, ActionRejected):
                fx.rejected.append(out)
                continue
            fx.alarms[out.alarm.id] = out.alarm
            if isinstance(out, AlarmEvent):
                fx.events.append(self._emit(out.type, out.data))
            elif isinstance(out, AlarmUnshelved):
                note = out.alarm.history[-1].note if out.alarm.history else None
                fx.events.append(self._emit("alarm.unshelved",
                                            AlarmAction(alarm_id=out.alarm_id, by=out.by, note=note)))
            elif isinstance(out, AlarmEscalated):
                fx.escalations.append(out)
                data = AlarmEscalatedData(alarm_id=out.alarm_id, level=out.level, notify=out.notify)
                fx.events.append(self._emit("alarm.escalated", data))
            elif isinstance(out, AlarmRecounted | AlarmReturned):
                pass  # in the retained state and the alarms table (count; `returned` step); causes in the log


def _action(data: AlarmRequested) -> Action:
    """The book's action for a station's request (a shelve request carries `until`)."""
    if data.action == "acknowledge":
        return Acknowledge(data.alarm_id, data.by, data.note)
    if data.action == "resolve":
        return Resolve(data.alarm_id, data.by, data.note)
    if data.action == "unshelve":
        return Unshelve(data.alarm_id, data.by, data.note)
    assert data.until is not None
    return Shelve(data.alarm_id, data.by, data.until, data.note)
