"""A visitor's data on request (GDPR Art. 15 and 17) on SQLite and PostgreSQL: found, exported, erased.

The visits are stored through the real write paths: the invitation desk (its row, its e-mail,
its audit record and `visitor.invited`), `insert_batch` with the back office's host-notice hook,
`store_batch` for the kiosk's events, the login desk's audited view of a personal record.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from broker.events import Event, make_event
from broker.schemas import (
    AccessGranted,
    BadgePrinted,
    VisitorAgreed,
    VisitorCheckedIn,
    VisitorCheckedOut,
    VisitorPhoto,
    VisitorScreened,
    VisitorType,
)
from security.accounts.login import LoginDesk, Session
from security.accounts.privacy import NotAllowedError, PrivacyDesk
from security.accounts.roles import Account, Grant, Role, Visit
from security.office.access import Person, PersonKind
from security.office.alarms import ActionRejected, AlarmBook, BookConfig, RulesConfig, RuleState, evaluate
from security.office.audit import RetentionPolicy, pseudonym, verify
from security.office.incidents import console_emitter
from security.office.invitations import InvitationDesk, mark_invited_check_ins, queue_host_notices
from security.office.notify.config import NotifyConfig
from security.office.privacy import OnSiteError, PrivacyError, record_json
from security.office.retention_job import run_retention
from security.storage import EventStore, insert_batch, open_store
from security.storage.alarm_store import save_alarms
from security.storage.audit_log import chain_head, read_chain
from security.storage.models import Base
from security.storage.people import Change, add_person
from security.storage.privacy import erase_visitor, find_visits, visitor_record

KEY = b"privacy-test-key"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
FIRST = NOW - timedelta(days=20)
SECOND = NOW - timedelta(days=3)
NAME, EMAIL, COMPANY = "Ana Łukasiewicz", "Ana.L@Example.org", "Acme Sp. z o.o."
OTHER, OTHER_EMAIL = "Piotr Nowak", "piotr@example.net"
JPEG = base64.b64encode(b"\xff\xd8\xff\xe0 a small photo of Ana \xff\xd9" * 3).decode()
SIGNATURE = "M 10 10 L 20 25 L 31 9 Z ana-signature-path"
OTHER_JPEG = base64.b64encode(b"\xff\xd8 Piotr \xff\xd9" * 3).decode()
MANAGER = Account("maria", Role.MANAGER, frozenset({Grant.EXPORT, Grant.DELETE}))


@dataclass
class Site:
    """A store with the visits of two visitors: Ana (an invited visit, then a walk-in) and Piotr."""

    store: EventStore
    first: str
    second: str
    other: str


def kiosk_visit(visit_id: str, name: str, email: str, jpeg: str, at: datetime, seq: int, *,
                 invited: bool = False, left: bool = True) -> list[Event]:
    """What a kiosk sends for one visit: check-in, photo, signature, screening, badge, a door, check-out."""
    datas: list[tuple[str, Any]] = [
        ("visitor.checked_in", VisitorCheckedIn(
            visit_id=visit_id, visitor_name=name, visitor_type=VisitorType.GUEST, company=COMPANY,
            host_id="e-1", host_name="Jan Kowalski", badge=f"{seq:08X}", invited=invited,
            photo="visitor.photo", email=email, language="pl")),
        ("visitor.photo", VisitorPhoto(visit_id=visit_id, jpeg=jpeg, width=64, height=64)),
        ("visitor.agreed", VisitorAgreed(visit_id=visit_id, agreement="guest", language="pl",
                                         signature=f"{SIGNATURE} {name}")),
        ("visitor.screened", VisitorScreened(visit_id=visit_id, result="clear")),
        ("badge.printed", BadgePrinted(visit_id=visit_id, printer="kiosk-printer", ok=True)),
        ("access.granted", AccessGranted(credential=f"{seq:08X}", door="main", person_id=visit_id)),
    ]
    if left:
        datas.append(("visitor.checked_out", VisitorCheckedOut(visit_id=visit_id, method="qr")))
    return [make_event("hq", "kiosk-1", t, seq + i, d, time=at + timedelta(minutes=i))
            for i, (t, d) in enumerate(datas)]


def _arrive(store: EventStore, events: list[Event], at: datetime) -> None:
    """Store a kiosk's events as the service does: one batch, its invitation used, host notices queued."""
    with store.engine.begin() as conn:
        stored = insert_batch(conn, events, at).stored
        assert len(stored) == len(events)
        mark_invited_check_ins(conn, stored, at)
        queue_host_notices(conn, stored, at, config=NotifyConfig(), site="hq", tz=ZoneInfo("Europe/Warsaw"))


@pytest.fixture
def site(db_url: str) -> Iterator[Site]:
    """Ana invited (e-mail queued), checked in and out; Ana again as a walk-in; Piotr once."""
    with open_store(db_url) as store:
        host = Person("e-1", "Jan Kowalski", email="jan@example.org")
        add_person(store.engine, host, Change("test", FIRST, KEY))
        emit = console_emitter(store, "hq", clock=lambda: FIRST)
        desk = InvitationDesk(store.engine, site="hq", audit_key=KEY, emit=emit, clock=lambda: FIRST)
        first = desk.invite(visitor_name=NAME, host_id="e-1", by="user:reception", company=COMPANY,
                            email=EMAIL, send_email=True).invitation.visit_id
        other = desk.invite(visitor_name=OTHER, host_id="e-1", by="user:reception", company="Nowak AG",
                            email=OTHER_EMAIL, send_email=True).invitation.visit_id
        _arrive(store, kiosk_visit(first, NAME, EMAIL, JPEG, FIRST, 1, invited=True),
                FIRST + timedelta(hours=1))
        # Ana comes back weeks later without an invitation; the kiosk wrote her name in capitals
        second = "WALKIN0002"
        _arrive(store, kiosk_visit(second, NAME.upper(), EMAIL.lower(), JPEG, SECOND, 20),
                SECOND + timedelta(hours=1))
        _arrive(store, kiosk_visit(other, OTHER, OTHER_EMAIL, OTHER_JPEG, FIRST, 40, invited=True),
                FIRST + timedelta(hours=2))
        viewer = Session(7, Account("rita", Role.RECEPTION), "csrf", NOW)
        logins = LoginDesk(store.engine, audit_key=KEY)
        day = FIRST.date()
        for viewed in (first, other):
            assert logins.open_personal_record(viewer, viewed, Visit("e-1", day), day, FIRST)
        yield Site(store, first, second, other)


def dump(store: EventStore) -> str:
    """Every row of every table as one text, in lower case (what `grep -i` over a dump would see)."""
    parts: list[str] = []
    with store.engine.connect() as conn:
        for tab in Base.metadata.sorted_tables:
            for row in conn.execute(select(tab)).mappings():
                parts.append(json.dumps(dict(row), default=str, ensure_ascii=False))
    return "\n".join(parts).casefold()


def personal(name: str, email: str, jpeg: str) -> list[str]:
    """The strings that must not remain once a visitor is erased."""
    return [name.casefold(), email.casefold(), jpeg.casefold(), f"{SIGNATURE} {name}".casefold()]


def chain_ok(store: EventStore) -> bool:
    """Whether the audit chain verifies with the site key against its stored head."""
    with store.engine.connect() as conn:
        return verify(read_chain(conn), key=KEY, expected=chain_head(conn)).ok


def visit_rows(store: EventStore, visit_id: str) -> dict[str, Any]:
    """Everything stored about one visit, in plain values, to compare before and after."""
    record = visitor_record(store.engine, [visit_id])
    return {"events": [(e.event_id, dict(e.data)) for e in record.events],
            "invitations": record.invitations, "notifications": record.notifications}


def test_a_visitor_is_found_by_visit_email_or_name_in_any_case(site: Site) -> None:
    """Both of Ana's visits answer to her e-mail and name whatever the case; Piotr's never does."""
    both = [site.first, site.second]
    assert [m.visit_id for m in find_visits(site.store.engine, email="  ana.l@EXAMPLE.org ")] == both
    assert [m.visit_id for m in find_visits(site.store.engine, name="ana   ŁUKASIEWICZ")] == both
    found = find_visits(site.store.engine, visit_id=site.first)
    assert [(m.visit_id, m.found_in) for m in found] == [(site.first, ("events", "invitations"))]
    assert found[0].first_at == FIRST
    assert find_visits(site.store.engine, name="Ana") == []
    assert find_visits(site.store.engine, visit_id="NOSUCHVISIT") == []
    for bad in ({"email": "no-at-sign"}, {"name": " "}, {"visit_id": "a b"}, {}):
        with pytest.raises(PrivacyError):
            find_visits(site.store.engine, **bad)
    with pytest.raises(PrivacyError, match="exactly one"):
        find_visits(site.store.engine, email=EMAIL, name=NAME)


def _watchlist_matches(store: EventStore, *visit_ids: str) -> None:
    """A watchlist match for each visit, raised by the alarm rules and book and stored as the runtime does."""
    book, state, raised = AlarmBook(BookConfig()), RuleState(), []
    for n, visit_id in enumerate(visit_ids):
        screened = make_event("hq", "kiosk-1", "visitor.screened", 90 + n,
                              VisitorScreened(visit_id=visit_id, result="match", score=0.9), time=FIRST)
        state, conditions = evaluate(screened, state, RulesConfig())
        for condition in conditions:
            book, outputs = book.apply(condition, FIRST)
            raised += [o.alarm for o in outputs if not isinstance(o, ActionRejected)]
    with store.engine.begin() as conn:
        save_alarms(conn, raised, FIRST)


def test_the_export_holds_every_section_of_that_visitor_only(site: Site) -> None:
    """Events with the photo as stored, the invitation, both e-mails, the audit records, her alarm."""
    _watchlist_matches(site.store, site.first, site.other)
    record = visitor_record(site.store.engine, [site.second, site.first])
    assert [(a.rule, a.summary) for a in record.alarms] == [
        ("watchlist-match", f"Watchlist match for visit {site.first} at kiosk-1")]
    assert record.visit_ids == tuple(sorted([site.first, site.second]))
    types = sorted(e.type for e in record.events)
    per_visit = ["access.granted", "badge.printed", "visitor.agreed", "visitor.checked_in",
                 "visitor.checked_out", "visitor.photo", "visitor.screened"]
    assert types == sorted([*per_visit, *per_visit, "visitor.invited"])
    visits = {e.data.get("visit_id", e.data.get("person_id")) for e in record.events}
    assert visits == {site.first, site.second}
    assert [e.data["jpeg"] for e in record.events if e.type == "visitor.photo"] == [JPEG, JPEG]
    assert [(i.visit_id, i.visitor_name, i.email) for i in record.invitations] == [(site.first, NAME, EMAIL)]
    mails = sorted((n.target, n.payload["type"]) for n in record.notifications)
    assert mails == [(EMAIL, "visitor.invitation"), ("jan@example.org", "visitor.arrived"),
                     ("jan@example.org", "visitor.arrived")]
    assert sorted((r.action, r.subject) for r in record.audit) == [
        ("invitation.created", f"visit:{site.first}"), ("personal_data.viewed", f"visit:{site.first}")]

    doc = json.loads(record_json(record, site="hq", generated_at=NOW))
    assert (doc["site"], doc["generated_at"], doc["visit_ids"]) == ("hq", "2026-11-23T12:00:00.000000Z",
                                                                    list(record.visit_ids))
    assert doc["counts"] == {"events": 15, "invitations": 1, "notifications": 3, "audit": 2, "alarms": 1,
                             "directory": 0}
    assert set(doc["sections"]) == {"events", "invitations", "notifications", "audit", "alarms", "directory"}
    assert "code" not in doc["invitations"][0]  # the QR secret admits whoever holds it
    text = json.dumps(doc, ensure_ascii=False)
    assert [p for p in (NAME, JPEG) if p not in text] == []
    assert [p for p in (OTHER, OTHER_JPEG, site.other) if p in text] == []


def test_erasure_leaves_nothing_personal_and_the_chain_intact(site: Site) -> None:
    """Name, e-mail, company, photo and signature go from every table; Piotr's visit stays as it was."""
    before_other = visit_rows(site.store, site.other)
    events_before = site.store.count_events()
    ana = personal(NAME, EMAIL, JPEG)
    assert all(p in dump(site.store) for p in ana)

    erased = erase_visitor(site.store.engine, [site.first, site.second], Change("user:maria", NOW, KEY),
                           "request DSR-2026-17")
    counts = erased.counts
    assert dict(counts.events) == {"visitor.agreed": 2, "visitor.checked_in": 2, "visitor.invited": 1,
                                   "visitor.photo": 2}
    assert (counts.invitations, counts.invitations_cancelled) == (1, 0)  # it was used at the check-in
    assert (counts.notifications, counts.notifications_pending, counts.audit_kept) == (3, 3, ())

    text = dump(site.store)
    assert [p for p in ana if p in text] == []
    assert all(p in text for p in personal(OTHER, OTHER_EMAIL, OTHER_JPEG))
    assert visit_rows(site.store, site.other) == before_other
    assert site.store.count_events() == events_before
    assert chain_ok(site.store)

    with site.store.engine.connect() as conn:
        last = list(read_chain(conn))[-1]
    assert (last.seq, last.action, last.actor) == (erased.audit_seq, "visitor.erased", "user:maria")
    assert last.details["visit_ids"] == sorted([site.first, site.second])
    assert last.details["reason"] == "request DSR-2026-17"
    assert last.details["notifications"] == 3
    # the anonymised events still read as the contract's, pseudonymised as retention does it
    names = {e.data.visit_id: e.data.visitor_name for e in site.store.query_events(
        types=["visitor.checked_in"], limit=None) if isinstance(e.data, VisitorCheckedIn)}
    assert names == {site.first: pseudonym(site.first), site.second: pseudonym(site.second),
                     site.other: OTHER}
    record = visitor_record(site.store.engine, [site.first])
    assert all(not {"company", "email", "photo", "jpeg", "signature"} & e.data.keys() for e in record.events)
    assert [e.data["visit_id"] for e in record.events if e.type == "visitor.photo"] == [site.first]


def test_erasing_again_changes_nothing_and_records_the_request(site: Site) -> None:
    """A second erasure finds nothing left and records zero counts; retention then finds nothing of hers."""
    erase_visitor(site.store.engine, [site.first, site.second], Change("user:maria", NOW, KEY), "DSR-17")
    after = {v: visit_rows(site.store, v) for v in (site.first, site.second)}
    later = Change("user:maria", NOW + timedelta(hours=1), KEY)
    again = erase_visitor(site.store.engine, [site.first], later, "DSR-17, asked again")
    assert (dict(again.counts.events), again.counts.changed, again.counts.audit_kept) == ({}, 0, ())
    assert visit_rows(site.store, site.first) == after[site.first]
    assert chain_ok(site.store)
    assert find_visits(site.store.engine, email=EMAIL) == []
    result = run_retention(site.store, RetentionPolicy(days=0), NOW + timedelta(days=1), "retention", KEY)
    assert dict(result.by_type) == {"visitor.agreed": 1, "visitor.checked_in": 1, "visitor.invited": 1,
                                    "visitor.photo": 1, "invitation": 1}  # Piotr's only (his mails wait)
    assert {v: visit_rows(site.store, v) for v in (site.first, site.second)} == after


def test_a_visitor_on_site_is_not_erased(site: Site) -> None:
    """Checked in an hour ago and not out: refused, nothing changed; a day and more later it may go."""
    onsite = "ONSITE0001"
    _arrive(site.store, kiosk_visit(onsite, NAME, EMAIL, JPEG, NOW - timedelta(hours=1), 60, left=False),
            NOW - timedelta(hours=1))
    before = dump(site.store)
    with pytest.raises(OnSiteError, match=f"visit {onsite} is still on site"):
        erase_visitor(site.store.engine, [site.first, onsite], Change("user:maria", NOW, KEY), "DSR-18")
    assert dump(site.store) == before
    later = erase_visitor(site.store.engine, [onsite], Change("user:maria", NOW + timedelta(hours=25), KEY),
                          "DSR-18")
    assert later.counts.events["visitor.checked_in"] == 1


def test_refusals_change_nothing(site: Site) -> None:
    """An unknown visit, a reason naming the visitor, an empty reason: refused before any write."""
    before = dump(site.store)
    change = Change("user:maria", NOW, KEY)
    with pytest.raises(PrivacyError, match="nothing is stored about visit NOSUCHVISIT"):
        erase_visitor(site.store.engine, [site.first, "NOSUCHVISIT"], change, "DSR-19")
    with pytest.raises(PrivacyError, match="names the visitor"):
        erase_visitor(site.store.engine, [site.first], change, f"asked by {EMAIL.upper()} on the phone")
    with pytest.raises(PrivacyError, match="names the visitor"):
        erase_visitor(site.store.engine, [site.first], change, f"{NAME.lower()} asked")
    with pytest.raises(PrivacyError, match="reason"):
        erase_visitor(site.store.engine, [site.first], change, "   ")
    with pytest.raises(PrivacyError, match="not a visit id"):
        erase_visitor(site.store.engine, ["x y"], change, "DSR-19")
    assert dump(site.store) == before


def test_an_open_invitation_is_cancelled_and_audit_records_naming_her_are_listed(site: Site) -> None:
    """A future invitation is cancelled, its visitor forgotten; a sealed record naming her stays, listed."""
    emit = console_emitter(site.store, "hq", clock=lambda: NOW)
    desk = InvitationDesk(site.store.engine, site="hq", audit_key=KEY, emit=emit, clock=lambda: NOW)
    future = desk.invite(visitor_name=NAME, host_id="e-1", by="user:reception", email=EMAIL,
                         expected_at=NOW + timedelta(days=2)).invitation.visit_id
    # someone once put her in the directory by hand: `person.added` sealed her name into the chain
    add_person(site.store.engine, Person("v-ana", NAME, PersonKind.VISITOR), Change("user:maria", NOW, KEY))
    with site.store.engine.connect() as conn:
        named = [r.seq for r in read_chain(conn) if (r.action, r.subject) == ("person.added", "person:v-ana")]
    record = visitor_record(site.store.engine, [future])
    assert named[0] in [r.seq for r in record.audit]
    assert [(p.id, p.name) for p in record.directory] == [("v-ana", NAME)]

    erased = erase_visitor(site.store.engine, [future], Change("user:maria", NOW, KEY), "DSR-20")
    assert (erased.counts.invitations, erased.counts.invitations_cancelled) == (1, 1)
    assert erased.counts.audit_kept == tuple(named)
    assert erased.counts.directory_kept == ("v-ana",)  # a directory entry is removed with its badges by hand
    found = desk.get(future)
    assert found is not None
    assert (found.state, found.visitor_name, found.email) == ("cancelled", pseudonym(future), None)
    assert desk.lookup(found.code) is None
    assert chain_ok(site.store)


def test_the_desk_asks_the_accounts_rules(site: Site) -> None:
    """Export takes a manager with `export`, erasure `delete`; an auditor's export grant is not enough."""
    desk = PrivacyDesk(site.store.engine, site="hq", audit_key=KEY)
    plain = Account("tom", Role.MANAGER)
    auditor = Account("audrey", Role.AUDITOR, frozenset({Grant.EXPORT}))
    for account in (plain, auditor, Account("gus", Role.GUARD)):
        with pytest.raises(NotAllowedError):
            desk.export(account, [site.first], NOW)
        with pytest.raises(NotAllowedError):
            desk.erase(account, [site.first], "DSR-21", NOW)
        with pytest.raises(NotAllowedError):
            desk.find(account, email=EMAIL)
    exporter = Account("eve", Role.MANAGER, frozenset({Grant.EXPORT}))
    assert [m.visit_id for m in desk.find(exporter, email=EMAIL)] == [site.first, site.second]
    doc = json.loads(desk.export_json(exporter, [site.first], NOW))
    assert doc["visit_ids"] == [site.first]
    with pytest.raises(NotAllowedError):
        desk.erase(exporter, [site.first], "DSR-21", NOW)
    erased = desk.erase(MANAGER, [site.first], "DSR-21", NOW)
    with site.store.engine.connect() as conn:
        trail = [(r.actor, r.action, r.details.get("counts")) for r in read_chain(conn)][-2:]
    assert trail == [("user:eve", "visitor.exported", doc["counts"]), ("user:maria", "visitor.erased", None)]
    assert erased.audit_seq == chain_head_seq(site.store)


def chain_head_seq(store: EventStore) -> int:
    """The chain head's sequence number."""
    with store.engine.connect() as conn:
        return chain_head(conn).seq


def test_sqlite_files_keep_no_copy_of_what_was_erased(sqlite_url: str) -> None:
    """Neither the database file nor its write-ahead log holds the erased name, address or photo."""
    photo = base64.b64encode(bytes(range(256)) * 200).decode()  # large: stored on overflow pages
    folder = Path(sqlite_url.removeprefix("sqlite:///")).parent
    with open_store(sqlite_url) as store:
        at = NOW - timedelta(days=2)
        store.store_batch(kiosk_visit("V1", "Zbigniew Qwertyuiop", "zq@example.org", photo, at, 1), at)
        store.store_batch(kiosk_visit("V2", OTHER, OTHER_EMAIL, OTHER_JPEG, at, 20), at)
        with store.engine.connect() as conn:  # another pooled connection, idle, as the service's would be
            conn.exec_driver_sql("SELECT 1")

        def copies() -> dict[str, int]:
            found = [f.read_bytes() for f in folder.iterdir()]
            return {what: sum(b.count(what.encode()) for b in found)
                    for what in ("Qwertyuiop", "zq@example.org", photo[5000:5100], OTHER)}

        assert all(copies().values())
        erase_visitor(store.engine, ["V1"], Change("user:maria", NOW, KEY), "DSR-30")
        assert copies() == {"Qwertyuiop": 0, "zq@example.org": 0, photo[5000:5100]: 0, OTHER: copies()[OTHER]}
        assert copies()[OTHER] > 0
