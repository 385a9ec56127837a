"""The guard station's view-model and event summaries, driven like functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from broker import schemas as s
from broker import summaries
from broker.events import Event, make_event
from broker.messages import Status
from broker.schemas import SCHEMAS
from broker.summaries import Severity, severity, summarize
from security.station.samples import sample_events, sample_statuses
from security.station.viewmodel import StationViewModel

T0 = datetime(2026, 11, 22, 8, 15, 2, 113000, tzinfo=UTC)


def badge(seq: int = 1, *, credential: str = "0A1B2C3D", event_id: str | None = None) -> Event:
    data = s.BadgeRead(credential=credential, reader=1)
    when = T0 + timedelta(seconds=seq - 1)
    return make_event("lobby", "reader-1", "badge.read", seq, data, time=when, event_id=event_id)


def test_feed_line_reads_like_the_log() -> None:
    vm = StationViewModel(tz=UTC)
    line = vm.on_event(badge())
    assert line is not None
    assert line.text == "08:15:02  reader-1  badge.read  credential 0A1B2C3D at reader 1"
    assert line.severity is Severity.NORMAL
    assert vm.feed == (line,)


def test_times_are_shown_in_the_station_zone() -> None:
    vm = StationViewModel(tz=timezone(timedelta(hours=1)))
    line = vm.on_event(badge())
    assert line is not None
    assert line.time == "09:15:02"


def test_feed_is_newest_first_and_bounded() -> None:
    vm = StationViewModel(feed_size=3, tz=UTC)
    for seq in range(1, 6):
        vm.on_event(badge(seq))
    assert [line.time for line in vm.feed] == ["08:15:06", "08:15:05", "08:15:04"]
    assert vm.event_count == 5


def test_a_redelivered_event_is_shown_once() -> None:
    vm = StationViewModel(tz=UTC)
    first = badge(event_id="same-id")
    assert vm.on_event(first) is not None
    version = vm.version
    assert vm.on_event(first) is None
    assert (vm.event_count, len(vm.feed), vm.version) == (1, 1, version)


def test_feed_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="feed_size"):
        StationViewModel(feed_size=0)


@pytest.mark.parametrize(
    ("event_type", "data", "expected"),
    [
        ("badge.read", s.BadgeRead(credential="AB", reader=1), Severity.NORMAL),
        ("access.granted", s.AccessGranted(credential="AB", door="main"), Severity.NORMAL),
        (
            "access.denied",
            s.AccessDenied(credential="AB", door="main", reason=s.DenyReason.REVOKED),
            Severity.WARNING,
        ),
        ("door.forced", s.DoorChange(door="side"), Severity.ALERT),
        ("door.held_open", s.DoorChange(door="side", duration_s=90), Severity.WARNING),
        ("camera.tamper", s.CameraTamper(camera="c1", kind=s.TamperKind.COVERED), Severity.ALERT),
        ("device.fault", s.DeviceFault(fault="paper_out"), Severity.WARNING),
        ("device.fault", s.DeviceFault(fault="paper_out", cleared=True), Severity.NORMAL),
        ("visitor.screened", s.VisitorScreened(visit_id="v1", result="match"), Severity.ALERT),
        ("visitor.screened", s.VisitorScreened(visit_id="v1", result="clear"), Severity.NORMAL),
        (
            "alarm.raised",
            s.AlarmRaised(alarm_id="a1", rule="r1", priority=s.Priority.LOW, summary="x"),
            Severity.ALERT,
        ),
        ("alarm.resolved", s.AlarmAction(alarm_id="a1", by="guard"), Severity.NORMAL),
    ],
)
def test_severity(event_type: str, data: s.Data, expected: Severity) -> None:
    assert severity(make_event("lobby", "d1", event_type, 1, data)) is expected


def test_every_event_type_has_its_own_summary() -> None:
    assert set(SCHEMAS.values()) <= set(summaries._SUMMARIES)


@pytest.mark.parametrize(
    ("event_type", "data", "expected"),
    [
        (
            "access.denied",
            s.AccessDenied(credential="DEADBEEF", door="main", reason=s.DenyReason.NOT_YET_VALID),
            "credential DEADBEEF at door main: not yet valid",
        ),
        ("door.held_open", s.DoorChange(door="side", duration_s=92.4), "door side for 92 s"),
        (
            "visitor.checked_in",
            s.VisitorCheckedIn(
                visit_id="v1", visitor_name="Ada", visitor_type=s.VisitorType.GUEST, host_id="h7"
            ),
            "Ada, guest for h7",
        ),
        ("device.fault", s.DeviceFault(fault="head_open", cleared=True), "cleared: head open"),
        (
            "camera.person",
            s.CameraPerson(camera="lobby", confidence=0.91, box=s.Box(x=0, y=0, w=0.5, h=0.5)),
            "camera lobby, person 91%",
        ),
    ],
)
def test_summaries(event_type: str, data: s.Data, expected: str) -> None:
    assert summarize(make_event("lobby", "d1", event_type, 1, data)) == expected


def test_long_summaries_are_cut() -> None:
    data = s.IncidentNoted(incident_id="i1", by="guard", note="word " * 200)
    text = summarize(make_event("lobby", "d1", "incident.noted", 1, data), limit=40)
    assert len(text) == 40
    assert text.endswith("...")


def test_devices_table_from_status_messages() -> None:
    now = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    vm = StationViewModel(tz=UTC, now=lambda: now)
    vm.on_status("reader-1", Status("online", "reader", T0))
    vm.on_status("cam-2", Status("online", "camera"))
    vm.on_status("kiosk-1", Status("offline", "kiosk", T0, "lost power"))
    rows = vm.devices
    assert [r.device for r in rows] == ["kiosk-1", "cam-2", "reader-1"]
    assert rows[0].text == "kiosk-1  offline since 08:15:02 (lost power)"
    assert rows[1].since == "09:00:00"
    vm.on_status("kiosk-1", Status("online", "kiosk", now))
    assert all(r.online for r in vm.devices)
    assert vm.headline == "0 events · 0 alerts · 0 warnings · 3 of 3 devices online"


def test_a_known_device_remembers_its_last_event() -> None:
    vm = StationViewModel(tz=UTC)
    vm.on_status("reader-1", Status("online", "reader", T0))
    vm.on_event(badge(3))
    assert vm.devices[0].last_event == "08:15:04"
    vm.on_status("reader-1", Status("offline", "reader", T0))
    assert vm.devices[0].last_event == "08:15:04"


def test_sample_morning_counts() -> None:
    vm = StationViewModel(tz=UTC)
    for device, status in sample_statuses():
        vm.on_status(device, status)
    for event in sample_events():
        vm.on_event(event)
    assert vm.count(Severity.ALERT) == 2
    assert vm.count(Severity.WARNING) == 2
    assert vm.headline == "12 events · 2 alerts · 2 warnings · 5 of 6 devices online"
    assert vm.feed[0].type == "alarm.acknowledged"
