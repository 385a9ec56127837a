"""The HTTP API's request bodies: what a client sends and the service reads, checked field by field (pure).

Strict, as anything from the edge: a field a model does not name is refused (`extra="forbid"`: a
misspelt `minute` is a 400, not a shelve with no time), a string is a string (no number taken for one),
a number is a finite number (no `true`), every string can be stored (no NUL, no lone surrogate), and
times are RFC 3339 with a zone (the contract's parser, `broker.events.parse_time`). An optional text
given as `""` counts as not given; a required one given as `""` or `null` is missing. What needs the
service's own knowledge (a person id's form, a badge format, a schedule's windows, an incident
title's length) is still checked where that knowledge lives.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    StrictInt,
    StringConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError

from broker.api_models.base import Body, Time
from broker.safe_text import text_fault
from broker.schemas import MAX_UNLOCK_S, VisitorType

MIN_YEAR, MAX_YEAR = 1970, 9000
"""Years a body's time may fall in: far enough from year 1 and 9999 that no computation overflows."""
MAX_SHELVE_MINUTES = 480.0
"""The longest shelve `minutes` may ask for: the alarm book's default limit, 8 h (a test holds them equal)."""
MAX_NOTE = 200
"""The longest note an unlock may carry."""


def _storable(text: str) -> str:
    """`text`, when a database can store it (no NUL, no lone surrogate)."""
    fault = text_fault(text)
    if fault is not None:
        raise ValueError(fault)
    return text


def _blank_is_none(value: object) -> object:
    """An optional field given as `""` counts as not given."""
    return None if value == "" else value


def _given(value: object) -> object:
    """A required text given as `""` or `null` is missing."""
    if value is None or value == "":
        raise PydanticCustomError("missing", "Field required")
    return value


def _filled(text: str) -> str:
    """A required text of white space only is missing too."""
    if not text.strip():
        raise PydanticCustomError("missing", "Field required")
    return text


def _in_years(moment: dt.datetime) -> dt.datetime:
    """A time from MIN_YEAR to MAX_YEAR."""
    if not MIN_YEAR <= moment.year <= MAX_YEAR:
        raise ValueError(f"a year from {MIN_YEAR} to {MAX_YEAR}, got {moment.isoformat()}")
    return moment


Text = Annotated[str, Strict(), AfterValidator(_storable)]
"""A string that can be stored."""
RequiredText = Annotated[str, BeforeValidator(_given), Strict(), AfterValidator(_storable)]
"""A string that must be given and not empty."""
FilledText = Annotated[str, BeforeValidator(_given), Strict(), AfterValidator(_storable),
                       AfterValidator(_filled)]
"""A string that must hold more than white space."""
OptionalText = Annotated[Text | None, BeforeValidator(_blank_is_none)]
"""A string that may be left out (or given as `""` or `null`)."""
Note = Annotated[
    Annotated[str, Strict(), StringConstraints(max_length=MAX_NOTE), AfterValidator(_storable)] | None,
    BeforeValidator(_blank_is_none),
]
"""A short optional note (at most MAX_NOTE characters)."""
Texts = list[Text]
"""A list of strings that can be stored."""
RequestTime = Annotated[Time, Strict(), AfterValidator(_in_years)]
"""An RFC 3339 time with a zone, from MIN_YEAR to MAX_YEAR, its offset kept."""
OptionalTime = Annotated[RequestTime | None, BeforeValidator(_blank_is_none)]
"""A time that may be left out."""
ShelveMinutes = Annotated[float, Strict(), Field(gt=0, le=MAX_SHELVE_MINUTES, allow_inf_nan=False)]
UnlockSeconds = Annotated[float, Strict(), Field(gt=0, le=MAX_UNLOCK_S, allow_inf_nan=False)]


class RequestBody(Body):
    """Base of every request body: a JSON object, immutable, and a field it does not name is refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _an_object(cls, data: Any) -> Any:
        """Only a JSON object (or the model itself) is a body, never another object's attributes."""
        if isinstance(data, dict | cls):
            return data
        raise PydanticCustomError("model_type", "must be a JSON object")


# people routes
class PersonFields(RequestBody):
    """A person's name, kind (`employee` or `visitor`), groups and e-mail."""

    name: FilledText
    kind: OptionalText = None
    groups: Texts = Field(default_factory=list)
    email: OptionalText = None


class NewPerson(PersonFields):
    """`POST /api/people`: a new person with their id."""

    id: RequiredText


class PersonUpdate(PersonFields):
    """`PUT /api/people/{id}`: a person's new details (an `id`, when given, must be the path's)."""

    id: OptionalText = None


class NewCredential(RequestBody):
    """`POST /api/people/{id}/credentials`: a badge's value and format, and when it is valid."""

    value: RequiredText
    format: RequiredText
    valid_from: OptionalTime = None
    valid_until: OptionalTime = None


class DoorGroupDoors(RequestBody):
    """`PUT /api/door-groups/{name}`: the doors of the group."""

    doors: Texts = Field(default_factory=list)


class RightSchedule(RequestBody):
    """A right's weekly schedule: a time zone, always, or windows of `[weekday, "HH:MM", "HH:MM"]`."""

    tz: Text = "UTC"
    always: StrictBool = False
    windows: list[tuple[StrictInt, Text, Text]] = Field(default_factory=list)


class NewRight(RequestBody):
    """`POST /api/rights`: a door group for one person or one group, on a schedule (default: always, UTC)."""

    door_group: RequiredText
    person_id: OptionalText = None
    group: OptionalText = None
    schedule: RightSchedule = RightSchedule(always=True)


# incident routes
class NewIncident(RequestBody):
    """`POST /api/incidents`: a title and the stored alarms and events it starts with."""

    title: FilledText
    alarm_ids: Texts = Field(default_factory=list)
    event_ids: Texts = Field(default_factory=list)


class IncidentNote(RequestBody):
    """`POST /api/incidents/{id}/notes`: a note on an open incident."""

    note: FilledText


ATTACHABLE = ("event_id", "alarm_id", "snapshot_event_id")
"""The fields of an attachment, of which exactly one is given."""


class IncidentAttachment(RequestBody):
    """`POST /api/incidents/{id}/attach`: exactly one of an event, an alarm or a snapshot event."""

    event_id: OptionalText = None
    alarm_id: OptionalText = None
    snapshot_event_id: OptionalText = None

    @model_validator(mode="after")
    def _one(self) -> IncidentAttachment:
        """Exactly one field is given."""
        self.given()
        return self

    def given(self) -> tuple[str, str]:
        """The one field given and its value; ValueError unless exactly one is."""
        given = [(name, value) for name in ATTACHABLE if (value := getattr(self, name)) is not None]
        if len(given) != 1 or not given[0][1].strip():
            raise ValueError(f"{'/'.join(ATTACHABLE)}: give exactly one")
        return given[0]


class IncidentClosing(RequestBody):
    """`POST /api/incidents/{id}/close`: how the incident ended."""

    outcome: FilledText


# operations routes
class AlarmActionBody(RequestBody):
    """`POST /api/alarms/{id}/{action}`: a note; to shelve, `until` or `minutes` as well."""

    note: OptionalText = None
    until: OptionalTime = None
    minutes: ShelveMinutes | None = None


class UnlockRequest(RequestBody):
    """`POST /api/doors/{device}/unlock`: for how long (absent: the default) or until when, and why."""

    seconds: UnlockSeconds | None = None
    until: OptionalTime = None
    note: Note = None

    @model_validator(mode="after")
    def _one_of(self) -> UnlockRequest:
        if self.seconds is not None and self.until is not None:
            raise PydanticCustomError("one_of", "give seconds or until, not both")
        return self


class DoorCommandNote(RequestBody):
    """`POST /api/doors/{device}/schedule`, `/api/door-groups/{name}/lockdown` and `/release`: why."""

    note: Note = None


# visitor routes
class NewInvitation(RequestBody):
    """`POST /api/invitations`: who comes to see whom, when, and whether to e-mail the invitation."""

    visitor_name: RequiredText
    host_id: RequiredText
    company: OptionalText = None
    email: OptionalText = None
    visitor_type: Annotated[VisitorType | None, BeforeValidator(_blank_is_none)] = None
    expected_at: OptionalTime = None
    valid_until: OptionalTime = None
    send_email: StrictBool = False


class NewWatchEntry(RequestBody):
    """`POST /api/watchlist`: a name to screen visitors against, its aliases and why."""

    name: RequiredText
    aliases: Texts = Field(default_factory=list)
    reason: OptionalText = None


REQUEST_BODIES: tuple[type[RequestBody], ...] = (
    NewPerson, PersonUpdate, NewCredential, DoorGroupDoors, NewRight, NewIncident, IncidentNote,
    IncidentAttachment, IncidentClosing, AlarmActionBody, UnlockRequest, NewInvitation, NewWatchEntry,
    DoorCommandNote,
)
"""Every request body, for the tests and the API's documentation."""

