"""Visit figures with plain values: local hours across clock changes, dwell times, hosts, no-shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from security.office.visits_report import (
    InvitationFact,
    VisitFact,
    arrivals_heat,
    dwell_stats,
    invitation_outcomes,
    outcome,
    top_hosts,
    visit_stats,
)

WARSAW = ZoneInfo("Europe/Warsaw")
T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # a Monday, 09:00 in Warsaw


def visit(n: int, arrived: datetime, left: datetime | None = None, *, invited: bool = False,
          host: str | None = "e-1", name: str | None = "Budi") -> VisitFact:
    return VisitFact(f"v-{n}", arrived, left, invited, "guest", host, name)


def test_heat_bins_by_local_weekday_and_hour() -> None:
    """09:00 Warsaw on a Monday lands in [0][9]; the UTC hour is not used."""
    heat = arrivals_heat([T0, T0 + timedelta(minutes=59), T0 + timedelta(days=6, hours=14)], WARSAW)
    assert heat[0][9] == 2
    assert heat[6][23] == 1
    assert sum(map(sum, heat)) == 3
    assert len(heat) == 7
    assert all(len(row) == 24 for row in heat)


def test_heat_counts_the_repeated_hour_twice_and_leaves_the_skipped_one_empty() -> None:
    """25 Oct 2026 02:30 happens twice in Warsaw; 29 Mar 2026 has no 02:00 hour."""
    autumn = [datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 10, 25, 1, 30, tzinfo=UTC)]
    heat = arrivals_heat(autumn, WARSAW)
    assert heat[6][2] == 2  # a Sunday, both at 02:30 local
    spring = [datetime(2026, 3, 29, 0, 30, tzinfo=UTC), datetime(2026, 3, 29, 1, 30, tzinfo=UTC)]
    heat = arrivals_heat(spring, WARSAW)
    assert (heat[6][1], heat[6][2], heat[6][3]) == (1, 0, 1)
    with pytest.raises(ValueError, match="no time zone"):
        arrivals_heat([datetime(2026, 1, 1, 9, 0)], WARSAW)


def test_dwell_counts_checked_out_visits_and_leaves_a_backwards_one_out() -> None:
    """Stays of 1 h and 3 h; one still in; a check-out stamped before its check-in is left out."""
    facts = [visit(1, T0, T0 + timedelta(hours=1)), visit(2, T0, T0 + timedelta(hours=3)), visit(3, T0),
             visit(4, T0, T0 - timedelta(minutes=1))]
    dwell = dwell_stats(facts)
    assert (dwell.checked_out, dwell.still_in) == (2, 1)
    assert dwell.mean_s == 2 * 3600
    assert (dwell.p50_s, dwell.p90_s, dwell.max_s) == (3600, 3 * 3600, 3 * 3600)
    one = dwell_stats([visit(1, T0, T0 + timedelta(minutes=20))])
    assert one.p50_s == one.p90_s == one.max_s == 1200
    none = dwell_stats([])
    assert (none.checked_out, none.mean_s, none.p50_s, none.max_s) == (0, None, None, None)


def test_top_hosts_rank_by_visits_with_the_newest_name() -> None:
    """Most visits first, ties by host id; a visit with no host is not counted."""
    facts = [visit(1, T0, host="e-2", name="Old"), visit(2, T0 + timedelta(hours=1), host="e-2", name="New"),
             visit(3, T0, host="e-1"), visit(4, T0, host="e-3", name=None), visit(5, T0, host=None)]
    ranked = top_hosts(facts)
    assert [(h.host_id, h.host_name, h.visits) for h in ranked] == [
        ("e-2", "New", 2), ("e-1", "Budi", 1), ("e-3", None, 1)]
    assert top_hosts(facts, limit=1) == ranked[:1]


def test_visit_stats_split_walk_ins_from_invited() -> None:
    """All figures at once; no visits gives zeros."""
    stats = visit_stats([visit(1, T0, invited=True), visit(2, T0), visit(3, T0)], WARSAW)
    assert (stats.arrivals, stats.walk_ins, stats.invited) == (3, 2, 1)
    assert stats.heat[0][9] == 3
    empty = visit_stats([], WARSAW)
    assert (empty.arrivals, empty.walk_ins, empty.invited, empty.top_hosts) == (0, 0, 0, ())


def test_invitation_outcomes_find_no_shows_at_a_moment() -> None:
    """Ran out unused and uncancelled: a no-show; still usable: pending; later events do not count yet."""
    def inv(n: int, *, cancelled: datetime | None = None, checked_in: datetime | None = None,
            until: timedelta = timedelta(hours=8)) -> InvitationFact:
        return InvitationFact(f"v-{n}", T0, T0 + until, cancelled, checked_in)

    facts = [inv(1, checked_in=T0), inv(2, cancelled=T0 - timedelta(hours=1)), inv(3), inv(4),
             inv(5, until=timedelta(days=2)), inv(6, checked_in=T0 + timedelta(days=5))]
    out = invitation_outcomes(facts, T0 + timedelta(days=1))
    assert (out.invited, out.checked_in, out.cancelled, out.no_shows, out.pending) == (6, 1, 1, 3, 1)
    assert invitation_outcomes([], T0).invited == 0
    assert [outcome(f, T0 + timedelta(days=1)) for f in facts] == [
        "checked_in", "cancelled", "no_show", "no_show", "pending", "no_show"]
