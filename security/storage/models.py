"""The tables of the central event log as typed SQLAlchemy 2 models, with their converters.

Rows never leave the storage layer: `from_event()` and friends build insert values from contract
objects, `to_native()` turns a row back into one.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from broker.events import SPEC_VERSION, Event, from_dict
from broker.messages import State, Status
from security.storage.records import DeadLetter, Rejected

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Constraint names fixed by convention, so migrations name them the same on every dialect."""

BigId = BigInteger().with_variant(Integer(), "sqlite")
"""A 64-bit surrogate key that SQLite still treats as its auto-incrementing rowid."""

JsonDoc = JSON().with_variant(JSONB(), "postgresql")
"""JSON text on SQLite, binary JSONB on PostgreSQL."""


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back time-zone aware, on SQLite too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive times; store aware ones in UTC (without tzinfo on SQLite)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} cannot be stored; give a time zone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Attach UTC to what SQLite returns; normalise PostgreSQL's session zone to UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of the event-log tables."""

    metadata = MetaData(naming_convention=NAMING)


class EventRow(Base):
    """One stored event: unique on `event_id` and on (`source`, `incarnation`, `seq`)."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("source", "incarnation", "seq"),
        Index("ix_events_time", "time"),
        Index("ix_events_type_time", "type", "time"),
        Index("ix_events_source_time", "source", "time"),
        Index("ix_events_type_received_at", "type", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128), unique=True)
    source: Mapped[str] = mapped_column(String(200))
    incarnation: Mapped[str] = mapped_column(String(64), server_default="")
    seq: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(100))
    time: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    site: Mapped[str] = mapped_column(String(64))
    device: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JsonDoc)

    @staticmethod
    def from_event(event: Event, received_at: datetime) -> dict[str, Any]:
        """Insert values for `event` (a dict, for a batched Core insert)."""
        return {
            "event_id": event.id,
            "source": event.source,
            "incarnation": event.incarnation,
            "seq": event.seq,
            "type": event.type,
            "time": event.time,
            "received_at": received_at,
            "site": event.site,
            "device": event.device,
            "data": event.data.model_dump(mode="json", exclude_none=True),
        }

    @staticmethod
    def fast_values(event: Event, time_format: str) -> tuple[Any, ...]:
        """The RECORD columns of `event` as driver values, times as UTC text in `time_format`."""
        return (
            event.id, event.source, event.incarnation, event.seq, event.type,
            event.time.astimezone(UTC).strftime(time_format), event.site, event.device,
            json.dumps(event.data.model_dump(mode="json", exclude_none=True), separators=(",", ":")),
        )

    def to_native(self) -> Event:
        """The event this row holds, validated again; raise ContractError if it no longer fits."""
        doc = {
            "specversion": SPEC_VERSION,
            "id": self.event_id,
            "source": self.source,
            "type": self.type,
            "time": self.time.isoformat(),
            "seq": self.seq,
            "data": self.data,
        }
        if self.incarnation:
            doc["incarnation"] = self.incarnation
        return from_dict(doc, received_at=self.received_at)


class DeadLetterRow(Base):
    """A message that could not be stored as an event, with the reason, its size and SHA-256.

    The payload is kept verbatim, or only its first bytes when it was too large or too deep.
    """

    __tablename__ = "dead_letters"
    __table_args__ = (Index("ix_dead_letters_received_at", "received_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    topic: Mapped[str] = mapped_column(Text)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    reason: Mapped[str] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(String(200))
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))

    @staticmethod
    def from_rejected(rejected: Rejected, received_at: datetime) -> dict[str, Any]:
        """Insert values for one refused message."""
        kept = rejected.kept()
        return {
            "received_at": received_at,
            "topic": kept.topic,
            "payload": kept.payload,
            "reason": kept.reason,
            "source": kept.source,
            "size": kept.size,
            "sha256": kept.sha256,
        }

    def to_native(self) -> DeadLetter:
        """The dead letter this row holds."""
        return DeadLetter(self.id, self.received_at, self.topic, self.payload, self.reason, self.source,
                          self.size, self.sha256)


class DeviceStatusRow(Base):
    """The last known availability of one source."""

    __tablename__ = "device_status"

    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(64))
    since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    detail: Mapped[str | None] = mapped_column(Text)

    @staticmethod
    def from_status(source: str, status: Status, at: datetime) -> dict[str, Any]:
        """Upsert values for `status` of `source` seen at `at`."""
        return {
            "source": source,
            "state": status.state,
            "kind": status.kind,
            "since": status.since,
            "updated_at": at,
            "detail": status.detail,
        }

    def to_native(self) -> Status:
        """The status this row holds."""
        state: State = "online" if self.state == "online" else "offline"
        return Status(state=state, kind=self.kind, since=self.since, detail=self.detail)


class DeviceStatusChangeRow(Base):
    """A change of one source's availability, dated by the service's receive time.

    Written with the last status (see `EventStore.set_status`) only when the state differs from
    the stored one, so a retained status heard again after a reconnect adds nothing.
    """

    __tablename__ = "device_status_changes"
    __table_args__ = (
        Index("ix_device_status_changes_source_at", "source", "at"),
        Index("ix_device_status_changes_at", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class WatermarkRow(Base):
    """The delivery watermark of one source's incarnation: every seq up to `seq` is stored."""

    __tablename__ = "watermarks"

    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    incarnation: Mapped[str] = mapped_column(String(64), primary_key=True, server_default="")
    seq: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When the watermark last moved: the newest incarnation of a source is the one it acks."""


class HandedOnRow(Base):
    """How far the central service has handed a stream it reads back from the log (the console's) on."""

    __tablename__ = "handed_on"

    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    incarnation: Mapped[str] = mapped_column(String(64), primary_key=True, server_default="")
    seq: Mapped[int] = mapped_column(BigInteger)
    """Every event of the stream up to this seq has been handed to the back office."""
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


def table(name: str) -> Table:
    """The Core table `name`, for batched statements."""
    return Base.metadata.tables[name]
