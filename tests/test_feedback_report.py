"""Visitors' ratings: the pure figures, and the storage query on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from broker.schemas import VisitorCheckedOut, VisitorFeedback
from security.office.audit.retention import DEFAULT_PERSONAL, anonymise_data
from security.office.feedback_report import FeedbackFact, feedback_stats, ratings
from security.storage import EventStore, open_store
from security.storage.reports.feedback import feedback_facts
from security.storage.reports.visits import VisitFilter
from tests.test_reports_storage import DAY, T0, Kiosk, checked_in

WARSAW = ZoneInfo("Europe/Warsaw")


@pytest.fixture
def store(db_url: str) -> Iterator[EventStore]:
    """A migrated event log on SQLite and on PostgreSQL."""
    with open_store(db_url) as opened:
        yield opened


def fact(n: int, at: datetime, rating: int, host: str | None = "e-1", *,
         commented: bool = False) -> FeedbackFact:
    return FeedbackFact(f"v-{n}", at, rating, host, f"Host {host}" if host else None, commented)


def test_ratings_count_average_and_spread() -> None:
    assert ratings([5, 4, 4, 1]) == ratings([1, 4, 5, 4])
    got = ratings([5, 4, 4, 1])
    assert (got.count, got.average, got.spread) == (4, 3.5, (1, 0, 0, 2, 1))
    assert ratings([]).average is None
    with pytest.raises(ValueError, match="rating"):
        ratings([0])


def test_stats_by_local_day_and_by_host() -> None:
    late = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)  # already the 24th in Warsaw
    stats = feedback_stats([fact(1, late - timedelta(hours=3), 5), fact(2, late, 2, "e-2", commented=True),
                            fact(3, late, 4, "e-2"), fact(4, late, 3, None)], WARSAW)
    assert (stats.overall.count, stats.overall.average, stats.commented) == (4, 3.5, 1)
    assert [(d.day.isoformat(), d.ratings.count, d.ratings.average) for d in stats.days] == [
        ("2026-11-23", 1, 5.0), ("2026-11-24", 3, 3.0)]
    assert [(h.host_id, h.host_name, h.ratings.count, h.ratings.average) for h in stats.hosts] == [
        ("e-2", "Host e-2", 2, 3.0), ("e-1", "Host e-1", 1, 5.0)]


def test_ratings_are_read_with_their_visits_host_and_filters(store: EventStore) -> None:
    kiosk = Kiosk(store)
    kiosk.put(T0, checked_in(kiosk, 1, host="e-1"), checked_in(kiosk, 2, host="e-2", company="Widgets"))
    kiosk.put(T0 - timedelta(days=3), checked_in(kiosk, 3, host="e-1"))  # checked in before the range
    out = kiosk.event("visitor.checked_out", VisitorCheckedOut(visit_id="v-1", method="qr"))
    kiosk.put(T0 + timedelta(hours=2), out,
              kiosk.event("visitor.feedback", VisitorFeedback(visit_id="v-1", rating=5, language="pl",
                                                              comment="Dziękuję")),
              kiosk.event("visitor.feedback", VisitorFeedback(visit_id="v-2", rating=2, language="en")),
              kiosk.event("visitor.feedback", VisitorFeedback(visit_id="v-3", rating=4, language="id")),
              kiosk.event("visitor.feedback", VisitorFeedback(visit_id="v-404", rating=1, language="en")))
    kiosk.put(T0 + timedelta(hours=3),  # a second rating of the same visit: the first one counts
              kiosk.event("visitor.feedback", VisitorFeedback(visit_id="v-1", rating=1, language="pl")))
    kiosk.put(T0 + timedelta(days=2),  # outside the range
              kiosk.event("visitor.feedback", VisitorFeedback(visit_id="v-2", rating=5, language="en")))
    with store.engine.connect() as conn:
        every = feedback_facts(conn, DAY)
        host_2 = feedback_facts(conn, DAY, VisitFilter(host_id="e-2"))
        widgets = feedback_facts(conn, DAY, VisitFilter(company="widg"))
    assert [(f.visit_id, f.rating, f.host_id, f.commented) for f in every] == [
        ("v-1", 5, "e-1", True), ("v-2", 2, "e-2", False), ("v-3", 4, "e-1", False)]
    assert all(f.at == T0 + timedelta(hours=2) for f in every)
    assert [f.visit_id for f in host_2] == [f.visit_id for f in widgets] == ["v-2"]
    stats = feedback_stats(every, UTC)
    assert (stats.overall.count, stats.overall.average) == (3, 3.67)


def test_retention_removes_a_ratings_comment_and_keeps_the_rating() -> None:
    data = {"visit_id": "v-1", "rating": 2, "language": "pl", "comment": "Pan Kowalski był niemiły"}
    out, removed, renamed = anonymise_data(data, DEFAULT_PERSONAL["visitor.feedback"], "v-1")
    assert out == {"visit_id": "v-1", "rating": 2, "language": "pl"}
    assert (removed, renamed) == (("comment",), ())
