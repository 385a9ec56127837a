"""People, credentials, door groups and rights in the database, read as one `Directory` (and written)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time
from typing import Any

from sqlalchemy import Connection, select, update

from security.office.access import (
    AccessRight,
    Credential,
    CredentialFormat,
    Directory,
    DoorGroup,
    Person,
    PersonKind,
    TimeWindow,
    WeeklySchedule,
)
from security.storage.office_models import (
    AccessRightRow,
    CredentialRow,
    DirectoryVersionRow,
    DoorGroupRow,
    PersonRow,
)


def schedule_to_json(schedule: WeeklySchedule) -> dict[str, Any]:
    """A schedule as stored: `{"tz", "always", "windows": [[weekday, "HH:MM", "HH:MM"], ...]}`."""
    return {
        "tz": schedule.tz,
        "always": schedule.always,
        "windows": [[w.weekday, f"{w.start:%H:%M}", f"{w.end:%H:%M}"] for w in schedule.windows],
    }


def schedule_from_json(doc: dict[str, Any]) -> WeeklySchedule:
    """The schedule stored as `doc` (see `schedule_to_json`)."""
    windows = tuple(
        TimeWindow(int(day), time.fromisoformat(start), time.fromisoformat(end))
        for day, start, end in doc.get("windows", ())
    )
    return WeeklySchedule(tz=str(doc.get("tz", "UTC")), windows=windows, always=bool(doc.get("always")))


def person_from_row(row: PersonRow) -> Person:
    """The person a row holds."""
    return Person(id=row.id, name=row.name, kind=PersonKind(row.kind), groups=frozenset(row.groups),
                  email=row.email)


def credential_from_row(row: CredentialRow) -> Credential:
    """The credential a row holds."""
    return Credential(row.value, CredentialFormat(row.format), row.person_id, row.valid_from,
                      row.valid_until, row.revoked_at)


def load_directory(conn: Connection) -> Directory:
    """Everyone, every credential, door group and right, as the access decision's directory."""
    people = tuple(person_from_row(r) for r in _rows(conn, PersonRow))
    credentials = tuple(credential_from_row(r) for r in _rows(conn, CredentialRow))
    groups = tuple(DoorGroup(r.name, frozenset(r.doors)) for r in _rows(conn, DoorGroupRow))
    rights = tuple(
        AccessRight(r.door_group, schedule_from_json(r.schedule), person_id=r.person_id, group=r.group)
        for r in _rows(conn, AccessRightRow)
    )
    return Directory(people, credentials, groups, rights)


def _rows(conn: Connection, model: Any) -> Iterable[Any]:
    """Every row of one table as ORM-like objects (Core rows have the same attribute names)."""
    return conn.execute(select(model.__table__)).all()


def directory_version(conn: Connection) -> int:
    """The counter that moves with every change of the directory."""
    query = select(DirectoryVersionRow.version).where(DirectoryVersionRow.id == 1)
    return int(conn.execute(query).scalar_one())


def bump_version(conn: Connection, now: datetime) -> None:
    """Tell the central service the directory changed; call inside the change's transaction."""
    conn.execute(
        update(DirectoryVersionRow).where(DirectoryVersionRow.id == 1)
        .values(version=DirectoryVersionRow.version + 1, changed_at=now)
    )
