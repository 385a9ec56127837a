"""The back office's tables: people and credentials, alarms, incidents, the audit chain, notifications, loans.

Like `models`, rows stay inside the storage layer; the repositories turn them into the pure
types of `security.office.access`, `security.office.alarms` and `security.office.audit`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from security.storage.models import Base, BigId, JsonDoc, UTCDateTime


class PersonRow(Base):
    """An employee or a visitor known to the access decision."""

    __tablename__ = "people"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    groups: Mapped[list[str]] = mapped_column(JsonDoc)
    email: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CredentialRow(Base):
    """A badge of a person: canonical hex value, format, validity window and revocation."""

    __tablename__ = "credentials"
    __table_args__ = (Index("ix_credentials_value", "value"), Index("ix_credentials_person_id", "person_id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    value: Mapped[str] = mapped_column(String(64))
    format: Mapped[str] = mapped_column(String(16))
    person_id: Mapped[str] = mapped_column(String(64), ForeignKey("people.id", ondelete="CASCADE"))
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DoorGroupRow(Base):
    """A named set of doors that rights are given to."""

    __tablename__ = "door_groups"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    doors: Mapped[list[str]] = mapped_column(JsonDoc)


class AccessRightRow(Base):
    """A person or a people group may pass a door group's doors on a weekly schedule."""

    __tablename__ = "access_rights"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    door_group: Mapped[str] = mapped_column(String(64))
    person_id: Mapped[str | None] = mapped_column(String(64))
    group: Mapped[str | None] = mapped_column(String(64))
    schedule: Mapped[dict[str, Any]] = mapped_column(JsonDoc)


class DirectoryVersionRow(Base):
    """One row whose counter moves with every change of people, credentials or rights."""

    __tablename__ = "directory_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AlarmRow(Base):
    """One alarm's current state and history (open and closed)."""

    __tablename__ = "alarms"
    __table_args__ = (Index("ix_alarms_state", "state"), Index("ix_alarms_raised_at", "raised_at"))

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    number: Mapped[int] = mapped_column(BigInteger, unique=True)
    rule: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(300))
    priority: Mapped[str] = mapped_column(String(16))
    summary: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16))
    count: Mapped[int] = mapped_column(Integer)
    silent: Mapped[bool] = mapped_column(Boolean)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    shelved_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    before_shelve: Mapped[str | None] = mapped_column(String(16))
    escalation_level: Mapped[int] = mapped_column(Integer)
    cause: Mapped[list[str]] = mapped_column(JsonDoc)
    history: Mapped[list[dict[str, Any]]] = mapped_column(JsonDoc)


class IncidentRow(Base):
    """An incident: opened from alarms or by hand, closed with an outcome."""

    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_opened_at", "opened_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    number: Mapped[int] = mapped_column(BigInteger, unique=True)
    title: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(32), server_default="other")
    state: Mapped[str] = mapped_column(String(16))
    opened_by: Mapped[str] = mapped_column(String(200))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(200))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(200))


class IncidentItemRow(Base):
    """Something attached to an incident: an alarm, an event, a snapshot or a note."""

    __tablename__ = "incident_items"
    __table_args__ = (Index("ix_incident_items_incident_id", "incident_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    incident_id: Mapped[str] = mapped_column(String(64), ForeignKey("incidents.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    ref: Mapped[str | None] = mapped_column(String(300))
    note: Mapped[str | None] = mapped_column(Text)
    by: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditRow(Base):
    """One sealed record of the append-only, hash-chained audit log."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_time", "time"),)

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    time: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(300))
    details: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHeadRow(Base):
    """The chain head in one row: locked by every append, so appends from any process serialise."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class NotificationRow(Base):
    """One message to deliver (an escalation by email or webhook), kept until sent or given up."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_state_next_attempt_at", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    alarm_id: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class ApiTokenRow(Base):
    """A bearer token of the HTTP API: who it is, the role it acts with, and only its SHA-256."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class InvitationRow(Base):
    """A visit announced ahead by its host: the visitor checks in by showing its QR code."""

    __tablename__ = "invitations"
    __table_args__ = (Index("ix_invitations_expected_at", "expected_at"),)

    visit_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    code: Mapped[str] = mapped_column(String(128), unique=True)
    visitor_name: Mapped[str] = mapped_column(String(200))
    company: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    visitor_type: Mapped[str] = mapped_column(String(16))
    host_id: Mapped[str] = mapped_column(String(64))
    expected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WatchlistRow(Base):
    """A person the site wants to know about when they check in: a name, aliases and why."""

    __tablename__ = "watchlist"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    aliases: Mapped[list[str]] = mapped_column(JsonDoc)
    reason: Mapped[str | None] = mapped_column(String(500))
    added_by: Mapped[str] = mapped_column(String(200))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class UserRow(Base):
    """A person's account for the console: name, role, extra grants and only an Argon2id hash."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    grants: Mapped[list[str]] = mapped_column(JsonDoc)
    person_id: Mapped[str | None] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(512))
    disabled: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class UserSessionRow(Base):
    """A console session: only its token's SHA-256, its times, and the secret its CSRF tokens come from."""

    __tablename__ = "user_sessions"
    __table_args__ = (Index("ix_user_sessions_user_id", "user_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    csrf_secret: Mapped[str] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoanRow(Base):
    """One loan of an item by the desk: lent (from its `item.lent`) and, once back, returned."""

    __tablename__ = "loans"
    __table_args__ = (
        Index("ix_loans_item_id_lent_at", "item_id", "lent_at"),
        Index("ix_loans_visit_id", "visit_id"),
        Index("ix_loans_person_id", "person_id"),
        Index("ix_loans_returned_at_due_at", "returned_at", "due_at"),
    )

    loan_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    item_id: Mapped[str] = mapped_column(String(64))
    item_kind: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(String(200))
    visit_id: Mapped[str | None] = mapped_column(String(64))
    person_id: Mapped[str | None] = mapped_column(String(64))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lent_by: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(String(200))
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    returned_by: Mapped[str | None] = mapped_column(String(200))
    return_event_id: Mapped[str | None] = mapped_column(String(128))
    condition: Mapped[str | None] = mapped_column(String(16))
    return_note: Mapped[str | None] = mapped_column(String(200))
