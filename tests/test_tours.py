"""Guard tours: the pure tracker with plain values and a clock passed in, the `[tours]` settings, and the
back office that reads checkpoints (never as access decisions) and rebuilds its rounds from the log."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from broker.config import ConfigError
from broker.events import Event, make_event
from broker.schemas import BadgeRead, CodeScanned, Data, Priority, TourCheckpoint, TourEnded, TourStarted
from security.office.alarms import RuleName
from security.office.alarms.tour_plan import Checkpoint, TagKind, Tour, TourPlan, TourSchedule
from security.office.alarms.tours import TourState, TourStep, on_read, on_tick
from security.office.config import OfficeConfig
from security.office.engine import BackOffice, Effects

T0 = datetime(2026, 12, 5, 22, 0, tzinfo=UTC)
MIN = 60.0


def minutes(n: float) -> datetime:
    """`n` minutes after T0."""
    return T0 + timedelta(minutes=n)


ROUND = Tour("night-round", (
    Checkpoint("lobby", TagKind.BADGE, "C0000001", 0, 10 * MIN),
    Checkpoint("dock", TagKind.BADGE, "C0000002", 5 * MIN, 15 * MIN),
    Checkpoint("roof", TagKind.QR, "TOUR:ROOF", 2 * MIN, 10 * MIN),
    Checkpoint("garage", TagKind.BADGE, "C0000004", 0, 10 * MIN),
))
PLAN = TourPlan((ROUND,))


class Walk:
    """A round walked through the tracker: reads and ticks in order, every record and alarm kept."""

    def __init__(self, plan: TourPlan = PLAN, state: TourState | None = None) -> None:
        self.plan, self.state = plan, state or TourState()
        self.records: list[Data] = []
        self.alarms: list[tuple[RuleName, str]] = []

    def _take(self, step: TourStep) -> TourStep:
        self.state = step.state
        self.records += step.records
        self.alarms += [(c.rule, c.key) for c in step.conditions]
        return step

    def read(self, index: int, at: datetime) -> TourStep:
        return self._take(on_read(self.state, self.plan.tours[0], index, at, f"e-{index}"))

    def tick(self, at: datetime) -> TourStep:
        return self._take(on_tick(self.plan, self.state, at))

    def outcomes(self) -> list[str]:
        return [r.outcome for r in self.records if isinstance(r, TourCheckpoint)]

    def ended(self) -> list[str]:
        return [r.outcome for r in self.records if isinstance(r, TourEnded)]


def test_a_round_read_in_order_and_in_time_completes_with_no_alarm() -> None:
    walk = Walk()
    walk.read(0, minutes(0))
    for at in (1, 2, 5, 9):
        walk.tick(minutes(at))
    walk.read(1, minutes(10))
    walk.read(2, minutes(15))
    walk.tick(minutes(20))
    walk.read(3, minutes(24))
    assert walk.alarms == []
    assert walk.outcomes() == ["on_time"] * 4
    assert walk.ended() == ["completed"]
    started = walk.records[0]
    assert isinstance(started, TourStarted)
    assert (started.run, started.slot) == ("night-round-20261205T220000Z", None)
    ended = walk.records[-1]
    assert isinstance(ended, TourEnded)
    assert (ended.reached, ended.checkpoints) == (4, 4)
    assert walk.state == TourState(started_slots=walk.state.started_slots,
                                   reported_slots=walk.state.reported_slots)  # no round left running
    walk.tick(minutes(200))
    assert walk.alarms == []  # nothing is due after a completed round


def test_a_checkpoint_read_before_its_minimum_is_early_and_the_round_goes_on() -> None:
    walk = Walk()
    walk.read(0, minutes(0))
    walk.read(1, minutes(3))  # dock: at least 5 min after the lobby
    assert walk.alarms == [(RuleName.TOUR_CHECKPOINT_EARLY, "tour-checkpoint-early:night-round:dock")]
    record = walk.records[-1]
    assert isinstance(record, TourCheckpoint)
    assert (record.outcome, record.earliest, record.latest) == ("early", minutes(5), minutes(15))
    walk.read(2, minutes(6))  # the roof's window counts from the dock's read
    assert walk.outcomes() == ["on_time", "early", "on_time"]


def test_a_checkpoint_past_its_maximum_is_missed_once_then_late_when_read() -> None:
    walk = Walk()
    walk.read(0, minutes(0))
    walk.tick(minutes(15))
    assert walk.alarms == []  # at its maximum, not past it
    walk.tick(minutes(15.5))
    walk.tick(minutes(16))
    assert walk.alarms == [(RuleName.TOUR_CHECKPOINT_MISSED, "tour-checkpoint-missed:night-round:dock")]
    walk.read(1, minutes(19))
    assert walk.alarms[-1] == (RuleName.TOUR_CHECKPOINT_LATE, "tour-checkpoint-late:night-round:dock")
    late = walk.records[-1]
    assert isinstance(late, TourCheckpoint)
    assert (late.outcome, late.late_s, late.latest) == ("late", 4 * MIN, minutes(15))
    walk.read(2, minutes(22))
    walk.read(3, minutes(23))
    assert walk.outcomes() == ["on_time", "missed", "late", "on_time", "on_time"]
    assert walk.ended() == ["completed"]


def test_a_round_whose_remaining_checkpoints_all_ran_out_is_abandoned() -> None:
    walk = Walk()
    walk.read(0, minutes(0))
    walk.tick(minutes(20))
    walk.tick(minutes(35))  # 15 + 10 + 10 of the dock, roof and garage: at the limit
    assert walk.ended() == []
    walk.tick(minutes(35.1))
    assert walk.ended() == ["abandoned"]
    assert [rule for rule, _ in walk.alarms] == [RuleName.TOUR_CHECKPOINT_MISSED]  # one alarm per stall
    walk.read(1, minutes(40))  # no round runs now
    assert walk.alarms[-1] == (RuleName.TOUR_OUT_OF_SEQUENCE, "tour-out-of-sequence:night-round")


def test_reading_ahead_is_out_of_sequence_and_the_round_goes_on_after_it() -> None:
    walk = Walk()
    walk.read(0, minutes(0))
    walk.read(2, minutes(6))  # the dock skipped
    assert walk.alarms == [(RuleName.TOUR_OUT_OF_SEQUENCE, "tour-out-of-sequence:night-round")]
    walk.read(1, minutes(8))  # going back: out of sequence again, and no progress
    assert len(walk.alarms) == 2
    walk.read(3, minutes(10))
    assert walk.outcomes() == ["on_time", "out_of_sequence", "out_of_sequence", "on_time"]
    ended = walk.records[-1]
    assert isinstance(ended, TourEnded)
    assert (ended.outcome, ended.reached) == ("completed", 3)


def test_the_first_checkpoint_read_mid_round_gives_that_round_up_and_starts_a_new_one() -> None:
    walk = Walk()
    walk.read(0, minutes(0))
    walk.read(1, minutes(6))
    walk.read(0, minutes(30))
    assert walk.alarms == [(RuleName.TOUR_OUT_OF_SEQUENCE, "tour-out-of-sequence:night-round")]
    assert walk.ended() == ["abandoned"]
    assert [type(r).__name__ for r in walk.records[-3:]] == ["TourEnded", "TourStarted", "TourCheckpoint"]
    assert walk.state.rounds["night-round"].run == "night-round-20261205T223000Z"
    assert walk.state.rounds["night-round"].position == 1


def test_a_repeat_of_the_last_read_is_ignored() -> None:
    walk = Walk()
    walk.read(0, minutes(0))
    step = walk.read(0, minutes(0.1))
    assert (step.records, step.conditions) == ((), ())


def test_a_round_must_start_at_its_first_checkpoint() -> None:
    walk = Walk()
    walk.read(1, minutes(0))
    assert walk.alarms == [(RuleName.TOUR_OUT_OF_SEQUENCE, "tour-out-of-sequence:night-round")]
    assert walk.state.rounds == {}


JAKARTA = ZoneInfo("Asia/Jakarta")  # UTC+7: 22:00 local is 15:00 UTC
NIGHT = Tour("night-round", ROUND.checkpoints,
             TourSchedule(every_s=120 * MIN, start=time(22, 0), end=time(6, 0), tz=JAKARTA))
SCHEDULED = TourPlan((NIGHT,), tz=JAKARTA)
DUE = datetime(2026, 12, 5, 15, 0, tzinfo=UTC)  # 22:00 in Jakarta, a round due


def test_the_schedule_runs_past_midnight_in_the_sites_zone() -> None:
    schedule = NIGHT.schedule
    assert schedule is not None
    assert schedule.latest(DUE - timedelta(seconds=1)) == DUE - timedelta(hours=18)  # 04:00 local
    assert schedule.latest(DUE) == DUE
    assert schedule.latest(DUE + timedelta(hours=5)) == DUE + timedelta(hours=4)  # 02:00 local
    assert schedule.following(DUE + timedelta(hours=7, minutes=1)) == DUE + timedelta(days=1)  # not 06:00
    assert schedule.following(DUE) == DUE + timedelta(hours=2)


def test_a_scheduled_round_never_started_raises_not_started_once() -> None:
    walk = Walk(SCHEDULED)
    walk.tick(DUE + timedelta(minutes=10))  # the lobby's maximum, not past it
    assert walk.alarms == []
    walk.tick(DUE + timedelta(minutes=11))
    walk.tick(DUE + timedelta(minutes=30))
    assert walk.alarms == [(RuleName.TOUR_NOT_STARTED, "tour-not-started:night-round")]
    ended = walk.records[-1]
    assert isinstance(ended, TourEnded)
    assert (ended.outcome, ended.slot, ended.run) == ("not_started", DUE, None)
    walk.read(0, DUE + timedelta(minutes=40))  # started late, for the round it belongs to
    started = next(r for r in walk.records if isinstance(r, TourStarted))
    assert started.slot == DUE
    assert walk.alarms[-1] == (RuleName.TOUR_CHECKPOINT_LATE, "tour-checkpoint-late:night-round:lobby")
    walk.tick(DUE + timedelta(hours=2, minutes=11))  # the next round is due and not started either
    assert walk.alarms[-1][0] == RuleName.TOUR_NOT_STARTED
    assert walk.ended() == ["not_started", "abandoned", "not_started"]


def test_a_scheduled_round_started_on_time_raises_nothing_and_counts_as_started() -> None:
    walk = Walk(SCHEDULED)
    walk.read(0, DUE + timedelta(minutes=3))
    walk.tick(DUE + timedelta(minutes=12))
    assert walk.alarms == []
    assert walk.state.started_slots == {"night-round": DUE}


def test_a_scheduled_round_started_again_is_a_round_of_its_own() -> None:
    walk = Walk(SCHEDULED)
    walk.read(0, DUE)
    walk.read(1, DUE + timedelta(minutes=6))
    walk.read(0, DUE + timedelta(minutes=30))
    started = [r for r in walk.records if isinstance(r, TourStarted)]
    assert [s.slot for s in started] == [DUE, None]
    assert [r for r, _ in walk.alarms] == [RuleName.TOUR_OUT_OF_SEQUENCE]  # not late, not early as well


def test_a_scheduled_round_started_before_it_is_due_is_early() -> None:
    walk = Walk(SCHEDULED)
    walk.read(0, DUE - timedelta(minutes=5))
    assert walk.alarms == [(RuleName.TOUR_CHECKPOINT_EARLY, "tour-checkpoint-early:night-round:lobby")]
    walk.tick(DUE + timedelta(minutes=11))
    assert RuleName.TOUR_NOT_STARTED not in [r for r, _ in walk.alarms]  # that round was started


def test_the_state_is_its_records_applied_again_at_any_point() -> None:
    walk = Walk()
    walk.read(0, minutes(0))
    walk.tick(minutes(16))  # dock missed
    for i, _ in enumerate(walk.records):
        rebuilt = TourState()
        for record in walk.records[: i + 1]:
            assert isinstance(record, TourStarted | TourCheckpoint | TourEnded)
            rebuilt = rebuilt.apply(record)
    assert rebuilt == walk.state
    again = Walk(state=rebuilt)
    again.tick(minutes(17))
    assert again.alarms == []  # the miss was reported before the restart: not again
    again.read(1, minutes(18))
    assert again.alarms == [(RuleName.TOUR_CHECKPOINT_LATE, "tour-checkpoint-late:night-round:dock")]


# the [tours] settings
def settings(**tour: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"name": "night-round", "checkpoints": [
        {"name": "lobby", "badge": "c0000001", "device": "reader-1"},
        {"name": "roof", "qr": "TOUR:ROOF", "min_minutes": 2, "max_minutes": 10},
    ]}
    return {"access": {"readers": [{"device": "reader-1", "reader": 1, "door": "main-door"}]},
            "alarms": {"timezone": "Asia/Jakarta"},
            "tours": {"priorities": {"missed": "critical"}, "tour": [{**base, **tour}]}}


def test_the_tours_section_gives_the_trackers_plan() -> None:
    schedule = {"every_minutes": 120, "start": "22:00", "end": "06:00"}
    config = OfficeConfig.from_document(settings(schedule=schedule))
    plan = config.tours.plan(JAKARTA)
    [tour] = plan.tours
    assert tour.checkpoints[0] == Checkpoint("lobby", TagKind.BADGE, "C0000001", 0, 15 * MIN, "reader-1")
    assert tour.checkpoints[1] == Checkpoint("roof", TagKind.QR, "TOUR:ROOF", 2 * MIN, 10 * MIN)
    assert tour.schedule == TourSchedule(120 * MIN, time(22), time(6), frozenset(range(7)), JAKARTA)
    assert tour.priorities.missed == Priority.CRITICAL
    assert plan.find(TagKind.BADGE, "C0000001", "reader-1") == (tour, 0)
    assert plan.find(TagKind.BADGE, "C0000001", "reader-2") is None  # that checkpoint's reader only
    assert plan.find(TagKind.QR, "TOUR:ROOF", "scanner-9") == (tour, 1)


@pytest.mark.parametrize(("document", "message"), [
    (settings(checkpoints=[{"name": "a", "badge": "C1"}, {"name": "b", "badge": "C1"}]),
     "badge tag C1 is on both night-round/a and night-round/b"),
    (settings(checkpoints=[{"name": "a", "badge": "C1", "min_minutes": 10, "max_minutes": 5}]),
     "max_minutes 5 is less than min_minutes 10"),
    (settings(checkpoints=[{"name": "a", "badge": "C1", "device": "reader-7"}]),
     "checkpoint night-round/a: unknown device reader-7"),
    (settings(checkpoints=[{"name": "a", "badge": "C1", "qr": "X"}]), "give exactly one of badge or qr"),
    (settings(checkpoints=[{"name": "a", "badge": "not-hex"}]), "is not a credential value"),
    (settings(checkpoints=[{"name": "a", "badge": "C1"}, {"name": "a", "qr": "X"}]), "a listed twice"),
    (settings(schedule={"every_minutes": 60, "start": "22:00", "end": "06:00", "days": [7]}), "days are 0"),
    (settings(checkpoints=[]), "at least 1 item"),
    (settings(name="n" * 48), "a tour name has at most 47 characters"),
    ({"alarms": {"rules": {"tour-checkpoint-missed": {"priority": "high"}}}}, "unknown rule"),
])
def test_tours_settings_that_cannot_work_are_refused_with_a_clear_error(
    document: dict[str, Any], message: str,
) -> None:
    with pytest.raises(ConfigError, match=message):
        OfficeConfig.from_document(document)


def test_a_device_listed_elsewhere_in_the_file_or_under_tours_devices_is_known() -> None:
    far = settings(checkpoints=[{"name": "a", "badge": "C1", "device": "reader-7"}])
    OfficeConfig.from_document({**far, "devices": {"rdm6300": [{"name": "reader-7", "port": "/dev/x"}]}})
    far["tours"]["devices"] = ["reader-7"]
    OfficeConfig.from_document(far)


def test_the_longest_tour_name_still_makes_a_valid_round_id() -> None:
    config = OfficeConfig.from_document(settings(name="n" * 47))
    [tour] = config.tours.plan(UTC).tours
    step = on_read(TourState(), tour, 0, T0, "e-1")
    started = step.records[0]
    assert isinstance(started, TourStarted)
    assert len(started.run) == 64


def test_turning_tours_off_ends_running_rounds_and_reads_tags_as_badges() -> None:
    walk = Walk()
    walk.read(0, minutes(0))
    off = TourPlan(PLAN.tours, enabled=False)
    assert off.find(TagKind.BADGE, "C0000001", "reader-1") is None
    walk.plan = off
    walk.tick(minutes(30))
    assert (walk.ended(), walk.alarms) == (["abandoned"], [])


def test_two_tours_may_not_share_a_name() -> None:
    doc = settings()
    doc["tours"]["tour"].append({"name": "night-round", "checkpoints": [{"name": "x", "badge": "C9"}]})
    with pytest.raises(ConfigError, match="tour night-round is listed twice"):
        OfficeConfig.from_document(doc)


# in the back office
SITE = "hq"
OFFICE = OfficeConfig.from_document({
    "access": {"readers": [{"device": "reader-1", "reader": 1, "door": "main-door"}],
               "doors": {"main-door": "door-1"}},
    "tours": {"tour": [{"name": "night-round", "checkpoints": [
        {"name": "lobby", "badge": "C0000001"},
        {"name": "roof", "qr": "TOUR:ROOF", "device": "scanner-1", "max_minutes": 10},
        {"name": "dock", "badge": "C0000002", "max_minutes": 10},
    ]}]},
    "devices": {"scanner": [{"name": "scanner-1"}]},
})


class Office:
    """A back office fed with reads; its own events kept, as the service stores them."""

    def __init__(self) -> None:
        self.seqs, self.own = itertools.count(1), itertools.count(1)
        self.office = BackOffice(OFFICE, self.emit)
        self.log: list[Event] = []

    def emit(self, event_type: str, data: Data) -> Event:
        event = make_event(SITE, "central", event_type, next(self.own), data)
        self.log.append(event)
        return event

    def badge(self, credential: str, at: datetime) -> Effects:
        event = make_event(SITE, "reader-1", "badge.read", next(self.seqs),
                           BadgeRead(credential=credential, reader=1), time=at)
        return self.office.on_event(event, at)

    def scan(self, code: str, at: datetime, device: str = "scanner-1") -> Effects:
        event = make_event(SITE, device, "code.scanned", next(self.seqs),
                           CodeScanned(code=code, scanner=device), time=at)
        return self.office.on_event(event, at)


def rules(fx: Effects) -> list[str]:
    return [a.rule for a in fx.alarms.values()]


def test_a_checkpoint_badge_is_a_place_not_a_person_it_opens_nothing_and_raises_no_unknown_badge() -> None:
    site = Office()
    fx = site.badge("C0000001", T0)
    assert [e.type for e in fx.events] == ["tour.started", "tour.checkpoint"]
    assert (fx.commands, fx.alarms) == ([], {})
    for at in range(3):  # repeated reads would be repeated denials if they were decided
        assert site.badge("C0000001", minutes(at)).alarms == {}
    other = site.badge("FFFFFFFF", minutes(1))  # a badge that is no checkpoint is still decided
    assert [e.type for e in other.events][:1] == ["access.denied"]
    assert RuleName.UNKNOWN_CREDENTIAL in rules(other)


def test_a_qr_checkpoint_counts_only_at_its_scanner() -> None:
    site = Office()
    site.badge("C0000001", T0)
    assert site.scan("TOUR:ROOF", minutes(2), device="scanner-2").events == []  # not this checkpoint
    fx = site.scan("TOUR:ROOF", minutes(3))
    assert [e.type for e in fx.events] == ["tour.checkpoint"]


def test_a_missed_checkpoint_raises_its_alarm_from_the_tick_and_a_restart_keeps_the_round() -> None:
    site = Office()
    site.badge("C0000001", T0)
    assert site.office.tick(minutes(10)).alarms == {}
    fx = site.office.tick(minutes(11))
    [alarm] = fx.alarms.values()
    assert (alarm.rule, alarm.priority, alarm.key) == (
        RuleName.TOUR_CHECKPOINT_MISSED, Priority.HIGH, "tour-checkpoint-missed:night-round:roof")
    assert "tour.checkpoint" in [e.type for e in fx.events]

    restarted = Office()  # a new back office that reads the log again, as the runtime does at start
    for event in site.log:
        restarted.office.replay(event)
    assert restarted.office.state.tours == site.office.state.tours
    assert restarted.office.tick(minutes(12)).alarms == {}  # the miss is not raised twice
    late = restarted.scan("TOUR:ROOF", minutes(13))
    assert rules(late) == [RuleName.TOUR_CHECKPOINT_LATE]
    done = restarted.badge("C0000002", minutes(14))
    assert [e.type for e in done.events] == ["tour.checkpoint", "tour.ended"]
