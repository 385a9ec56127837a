"""Typed, validated `data` of every event type in the contract vocabulary (pure)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

Text = Annotated[str, Field(min_length=1, max_length=200)]
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]
Credential = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[0-9A-F]+$")]
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9-]+$")]
Language = Annotated[str, Field(min_length=2, max_length=16, pattern=r"^[a-z]{2,3}([-_][A-Za-z0-9]+)?$")]


class Data(BaseModel):
    """Base of every event's `data`: immutable, unknown fields refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class VisitorType(StrEnum):
    """Why a visitor came; each type has its own agreement."""

    GUEST = "guest"
    CONTRACTOR = "contractor"
    DELIVERY = "delivery"
    INTERVIEW = "interview"


class DenyReason(StrEnum):
    """Why an access decision refused a credential."""

    UNKNOWN_CREDENTIAL = "unknown_credential"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    REVOKED = "revoked"
    NO_RIGHTS = "no_rights"
    OUT_OF_SCHEDULE = "out_of_schedule"
    ANTI_PASSBACK = "anti_passback"
    LOCKDOWN = "lockdown"
    """The door's group is locked down (a guard's lockdown, until released): no badge opens it."""


class TamperKind(StrEnum):
    """How a camera's view was interfered with."""

    COVERED = "covered"
    BLINDED = "blinded"
    DEFOCUSED = "defocused"
    MOVED = "moved"


class Priority(StrEnum):
    """Alarm priority, highest first."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class Category(StrEnum):
    """What kind of incident it is; the console's lists and reports group by it."""

    SECURITY = "security"
    SAFETY = "safety"
    COMPLAINT = "complaint"
    LOST_ITEM = "lost_item"
    OTHER = "other"


class Box(Data):
    """A rectangle in relative frame coordinates (0..1)."""

    x: float = Field(ge=0, le=1)
    y: float = Field(ge=0, le=1)
    w: float = Field(gt=0, le=1)
    h: float = Field(gt=0, le=1)


# visitors
class VisitorInvited(Data):
    """A host invited a visitor ahead of the visit."""

    visit_id: Id
    visitor_name: Text
    host_id: Id
    expected_at: datetime
    company: Text | None = None
    email: Text | None = None
    visitor_type: VisitorType = VisitorType.GUEST


class VisitorCheckedIn(Data):
    """A visitor checked in at a kiosk or desk."""

    visit_id: Id
    visitor_name: Text
    visitor_type: VisitorType
    company: Text | None = None
    host_id: Id | None = None
    host_name: Text | None = None
    badge: Credential | None = None
    invited: bool = False
    photo: Text | None = None
    badge_format: Literal["qr", "em4100", "wiegand26", "osdp"] | None = None
    email: Text | None = None
    language: Language | None = None


class VisitorCheckedOut(Data):
    """A visitor left; the badge is revoked."""

    visit_id: Id
    method: Literal["qr", "name", "badge", "staff", "auto"]


class VisitorScreened(Data):
    """The watchlist result of one check-in."""

    visit_id: Id
    result: Literal["clear", "match", "error"]
    score: float | None = Field(default=None, ge=0, le=1)
    entry_id: Id | None = None


class VisitorPhoto(Data):
    """The photo a kiosk took of a visitor: a small JPEG, base64 (removed by retention)."""

    visit_id: Id
    jpeg: Annotated[str, Field(min_length=1, max_length=180_000, pattern=r"^[A-Za-z0-9+/=]+$")] | None = None
    width: int | None = Field(default=None, ge=1, le=4096)
    height: int | None = Field(default=None, ge=1, le=4096)


class VisitorAgreed(Data):
    """A visitor signed the agreement of their visitor type (the signature as an SVG path)."""

    visit_id: Id
    agreement: Name
    language: Language
    signature: Annotated[str, Field(min_length=1, max_length=60_000)] | None = None


class HostNotified(Data):
    """The host was (or could not be) told their visitor arrived."""

    visit_id: Id
    host_id: Id
    channel: Literal["email", "webhook", "sms"]
    ok: bool
    detail: Text | None = None


class BadgePrinted(Data):
    """A visitor badge was (or could not be) printed on a label printer."""

    visit_id: Id
    printer: Name
    ok: bool
    detail: Text | None = None


# access
class BadgeRead(Data):
    """A credential was presented at a reader."""

    credential: Credential
    reader: int = Field(ge=0, le=255)
    format: Literal["rdm6300", "wiegand26", "osdp", "qr", "unknown"] = "unknown"
    facility: int | None = Field(default=None, ge=0)


class CodeScanned(Data):
    """A barcode or QR code was read by a scanner."""

    code: Annotated[str, Field(min_length=1, max_length=512)]
    symbology: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[a-z0-9-]+$")] | None = None
    scanner: Name


Direction = Literal["in", "out"]


class AccessGranted(Data):
    """A credential was allowed through a door; the reader it was read at, when known."""

    credential: Credential
    door: Name
    person_id: Id | None = None
    reader_device: Name | None = None
    reader: int | None = Field(default=None, ge=0, le=255)
    direction: Direction | None = None


class AccessDenied(Data):
    """A credential was refused at a door, with the reason; the reader it was read at, when known."""

    credential: Credential
    door: Name
    reason: DenyReason
    person_id: Id | None = None
    reader_device: Name | None = None
    reader: int | None = Field(default=None, ge=0, le=255)
    direction: Direction | None = None


class DoorChange(Data):
    """A door opened, closed, was forced or held open."""

    door: Name
    duration_s: float | None = Field(default=None, ge=0)


# cameras
class CameraMotion(Data):
    """Motion seen in a camera (optionally in a zone)."""

    camera: Name
    score: float = Field(ge=0, le=1)
    zone: Name | None = None
    boxes: tuple[Box, ...] = Field(default=(), max_length=64)


class CameraPerson(Data):
    """A person detected in a camera's view."""

    camera: Name
    confidence: float = Field(ge=0, le=1)
    box: Box
    zone: Name | None = None


class CameraTamper(Data):
    """A camera's view was covered, blinded, defocused or moved."""

    camera: Name
    kind: TamperKind


class CameraSnapshot(Data):
    """A JPEG snapshot was stored for an event."""

    camera: Name
    path: Text
    for_event: Id | None = None


# devices
class DeviceFault(Data):
    """A device reports a fault (or that it cleared)."""

    fault: Literal[
        "paper_out", "head_open", "no_answer", "reader_tamper", "power", "camera_lost", "other"
    ]
    detail: Text | None = None
    cleared: bool = False


class DeliveryGap(Data):
    """The central service saw a hole in a source's seq that did not fill in time."""

    for_source: Text
    missing_from: int = Field(ge=1)
    missing_to: int = Field(ge=1)


# commands: a station asks, the service decides, sends and records
CommandName = Literal["unlock", "schedule", "lock", "release"]
MAX_UNLOCK_S = 600.0
"""Longest unlock any command may ask for (a door may allow less): the one limit of the contract, the API
and the unlock command's args (broker.commands imports it from here: commands import events, which
import these schemas)."""
UnlockSeconds = Annotated[float, Field(gt=0, le=MAX_UNLOCK_S)]
"""How long a door is asked to stay unlocked, in seconds: more than 0, at most MAX_UNLOCK_S."""
MAX_UNLOCK_UNTIL_S = 12 * 3600.0
"""Furthest ahead an unlock-until may reach: one working day or one event, so a door a guard forgot
is locked again by the next shift at the latest (a door open for longer belongs in a schedule)."""


class CommandRequested(Data):
    """A station asks the central service to send a device a command; `command.sent` or a refusal answers."""

    device: Name
    command: CommandName
    by: Text
    seconds: UnlockSeconds | None = None
    note: Text | None = None


class CommandSent(Data):
    """The central service sent a device a command a person asked for (station or API), with its expiry."""

    device: Name
    command: CommandName
    command_id: Id
    by: Text
    origin: Text
    expires: datetime
    seconds: UnlockSeconds | None = None
    door: Name | None = None
    note: Text | None = None
    until: datetime | None = None
    """An unlock-until's end (aware)."""
    group: Name | None = None
    """The door group of a lockdown or release."""


class DeliveryReset(Data):
    """The central service saw a source start over: a new outbox (incarnation) counting its seq anew."""

    for_source: Text
    incarnation: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")]
    previous: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list, max_length=16)
    first_seq: int = Field(ge=1)


class ClockSkewed(Data):
    """A source's clock is further from the central service's than the allowed skew (kept, not trusted)."""

    for_source: Text
    skew_s: float
    device_time: datetime
    received_at: datetime


# alarms and incidents
class AlarmRaised(Data):
    """A rule raised an alarm."""

    alarm_id: Name
    rule: Name
    priority: Priority
    summary: Text
    cause: tuple[Id, ...] = Field(default=(), max_length=64)
    silent: bool = False


class AlarmAction(Data):
    """A person acknowledged, resolved or unshelved an alarm (`by` is `system` for an expired shelve)."""

    alarm_id: Name
    by: Text
    note: Text | None = None


class AlarmShelved(Data):
    """A person shelved an alarm until a time."""

    alarm_id: Name
    by: Text
    until: datetime
    note: Text | None = None


class AlarmEscalated(Data):
    """An alarm was not acknowledged in time and went to the next level's roles."""

    alarm_id: Name
    level: int = Field(ge=1, le=9)
    notify: tuple[Name, ...] = Field(default=(), max_length=16)


class AlarmRequested(Data):
    """A station asks the central service to act on an alarm; the service's `alarm.*` event is the answer."""

    alarm_id: Name
    action: Literal["acknowledge", "resolve", "shelve", "unshelve"]
    by: Text
    note: Text | None = None
    until: datetime | None = None


class IncidentOpened(Data):
    """An incident was opened from alarms or by hand."""

    incident_id: Name
    title: Text
    by: Text
    alarm_ids: tuple[Name, ...] = Field(default=(), max_length=256)
    category: Category = Category.OTHER


class IncidentNoted(Data):
    """A note was added to an incident."""

    incident_id: Name
    by: Text
    note: Annotated[str, Field(min_length=1, max_length=4000)]


class IncidentClosed(Data):
    """An incident was closed with an outcome."""

    incident_id: Name
    by: Text
    outcome: Text


# lending: the desk lends keys, cards, laptops and safety gear, due back at a time
class ItemKind(StrEnum):
    """What kind of thing the desk lent."""

    KEY = "key"
    ACCESS_CARD = "access_card"
    LAPTOP = "laptop"
    SAFETY_GEAR = "safety_gear"
    OTHER = "other"


class ItemLent(Data):
    """The desk lent an item to a visit or to a person (exactly one), due back at `due_at`."""

    item_id: Id
    item_kind: ItemKind
    description: Text
    visit_id: Id | None = None
    person_id: Id | None = None
    due_at: AwareDatetime
    by: Text
    note: Text | None = None

    @model_validator(mode="after")
    def _one_borrower(self) -> ItemLent:
        if (self.visit_id is None) == (self.person_id is None):
            raise ValueError("an item is lent to exactly one of visit_id and person_id")
        return self


class ItemReturned(Data):
    """A lent item came back to the desk (`condition`: how it came back; `missing`: reported lost)."""

    item_id: Id
    by: Text
    condition: Literal["ok", "damaged", "missing"] | None = None
    note: Text | None = None


SCHEMAS: dict[str, type[Data]] = {
    "visitor.invited": VisitorInvited,
    "visitor.checked_in": VisitorCheckedIn,
    "visitor.checked_out": VisitorCheckedOut,
    "visitor.screened": VisitorScreened,
    "visitor.photo": VisitorPhoto,
    "visitor.agreed": VisitorAgreed,
    "host.notified": HostNotified,
    "badge.printed": BadgePrinted,
    "badge.read": BadgeRead,
    "code.scanned": CodeScanned,
    "access.granted": AccessGranted,
    "access.denied": AccessDenied,
    "door.opened": DoorChange,
    "door.closed": DoorChange,
    "door.forced": DoorChange,
    "door.held_open": DoorChange,
    "camera.motion": CameraMotion,
    "camera.person": CameraPerson,
    "camera.tamper": CameraTamper,
    "camera.snapshot": CameraSnapshot,
    "device.fault": DeviceFault,
    "delivery.gap": DeliveryGap,
    "delivery.reset": DeliveryReset,
    "clock.skewed": ClockSkewed,
    "alarm.raised": AlarmRaised,
    "alarm.acknowledged": AlarmAction,
    "alarm.shelved": AlarmShelved,
    "alarm.resolved": AlarmAction,
    "alarm.unshelved": AlarmAction,
    "alarm.escalated": AlarmEscalated,
    "alarm.requested": AlarmRequested,
    "command.requested": CommandRequested,
    "command.sent": CommandSent,
    "incident.opened": IncidentOpened,
    "incident.noted": IncidentNoted,
    "incident.closed": IncidentClosed,
    "item.lent": ItemLent,
    "item.returned": ItemReturned,
}
"""Every event type of the contract and the model its `data` must satisfy."""


# guard tours: the service records each round (also how its tracker is rebuilt after a restart)
TourOutcome = Literal["on_time", "early", "late", "missed", "out_of_sequence"]
TourEnd = Literal["completed", "abandoned", "not_started"]


class TourStarted(Data):
    """A guard started a round of a tour by reading its first checkpoint (`slot`: the scheduled start)."""

    tour: Name
    run: Id
    at: datetime
    slot: datetime | None = None


class TourCheckpoint(Data):
    """A checkpoint of a running round was read (or, `missed`, not read by `latest`)."""

    tour: Name
    run: Id | None = None
    checkpoint: Name
    index: int = Field(ge=0, le=999)
    outcome: TourOutcome
    at: datetime
    earliest: datetime | None = None
    latest: datetime | None = None
    late_s: float | None = Field(default=None, ge=0)


class TourEnded(Data):
    """A round ended: every checkpoint read, given up (its time ran out), or a scheduled round never begun."""

    tour: Name
    run: Id | None = None
    outcome: TourEnd
    at: datetime
    reached: int = Field(ge=0, le=999)
    checkpoints: int = Field(ge=1, le=999)
    slot: datetime | None = None


TOUR_SCHEMAS: dict[str, type[Data]] = {
    "tour.started": TourStarted,
    "tour.checkpoint": TourCheckpoint,
    "tour.ended": TourEnded,
}
SCHEMAS.update(TOUR_SCHEMAS)


# visitor feedback: one touch at check-out (docs/kiosk.md)
Rating = Annotated[int, Field(ge=1, le=5)]
"""Five faces, 1 (very unhappy) to 5 (very happy): five read without words in any language, keep a middle
face for "fine", and are the usual satisfaction scale, so averages compare with other surveys."""


class VisitorFeedback(Data):
    """A leaving visitor rated the visit with one touch (five faces), optionally with a short comment."""

    visit_id: Id
    rating: Rating
    language: Language
    comment: Text | None = None


SCHEMAS["visitor.feedback"] = VisitorFeedback
