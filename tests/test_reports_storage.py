"""The console's lists on SQLite and PostgreSQL: data put in through the real write paths, read back paged."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest

from broker.events import Event, make_event
from broker.schemas import (
    BadgePrinted,
    BadgeRead,
    Category,
    Data,
    HostNotified,
    Priority,
    VisitorAgreed,
    VisitorCheckedIn,
    VisitorCheckedOut,
    VisitorPhoto,
    VisitorType,
)
from security.office.alarms import (
    Acknowledge,
    ActionRejected,
    Alarm,
    AlarmBook,
    AlarmState,
    BookConfig,
    Condition,
    Output,
    Resolve,
    RuleName,
    Shelve,
)
from security.office.alarms.kpis import alarm_kpis
from security.office.audit import AuditRecord
from security.office.incidents import IncidentDesk, console_emitter
from security.office.visits_report import invitation_outcomes, visit_stats
from security.storage import EventStore, open_store
from security.storage.alarm_store import save_alarms
from security.storage.audit_log import append_audit
from security.storage.incident_store import open_incident
from security.storage.invitations import Invitation, add_invitation, cancel_invitation, mark_checked_in
from security.storage.reports.alarms import (
    AlarmFilter,
    alarm_life,
    iter_alarm_history,
    list_alarm_history,
    lives_for_kpis,
)
from security.storage.reports.audit import AuditFilter, iter_audit, list_audit
from security.storage.reports.incidents import IncidentFilter, iter_incidents, list_incidents
from security.storage.reports.keyset import CursorError, Page, ReportError, TimeRange
from security.storage.reports.visits import (
    VisitFilter,
    invitation_facts,
    iter_visits,
    list_visits,
    visit_detail,
    visit_facts,
)
from tests.support import query_plans

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
DAY = TimeRange(T0 - timedelta(hours=1), T0 + timedelta(days=1))
SITE = "hq"
T = TypeVar("T")


@pytest.fixture
def store(db_url: str) -> Iterator[EventStore]:
    """A migrated event log on SQLite and on PostgreSQL."""
    with open_store(db_url) as opened:
        yield opened


class Kiosk:
    """A kiosk's events with their own seqs, stored through EventStore.store_batch (insert_batch)."""

    def __init__(self, store: EventStore, device: str = "kiosk-1") -> None:
        self.store, self.device, self.seq = store, device, itertools.count(1)

    def event(self, event_type: str, data: Data) -> Event:
        return make_event(SITE, self.device, event_type, next(self.seq), data)

    def put(self, received_at: datetime, *events: Event) -> None:
        result = self.store.store_batch(list(events), received_at)
        assert len(result.stored) == len(events)


def checked_in(
    kiosk: Kiosk, n: int, *, host: str = "e-1", company: str | None = "Acme", invited: bool = False,
    vtype: VisitorType = VisitorType.GUEST, name: str | None = None,
) -> Event:
    return kiosk.event("visitor.checked_in", VisitorCheckedIn(
        visit_id=f"v-{n}", visitor_name=name or f"Visitor {n}", visitor_type=vtype, company=company,
        host_id=host, host_name=f"Host {host}", invited=invited, badge=f"0A0B{n:04d}"))


def pages(fetch: Callable[[str | None], Page[T]]) -> list[list[T]]:
    out: list[list[T]] = []
    cursor: str | None = None
    while True:
        page = fetch(cursor)
        out.append(list(page.rows))
        if page.next_cursor is None:
            return out
        cursor = page.next_cursor


def test_visits_page_through_ties_without_repeats_or_gaps(store: EventStore) -> None:
    """23 check-ins in batches of 5 sharing a receive time, read 4 at a time: each once, newest first."""
    kiosk = Kiosk(store)
    for batch in range(5):
        events = [checked_in(kiosk, 5 * batch + i) for i in range(5) if 5 * batch + i < 23]
        kiosk.put(T0 + timedelta(minutes=batch), *events)
    kiosk.put(T0 - timedelta(days=2), checked_in(kiosk, 99))  # outside the range
    with store.engine.connect() as conn:
        got = pages(lambda c: list_visits(conn, DAY, cursor=c, limit=4))
        exported = list(iter_visits(conn, DAY, page=3))
    flat = [v for page in got for v in page]
    assert [len(p) for p in got] == [4, 4, 4, 4, 4, 3]
    assert sorted(v.visit_id for v in flat) == sorted(f"v-{n}" for n in range(23))
    assert [(v.arrived_at, v.id) for v in flat] == sorted(((v.arrived_at, v.id) for v in flat), reverse=True)
    assert exported == flat


def test_visits_filter_in_sql_and_join_their_check_outs(store: EventStore) -> None:
    """Host, company, type, walk-in or invited, and text; a check-out after the check-in is joined."""
    kiosk = Kiosk(store)
    kiosk.put(T0, checked_in(kiosk, 1, host="e-1", company="Acme Sp. z o.o."),
              checked_in(kiosk, 2, host="e-2", company="Widgets 100%", invited=True, name="Łukasz Żółw"),
              checked_in(kiosk, 3, host="e-2", company=None, vtype=VisitorType.CONTRACTOR, name="Ewa Nowak"))
    kiosk.put(T0 + timedelta(hours=2), kiosk.event("visitor.checked_out",
                                                   VisitorCheckedOut(visit_id="v-1", method="qr")))
    kiosk.put(T0 + timedelta(days=32), kiosk.event("visitor.checked_out",  # past MAX_STAY: not this visit's
                                                   VisitorCheckedOut(visit_id="v-2", method="staff")))

    def ids(filters: VisitFilter) -> list[str]:
        with store.engine.connect() as conn:
            return sorted(v.visit_id for v in list_visits(conn, DAY, filters).rows)

    assert ids(VisitFilter()) == ["v-1", "v-2", "v-3"]
    assert ids(VisitFilter(host_id="e-2")) == ["v-2", "v-3"]
    assert ids(VisitFilter(company="acme")) == ["v-1"]
    assert ids(VisitFilter(company="100%")) == ["v-2"]
    assert ids(VisitFilter(company="0_")) == []  # LIKE's wildcards are escaped
    assert ids(VisitFilter(visitor_type="contractor")) == ["v-3"]
    assert ids(VisitFilter(invited=True)) == ["v-2"]
    assert ids(VisitFilter(invited=False)) == ["v-1", "v-3"]
    assert ids(VisitFilter(text="NOWAK")) == ["v-3"]
    assert ids(VisitFilter(text="ŁUKASZ")) == ["v-2"]  # not only ASCII, on SQLite too
    assert ids(VisitFilter(text="host e-1")) == ["v-1"]
    with store.engine.connect() as conn:
        rows = {v.visit_id: v for v in list_visits(conn, DAY).rows}
        stats = visit_stats(visit_facts(conn, DAY), UTC)
    assert rows["v-1"].left_at == T0 + timedelta(hours=2)
    assert rows["v-1"].checkout_method == "qr"
    assert rows["v-1"].dwell_s == 7200
    assert rows["v-2"].left_at is None
    assert (stats.arrivals, stats.invited, stats.dwell.checked_out, stats.dwell.p50_s) == (3, 1, 1, 7200)
    with pytest.raises(ReportError):
        VisitFilter(text="x" * 201)
    with pytest.raises(ReportError, match="visitor_type"):
        VisitFilter(visitor_type="vip")


def test_a_visit_detail_gathers_photo_agreement_badge_and_host_notices(store: EventStore) -> None:
    """The detail names the photo and signature events, the agreement, the print and whether the host knew."""
    kiosk, service = Kiosk(store), Kiosk(store, "central")
    photo = kiosk.event("visitor.photo", VisitorPhoto(visit_id="v-1", jpeg="QUJD", width=2, height=2))
    agreed = kiosk.event("visitor.agreed", VisitorAgreed(visit_id="v-1", agreement="guest-2026-11",
                                                         language="pl", signature="M0 0L1 1"))
    kiosk.put(T0 - timedelta(seconds=30), photo, agreed)
    kiosk.put(T0, checked_in(kiosk, 1), kiosk.event("badge.printed", BadgePrinted(
        visit_id="v-1", printer="ql-1", ok=True)))
    service.put(T0 + timedelta(seconds=5),
                service.event("host.notified", HostNotified(visit_id="v-1", host_id="e-1", channel="email",
                                                            ok=False, detail="smtp down")),
                service.event("host.notified", HostNotified(visit_id="v-1", host_id="e-1", channel="email",
                                                            ok=True)))
    kiosk.put(T0 + timedelta(seconds=6), checked_in(kiosk, 2))
    with store.engine.connect() as conn:
        detail = visit_detail(conn, "v-1")
        other = visit_detail(conn, "v-2")
        assert visit_detail(conn, "v-404") is None
    assert detail is not None
    assert other is not None
    assert (detail.photo_ref, detail.signature_ref) == (photo.id, agreed.id)
    assert (detail.agreement, detail.agreement_language) == ("guest-2026-11", "pl")
    assert detail.badge_printed is True
    assert [n.ok for n in detail.host_notices] == [False, True]
    assert detail.host_told
    assert detail.visit.badge == "0A0B0001"
    assert (other.photo_ref, other.host_told, other.badge_printed) == (None, False, None)


def test_a_cursor_is_bound_to_its_filters_and_refused_when_edited(store: EventStore) -> None:
    """A cursor from other filters, another range or edited by hand is refused; limits are checked."""
    kiosk = Kiosk(store)
    kiosk.put(T0, *(checked_in(kiosk, n) for n in range(3)))
    with store.engine.connect() as conn:
        cursor = list_visits(conn, DAY, limit=1).next_cursor
        assert cursor is not None
        assert len(list_visits(conn, DAY, cursor=cursor, limit=1).rows) == 1
        for filters, span in ((VisitFilter(host_id="e-1"), DAY), (VisitFilter(), TimeRange(T0, DAY.end))):
            with pytest.raises(CursorError):
                list_visits(conn, span, filters, cursor=cursor, limit=1)
        with pytest.raises(CursorError):
            list_visits(conn, DAY, cursor=cursor[:-3] + "abc", limit=1)
        with pytest.raises(ReportError):
            list_visits(conn, DAY, limit=501)
    with pytest.raises(ReportError, match="366 days"):
        TimeRange(T0, T0 + timedelta(days=367))


def _alarms(store: EventStore) -> dict[str, str]:
    """Alarms made by the real book and saved with save_alarms; their ids by name."""
    book, outputs = AlarmBook(BookConfig()), list[Output]()

    def apply(item: Any, at: datetime) -> str:
        nonlocal book
        book, out = book.apply(item, at)
        outputs.extend(out)
        return out[0].alarm.id if out and not isinstance(out[0], ActionRejected) else ""

    names = {
        "old": apply(Condition(RuleName.DEVICE_OFFLINE, "device-offline:gatehouse/hq/cam-1", Priority.MEDIUM,
                               "Camera offline"), T0 - timedelta(days=3)),
        "forced": apply(Condition(RuleName.DOOR_FORCED, "door-forced:door-1", Priority.HIGH, "Forced"), T0),
        "held": apply(Condition(RuleName.DOOR_HELD_OPEN, "door-held-open:door-1", Priority.LOW, "Held"), T0),
        "tamper": apply(Condition(RuleName.CAMERA_TAMPER, "camera-tamper:cam-2", Priority.HIGH, "Covered"),
                        T0 + timedelta(minutes=5)),
    }
    for n in range(6):  # ties on raised_at, to page through
        names[f"tie{n}"] = apply(Condition(RuleName.UNKNOWN_CREDENTIAL, f"unknown-credential:C{n}",
                                           Priority.LOW, f"Unknown C{n}"), T0 + timedelta(hours=1))
    apply(Acknowledge(names["forced"], "guard:maria"), T0 + timedelta(seconds=40))
    apply(Resolve(names["held"], "guard:jan", "closed"), T0 + timedelta(minutes=2))
    apply(Shelve(names["tamper"], "guard:jan", T0 + timedelta(hours=4)), T0 + timedelta(minutes=6))
    with store.engine.begin() as conn:
        changed = [o.alarm for o in outputs if not isinstance(o, ActionRejected)]
        save_alarms(conn, changed, T0 + timedelta(hours=1))
    return names


def test_alarm_history_filters_pages_and_feeds_the_kpis(store: EventStore) -> None:
    """Priority, state, rule and source filters in SQL; ties paged by number; KPIs see an older open alarm."""
    names = _alarms(store)

    def ids(filters: AlarmFilter) -> list[str]:
        with store.engine.connect() as conn:
            return [a.id for a in list_alarm_history(conn, DAY, filters).rows]

    assert set(ids(AlarmFilter())) == set(names.values()) - {names["old"]}
    assert ids(AlarmFilter(priorities=(Priority.HIGH,))) == [names["tamper"], names["forced"]]
    closing = (AlarmState.SHELVED, AlarmState.RESOLVED)
    assert ids(AlarmFilter(states=closing)) == [names["tamper"], names["held"]]
    assert ids(AlarmFilter(source="door-1")) == [names["held"], names["forced"]]
    assert ids(AlarmFilter(source="door-1", rules=("door-forced",))) == [names["forced"]]
    assert ids(AlarmFilter(source="1")) == []  # a whole source, never the end of one
    with pytest.raises(ReportError):
        AlarmFilter(rules=("no-such-rule",))
    with pytest.raises(ReportError):
        AlarmFilter(priorities=("urgent",))  # type: ignore[arg-type]
    with store.engine.connect() as conn:
        got = pages(lambda c: list_alarm_history(conn, DAY, cursor=c, limit=4))
        exported = list(iter_alarm_history(conn, DAY, page=2))
        forced = alarm_life(conn, names["forced"])
        lives = list(lives_for_kpis(conn, DAY))
    flat = [a.id for p in got for a in p]
    assert [len(p) for p in got] == [4, 4, 1]
    assert flat == [f"a-{n}" for n in range(10, 1, -1)] == [a.id for a in exported]
    assert forced is not None
    assert (forced.acknowledged_by, forced.source) == ("guard:maria", "door-1")
    assert forced.acknowledged_at == T0 + timedelta(seconds=40)
    kpis = alarm_kpis(lives, DAY.start, DAY.end, UTC)
    assert kpis.raised == 9
    assert [s.alarm_id for s in kpis.standing] == [names["old"]]
    assert kpis.shelved_at_end == ()  # the 4-hour shelve ran out before the day's end
    assert alarm_kpis(lives, DAY.start, T0 + timedelta(hours=2), UTC).shelved_at_end == (names["tamper"],)


def test_incidents_and_audit_records_list_by_state_category_text_actor_and_action(store: EventStore) -> None:
    """Incidents opened through the desk (its audit records too), paged and filtered in SQL."""
    clock = itertools.count()
    now: Callable[[], datetime] = lambda: T0 + timedelta(minutes=next(clock) // 2)  # noqa: E731 (pairs tie)
    emit = console_emitter(store, SITE, clock=now)
    desk = IncidentDesk(store.engine, site=SITE, audit_key=b"key", emit=emit, clock=now)
    opened = [desk.open(f"Tailgating at door {n}", "guard:maria", category=Category.SECURITY) if n % 2 else
              desk.open(f"Lost badge {n}", "guard:maria", category="lost_item") for n in range(7)]
    desk.note(opened[1].id, "guard:jan", "seen on camera 2")
    desk.close(opened[2].id, "manager:ola", "badge found")
    span = TimeRange(T0, T0 + timedelta(hours=1))
    with store.engine.connect() as conn:
        got = pages(lambda c: list_incidents(conn, span, cursor=c, limit=3))
        closed = list_incidents(conn, span, IncidentFilter(state="closed")).rows
        tailgating = list_incidents(conn, span, IncidentFilter(state="open", text="TAILGATING")).rows
        by_outcome = list_incidents(conn, span, IncidentFilter(text="found")).rows
        lost = pages(lambda c: list_incidents(conn, span, IncidentFilter(category="lost_item"), cursor=c,
                                              limit=2))
        lost_closed = list_incidents(conn, span,
                                     IncidentFilter(state="closed", category=Category.LOST_ITEM)).rows
        complaints = list_incidents(conn, span, IncidentFilter(category="complaint")).rows
        exported = list(iter_incidents(conn, span, page=2))
        audit_pages = pages(lambda c: list_audit(conn, span, cursor=c, limit=4))
        notes = list_audit(conn, span, AuditFilter(actor="guard:jan", action="incident.noted")).rows
        all_audit = list(iter_audit(conn, span, page=5))
    assert [i.id for p in got for i in p] == [f"i-{n}" for n in range(7, 0, -1)] == [i.id for i in exported]
    assert [i.id for i in closed] == ["i-3"]
    assert closed[0].outcome == "badge found"
    assert [i.id for i in tailgating] == ["i-6", "i-4", "i-2"]
    assert next(i for i in exported if i.id == "i-2").items == 1
    assert [i.id for i in by_outcome] == ["i-3"]
    assert [(i.id, i.category) for p in lost for i in p] == [
        (f"i-{n}", Category.LOST_ITEM) for n in (7, 5, 3, 1)]
    assert [i.id for i in lost_closed] == ["i-3"]
    assert complaints == ()
    assert {i.category for i in tailgating} == {Category.SECURITY}
    flat = [r.seq for p in audit_pages for r in p]
    assert flat == sorted(flat, reverse=True) == [r.seq for r in all_audit]
    assert len(flat) == 9
    assert [(r.actor, r.action, r.subject) for r in notes] == [("guard:jan", "incident.noted",
                                                                "incident:i-2")]
    with pytest.raises(ReportError):
        IncidentFilter(state="pending")
    with pytest.raises(ReportError, match="category: one of security, safety"):
        IncidentFilter(category="theft")
    assert IncidentFilter(category=Category.SAFETY) == IncidentFilter(category="safety")
    assert repr(IncidentFilter(category=Category.SAFETY)) == repr(IncidentFilter(category="safety"))


@pytest.mark.postgres
def test_list_queries_use_their_time_index_on_a_large_postgresql_table(pg_url: str) -> None:
    """300 days of check-ins among other events, alarms and audit records: each list reads an index."""
    with open_store(pg_url) as store:
        kiosk, reader = Kiosk(store), Kiosk(store, "reader-1")
        days = 300
        for day in range(days):
            at = T0 - timedelta(days=day)
            noise = [reader.event("badge.read", BadgeRead(credential=f"0A{n:08X}", reader=1))
                     for n in range(150)]
            kiosk.put(at, *(checked_in(kiosk, day * 100 + n) for n in range(50)), *noise)
        alarms = [Alarm(id=f"a-{n}", rule="door-forced", key=f"door-forced:d{n % 40}", priority=Priority.HIGH,
                        summary="Forced", cause=(), silent=False, raised_at=T0 - timedelta(minutes=20 * n),
                        state=AlarmState.RESOLVED) for n in range(1, 20_001)]
        records = [AuditRecord(T0 - timedelta(minutes=20 * n), "guard:maria", "person.added",
                               f"person:{n}", {}) for n in range(20_000)]
        with store.engine.begin() as conn:
            save_alarms(conn, alarms, T0)
            append_audit(conn, records)
            for n in range(3000):
                open_incident(conn, title=f"Incident {n}", by="guard:maria", at=T0 - timedelta(hours=2 * n),
                              alarm_ids=[f"a-{n + 1}"])
        with store.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
        week = TimeRange(T0 - timedelta(days=7), T0)

        def lists(conn: Any) -> None:
            page = list_visits(conn, week, VisitFilter(company="acme"), limit=50)
            list_visits(conn, week, VisitFilter(company="acme"), cursor=page.next_cursor, limit=50)
            list_alarm_history(conn, week, AlarmFilter(priorities=(Priority.HIGH,)), limit=50)
            list_audit(conn, week, AuditFilter(actor="guard:maria"), limit=50)
            list_incidents(conn, week, IncidentFilter(state="open"), limit=50)

        plans = query_plans(store.engine, lists)
    assert len(plans) == 7  # two visit pages with their check-outs, alarms, audit, incidents
    for plan in plans:
        print(plan, end="\n\n")
        assert "Index" in plan, plan
        assert "Seq Scan" not in plan, plan


def test_invitations_of_a_range_give_their_no_shows(store: EventStore) -> None:
    """Invitations stored, used and cancelled through storage; those expected in the range are read."""
    def invitation(n: int, expected: datetime) -> Invitation:
        return Invitation(visit_id=f"v-{n}", code=f"GH1:v-{n}:secret{n}", visitor_name=f"Guest {n}",
                          company=None, email=None, visitor_type="guest", host_id="e-1", expected_at=expected,
                          valid_until=expected + timedelta(hours=4), created_by="api:host", created_at=T0)

    with store.engine.begin() as conn:
        for n in range(5):
            add_invitation(conn, invitation(n, T0 + timedelta(hours=n)))
        add_invitation(conn, invitation(9, T0 + timedelta(days=3)))  # outside the range
        assert mark_checked_in(conn, "v-0", T0 + timedelta(minutes=5))
        cancel_invitation(conn, "v-1", T0)
    with store.engine.connect() as conn:
        facts = invitation_facts(conn, DAY)
    assert [f.visit_id for f in facts] == [f"v-{n}" for n in range(5)]
    out = invitation_outcomes(facts, T0 + timedelta(hours=7))  # v-2's and v-3's time ran out, v-4's not
    assert (out.invited, out.checked_in, out.cancelled, out.no_shows, out.pending) == (5, 1, 1, 2, 1)
