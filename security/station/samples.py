"""A believable morning at a lobby, as events, statuses and open alarms, for demos and screenshots (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from broker import schemas as s
from broker.events import Event, make_event
from broker.messages import AlarmStatus, AlarmStep, Status

SITE = "lobby"
"""The site every sample comes from."""


def sample_statuses(start: datetime | None = None) -> list[tuple[str, Status]]:
    """(device, status) pairs: five devices online, a camera gone offline."""
    t0 = start or datetime(2026, 11, 22, 7, 0, tzinfo=UTC)
    return [
        ("reader-1", Status("online", "reader", t0)),
        ("reader-2", Status("online", "reader", t0)),
        ("kiosk-1", Status("online", "kiosk", t0 + timedelta(minutes=2))),
        ("printer-1", Status("online", "printer", t0 + timedelta(minutes=2))),
        ("door-main", Status("online", "door", t0)),
        ("cam-lobby", Status("offline", "camera", t0 + timedelta(hours=1), "no answer")),
    ]


def sample_events(start: datetime | None = None) -> list[Event]:
    """About a dozen events of every severity, oldest first, one every few seconds."""
    t0 = start or datetime(2026, 11, 22, 8, 15, 2, tzinfo=UTC)
    seqs: dict[str, int] = {}
    out: list[Event] = []

    def add(device: str, event_type: str, data: s.Data) -> None:
        seqs[device] = seqs.get(device, 0) + 1
        when = t0 + timedelta(seconds=7 * len(out))
        out.append(make_event(SITE, device, event_type, seqs[device], data, time=when))

    add("reader-1", "badge.read", s.BadgeRead(credential="0A1B2C3D", reader=1))
    add("door-main", "access.granted", s.AccessGranted(credential="0A1B2C3D", door="main"))
    add("door-main", "door.opened", s.DoorChange(door="main"))
    add("door-main", "door.closed", s.DoorChange(door="main", duration_s=4))
    add(
        "kiosk-1",
        "visitor.checked_in",
        s.VisitorCheckedIn(
            visit_id="K7QX4M2P9A",
            visitor_name="Ada Lovelace",
            visitor_type=s.VisitorType.CONTRACTOR,
            company="Analytical Engines Ltd",
            host_name="Grace Hopper",
        ),
    )
    add("reader-2", "badge.read", s.BadgeRead(credential="DEADBEEF", reader=2))
    add(
        "door-main",
        "access.denied",
        s.AccessDenied(credential="DEADBEEF", door="main", reason=s.DenyReason.EXPIRED),
    )
    add("printer-1", "device.fault", s.DeviceFault(fault="paper_out", detail="label roll empty"))
    add("door-side", "door.forced", s.DoorChange(door="side"))
    add(
        "central",
        "alarm.raised",
        s.AlarmRaised(
            alarm_id="door-forced-side",
            rule="door-forced",
            priority=s.Priority.HIGH,
            summary="Side door forced open",
        ),
    )
    add("printer-1", "device.fault", s.DeviceFault(fault="paper_out", cleared=True))
    add("central", "alarm.acknowledged", s.AlarmAction(alarm_id="door-forced-side", by="guard-2"))
    return out


def sample_alarms(now: datetime | None = None) -> list[AlarmStatus]:
    """Five open alarms as the central service retains them at `now`: every priority and state."""
    t = now or datetime(2026, 11, 22, 8, 20, tzinfo=UTC)

    def ago(minutes: float) -> datetime:
        return t - timedelta(minutes=minutes)

    def raised(minutes: float) -> AlarmStep:
        return AlarmStep("raised", "system", ago(minutes))

    return [
        AlarmStatus(
            id="a-1", rule="door-forced", priority="high", summary="Side door forced open",
            state="acknowledged", raised_at=ago(14), updated_at=ago(9), count=3,
            cause=("ev-101", "ev-107", "ev-115"),
            history=(raised(14), AlarmStep("repeated", "system", ago(12)),
                     AlarmStep("acknowledged", "guard:maria", ago(9), "on my way to the side door")),
        ),
        AlarmStatus(
            id="a-2", rule="watchlist-match", priority="critical",
            summary="Watchlist match at check-in: visit K7QX4M2P9A", state="unacknowledged",
            raised_at=ago(6), updated_at=ago(1), silent=True, escalation_level=1, cause=("ev-120",),
            history=(raised(6), AlarmStep("escalated", "system", ago(1), "level 1: security-lead")),
        ),
        AlarmStatus(
            id="a-3", rule="device-fault", priority="medium", summary="printer-1: label roll empty",
            state="shelved", raised_at=ago(31), updated_at=ago(25), shelved_until=ago(-20),
            cause=("ev-090",),
            history=(raised(31), AlarmStep("shelved", "guard:maria", ago(25), "new roll ordered")),
        ),
        AlarmStatus(
            id="a-4", rule="camera-offline", priority="low", summary="cam-lobby: no answer",
            state="unacknowledged", raised_at=ago(80), updated_at=ago(80), cause=("ev-042",),
            history=(raised(80),),
        ),
        AlarmStatus(
            id="a-5", rule="door-held-open", priority="high", summary="Main door held open 90 s",
            state="unacknowledged", raised_at=ago(2), updated_at=ago(2), cause=("ev-130",),
            history=(raised(2),),
        ),
    ]
