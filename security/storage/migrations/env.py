"""Alembic environment of the event log: uses the caller's connection, or a URL for the CLI."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection

from security.storage import office_models  # noqa: F401  (registers the back-office tables)
from security.storage.engine import make_engine
from security.storage.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    """The database of a command-line run: `-x url=...`, then GATEHOUSE_DB_URL, then alembic.ini."""
    url = context.get_x_argument(as_dictionary=True).get("url") or os.environ.get("GATEHOUSE_DB_URL")
    url = url or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("give the database: alembic -x url=... or GATEHOUSE_DB_URL")
    return url


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
elif (shared := config.attributes.get("connection")) is not None:
    _run(shared)
else:
    engine = make_engine(_url())
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()
