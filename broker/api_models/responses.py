"""The HTTP API's answers: what the service sends and its clients (the kiosk) read (pure)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field, StrictInt

from broker.api_models.base import Body, Time
from broker.schemas import VisitorType


class ErrorBody(Body):
    """Every error answer: what is wrong; a field of the body or query is named first (`title: required`)."""

    error: str


# kiosk routes (GET /api/kiosk/...)
class HostEntry(Body):
    """An employee a visitor may visit (`/api/kiosk/hosts?q=`, `/api/kiosk/hosts/all`)."""

    id: str
    name: str


class KioskInvitation(Body):
    """The invitation a kiosk scanned (`/api/kiosk/invitations/{code}`), while it is usable."""

    visit_id: str
    visitor_name: str
    company: str | None
    email: str | None
    visitor_type: VisitorType
    host_id: str
    host_name: str | None
    expected_at: Time
    valid_from: Time
    valid_until: Time


class UpcomingInvitation(Body):
    """An open invitation for a kiosk's offline cache (`/api/kiosk/invitations?upcoming_h=`).

    Every kiosk token may list these: no code (only its SHA-256 in hex), no e-mail, the name and company
    masked; the full name and company are `sealed` under the code (broker.seal).
    """

    visit_id: str
    visitor_name: str
    company: str | None
    visitor_type: VisitorType
    host_id: str
    host_name: str | None
    expected_at: Time
    valid_from: Time
    valid_until: Time
    code_sha256: Annotated[str, Field(pattern=r"^[0-9a-fA-F]{64}$")]
    sealed: str | None = None


class ReturningVisitor(Body):
    """A past visitor found by name or e-mail, masked, with a single-use `token` for their details."""

    token: str
    name: str
    company: str | None
    last_visit: dt.date


class VisitorDetailsBody(Body):
    """The details behind a returning visitor's token (`/api/kiosk/visitors/{token}`), given once."""

    visitor_name: str
    company: str | None
    visitor_type: VisitorType | None
    language: str | None
    last_visit: dt.date


class OnSiteEntry(Body):
    """A visitor on site, masked (`/api/kiosk/onsite?q=`, `/api/kiosk/onsite-badge/{badge}`)."""

    visit_id: str
    name: str
    company: str | None
    since: Time | None


class WatchlistName(Body):
    """An active watchlist entry as a kiosk screens with it (`/api/kiosk/watchlist`): no reason, no author."""

    id: StrictInt | str
    name: str
    aliases: list[str] = Field(default_factory=list)


class WatchlistEntryBody(WatchlistName):
    """A watchlist entry as staff see it (`/api/watchlist`)."""

    reason: str | None
    added_by: str
    added_at: Time
    removed_at: Time | None


# staff routes
class StaffInvitation(Body):
    """An invitation as guards and managers see it, with its code and state (`/api/invitations`)."""

    visit_id: str
    code: str
    visitor_name: str
    company: str | None
    email: str | None
    visitor_type: str
    host_id: str
    host_name: str | None
    expected_at: Time
    valid_from: Time
    valid_until: Time
    state: str
    created_by: str
    created_at: Time
    cancelled_at: Time | None
    checked_in_at: Time | None


class CreatedInvitation(StaffInvitation):
    """The answer to `POST /api/invitations`: the invitation, where its QR is, whether it was e-mailed."""

    qr_png: str
    emailed: bool


class UnlockSent(Body):
    """The answer to an unlock the service sent (202): to which device and door, until when, by whom."""

    device: str
    command: str
    command_id: str
    seconds: float | None
    door: str | None
    expires: Time
    by: str
    until: Time | None = None
    """An unlock-until's end."""


class DoorGroupSent(Body):
    """The answer to a door group's lockdown or release (202): the command each door device was sent."""

    group: str
    command: str
    by: str
    doors: list[UnlockSent]


class AlarmStepBody(Body):
    """One transition in an alarm's history."""

    action: str
    by: str
    at: Time
    note: str | None


class AlarmBody(Body):
    """An alarm's state and history (`/api/alarms`)."""

    id: str
    rule: str
    key: str
    priority: str
    summary: str
    state: str
    count: int
    silent: bool
    raised_at: Time
    last_seen: Time | None
    shelved_until: Time | None
    escalation_level: int
    cause: list[str]
    history: list[AlarmStepBody]
    normal: bool = False
    """Its condition returned to normal while it waits for acknowledgement (ISA-18.2)."""


class IncidentItemBody(Body):
    """One incident item: an alarm, event or snapshot (`ref`; a snapshot's path in `note`) or a note."""

    kind: str
    ref: str | None
    note: str | None
    by: str
    at: Time


class IncidentSummary(Body):
    """An incident with its item count (`GET /api/incidents`)."""

    id: str
    number: int
    title: str
    state: str
    opened_by: str
    opened_at: Time
    closed_by: str | None
    closed_at: Time | None
    outcome: str | None
    item_count: int


class IncidentBody(IncidentSummary):
    """An incident with its items in time order (`/api/incidents/{id}`)."""

    items: list[IncidentItemBody]


class MusterEntry(Body):
    """One person on the muster list."""

    person_id: str
    name: str
    kind: str
    since: Time | None
    last_door: str | None
    company: str | None
    host: str | None


class MusterList(Body):
    """`GET /api/onsite`: who is on site now, visitors first."""

    site: str
    as_of: Time | None
    count: int
    people: list[MusterEntry]


class TokenBody(Body):
    """A stored token without its secret."""

    id: int
    name: str
    role: str
    created_at: Time | None
    revoked_at: Time | None


class CredentialBody(Body):
    """A badge; its `value` masked to the last 4 digits unless values were asked for."""

    value: str
    format: str
    valid_from: Time | None
    valid_until: Time | None
    revoked_at: Time | None
    state: Literal["valid", "revoked", "expired", "not_yet_valid"]


class ScheduleBody(Body):
    """A weekly schedule: a time zone, always, or windows of `[weekday, "HH:MM", "HH:MM"]`."""

    tz: str
    always: bool
    windows: list[tuple[int, str, str]]


class RightBody(Body):
    """An access right with its id: a door group for one person or one group, on a schedule."""

    id: int
    door_group: str
    person_id: str | None
    group: str | None
    schedule: ScheduleBody


class PersonBody(Body):
    """A person with their badges and rights (`/api/people`)."""

    id: str
    name: str
    kind: str
    groups: list[str]
    email: str | None
    credentials: list[CredentialBody]
    rights: list[RightBody]


class ImportRowError(Body):
    """Why one CSV row was skipped."""

    row: int
    reason: str


class ImportReportBody(Body):
    """What a CSV import did (or, on a dry run, would do), with each failed row."""

    dry_run: bool
    added: list[str]
    updated: list[str]
    credentials: int
    errors: list[ImportRowError]


class PersonRemoved(Body):
    """`DELETE /api/people/{id}`: who was removed, and how many of their badges with them."""

    removed: str
    credentials: int


class BadgesRevoked(Body):
    """`DELETE /api/people/{id}/credentials[/{value}]`: how many of a person's badges were revoked."""

    person_id: str
    revoked: int


class DoorGroupBody(Body):
    """`PUT /api/door-groups/{name}`: the door group and its doors."""

    name: str
    doors: list[str]


class RightRevoked(Body):
    """`DELETE /api/rights/{id}`: the right revoked."""

    revoked: int
