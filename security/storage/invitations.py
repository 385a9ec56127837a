"""Invitations (visits announced ahead, checked in with a QR code) and the visit history kiosks look up.

Rows stay here: callers get `Invitation` values, employees as `Person`, past visits as `VisitRecord`.
Every function takes the caller's connection, so a change commits with the caller's audit record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from security.office.access import Person, PersonKind
from security.storage import office_models  # noqa: F401  (registers the tables)
from security.storage.directory import person_from_row
from security.storage.models import EventRow, table

INVITATIONS = table("invitations")
PEOPLE = table("people")


class InvitationError(ValueError):
    """An invitation that cannot be made or changed; the text says why."""


class InvitationNotFoundError(InvitationError):
    """No invitation has that visit id."""


class InvitationClosedError(InvitationError):
    """The invitation was already cancelled or used for a check-in."""


@dataclass(frozen=True, slots=True)
class Invitation:
    """One stored invitation; `code` is the whole QR text, `GH1:<visit_id>:<secret>`."""

    visit_id: str
    code: str
    visitor_name: str
    company: str | None
    email: str | None
    visitor_type: str
    host_id: str
    expected_at: datetime
    valid_until: datetime
    created_by: str
    created_at: datetime
    cancelled_at: datetime | None = None
    checked_in_at: datetime | None = None

    @property
    def state(self) -> str:
        """`cancelled`, `checked_in` or `open` (an open one may still have run out: see valid_until)."""
        if self.cancelled_at is not None:
            return "cancelled"
        if self.checked_in_at is not None:
            return "checked_in"
        return "open"


@dataclass(frozen=True, slots=True)
class VisitRecord:
    """One stored visitor event (such as `visitor.checked_in`): when, where, its type and raw data."""

    time: datetime
    device: str
    type: str
    data: dict[str, Any]


def _invitation(row: Any) -> Invitation:
    return Invitation(
        visit_id=row.visit_id, code=row.code, visitor_name=row.visitor_name, company=row.company,
        email=row.email, visitor_type=row.visitor_type, host_id=row.host_id, expected_at=row.expected_at,
        valid_until=row.valid_until, created_by=row.created_by, created_at=row.created_at,
        cancelled_at=row.cancelled_at, checked_in_at=row.checked_in_at,
    )


def add_invitation(conn: Connection, invitation: Invitation) -> None:
    """Store a new invitation; InvitationError when its visit id or code is taken."""
    taken = select(INVITATIONS.c.visit_id).where(
        (INVITATIONS.c.visit_id == invitation.visit_id) | (INVITATIONS.c.code == invitation.code))
    if conn.execute(taken).first() is not None:
        raise InvitationError(f"visit id {invitation.visit_id} or its code is already taken")
    conn.execute(insert(INVITATIONS).values(
        visit_id=invitation.visit_id, code=invitation.code, visitor_name=invitation.visitor_name,
        company=invitation.company, email=invitation.email, visitor_type=invitation.visitor_type,
        host_id=invitation.host_id, expected_at=invitation.expected_at, valid_until=invitation.valid_until,
        created_by=invitation.created_by, created_at=invitation.created_at, cancelled_at=None,
        checked_in_at=None,
    ))


def get_invitation(conn: Connection, visit_id: str) -> Invitation | None:
    """The invitation of `visit_id`, or None."""
    row = conn.execute(select(INVITATIONS).where(INVITATIONS.c.visit_id == visit_id)).one_or_none()
    return _invitation(row) if row is not None else None


def find_by_code(conn: Connection, code: str) -> Invitation | None:
    """The invitation whose QR text is `code` (in any state), or None."""
    if not code or len(code) > 128:
        return None
    row = conn.execute(select(INVITATIONS).where(INVITATIONS.c.code == code)).one_or_none()
    return _invitation(row) if row is not None else None


def cancel_invitation(conn: Connection, visit_id: str, at: datetime) -> Invitation:
    """Cancel an open invitation; InvitationNotFoundError or InvitationClosedError otherwise."""
    found = get_invitation(conn, visit_id)
    if found is None:
        raise InvitationNotFoundError(f"no invitation {visit_id}")
    if found.state != "open":
        raise InvitationClosedError(f"invitation {visit_id} is already {found.state.replace('_', ' ')}")
    conn.execute(update(INVITATIONS).where(INVITATIONS.c.visit_id == visit_id).values(cancelled_at=at))
    return get_invitation(conn, visit_id) or found


def mark_checked_in(conn: Connection, visit_id: str, at: datetime) -> bool:
    """Record the check-in of an open invitation; False when there is none or it was used already."""
    result = conn.execute(update(INVITATIONS).where(
        INVITATIONS.c.visit_id == visit_id, INVITATIONS.c.checked_in_at.is_(None),
        INVITATIONS.c.cancelled_at.is_(None)).values(checked_in_at=at))
    return bool(result.rowcount == 1)


def list_invitations(
    conn: Connection, *, expected_from: datetime | None = None, expected_before: datetime | None = None,
    valid_after: datetime | None = None, open_only: bool = False, limit: int = 500,
) -> list[Invitation]:
    """Invitations by expected time, within [expected_from, expected_before), valid past a time, open."""
    query = select(INVITATIONS).order_by(INVITATIONS.c.expected_at, INVITATIONS.c.visit_id).limit(limit)
    if expected_from is not None:
        query = query.where(INVITATIONS.c.expected_at >= expected_from)
    if expected_before is not None:
        query = query.where(INVITATIONS.c.expected_at < expected_before)
    if valid_after is not None:
        query = query.where(INVITATIONS.c.valid_until > valid_after)
    if open_only:
        query = query.where(INVITATIONS.c.cancelled_at.is_(None), INVITATIONS.c.checked_in_at.is_(None))
    return [_invitation(r) for r in conn.execute(query).all()]


def employees(conn: Connection) -> list[Person]:
    """Every employee (never a visitor), by name."""
    query = select(PEOPLE).where(PEOPLE.c.kind == str(PersonKind.EMPLOYEE)).order_by(PEOPLE.c.name,
                                                                                    PEOPLE.c.id)
    found: list[Any] = list(conn.execute(query).all())
    return [person_from_row(r) for r in found]


def employee(conn: Connection, person_id: str) -> Person | None:
    """The employee with this id, or None (also for a visitor's id)."""
    row: Any = conn.execute(select(PEOPLE).where(PEOPLE.c.id == person_id)).one_or_none()
    person = person_from_row(row) if row is not None else None
    return person if person is not None and person.kind is PersonKind.EMPLOYEE else None


def visit_records(
    conn: Connection, since: datetime, *, limit: int = 50_000, types: Sequence[str] = ("visitor.checked_in",),
) -> list[VisitRecord]:
    """Stored visitor events of `types` from `since`, newest first, read raw (no contract check)."""
    query = (select(EventRow.time, EventRow.device, EventRow.type, EventRow.data)
             .where(EventRow.type.in_(list(types)), EventRow.time >= since)
             .order_by(EventRow.time.desc(), EventRow.id.desc()).limit(limit))
    rows = conn.execute(query).all()
    return [VisitRecord(r.time, r.device, r.type, dict(r.data) if isinstance(r.data, dict) else {})
            for r in rows]
