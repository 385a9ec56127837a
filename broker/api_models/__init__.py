"""Typed bodies of the central service's HTTP API, shared by the API and its clients (pure).

The service reads its requests (`requests.py`) and builds its answers (`responses.py`) from these
models, and a client (the kiosk) uses the same models, so neither guesses the other's key names.
`dump()` gives the JSON document exactly as it goes on the wire: every field, in order, null where
there is no value; times as ISO 8601 with their offset. `explain` words a refused body for a 400.
"""

from broker.api_models.base import Body, Time, dump_list, explain, read_list, words
from broker.api_models.requests import (
    ATTACHABLE,
    MAX_NOTE,
    MAX_SHELVE_MINUTES,
    MAX_YEAR,
    MIN_YEAR,
    REQUEST_BODIES,
    AlarmActionBody,
    DoorGroupDoors,
    IncidentAttachment,
    IncidentClosing,
    IncidentNote,
    NewCredential,
    NewIncident,
    NewInvitation,
    NewPerson,
    NewRight,
    NewWatchEntry,
    PersonFields,
    PersonUpdate,
    RequestBody,
    RightSchedule,
    UnlockRequest,
)
from broker.api_models.responses import (
    AlarmBody,
    AlarmStepBody,
    BadgesRevoked,
    CreatedInvitation,
    CredentialBody,
    DoorGroupBody,
    ErrorBody,
    HostEntry,
    ImportReportBody,
    ImportRowError,
    IncidentBody,
    IncidentItemBody,
    IncidentSummary,
    KioskInvitation,
    MusterEntry,
    MusterList,
    OnSiteEntry,
    PersonBody,
    PersonRemoved,
    ReturningVisitor,
    RightBody,
    RightRevoked,
    ScheduleBody,
    StaffInvitation,
    TokenBody,
    UnlockSent,
    UpcomingInvitation,
    VisitorDetailsBody,
    WatchlistEntryBody,
    WatchlistName,
)

__all__ = [
    "ATTACHABLE", "MAX_NOTE", "MAX_SHELVE_MINUTES", "MAX_YEAR", "MIN_YEAR", "REQUEST_BODIES",
    "AlarmActionBody", "AlarmBody", "AlarmStepBody", "BadgesRevoked", "Body", "CreatedInvitation",
    "CredentialBody", "DoorGroupBody", "DoorGroupDoors", "ErrorBody", "HostEntry", "ImportReportBody",
    "ImportRowError",
    "IncidentAttachment", "IncidentBody", "IncidentClosing", "IncidentItemBody", "IncidentNote",
    "IncidentSummary", "KioskInvitation", "MusterEntry", "MusterList", "NewCredential", "NewIncident",
    "NewInvitation", "NewPerson", "NewRight", "NewWatchEntry", "OnSiteEntry", "PersonBody", "PersonFields",
    "PersonRemoved", "PersonUpdate", "RequestBody", "ReturningVisitor", "RightBody", "RightRevoked",
    "RightSchedule", "ScheduleBody", "StaffInvitation", "Time", "TokenBody", "UnlockRequest",
    "UnlockSent", "UpcomingInvitation", "VisitorDetailsBody", "WatchlistEntryBody", "WatchlistName",
    "dump_list", "explain", "read_list", "words",
]
