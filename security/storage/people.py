"""People, credentials, door groups and rights: the write side, each change audited and versioned.

Every change runs in one transaction that first moves the directory version (which also takes the
write lock, so two writers never check and insert against the same state), then checks, writes
the rows and appends one audit record. Audit details never carry a full credential value.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, CursorResult, Engine, Executable, delete, insert, or_, select, update

from security.office.access import (
    AccessRight,
    Credential,
    CsvColumns,
    Person,
    PersonKind,
    RowError,
    parse_employees,
    wiegand_suffix,
)
from security.office.audit import AuditRecord
from security.storage.audit_log import append_audit
from security.storage.directory import (
    bump_version,
    credential_from_row,
    person_from_row,
    schedule_from_json,
    schedule_to_json,
)
from security.storage.models import table

PEOPLE = table("people")
CREDENTIALS = table("credentials")
DOOR_GROUPS = table("door_groups")
RIGHTS = table("access_rights")
_MAX_NAME = 64


class PeopleError(ValueError):
    """A change to people, credentials or rights that cannot be made; the text says why."""


class NotFoundError(PeopleError):
    """The person, credential, door group or right named does not exist."""


class DuplicateError(PeopleError):
    """The person or credential already exists (or a live badge is held by someone else)."""


@dataclass(frozen=True, slots=True)
class Change:
    """Who makes a change, when, and the site secret that seals its audit record (None: unkeyed)."""

    actor: str
    now: datetime
    audit_key: bytes | None = None


@dataclass(frozen=True, slots=True)
class PersonView:
    """A person with every credential they hold (live or not) and the rights given to them."""

    person: Person
    credentials: tuple[Credential, ...]
    rights: tuple[tuple[int, AccessRight], ...] = ()


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an employee CSV import did (or, on a dry run, would do)."""

    added: tuple[str, ...]
    updated: tuple[str, ...]
    credentials: int
    errors: tuple[RowError, ...]
    dry_run: bool


def mask(value: str) -> str:
    """A credential value safe for logs and the audit trail: only its last 4 digits."""
    return "*" * max(len(value) - 4, 0) + value[-4:]


@contextmanager
def _changing(engine: Engine, change: Change) -> Iterator[Connection]:
    """One transaction that starts by moving the directory version (taking the write lock)."""
    with engine.begin() as conn:
        bump_version(conn, change.now)
        yield conn


def record_change(
    conn: Connection, change: Change, action: str, subject: str, details: Mapping[str, Any]
) -> None:
    """Append one audit record for `change` inside its transaction."""
    record = AuditRecord(change.now, change.actor, action, subject, dict(details))
    append_audit(conn, [record], key=change.audit_key)


def rows(conn: Connection, query: Executable) -> list[Any]:
    """Every row of a query, typed loosely (Core rows have the ORM models' attribute names)."""
    return list(conn.execute(query).all())


def new_id(result: CursorResult[Any]) -> int:
    """The primary key an INSERT ... VALUES just made."""
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def _person_row(conn: Connection, person_id: str) -> Any:
    return conn.execute(select(PEOPLE).where(PEOPLE.c.id == person_id)).one_or_none()


def _require_person(conn: Connection, person_id: str) -> Person:
    row = _person_row(conn, person_id)
    if row is None:
        raise NotFoundError(f"no person {person_id!r}")
    return person_from_row(row)


def _person_values(person: Person) -> dict[str, Any]:
    return {"name": person.name, "kind": str(person.kind), "groups": sorted(person.groups),
            "email": person.email}


def _person_details(person: Person) -> dict[str, Any]:
    return {"name": person.name, "kind": str(person.kind), "groups": sorted(person.groups)}


def add_person(engine: Engine, person: Person, change: Change) -> None:
    """Add a new person; DuplicateError when the id is taken."""
    with _changing(engine, change) as conn:
        if _person_row(conn, person.id) is not None:
            raise DuplicateError(f"person {person.id!r} already exists")
        conn.execute(insert(PEOPLE), [{"id": person.id, **_person_values(person),
                                       "created_at": change.now, "updated_at": change.now}])
        record_change(conn, change, "person.added", f"person:{person.id}", _person_details(person))


def update_person(engine: Engine, person: Person, change: Change) -> None:
    """Replace an existing person's name, kind, groups and email; NotFoundError when there is none."""
    with _changing(engine, change) as conn:
        _require_person(conn, person.id)
        conn.execute(update(PEOPLE).where(PEOPLE.c.id == person.id)
                     .values(**_person_values(person), updated_at=change.now))
        record_change(conn, change, "person.updated", f"person:{person.id}", _person_details(person))


def remove_person(engine: Engine, person_id: str, change: Change) -> int:
    """Remove a person with their credentials and personal rights; return how many credentials went."""
    with _changing(engine, change) as conn:
        _require_person(conn, person_id)
        creds = conn.execute(delete(CREDENTIALS).where(CREDENTIALS.c.person_id == person_id)).rowcount
        rights = conn.execute(delete(RIGHTS).where(RIGHTS.c.person_id == person_id)).rowcount
        conn.execute(delete(PEOPLE).where(PEOPLE.c.id == person_id))
        record_change(conn, change, "person.removed", f"person:{person_id}",
                      {"credentials": creds, "rights": rights})
    return int(creds)


def _live(cred: Credential, now: datetime) -> bool:
    return not (cred.is_revoked(now) or cred.is_expired(now))


def _enrolled(conn: Connection, now: datetime, cred: Credential | None = None) -> dict[str, list[Credential]]:
    """Live stored credentials indexed by value and by Wiegand suffix (those near `cred`, or all)."""
    query = select(CREDENTIALS).where(
        or_(CREDENTIALS.c.revoked_at.is_(None), CREDENTIALS.c.revoked_at > now))
    if cred is not None:
        suffix = wiegand_suffix(cred.value, cred.format)
        keys = sorted({cred.value} | ({suffix} if suffix else set()))
        near = (CREDENTIALS.c.value.endswith(k) for k in keys)
        query = query.where(or_(CREDENTIALS.c.value.in_(keys), *near))
    index: dict[str, list[Credential]] = {}
    for other in (credential_from_row(r) for r in rows(conn, query)):
        if _live(other, now):
            for key in {other.value, wiegand_suffix(other.value, other.format)} - {None}:
                index.setdefault(str(key), []).append(other)
    return index


def _clash(cred: Credential, enrolled: Mapping[str, list[Credential]]) -> tuple[str, bool] | None:
    """Why `cred` cannot be enrolled next to the live stored ones, and whether its holder has it already."""
    suffix = wiegand_suffix(cred.value, cred.format)
    found = [*enrolled.get(cred.value, ()), *(enrolled.get(suffix, ()) if suffix else ())]
    for other in sorted(found, key=lambda c: c.value != cred.value):
        if other.value == cred.value:
            same = other.person_id == cred.person_id
            who = "this person" if same else f"person {other.person_id!r}"
            return f"badge {mask(cred.value)} is already held by {who}", same
        theirs = wiegand_suffix(other.value, other.format)
        if other.person_id != cred.person_id and suffix and theirs == suffix:
            return (f"badge {mask(cred.value)} shares its last 24 bits with a badge of person "
                    f"{other.person_id!r}: a Wiegand reader could not tell them apart"), False
    return None


def _credential_values(cred: Credential, now: datetime) -> dict[str, Any]:
    return {"value": cred.value, "format": str(cred.format), "person_id": cred.person_id,
            "valid_from": cred.valid_from, "valid_until": cred.valid_until,
            "revoked_at": cred.revoked_at, "created_at": now}


def _credential_details(cred: Credential) -> dict[str, Any]:
    return {"badge": mask(cred.value), "format": str(cred.format),
            "valid_from": cred.valid_from.isoformat() if cred.valid_from else None,
            "valid_until": cred.valid_until.isoformat() if cred.valid_until else None}


def add_credential(engine: Engine, cred: Credential, change: Change) -> None:
    """Enrol a badge (already normalised by `Credential`); DuplicateError when a live one has its value."""
    with _changing(engine, change) as conn:
        _require_person(conn, cred.person_id)
        clash = _clash(cred, _enrolled(conn, change.now, cred))
        if clash is not None:
            raise DuplicateError(clash[0])
        conn.execute(insert(CREDENTIALS), [_credential_values(cred, change.now)])
        record_change(conn, change, "credential.added", f"person:{cred.person_id}", _credential_details(cred))


def _canonical(value: str) -> str:
    text = value.strip().replace(" ", "").replace(":", "").upper()
    return text[2:] if text.startswith("0X") else text


def revoke_credentials(engine: Engine, person_id: str, change: Change, value: str | None = None) -> int:
    """Revoke one live badge of a person (by value) or all of them, from `change.now`; return how many."""
    with _changing(engine, change) as conn:
        _require_person(conn, person_id)
        live = [c for c in _credentials_of(conn, person_id) if not c.is_revoked(change.now)]
        if value is not None:
            live = [c for c in live if c.value == _canonical(value)]
            if not live:
                raise NotFoundError(f"person {person_id!r} holds no unrevoked badge {_canonical(value)}")
        values = sorted({c.value for c in live})
        if not values:
            raise NotFoundError(f"person {person_id!r} holds no unrevoked badge")
        conn.execute(update(CREDENTIALS).where(
            CREDENTIALS.c.person_id == person_id, CREDENTIALS.c.value.in_(values),
            or_(CREDENTIALS.c.revoked_at.is_(None), CREDENTIALS.c.revoked_at > change.now),
        ).values(revoked_at=change.now))
        record_change(conn, change, "credential.revoked", f"person:{person_id}",
                      {"badges": [mask(v) for v in values], "all": value is None})
    return len(live)


def _check_name(name: str, what: str) -> str:
    if not name or len(name) > _MAX_NAME or any(ch.isspace() for ch in name):
        raise PeopleError(f"a {what} name is 1-{_MAX_NAME} characters without spaces, got {name!r}")
    return name


def set_door_group(engine: Engine, name: str, doors: Sequence[str], change: Change) -> None:
    """Create or replace a door group with these doors."""
    _check_name(name, "door group")
    if not doors:
        raise PeopleError("a door group needs at least one door")
    for door in doors:
        _check_name(door, "door")
    with _changing(engine, change) as conn:
        conn.execute(delete(DOOR_GROUPS).where(DOOR_GROUPS.c.name == name))
        conn.execute(insert(DOOR_GROUPS), [{"name": name, "doors": sorted(set(doors))}])
        record_change(conn, change, "door_group.set", f"door_group:{name}", {"doors": sorted(set(doors))})


def grant_right(engine: Engine, right: AccessRight, change: Change) -> int:
    """Store an access right (its door group, and its person if it names one, must exist); return its id."""
    with _changing(engine, change) as conn:
        known = select(DOOR_GROUPS.c.name).where(DOOR_GROUPS.c.name == right.door_group)
        if conn.execute(known).first() is None:
            raise NotFoundError(f"no door group {right.door_group!r}")
        if right.person_id is not None:
            _require_person(conn, right.person_id)
        else:
            _check_name(right.group or "", "people group")
        doc = schedule_to_json(right.schedule)
        result = conn.execute(insert(RIGHTS).values(
            door_group=right.door_group, person_id=right.person_id, group=right.group, schedule=doc))
        right_id = new_id(result)
        subject = f"person:{right.person_id}" if right.person_id else f"group:{right.group}"
        record_change(conn, change, "right.granted", subject, {"id": right_id, "door_group": right.door_group,
                                                         "schedule": doc})
    return right_id


def revoke_right(engine: Engine, right_id: int, change: Change) -> None:
    """Delete one access right by id; NotFoundError when there is none."""
    with _changing(engine, change) as conn:
        row = conn.execute(select(RIGHTS).where(RIGHTS.c.id == right_id)).one_or_none()
        if row is None:
            raise NotFoundError(f"no access right {right_id}")
        conn.execute(delete(RIGHTS).where(RIGHTS.c.id == right_id))
        subject = f"person:{row.person_id}" if row.person_id else f"group:{row.group}"
        record_change(conn, change, "right.revoked", subject, {"id": right_id, "door_group": row.door_group})


def _credentials_of(conn: Connection, person_id: str) -> list[Credential]:
    query = select(CREDENTIALS).where(CREDENTIALS.c.person_id == person_id).order_by(CREDENTIALS.c.id)
    return [credential_from_row(r) for r in rows(conn, query)]


def _right(row: Any) -> tuple[int, AccessRight]:
    return int(row.id), AccessRight(row.door_group, schedule_from_json(row.schedule),
                                    person_id=row.person_id, group=row.group)


def list_rights(engine: Engine) -> list[tuple[int, AccessRight]]:
    """Every access right with its id, oldest first."""
    with engine.connect() as conn:
        return [_right(r) for r in conn.execute(select(RIGHTS).order_by(RIGHTS.c.id)).all()]


def list_door_groups(engine: Engine) -> dict[str, tuple[str, ...]]:
    """Every door group and its doors, by name."""
    with engine.connect() as conn:
        rows = conn.execute(select(DOOR_GROUPS).order_by(DOOR_GROUPS.c.name)).all()
    return {r.name: tuple(r.doors) for r in rows}


def list_people(engine: Engine) -> list[PersonView]:
    """Everyone with their credentials, by id (rights are left out; see `get_person`)."""
    with engine.connect() as conn:
        people = [person_from_row(r) for r in rows(conn, select(PEOPLE).order_by(PEOPLE.c.id))]
        creds: dict[str, list[Credential]] = {}
        for row in rows(conn, select(CREDENTIALS).order_by(CREDENTIALS.c.id)):
            creds.setdefault(row.person_id, []).append(credential_from_row(row))
    return [PersonView(p, tuple(creds.get(p.id, ()))) for p in people]


def get_person(engine: Engine, person_id: str) -> PersonView:
    """One person with their credentials and the rights that apply to them; NotFoundError when absent."""
    with engine.connect() as conn:
        person = _require_person(conn, person_id)
        creds = tuple(_credentials_of(conn, person_id))
        rights = [_right(r) for r in conn.execute(select(RIGHTS).order_by(RIGHTS.c.id)).all()]
    return PersonView(person, creds, tuple((i, r) for i, r in rights if r.applies_to(person)))


def _row_numbers(text: str, columns: CsvColumns) -> dict[str, int]:
    """The row number (header = 1) of each employee id's first row, numbered as `parse_employees` does."""
    found: dict[str, int] = {}
    try:
        for number, row in enumerate(csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline="")), 2):
            found.setdefault((row.get(columns.employee_id) or "").strip(), number)
    except csv.Error:
        pass  # parse_employees reports broken quoting itself
    return found


def import_employees(
    engine: Engine, text: str, change: Change, *, tz: str = "UTC", dry_run: bool = False,
    columns: CsvColumns | None = None,
) -> ImportReport:
    """Add or update the employees of a CSV file row by row: good rows go in, bad rows are reported.

    A row for an existing employee replaces their name, email and groups; its badge is enrolled
    unless they already hold it. A badge held by someone else, or a row for a visitor's id, is a
    row error. With `dry_run` every check runs and nothing is written.
    """
    cols = columns or CsvColumns()
    try:
        parsed = parse_employees(text, tz=tz, columns=cols)
    except (KeyError, ValueError) as exc:
        raise PeopleError(f"unknown time zone {tz!r}") from exc
    row_of = _row_numbers(text, cols)
    errors = list(parsed.errors)
    with engine.connect() as conn:  # commits only when rows are written; otherwise rolls back
        if not dry_run:
            bump_version(conn, change.now)
        existing = {p.id: p for p in map(person_from_row, rows(conn, select(PEOPLE)))}
        creds = {c.person_id: c for c in parsed.credentials}
        enrolled = _enrolled(conn, change.now)
        added: list[Person] = []
        updated: list[Person] = []
        enrol: list[Credential] = []
        for person in parsed.people:
            old, cred = existing.get(person.id), creds.get(person.id)
            reason = "is a visitor, not an employee" if old and old.kind is PersonKind.VISITOR else None
            clash = _clash(cred, enrolled) if cred is not None and reason is None else None
            if clash is not None and not clash[1]:
                reason = clash[0]
            if reason is not None:
                errors.append(RowError(row_of.get(person.id, 0), f"{person.id}: {reason}"))
                continue
            (updated if old else added).append(person)
            if cred is not None and clash is None:
                enrol.append(cred)
        if not dry_run and (added or updated or enrol):
            _write_import(conn, change, (added, updated, enrol), len(errors))
            conn.commit()
    return ImportReport(tuple(p.id for p in added), tuple(p.id for p in updated), len(enrol),
                        tuple(sorted(errors, key=lambda e: e.row)), dry_run)


def _write_import(
    conn: Connection, change: Change, accepted: tuple[list[Person], list[Person], list[Credential]],
    failed: int,
) -> None:
    """Write the accepted rows of an import (added, updated, badges) and its one audit record."""
    added, updated, enrol = accepted
    now = change.now
    if added:
        conn.execute(insert(PEOPLE), [{"id": p.id, **_person_values(p), "created_at": now,
                                       "updated_at": now} for p in added])
    for person in updated:
        conn.execute(update(PEOPLE).where(PEOPLE.c.id == person.id)
                     .values(**_person_values(person), updated_at=now))
    if enrol:
        conn.execute(insert(CREDENTIALS), [_credential_values(c, now) for c in enrol])
    record_change(conn, change, "people.imported", "people:csv", {
        "added": [p.id for p in added], "updated": [p.id for p in updated],
        "credentials": len(enrol), "rows_failed": failed})
