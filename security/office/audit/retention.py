"""Retention of visitors' personal data: which stored events to anonymise and how (pure).

The plan keeps what the site needs to count and investigate (event types, times, visit ids,
badges, hosts, incident and alarm links) and replaces the visitor's identity. A visitor's
name becomes a pseudonym derived from the visit id, so the same visit reads the same in every
event and a second run changes nothing; it is derived from the visit id and not the name
because a hash of a name can be reversed by guessing names.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from security.office.audit.chain import AuditRecord, rfc3339


class Treatment(StrEnum):
    """What happens to one personal field when its record is anonymised."""

    PSEUDONYMISE = "pseudonymise"
    """Replace with a stable pseudonym such as `visitor 3fa2c1d9`."""
    REMOVE = "remove"
    """Drop the field from the data (optional fields then read as absent)."""
    NULL = "null"
    """Keep the field but set it to None."""


VISITOR_FIELDS: Mapping[str, Treatment] = {
    "visitor_name": Treatment.PSEUDONYMISE,
    "company": Treatment.REMOVE,
    "email": Treatment.REMOVE,
    "photo": Treatment.REMOVE,
    "signature": Treatment.REMOVE,
}

DEFAULT_PERSONAL: Mapping[str, Mapping[str, Treatment]] = {
    "visitor.invited": VISITOR_FIELDS,
    "visitor.checked_in": VISITOR_FIELDS,
    "visitor.photo": {"jpeg": Treatment.REMOVE},
    "visitor.agreed": {"signature": Treatment.REMOVE},
    "visitor.feedback": {"comment": Treatment.REMOVE},  # free text may name people; the rating stays
}
"""Event types that carry visitors' personal data, and the treatment of each personal field."""


@dataclass(slots=True, frozen=True)
class RetentionPolicy:
    """How long visitors' personal data is kept, and which fields of which events are personal."""

    days: int
    personal: Mapping[str, Mapping[str, Treatment]] = field(default_factory=lambda: DEFAULT_PERSONAL)

    def __post_init__(self) -> None:
        """Refuse a negative retention period."""
        if isinstance(self.days, bool) or not isinstance(self.days, int) or self.days < 0:
            raise ValueError(f"retention days must be a whole number of at least 0, got {self.days!r}")

    def cutoff(self, now: datetime) -> datetime:
        """Records strictly older than this are anonymised; this instant and later are kept."""
        return _aware(now, "now") - timedelta(days=self.days)


@dataclass(slots=True, frozen=True)
class Anonymisation:
    """The change to apply to one stored record: its new `data` and what was changed."""

    index: int
    """Position of the record in the input."""
    event_id: str | None
    type: str
    time: datetime
    data: Mapping[str, Any]
    """The full replacement `data`; write it in place of the stored one."""
    removed: tuple[str, ...]
    pseudonymised: tuple[str, ...]


@dataclass(slots=True, frozen=True)
class RetentionPlan:
    """Everything one retention run should do: the record changes and the audit records to append."""

    cutoff: datetime
    changes: tuple[Anonymisation, ...]
    audit: tuple[AuditRecord, ...]


def pseudonym(seed: str) -> str:
    """A stable, non-identifying stand-in for a visitor, e.g. `visitor 3fa2c1d9`."""
    return "visitor " + hashlib.sha256(f"gatehouse-visitor:{seed}".encode()).hexdigest()[:8]


def _aware(when: datetime, what: str) -> datetime:
    """`when` in UTC; naive times are refused since their zone is unknown."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got {when.isoformat()}")
    return when.astimezone(UTC)


def _record_time(value: object) -> datetime:
    """The time of a stored record, given as a datetime or an RFC 3339 string."""
    if isinstance(value, datetime):
        return _aware(value, "a record's time")
    if isinstance(value, str):
        text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
        return _aware(datetime.fromisoformat(text), "a record's time")
    raise ValueError(f"a record's time must be a datetime or RFC 3339 text, got {value!r}")


def anonymise_data(
    data: Mapping[str, Any], fields: Mapping[str, Treatment], seed: str
) -> tuple[dict[str, Any], tuple[str, ...], tuple[str, ...]]:
    """New data with personal `fields` treated; returns (data, removed, pseudonymised) of actual changes."""
    out = dict(data)
    removed: list[str] = []
    renamed: list[str] = []
    for name, treatment in fields.items():
        if name not in out:
            continue
        if treatment is Treatment.REMOVE:
            del out[name]
            removed.append(name)
        elif treatment is Treatment.NULL:
            if out[name] is not None:
                out[name] = None
                removed.append(name)
        elif out[name] is not None and out[name] != pseudonym(seed):
            out[name] = pseudonym(seed)
            renamed.append(name)
    return out, tuple(removed), tuple(renamed)


def plan_retention(
    records: Iterable[Mapping[str, Any]],
    policy: RetentionPolicy,
    now: datetime,
    *,
    actor: str = "system:retention",
) -> RetentionPlan:
    """Which stored events (dicts with type, time, data and optionally id) to anonymise, and the audit.

    Records at or after the cutoff, and records with nothing personal left, are untouched, so
    applying the plan and planning again yields no changes.
    """
    cutoff = policy.cutoff(now)
    changes: list[Anonymisation] = []
    for index, stored in enumerate(records):
        fields = policy.personal.get(str(stored.get("type")))
        if not fields or _record_time(stored.get("time")) >= cutoff:
            continue
        change = _anonymisation(index, stored, fields)
        if change is not None:
            changes.append(change)
    audit = () if not changes else (_audit_record(changes, policy, cutoff, _aware(now, "now"), actor),)
    return RetentionPlan(cutoff=cutoff, changes=tuple(changes), audit=audit)


def anonymise_records(
    records: Iterable[Mapping[str, Any]], personal: Mapping[str, Mapping[str, Treatment]] = DEFAULT_PERSONAL
) -> tuple[Anonymisation, ...]:
    """The changes that treat every record's personal fields whatever its age (an erasure on request).

    Each record is treated exactly as `plan_retention` treats an old one, so retention and erasure
    leave the same data behind and either may run after the other without changing anything.
    """
    changes: list[Anonymisation] = []
    for index, stored in enumerate(records):
        fields = personal.get(str(stored.get("type")))
        change = _anonymisation(index, stored, fields) if fields else None
        if change is not None:
            changes.append(change)
    return tuple(changes)


def _anonymisation(
    index: int, stored: Mapping[str, Any], fields: Mapping[str, Treatment]
) -> Anonymisation | None:
    """The change to one stored record (its pseudonym seeded by its visit id), or None when none is due."""
    when = _record_time(stored.get("time"))
    data = stored.get("data") or {}
    raw_id = stored.get("event_id", stored.get("id"))
    event_id = None if raw_id is None else str(raw_id)
    seed = str(data.get("visit_id") or event_id or index)
    new, removed, renamed = anonymise_data(data, fields, seed)
    if not removed and not renamed:
        return None
    return Anonymisation(index, event_id, str(stored["type"]), when, new, removed, renamed)


def _audit_record(
    changes: list[Anonymisation], policy: RetentionPolicy, cutoff: datetime, now: datetime, actor: str
) -> AuditRecord:
    """The audit record of one retention run: counts per type and field, and the records touched."""
    per_type: dict[str, int] = {}
    per_field: dict[str, int] = {}
    for change in changes:
        per_type[change.type] = per_type.get(change.type, 0) + 1
        for name in (*change.removed, *change.pseudonymised):
            per_field[name] = per_field.get(name, 0) + 1
    return AuditRecord(
        time=now,
        actor=actor,
        action="retention.anonymise",
        subject="events",
        details={
            "retention_days": policy.days,
            "cutoff": rfc3339(cutoff),
            "records": len(changes),
            "by_type": per_type,
            "by_field": per_field,
            "event_ids": [c.event_id for c in changes if c.event_id is not None],
        },
    )
