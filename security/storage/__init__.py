"""The central event log: SQLAlchemy storage on SQLite or PostgreSQL, migrated at start-up."""

from security.storage import office_models  # noqa: F401  (every table on one metadata)
from security.storage.records import (
    BatchResult,
    Conflict,
    DeadLetter,
    DeviceState,
    Rejected,
    StorageError,
)
from security.storage.store import EventStore, insert_batch, open_store, put_handed_on, put_watermarks

__all__ = [
    "BatchResult",
    "Conflict",
    "DeadLetter",
    "DeviceState",
    "EventStore",
    "Rejected",
    "StorageError",
    "insert_batch",
    "open_store",
    "put_handed_on",
    "put_watermarks",
]
