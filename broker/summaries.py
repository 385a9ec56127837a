"""One short human line per event's data, and how loudly the station should show it (pure)."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any

from broker import schemas as s
from broker.events import Event


class Severity(StrEnum):
    """How the guard station colours a line."""

    NORMAL = "normal"
    WARNING = "warning"
    ALERT = "alert"


_ALERT_TYPES = frozenset({"alarm.raised", "door.forced", "camera.tamper", "delivery.gap"})
_WARNING_TYPES = frozenset({"access.denied", "door.held_open", "device.fault"})


def severity(event: Event) -> Severity:
    """ALERT for alarms, forced doors, tampering, watchlist hits; WARNING for denials, faults."""
    if event.type == "device.fault" and isinstance(event.data, s.DeviceFault):
        return Severity.NORMAL if event.data.cleared else Severity.WARNING
    if event.type == "visitor.screened" and isinstance(event.data, s.VisitorScreened):
        return Severity.ALERT if event.data.result == "match" else Severity.NORMAL
    if event.type in _ALERT_TYPES:
        return Severity.ALERT
    if event.type in _WARNING_TYPES:
        return Severity.WARNING
    return Severity.NORMAL


def _words(value: str) -> str:
    return value.replace("_", " ")


def _pct(value: float) -> str:
    return f"{value * 100:.0f}%"


def _checked_in(d: s.VisitorCheckedIn) -> str:
    who = d.visitor_name + (f" ({d.company})" if d.company else "")
    host = f" for {d.host_name or d.host_id}" if (d.host_name or d.host_id) else ""
    return f"{who}, {d.visitor_type.value}{host}"


def _invited(d: s.VisitorInvited) -> str:
    return f"{d.visitor_name} by host {d.host_id}, expected {d.expected_at:%d %b %H:%M}"


def _screened(d: s.VisitorScreened) -> str:
    score = f" ({_pct(d.score)})" if d.score is not None else ""
    return f"visit {d.visit_id}: {d.result}{score}"


def _notified(d: s.HostNotified) -> str:
    outcome = "sent" if d.ok else "FAILED" + (f": {d.detail}" if d.detail else "")
    return f"host {d.host_id} by {d.channel}, {outcome} (visit {d.visit_id})"


def _printed(d: s.BadgePrinted) -> str:
    outcome = "printed" if d.ok else "NOT printed" + (f": {d.detail}" if d.detail else "")
    return f"badge for visit {d.visit_id} on {d.printer} {outcome}"


def _badge(d: s.BadgeRead) -> str:
    return f"credential {d.credential} at reader {d.reader}"


def _scanned(d: s.CodeScanned) -> str:
    return f"{d.symbology or 'code'} {d.code} at scanner {d.scanner}"


def _granted(d: s.AccessGranted) -> str:
    who = f" ({d.person_id})" if d.person_id else ""
    way = f" {d.direction}" if d.direction else ""
    return f"credential {d.credential}{who} at door {d.door}{way}"


def _denied(d: s.AccessDenied) -> str:
    who = f" ({d.person_id})" if d.person_id else ""
    return f"credential {d.credential}{who} at door {d.door}: {_words(d.reason.value)}"


def _door(d: s.DoorChange) -> str:
    held = f" for {d.duration_s:.0f} s" if d.duration_s is not None else ""
    return f"door {d.door}{held}"


def _motion(d: s.CameraMotion) -> str:
    zone = f" in {d.zone}" if d.zone else ""
    return f"camera {d.camera}{zone}, score {d.score:.2f}"


def _person(d: s.CameraPerson) -> str:
    zone = f" in {d.zone}" if d.zone else ""
    return f"camera {d.camera}{zone}, person {_pct(d.confidence)}"


def _tamper(d: s.CameraTamper) -> str:
    return f"camera {d.camera} {d.kind.value}"


def _snapshot(d: s.CameraSnapshot) -> str:
    return f"camera {d.camera}: {d.path}"


def _fault(d: s.DeviceFault) -> str:
    text = _words(d.fault) + (f": {d.detail}" if d.detail else "")
    return f"cleared: {text}" if d.cleared else text


def _gap(d: s.DeliveryGap) -> str:
    return f"{d.for_source} missing seq {d.missing_from}-{d.missing_to}"


def _reset(d: s.DeliveryReset) -> str:
    return f"{d.for_source} started over (outbox {d.incarnation}, from seq {d.first_seq})"


def _skewed(d: s.ClockSkewed) -> str:
    return f"{d.for_source} clock {d.skew_s:+.0f} s from the service's"


def _command_requested(d: s.CommandRequested) -> str:
    how_long = f" for {d.seconds:g} s" if d.seconds else ""
    note = f": {d.note}" if d.note else ""
    return f"{d.by} asks to {d.command} {d.device}{how_long}{note}"


def _command_sent(d: s.CommandSent) -> str:
    how_long = f" for {d.seconds:g} s" if d.seconds else ""
    return f"{d.command} {d.device}{how_long} for {d.by} (via {d.origin}), expires {d.expires:%H:%M:%S}"


def _alarm_raised(d: s.AlarmRaised) -> str:
    return f"{d.priority.value.upper()} {d.summary} [{d.alarm_id}]"


def _alarm_action(d: s.AlarmAction) -> str:
    note = f": {d.note}" if d.note else ""
    return f"{d.alarm_id} by {d.by}{note}"


def _shelved(d: s.AlarmShelved) -> str:
    return f"{d.alarm_id} by {d.by} until {d.until:%H:%M}"


def _photo(d: s.VisitorPhoto) -> str:
    size = f" {d.width}x{d.height}" if d.width and d.height else ""
    return f"photo{size} of visit {d.visit_id}" if d.jpeg else f"photo of visit {d.visit_id} (removed)"


def _agreed(d: s.VisitorAgreed) -> str:
    how = "signed" if d.signature else "accepted"
    return f"visit {d.visit_id} {how} {d.agreement} ({d.language})"


def _escalated(d: s.AlarmEscalated) -> str:
    return f"{d.alarm_id} not acknowledged: level {d.level}, told {', '.join(d.notify) or 'nobody'}"


def _requested(d: s.AlarmRequested) -> str:
    note = f": {d.note}" if d.note else ""
    return f"{d.by} asks to {d.action} {d.alarm_id}{note}"


def _incident_opened(d: s.IncidentOpened) -> str:
    return f"{d.incident_id} {d.title} (by {d.by})"


def _incident_noted(d: s.IncidentNoted) -> str:
    return f"{d.incident_id} by {d.by}: {d.note}"


def _incident_closed(d: s.IncidentClosed) -> str:
    return f"{d.incident_id} by {d.by}: {d.outcome}"


def _item_lent(d: s.ItemLent) -> str:
    to = f"visit {d.visit_id}" if d.visit_id else f"person {d.person_id}"
    return f"{_words(d.item_kind)} {d.item_id} ({d.description}) lent to {to} by {d.by}, due {d.due_at:%H:%M}"


def _item_returned(d: s.ItemReturned) -> str:
    condition = f" ({_words(d.condition)})" if d.condition else ""
    return f"{d.item_id} returned{condition}, taken by {d.by}"


_SUMMARIES: dict[type[s.Data], Callable[[Any], str]] = {
    s.VisitorInvited: _invited,
    s.VisitorCheckedIn: _checked_in,
    s.VisitorCheckedOut: lambda d: f"visit {d.visit_id} by {d.method}",
    s.VisitorScreened: _screened,
    s.VisitorPhoto: _photo,
    s.VisitorAgreed: _agreed,
    s.HostNotified: _notified,
    s.BadgePrinted: _printed,
    s.BadgeRead: _badge,
    s.CodeScanned: _scanned,
    s.AccessGranted: _granted,
    s.AccessDenied: _denied,
    s.DoorChange: _door,
    s.CameraMotion: _motion,
    s.CameraPerson: _person,
    s.CameraTamper: _tamper,
    s.CameraSnapshot: _snapshot,
    s.DeviceFault: _fault,
    s.DeliveryGap: _gap,
    s.DeliveryReset: _reset,
    s.ClockSkewed: _skewed,
    s.CommandRequested: _command_requested,
    s.CommandSent: _command_sent,
    s.AlarmRaised: _alarm_raised,
    s.AlarmAction: _alarm_action,
    s.AlarmShelved: _shelved,
    s.AlarmEscalated: _escalated,
    s.AlarmRequested: _requested,
    s.IncidentOpened: _incident_opened,
    s.IncidentNoted: _incident_noted,
    s.IncidentClosed: _incident_closed,
    s.ItemLent: _item_lent,
    s.ItemReturned: _item_returned,
}
# the comment stays out of the summary: a visitor's free text belongs on the Visits page, not in feeds
_SUMMARIES[s.VisitorFeedback] = lambda d: (
    f"visit {d.visit_id} rated {d.rating}/5 ({d.language})" + (", with a comment" if d.comment else "")
)


def summarize(event: Event, limit: int = 120) -> str:
    """A short readable line for `event.data`, at most `limit` characters."""
    describe = _SUMMARIES.get(type(event.data))
    if describe is not None:
        text = describe(event.data)
    else:
        fields = event.data.model_dump(mode="json", exclude_none=True)
        text = ", ".join(f"{key} {value}" for key, value in fields.items())
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# guard tours
def _tour_started(d: s.TourStarted) -> str:
    slot = f" (round due {d.slot:%H:%M})" if d.slot else ""
    return f"Tour {d.tour} started{slot}"


def _tour_checkpoint(d: s.TourCheckpoint) -> str:
    late = f" {d.late_s / 60:.0f} min" if d.late_s else ""
    return f"Tour {d.tour}: checkpoint {d.checkpoint} {d.outcome.replace('_', ' ')}{late}"


def _tour_ended(d: s.TourEnded) -> str:
    return f"Tour {d.tour} {d.outcome.replace('_', ' ')} ({d.reached} of {d.checkpoints} checkpoints)"


_SUMMARIES.update({s.TourStarted: _tour_started, s.TourCheckpoint: _tour_checkpoint,
                   s.TourEnded: _tour_ended})
