"""The Visits page: the visits of a range filtered and paged in SQL, their figures, one visit's record."""

# No `from __future__ import annotations` here: FastAPI evaluates the routes' annotations, which name
# dependencies local to the function declaring the routes.

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Annotated
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from pydantic import BaseModel, Field

from broker.masking import mask_company, mask_name
from security.accounts.roles import ROLES, Account, Permission, Scope, Visit
from security.console.auth import Guards, RefusedError, Viewer
from security.console.charts import Bar, bars_svg, heat_svg
from security.console.context import Console
from security.console.i18n import N_, translator
from security.console.ranges import DayRange, day_range, redact
from security.console.render import HEADERS, language, render
from security.office.csv_export import csv_lines
from security.office.exports import VISIT_COLUMNS, visit_cells
from security.office.feedback_report import FeedbackStats, feedback_stats
from security.office.visits_report import invitation_outcomes, visit_stats
from security.storage.reports.feedback import feedback_facts
from security.storage.reports.keyset import ReportError
from security.storage.reports.visits import (
    VisitFilter,
    VisitRow,
    invitation_facts,
    iter_visits,
    list_visits,
    visit_detail,
    visit_facts,
    visit_media,
)

WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))


class VisitQuery(BaseModel):
    """The page's query string as sent."""

    start: str | None = Field(default=None, alias="from", max_length=10)
    end: str | None = Field(default=None, alias="to", max_length=10)
    host: str = Field(default="", max_length=64)
    company: str = Field(default="", max_length=120)
    type: str = Field(default="", max_length=32)
    came: str = Field(default="", pattern="^(|invited|walk-in)$")
    text: str = Field(default="", max_length=120)
    cursor: str | None = Field(default=None, max_length=512)


@dataclass(frozen=True, slots=True)
class VisitView:
    """What the page shows: the range, the filters (the viewer's scope applied) and the cursor."""

    days: DayRange
    filters: VisitFilter
    asked: VisitQuery

    def query(self, **extra: str) -> str:
        """This view's query string without its cursor, plus `extra`."""
        shown = self.asked.model_dump(by_alias=True, exclude={"cursor", "start", "end"})
        return urlencode({**self.days.query(), **{k: v for k, v in shown.items() if v}, **extra})

    def recorded(self) -> str:
        """The query as the audit chain keeps it: searched texts (a visitor's name?) only said to be there."""
        return redact(self.query(), ("text", "company"))


@dataclass(frozen=True, slots=True)
class VisitLine:
    """One visit as this viewer may see it."""

    visit_id: str
    arrived: str
    left: str
    name: str
    company: str
    visitor_type: str
    invited: bool
    host: str
    badge: str
    personal: bool


def scoped(account: Account, days: DayRange, filters: VisitFilter, today: date) -> VisitFilter:
    """The filters narrowed to the visits the account's role may list (ReportError if none)."""
    scope = ROLES[account.role].visits
    if scope is Scope.NONE:
        raise ReportError("your role lists no visits")
    if scope is Scope.TODAY and (days.first, days.last) != (today, today):
        raise ReportError("your role lists today's visits only: choose today as the range")
    if scope is Scope.OWN:  # a host without a directory person hosts nobody
        return replace(filters, host_id=account.person_id or "\0")
    return filters


def visit_line(row: VisitRow, account: Account, today: date, tz: ZoneInfo) -> VisitLine:
    """A visit's line, the visitor's name and company masked unless the account may see them."""
    arrived = row.arrived_at.astimezone(tz)
    personal = account.sees_personal_data(Visit(row.host_id, arrived.date(), row.left_at is None), today)
    return VisitLine(
        row.visit_id, arrived.strftime("%Y-%m-%d %H:%M"),
        row.left_at.astimezone(tz).strftime("%H:%M") if row.left_at else "",
        row.visitor_name if personal else mask_name(row.visitor_name),
        (row.company or "") if personal else (mask_company(row.company) or ""),
        row.visitor_type, row.invited, row.host_name or row.host_id or "", row.badge or "", personal)


def _minutes(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 60:.0f}"


def heat_rows(heat: Sequence[Sequence[int]]) -> list[tuple[str, list[int]]]:
    """The heat-map as (weekday, 24 counts) rows, for its table twin."""
    return [(day, list(row)) for day, row in zip(WEEKDAYS, heat, strict=True)]


def daily_ratings_svg(stats: FeedbackStats, title: str) -> str:
    """The average rating of each local day with ratings, as bars ('' when there is none)."""
    return bars_svg([Bar(d.day.strftime("%m-%d"), d.ratings.average or 0) for d in stats.days], title, "/5")


def _csv_rows(rows: Iterator[VisitRow], account: Account, today: date,
              tz: ZoneInfo) -> Iterator[Sequence[object]]:
    for row in rows:
        yield visit_cells(row, personal=visit_line(row, account, today, tz).personal)


def visit_routes(router: APIRouter, console: Console, guards: Guards) -> None:
    """GET /visits (list, figures, heat-map), /visits.csv (the list as shown) and /visits/{id}."""
    viewers = Depends(guards.needs(Permission.VIEW_VISITS))

    def view_of(who: Annotated[Viewer, viewers], asked: Annotated[VisitQuery, Query()]) -> VisitView:
        today = console.today()
        start, end = asked.start, asked.end
        if ROLES[who.account.role].visits is Scope.TODAY and not (start or end):
            start = end = today.isoformat()  # a role that lists today's visits starts on today
        try:
            days = day_range(start, end, console.clock(), console.tz)
            wanted = VisitFilter(host_id=asked.host or None, company=asked.company or None,
                                 visitor_type=asked.type or None,
                                 invited={"invited": True, "walk-in": False}.get(asked.came),
                                 text=asked.text or None)
            return VisitView(days, scoped(who.account, days, wanted, today), asked)
        except ReportError as exc:
            raise RefusedError(400, str(exc), who) from None

    @router.get("/visits")
    def visits(request: Request, who: Annotated[Viewer, viewers],
               view: Annotated[VisitView, Depends(view_of)]) -> HTMLResponse:
        now = console.clock()
        today = now.astimezone(console.tz).date()
        try:
            with console.store.engine.connect() as conn:
                page = list_visits(conn, view.days.times, view.filters, cursor=view.asked.cursor,
                                   key=console.cursor_key)
                stats = visit_stats(visit_facts(conn, view.days.times, view.filters), console.tz)
                outcomes, ratings = (
                    invitation_outcomes(invitation_facts(conn, view.days.times), now),
                    feedback_stats(feedback_facts(conn, view.days.times, view.filters), console.tz))
        except ReportError as exc:
            raise RefusedError(400, str(exc), who) from None
        t = translator(language(request)).gettext
        hosts = [Bar(h.host_name or h.host_id, h.visits) for h in stats.top_hosts]
        return render(
            request, "visits.html", viewer=who, title="Visits", view=view, page=page, stats=stats,
            outcomes=outcomes, lines=[visit_line(r, who.account, today, console.tz) for r in page.rows],
            heat=heat_svg(stats.heat, [t(d) for d in WEEKDAYS], t(N_("Arrivals by weekday and hour"))),
            heat_rows=[(t(d), row) for d, row in heat_rows(stats.heat)],
            hosts_chart=bars_svg(hosts, t(N_("Visits per host"))), hours=range(24), ratings=ratings,
            ratings_chart=daily_ratings_svg(ratings, t(N_("Average rating per day"))),
            may_export=who.account.may(Permission.EXPORT), minutes=_minutes)

    @router.get("/visits.csv")
    def visits_export(who: Annotated[Viewer, Depends(guards.needs(Permission.EXPORT))],
                   view: Annotated[VisitView, Depends(view_of)]) -> StreamingResponse:
        if not console.exporting(who, "visits", view.recorded()):
            raise RefusedError(403, N_("Your role may not export."), who)
        today = console.today()

        def lines() -> Iterator[str]:
            with console.store.engine.connect() as conn:
                rows = iter_visits(conn, view.days.times, view.filters, key=console.cursor_key)
                cells = _csv_rows(rows, who.account, today, console.tz)
                yield from csv_lines(VISIT_COLUMNS, cells, console.tz)
        name = f"visits-{view.days.first}-{view.days.last}.csv"
        return StreamingResponse(lines(), media_type="text/csv; charset=utf-8", headers={
            **HEADERS, "Content-Disposition": f'attachment; filename="{name}"'})

    @router.get("/visits/{visit_id}")
    def visit(request: Request, visit_id: str, who: Annotated[Viewer, viewers]) -> HTMLResponse:
        today = console.today()
        with console.store.engine.connect() as conn:
            found = visit_detail(conn, visit_id)
        if found is None:
            raise RefusedError(404, N_("There is no such visit."), who)
        row = found.visit
        arrived = row.arrived_at.astimezone(console.tz).date()
        seen = Visit(row.host_id, arrived, row.left_at is None)
        if not who.account.sees_visit(seen, today):
            raise RefusedError(403, N_("Your role may not see this visit."), who)
        personal = console.opening(who, row.visit_id, seen)
        photo = signature = None
        if personal:
            with console.store.engine.connect() as conn:
                photo, signature = visit_media(conn, found.photo_ref, found.signature_ref)
        return render(request, "visit.html", viewer=who, title="Visit", found=found,
                      line=visit_line(row, who.account, today, console.tz), personal=personal, photo=photo,
                      signature=signature, tz=console.tz)

