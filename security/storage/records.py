"""Plain results of the event store: what a batch did, dead letters and device states."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from broker.events import Event
from broker.messages import Status


class StorageError(RuntimeError):
    """The event store cannot be opened or used; the text says why (never with a password)."""


class Rejected(NamedTuple):
    """A message to keep as a dead letter: where it came, its bytes, and why it was refused."""

    topic: str
    payload: bytes
    reason: str
    source: str | None = None


@dataclass(slots=True, frozen=True)
class Conflict:
    """An event that was not stored because it clashes with a different stored event."""

    event: Event
    reason: str
    existing_id: str | None
    """The id of the event that holds this (source, seq), or None if that seq is still free."""


@dataclass(slots=True, frozen=True)
class BatchResult:
    """What one `store_batch` did with each event it was given, in the order given."""

    stored: tuple[Event, ...] = ()
    duplicates: tuple[Event, ...] = ()
    conflicts: tuple[Conflict, ...] = ()

    def occupied(self) -> dict[str, set[int]]:
        """Per source, the seqs of this batch that are now taken in the log (by these or others)."""
        seqs: dict[str, set[int]] = {}
        taken = [*self.stored, *self.duplicates]
        taken += [c.event for c in self.conflicts if c.existing_id is not None]
        for event in taken:
            seqs.setdefault(event.source, set()).add(event.seq)
        return seqs


@dataclass(slots=True, frozen=True)
class DeadLetter:
    """A stored dead letter."""

    id: int
    received_at: datetime
    topic: str
    payload: bytes
    reason: str
    source: str | None


@dataclass(slots=True, frozen=True)
class DeviceState:
    """The last known status of one source and when it was recorded."""

    source: str
    status: Status
    updated_at: datetime
