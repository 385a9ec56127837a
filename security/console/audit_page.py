"""The Audit page: the audit trail of a range with filters, its CSV, and the chain verified on request."""

# No `from __future__ import annotations` here: FastAPI evaluates the routes' annotations, which name
# dependencies local to the function declaring the routes.

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from pydantic import BaseModel, Field

from security.accounts.roles import Permission
from security.console.auth import Guards, RefusedError, Viewer
from security.console.context import Console
from security.console.i18n import N_
from security.console.ranges import DayRange, day_range
from security.console.render import HEADERS, render
from security.office.audit import verify
from security.office.audit.chain import SealedRecord
from security.office.csv_export import csv_lines
from security.storage.audit_log import chain_head, read_chain
from security.storage.reports.audit import AuditFilter, iter_audit, list_audit
from security.storage.reports.keyset import ReportError

CSV_HEADER = ("seq", "time", "actor", "action", "subject", "details", "hash")


class AuditQuery(BaseModel):
    """The page's query string as sent."""

    start: str | None = Field(default=None, alias="from", max_length=10)
    end: str | None = Field(default=None, alias="to", max_length=10)
    actor: str = Field(default="", max_length=200)
    action: str = Field(default="", max_length=200)
    cursor: str | None = Field(default=None, max_length=512)


@dataclass(frozen=True, slots=True)
class AuditView:
    """The range, the filters and the cursor of the page."""

    days: DayRange
    filters: AuditFilter
    cursor: str | None

    def query(self, **extra: str) -> str:
        """This view's query string without its cursor, plus `extra`."""
        values = {**self.days.query(), "actor": self.filters.actor or "", "action": self.filters.action or ""}
        return urlencode({k: v for k, v in {**values, **extra}.items() if v})


def details_text(record: SealedRecord) -> str:
    """A record's details as compact JSON, for the table and the CSV."""
    return json.dumps(dict(record.details), ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _csv_rows(records: Iterator[SealedRecord]) -> Iterator[Sequence[object]]:
    for r in records:
        yield (r.seq, r.time, r.actor, r.action, r.subject, details_text(r), r.hash)


def audit_routes(router: APIRouter, console: Console, guards: Guards) -> None:
    """GET /audit, /audit.csv, and POST /audit/verify (auditors and admins)."""
    viewers = Depends(guards.needs(Permission.VIEW_AUDIT))

    def view_of(who: Annotated[Viewer, viewers], asked: Annotated[AuditQuery, Query()]) -> AuditView:
        try:
            return AuditView(day_range(asked.start, asked.end, console.clock(), console.tz),
                             AuditFilter(actor=asked.actor or None, action=asked.action or None),
                             asked.cursor or None)
        except ReportError as exc:
            raise RefusedError(400, str(exc), who) from None

    def page(request: Request, who: Viewer, view: AuditView, verdict: str | None = None,
             intact: bool | None = None) -> HTMLResponse:
        try:
            with console.store.engine.connect() as conn:
                found = list_audit(conn, view.days.times, view.filters, cursor=view.cursor,
                                   key=console.cursor_key)
        except ReportError as exc:
            raise RefusedError(400, str(exc), who) from None
        return render(request, "audit.html", viewer=who, title="Audit", view=view, page=found, tz=console.tz,
                      details=details_text, verdict=verdict, intact=intact,
                      may_verify=who.account.may(Permission.VERIFY_AUDIT),
                      may_export=who.account.may(Permission.EXPORT))

    @router.get("/audit")
    def audit(request: Request, who: Annotated[Viewer, viewers],
              view: Annotated[AuditView, Depends(view_of)]) -> HTMLResponse:
        return page(request, who, view)

    @router.post("/audit/verify")
    def audit_verify(request: Request, who: Annotated[Viewer, Depends(guards.posted)],
                     _allowed: Annotated[Viewer, Depends(guards.needs(Permission.VERIFY_AUDIT))],
                     view: Annotated[AuditView, Depends(view_of)]) -> HTMLResponse:
        with console.store.engine.connect() as conn:
            report = verify(read_chain(conn), key=console.audit_key, expected=chain_head(conn))
        console.audit(who, "console.audit_verified", "audit log",
                      {"records": report.count, "ok": report.ok, "problems": len(report.problems)})
        return page(request, who, view, report.summary(), report.ok)

    @router.get("/audit.csv")
    def audit_export(who: Annotated[Viewer, Depends(guards.needs(Permission.EXPORT))],
                  _allowed: Annotated[Viewer, viewers],
                  view: Annotated[AuditView, Depends(view_of)]) -> StreamingResponse:
        if not console.exporting(who, "audit", view.query()):
            raise RefusedError(403, N_("Your role may not export."), who)

        def lines() -> Iterator[str]:
            with console.store.engine.connect() as conn:
                yield from csv_lines(CSV_HEADER, _csv_rows(iter_audit(conn, view.days.times, view.filters,
                                                                      key=console.cursor_key)), console.tz)
        name = f"audit-{view.days.first}-{view.days.last}.csv"
        return StreamingResponse(lines(), media_type="text/csv; charset=utf-8", headers={
            **HEADERS, "Content-Disposition": f'attachment; filename="{name}"'})
