"""Engines for the event log: URL normalisation, SQLite pragmas, and Alembic upgrades at start-up."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import StaticPool

from broker.config import redact_db
from broker.private import private_file

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
BUSY_TIMEOUT_MS = 10_000
MIGRATION_LOCK = 0x6761_7465  # "gate": one PostgreSQL advisory lock serialises concurrent upgrades
_DRIVERS = {"postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg"}


def normalize_url(url: str | URL) -> URL:
    """Parse `url`, choosing psycopg 3 for a bare `postgresql://` (or `postgres://`) URL."""
    parsed = make_url(url)
    driver = _DRIVERS.get(parsed.drivername)
    return parsed.set(drivername=driver) if driver else parsed


def sqlite_path(url: URL) -> Path | None:
    """The file of a SQLite URL, or None for another database or an in-memory one."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    if str(url.query.get("mode", "")) == "memory":
        return None
    return Path(str(url.database))


def make_engine(url: str | URL) -> Engine:
    """An engine for `url`: SQLite in WAL mode with its parent folder created, or PostgreSQL."""
    parsed = normalize_url(url)
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        path = sqlite_path(parsed)
        if path is None:
            # one shared in-memory database, usable from the writer thread too
            kwargs.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
        else:
            private_file(path)  # its -wal and -shm take its mode
    elif parsed.get_backend_name() == "postgresql":
        kwargs.update(pool_pre_ping=True)
    engine = create_engine(parsed, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection: Any, _record: object) -> None:
    """Set the pragmas, and take transaction control away from the sqlite3 module.

    Left to itself, sqlite3 begins transactions late and breaks SAVEPOINT; SQLAlchemy's
    documented remedy is to switch that off and emit BEGIN ourselves (see _sqlite_begin).
    """
    dbapi_connection.isolation_level = None
    # SQLite's own lower() folds ASCII only; the reports' "any case" search must find Łukasz as łukasz
    # (PostgreSQL's lower() already does). Replacing the built-in is what SQLite's ICU extension does.
    dbapi_connection.create_function("lower", 1, _lower, deterministic=True)
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        # deleted and overwritten content is zeroed, not left in free pages (an erased visitor's photo);
        # Debian builds SQLite with this on, others do not
        cursor.execute("PRAGMA secure_delete=ON")
    finally:
        cursor.close()


def _lower(value: object) -> object:
    """lower() for SQLite: Python's Unicode lower case for text, anything else as it is."""
    return value.lower() if isinstance(value, str) else value


_BEGIN = threading.local()


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """`engine.begin()` for a transaction that reads, then writes.

    On SQLite it is BEGIN IMMEDIATE: a deferred transaction that read first cannot take the write
    lock once another connection has written since ("database is locked" at once, no busy wait).
    Elsewhere it is a plain transaction.
    """
    _BEGIN.immediate = True
    try:
        with engine.begin() as conn:
            _BEGIN.immediate = False
            yield conn
    finally:
        _BEGIN.immediate = False


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE" if getattr(_BEGIN, "immediate", False) else "BEGIN")


def alembic_config() -> Config:
    """The Alembic configuration of the shipped migrations (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    return config


def head_revision() -> str | None:
    """The newest revision the shipped migrations know."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database at `engine` is at (None when it was never migrated)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine) -> None:
    """Bring the database at `engine` to the newest revision, in one transaction where possible."""
    config = alembic_config()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        before = MigrationContext.configure(conn).get_current_revision()
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
        after = MigrationContext.configure(conn).get_current_revision()
    if before != after:
        log.info(
            "event store at %s upgraded from %s to %s",
            redact_db(engine.url.render_as_string(hide_password=False)),
            before or "empty",
            after,
        )
