"""The guard-tour tracker: checkpoint reads and the clock in; round records and alarm conditions out (pure).

Its state changes only by applying its own records (`tour.started`, `tour.checkpoint`, `tour.ended`),
which the service stores in the event log: replaying them after a restart gives the same state.

A round's next checkpoint must be read between its `min` and `max` after the previous one was read
(the first one of a scheduled round: after the round was due). Read in order and in time it moves the
round on; before `min` it is early, after `max` late (and `missed` was raised when `max` went by);
read ahead of the next one it is out of sequence and the round goes on after it; read again right
after, it is a repeat and ignored. A round whose remaining checkpoints' `max` all went by is abandoned;
so is one whose first checkpoint is read again (out of sequence), and a new round starts.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, tzinfo
from types import MappingProxyType

from broker.schemas import TourCheckpoint, TourEnded, TourOutcome, TourStarted
from security.office.alarms.conditions import Condition, RuleName
from security.office.alarms.tour_plan import Tour, TourPlan

log = logging.getLogger(__name__)

TourRecord = TourStarted | TourCheckpoint | TourEnded
"""What the tracker records of a round (the data of its events)."""
RECORD_TYPES: Mapping[type[TourRecord], str] = MappingProxyType(
    {TourStarted: "tour.started", TourCheckpoint: "tour.checkpoint", TourEnded: "tour.ended"})
"""The event type of each record."""


@dataclass(frozen=True, slots=True)
class Round:
    """A running round of a tour: the next checkpoint expected and when its window opened."""

    tour: str
    run: str
    slot: datetime | None
    reference: datetime
    position: int = 0
    reached: int = 0
    missed_reported: bool = False


@dataclass(frozen=True, slots=True)
class TourState:
    """Running rounds per tour, and the latest scheduled round started and reported not started."""

    rounds: Mapping[str, Round] = field(default_factory=lambda: MappingProxyType({}))
    started_slots: Mapping[str, datetime] = field(default_factory=lambda: MappingProxyType({}))
    reported_slots: Mapping[str, datetime] = field(default_factory=lambda: MappingProxyType({}))

    def apply(self, record: TourRecord) -> TourState:
        """This state after `record` (also how the state is rebuilt from the log)."""
        rounds = dict(self.rounds)
        if isinstance(record, TourStarted):
            rounds[record.tour] = Round(record.tour, record.run, record.slot, record.slot or record.at)
            started = self.started_slots
            if record.slot is not None:
                started = MappingProxyType({**started, record.tour: record.slot})
            return replace(self, rounds=MappingProxyType(rounds), started_slots=started)
        current = rounds.get(record.tour)
        if isinstance(record, TourCheckpoint):
            if current is None or current.run != record.run:
                return self
            if record.outcome == "missed":
                if record.index == current.position:
                    rounds[record.tour] = replace(current, missed_reported=True)
            elif record.index >= current.position:
                rounds[record.tour] = replace(current, position=record.index + 1, reference=record.at,
                                              reached=current.reached + 1, missed_reported=False)
            return replace(self, rounds=MappingProxyType(rounds))
        if current is not None and current.run == record.run:
            del rounds[record.tour]
        reported = self.reported_slots
        if record.outcome == "not_started" and record.slot is not None:
            reported = MappingProxyType({**reported, record.tour: record.slot})
        return replace(self, rounds=MappingProxyType(rounds), reported_slots=reported)


@dataclass(frozen=True, slots=True)
class TourStep:
    """What one read or tick did: the new state, the records to store and the conditions found."""

    state: TourState
    records: tuple[TourRecord, ...] = ()
    conditions: tuple[Condition, ...] = ()


class _Builder:
    """Collects records (applying each to the state) and conditions of one step."""

    def __init__(self, state: TourState) -> None:
        self.state = state
        self.records: list[TourRecord] = []
        self.conditions: list[Condition] = []

    def record(self, record: TourRecord) -> None:
        self.state = self.state.apply(record)
        self.records.append(record)

    def alarm(self, rule: RuleName, key: str, tour: Tour, summary: str, cause: tuple[str, ...]) -> None:
        priority = {
            RuleName.TOUR_CHECKPOINT_EARLY: tour.priorities.early,
            RuleName.TOUR_CHECKPOINT_LATE: tour.priorities.late,
            RuleName.TOUR_CHECKPOINT_MISSED: tour.priorities.missed,
            RuleName.TOUR_OUT_OF_SEQUENCE: tour.priorities.out_of_sequence,
            RuleName.TOUR_NOT_STARTED: tour.priorities.not_started,
        }[rule]
        self.conditions.append(Condition(rule, f"{rule}:{key}", priority, summary, cause))

    def step(self) -> TourStep:
        return TourStep(self.state, tuple(self.records), tuple(self.conditions))


def _run_id(tour: Tour, at: datetime) -> str:
    return f"{tour.name}-{at.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def _slot_for(tour: Tour, state: TourState, now: datetime) -> datetime | None:
    """The scheduled round a start at `now` belongs to: the one due now if not started, else the next.

    None (an unscheduled round) when neither is within one period of `now`.
    """
    schedule = tour.schedule
    if schedule is None:
        return None
    every = timedelta(seconds=schedule.every_s)
    started = state.started_slots.get(tour.name)
    latest = schedule.latest(now)
    if latest is not None and now - latest < every and (started is None or started < latest):
        return latest
    following = schedule.following(now)
    if following is not None and following - now <= every and (started is None or started < following):
        return following
    return None


def on_read(state: TourState, tour: Tour, index: int, at: datetime, cause: str) -> TourStep:
    """Checkpoint `index` of `tour` was read at `at` (event `cause`)."""
    out = _Builder(state)
    checkpoint = tour.checkpoints[index]
    current = state.rounds.get(tour.name)
    again = current is not None and index == 0 and current.position >= 2
    if current is not None and again:
        _given_up(out, tour, current, at, cause)
        current = None
    if current is None:
        if index != 0:
            first = tour.checkpoints[0].name
            out.record(TourCheckpoint(tour=tour.name, checkpoint=checkpoint.name, index=index,
                                      outcome="out_of_sequence", at=at))
            out.alarm(RuleName.TOUR_OUT_OF_SEQUENCE, tour.name, tour,
                      f"Tour {tour.name}: checkpoint {checkpoint.name} read with no round running "
                      f"(a round starts at {first})", (cause,))
            return out.step()
        slot = None if again else _slot_for(tour, out.state, at)  # a round started again is one of its own
        out.record(TourStarted(tour=tour.name, run=_run_id(tour, slot or at), at=at, slot=slot))
        current = out.state.rounds[tour.name]
        log.info("tour %s: round %s started", tour.name, current.run)
    position = current.position
    if index == position:
        _in_order(out, tour, current, index, at=at, cause=cause)
    elif index == position - 1:
        log.debug("tour %s: checkpoint %s read again; a repeat", tour.name, checkpoint.name)
        return out.step()
    else:
        expected = tour.checkpoints[position].name
        out.record(TourCheckpoint(tour=tour.name, run=current.run, checkpoint=checkpoint.name, index=index,
                                  outcome="out_of_sequence", at=at))
        skipped = f", {index - position} skipped" if index > position else ", read before"
        out.alarm(RuleName.TOUR_OUT_OF_SEQUENCE, tour.name, tour,
                  f"Tour {tour.name}: checkpoint {checkpoint.name} read when {expected} was due{skipped}",
                  (cause,))
    after = out.state.rounds.get(tour.name)
    if after is not None and after.position >= len(tour.checkpoints):
        out.record(TourEnded(tour=tour.name, run=after.run, outcome="completed", at=at, reached=after.reached,
                             checkpoints=len(tour.checkpoints), slot=after.slot))
        log.info("tour %s: round %s completed (%d of %d read)", tour.name, after.run, after.reached,
                 len(tour.checkpoints))
    return out.step()


def _given_up(out: _Builder, tour: Tour, current: Round, at: datetime, cause: str) -> None:
    """The first checkpoint read again mid-round: that round is abandoned (out of sequence)."""
    count = len(tour.checkpoints)
    out.record(TourEnded(tour=tour.name, run=current.run, outcome="abandoned", at=at, reached=current.reached,
                         checkpoints=count, slot=current.slot))
    out.alarm(RuleName.TOUR_OUT_OF_SEQUENCE, tour.name, tour,
              f"Tour {tour.name}: started again after {current.reached} of {count} checkpoints", (cause,))
    log.warning("tour %s: round %s given up after %d of %d checkpoints; a new round starts", tour.name,
                current.run, current.reached, count)


def _in_order(out: _Builder, tour: Tour, current: Round, index: int, *, at: datetime, cause: str) -> None:
    """The due checkpoint was read: on time, early or late."""
    checkpoint = tour.checkpoints[index]
    earliest = latest = None
    outcome: TourOutcome = "on_time"
    late_s: float | None = None
    if index > 0 or current.slot is not None:  # a round started by hand has no window for its first read
        earliest = current.reference + timedelta(seconds=checkpoint.min_s)
        latest = current.reference + timedelta(seconds=checkpoint.max_s)
        if at < earliest:
            outcome = "early"
        elif at > latest:
            outcome, late_s = "late", (at - latest).total_seconds()
    out.record(TourCheckpoint(tour=tour.name, run=current.run, checkpoint=checkpoint.name, index=index,
                              outcome=outcome, at=at, earliest=earliest, latest=latest, late_s=late_s))
    key = f"{tour.name}:{checkpoint.name}"
    if outcome == "early" and earliest is not None:
        early = (earliest - at).total_seconds() / 60
        out.alarm(RuleName.TOUR_CHECKPOINT_EARLY, key, tour,
                  f"Tour {tour.name}: checkpoint {checkpoint.name} read {early:.0f} min early", (cause,))
    elif outcome == "late" and late_s is not None:
        out.alarm(RuleName.TOUR_CHECKPOINT_LATE, key, tour,
                  f"Tour {tour.name}: checkpoint {checkpoint.name} read {late_s / 60:.0f} min late", (cause,))


def on_tick(plan: TourPlan, state: TourState, now: datetime) -> TourStep:
    """The clock: missed checkpoints, abandoned rounds, scheduled rounds not started."""
    out = _Builder(state)
    for name, current in sorted(state.rounds.items()):
        tour = plan.tour(name) if plan.enabled else None
        if tour is None or current.position >= len(tour.checkpoints):
            count = len(tour.checkpoints) if tour is not None else max(current.position, 1)
            out.record(TourEnded(tour=name, run=current.run, outcome="abandoned", at=now,
                                 reached=current.reached, checkpoints=count, slot=current.slot))
            log.warning("tour %s: round %s ended: the tour changed or was turned off in [tours]", name,
                        current.run)
            continue
        _overdue(out, tour, current, now, plan.tz)
    if plan.enabled:
        for tour in plan.tours:
            _not_started(out, tour, now, plan.tz)
    return out.step()


def _overdue(out: _Builder, tour: Tour, current: Round, now: datetime, tz: tzinfo) -> None:
    """The due checkpoint's `max` went by (missed), or every remaining one's did (abandoned)."""
    checkpoint = tour.checkpoints[current.position]
    latest = current.reference + timedelta(seconds=checkpoint.max_s)
    if now > latest and not current.missed_reported:
        out.record(TourCheckpoint(tour=tour.name, run=current.run, checkpoint=checkpoint.name,
                                  index=current.position, outcome="missed", at=now,
                                  earliest=current.reference + timedelta(seconds=checkpoint.min_s),
                                  latest=latest))
        out.alarm(RuleName.TOUR_CHECKPOINT_MISSED, f"{tour.name}:{checkpoint.name}", tour,
                  f"Tour {tour.name}: checkpoint {checkpoint.name} not read by {latest.astimezone(tz):%H:%M}",
                  ())
        log.warning("tour %s: checkpoint %s missed in round %s", tour.name, checkpoint.name, current.run)
    remaining = sum(c.max_s for c in tour.checkpoints[current.position:])
    if now > current.reference + timedelta(seconds=remaining):
        out.record(TourEnded(tour=tour.name, run=current.run, outcome="abandoned", at=now,
                             reached=current.reached, checkpoints=len(tour.checkpoints), slot=current.slot))
        log.warning("tour %s: round %s abandoned after %d of %d checkpoints", tour.name, current.run,
                    current.reached, len(tour.checkpoints))


def _not_started(out: _Builder, tour: Tour, now: datetime, tz: tzinfo) -> None:
    """A scheduled round whose first checkpoint's `max` went by unread."""
    if tour.schedule is None:
        return
    slot = tour.schedule.latest(now)
    if slot is None or now <= slot + timedelta(seconds=tour.checkpoints[0].max_s):
        return
    started = out.state.started_slots.get(tour.name)
    reported = out.state.reported_slots.get(tour.name)
    if (started is not None and started >= slot) or (reported is not None and reported >= slot):
        return
    out.record(TourEnded(tour=tour.name, outcome="not_started", at=now, reached=0,
                         checkpoints=len(tour.checkpoints), slot=slot))
    out.alarm(RuleName.TOUR_NOT_STARTED, tour.name, tour,
              f"Tour {tour.name}: the round due at {slot.astimezone(tz):%H:%M} was not started", ())
    log.warning("tour %s: the round due at %s was not started", tour.name, slot.isoformat())
