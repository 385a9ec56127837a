"""Plain results of the event store: what a batch did, dead letters and device states."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from broker.events import MAX_PAYLOAD, Event
from broker.messages import Status

PREFIX = 4096
"""How many leading bytes a dead letter keeps of a payload too large or too deep to keep whole."""
Stream = tuple[str, str]
"""(source, incarnation): the unit that `seq` counts and a watermark covers."""


class StorageError(RuntimeError):
    """The event store cannot be opened or used; the text says why (never with a password)."""


class Rejected(NamedTuple):
    """A message to keep as a dead letter: where it came, its bytes, and why it was refused.

    `whole=False` (a payload too large or too deep) keeps only its first PREFIX bytes; `size` and
    `sha256` always describe the whole payload as it arrived.
    """

    topic: str
    payload: bytes
    reason: str
    source: str | None = None
    whole: bool = True
    size: int | None = None
    sha256: str | None = None

    def kept(self) -> Rejected:
        """What to store: the payload cut to PREFIX bytes unless it may be kept whole, size and hash set."""
        size = self.size if self.size is not None else len(self.payload)
        digest = self.sha256 or hashlib.sha256(self.payload).hexdigest()
        whole = self.whole and len(self.payload) <= MAX_PAYLOAD
        payload = self.payload if whole else self.payload[:PREFIX]
        return Rejected(self.topic, payload, self.reason, self.source, whole, size, digest)


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

    def occupied(self) -> dict[Stream, set[int]]:
        """Per stream, the seqs of this batch that are now taken in the log (by these or others)."""
        seqs: dict[Stream, set[int]] = {}
        taken = [*self.stored, *self.duplicates]
        taken += [c.event for c in self.conflicts if c.existing_id is not None]
        for event in taken:
            seqs.setdefault((event.source, event.incarnation), set()).add(event.seq)
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
    size: int | None = None
    """The size of the payload as it arrived (the stored one may be only its first bytes)."""
    sha256: str | None = None


@dataclass(slots=True, frozen=True)
class DeviceState:
    """The last known status of one source and when it was recorded."""

    source: str
    status: Status
    updated_at: datetime
