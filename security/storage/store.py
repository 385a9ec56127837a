"""The central event log: idempotent batched storage of events and the queries around it."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

from sqlalchemy import Engine, Table, exists, func, insert, literal, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from broker.config import redact_db
from broker.events import ContractError, Event, encode
from broker.messages import Status
from security.storage import engine as engines
from security.storage.batch import REFUSALS, first_line, write_events
from security.storage.models import (
    DeadLetterRow,
    DeviceStatusRow,
    EventRow,
    table,
)
from security.storage.records import (
    BatchResult,
    Conflict,
    DeadLetter,
    DeviceState,
    Rejected,
    StorageError,
    Stream,
)

log = logging.getLogger(__name__)

EVENTS = table("events")
DEAD_LETTERS = table("dead_letters")
STATUS = table("device_status")
CHANGES = table("device_status_changes")
WATERMARKS = table("watermarks")
HANDED_ON = table("handed_on")
ID_CHUNK = 500
"""Ids looked up per query (SQLite's limit on bound parameters is far above it)."""

Marks = Mapping[Stream, int] | Mapping[str, int]
"""Watermarks by (source, incarnation); a plain source means its incarnation ''."""


def open_store(url: str, *, migrate: bool = True) -> EventStore:
    """Open the event log at `url`, upgrading its schema to the newest revision first.

    With `migrate=False` (read-only tools) the schema must already be current, and a missing
    SQLite file is an error instead of a new empty log.
    """
    shown = redact_db(url)
    parsed = engines.normalize_url(url)
    path = engines.sqlite_path(parsed)
    if not migrate and path is not None and not path.exists():
        raise StorageError(f"no event log at {path} yet (the central service creates it)")
    engine = engines.make_engine(parsed)
    try:
        if migrate:
            engines.upgrade(engine)
        else:
            current, head = engines.current_revision(engine), engines.head_revision()
            if current != head:
                raise StorageError(
                    f"event log at {shown} is at schema {current or 'none'}, this version needs "
                    f"{head}; start the central service once to upgrade it"
                )
    except SQLAlchemyError as exc:
        engine.dispose()
        raise StorageError(f"cannot open the event log at {shown}: {first_line(exc)}") from None
    except BaseException:
        engine.dispose()
        raise
    log.debug("event log open at %s", shown)
    return EventStore(engine)


class EventStore:
    """The event log on SQLite or PostgreSQL; synchronous, and safe to share between threads."""

    def __init__(self, engine: Engine) -> None:
        """Wrap an engine whose database is already at the newest schema (see open_store)."""
        if engine.dialect.name not in ("sqlite", "postgresql"):
            raise StorageError(f"the event log runs on SQLite or PostgreSQL, not {engine.dialect.name}")
        self._engine = engine

    def _insert(self, target: Table) -> postgresql.Insert | sqlite.Insert:
        """An INSERT with this dialect's ON CONFLICT clauses."""
        return _insert(self._engine.dialect.name, target)

    @property
    def engine(self) -> Engine:
        """The engine underneath (for tests and maintenance tools)."""
        return self._engine

    def transaction(self) -> AbstractContextManager[Connection]:
        """One transaction for a caller's steps (`insert_batch`, `put_watermarks`, ...): all or nothing."""
        return self._engine.begin()

    def store_batch(self, events: Sequence[Event], received_at: datetime) -> BatchResult:
        """Store new events in one transaction of their own (see `insert_batch`); for tools and tests.

        Work that must commit with the events (the back office's step, watermarks) is composed by
        the caller in `transaction()`: `insert_batch`, that work, `put_watermarks`.
        """
        with self.transaction() as conn:
            return insert_batch(conn, events, received_at)

    def add_dead_letters(
        self, letters: Iterable[Rejected | tuple[str, bytes, str, str | None]], received_at: datetime
    ) -> None:
        """Keep messages that could not be stored as events: (topic, payload, reason, source)."""
        _require_aware(received_at, "received_at")
        rows = [DeadLetterRow.from_rejected(Rejected(*r), received_at) for r in letters]
        if rows:
            with self._engine.begin() as conn:
                conn.execute(self._insert(DEAD_LETTERS), rows)

    def set_status(self, source: str, status: Status, at: datetime) -> bool:
        """Record the latest availability of `source`, replacing the previous one; True if its state changed.

        A state other than the stored one (or a first status) is also added to the source's history
        of changes (`device_status_changes`) in the same transaction, dated `at`; the same state
        heard again (a retained status after a reconnect) adds nothing.
        """
        _require_aware(at, "at")
        ins = self._insert(STATUS)
        columns = ("state", "kind", "since", "updated_at", "detail")
        stmt = ins.on_conflict_do_update(
            index_elements=[STATUS.c.source],
            set_={name: ins.excluded[name] for name in columns},
        )
        with self._engine.begin() as conn:
            changed = _add_change(conn, source, status, at)  # first: it compares with the old state
            conn.execute(stmt, DeviceStatusRow.from_status(source, status, at))
        return changed

    def list_status(self) -> list[DeviceState]:
        """Every source's last known status, by source."""
        with Session(self._engine) as session:
            rows = session.scalars(select(DeviceStatusRow).order_by(DeviceStatusRow.source))
            return [DeviceState(r.source, r.to_native(), r.updated_at) for r in rows]

    def load_watermarks(self) -> dict[Stream, int]:
        """Every (source, incarnation)'s delivery watermark."""
        columns = (WATERMARKS.c.source, WATERMARKS.c.incarnation, WATERMARKS.c.seq)
        with self._engine.connect() as conn:
            return {(source, inc): seq for source, inc, seq in conn.execute(select(*columns))}

    def current_incarnations(self) -> dict[str, str]:
        """Per source, the incarnation whose watermark moved last (the one its acks are for)."""
        query = select(WATERMARKS.c.source, WATERMARKS.c.incarnation, WATERMARKS.c.updated_at)
        newest: dict[str, tuple[datetime, str]] = {}
        oldest = datetime.min.replace(tzinfo=UTC)
        with self._engine.connect() as conn:
            for source, inc, at in conn.execute(query):
                when = at or oldest
                if source not in newest or when >= newest[source][0]:
                    newest[source] = (when, inc)
        return {source: inc for source, (_, inc) in newest.items()}

    def save_watermarks(self, watermarks: Marks) -> None:
        """Save watermarks; a stored watermark never moves backwards."""
        if watermarks:
            with self._engine.begin() as conn:
                put_watermarks(conn, watermarks)

    def resume_handing_on(self, stream: Stream) -> int:
        """The last seq of `stream` handed on (see `put_handed_on`); for a stream never handed on, its
        newest stored seq (0 if none), recorded as such: what was written before is not handed on."""
        source, incarnation = stream
        kept = select(HANDED_ON.c.seq).where(
            HANDED_ON.c.source == source, HANDED_ON.c.incarnation == incarnation)
        newest = select(func.max(EVENTS.c.seq)).where(
            EVENTS.c.source == source, EVENTS.c.incarnation == incarnation)
        with self.transaction() as conn:
            seq = conn.scalar(kept)
            if seq is not None:
                return int(seq)
            end = int(conn.scalar(newest) or 0)
            row = {"source": source, "incarnation": incarnation, "seq": end, "updated_at": datetime.now(UTC)}
            conn.execute(self._insert(HANDED_ON).on_conflict_do_nothing(), row)
            return int(conn.scalar(kept) or 0)  # another process's row, had it been first

    def stored_seqs_above(self, source: str, seq: int, incarnation: str = "") -> list[int]:
        """The stored seqs of `source`'s `incarnation` greater than `seq`, ascending."""
        query = select(EVENTS.c.seq).where(
            EVENTS.c.source == source, EVENTS.c.incarnation == incarnation, EVENTS.c.seq > seq)
        with self._engine.connect() as conn:
            return list(conn.scalars(query.order_by(EVENTS.c.seq)))

    def stored_as_is(self, events: Sequence[Event]) -> set[str]:
        """The ids of `events` that the log holds with the same source, incarnation and seq."""
        found: set[str] = set()
        wanted = {(e.id, e.source, e.incarnation, e.seq) for e in events}
        ids = sorted({e.id for e in events})
        columns = (EVENTS.c.event_id, EVENTS.c.source, EVENTS.c.incarnation, EVENTS.c.seq)
        with self._engine.connect() as conn:
            for start in range(0, len(ids), ID_CHUNK):
                query = select(*columns).where(EVENTS.c.event_id.in_(ids[start:start + ID_CHUNK]))
                found.update(row[0] for row in conn.execute(query) if tuple(row) in wanted)
        return found

    def events_above(self, source: str, seq: int, incarnation: str = "") -> list[Event]:
        """The stored events of `source`'s `incarnation` with a seq greater than `seq`, by seq."""
        query = select(EventRow).where(
            EventRow.source == source, EventRow.incarnation == incarnation, EventRow.seq > seq)
        with Session(self._engine) as session:
            return list(_natives(session.scalars(query.order_by(EventRow.seq))))

    def incarnations_of(self, source: str) -> set[str]:
        """The incarnations of `source` that have stored events."""
        query = select(EVENTS.c.incarnation).where(EVENTS.c.source == source).distinct()
        with self._engine.connect() as conn:
            return set(conn.scalars(query))

    def ping(self) -> None:
        """Raise if the database cannot run a trivial query (it is down, not a message at fault)."""
        with self._engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def next_own_seq(self, source: str) -> int:
        """The next free seq of `source` (1 for a source with no stored events)."""
        query = select(func.max(EVENTS.c.seq)).where(EVENTS.c.source == source)
        with self._engine.connect() as conn:
            highest = conn.scalar(query)
        return 1 if highest is None else int(highest) + 1

    def query_events(
        self,
        *,
        types: Sequence[str] = (),
        sources: Sequence[str] = (),
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = 100,
        newest_first: bool = False,
        by_received: bool = False,
    ) -> list[Event]:
        """Stored events by event time, filtered; `since` is inclusive and `until` exclusive.

        A type ending in '.' (such as 'door.') matches every type it begins. With `by_received`,
        `since`, `until` and the order go by the service's receive time instead of the device's.

        A stored event that no longer validates against the contract is logged and skipped.
        """
        query = select(EventRow)
        if types:
            exact = [t for t in types if not t.endswith(".")]
            rules = [EventRow.type.startswith(t, autoescape=True) for t in types if t.endswith(".")]
            query = query.where(or_(EventRow.type.in_(exact), *rules))
        if sources:
            query = query.where(EventRow.source.in_(list(sources)))
        clock = EventRow.received_at if by_received else EventRow.time
        if since is not None:
            query = query.where(clock >= _require_aware(since, "since"))
        if until is not None:
            query = query.where(clock < _require_aware(until, "until"))
        if newest_first:
            query = query.order_by(clock.desc(), EventRow.id.desc())
        else:
            query = query.order_by(clock, EventRow.id)
        if limit is not None:
            query = query.limit(limit)
        with Session(self._engine) as session:
            return list(_natives(session.scalars(query)))

    def count_events(self) -> int:
        """How many events the log holds."""
        with self._engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(EVENTS)) or 0)

    def list_dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """The newest dead letters first."""
        query = select(DeadLetterRow).order_by(DeadLetterRow.id.desc()).limit(limit)
        with Session(self._engine) as session:
            return [row.to_native() for row in session.scalars(query)]

    def close(self) -> None:
        """Close every pooled connection."""
        self._engine.dispose()

    def __enter__(self) -> Self:
        """Use the store in a with-block that closes it."""
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Close the store."""
        self.close()


def insert_batch(conn: Connection, events: Sequence[Event], received_at: datetime) -> BatchResult:
    """Store new events in `conn`'s transaction; repeats are duplicates, clashes become dead letters.

    An event whose id is already stored with the same (source, seq) is a duplicate. One whose
    (source, seq) is held by another id, or whose id is stored under another seq, or that
    the database cannot hold, is a conflict and is kept as a dead letter in the same
    transaction. A batch the database refuses (see REFUSALS) is undone alone (its statement ran
    in a savepoint: see `insert_events`) and stored again one event at a time.
    """
    _require_aware(received_at, "received_at")
    try:
        result = write_events(conn, events, received_at)
    except REFUSALS as exc:
        log.warning(
            "the database refused a batch of %d event(s) (%s); storing them one at a time",
            len(events),
            first_line(exc),
        )
        result = write_events(conn, events, received_at, careful=True)
    if result.conflicts:
        letters = [_dead_letter(c) for c in result.conflicts]
        conn.execute(
            _insert(conn.dialect.name, DEAD_LETTERS),
            [DeadLetterRow.from_rejected(r, received_at) for r in letters],
        )
        log.warning(
            "%d event(s) could not be stored and became dead letters; first: %s",
            len(result.conflicts),
            result.conflicts[0].reason,
        )
    log.debug("batch: %d stored, %d duplicate(s)", len(result.stored), len(result.duplicates))
    return result


def put_watermarks(conn: Connection, watermarks: Marks) -> None:
    """Save watermarks in `conn`'s transaction; a stored watermark never moves backwards."""
    if not watermarks:
        return
    ins = _insert(conn.dialect.name, WATERMARKS)
    stmt = ins.on_conflict_do_update(
        index_elements=[WATERMARKS.c.source, WATERMARKS.c.incarnation],
        set_={"seq": ins.excluded.seq, "updated_at": ins.excluded.updated_at},
        where=WATERMARKS.c.seq < ins.excluded.seq,
    )
    now = datetime.now(UTC)
    rows = [{"source": s, "incarnation": i, "seq": q, "updated_at": now}
            for (s, i), q in sorted((_stream(k), q) for k, q in watermarks.items())]
    conn.execute(stmt, rows)


def put_handed_on(conn: Connection, stream: Stream, seq: int) -> None:
    """Record in `conn`'s transaction that `stream` is handed on up to `seq`; it never moves backwards."""
    ins = _insert(conn.dialect.name, HANDED_ON)
    stmt = ins.on_conflict_do_update(
        index_elements=[HANDED_ON.c.source, HANDED_ON.c.incarnation],
        set_={"seq": ins.excluded.seq, "updated_at": ins.excluded.updated_at},
        where=HANDED_ON.c.seq < ins.excluded.seq,
    )
    source, incarnation = stream
    conn.execute(stmt, {"source": source, "incarnation": incarnation, "seq": seq,
                        "updated_at": datetime.now(UTC)})


def _add_change(conn: Connection, source: str, status: Status, at: datetime) -> bool:
    """Add `status` to the history of `source` unless its stored last status has the same state."""
    same = select(STATUS.c.source).where(STATUS.c.source == source, STATUS.c.state == status.state)
    values = select(
        literal(source, CHANGES.c.source.type), literal(status.state, CHANGES.c.state.type),
        literal(status.kind, CHANGES.c.kind.type), literal(status.detail, CHANGES.c.detail.type),
        literal(at, CHANGES.c.at.type),
    ).where(~exists(same))
    columns = ["source", "state", "kind", "detail", "at"]
    # RETURNING says whether a row went in (psycopg reports no rowcount for INSERT ... SELECT)
    added = conn.execute(insert(CHANGES).from_select(columns, values).returning(CHANGES.c.id))
    return added.first() is not None


def _insert(dialect: str, target: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT with `dialect`'s ON CONFLICT clauses."""
    return postgresql.insert(target) if dialect == "postgresql" else sqlite.insert(target)


def _natives(rows: Iterable[EventRow]) -> Iterator[Event]:
    for row in rows:
        try:
            yield row.to_native()
        except ContractError as exc:
            log.warning("stored event %s no longer fits the contract, skipped: %s", row.event_id, exc)


def _dead_letter(conflict: Conflict) -> Rejected:
    event = conflict.event
    return Rejected(event.topic, encode(event), conflict.reason, event.source)


def _stream(key: Stream | str) -> Stream:
    return (key, "") if isinstance(key, str) else key


def _require_aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a time-zone aware datetime, got {value.isoformat()}")
    return value
