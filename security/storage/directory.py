"""People, credentials, door groups and rights in the database, read as one `Directory` (and written)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from security.office.access import (
    AccessRight,
    Credential,
    CredentialFormat,
    Directory,
    DoorGroup,
    Person,
    PersonKind,
    WeeklySchedule,
)
from security.office.access.schedule import schedule_from_doc
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
    return schedule_from_doc(doc)


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


def add_to_directory(
    conn: Connection, now: datetime, *, people: Sequence[Person] = (), credentials: Sequence[Credential] = (),
    door_groups: Sequence[DoorGroup] = (), rights: Sequence[AccessRight] = (),
) -> None:
    """Insert people, badges, door groups and rights unchecked and unaudited (a bench), move the version."""
    if people:
        conn.execute(insert(PersonRow), [
            {"id": p.id, "name": p.name, "kind": str(p.kind), "groups": sorted(p.groups), "email": p.email,
             "created_at": now, "updated_at": now} for p in people])
    if credentials:
        conn.execute(insert(CredentialRow), [
            {"value": c.value, "format": str(c.format), "person_id": c.person_id,
             "valid_from": c.valid_from, "valid_until": c.valid_until, "revoked_at": c.revoked_at,
             "created_at": now} for c in credentials])
    if door_groups:
        conn.execute(insert(DoorGroupRow), [{"name": g.name, "doors": sorted(g.doors)} for g in door_groups])
    if rights:
        conn.execute(insert(AccessRightRow), [
            {"door_group": r.door_group, "person_id": r.person_id, "group": r.group,
             "schedule": schedule_to_json(r.schedule)} for r in rights])
    bump_version(conn, now)
