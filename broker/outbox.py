"""A source's durable outbox: events wait in SQLite until the central watermark covers them."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from broker.events import Event, encode
from broker.private import private_file

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS incarnation (id TEXT NOT NULL);
"""


class OutboxError(RuntimeError):
    """The outbox cannot take the event (disk full, read-only, corrupt); nothing was published."""


@dataclass(slots=True, frozen=True)
class Pending:
    """One stored, not yet acknowledged event."""

    seq: int
    topic: str
    payload: bytes


class Outbox:
    """Durable, ordered store of a source's events and its `seq` counter (survives restarts)."""

    def __init__(self, path: Path, *, synchronous: Literal["full", "normal"] = "full") -> None:
        """Open or create the outbox at `path`; "full" fsyncs every event, "normal" is faster."""
        self.path = path
        self._lock = threading.Lock()
        try:
            private_file(path)  # its -wal and -shm take its mode
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={synchronous.upper()}")
            self._db.executescript(_SCHEMA)
            self.incarnation = self._incarnation()
        except (sqlite3.Error, OSError) as exc:
            raise OutboxError(f"cannot open outbox {path}: {exc}") from exc

    def _incarnation(self) -> str:
        """This outbox's incarnation: made with it, so a wiped or replaced outbox is a new one.

        An outbox from before incarnations (events already counted) keeps '' and its seq.
        """
        row = self._db.execute("SELECT id FROM incarnation").fetchone()
        if row is not None:
            return str(row[0])
        made = "" if self._meta("last_seq") else uuid.uuid4().hex[:16]
        self._db.execute("INSERT INTO incarnation (id) VALUES (?)", (made,))
        return made

    def _meta(self, key: str) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else 0

    def _set_meta(self, key: str, value: int) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def append(self, build: Callable[[int], Event]) -> tuple[Event, bytes]:
        """Allocate the next seq, build the event with it, store both atomically; return the payload."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                seq = self._meta("last_seq") + 1
                event = build(seq)
                payload = encode(event)
                self._db.execute(
                    "INSERT INTO outbox (seq, id, topic, payload) VALUES (?, ?, ?, ?)",
                    (seq, event.id, event.topic, payload),
                )
                self._set_meta("last_seq", seq)
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise OutboxError(f"outbox {self.path} refused event: {exc}") from exc
            except BaseException:
                self._rollback()
                raise
            return event, payload

    def _rollback(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._db.execute("ROLLBACK")

    def acknowledge(self, watermark: int, incarnation: str = "") -> int:
        """Forget every event up to `watermark` of `incarnation`; return how many were removed.

        A watermark of another incarnation (the service's ack of this device's previous outbox,
        still retained) says nothing about this outbox's events and is ignored.
        """
        with self._lock:
            if incarnation != self.incarnation or watermark <= self._meta("watermark"):
                return 0
            try:
                self._db.execute("BEGIN IMMEDIATE")
                if watermark > self._meta("last_seq"):
                    # the service stored seqs this outbox never handed out (it was wiped or replaced):
                    # skip past them, or new events would reuse stored seqs and be refused
                    log.error("outbox %s: the service has seq %d of this source stored but this outbox "
                              "only reached %d; continuing after %d", self.path, watermark,
                              self._meta("last_seq"), watermark)
                    self._set_meta("last_seq", watermark)
                removed = self._db.execute("DELETE FROM outbox WHERE seq <= ?", (watermark,)).rowcount
                self._set_meta("watermark", watermark)
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                log.warning("outbox %s could not record watermark %d: %s", self.path, watermark, exc)
                return 0
            return int(removed)

    def pending(self, limit: int = 1000, after: int = 0) -> list[Pending]:
        """The oldest unacknowledged events after seq `after`, in seq order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, topic, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                (after, limit),
            ).fetchall()
        return [Pending(int(s), str(t), bytes(p)) for s, t, p in rows]

    def count(self) -> int:
        """How many events wait for the watermark."""
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM outbox").fetchone()[0])

    @property
    def watermark(self) -> int:
        """The highest seq the central service confirmed stored with no gap below."""
        with self._lock:
            return self._meta("watermark")

    @property
    def last_seq(self) -> int:
        """The last seq handed out."""
        with self._lock:
            return self._meta("last_seq")

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()
