"""A visitor's personal data on request: their record, its export document and erasure's rules (pure).

The GDPR's right of access (Art. 15) and right to erasure (Art. 17). `security.storage.privacy`
reads a visitor's record and erases it; `security.accounts.privacy` decides who may. Erasure
treats a visitor's events exactly as the nightly retention treats old ones (`anonymise_records`,
the same fields and the same pseudonym from the visit id), so either may run after the other
and change nothing more.

Sealed audit records are never rewritten, by erasure as by retention: each record's hash covers
its details and the next record's link covers that hash, so rewriting one means re-sealing
every record after it, which a verifier (and a published anchor) cannot tell from tampering.
The chain is kept free of personal data instead: its records name visits by id. Where a record
does name the visitor (a directory entry made for them by hand, a free-text note), the erasure
lists its sequence number, so the exception is on record, and the export shows it.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from broker.safe_text import text_fault
from security.office.access import Person
from security.office.audit import AuditRecord, SealedRecord, pseudonym, rfc3339

VISIT_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
"""A visit id as the contract allows it (`broker.schemas.Id`)."""
MAX_VISITS = 1000
"""The most visit ids one request may name."""
MAX_REASON = 500
MAX_NAME = 200
MAX_EMAIL = 254
ON_SITE_HORIZON = timedelta(hours=24)
"""A check-in received this recently without a check-out is on site: the muster list's default horizon."""
CHECKED_IN, CHECKED_OUT = "visitor.checked_in", "visitor.checked_out"
FORMAT = "gatehouse-visitor-record/1"

SECTIONS: Mapping[str, str] = {
    "events": "Every stored event about these visits, as stored: check-ins and check-outs, photos "
              "(JPEG, base64), signatures (SVG path), screening, badges, host notices, doors passed.",
    "invitations": "Visits announced ahead by a host (without the invitation's secret code).",
    "notifications": "E-mails and webhooks about these visits: invitations sent to the visitor and "
                     "arrival notices sent to their host, with their delivery state.",
    "audit": "Records of the site's audit trail that name these visits or the visitor: who invited, "
             "viewed, exported or erased them.",
    "alarms": "Alarms raised about these visits (e.g. a watchlist match, on site after closing).",
    "directory": "Visitors entered in the site's directory of people by hand under the same name or "
                 "e-mail address (e.g. to hold a badge for a long stay).",
}
"""What each section of the export holds, written into the document's header."""


class PrivacyError(ValueError):
    """A request about a visitor's data that cannot be carried out; the text says why."""


class OnSiteError(PrivacyError):
    """An erasure refused because a visit is still on site."""


@dataclass(frozen=True, slots=True)
class EventEntry:
    """One stored event of a visitor, with its data as stored."""

    event_id: str
    source: str
    seq: int
    type: str
    time: datetime
    """When the device says it happened."""
    received_at: datetime
    """When the central service stored it (what the muster list and retention go by)."""
    device: str
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class InvitationEntry:
    """One stored invitation of a visitor (its secret code left out: it admits whoever holds it)."""

    visit_id: str
    visitor_name: str
    company: str | None
    email: str | None
    visitor_type: str
    host_id: str
    expected_at: datetime
    valid_until: datetime
    created_by: str
    created_at: datetime
    cancelled_at: datetime | None
    checked_in_at: datetime | None


@dataclass(frozen=True, slots=True)
class NotificationEntry:
    """One stored notification about a visit."""

    id: int
    channel: str
    target: str
    subject: str
    body: str
    payload: Mapping[str, Any]
    state: str
    created_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class AlarmEntry:
    """One alarm raised about a visit."""

    id: str
    rule: str
    summary: str
    state: str
    raised_at: datetime


@dataclass(frozen=True, slots=True)
class VisitorRecord:
    """Everything the central store holds about one visitor's visits."""

    visit_ids: tuple[str, ...]
    events: tuple[EventEntry, ...] = ()
    invitations: tuple[InvitationEntry, ...] = ()
    notifications: tuple[NotificationEntry, ...] = ()
    audit: tuple[SealedRecord, ...] = ()
    alarms: tuple[AlarmEntry, ...] = ()
    directory: tuple[Person, ...] = ()

    def counts(self) -> dict[str, int]:
        """How many entries each section holds."""
        return {"events": len(self.events), "invitations": len(self.invitations),
                "notifications": len(self.notifications), "audit": len(self.audit),
                "alarms": len(self.alarms), "directory": len(self.directory)}


@dataclass(frozen=True, slots=True)
class Terms:
    """What identifies a visitor in free text: ids (visits, events) and words (names, e-mail addresses)."""

    ids: frozenset[str] = frozenset()
    words: frozenset[str] = frozenset()


def check_visit_ids(visit_ids: Iterable[str]) -> tuple[str, ...]:
    """The visit ids, each once and sorted; PrivacyError for none, too many, or one that is not an id."""
    found = sorted(set(visit_ids))
    if not found:
        raise PrivacyError("no visit id given")
    if len(found) > MAX_VISITS:
        raise PrivacyError(f"at most {MAX_VISITS} visits at once, got {len(found)}")
    for visit_id in found:
        if not isinstance(visit_id, str) or not VISIT_ID.fullmatch(visit_id):
            raise PrivacyError(f"not a visit id: {str(visit_id)[:80]!r}")
    return tuple(found)


def check_name(name: str) -> str:
    """A visitor's name to look for, its spaces as the invitation desk stores them (single, trimmed)."""
    cleaned = " ".join(name.split())
    if not cleaned or len(cleaned) > MAX_NAME or text_fault(cleaned):
        raise PrivacyError(f"a name is 1 to {MAX_NAME} characters of text")
    return cleaned


def check_email(email: str) -> str:
    """An e-mail address to look for, trimmed; PrivacyError when it cannot be one."""
    cleaned = email.strip()
    local, at, domain = cleaned.rpartition("@")
    if not at or not local or not domain or len(cleaned) > MAX_EMAIL or text_fault(cleaned) or " " in cleaned:
        raise PrivacyError(f"not an e-mail address: {email[:80]!r}")
    return cleaned


def terms_of(record: VisitorRecord) -> Terms:
    """The visit ids, event ids, names and e-mail addresses of a visitor's record."""
    words: set[str] = set()
    for entry in record.events:
        for name in ("visitor_name", "email"):
            value = entry.data.get(name)
            if isinstance(value, str) and value.strip():
                words.add(value)
    for inv in record.invitations:
        words.update(v for v in (inv.visitor_name, inv.email) if v)
    words -= {pseudonym(v) for v in record.visit_ids}  # what retention or an erasure left: no one's name
    ids = set(record.visit_ids) | {e.event_id for e in record.events}
    return Terms(frozenset(ids), frozenset(words))


@dataclass(frozen=True, slots=True)
class _Matcher:
    """Finds a visitor's terms in text: ids as whole ids, e-mail addresses and full names as whole words.

    A one-word name ("Maria") is found only as a whole value: as a word it would find the account
    `user:maria` and put someone else's records into the visitor's export.
    """

    ids: re.Pattern[str] | None
    words: re.Pattern[str] | None
    values: frozenset[str]

    @staticmethod
    def of(terms: Terms) -> _Matcher:
        """The matcher of `terms`."""
        ids = [rf"(?<![\w-]){re.escape(i)}(?![\w-])" for i in sorted(terms.ids)]
        long = [w for w in sorted(terms.words) if "@" in w or len(w.split()) > 1]
        words = [r"(?<!\w)" + r"\s+".join(re.escape(part) for part in w.split()) + r"(?!\w)" for w in long]
        values = frozenset(w.casefold() for w in terms.words if w not in long)
        return _Matcher(re.compile("|".join(ids), re.IGNORECASE) if ids else None,
                        re.compile("|".join(words), re.IGNORECASE) if words else None, values)

    def id_in(self, text: str) -> bool:
        """Whether `text` holds one of the ids."""
        return self.ids is not None and self.ids.search(text) is not None

    def word_in(self, text: str) -> bool:
        """Whether `text` holds a full name or address, or is a one-word name."""
        return (self.words is not None and self.words.search(text) is not None) or (
            " ".join(text.split()).casefold() in self.values)


def _texts(value: Any) -> Iterable[str]:
    """Every string in a JSON value: its strings, and its objects' keys and values."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield str(key)
            yield from _texts(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _texts(item)


def audit_mentions(records: Iterable[SealedRecord], terms: Terms) -> list[SealedRecord]:
    """The audit records whose subject names an id of `terms`, or whose details name any of them."""
    match = _Matcher.of(terms)
    if match.ids is None and match.words is None and not match.values:
        return []
    return [r for r in records if match.id_in(r.subject)
            or any(match.id_in(t) or match.word_in(t) for t in _texts(dict(r.details)))]


def names_visitor(records: Iterable[SealedRecord], terms: Terms) -> list[int]:
    """Sequence numbers of the audit records that hold one of the visitor's names or e-mail addresses."""
    return [r.seq for r in audit_mentions(records, Terms(words=terms.words))]


def still_on_site(
    events: Iterable[EventEntry], now: datetime, horizon: timedelta = ON_SITE_HORIZON
) -> list[str]:
    """Visit ids checked in (received within `horizon` before `now`) and not checked out since.

    The muster list folds the same events over the same horizon, so a visit erasure refuses is
    a visit the muster list shows.
    """
    checked_in: dict[str, datetime] = {}
    checked_out: dict[str, datetime] = {}
    for entry in events:
        visit_id = entry.data.get("visit_id")
        if not isinstance(visit_id, str):
            continue
        if entry.type == CHECKED_IN:
            checked_in[visit_id] = max(entry.received_at, checked_in.get(visit_id, entry.received_at))
        elif entry.type == CHECKED_OUT:
            checked_out[visit_id] = max(entry.received_at, checked_out.get(visit_id, entry.received_at))
    return sorted(v for v, at in checked_in.items()
                  if at > now - horizon and (v not in checked_out or checked_out[v] < at))


def check_reason(reason: str, terms: Terms) -> str:
    """The erasure's reason, trimmed; PrivacyError when empty, too long, or naming the visitor.

    The reason goes into the audit chain, which is never rewritten: a name there could not be erased.
    """
    cleaned = " ".join(reason.split())
    if not cleaned:
        raise PrivacyError("give the reason for the erasure (e.g. the request's reference)")
    if len(cleaned) > MAX_REASON or text_fault(cleaned):
        raise PrivacyError(f"the reason is at most {MAX_REASON} characters of text")
    if _Matcher.of(Terms(words=terms.words)).word_in(cleaned):
        raise PrivacyError("the reason names the visitor: the audit trail keeps it for good, so leave the "
                           "name and e-mail address out (give a request reference instead)")
    return cleaned


@dataclass(frozen=True, slots=True)
class ErasureCounts:
    """What one erasure changed, per table, and the audit records it had to leave as they are."""

    events: Mapping[str, int] = field(default_factory=dict)
    """Events anonymised, by type."""
    invitations: int = 0
    """Invitations whose visitor was pseudonymised."""
    invitations_cancelled: int = 0
    """Open invitations cancelled (their code no longer admits anyone)."""
    notifications: int = 0
    """Notifications deleted (sent, given up or still waiting)."""
    notifications_pending: int = 0
    """Of those, how many were still waiting to be sent."""
    audit_kept: tuple[int, ...] = ()
    """Sequence numbers of sealed audit records that name the visitor and stay (see the module's doc)."""
    directory_kept: tuple[str, ...] = ()
    """Ids of directory people of the visitor's name or address: removed with their badges by hand."""

    @property
    def changed(self) -> int:
        """How many rows lost personal data."""
        return sum(self.events.values()) + self.invitations + self.notifications


def subject_of(visit_ids: Sequence[str]) -> str:
    """An audit subject naming the visits: `visit:<id>` or `visit:<id>,<id>` (their count when too long)."""
    joined = ",".join(visit_ids)
    return f"visit:{joined}" if len(joined) <= 290 else f"visits:{len(visit_ids)}"


def erasure_record(
    actor: str, now: datetime, visit_ids: Sequence[str], reason: str, counts: ErasureCounts
) -> AuditRecord:
    """The `visitor.erased` audit record: who, the visit ids, why and what changed; no personal data."""
    return AuditRecord(now, actor, "visitor.erased", subject_of(visit_ids), {
        "visit_ids": list(visit_ids), "reason": reason,
        "events": dict(sorted(counts.events.items())), "invitations": counts.invitations,
        "invitations_cancelled": counts.invitations_cancelled, "notifications": counts.notifications,
        "notifications_pending": counts.notifications_pending, "audit_kept": list(counts.audit_kept),
        "directory_kept": list(counts.directory_kept),
    })


def export_record(actor: str, now: datetime, record: VisitorRecord) -> AuditRecord:
    """The `visitor.exported` audit record: who, the visit ids and how many entries each section held."""
    return AuditRecord(now, actor, "visitor.exported", subject_of(record.visit_ids),
                       {"visit_ids": list(record.visit_ids), "counts": record.counts()})


def _when(value: datetime | None) -> str | None:
    return None if value is None else rfc3339(value)


def _event(entry: EventEntry) -> dict[str, Any]:
    return {"event_id": entry.event_id, "type": entry.type, "time": _when(entry.time),
            "received_at": _when(entry.received_at), "source": entry.source, "seq": entry.seq,
            "device": entry.device, "data": dict(entry.data)}


def _invitation(inv: InvitationEntry) -> dict[str, Any]:
    return {"visit_id": inv.visit_id, "visitor_name": inv.visitor_name, "company": inv.company,
            "email": inv.email, "visitor_type": inv.visitor_type, "host_id": inv.host_id,
            "expected_at": _when(inv.expected_at), "valid_until": _when(inv.valid_until),
            "created_by": inv.created_by, "created_at": _when(inv.created_at),
            "cancelled_at": _when(inv.cancelled_at), "checked_in_at": _when(inv.checked_in_at)}


def _notification(n: NotificationEntry) -> dict[str, Any]:
    return {"id": n.id, "channel": n.channel, "target": n.target, "subject": n.subject, "body": n.body,
            "payload": dict(n.payload), "state": n.state, "created_at": _when(n.created_at),
            "sent_at": _when(n.sent_at)}


def _audit(r: SealedRecord) -> dict[str, Any]:
    return {"seq": r.seq, "time": _when(r.time), "actor": r.actor, "action": r.action, "subject": r.subject,
            "details": dict(r.details)}


def _alarm(a: AlarmEntry) -> dict[str, Any]:
    return {"id": a.id, "rule": a.rule, "summary": a.summary, "state": a.state,
            "raised_at": _when(a.raised_at)}


def record_document(record: VisitorRecord, *, site: str, generated_at: datetime) -> dict[str, Any]:
    """The export as a dict: a header (site, time, visit ids, what each section is), then the sections."""
    return {
        "format": FORMAT, "site": site, "generated_at": rfc3339(generated_at),
        "visit_ids": list(record.visit_ids), "counts": record.counts(), "sections": dict(SECTIONS),
        "events": [_event(e) for e in record.events],
        "invitations": [_invitation(i) for i in record.invitations],
        "notifications": [_notification(n) for n in record.notifications],
        "audit": [_audit(r) for r in record.audit],
        "alarms": [_alarm(a) for a in record.alarms],
        "directory": [{"id": p.id, "name": p.name, "email": p.email, "kind": str(p.kind),
                       "groups": sorted(p.groups)} for p in record.directory],
    }


def record_json(record: VisitorRecord, *, site: str, generated_at: datetime) -> bytes:
    """The export as UTF-8 JSON, indented for reading; photos stay base64 as they were stored."""
    doc = record_document(record, site=site, generated_at=generated_at)
    return json.dumps(doc, ensure_ascii=False, indent=2, default=_unknown).encode("utf-8") + b"\n"


def _unknown(value: object) -> object:
    """Stored data holds JSON only; anything else (bytes from a driver) is shown, never dropped."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return str(value)
