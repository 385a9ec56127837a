"""Which kind of principal may emit which event type: the one table both brokers and the service use (pure).

A principal is believed only about what its kind is for. The broker ACLs (broker.acl) give each
principal a publish topic per event type its kind may emit; the central service checks the same
table again and keeps anything else as a dead letter saying why.
"""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    """What a principal is: it decides its ACL and which event types it is believed about."""

    SERVICE = "service"
    STATION = "station"
    KIOSK = "kiosk"
    READER = "reader"
    DOOR = "door"
    CAMERA = "camera"
    SCANNER = "scanner"
    PRINTER = "printer"
    DEVICE = "device"
    """A device of unknown kind (credential files written before kinds): only device-generic events."""


EDGE: frozenset[Kind] = frozenset(Kind) - {Kind.SERVICE}
"""Every kind but the central service: each may report its own faults."""

_K = Kind
EMITTERS: dict[str, frozenset[Kind]] = {
    # visitors: the kiosk checks people in and out; invitations and host notices are the service's
    "visitor.invited": frozenset(),
    "visitor.checked_in": frozenset({_K.KIOSK}),
    "visitor.checked_out": frozenset({_K.KIOSK}),
    "visitor.screened": frozenset({_K.KIOSK}),
    "visitor.photo": frozenset({_K.KIOSK}),
    "visitor.agreed": frozenset({_K.KIOSK}),
    "visitor.feedback": frozenset({_K.KIOSK}),
    "host.notified": frozenset(),
    "badge.printed": frozenset({_K.PRINTER, _K.KIOSK}),
    # access: readers read, only the service decides
    "badge.read": frozenset({_K.READER}),
    "code.scanned": frozenset({_K.SCANNER}),
    "access.granted": frozenset(),
    "access.denied": frozenset(),
    "door.opened": frozenset({_K.DOOR}),
    "door.closed": frozenset({_K.DOOR}),
    "door.forced": frozenset({_K.DOOR}),
    "door.held_open": frozenset({_K.DOOR}),
    # cameras
    "camera.motion": frozenset({_K.CAMERA}),
    "camera.person": frozenset({_K.CAMERA}),
    "camera.tamper": frozenset({_K.CAMERA}),
    "camera.snapshot": frozenset({_K.CAMERA}),
    # devices and delivery
    "device.fault": EDGE,
    "delivery.gap": frozenset(),
    "delivery.reset": frozenset(),
    "clock.skewed": frozenset(),
    # alarms, commands and incidents: stations ask, the service acts and records
    "alarm.raised": frozenset(),
    "alarm.acknowledged": frozenset(),
    "alarm.shelved": frozenset(),
    "alarm.resolved": frozenset(),
    "alarm.unshelved": frozenset(),
    "alarm.escalated": frozenset(),
    "alarm.requested": frozenset({_K.STATION}),
    "command.requested": frozenset({_K.STATION}),
    "command.sent": frozenset(),
    "incident.opened": frozenset(),
    "incident.noted": frozenset(),
    "incident.closed": frozenset(),
    # lending: the desk (a station) lends and takes back; kiosks do not lend
    "item.lent": frozenset({_K.STATION}),
    "item.returned": frozenset({_K.STATION}),
    # guard tours: only the service records rounds (checkpoints are read as badge.read and code.scanned)
    "tour.started": frozenset(),
    "tour.checkpoint": frozenset(),
    "tour.ended": frozenset(),
}
"""Event type -> the kinds besides the service that may emit it (the service may emit every type)."""


def may_emit(kind: Kind | str, event_type: str) -> bool:
    """True if a principal of `kind` may emit `event_type` (a type the contract lacks: never)."""
    if event_type not in EMITTERS:
        return False
    return kind == Kind.SERVICE or kind in EMITTERS[event_type]


def types_for(kind: Kind | str) -> tuple[str, ...]:
    """The event types a principal of `kind` may emit, sorted."""
    return tuple(sorted(t for t in EMITTERS if may_emit(kind, t)))


def refusal(kind: Kind | str | None, device: str, event_type: str) -> str | None:
    """Why the service does not believe `event_type` from `device` of `kind` (None: it does).

    `kind` None means the credential store does not know `device` at all.
    """
    if kind is None:
        return f"{device} is not a principal in the credential store: its {event_type} is not believed"
    if may_emit(kind, event_type):
        return None
    allowed = ", ".join(types_for(kind)) or "nothing"
    return f"a {kind} may not emit {event_type} ({device} may emit: {allowed})"


COLUMNS: tuple[Kind, ...] = (
    Kind.READER, Kind.DOOR, Kind.CAMERA, Kind.SCANNER, Kind.PRINTER, Kind.KIOSK, Kind.STATION,
    Kind.DEVICE, Kind.SERVICE,
)
"""The kinds in the order the docs show them."""


def markdown_table() -> str:
    """The kind x event type table for the docs: one row per type, a mark per kind that may emit it."""
    rows = ["| event type | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for event_type in sorted(EMITTERS):
        marks = ["yes" if may_emit(kind, event_type) else "" for kind in COLUMNS]
        rows.append(f"| `{event_type}` | " + " | ".join(marks) + " |")
    return "\n".join(rows)
