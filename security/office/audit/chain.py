"""The append-only audit record and its hash chain (pure: no clock, no storage).

Each sealed record carries the hash of the record before it, so removing, editing or
reordering a stored record breaks the chain at that point. Without a key the hash is a plain
SHA-256, which proves the log is internally consistent but not who wrote it: anyone who can
edit the database can also recompute every hash after an edit. With a site secret (`key`)
the hash is an HMAC-SHA256, which only a holder of the secret can recompute, so an edit by
someone with database access alone is detected even if they rewrite the rest of the chain.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

FORMAT = "gatehouse-audit/1"
"""Tag hashed into every record, so a future change of encoding cannot be confused with this one."""

GENESIS = "0" * 64
"""The `prev_hash` of the first record of every chain."""

JsonValue = Any
"""A value `json.dumps` accepts without `default=` (str, int, float, bool, None, lists, dicts)."""


class AuditError(ValueError):
    """An audit record cannot be built or sealed; the text says why."""


def rfc3339(when: datetime) -> str:
    """`when` as RFC 3339 UTC with microseconds, e.g. `2026-11-22T07:01:20.000000Z`."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise AuditError(f"audit times must be timezone-aware, got naive {when.isoformat()}")
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(value: JsonValue) -> str:
    """Sorted-key compact JSON of `value`; refuses NaN, infinities and non-JSON types."""
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise AuditError(f"audit details must be plain JSON: {exc}") from exc


@dataclass(slots=True, frozen=True)
class AuditRecord:
    """What happened, before it is sealed: when, who, what action, on what, and details."""

    time: datetime
    actor: str
    action: str
    subject: str
    details: Mapping[str, JsonValue]

    def __post_init__(self) -> None:
        """Refuse records that could not be encoded the same way twice."""
        rfc3339(self.time)
        for name in ("actor", "action", "subject"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise AuditError(f"audit {name} must be a non-empty string")
        if not isinstance(self.details, Mapping):
            raise AuditError("audit details must be a mapping")
        # keep a private plain-JSON copy, so later changes to the caller's dict cannot alter a record
        object.__setattr__(self, "details", json.loads(canonical_json(dict(self.details))))


class UnreadableDetails(dict[str, JsonValue]):
    """Stored details that are not a JSON object (edited in the database): empty, with the text and why.

    A record holding them never matches its seal, and `verify` says its details are unreadable.
    """

    def __init__(self, text: str, reason: str) -> None:
        """Keep the stored text and why it could not be read."""
        super().__init__()
        self.text = text
        self.reason = reason


def stored_details(text: object) -> Mapping[str, JsonValue]:
    """Details as stored (JSON text, or already decoded): the object, or UnreadableDetails saying why."""
    if isinstance(text, dict):
        return text
    if not isinstance(text, str | bytes):
        return UnreadableDetails(repr(text), f"stored as {type(text).__name__}, not JSON text")
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return UnreadableDetails(str(text), f"not valid JSON: {exc}")
    if not isinstance(doc, dict):
        return UnreadableDetails(str(text), f"a JSON {type(doc).__name__}, not an object")
    return doc


@dataclass(slots=True, frozen=True)
class ChainHead:
    """The last sequence number and hash of a chain; published, it is an anchor against truncation."""

    seq: int
    hash: str


EMPTY = ChainHead(seq=0, hash=GENESIS)
"""The head of a chain with no records yet."""


@dataclass(slots=True, frozen=True)
class SealedRecord:
    """An audit record with its place in the chain: sequence number, previous hash and own hash."""

    seq: int
    time: datetime
    actor: str
    action: str
    subject: str
    details: Mapping[str, JsonValue]
    prev_hash: str
    hash: str

    @property
    def record(self) -> AuditRecord:
        """The unsealed content of this record."""
        return AuditRecord(self.time, self.actor, self.action, self.subject, self.details)

    @property
    def head(self) -> ChainHead:
        """The chain head once this record is the last one."""
        return ChainHead(seq=self.seq, hash=self.hash)


def canonical_bytes(seq: int, record: AuditRecord, prev_hash: str) -> bytes:
    """The exact bytes hashed for a record: a JSON array in fixed field order, UTF-8."""
    fields = [
        FORMAT,
        seq,
        rfc3339(record.time),
        record.actor,
        record.action,
        record.subject,
        dict(record.details),
        prev_hash,
    ]
    return canonical_json(fields).encode("utf-8")


def compute_hash(seq: int, record: AuditRecord, prev_hash: str, key: bytes | None = None) -> str:
    """Hex SHA-256 (or HMAC-SHA256 with `key`) of the record's canonical bytes."""
    payload = canonical_bytes(seq, record, prev_hash)
    if key is None:
        return hashlib.sha256(payload).hexdigest()
    if not key:
        raise AuditError("an audit key must not be empty; pass None for an unkeyed chain")
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def seal(seq: int, record: AuditRecord, prev_hash: str, key: bytes | None = None) -> SealedRecord:
    """Seal `record` at `seq` after `prev_hash` (no checks on the chain; see `append`)."""
    return SealedRecord(
        seq=seq,
        time=record.time,
        actor=record.actor,
        action=record.action,
        subject=record.subject,
        details=record.details,
        prev_hash=prev_hash,
        hash=compute_hash(seq, record, prev_hash, key),
    )


def append(prev: ChainHead | None, record: AuditRecord, *, key: bytes | None = None) -> SealedRecord:
    """Seal `record` as the next record after `prev` (None: the first record, after GENESIS)."""
    head = EMPTY if prev is None else prev
    if head.seq < 0:
        raise AuditError(f"a chain head has a sequence number of at least 0, got {head.seq}")
    return seal(head.seq + 1, record, head.hash, key)


def append_all(
    prev: ChainHead | None, records: Iterable[AuditRecord], *, key: bytes | None = None
) -> list[SealedRecord]:
    """Seal several records in order after `prev`."""
    sealed: list[SealedRecord] = []
    head = prev
    for record in records:
        nxt = append(head, record, key=key)
        sealed.append(nxt)
        head = nxt.head
    return sealed


def has_valid_hash(sealed: SealedRecord, key: bytes | None = None) -> bool:
    """Whether the record's stored hash matches its content (constant-time comparison)."""
    try:
        expected = compute_hash(sealed.seq, sealed.record, sealed.prev_hash, key)
    except AuditError:
        return False
    return hmac.compare_digest(expected.encode(), sealed.hash.encode("utf-8", "replace"))
