"""The notifications table as a durable queue: enqueue, read what is due, claim, mark, and purge.

Rows stay here: callers get `Notification` values. Every function takes the caller's connection,
so a notification is queued in the same transaction as what caused it (an alarm's escalation, a
check-in, an invitation).
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from security.storage import office_models  # noqa: F401  (registers the tables)
from security.storage.models import table

NOTIFICATIONS = table("notifications")
MAX_SUBJECT = 300
"""The subject column's width: a longer subject is cut to it."""
MAX_ERROR = 1000
"""How much of a delivery error is kept."""
DEDUP = "dedup"
"""The payload key of a notification queued at most once (`enqueue_once`)."""
MAX_DEDUP = 300


class Channel(StrEnum):
    """How a notification is delivered."""

    EMAIL = "email"
    WEBHOOK = "webhook"


class NotificationState(StrEnum):
    """Where a notification is: waiting (first try or retry), delivered, or given up."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


_DONE = (str(NotificationState.SENT), str(NotificationState.FAILED))


@dataclass(frozen=True, slots=True)
class Notification:
    """One stored notification."""

    id: int
    alarm_id: str | None
    channel: Channel
    target: str
    subject: str
    body: str
    payload: dict[str, Any]
    state: NotificationState
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    last_error: str | None


def _from_row(row: Any) -> Notification:
    return Notification(
        id=row.id, alarm_id=row.alarm_id, channel=Channel(row.channel), target=row.target,
        subject=row.subject, body=row.body, payload=dict(row.payload), state=NotificationState(row.state),
        attempts=row.attempts, created_at=row.created_at, next_attempt_at=row.next_attempt_at,
        sent_at=row.sent_at, last_error=row.last_error,
    )


def enqueue(
    conn: Connection,
    *,
    channel: Channel | str,
    target: str,
    subject: str,
    body: str,
    payload: Mapping[str, Any],
    now: datetime,
    alarm_id: str | None = None,
) -> int:
    """Add one pending notification, due at `now`, inside the caller's transaction; return its id."""
    kind = Channel(channel)
    if not target or len(target) > 500:
        raise ValueError(f"a notification target is 1 to 500 characters, not {len(target)}")
    values = {
        "alarm_id": alarm_id, "channel": str(kind), "target": target, "subject": subject[:MAX_SUBJECT],
        "body": body, "payload": dict(payload), "state": str(NotificationState.PENDING), "attempts": 0,
        "created_at": now, "next_attempt_at": now, "sent_at": None, "last_error": None,
    }
    new_id = conn.execute(insert(NOTIFICATIONS).values(values).returning(NOTIFICATIONS.c.id)).scalar_one()
    return int(new_id)


def enqueue_once(
    conn: Connection,
    *,
    dedup: str,
    channel: Channel | str,
    target: str,
    subject: str,
    body: str,
    payload: Mapping[str, Any],
    now: datetime,
) -> int | None:
    """Queue a notification unless one with the key `dedup` is stored (pending, sent or failed).

    Returns the new id, or None when the key was there. The key is kept in the payload; on
    PostgreSQL a transaction-scoped advisory lock on it makes two workers' checks take turns
    (SQLite's writers already do, in `writing`'s BEGIN IMMEDIATE). A key goes with its row,
    so when retention deletes a finished notification its key may be used again.
    """
    if not dedup or len(dedup) > MAX_DEDUP:
        raise ValueError(f"a dedup key is 1 to {MAX_DEDUP} characters")
    if conn.dialect.name == "postgresql":
        lock = int.from_bytes(hashlib.sha256(dedup.encode()).digest()[:8], "big", signed=True)
        conn.execute(select(func.pg_advisory_xact_lock(lock)))
    stored = NOTIFICATIONS.c.payload[DEDUP].as_string()
    if conn.execute(select(NOTIFICATIONS.c.id).where(stored == dedup).limit(1)).first() is not None:
        return None
    return enqueue(conn, channel=channel, target=target, subject=subject, body=body,
                   payload={**payload, DEDUP: dedup}, now=now)


def queued_once(conn: Connection, dedup: str) -> Notification | None:
    """The notification queued with the key `dedup`, if one is stored."""
    stored = NOTIFICATIONS.c.payload[DEDUP].as_string()
    row = conn.execute(select(NOTIFICATIONS).where(stored == dedup).order_by(NOTIFICATIONS.c.id)
                       .limit(1)).first()
    return None if row is None else _from_row(row)


def due(
    conn: Connection, now: datetime, limit: int = 100, ids: Collection[int] | None = None
) -> list[Notification]:
    """Pending notifications due at or before `now`, oldest due first (of `ids` only, if given)."""
    pending = NOTIFICATIONS.c.state == str(NotificationState.PENDING)
    query = (
        select(NOTIFICATIONS)
        .where(pending, NOTIFICATIONS.c.next_attempt_at <= now)
        .order_by(NOTIFICATIONS.c.next_attempt_at, NOTIFICATIONS.c.id)
        .limit(limit)
    )
    if ids is not None:
        query = query.where(NOTIFICATIONS.c.id.in_(list(ids)))
    return [_from_row(r) for r in conn.execute(query).all()]


def next_due(conn: Connection) -> datetime | None:
    """When the earliest pending notification is due, if any is pending."""
    query = (
        select(NOTIFICATIONS.c.next_attempt_at)
        .where(NOTIFICATIONS.c.state == str(NotificationState.PENDING))
        .order_by(NOTIFICATIONS.c.next_attempt_at)
        .limit(1)
    )
    value: datetime | None = conn.execute(query).scalar()
    return value


def claim(conn: Connection, notification: Notification, until: datetime) -> bool:
    """Take `notification` (as read by `due`) until `until`; False if another worker took it first.

    A worker that dies while sending leaves the row pending, due again at `until`: delivery is at
    least once, never silently dropped.
    """
    result = conn.execute(
        update(NOTIFICATIONS)
        .where(
            NOTIFICATIONS.c.id == notification.id,
            NOTIFICATIONS.c.state == str(NotificationState.PENDING),
            NOTIFICATIONS.c.next_attempt_at == notification.next_attempt_at,
        )
        .values(next_attempt_at=until)
    )
    return result.rowcount == 1


def mark_sent(conn: Connection, notification_id: int, now: datetime) -> None:
    """Record a successful try: the notification is sent."""
    conn.execute(
        update(NOTIFICATIONS).where(NOTIFICATIONS.c.id == notification_id).values(
            state=str(NotificationState.SENT), attempts=NOTIFICATIONS.c.attempts + 1, sent_at=now,
        )
    )


def mark_retry(conn: Connection, notification_id: int, error: str, next_at: datetime) -> None:
    """Record a failed try: keep it pending, due again at `next_at`."""
    conn.execute(
        update(NOTIFICATIONS).where(NOTIFICATIONS.c.id == notification_id).values(
            attempts=NOTIFICATIONS.c.attempts + 1, last_error=error[:MAX_ERROR], next_attempt_at=next_at,
        )
    )


def mark_failed(conn: Connection, notification_id: int, error: str) -> None:
    """Record the last failed try: the notification is given up (failed)."""
    conn.execute(
        update(NOTIFICATIONS).where(NOTIFICATIONS.c.id == notification_id).values(
            state=str(NotificationState.FAILED), attempts=NOTIFICATIONS.c.attempts + 1,
            last_error=error[:MAX_ERROR],
        )
    )


def list_notifications(
    conn: Connection, state: NotificationState | str | None = None, limit: int = 500
) -> list[Notification]:
    """Notifications newest first, all or only those in `state`."""
    query = select(NOTIFICATIONS).order_by(NOTIFICATIONS.c.id.desc()).limit(limit)
    if state is not None:
        query = query.where(NOTIFICATIONS.c.state == str(NotificationState(state)))
    return [_from_row(r) for r in conn.execute(query).all()]


def count_finished(conn: Connection, before: datetime) -> int:
    """How many sent or failed notifications were created before `before`."""
    query = select(func.count()).select_from(NOTIFICATIONS).where(
        NOTIFICATIONS.c.state.in_(_DONE), NOTIFICATIONS.c.created_at < before)
    return int(conn.execute(query).scalar_one())


def delete_finished(conn: Connection, before: datetime) -> int:
    """Delete sent or failed notifications created before `before` (pending ones stay); return how many."""
    stmt = delete(NOTIFICATIONS).where(NOTIFICATIONS.c.state.in_(_DONE), NOTIFICATIONS.c.created_at < before)
    return int(conn.execute(stmt).rowcount or 0)
