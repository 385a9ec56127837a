"""Alarm rules: pure functions over one event (or a status, or the clock) and the recent state."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from broker.events import Event
from broker.messages import Status
from broker.schemas import (
    AccessDenied,
    BadgeRead,
    CameraMotion,
    CameraPerson,
    CameraTamper,
    DeliveryGap,
    DenyReason,
    DeviceFault,
    DoorChange,
    VisitorScreened,
)
from security.office.alarms.conditions import Cleared, Condition, RuleName
from security.office.alarms.config import RulesConfig
from security.office.alarms.lending import items_not_returned, overdue_items
from security.office.alarms.state import RuleState

Rule = Callable[[Event, RuleState, RulesConfig], tuple[Condition, ...]]
"""The shape of every event rule."""


def unknown_credential(event: Event, state: RuleState, config: RulesConfig) -> tuple[Condition, ...]:
    """A credential nobody knows was refused at a door."""
    cfg, data = config.unknown_credential, event.data
    if not cfg.enabled or not isinstance(data, AccessDenied) or data.reason != DenyReason.UNKNOWN_CREDENTIAL:
        return ()
    rule = RuleName.UNKNOWN_CREDENTIAL
    summary = f"Unknown credential {data.credential} at door {data.door}"
    return (Condition(rule, f"{rule}:{data.credential}", cfg.priority, summary, (event.id,)),)


def repeated_denials(event: Event, state: RuleState, config: RulesConfig) -> tuple[Condition, ...]:
    """At least N denials within T seconds at this door, or for this credential (this one included)."""
    cfg, data = config.repeated_denials, event.data
    if not cfg.enabled or not isinstance(data, AccessDenied):
        return ()
    horizon = event.service_time - timedelta(seconds=cfg.window_s)
    recent = [d for d in state.denials if horizon <= d.at <= event.service_time]
    rule, found = RuleName.REPEATED_DENIALS, []
    for what, value, hits in (
        ("door", data.door, [d for d in recent if d.door == data.door]),
        ("credential", data.credential, [d for d in recent if d.credential == data.credential]),
    ):
        if len(hits) >= cfg.count:
            summary = f"{len(hits)} denials in {cfg.window_s:g} s for {what} {value}"
            cause = tuple(d.event_id for d in hits[-64:])
            found.append(Condition(rule, f"{rule}:{what}:{value}", cfg.priority, summary, cause))
    return tuple(found)


def revoked_badge(event: Event, state: RuleState, config: RulesConfig) -> tuple[Condition, ...]:
    """A badge revoked at a visitor's check-out was presented again."""
    cfg, data = config.revoked_badge, event.data
    if not cfg.enabled or event.type not in cfg.event_types:
        return ()
    credential = getattr(data, "credential", None)
    if not isinstance(credential, str) or credential not in state.revoked:
        return ()
    where = f"reader {data.reader} of {event.device}" if isinstance(data, BadgeRead) else event.device
    where = f"door {data.door}" if isinstance(data, AccessDenied) else where
    rule = RuleName.REVOKED_BADGE
    summary = f"Checked-out visitor's badge {credential} used at {where}"
    return (Condition(rule, f"{rule}:{credential}", cfg.priority, summary, (event.id,)),)


def door_forced(event: Event, state: RuleState, config: RulesConfig) -> tuple[Condition, ...]:
    """A door opened without a grant."""
    cfg, data = config.door_forced, event.data
    if not cfg.enabled or event.type != "door.forced" or not isinstance(data, DoorChange):
        return ()
    rule = RuleName.DOOR_FORCED
    summary = f"Door {data.door} forced open"
    return (Condition(rule, f"{rule}:{data.door}", cfg.priority, summary, (event.id,)),)


def door_held_open(event: Event, state: RuleState, config: RulesConfig) -> tuple[Condition, ...]:
    """A door stayed open too long."""
    cfg, data = config.door_held_open, event.data
    if not cfg.enabled or event.type != "door.held_open" or not isinstance(data, DoorChange):
        return ()
    if data.duration_s is not None and data.duration_s < cfg.min_duration_s:
        return ()
    held = f" for {data.duration_s:g} s" if data.duration_s is not None else ""
    rule = RuleName.DOOR_HELD_OPEN
    summary = f"Door {data.door} held open{held}"
    return (Condition(rule, f"{rule}:{data.door}", cfg.priority, summary, (event.id,)),)


def camera_tamper(event: Event, state: RuleState, config: RulesConfig) -> tuple[Condition, ...]:
    """A camera's view was covered, blinded, defocused or moved."""
    cfg, data = config.camera_tamper, event.data
    if not cfg.enabled or not isinstance(data, CameraTamper) or data.kind not in cfg.kinds:
        return ()
    rule = RuleName.CAMERA_TAMPER
    summary = f"Camera {data.camera} {data.kind}"
    return (Condition(rule, f"{rule}:{data.camera}", cfg.priority, summary, (event.id,)),)


def zone_after_hours(event: Event, state: RuleState, config: RulesConfig) -> tuple[Condition, ...]:
    """A person (or, if enabled, motion) in a scheduled zone outside its hours."""
    cfg, data = config.zone_hours, event.data
    if not cfg.enabled:
        return ()
    if isinstance(data, CameraPerson) and data.confidence >= cfg.min_person_confidence:
        what = "Person"
    elif isinstance(data, CameraMotion) and cfg.include_motion and data.score >= cfg.min_motion_score:
        what = "Motion"
    else:
        return ()
    schedule = next((z for z in cfg.zones if z.zone == data.zone), None)
    if schedule is None or schedule.is_open(event.service_time):
        return ()
    rule = RuleName.ZONE_AFTER_HOURS
    summary = f"{what} in zone {schedule.zone} outside its hours (camera {data.camera})"
    return (Condition(rule, f"{rule}:{schedule.zone}", cfg.priority, summary, (event.id,)),)


def watchlist_match(event: Event, state: RuleState, config: RulesConfig) -> tuple[Condition, ...]:
    """A visitor checking in at a kiosk matched the watchlist (a silent alarm by default)."""
    cfg, data = config.watchlist, event.data
    if not cfg.enabled or not isinstance(data, VisitorScreened) or data.result != "match":
        return ()
    if data.score is not None and data.score < cfg.min_score:
        return ()
    rule = RuleName.WATCHLIST_MATCH
    summary = f"Watchlist match for visit {data.visit_id} at {event.device}"
    return (Condition(rule, f"{rule}:{data.visit_id}", cfg.priority, summary, (event.id,), cfg.silent),)


def delivery_gap(event: Event, state: RuleState, config: RulesConfig) -> tuple[Condition, ...]:
    """Events of a source were lost: its seq gap did not fill."""
    cfg, data = config.delivery_gap, event.data
    if not cfg.enabled or not isinstance(data, DeliveryGap):
        return ()
    rule = RuleName.DELIVERY_GAP
    summary = f"Events {data.missing_from}-{data.missing_to} of {data.for_source} never arrived"
    return (Condition(rule, f"{rule}:{data.for_source}", cfg.priority, summary, (event.id,)),)


def printer_fault(event: Event, state: RuleState, config: RulesConfig) -> tuple[Condition, ...]:
    """A printer reports paper out, head open or no answer."""
    cfg, data = config.printer_fault, event.data
    if not cfg.enabled or not isinstance(data, DeviceFault) or data.cleared or data.fault not in cfg.faults:
        return ()
    if state.kinds.get(event.source) != "printer" and event.device not in cfg.printers:
        return ()
    rule = RuleName.PRINTER_FAULT
    detail = f": {data.detail}" if data.detail else ""
    summary = f"Printer {event.device} {data.fault.replace('_', ' ')}{detail}"
    return (Condition(rule, f"{rule}:{event.source}", cfg.priority, summary, (event.id,)),)


EVENT_RULES: tuple[Rule, ...] = (
    unknown_credential,
    repeated_denials,
    revoked_badge,
    door_forced,
    door_held_open,
    camera_tamper,
    zone_after_hours,
    watchlist_match,
    delivery_gap,
    printer_fault,
    items_not_returned,
)
"""Every rule that looks at one event, in the order they run."""


def evaluate(event: Event, state: RuleState, config: RulesConfig) -> tuple[RuleState, tuple[Condition, ...]]:
    """Observe `event` and run every event rule on it; the new state and what fired."""
    new_state = state.observe(event, config.repeated_denials.window_s)
    return new_state, tuple(c for rule in EVENT_RULES for c in rule(event, new_state, config))


def evaluate_status(
    source: str, status: Status, now: datetime, state: RuleState, config: RulesConfig
) -> tuple[RuleState, tuple[Condition, ...]]:
    """Observe a device's status; a device that goes offline raises `device-offline`."""
    was_offline = source in state.offline
    new_state = state.observe_status(source, status, now)
    cfg = config.device_offline
    if not cfg.enabled or status.state != "offline" or was_offline or status.kind in cfg.ignored_kinds:
        return new_state, ()
    rule, device = RuleName.DEVICE_OFFLINE, source.rsplit("/", 1)[-1]
    detail = f": {status.detail}" if status.detail else ""
    summary = f"{status.kind.capitalize()} {device} went offline{detail}"
    return new_state, (Condition(rule, f"{rule}:{source}", cfg.priority, summary),)


def tick(now: datetime, state: RuleState, config: RulesConfig) -> tuple[RuleState, tuple[Condition, ...]]:
    """The clock-driven rules at `now`: silent devices, visitors after closing, overdue items; each once."""
    found: list[Condition] = []
    silent: set[str] = set()
    cfg = config.device_silent
    if cfg.enabled:
        limit = timedelta(seconds=cfg.silent_after_s)
        for source, heard in sorted(state.last_heard.items()):
            if source in state.offline or source in state.reported_silent or now - heard < limit:
                continue
            kind = state.kinds.get(source)  # only devices that said a status: not the service itself
            if kind is None or (cfg.kinds and kind not in cfg.kinds):
                continue
            silent.add(source)
            rule = RuleName.DEVICE_SILENT
            summary = f"Device {source.rsplit('/', 1)[-1]} silent since {heard:%Y-%m-%d %H:%M:%S}"
            found.append(Condition(rule, f"{rule}:{source}", cfg.priority, summary))
    late: set[str] = set()
    closing = config.visitor_after_closing
    if closing.enabled and closing.is_closed(now):
        for visit in sorted(state.visits.values(), key=lambda v: v.visit_id):
            if visit.visit_id in state.reported_after_closing:
                continue
            late.add(visit.visit_id)
            rule = RuleName.VISITOR_AFTER_CLOSING
            summary = f"Visitor of visit {visit.visit_id} still on site after closing"
            key = f"{rule}:{visit.visit_id}"
            found.append(Condition(rule, key, closing.priority, summary, (visit.event_id,)))
    state = state.mark_reported(silent=frozenset(silent), after_closing=frozenset(late))
    overdue, late_items = overdue_items(now, state, config)
    return state.mark_reported(overdue=overdue), (*found, *late_items)


def returned_to_normal(
    event: Event, config: RulesConfig, doors: Mapping[str, str] | None = None
) -> tuple[Cleared, ...]:
    """The alarm keys whose condition `event` clears: a door that closed, a printer fault that cleared.

    A door listed in `doors` (door name -> its device) is believed closed only from its own device: a
    return to normal can clear an acknowledged alarm. Nothing in the contract says a camera's tamper
    is over, so camera-tamper alarms never return to normal.
    """
    data = event.data
    if event.type == "door.closed" and isinstance(data, DoorChange):
        device = (doors or {}).get(data.door)
        if device is not None and device != event.device:
            return ()
        why = f"door {data.door} closed"
        rules = (RuleName.DOOR_FORCED, RuleName.DOOR_HELD_OPEN)
        return tuple(Cleared(f"{rule}:{data.door}", why) for rule in rules)
    if isinstance(data, DeviceFault) and data.cleared and data.fault in config.printer_fault.faults:
        why = f"{data.fault.replace('_', ' ')} cleared"
        return (Cleared(f"{RuleName.PRINTER_FAULT}:{event.source}", why),)
    return ()


def status_returned_to_normal(source: str, status: Status, was_offline: bool) -> tuple[Cleared, ...]:
    """A device that had gone offline says it is back: its `device-offline` alarm returns to normal."""
    if not was_offline or status.state == "offline":
        return ()
    return (Cleared(f"{RuleName.DEVICE_OFFLINE}:{source}", f"{status.kind} back {status.state}"),)
