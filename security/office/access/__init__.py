"""People, credentials, schedules and the access decision, plus the muster list and CSV import (pure)."""

from security.office.access.credentials import (
    CredentialFormat,
    normalise_hex,
    suffix_collisions,
    wiegand_suffix,
)
from security.office.access.csv_import import CsvColumns, ImportResult, RowError, parse_employees
from security.office.access.decision import (
    PRECEDENCE,
    AntiPassbackMode,
    AntiPassbackState,
    Decision,
    Direction,
    ReaderPoint,
    Unlock,
    decide,
    reader_map,
)
from security.office.access.model import (
    VISITORS_GROUP,
    AccessRight,
    Credential,
    Directory,
    DoorGroup,
    Match,
    Person,
    PersonKind,
    check_in,
    check_out,
    visitor_badge,
)
from security.office.access.onsite import OnSite, on_site, render_muster
from security.office.access.schedule import TimeWindow, WeeklySchedule

__all__ = [
    "PRECEDENCE",
    "VISITORS_GROUP",
    "AccessRight",
    "AntiPassbackMode",
    "AntiPassbackState",
    "Credential",
    "CredentialFormat",
    "CsvColumns",
    "Decision",
    "Direction",
    "Directory",
    "DoorGroup",
    "ImportResult",
    "Match",
    "OnSite",
    "Person",
    "PersonKind",
    "ReaderPoint",
    "RowError",
    "TimeWindow",
    "Unlock",
    "WeeklySchedule",
    "check_in",
    "check_out",
    "decide",
    "normalise_hex",
    "on_site",
    "parse_employees",
    "reader_map",
    "render_muster",
    "suffix_collisions",
    "visitor_badge",
    "wiegand_suffix",
]
