"""A believable morning at a lobby, as events, statuses and open alarms, for demos and screenshots (pure)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import cv2
import numpy as np

from broker import schemas as s
from broker.events import Event, make_event
from broker.messages import AlarmStatus, AlarmStep, Status

SITE = "lobby"
"""The site every sample comes from."""
WATCHLIST_VISIT = "K7QX4M2P9A"
"""The visit of the sample check-in that matched the watchlist (alarm a-2)."""
WATCHLIST_CAUSE = "ev-120"
"""The id of the sample `visitor.screened` event that raised alarm a-2."""
PHOTO_SIZE = (320, 240)
"""Width and height of the sample visitor photo, as a kiosk sends it (4:3)."""


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
            raised_at=ago(6), updated_at=ago(1), silent=True, escalation_level=1, cause=(WATCHLIST_CAUSE,),
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


def sample_photo(size: tuple[int, int] = PHOTO_SIZE) -> bytes:
    """A small JPEG of a drawn head and shoulders against a lobby wall, as a kiosk camera takes it."""
    width, height = size
    image = np.zeros((height, width, 3), np.uint8)
    image[:] = (150, 170, 185)  # a warm grey wall (BGR)
    image[int(height * 0.72):] = (120, 135, 150)
    cx, cy, unit = width // 2, int(height * 0.45), min(width, height) / 240
    def px(value: float) -> int:
        return round(value * unit)
    cv2.ellipse(image, (cx, height + px(30)), (px(110), px(95)), 0, 180, 360, (105, 70, 40), -1)  # jacket
    cv2.rectangle(image, (cx - px(16), cy + px(45)), (cx + px(16), cy + px(78)), (120, 160, 205), -1)  # neck
    cv2.ellipse(image, (cx, cy - px(8)), (px(58), px(68)), 0, 0, 360, (40, 45, 60), -1)  # hair
    cv2.ellipse(image, (cx, cy + px(8)), (px(48), px(60)), 0, 0, 360, (135, 175, 220), -1)  # face
    for side in (-1, 1):
        cv2.ellipse(image, (cx + side * px(19), cy - px(2)), (px(9), px(5)), 0, 0, 360, (245, 245, 245), -1)
        cv2.circle(image, (cx + side * px(19), cy - px(2)), px(4), (50, 40, 35), -1)
        brow = (cx + side * px(30), cy - px(16)), (cx + side * px(10), cy - px(14))
        cv2.line(image, *brow, (40, 45, 60), px(3))
    cv2.line(image, (cx, cy + px(2)), (cx - px(5), cy + px(24)), (110, 145, 190), px(2))  # nose
    cv2.ellipse(image, (cx, cy + px(36)), (px(16), px(7)), 0, 10, 170, (80, 90, 170), px(3))  # mouth
    ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])
    if not ok:
        raise RuntimeError("OpenCV could not encode the sample photo")
    return jpeg.tobytes()


def sample_watchlist_events(start: datetime | None = None) -> list[Event]:
    """The photo and the watchlist match of the sample check-in: the causes behind alarm a-2."""
    t0 = start or datetime(2026, 11, 22, 8, 15, 31, tzinfo=UTC)
    width, height = PHOTO_SIZE
    jpeg = base64.b64encode(sample_photo()).decode("ascii")
    photo = s.VisitorPhoto(visit_id=WATCHLIST_VISIT, jpeg=jpeg, width=width, height=height)
    screened = s.VisitorScreened(visit_id=WATCHLIST_VISIT, result="match", score=0.93, entry_id="wl-0042")
    return [
        make_event(SITE, "kiosk-1", "visitor.photo", 2, photo, time=t0, event_id="ev-119"),
        make_event(SITE, "kiosk-1", "visitor.screened", 3, screened, time=t0 + timedelta(seconds=2),
                   event_id=WATCHLIST_CAUSE),
    ]
