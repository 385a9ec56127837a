"""People's accounts and console sessions: every change to an account audited, sessions revoked with it.

Rows go in and out as the typed records below (role and grants as the text `security.accounts`
checked before calling). Password hashes leave only through `login_secret`, for the login check.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, or_, select, update

from security.storage.audit_log import lock_head
from security.storage.engine import writing
from security.storage.models import table
from security.storage.people import (
    PEOPLE,
    Change,
    DuplicateError,
    NotFoundError,
    PeopleError,
    new_id,
    record_change,
)

USERS = table("users")
SESSIONS = table("user_sessions")


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A stored account, without its password hash."""

    id: int
    name: str
    role: str
    grants: tuple[str, ...]
    person_id: str | None
    disabled: bool
    created_at: datetime
    updated_at: datetime
    password_changed_at: datetime
    last_login_at: datetime | None


@dataclass(frozen=True, slots=True)
class NewUser:
    """An account to add: its name, role, grants and directory person, and the hash of its password."""

    name: str
    role: str
    grants: tuple[str, ...]
    person_id: str | None
    password_hash: str


@dataclass(frozen=True, slots=True)
class SessionValues:
    """A session to store: its token's hash, CSRF secret, times and where the login came from."""

    token_hash: str
    csrf_secret: str
    source: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A stored session with its account."""

    id: int
    user: UserRecord
    source: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    csrf_secret: str
    revoked_at: datetime | None


def _user(row: Any) -> UserRecord:
    return UserRecord(int(row.id), row.name, row.role, tuple(sorted(row.grants or ())), row.person_id,
                      bool(row.disabled), row.created_at, row.updated_at, row.password_changed_at,
                      row.last_login_at)


def _user_row(conn: Connection, name: str) -> Any:
    row = conn.execute(select(USERS).where(USERS.c.name == name)).one_or_none()
    if row is None:
        raise NotFoundError(f"no user {name!r}")
    return row


def _revoke_sessions(conn: Connection, user_id: int, now: datetime) -> int:
    """Revoke every session of a user still open at `now`; how many were live."""
    result = conn.execute(update(SESSIONS).where(
        SESSIONS.c.user_id == user_id, SESSIONS.c.revoked_at.is_(None), SESSIONS.c.expires_at > now,
    ).values(revoked_at=now))
    return int(result.rowcount)


def add_user(engine: Engine, new: NewUser, change: Change) -> UserRecord:
    """Store a new account; DuplicateError when the name is taken."""
    with writing(engine) as conn:
        lock_head(conn)  # the audit chain's lock first: two adds of one name never both pass the check
        if conn.execute(select(USERS.c.id).where(USERS.c.name == new.name)).first() is not None:
            raise DuplicateError(f"user {new.name!r} already exists")
        if new.person_id is not None and conn.execute(
                select(PEOPLE.c.id).where(PEOPLE.c.id == new.person_id)).first() is None:
            raise NotFoundError(f"no person {new.person_id!r} in the directory")
        result = conn.execute(insert(USERS).values(
            name=new.name, role=new.role, grants=sorted(new.grants), person_id=new.person_id,
            password_hash=new.password_hash, disabled=False, created_at=change.now, updated_at=change.now,
            password_changed_at=change.now, last_login_at=None))
        user_id = new_id(result)
        record_change(conn, change, "user.added", f"user:{new.name}",
                      {"role": new.role, "grants": sorted(new.grants), "person_id": new.person_id})
        return _user(conn.execute(select(USERS).where(USERS.c.id == user_id)).one())


def get_user(engine: Engine, name: str) -> UserRecord:
    """One account by name; NotFoundError when there is none."""
    with engine.connect() as conn:
        return _user(_user_row(conn, name))


def list_users(engine: Engine) -> list[UserRecord]:
    """Every account, by name."""
    with engine.connect() as conn:
        return [_user(r) for r in conn.execute(select(USERS).order_by(USERS.c.name)).all()]


def set_disabled(engine: Engine, name: str, disabled: bool, change: Change) -> int:
    """Disable (ending its sessions) or enable an account; return how many live sessions were ended."""
    with writing(engine) as conn:
        row = _user_row(conn, name)
        if bool(row.disabled) == disabled:
            raise PeopleError(f"user {name!r} is already {'disabled' if disabled else 'enabled'}")
        conn.execute(update(USERS).where(USERS.c.id == row.id)
                     .values(disabled=disabled, updated_at=change.now))
        ended = _revoke_sessions(conn, row.id, change.now) if disabled else 0
        action = "user.disabled" if disabled else "user.enabled"
        record_change(conn, change, action, f"user:{name}", {"sessions_ended": ended} if disabled else {})
    return ended


def set_password(engine: Engine, name: str, password_hash: str, change: Change) -> int:
    """Replace an account's password (a reset) and end its sessions; return how many were live."""
    with writing(engine) as conn:
        row = _user_row(conn, name)
        conn.execute(update(USERS).where(USERS.c.id == row.id).values(
            password_hash=password_hash, password_changed_at=change.now, updated_at=change.now))
        ended = _revoke_sessions(conn, row.id, change.now)
        record_change(conn, change, "user.password_reset", f"user:{name}", {"sessions_ended": ended})
    return ended


def set_role(engine: Engine, name: str, role: str, grants: Sequence[str], change: Change) -> int:
    """Change an account's role and grants and end its sessions; return how many were live."""
    with writing(engine) as conn:
        row = _user_row(conn, name)
        before = (row.role, sorted(row.grants or ()))
        if before == (role, sorted(grants)):
            raise PeopleError(f"user {name!r} already has role {role} with grants {sorted(grants) or 'none'}")
        conn.execute(update(USERS).where(USERS.c.id == row.id).values(
            role=role, grants=sorted(grants), updated_at=change.now))
        ended = _revoke_sessions(conn, row.id, change.now)
        record_change(conn, change, "user.role_changed", f"user:{name}", {
            "role": role, "grants": sorted(grants), "was_role": before[0], "was_grants": before[1],
            "sessions_ended": ended})
    return ended


def login_secret(engine: Engine, name: str) -> tuple[UserRecord, str] | None:
    """An account and its password hash, for checking a login; None when there is no such name."""
    with engine.connect() as conn:
        row = conn.execute(select(USERS).where(USERS.c.name == name)).one_or_none()
    return None if row is None else (_user(row), str(row.password_hash))


def start_session(
    engine: Engine, user_id: int, values: SessionValues, change: Change, *, rehash: str | None = None,
) -> int:
    """Store a new session after a good login, note the login (and a fresh hash), audit it; its id."""
    with writing(engine) as conn:
        row = conn.execute(select(USERS).where(USERS.c.id == user_id)).one_or_none()
        if row is None or row.disabled:
            raise NotFoundError(f"no enabled user with id {user_id}")
        changes: dict[str, Any] = {"last_login_at": change.now}
        if rehash is not None:
            changes["password_hash"] = rehash
        conn.execute(update(USERS).where(USERS.c.id == user_id).values(**changes))
        conn.execute(delete(SESSIONS).where(  # the account's ended sessions go: the audit trail keeps them
            SESSIONS.c.user_id == user_id,
            or_(SESSIONS.c.expires_at <= change.now, SESSIONS.c.revoked_at <= change.now)))
        result = conn.execute(insert(SESSIONS).values(
            token_hash=values.token_hash, user_id=user_id, source=values.source[:100],
            created_at=values.created_at, last_seen_at=values.created_at, expires_at=values.expires_at,
            csrf_secret=values.csrf_secret, revoked_at=None))
        session_id = new_id(result)
        record_change(conn, change, "login.succeeded", f"user:{row.name}", {
            "source": values.source[:100], "session": session_id, "rehashed": rehash is not None})
    return session_id


def find_session(engine: Engine, token_hash: str) -> SessionRecord | None:
    """The session stored under `token_hash`, with its account; None when there is none."""
    with engine.connect() as conn:
        row = conn.execute(select(SESSIONS).where(SESSIONS.c.token_hash == token_hash)).one_or_none()
        if row is None:
            return None
        user = _user(conn.execute(select(USERS).where(USERS.c.id == row.user_id)).one())
    return SessionRecord(int(row.id), user, row.source, row.created_at, row.last_seen_at, row.expires_at,
                         row.csrf_secret, row.revoked_at)


def touch_session(engine: Engine, session_id: int, now: datetime) -> None:
    """Note a request in a session at `now` (its idle timeout starts again)."""
    with engine.begin() as conn:
        conn.execute(update(SESSIONS).where(SESSIONS.c.id == session_id, SESSIONS.c.last_seen_at < now)
                     .values(last_seen_at=now))


def end_session(engine: Engine, session_id: int, change: Change, subject: str) -> bool:
    """Revoke one session (a logout) and audit it; whether it was still open."""
    with writing(engine) as conn:
        result = conn.execute(update(SESSIONS).where(
            SESSIONS.c.id == session_id, SESSIONS.c.revoked_at.is_(None)).values(revoked_at=change.now))
        ended = bool(result.rowcount)
        if ended:
            record_change(conn, change, "logout", subject, {"session": session_id})
    return ended


def audit(engine: Engine, change: Change, action: str, subject: str, details: Mapping[str, Any]) -> None:
    """Append one audit record in a transaction of its own (a failed login, a view, an export)."""
    with writing(engine) as conn:
        record_change(conn, change, action, subject, details)
