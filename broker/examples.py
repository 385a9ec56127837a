"""One valid example `data` per event type: for the contract document, tests and simulations."""

from __future__ import annotations

from datetime import UTC, datetime

from broker import schemas as s

_T = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)

EXAMPLES: dict[str, s.Data] = {
    "visitor.invited": s.VisitorInvited(
        visit_id="v-7f3a", visitor_name="Ana Kowalska", host_id="e-1001", expected_at=_T,
        company="Acme Sp. z o.o.", email="ana@example.org",
    ),
    "visitor.checked_in": s.VisitorCheckedIn(
        visit_id="v-7f3a", visitor_name="Ana Kowalska", visitor_type=s.VisitorType.GUEST,
        company="Acme Sp. z o.o.", host_id="e-1001", host_name="Budi Santoso", badge="A7F3", invited=True,
    ),
    "visitor.checked_out": s.VisitorCheckedOut(visit_id="v-7f3a", method="qr"),
    "visitor.screened": s.VisitorScreened(visit_id="v-7f3a", result="clear", score=0.12),
    "visitor.photo": s.VisitorPhoto(visit_id="v-7f3a", jpeg="/9j/4AAQSkZJRgABAQ==", width=320, height=240),
    "visitor.agreed": s.VisitorAgreed(
        visit_id="v-7f3a", agreement="contractor-v1", language="pl", signature="M10 40 L20 35 L35 42",
    ),
    "host.notified": s.HostNotified(visit_id="v-7f3a", host_id="e-1001", channel="email", ok=True),
    "badge.printed": s.BadgePrinted(visit_id="v-7f3a", printer="desk-printer", ok=True),
    "badge.read": s.BadgeRead(credential="0A1B2C3D4E", reader=1, format="rdm6300"),
    "code.scanned": s.CodeScanned(code="GH-V-7f3a-2c91", symbology="qr", scanner="kiosk-scanner"),
    "access.granted": s.AccessGranted(
        credential="0A1B2C3D4E", door="main-door", person_id="e-1001", reader_device="reader-1", reader=1,
        direction="in",
    ),
    "access.denied": s.AccessDenied(
        credential="0A1B2C3D4E", door="main-door", reason=s.DenyReason.UNKNOWN_CREDENTIAL
    ),
    "door.opened": s.DoorChange(door="main-door"),
    "door.closed": s.DoorChange(door="main-door", duration_s=4.2),
    "door.forced": s.DoorChange(door="server-room"),
    "door.held_open": s.DoorChange(door="loading-bay", duration_s=65.0),
    "camera.motion": s.CameraMotion(
        camera="cam-lobby", score=0.31, zone="entrance", boxes=(s.Box(x=0.4, y=0.2, w=0.2, h=0.6),)
    ),
    "camera.person": s.CameraPerson(
        camera="cam-lobby", confidence=0.87, box=s.Box(x=0.4, y=0.2, w=0.2, h=0.6), zone="entrance"
    ),
    "camera.tamper": s.CameraTamper(camera="cam-yard", kind=s.TamperKind.COVERED),
    "camera.snapshot": s.CameraSnapshot(
        camera="cam-lobby", path="snapshots/cam-lobby/2026-11-22T09-30-00.jpg", for_event="6f1c-2b"
    ),
    "device.fault": s.DeviceFault(fault="paper_out", detail="label roll empty"),
    "delivery.gap": s.DeliveryGap(for_source="gatehouse/lobby/reader-1", missing_from=41, missing_to=43),
    "delivery.reset": s.DeliveryReset(for_source="gatehouse/lobby/reader-1", incarnation="9b2c41d07e5f",
                                      previous=["4e7a10c2d9b3"], first_seq=1),
    "clock.skewed": s.ClockSkewed(for_source="gatehouse/lobby/reader-1", skew_s=-3600.0,
                                  device_time=datetime(2026, 11, 22, 8, 30, tzinfo=UTC), received_at=_T),
    "alarm.raised": s.AlarmRaised(
        alarm_id="a-102", rule="door-forced", priority=s.Priority.HIGH,
        summary="Door server-room forced open", cause=("6f1c-2b",),
    ),
    "alarm.acknowledged": s.AlarmAction(alarm_id="a-102", by="guard:maria"),
    "alarm.shelved": s.AlarmShelved(alarm_id="a-102", by="guard:maria", until=_T, note="maintenance"),
    "alarm.resolved": s.AlarmAction(alarm_id="a-102", by="guard:maria", note="door re-secured"),
    "alarm.unshelved": s.AlarmAction(alarm_id="a-102", by="system", note="shelve expired"),
    "alarm.escalated": s.AlarmEscalated(alarm_id="a-102", level=1, notify=("supervisor",)),
    "alarm.requested": s.AlarmRequested(alarm_id="a-102", action="acknowledge", by="guard:maria"),
    "command.requested": s.CommandRequested(
        device="door-1", command="unlock", by="guard:maria", seconds=10,
        note="courier at the side door",
    ),
    "command.sent": s.CommandSent(
        device="door-1", command="unlock", command_id="c-5e21", by="guard:maria",
        origin="gatehouse/lobby/station-1", expires=_T, seconds=10, door="main-door",
        note="courier at the side door",
    ),
    "incident.opened": s.IncidentOpened(
        incident_id="i-17", title="Server room forced", by="guard:maria", alarm_ids=("a-102",),
        category=s.Category.SECURITY,
    ),
    "incident.noted": s.IncidentNoted(incident_id="i-17", by="guard:maria", note="Contractor had no escort."),
    "incident.closed": s.IncidentClosed(incident_id="i-17", by="manager:joe", outcome="training given"),
    "item.lent": s.ItemLent(
        item_id="key-17", item_kind=s.ItemKind.KEY, description="Server room key", visit_id="v-7f3a",
        due_at=datetime(2026, 11, 22, 17, 0, tzinfo=UTC), by="reception:dewi", note="escorted by host",
    ),
    "item.returned": s.ItemReturned(item_id="key-17", by="reception:dewi", condition="ok"),
}
"""Example data for every type in broker.schemas.SCHEMAS."""

_TOUR_RUN = "night-round-20261122T093000Z"
EXAMPLES.update({
    "tour.started": s.TourStarted(tour="night-round", run=_TOUR_RUN, at=_T, slot=_T),
    "tour.checkpoint": s.TourCheckpoint(
        tour="night-round", run=_TOUR_RUN, checkpoint="loading-dock", index=1, outcome="late", at=_T,
        earliest=_T, latest=_T, late_s=95.0,
    ),
    "tour.ended": s.TourEnded(tour="night-round", run=_TOUR_RUN, outcome="completed", at=_T, reached=4,
                              checkpoints=4, slot=_T),
})
EXAMPLES["visitor.feedback"] = s.VisitorFeedback(visit_id="v-7f3a", rating=4, language="id",
                                                comment="Resepsionis ramah, antrean agak lama")
