"""Visit figures for the managers' console: arrivals by weekday and hour, dwell times, hosts, no-shows (pure).

Storage hands in `VisitFact` and `InvitationFact` rows (one per check-in, one per invitation);
everything here is arithmetic on them, with local days and hours in the site's zone (wall-clock
hours: on the night clocks go back, the repeated hour counts twice into the same cell; on the
night they go forward, the skipped hour stays empty).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo

from security.office.alarms.kpis import percentile

TOP_HOSTS = 10


@dataclass(frozen=True, slots=True)
class VisitFact:
    """One check-in as the figures need it: when it arrived and left (service times), who for."""

    visit_id: str
    arrived_at: datetime
    left_at: datetime | None
    invited: bool
    visitor_type: str
    host_id: str | None
    host_name: str | None


@dataclass(frozen=True, slots=True)
class InvitationFact:
    """One invitation: when the visit was expected, until when it was usable, and what became of it."""

    visit_id: str
    expected_at: datetime
    valid_until: datetime
    cancelled_at: datetime | None
    checked_in_at: datetime | None


@dataclass(frozen=True, slots=True)
class DwellStats:
    """How long visitors stayed, over visits that checked out (seconds)."""

    checked_out: int
    still_in: int
    mean_s: float | None
    p50_s: float | None
    p90_s: float | None
    max_s: float | None


@dataclass(frozen=True, slots=True)
class HostVisits:
    """A host and how many visits came for them."""

    host_id: str
    host_name: str | None
    visits: int


@dataclass(frozen=True, slots=True)
class InvitationOutcomes:
    """What became of the invitations expected in a range; no-shows ran out unused and uncancelled."""

    invited: int
    checked_in: int
    cancelled: int
    no_shows: int
    pending: int


@dataclass(frozen=True, slots=True)
class VisitStats:
    """The figures of the visits that arrived in one range."""

    arrivals: int
    walk_ins: int
    invited: int
    heat: tuple[tuple[int, ...], ...]
    """heat[weekday][hour]: arrivals on that local weekday (Monday 0) and hour (0-23)."""
    dwell: DwellStats
    top_hosts: tuple[HostVisits, ...]


def arrivals_heat(arrivals: Iterable[datetime], tz: tzinfo) -> tuple[tuple[int, ...], ...]:
    """Arrivals counted by local weekday (rows, Monday first) and local hour (columns) in `tz`."""
    cells = [[0] * 24 for _ in range(7)]
    for moment in arrivals:
        if moment.tzinfo is None:
            raise ValueError(f"arrival {moment.isoformat()} has no time zone")
        local = moment.astimezone(tz)
        cells[local.weekday()][local.hour] += 1
    return tuple(tuple(row) for row in cells)


def dwell_stats(visits: Iterable[VisitFact]) -> DwellStats:
    """Dwell times of visits that checked out; a check-out stamped before its check-in is left out."""
    stays: list[float] = []
    still_in = 0
    for visit in visits:
        if visit.left_at is None:
            still_in += 1
        elif visit.left_at >= visit.arrived_at:
            stays.append((visit.left_at - visit.arrived_at).total_seconds())
    return DwellStats(
        checked_out=len(stays), still_in=still_in, mean_s=sum(stays) / len(stays) if stays else None,
        p50_s=percentile(stays, 50), p90_s=percentile(stays, 90), max_s=max(stays) if stays else None,
    )


def top_hosts(visits: Iterable[VisitFact], limit: int = TOP_HOSTS) -> tuple[HostVisits, ...]:
    """The hosts with the most visits, most first (ties by host id); a host's newest known name."""
    counts: Counter[str] = Counter()
    names: dict[str, tuple[datetime, str]] = {}
    for visit in visits:
        if visit.host_id is None:
            continue
        counts[visit.host_id] += 1
        if visit.host_name and (visit.host_id not in names or names[visit.host_id][0] <= visit.arrived_at):
            names[visit.host_id] = (visit.arrived_at, visit.host_name)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    return tuple(HostVisits(host, names[host][1] if host in names else None, n) for host, n in ranked)


def visit_stats(visits: Iterable[VisitFact], tz: tzinfo) -> VisitStats:
    """Every figure of `visits` (the check-ins of one range), local hours in `tz`."""
    facts = list(visits)
    invited = sum(1 for v in facts if v.invited)
    return VisitStats(
        arrivals=len(facts), walk_ins=len(facts) - invited, invited=invited,
        heat=arrivals_heat((v.arrived_at for v in facts), tz), dwell=dwell_stats(facts),
        top_hosts=top_hosts(facts),
    )


def outcome(invitation: InvitationFact, as_of: datetime) -> str:
    """What became of one invitation by `as_of`: `checked_in`, `cancelled`, `no_show` or `pending`."""
    if invitation.checked_in_at is not None and invitation.checked_in_at <= as_of:
        return "checked_in"
    if invitation.cancelled_at is not None and invitation.cancelled_at <= as_of:
        return "cancelled"
    return "no_show" if invitation.valid_until <= as_of else "pending"


def invitation_outcomes(invitations: Iterable[InvitationFact], as_of: datetime) -> InvitationOutcomes:
    """How many of `invitations` were checked in, cancelled, no-shows or still usable at `as_of`."""
    counts = Counter(outcome(inv, as_of) for inv in invitations)
    return InvitationOutcomes(invited=sum(counts.values()), checked_in=counts["checked_in"],
                              cancelled=counts["cancelled"], no_shows=counts["no_show"],
                              pending=counts["pending"])
