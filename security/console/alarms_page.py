"""The Alarms page: the ISA-18.2 / EEMUA 191 KPIs of a range, its charts, the history and its CSV."""

# No `from __future__ import annotations` here: FastAPI evaluates the routes' annotations, which name
# dependencies local to the function declaring the routes.

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from pydantic import BaseModel, Field

from broker.schemas import Priority
from security.accounts.roles import Permission
from security.console.auth import Guards, RefusedError, Viewer
from security.console.charts import Bar, bars_svg
from security.console.context import Console
from security.console.i18n import N_, translator
from security.console.ranges import DayRange, day_range
from security.console.render import HEADERS, language, render
from security.office.alarms.kpis import AlarmKpis, AlarmLife, alarm_kpis
from security.office.alarms.lifecycle import AlarmState
from security.office.exports import alarms_csv
from security.storage.reports.alarms import (
    AlarmFilter,
    iter_alarm_history,
    list_alarm_history,
    lives_for_kpis,
)
from security.storage.reports.keyset import Page, ReportError


class AlarmQuery(BaseModel):
    """The page's query string as sent."""

    start: str | None = Field(default=None, alias="from", max_length=10)
    end: str | None = Field(default=None, alias="to", max_length=10)
    priority: str = Field(default="", max_length=16)
    state: str = Field(default="", max_length=16)
    source: str = Field(default="", max_length=280)
    cursor: str | None = Field(default=None, max_length=512)


@dataclass(frozen=True, slots=True)
class AlarmFilters:
    """The page's query: range, filters, cursor; what it shows and what its links keep."""

    days: DayRange
    filters: AlarmFilter
    cursor: str | None

    def query(self, **extra: str) -> str:
        """The query string of this view (without the cursor), plus `extra`."""
        values = {**self.days.query(), **extra}
        if self.filters.priorities:
            values["priority"] = str(self.filters.priorities[0])
        if self.filters.states:
            values["state"] = str(self.filters.states[0])
        if self.filters.source:
            values["source"] = self.filters.source
        return urlencode(values)


def per_day(lives: Sequence[AlarmLife], days: DayRange, tz: ZoneInfo) -> list[Bar]:
    """Alarms raised on each local day of the range (zero days included)."""
    counts = Counter(life.raised_at.astimezone(tz).date() for life in lives
                     if days.times.start <= life.raised_at < days.times.end)
    span = (days.last - days.first).days + 1
    return [Bar((days.first + timedelta(days=i)).strftime("%m-%d"), counts[days.first + timedelta(days=i)])
            for i in range(span)]


def ack_bars(kpis: AlarmKpis) -> list[Bar]:
    """Median time to acknowledge by priority, in minutes."""
    return [Bar(a.group, round(a.p50_s / 60, 1)) for a in kpis.ack_by_priority if a.p50_s is not None]


def minutes(seconds: float | None) -> str:
    """Seconds as minutes with one decimal, or a dash."""
    return "-" if seconds is None else f"{seconds / 60:.1f}"


def alarm_routes(router: APIRouter, console: Console, guards: Guards) -> None:
    """GET /alarms (KPIs, charts, history) and /alarms.csv (the history as shown, streamed)."""

    def filters(asked: Annotated[AlarmQuery, Query()]) -> AlarmFilters:
        try:
            return AlarmFilters(day_range(asked.start, asked.end, console.clock(), console.tz),
                                AlarmFilter(priorities=(Priority(asked.priority),) if asked.priority else (),
                                            states=(AlarmState(asked.state),) if asked.state else (),
                                            source=asked.source or None), asked.cursor or None)
        except (ReportError, ValueError) as exc:
            raise RefusedError(400, str(exc)) from None

    viewers = Depends(guards.needs(Permission.VIEW_ALARMS))

    @router.get("/alarms")
    def alarms(request: Request, who: Annotated[Viewer, viewers],
               view: Annotated[AlarmFilters, Depends(filters)]) -> HTMLResponse:
        try:
            with console.store.engine.connect() as conn:
                page: Page[AlarmLife] = list_alarm_history(conn, view.days.times, view.filters,
                                                           cursor=view.cursor, key=console.cursor_key)
                lives = list(lives_for_kpis(conn, view.days.times))
        except ReportError as exc:
            raise RefusedError(400, str(exc), who) from None
        kpis = alarm_kpis(lives, view.days.times.start, min(view.days.times.end, console.clock()), console.tz)
        worst = max(kpis.worst_10min_by_day, key=lambda d: d.count, default=None)
        t = translator(language(request)).gettext
        return render(
            request, "alarms.html", viewer=who, title="Alarms", view=view, page=page, kpis=kpis, worst=worst,
            tz=console.tz, minutes=minutes, priorities=[str(p) for p in Priority],
            states=[str(s) for s in AlarmState],
            day_chart=bars_svg(per_day(lives, view.days, console.tz), t(N_("Alarms raised per day"))),
            ack_chart=bars_svg(ack_bars(kpis), t(N_("Median minutes to acknowledge, by priority")),
                                " min"),
            may_export=who.account.may(Permission.EXPORT))

    @router.get("/alarms.csv")
    def alarms_export(who: Annotated[Viewer, Depends(guards.needs(Permission.EXPORT))],
                   _allowed: Annotated[Viewer, viewers],
                   view: Annotated[AlarmFilters, Depends(filters)]) -> StreamingResponse:
        if not console.exporting(who, "alarms", view.query()):
            raise RefusedError(403, N_("Your role may not export."), who)

        def lines() -> Iterator[str]:
            with console.store.engine.connect() as conn:
                yield from alarms_csv(iter_alarm_history(conn, view.days.times, view.filters,
                                                         key=console.cursor_key), console.tz)
        name = f"alarms-{view.days.first}-{view.days.last}.csv"
        return StreamingResponse(lines(), media_type="text/csv; charset=utf-8", headers={
            **HEADERS, "Content-Disposition": f'attachment; filename="{name}"'})

