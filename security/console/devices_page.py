"""The Devices page: each device's state, last seen, availability, faults and seq gaps over a range."""

# No `from __future__ import annotations` here: FastAPI evaluates the routes' annotations, which name
# dependencies local to the function declaring the routes.

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from pydantic import BaseModel, Field

from broker import topics
from security.accounts.roles import Permission
from security.console.auth import Guards, RefusedError, Viewer
from security.console.charts import Bar, Cell, bars_svg, strips_svg
from security.console.context import Console
from security.console.i18n import N_, translator
from security.console.ranges import day_range, day_windows
from security.console.render import HEADERS, language, render
from security.office.availability import DayAvailability, DayWindow, StateChange, daily
from security.office.csv_export import csv_lines
from security.storage.reports.devices import DeviceRow, device_changes, device_overview, device_timeline
from security.storage.reports.keyset import ReportError


class DeviceQuery(BaseModel):
    """The page's query string as sent."""

    start: str | None = Field(default=None, alias="from", max_length=10)
    end: str | None = Field(default=None, alias="to", max_length=10)


def duration(seconds: float | None) -> str:
    """Seconds as `1 d 2 h`, `3 h 4 min` or `5 min`; a dash for none."""
    if not seconds:
        return "-"
    minutes = round(seconds / 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def day_cells(changes: Sequence[StateChange], windows: Sequence[DayWindow], now: datetime) -> list[Cell]:
    """A device's strip: one cell per day, its availability in per cent (None: nothing known yet)."""
    return [Cell(d.day.strftime("%m-%d"), d.availability.percent if d.availability else None)
            for d in daily(changes, windows, now)]


DEVICE_COLUMNS = ("device", "kind", "state", "since", "last_seen", "available_percent", "online_s",
                  "offline_s", "unknown_s", "outages", "longest_outage_s", "faults", "open_faults",
                  "seq_gaps", "events_missing")


def device_cells(row: DeviceRow) -> tuple[object, ...]:
    """One device's line of the export, DEVICE_COLUMNS' values."""
    a = row.availability
    return (row.device, row.kind, row.state, row.since, row.last_seen, a.percent, a.online_s, a.offline_s,
            a.unknown_s, a.outages, a.longest_outage_s, row.faults, " ".join(row.open_faults), row.gaps,
            row.missing)


def device_routes(router: APIRouter, console: Console, guards: Guards) -> None:
    """GET /devices (the overview of a range) and /devices/{device} (one device's timeline)."""
    viewers = Depends(guards.needs(Permission.VIEW_EVENTS))

    @router.get("/devices")
    def devices(request: Request, who: Annotated[Viewer, viewers],
                asked: Annotated[DeviceQuery, Query()]) -> HTMLResponse:
        try:
            days = day_range(asked.start, asked.end, console.clock(), console.tz)
            with console.store.engine.connect() as conn:
                rows = device_overview(conn, days.times, now=console.clock())
        except ReportError as exc:
            raise RefusedError(400, str(exc), who) from None
        t = translator(language(request)).gettext
        bars = [Bar(r.device, round(r.availability.percent, 1)) for r in rows
                if r.availability.percent is not None]
        windows, now = day_windows(days, console.tz), console.clock()
        strips = [(r.device, day_cells(r.changes, windows, now)) for r in rows if r.state is not None]
        return render(request, "devices.html", viewer=who, title="Devices", days=days, rows=rows,
                      tz=console.tz, duration=duration, may_export=who.account.may(Permission.EXPORT),
                      query=urlencode(days.query()),
                      chart=bars_svg(bars, t(N_("Availability in the range, per cent")), " %"),
                      strips=strips_svg(strips, t(N_("Availability per day, per cent")), t(N_("not known"))))

    @router.get("/devices.csv")
    def devices_export(who: Annotated[Viewer, Depends(guards.needs(Permission.EXPORT))],
                       _allowed: Annotated[Viewer, viewers],
                       asked: Annotated[DeviceQuery, Query()]) -> StreamingResponse:
        try:
            days = day_range(asked.start, asked.end, console.clock(), console.tz)
            with console.store.engine.connect() as conn:
                rows = device_overview(conn, days.times, now=console.clock())
        except ReportError as exc:
            raise RefusedError(400, str(exc), who) from None
        if not console.exporting(who, "devices", urlencode(days.query())):
            raise RefusedError(403, N_("Your role may not export."), who)
        lines = csv_lines(DEVICE_COLUMNS, (device_cells(r) for r in rows), console.tz)
        name = f"devices-{days.first}-{days.last}.csv"
        return StreamingResponse(lines, media_type="text/csv; charset=utf-8", headers={
            **HEADERS, "Content-Disposition": f'attachment; filename="{name}"'})

    @router.get("/devices/{device}")
    def device(request: Request, device: str, who: Annotated[Viewer, viewers],
               asked: Annotated[DeviceQuery, Query()]) -> HTMLResponse:
        try:
            source = topics.source(console.site, topics.check_device(device))
            days = day_range(asked.start, asked.end, console.clock(), console.tz)
            with console.store.engine.connect() as conn:
                found = device_timeline(conn, source, days.times)
                changes = device_changes(conn, source, days.times)
        except (ReportError, topics.TopicError) as exc:
            raise RefusedError(400, str(exc), who) from None
        per_day: list[DayAvailability] = daily(changes, day_windows(days, console.tz), console.clock())
        return render(request, "device.html", viewer=who, title="Device", days=days, device=device,
                      found=found, tz=console.tz, per_day=per_day, duration=duration)
