"""The Incidents page: a range's list, one incident's timeline and snapshots, notes, closing, its PDF."""

# No `from __future__ import annotations` here: FastAPI evaluates the routes' annotations, which name
# dependencies local to the function declaring the routes.

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from broker.schemas import Category
from security.accounts.roles import Permission
from security.console.auth import Guards, RefusedError, Viewer
from security.console.context import Console
from security.console.i18n import N_
from security.console.ranges import DayRange, day_range, redact
from security.console.render import HEADERS, render
from security.office.csv_export import csv_lines
from security.office.incidents import IncidentError, ItemKind
from security.office.snapshot_files import load_snapshots
from security.storage.incident_store import IncidentNotFoundError
from security.storage.reports.incidents import IncidentFilter, IncidentRow, iter_incidents, list_incidents
from security.storage.reports.keyset import ReportError

CATEGORIES = (N_("security"), N_("safety"), N_("complaint"), N_("lost_item"), N_("other"))
STATES = (N_("open"), N_("closed"))
CSV_COLUMNS = ("id", "opened_at", "category", "title", "state", "opened_by", "closed_at", "closed_by",
               "outcome", "items")


class IncidentQuery(BaseModel):
    """The list's query string as sent."""

    start: str | None = Field(default=None, alias="from", max_length=10)
    end: str | None = Field(default=None, alias="to", max_length=10)
    state: str = Field(default="", max_length=8)
    category: str = Field(default="", max_length=16)
    text: str = Field(default="", max_length=200)
    cursor: str | None = Field(default=None, max_length=512)


class NewIncident(BaseModel):
    """The form that opens an incident by hand."""

    model_config = ConfigDict(extra="ignore")
    title: str = Field(min_length=1, max_length=200)
    category: Category = Category.OTHER


class Note(BaseModel):
    """The form that adds a note."""

    model_config = ConfigDict(extra="ignore")
    note: str = Field(min_length=1, max_length=4000)


class Attachment(BaseModel):
    """The form that attaches a stored alarm, event or snapshot event."""

    model_config = ConfigDict(extra="ignore")
    kind: ItemKind
    ref: str = Field(min_length=1, max_length=64)


class Closing(BaseModel):
    """The form that closes an incident."""

    model_config = ConfigDict(extra="ignore")
    outcome: str = Field(min_length=1, max_length=2000)


@dataclass(frozen=True, slots=True)
class IncidentView:
    """The list's range, filters and cursor."""

    days: DayRange
    filters: IncidentFilter
    cursor: str | None

    def query(self, **extra: str) -> str:
        """This view's query string without its cursor, plus `extra`."""
        shown = {"state": self.filters.state or "", "category": self.filters.category or "",
                 "text": self.filters.text or ""}
        return urlencode({k: v for k, v in {**self.days.query(), **shown, **extra}.items() if v})


def _cells(rows: Iterator[IncidentRow]) -> Iterator[tuple[object, ...]]:
    for r in rows:
        yield (r.id, r.opened_at, r.category, r.title, r.state, r.opened_by, r.closed_at, r.closed_by,
               r.outcome, r.items)


def _back(incident_id: str) -> RedirectResponse:
    return RedirectResponse(f"/console/incidents/{quote(incident_id)}", status_code=303, headers=HEADERS)


def incident_routes(router: APIRouter, console: Console, guards: Guards) -> None:
    """The list, its CSV, the form that opens one; then one incident's routes."""
    viewers = Depends(guards.needs(Permission.VIEW_INCIDENTS))
    desk = console.incidents

    def view_of(who: Annotated[Viewer, viewers], asked: Annotated[IncidentQuery, Query()]) -> IncidentView:
        try:
            return IncidentView(day_range(asked.start, asked.end, console.clock(), console.tz),
                                IncidentFilter(state=asked.state or None, category=asked.category or None,
                                               text=asked.text or None), asked.cursor or None)
        except ReportError as exc:
            raise RefusedError(400, str(exc), who) from None

    @router.get("/incidents")
    def incidents(request: Request, who: Annotated[Viewer, viewers],
                  view: Annotated[IncidentView, Depends(view_of)]) -> HTMLResponse:
        try:
            with console.store.engine.connect() as conn:
                page = list_incidents(conn, view.days.times, view.filters, cursor=view.cursor,
                                      key=console.cursor_key)
        except ReportError as exc:
            raise RefusedError(400, str(exc), who) from None
        return render(request, "incidents.html", viewer=who, title="Incidents", view=view, page=page,
                      tz=console.tz, categories=CATEGORIES, states=STATES,
                      may_open=who.account.may(Permission.MANAGE_INCIDENTS),
                      may_export=who.account.may(Permission.EXPORT))

    @router.get("/incidents.csv")
    def incidents_export(who: Annotated[Viewer, Depends(guards.needs(Permission.EXPORT))],
                         _allowed: Annotated[Viewer, viewers],
                         view: Annotated[IncidentView, Depends(view_of)]) -> StreamingResponse:
        if not console.exporting(who, "incidents", redact(view.query(), ("text",))):
            raise RefusedError(403, N_("Your role may not export."), who)

        def lines() -> Iterator[str]:
            with console.store.engine.connect() as conn:
                rows = iter_incidents(conn, view.days.times, view.filters, key=console.cursor_key)
                yield from csv_lines(CSV_COLUMNS, _cells(rows), console.tz)
        name = f"incidents-{view.days.first}-{view.days.last}.csv"
        return StreamingResponse(lines(), media_type="text/csv; charset=utf-8", headers={
            **HEADERS, "Content-Disposition": f'attachment; filename="{name}"'})

    @router.post("/incidents")
    def open_incident(who: Annotated[Viewer, Depends(guards.posted)],
                      _may: Annotated[Viewer, Depends(guards.needs(Permission.MANAGE_INCIDENTS))],
                      form: Annotated[NewIncident, Form()]) -> Response:
        try:
            opened = desk.open(form.title, who.name, category=form.category)
        except IncidentError as exc:
            raise RefusedError(400, str(exc), who) from None
        return _back(opened.id)

    incident_detail_routes(router, console, guards)


def incident_detail_routes(router: APIRouter, console: Console, guards: Guards) -> None:
    """One incident: its page, PDF and snapshots, and the forms that add a note, attach or close."""
    viewers = Depends(guards.needs(Permission.VIEW_INCIDENTS))
    desk = console.incidents

    @router.get("/incidents/{incident_id}")
    def incident(request: Request, incident_id: str, who: Annotated[Viewer, viewers]) -> HTMLResponse:
        found = desk.timeline(incident_id[:64])
        if found is None:
            raise RefusedError(404, N_("There is no such incident."), who)
        return render(request, "incident.html", viewer=who, title="Incident", found=found, tz=console.tz,
                      may_change=who.account.may(Permission.MANAGE_INCIDENTS) and found.incident.is_open,
                      may_close=who.account.may(Permission.CLOSE_INCIDENTS) and found.incident.is_open,
                      kinds=[ItemKind.EVENT, ItemKind.ALARM, ItemKind.SNAPSHOT])

    @router.get("/incidents/{incident_id}/report.pdf")
    def report(incident_id: str, who: Annotated[Viewer, viewers]) -> Response:
        try:
            pdf = desk.report(incident_id[:64], tz=console.tz, snapshots=console.snapshots,
                              data_dir=console.data_dir)
        except IncidentNotFoundError:
            raise RefusedError(404, N_("There is no such incident."), who) from None
        return Response(pdf, media_type="application/pdf", headers={
            **HEADERS, "Content-Disposition": f'inline; filename="incident-{incident_id[:64]}.pdf"'})

    @router.get("/incidents/{incident_id}/snapshots/{event_id}")
    def snapshot(incident_id: str, event_id: str, who: Annotated[Viewer, viewers]) -> Response:
        found = desk.timeline(incident_id[:64])
        refs = [s for s in (found.snapshots if found else ()) if s.event_id == event_id]
        images = load_snapshots(refs, console.snapshots, base=console.data_dir)
        if not images or images[0].jpeg is None:
            raise RefusedError(404, N_("That snapshot is not kept."), who)
        return Response(images[0].jpeg, media_type="image/jpeg", headers={
            "Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"})

    @router.post("/incidents/{incident_id}/note")
    def note(incident_id: str, who: Annotated[Viewer, Depends(guards.posted)],
             _may: Annotated[Viewer, Depends(guards.needs(Permission.MANAGE_INCIDENTS))],
             form: Annotated[Note, Form()]) -> Response:
        try:
            desk.note(incident_id[:64], who.name, form.note)
        except IncidentError as exc:
            raise RefusedError(400, str(exc), who) from None
        return _back(incident_id)

    @router.post("/incidents/{incident_id}/attach")
    def attach(incident_id: str, who: Annotated[Viewer, Depends(guards.posted)],
               _may: Annotated[Viewer, Depends(guards.needs(Permission.MANAGE_INCIDENTS))],
               form: Annotated[Attachment, Form()]) -> Response:
        try:
            desk.attach(incident_id[:64], who.name, kind=form.kind, ref=form.ref)
        except IncidentError as exc:
            raise RefusedError(400, str(exc), who) from None
        return _back(incident_id)

    @router.post("/incidents/{incident_id}/close")
    def close(incident_id: str, who: Annotated[Viewer, Depends(guards.posted)],
              _may: Annotated[Viewer, Depends(guards.needs(Permission.CLOSE_INCIDENTS))],
              form: Annotated[Closing, Form()]) -> Response:
        try:
            desk.close(incident_id[:64], who.name, form.outcome)
        except IncidentError as exc:
            raise RefusedError(400, str(exc), who) from None
        return _back(incident_id)
