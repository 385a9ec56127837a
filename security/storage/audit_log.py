"""The audit chain in the database: appends serialised across processes, and reading it back for `verify`."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Select, Text, cast, insert, select, update

from security.office.audit import AuditRecord, ChainHead, SealedRecord, append_all, stored_details
from security.storage import office_models  # noqa: F401  (registers the tables)
from security.storage.models import table

AUDIT = table("audit_log")
HEAD = table("audit_head")


def append_audit(
    conn: Connection, records: Sequence[AuditRecord], *, key: bytes | None = None
) -> list[SealedRecord]:
    """Seal and store `records` after the chain's head, inside the caller's transaction.

    The head row is written first, which takes the write lock (a row lock on PostgreSQL, the
    database lock on SQLite) before it is read: two appenders never chain onto the same head.
    """
    if not records:
        return []
    lock_head(conn)
    seq, digest = conn.execute(select(HEAD.c.seq, HEAD.c.hash).where(HEAD.c.id == 1)).one()
    sealed = append_all(ChainHead(seq, digest), records, key=key)
    conn.execute(insert(AUDIT), [
        {"seq": s.seq, "time": s.time, "actor": s.actor, "action": s.action, "subject": s.subject,
         "details": dict(s.details), "prev_hash": s.prev_hash, "hash": s.hash}
        for s in sealed
    ])
    last = sealed[-1]
    conn.execute(update(HEAD).where(HEAD.c.id == 1).values(seq=last.seq, hash=last.hash))
    return sealed


def lock_head(conn: Connection) -> None:
    """Take the chain's write lock in the caller's transaction (a no-op write of the head row)."""
    conn.execute(update(HEAD).where(HEAD.c.id == 1).values(seq=HEAD.c.seq))


def chain_head(conn: Connection) -> ChainHead:
    """The head as the database says: the last sequence number and hash appended."""
    seq, digest = conn.execute(select(HEAD.c.seq, HEAD.c.hash).where(HEAD.c.id == 1)).one()
    return ChainHead(int(seq), str(digest))


def sealed_records() -> Select[Any]:
    """A SELECT of stored records whose details come as text: an edited one cannot stop the reading."""
    columns = [c for c in AUDIT.c if c.name != "details"]
    return select(*columns, cast(AUDIT.c.details, Text).label("details"))


def sealed_record(row: Row[Any]) -> SealedRecord:
    """A row of `sealed_records()`; details that are not a JSON object become UnreadableDetails."""
    return SealedRecord(row.seq, row.time, row.actor, row.action, row.subject, stored_details(row.details),
                        row.prev_hash, row.hash)


def read_chain(conn: Connection, *, batch: int = 5000) -> Iterator[SealedRecord]:
    """Every stored record in storage order (by primary key), streamed in batches."""
    after = -1
    while True:
        query = sealed_records().where(AUDIT.c.seq > after).order_by(AUDIT.c.seq).limit(batch)
        rows = conn.execute(query).all()
        for row in rows:
            yield sealed_record(row)
        if len(rows) < batch:
            return
        after = rows[-1].seq


def latest_records(conn: Connection, limit: int, since: datetime | None = None) -> list[SealedRecord]:
    """The last `limit` stored records (from `since` on, if given), oldest first."""
    query = sealed_records().order_by(AUDIT.c.seq.desc()).limit(limit)
    if since is not None:
        query = query.where(AUDIT.c.time >= since)
    return [sealed_record(r) for r in reversed(conn.execute(query).all())]
