"""API bearer tokens: shown once when created, stored only as SHA-256, checked on every request."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Engine, insert, select, update

from security.storage.engine import writing
from security.storage.models import table
from security.storage.people import Change, DuplicateError, NotFoundError, PeopleError, new_id, record_change

TOKENS = table("api_tokens")
ROLES = ("kiosk", "guard", "manager", "admin")
"""Roles from least to most allowed: each may do everything the ones before it may."""
PREFIX = "gh_"


class Caller(NamedTuple):
    """Who a valid token speaks for: its name and role."""

    name: str
    role: str


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A stored token without its secret."""

    id: int
    name: str
    role: str
    created_at: datetime
    revoked_at: datetime | None


def token_hash(token: str) -> str:
    """The hex SHA-256 stored for a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(engine: Engine, name: str, role: str, change: Change) -> tuple[TokenInfo, str]:
    """Create a token for `name` acting as `role`; return it and its text, which is never stored."""
    name = name.strip()
    if not name or len(name) > 100:
        raise PeopleError("a token name is 1-100 characters")
    if role not in ROLES:
        raise PeopleError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    text = PREFIX + secrets.token_urlsafe(32)
    with writing(engine) as conn:
        live = select(TOKENS.c.id).where(TOKENS.c.name == name, TOKENS.c.revoked_at.is_(None))
        if conn.execute(live).first() is not None:
            raise DuplicateError(f"a live token named {name!r} exists; revoke it first")
        result = conn.execute(insert(TOKENS).values(
            name=name, role=role, token_hash=token_hash(text), created_at=change.now, revoked_at=None))
        token_id = new_id(result)
        details = {"name": name, "role": role}
        record_change(conn, change, "api_token.created", f"api_token:{token_id}", details)
    return TokenInfo(token_id, name, role, change.now, None), text


def verify_token(engine: Engine, token: str) -> Caller | None:
    """The name and role of a live token, or None when it is unknown or revoked."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    query = select(TOKENS.c.name, TOKENS.c.role).where(
        TOKENS.c.token_hash == token_hash(token), TOKENS.c.revoked_at.is_(None))
    with engine.connect() as conn:
        row = conn.execute(query).first()
    return Caller(str(row.name), str(row.role)) if row is not None else None


def revoke_token(engine: Engine, token_id: int, change: Change) -> TokenInfo:
    """Revoke a token by id from `change.now`; NotFoundError when there is no live token with that id."""
    with writing(engine) as conn:
        row = conn.execute(select(TOKENS).where(TOKENS.c.id == token_id)).one_or_none()
        if row is None or row.revoked_at is not None:
            raise NotFoundError(f"no live API token {token_id}")
        conn.execute(update(TOKENS).where(TOKENS.c.id == token_id).values(revoked_at=change.now))
        record_change(conn, change, "api_token.revoked", f"api_token:{token_id}", {"name": row.name})
    return TokenInfo(int(row.id), row.name, row.role, row.created_at, change.now)


def list_tokens(engine: Engine) -> list[TokenInfo]:
    """Every token, live and revoked, oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(select(TOKENS).order_by(TOKENS.c.id)).all()
    return [TokenInfo(int(r.id), r.name, r.role, r.created_at, r.revoked_at) for r in rows]
