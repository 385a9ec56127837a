"""A visitor's personal data on request: find their visits, read everything about them, erase it.

Rows stay here: callers get `VisitMatch` and the entries of `security.office.privacy`. Erasure
reuses the nightly retention's writers (`rewrite_event_data`, `forget_visitors`) and its pure
treatment (`anonymise_records`), and runs in one transaction that starts by taking the audit
chain's lock, as retention does, so the two never plan on the same rows. Who may do either is
decided above, by `security.accounts.privacy`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, delete, func, or_, select, update

from broker.schemas import SCHEMAS
from security.office.access import Person, PersonKind
from security.office.alarms.conditions import RuleName
from security.office.audit import anonymise_records, pseudonym
from security.office.privacy import (
    ON_SITE_HORIZON,
    AlarmEntry,
    ErasureCounts,
    EventEntry,
    InvitationEntry,
    NotificationEntry,
    OnSiteError,
    PrivacyError,
    Terms,
    VisitorRecord,
    audit_mentions,
    check_email,
    check_name,
    check_reason,
    check_visit_ids,
    erasure_record,
    export_record,
    names_visitor,
    still_on_site,
    terms_of,
)
from security.storage import office_models  # noqa: F401  (registers the tables)
from security.storage.audit_log import append_audit, lock_head, read_chain
from security.storage.directory import person_from_row
from security.storage.engine import writing
from security.storage.models import table
from security.storage.people import Change
from security.storage.retention import forget_visitors, rewrite_event_data

log = logging.getLogger(__name__)

EVENTS = table("events")
INVITATIONS = table("invitations")
NOTIFICATIONS = table("notifications")
ALARMS = table("alarms")
PEOPLE = table("people")
VISIT_TYPES = tuple(sorted(t for t, model in SCHEMAS.items() if "visit_id" in model.model_fields))
"""Event types that name a visit in `visit_id` (from the contract)."""
PERSON_TYPES = tuple(sorted(t for t, model in SCHEMAS.items() if "person_id" in model.model_fields))
"""Event types that name a person in `person_id`: a visitor's badge is the visit's id there."""
NAMED_TYPES = ("visitor.checked_in", "visitor.invited")
"""Event types that carry a visitor's name and e-mail address."""


@dataclass(frozen=True, slots=True)
class VisitMatch:
    """One visit of a visitor that was looked for: its id, when it was first stored, and where."""

    visit_id: str
    first_at: datetime
    found_in: tuple[str, ...]
    """`events`, `invitations` or both."""


@dataclass(frozen=True, slots=True)
class Erasure:
    """What one erasure did, and the sequence number of its `visitor.erased` audit record."""

    visit_ids: tuple[str, ...]
    counts: ErasureCounts
    audit_seq: int


def _field(name: str) -> ColumnElement[str]:
    found: ColumnElement[str] = EVENTS.c.data[name].as_string()
    return found


def _lower(column: ColumnElement[Any]) -> ColumnElement[str]:
    lowered: ColumnElement[str] = func.lower(column)
    return lowered


def find_visits(
    engine: Engine, *, visit_id: str | None = None, email: str | None = None, name: str | None = None,
) -> list[VisitMatch]:
    """A visitor's visits, by one visit id, or by e-mail address or exact name in any case; oldest first.

    Names and addresses are looked for in check-ins, invitation events and invitations; an erased
    visit no longer answers to them (only to its id).
    """
    if sum(x is not None for x in (visit_id, email, name)) != 1:
        raise PrivacyError("look a visitor up by exactly one of: visit id, e-mail address, name")
    found: dict[str, tuple[datetime, set[str]]] = {}

    def add(rows: Sequence[Any], where: str) -> None:
        for row in rows:
            if not isinstance(row.visit_id, str) or not row.visit_id:
                continue
            first, places = found.get(row.visit_id, (row.at, set()))
            found[row.visit_id] = (min(first, row.at), places | {where})

    with engine.connect() as conn:
        if visit_id is not None:
            wanted = check_visit_ids([visit_id])[0]
            ev_match, inv_match = _field("visit_id") == wanted, INVITATIONS.c.visit_id == wanted
            types = VISIT_TYPES
        else:
            column, text = ("email", check_email(email)) if email is not None else (
                "visitor_name", check_name(name or ""))
            ev_match = _lower(_field(column)) == text.lower()
            inv_match = _lower(INVITATIONS.c[column]) == text.lower()
            types = NAMED_TYPES
        add(conn.execute(select(_field("visit_id").label("visit_id"), EVENTS.c.received_at.label("at"))
                         .where(EVENTS.c.type.in_(types), ev_match)).all(), "events")
        add(conn.execute(select(INVITATIONS.c.visit_id, INVITATIONS.c.created_at.label("at"))
                         .where(inv_match)).all(), "invitations")
    return sorted((VisitMatch(v, at, tuple(sorted(places))) for v, (at, places) in found.items()),
                  key=lambda m: (m.first_at, m.visit_id))


def _events(conn: Connection, visit_ids: Sequence[str]) -> list[tuple[int, EventEntry]]:
    """Row keys and entries of every stored event of these visits, in storage order."""
    named = (EVENTS.c.type.in_(VISIT_TYPES) & _field("visit_id").in_(list(visit_ids)))
    badges = (EVENTS.c.type.in_(PERSON_TYPES) & _field("person_id").in_(list(visit_ids)))
    query = (select(EVENTS.c.id, EVENTS.c.event_id, EVENTS.c.source, EVENTS.c.seq, EVENTS.c.type,
                    EVENTS.c.time, EVENTS.c.received_at, EVENTS.c.device, EVENTS.c.data)
             .where(or_(named, badges)).order_by(EVENTS.c.id))
    return [(int(r.id), EventEntry(r.event_id, r.source, int(r.seq), r.type, r.time, r.received_at, r.device,
                                   dict(r.data) if isinstance(r.data, dict) else {"stored": r.data}))
            for r in conn.execute(query)]


def _invitations(conn: Connection, visit_ids: Sequence[str]) -> list[InvitationEntry]:
    query = (select(INVITATIONS).where(INVITATIONS.c.visit_id.in_(list(visit_ids)))
             .order_by(INVITATIONS.c.created_at, INVITATIONS.c.visit_id))
    return [InvitationEntry(r.visit_id, r.visitor_name, r.company, r.email, r.visitor_type, r.host_id,
                            r.expected_at, r.valid_until, r.created_by, r.created_at, r.cancelled_at,
                            r.checked_in_at)
            for r in conn.execute(query)]


def _about(visit_ids: Sequence[str]) -> ColumnElement[bool]:
    """Notifications whose payload names one of these visits (host notices, invitation e-mails)."""
    visit: ColumnElement[str] = NOTIFICATIONS.c.payload["visit_id"].as_string()
    return visit.in_(list(visit_ids))


def _notifications(conn: Connection, visit_ids: Sequence[str]) -> list[NotificationEntry]:
    query = select(NOTIFICATIONS).where(_about(visit_ids)).order_by(NOTIFICATIONS.c.id)
    return [NotificationEntry(int(r.id), r.channel, r.target, r.subject, r.body, dict(r.payload), r.state,
                              r.created_at, r.sent_at)
            for r in conn.execute(query)]


def _alarms(conn: Connection, visit_ids: Sequence[str]) -> list[AlarmEntry]:
    """Alarms whose key is a rule's and one of these visits' (`watchlist-match:<visit id>`)."""
    keys = [f"{rule}:{visit_id}" for rule in RuleName for visit_id in visit_ids]
    query = select(ALARMS).where(ALARMS.c.key.in_(keys)).order_by(ALARMS.c.number)
    return [AlarmEntry(r.id, r.rule, r.summary, r.state, r.raised_at) for r in conn.execute(query)]


def _directory(conn: Connection, terms: Terms) -> list[Person]:
    """Visitors of the directory whose name or e-mail address is one of `terms`' words, any case."""
    words = sorted({w.lower() for w in terms.words})
    if not words:
        return []
    query = (select(PEOPLE).where(PEOPLE.c.kind == str(PersonKind.VISITOR),
                                  or_(_lower(PEOPLE.c.name).in_(words), _lower(PEOPLE.c.email).in_(words)))
             .order_by(PEOPLE.c.id))
    found: list[Any] = list(conn.execute(query).all())  # Core rows have PersonRow's attribute names
    return [person_from_row(r) for r in found]


def _read(conn: Connection, visit_ids: tuple[str, ...]) -> tuple[list[int], VisitorRecord]:
    """The row keys of the events, and the visitor's record without the audit section."""
    rows = _events(conn, visit_ids)
    record = VisitorRecord(visit_ids, tuple(e for _, e in rows), tuple(_invitations(conn, visit_ids)),
                           tuple(_notifications(conn, visit_ids)), (), tuple(_alarms(conn, visit_ids)))
    return [key for key, _ in rows], replace(record, directory=tuple(_directory(conn, terms_of(record))))


def visitor_record(engine: Engine, visit_ids: Sequence[str]) -> VisitorRecord:
    """Everything stored about these visits: events, invitations, notifications, audit records, alarms.

    The audit section holds the records that name a visit, one of its events, or the visitor's
    name or e-mail address as a whole word; finding those reads the whole chain once.
    """
    wanted = check_visit_ids(visit_ids)
    with engine.connect() as conn:
        _, record = _read(conn, wanted)
        audit = tuple(audit_mentions(read_chain(conn), terms_of(record)))
    return replace(record, audit=audit)


def erase_visitor(
    engine: Engine, visit_ids: Sequence[str], change: Change, reason: str, *,
    on_site_horizon: timedelta = ON_SITE_HORIZON,
) -> Erasure:
    """Erase a visitor's personal data from these visits, with one `visitor.erased` audit record.

    In one transaction: their events are anonymised as retention does it, their invitations
    pseudonymised (open ones cancelled), notifications about them deleted. Refused (OnSiteError)
    while a visit is on site: the muster list needs their name until they leave. Erasing again
    changes nothing and records the request with zero counts. Raises PrivacyError for a visit
    nothing is stored about, or a reason that names the visitor.
    """
    wanted = check_visit_ids(visit_ids)
    with writing(engine) as conn:
        lock_head(conn)  # the audit chain's lock first, as retention takes it: never both on one row
        keys, record = _read(conn, wanted)
        unknown = sorted(set(wanted) - {e.data.get("visit_id") for e in record.events}
                         - {i.visit_id for i in record.invitations})
        if unknown:
            raise PrivacyError(f"nothing is stored about visit {', '.join(unknown)}")
        present = still_on_site(record.events, change.now, on_site_horizon)
        if present:
            raise OnSiteError(f"visit {', '.join(present)} is still on site: check the visitor out first "
                              "(the muster list names everyone on site)")
        terms = terms_of(record)
        why = check_reason(reason, terms)
        changes = anonymise_records({"id": e.event_id, "type": e.type, "time": e.received_at, "data": e.data}
                                    for e in record.events)
        rewrite_event_data(conn, [(keys[c.index], c.data) for c in changes])
        by_type: dict[str, int] = {}
        for c in changes:
            by_type[c.type] = by_type.get(c.type, 0) + 1
        named = [i.visit_id for i in record.invitations
                 if (i.visitor_name, i.company, i.email) != (pseudonym(i.visit_id), None, None)]
        forget_visitors(conn, {v: pseudonym(v) for v in named})
        cancelled = conn.execute(update(INVITATIONS).where(
            INVITATIONS.c.visit_id.in_(list(wanted)), INVITATIONS.c.cancelled_at.is_(None),
            INVITATIONS.c.checked_in_at.is_(None)).values(cancelled_at=change.now)).rowcount
        pending = sum(n.state == "pending" for n in record.notifications)
        deleted = conn.execute(delete(NOTIFICATIONS).where(_about(wanted))).rowcount
        counts = ErasureCounts(by_type, len(named), int(cancelled or 0), int(deleted or 0), pending,
                               tuple(names_visitor(read_chain(conn), terms)),
                               tuple(p.id for p in record.directory))
        sealed = append_audit(conn, [erasure_record(change.actor, change.now, wanted, why, counts)],
                              key=change.audit_key)
    log.info("visitor data of %d visit(s) erased by %s: %d row(s) changed (audit record %d)",
             len(wanted), change.actor, counts.changed, sealed[-1].seq)
    _checkpoint(engine)
    return Erasure(wanted, counts, sealed[-1].seq)


def _checkpoint(engine: Engine) -> None:
    """On SQLite, move the write-ahead log into the database and empty it: it still holds the old pages.

    Freed space in the database itself is zeroed by SQLite's secure_delete (set at connect, see
    `security.storage.engine`). A reader still open keeps the log from being emptied; that is
    logged, and the next checkpoint overwrites it. PostgreSQL keeps old row versions until VACUUM.
    """
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as conn:
        # the driver's own connection: SQLAlchemy's would BEGIN first, and a checkpoint needs none open
        found = conn.connection.dbapi_connection
        assert found is not None
        busy, frames, moved = found.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    if busy:
        log.warning("the SQLite write-ahead log was not emptied after an erasure (%s of %s pages copied, "
                    "a reader is open): it holds the erased rows until the next checkpoint", moved, frames)


def audit_export(engine: Engine, record: VisitorRecord, change: Change) -> int:
    """Append the `visitor.exported` audit record of `record` in a transaction of its own; its seq."""
    with writing(engine) as conn:
        sealed = append_audit(conn, [export_record(change.actor, change.now, record)], key=change.audit_key)
    return sealed[-1].seq
