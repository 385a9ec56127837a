"""One alarm's page: its life cycle step by step, its cause events and their snapshots, its incidents."""

# No `from __future__ import annotations` here: FastAPI evaluates the routes' annotations, which name
# dependencies local to the function declaring the routes.

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from broker.events import Event
from broker.schemas import CameraSnapshot
from broker.summaries import summarize
from security.accounts.roles import Permission
from security.console.auth import Guards, RefusedError, Viewer
from security.console.context import Console
from security.console.i18n import N_
from security.console.render import render
from security.office.alarms.kpis import AlarmLife
from security.office.alarms.lifecycle import returned_to_normal
from security.office.incident_timeline import SnapshotRef
from security.office.snapshot_files import load_snapshots
from security.storage.reports.alarm_record import AlarmRecord, alarm_record, latest_snapshots

SUMMARY_LIMIT = 200
STEP_NAMES = (N_("raised"), N_("repeated"), N_("acknowledged"), N_("shelved"), N_("unshelved"),
              N_("escalated"), N_("returned"), N_("resolved"))
"""The life-cycle steps a page names, translated."""


@dataclass(frozen=True, slots=True)
class Step:
    """One line of an alarm's life cycle as its page shows it."""

    at: datetime
    action: str
    by: str
    note: str | None
    after_s: float
    """Seconds since the alarm was raised."""
    until: datetime | None = None
    """Until when a shelve step shelved it."""
    activation: int = 0
    """For `raised` and `repeated`: which activation of its condition this was (1 for the raise)."""


@dataclass(frozen=True, slots=True)
class CauseLine:
    """One cause event: when the service received it, its type, its device and a readable summary."""

    at: datetime
    event_id: str
    type: str
    device: str
    summary: str


def life_steps(life: AlarmLife) -> list[Step]:
    """Every transition of the alarm oldest first, numbered activations and time since the raise."""
    steps: list[Step] = []
    activation = 0
    for t in life.history:
        if t.action in ("raised", "repeated"):
            activation += 1
        steps.append(Step(t.at, t.action, t.by, t.note, (t.at - life.raised_at).total_seconds(), t.until,
                          activation if t.action in ("raised", "repeated") else 0))
    return steps


def cause_lines(events: Sequence[Event]) -> list[CauseLine]:
    """The cause events as lines, in the order given."""
    return [CauseLine(e.service_time, e.id, e.type, e.device, summarize(e, SUMMARY_LIMIT)) for e in events]


def snapshot_refs(events: Sequence[Event]) -> list[SnapshotRef]:
    """Snapshot events as references to their files."""
    return [SnapshotRef(e.id, e.data.camera, e.data.path, e.service_time, e.data.for_event)
            for e in events if isinstance(e.data, CameraSnapshot)]


def elapsed(seconds: float) -> str:
    """Seconds as `+2 h 5 min`, `+3 min 4 s` or `+12 s`."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"+{hours} h {minutes} min"
    return f"+{minutes} min {secs} s" if minutes else f"+{secs} s"


def alarm_page_routes(router: APIRouter, console: Console, guards: Guards) -> None:
    """GET /alarms/{alarm_id} (its page) and /alarms/{alarm_id}/snapshots/{event_id} (a JPEG)."""
    viewers = Depends(guards.needs(Permission.VIEW_ALARMS))

    def record_of(alarm_id: str, who: Viewer) -> AlarmRecord:
        with console.store.engine.connect() as conn:
            found = alarm_record(conn, alarm_id)  # an over-long id is no alarm
        if found is None:
            raise RefusedError(404, N_("There is no such alarm."), who)
        return found

    def cameras_of(found: AlarmRecord) -> list[SnapshotRef]:
        """The latest snapshot of each camera of the alarm's door or zone, up to its resolution."""
        life = found.life
        cameras = console.alarm_guidance.cameras_for(life.rule, life.key)
        if not cameras:
            return []
        with console.store.engine.connect() as conn:
            return snapshot_refs(latest_snapshots(conn, cameras, life.resolved_at or console.clock()))

    @router.get("/alarms/{alarm_id}")
    def alarm(request: Request, alarm_id: str, who: Annotated[Viewer, viewers]) -> HTMLResponse:
        found = record_of(alarm_id, who)
        life = found.life
        return render(request, "alarm.html", viewer=who, title="Alarm", life=life, found=found,
                      steps=life_steps(life), causes=cause_lines(found.events),
                      snapshots=snapshot_refs(found.snapshots), latest=cameras_of(found),
                      procedure=console.alarm_guidance.procedure(life.rule),
                      normal=life.state != "resolved" and returned_to_normal(life.history),
                      tz=console.tz, elapsed=elapsed,
                      may_see_incidents=who.account.may(Permission.VIEW_INCIDENTS))

    @router.get("/alarms/{alarm_id}/snapshots/{event_id}")
    def snapshot(alarm_id: str, event_id: str, who: Annotated[Viewer, viewers]) -> Response:
        found = record_of(alarm_id, who)
        refs = [r for r in (*snapshot_refs(found.snapshots), *cameras_of(found)) if r.event_id == event_id]
        images = load_snapshots(refs, console.snapshots, base=console.data_dir)
        if not images or images[0].jpeg is None:
            raise RefusedError(404, N_("That snapshot is not kept."), who)
        return Response(images[0].jpeg, media_type="image/jpeg", headers={
            "Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"})
