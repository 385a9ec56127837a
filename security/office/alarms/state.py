"""The small window of recent state the alarm rules look at, updated explicitly and never in place (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import TypeVar

from broker.events import Event
from broker.messages import Status
from broker.schemas import AccessDenied, VisitorCheckedIn, VisitorCheckedOut
from security.office.alarms.lending import LoanClosed, Loans, apply_changes, loan_changes

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class Denial:
    """One refused credential, kept while it can still count towards repeated denials."""

    at: datetime
    door: str
    credential: str
    event_id: str


@dataclass(frozen=True, slots=True)
class Visit:
    """A visitor on site: checked in and not yet out."""

    visit_id: str
    badge: str | None
    since: datetime
    event_id: str


def _frozen(items: Mapping[K, V]) -> Mapping[K, V]:
    return MappingProxyType(dict(items))


@dataclass(frozen=True, slots=True)
class RuleState:
    """Recent denials, visitors on site, revoked badges and what each device last said."""

    denials: tuple[Denial, ...] = ()
    visits: Mapping[str, Visit] = field(default_factory=lambda: MappingProxyType({}))
    revoked: frozenset[str] = frozenset()
    last_heard: Mapping[str, datetime] = field(default_factory=lambda: MappingProxyType({}))
    kinds: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    offline: frozenset[str] = frozenset()
    reported_silent: frozenset[str] = frozenset()
    reported_after_closing: frozenset[str] = frozenset()
    loans: Loans = field(default_factory=lambda: MappingProxyType({}))
    reported_overdue: frozenset[str] = frozenset()
    """Loan ids whose `item-overdue` was raised (a loan is reported once)."""

    def observe(self, event: Event, keep_denials_s: float) -> RuleState:
        """This state after `event`; denials older than `keep_denials_s` before it are dropped."""
        at = event.service_time  # the central service's clock, never the device's
        state = self._heard(event.source, at)
        data = event.data
        if isinstance(data, AccessDenied):
            horizon = at - timedelta(seconds=keep_denials_s)
            kept = tuple(d for d in state.denials if d.at >= horizon)
            state = replace(state, denials=(*kept, Denial(at, data.door, data.credential, event.id)))
        elif isinstance(data, VisitorCheckedIn):
            visits = {**state.visits, data.visit_id: Visit(data.visit_id, data.badge, at, event.id)}
            revoked = state.revoked - {data.badge} if data.badge else state.revoked
            state = replace(state, visits=_frozen(visits), revoked=revoked)
        elif isinstance(data, VisitorCheckedOut):
            visit = state.visits.get(data.visit_id)
            visits = {k: v for k, v in state.visits.items() if k != data.visit_id}
            revoked = state.revoked | {visit.badge} if visit and visit.badge else state.revoked
            state = replace(
                state,
                visits=_frozen(visits),
                revoked=revoked,
                reported_after_closing=state.reported_after_closing - {data.visit_id},
            )
        changes = loan_changes(event, state.loans)
        if changes:
            closed = {c.loan_id for c in changes if isinstance(c, LoanClosed)}
            state = replace(state, loans=apply_changes(state.loans, changes),
                            reported_overdue=state.reported_overdue - closed)
        return state

    def observe_status(self, source: str, status: Status, now: datetime) -> RuleState:
        """This state after device `source` (`gatehouse/{site}/{device}`) published `status` at `now`."""
        state = self._heard(source, now)
        kinds = _frozen({**state.kinds, source: status.kind})
        offline = state.offline | {source} if status.state == "offline" else state.offline - {source}
        return replace(state, kinds=kinds, offline=offline)

    def mark_reported(
        self, *, silent: frozenset[str] = frozenset(), after_closing: frozenset[str] = frozenset(),
        overdue: frozenset[str] = frozenset(),
    ) -> RuleState:
        """This state with more devices reported silent, visits after closing and loans overdue."""
        return replace(
            self,
            reported_silent=self.reported_silent | silent,
            reported_after_closing=self.reported_after_closing | after_closing,
            reported_overdue=self.reported_overdue | overdue,
        )

    def _heard(self, source: str, at: datetime) -> RuleState:
        previous = self.last_heard.get(source)
        if previous is not None and previous >= at and source not in self.reported_silent:
            return self
        heard = _frozen({**self.last_heard, source: max(at, previous) if previous else at})
        return replace(self, last_heard=heard, reported_silent=self.reported_silent - {source})
