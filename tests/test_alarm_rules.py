"""Table-driven tests of every alarm rule: what fires, what does not, and thresholds at their edges."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import pytest

from broker.events import Event, make_event
from broker.messages import Status
from broker.schemas import (
    AccessDenied,
    AccessGranted,
    BadgeRead,
    Box,
    CameraMotion,
    CameraPerson,
    CameraTamper,
    Data,
    DeliveryGap,
    DenyReason,
    DeviceFault,
    DoorChange,
    Priority,
    TamperKind,
    VisitorCheckedIn,
    VisitorCheckedOut,
    VisitorScreened,
    VisitorType,
)
from security.office.alarms import (
    Condition,
    DoorHeldOpenConfig,
    RepeatedDenialsConfig,
    RuleName,
    RulesConfig,
    RuleState,
    WatchlistConfig,
    ZoneHoursConfig,
    ZoneSchedule,
    evaluate,
    evaluate_status,
    tick,
)
from security.office.alarms.conditions import MAX_SUMMARY

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday, 10:00 UTC
BOX = Box(x=0.1, y=0.1, w=0.2, h=0.5)
ZONES = ZoneHoursConfig(zones=(ZoneSchedule("yard", time(7), time(19)),))


def ev(event_type: str, data: Data, at: float = 0.0, device: str = "dev-1", n: int = 1) -> Event:
    """An event of `device` at T0 + `at` seconds, with id e-{n}."""
    when = T0 + timedelta(seconds=at)
    return make_event("lobby", device, event_type, n, data, time=when, event_id=f"e-{n}")


def deny(at: float, door: str = "main", cred: str = "AA") -> Data:
    """Access denied data (the time is given to `ev`)."""
    return AccessDenied(credential=cred, door=door, reason=DenyReason.NO_RIGHTS)


def run(
    events: list[Event], config: RulesConfig | None = None, state: RuleState | None = None
) -> list[Condition]:
    """Feed `events` in order; the conditions the last one raised."""
    state, found = state or RuleState(), tuple[Condition, ...]()
    for event in events:
        state, found = evaluate(event, state, config or RulesConfig())
    return list(found)


def keys(found: list[Condition] | tuple[Condition, ...]) -> list[str]:
    """The alarm keys of `found`."""
    return [c.key for c in found]


def denials(times: list[float], door: str = "main", cred: str = "AA", **kw: str) -> list[Event]:
    """One access.denied per time, numbered in order."""
    data = AccessDenied(credential=cred, door=door, reason=DenyReason.NO_RIGHTS)
    return [ev("access.denied", data, at, n=i + 1) for i, at in enumerate(times)]


CHECKIN = VisitorCheckedIn(visit_id="v-1", visitor_name="Ana", visitor_type=VisitorType.GUEST, badge="B1")
CHECKOUT = VisitorCheckedOut(visit_id="v-1", method="qr")
RD = RulesConfig(repeated_denials=RepeatedDenialsConfig(count=3, window_s=60))
HOURS = RulesConfig(zone_hours=ZONES)
NOON = 2 * 3600.0  # 12:00 on Monday: in hours
EVENING = 9 * 3600.0  # 19:00 on Monday: closed


def with_rule(name: str, **changes: object) -> RulesConfig:
    """The default config with one rule's settings changed."""
    defaults = RulesConfig()
    return replace(defaults, **{name: replace(getattr(defaults, name), **changes)})


def unknown(reason: DenyReason = DenyReason.UNKNOWN_CREDENTIAL) -> Event:
    """A refused credential 0A at the main door."""
    return ev("access.denied", AccessDenied(credential="0A", door="main", reason=reason))


def at_doors(creds: str, doors: str) -> list[Event]:
    """Three denials 0, 5 and 9 s apart, one per (credential, door) pair."""
    return [
        ev("access.denied", deny(0, door=d, cred=c), at, n=i + 1)
        for i, (c, d, at) in enumerate(zip(creds.split(), doors.split(), (0, 5, 9), strict=True))
    ]


def person(at: float, confidence: float = 0.9, zone: str = "yard") -> Event:
    """A person seen by camera c1 in `zone`."""
    return ev("camera.person", CameraPerson(camera="c1", confidence=confidence, box=BOX, zone=zone), at)


def motion(at: float, score: float) -> Event:
    """Motion seen by camera c1 in the yard."""
    return ev("camera.motion", CameraMotion(camera="c1", score=score, zone="yard"), at)


def visit_then(*last: Event, out: bool = True) -> list[Event]:
    """Visitor v-1 checks in with badge B1 (and out), then `last`."""
    events = [ev("visitor.checked_in", CHECKIN, 0, "kiosk-1", 1)]
    if out:
        events.append(ev("visitor.checked_out", CHECKOUT, 10, "kiosk-1", 2))
    return [*events, *last]


READ_B1 = ev("badge.read", BadgeRead(credential="B1", reader=1), 20, "reader-1", 1)
CHECKIN_2 = ev("visitor.checked_in", CHECKIN.model_copy(update={"visit_id": "v-2"}), 15, "kiosk-1", 3)
GRANT_B1 = ev("access.granted", AccessGranted(credential="B1", door="main"), 20, "reader-1", 1)
PRINTER = with_rule("printer_fault", printers=frozenset({"printer-1"}))
BOTH = ["repeated-denials:door:main", "repeated-denials:credential:AA"]
GAP = DeliveryGap(for_source="gatehouse/lobby/reader-1", missing_from=4, missing_to=6)


def screened(result: str, score: float | None = None) -> Event:
    """A watchlist result for visit v-9 at kiosk-1."""
    data = VisitorScreened.model_validate({"visit_id": "v-9", "result": result, "score": score})
    return ev("visitor.screened", data, 0, "kiosk-1")


def fault(kind: str, device: str = "printer-1", cleared: bool = False) -> Event:
    """A device fault of `device`."""
    return ev("device.fault", DeviceFault.model_validate({"fault": kind, "cleared": cleared}), 0, device)


def held(seconds: float) -> Event:
    """Door bay held open for `seconds`."""
    return ev("door.held_open", DoorChange(door="bay", duration_s=seconds))


def tamper(kind: TamperKind) -> Event:
    """Camera cam-yard tampered with."""
    return ev("camera.tamper", CameraTamper(camera="cam-yard", kind=kind))


HELD_30 = RulesConfig(door_held_open=DoorHeldOpenConfig(min_duration_s=30))

CASES: list[tuple[str, list[Event], RulesConfig, list[str]]] = [
    ("unknown credential fires", [unknown()], RulesConfig(), ["unknown-credential:0A"]),
    ("other deny reason is not unknown", [unknown(DenyReason.EXPIRED)], RulesConfig(), []),
    ("unknown credential disabled", [unknown()], with_rule("unknown_credential", enabled=False), []),
    ("two denials are below 3", denials([0, 10]), RD, []),
    ("three denials within the window", denials([0, 10, 20]), RD, BOTH),
    ("first denial exactly 60 s before still counts", denials([0, 30, 60]), RD, BOTH),
    ("first denial 60.001 s before is out", denials([0, 30, 60.001]), RD, []),
    ("same door, different credentials", at_doors("A1 A2 A3", "main main main"), RD,
     ["repeated-denials:door:main"]),
    ("same credential, different doors", at_doors("AA AA AA", "d1 d2 d3"), RD,
     ["repeated-denials:credential:AA"]),
    ("checked-out visitor's badge read", visit_then(READ_B1), RulesConfig(), ["revoked-badge:B1"]),
    ("checked-in visitor's badge is fine", visit_then(READ_B1, out=False), RulesConfig(), []),
    ("badge re-issued to a new visitor", visit_then(CHECKIN_2, READ_B1), RulesConfig(), []),
    ("grant of a revoked badge not watched by default", visit_then(GRANT_B1), RulesConfig(), []),
    ("grant of a revoked badge when watched", visit_then(GRANT_B1),
     with_rule("revoked_badge", event_types=frozenset({"access.granted"})), ["revoked-badge:B1"]),
    ("door forced", [ev("door.forced", DoorChange(door="server-room"))], RulesConfig(),
     ["door-forced:server-room"]),
    ("door opened is normal", [ev("door.opened", DoorChange(door="server-room"))], RulesConfig(), []),
    ("door held open", [held(65)], RulesConfig(), ["door-held-open:bay"]),
    ("held open exactly at the minimum", [held(30)], HELD_30, ["door-held-open:bay"]),
    ("held open just under the minimum", [held(29.9)], HELD_30, []),
    ("camera covered", [tamper(TamperKind.COVERED)], RulesConfig(), ["camera-tamper:cam-yard"]),
    ("camera moved not watched", [tamper(TamperKind.MOVED)],
     with_rule("camera_tamper", kinds=frozenset({TamperKind.COVERED})), []),
    ("person in zone at 19:00 (closed)", [person(EVENING)], HOURS, ["zone-after-hours:yard"]),
    ("person in zone at 18:59:59 (open)", [person(EVENING - 1)], HOURS, []),
    ("person in zone at 07:00 (open)", [person(-3 * 3600)], HOURS, []),
    ("person in zone at 06:59:59 (closed)", [person(-3 * 3600 - 1)], HOURS, ["zone-after-hours:yard"]),
    ("person in zone on Sunday noon", [person(NOON - 86400)], HOURS, ["zone-after-hours:yard"]),
    ("person in an unscheduled zone", [person(EVENING, zone="lobby")], HOURS, []),
    ("person at 0.49 confidence ignored", [person(EVENING, confidence=0.49)], HOURS, []),
    ("motion at the minimum score after hours", [motion(EVENING, 0.2)], HOURS, ["zone-after-hours:yard"]),
    ("motion below the minimum score", [motion(EVENING, 0.19)], HOURS, []),
    ("motion not watched when disabled", [motion(EVENING, 0.9)],
     RulesConfig(zone_hours=replace(ZONES, include_motion=False)), []),
    ("watchlist match", [screened("match")], RulesConfig(), ["watchlist-match:v-9"]),
    ("watchlist clear", [screened("clear")], RulesConfig(), []),
    ("watchlist error", [screened("error")], RulesConfig(), []),
    ("watchlist match under min score", [screened("match", 0.69)], with_rule("watchlist", min_score=0.7), []),
    ("watchlist match at min score", [screened("match", 0.7)], with_rule("watchlist", min_score=0.7),
     ["watchlist-match:v-9"]),
    ("delivery gap", [ev("delivery.gap", GAP, 0, "central")], RulesConfig(),
     ["delivery-gap:gatehouse/lobby/reader-1"]),
    ("printer paper out", [fault("paper_out")], PRINTER, ["printer-fault:gatehouse/lobby/printer-1"]),
    ("printer no answer", [fault("no_answer")], PRINTER, ["printer-fault:gatehouse/lobby/printer-1"]),
    ("printer fault cleared", [fault("paper_out", cleared=True)], PRINTER, []),
    ("power fault is not a printer fault", [fault("power")], PRINTER, []),
    ("paper out from a device not known as printer", [fault("paper_out", "reader-1")], RulesConfig(), []),
]


@pytest.mark.parametrize(("events", "config", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_event_rules(events: list[Event], config: RulesConfig, expected: list[str]) -> None:
    """Each rule fires exactly for its cases."""
    assert keys(run(events, config)) == expected


def test_conditions_carry_priority_cause_and_silence() -> None:
    """A condition names its rule, priority from config, the causing event, and silence."""
    (match,) = run([ev("visitor.screened", VisitorScreened(visit_id="v-9", result="match"), 0, "kiosk-1", 7)])
    assert (match.rule, match.priority, match.cause, match.silent) == (
        RuleName.WATCHLIST_MATCH, Priority.CRITICAL, ("e-7",), True)
    config = RulesConfig(watchlist=WatchlistConfig(priority=Priority.HIGH, silent=False))
    (loud,) = run([ev("visitor.screened", VisitorScreened(visit_id="v-9", result="match"))], config)
    assert (loud.priority, loud.silent) == (Priority.HIGH, False)
    door, _ = run(denials([0, 1, 2]), RD)
    assert door.cause == ("e-1", "e-2", "e-3")


def test_printer_known_by_status_kind() -> None:
    """A device whose status said kind=printer is a printer."""
    online = Status("online", "printer")
    state, _ = evaluate_status("gatehouse/lobby/printer-9", online, T0, RuleState(), RulesConfig())
    found = run([ev("device.fault", DeviceFault(fault="head_open"), 1, "printer-9")], state=state)
    assert keys(found) == ["printer-fault:gatehouse/lobby/printer-9"]


SRC = "gatehouse/lobby/door-1"


def test_device_offline_once_until_back_online() -> None:
    """Offline raises once; offline again raises nothing; after online, offline raises again."""
    cfg, state = RulesConfig(), RuleState()
    state, first = evaluate_status(SRC, Status("offline", "door", detail="lost"), T0, state, cfg)
    state, again = evaluate_status(SRC, Status("offline", "door"), T0, state, cfg)
    state, online = evaluate_status(SRC, Status("online", "door"), T0, state, cfg)
    state, later = evaluate_status(SRC, Status("offline", "door"), T0, state, cfg)
    assert keys(first) == [f"device-offline:{SRC}"]
    assert "lost" in first[0].summary
    assert (again, online, keys(later)) == ((), (), [f"device-offline:{SRC}"])


@pytest.mark.parametrize(
    ("silent_for", "fires"), [(899.999, False), (900.0, True), (3600.0, True)], ids=["under", "at", "over"]
)
def test_device_silent_threshold(silent_for: float, fires: bool) -> None:
    """A device with nothing for 900 s (the default) is silent, at the edge included."""
    state, _ = evaluate_status(SRC, Status("online", "door"), T0, RuleState(), RulesConfig())
    state, found = tick(T0 + timedelta(seconds=silent_for), state, RulesConfig())
    assert keys(list(found)) == ([f"device-silent:{SRC}"] if fires else [])


def test_device_silent_reported_once_and_again_after_heard() -> None:
    """Silence is reported once; an event resets it; an offline device is not also silent."""
    cfg = RulesConfig()
    state, _ = evaluate_status(SRC, Status("online", "door"), T0 - timedelta(seconds=5), RuleState(), cfg)
    state, _ = evaluate(ev("door.opened", DoorChange(door="d"), 0, "door-1"), state, cfg)
    state, first = tick(T0 + timedelta(seconds=1000), state, cfg)
    state, second = tick(T0 + timedelta(seconds=2000), state, cfg)
    state, _ = evaluate(ev("door.closed", DoorChange(door="d"), 2001, "door-1", 2), state, cfg)
    state, quiet = tick(T0 + timedelta(seconds=2100), state, cfg)
    state, third = tick(T0 + timedelta(seconds=2901), state, cfg)
    assert (len(first), second, quiet, len(third)) == (1, (), (), 1)
    state, _ = evaluate_status(SRC, Status("offline", "door"), T0 + timedelta(seconds=3000), state, cfg)
    _, off = tick(T0 + timedelta(seconds=9000), state, cfg)
    assert off == ()


def test_device_without_status_is_not_watched() -> None:
    """A source that never sent a status (the central service, say) is never called silent."""
    state, _ = evaluate(ev("delivery.gap", GAP, 0, "central"), RuleState(), RulesConfig())
    assert tick(T0 + timedelta(hours=5), state, RulesConfig())[1] == ()


def test_device_silent_only_watched_kinds() -> None:
    """With kinds set, other kinds are not watched for silence."""
    cfg = with_rule("device_silent", kinds=frozenset({"camera"}))
    state, _ = evaluate_status(SRC, Status("online", "door"), T0, RuleState(), cfg)
    assert tick(T0 + timedelta(hours=5), state, cfg)[1] == ()


@pytest.mark.parametrize(
    ("clock", "checked_out", "fires"),
    [(time(18, 59, 59), False, False), (time(19, 0), False, True), (time(23, 0), False, True),
     (time(5, 59), False, True), (time(6, 0), False, False), (time(20, 0), True, False)],
)
def test_visitor_after_closing(clock: time, checked_out: bool, fires: bool) -> None:
    """A visitor still checked in between closing (19:00) and opening (06:00) raises, once."""
    cfg = RulesConfig()
    events = [ev("visitor.checked_in", CHECKIN, 0, "kiosk-1", 1)]
    if checked_out:
        events.append(ev("visitor.checked_out", CHECKOUT, 60, "kiosk-1", 2))
    state = RuleState()
    for event in events:
        state, _ = evaluate(event, state, cfg)
    day = T0.date() if clock >= time(10) else T0.date() + timedelta(days=1)
    now = datetime.combine(day, clock, UTC)
    state, found = tick(now, state, cfg)
    late = [c.key for c in found if c.rule == RuleName.VISITOR_AFTER_CLOSING]
    assert late == (["visitor-after-closing:v-1"] if fires else [])
    if fires:
        again = tick(now + timedelta(minutes=1), state, cfg)[1]
        assert [c for c in again if c.rule == RuleName.VISITOR_AFTER_CLOSING] == []


def test_a_condition_with_a_long_summary_is_cut_to_what_the_contract_and_the_table_hold() -> None:
    long = Condition(RuleName.PRINTER_FAULT, "printer-1", Priority.LOW, "x" * 500)
    assert len(long.summary) == MAX_SUMMARY
    assert long.summary.endswith("...")
    assert Condition(RuleName.PRINTER_FAULT, "p", Priority.LOW, "short").summary == "short"
