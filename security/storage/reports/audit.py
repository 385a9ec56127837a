"""The console's audit log: records of a range, filtered by actor and action, paged in SQL.

Rows are the chain's `SealedRecord` values as `audit_log` reads them (details that no longer
read as a JSON object come back as `UnreadableDetails`, so an edited row cannot stop the list).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection

from security.office.audit import SealedRecord
from security.storage.audit_log import AUDIT, sealed_record, sealed_records
from security.storage.reports.keyset import (
    DEFAULT_PAGE,
    Page,
    ReportError,
    TimeRange,
    fetch_page,
    scope_of,
    walk,
)

MAX_TEXT = 200


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """What the audit list is narrowed to: exactly this actor and this action; None means any."""

    actor: str | None = None
    action: str | None = None

    def __post_init__(self) -> None:
        """Refuse over-long texts."""
        for name in ("actor", "action"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or len(value) > MAX_TEXT):
                raise ReportError(f"{name}: at most {MAX_TEXT} characters")


def _where(time_range: TimeRange, filters: AuditFilter) -> list[ColumnElement[bool]]:
    found = [AUDIT.c.time >= time_range.start, AUDIT.c.time < time_range.end]
    if filters.actor is not None:
        found.append(AUDIT.c.actor == filters.actor)
    if filters.action is not None:
        found.append(AUDIT.c.action == filters.action)
    return found


def list_audit(
    conn: Connection, time_range: TimeRange, filters: AuditFilter = AuditFilter(), *,
    cursor: str | None = None, limit: int = DEFAULT_PAGE, key: bytes | None = None,
) -> Page[SealedRecord]:
    """One page of the audit records of the range, newest first (ties by sequence number)."""
    query = sealed_records().where(*_where(time_range, filters))
    rows, following = fetch_page(conn, query, (AUDIT.c.time, AUDIT.c.seq),
                                 scope=scope_of("audit", time_range, filters), cursor=cursor, limit=limit,
                                 key=key)
    return Page(tuple(sealed_record(r) for r in rows), following)


def iter_audit(
    conn: Connection, time_range: TimeRange, filters: AuditFilter = AuditFilter(), *, page: int = 500,
    key: bytes | None = None,
) -> Iterator[SealedRecord]:
    """Every record the list shows for these filters, walked page by page (for a streamed CSV)."""
    return walk(lambda cursor: list_audit(conn, time_range, filters, cursor=cursor, limit=page, key=key))
