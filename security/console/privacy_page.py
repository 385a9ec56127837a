"""The Privacy page: a visitor's whole record downloaded (right of access) or erased (right to erasure)."""

# No `from __future__ import annotations` here: FastAPI evaluates the routes' annotations, which name
# dependencies local to the function declaring the routes.

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from security.accounts.privacy import NotAllowedError, PrivacyDesk, may_erase_visitor, may_export_visitor
from security.console.auth import Guards, RefusedError, Viewer
from security.console.context import Console
from security.console.i18n import N_
from security.console.render import HEADERS, render
from security.office.privacy import PrivacyError


class Lookup(BaseModel):
    """Who is looked for: a visit id, an e-mail address or a full name (one of them)."""

    visit: str = Field(default="", max_length=64)
    email: str = Field(default="", max_length=254)
    name: str = Field(default="", max_length=200)


class Chosen(BaseModel):
    """The visits a form acts on, and for an erasure why."""

    model_config = ConfigDict(extra="ignore")
    visit_ids: list[str] = Field(min_length=1, max_length=500)
    reason: str = Field(default="", max_length=500)


def privacy_routes(router: APIRouter, console: Console, guards: Guards) -> None:
    """GET /privacy (look a visitor up), POST /privacy/export (their record) and /privacy/erase."""
    desk = PrivacyDesk(console.store.engine, site=console.site, audit_key=console.audit_key)

    def finder(who: Annotated[Viewer, Depends(guards.viewer)]) -> Viewer:
        if not (may_export_visitor(who.account) or may_erase_visitor(who.account)):
            raise RefusedError(403, N_("Your role may not see this page."), who)
        return who

    @router.get("/privacy")
    def privacy(request: Request, who: Annotated[Viewer, Depends(finder)],
                asked: Annotated[Lookup, Query()]) -> HTMLResponse:
        matches = []
        if asked.visit or asked.email or asked.name:
            try:
                matches = desk.find(who.account, visit_id=asked.visit or None, email=asked.email or None,
                                    name=asked.name or None)
            except (PrivacyError, ValueError) as exc:
                raise RefusedError(400, str(exc), who) from None
        return render(request, "privacy.html", viewer=who, title="Privacy", asked=asked, matches=matches,
                      tz=console.tz, may_export=may_export_visitor(who.account),
                      may_erase=may_erase_visitor(who.account))

    @router.post("/privacy/export")
    def export(who: Annotated[Viewer, Depends(guards.posted)], form: Annotated[Chosen, Form()]) -> Response:
        try:
            body = desk.export_json(who.account, form.visit_ids, console.clock())
        except NotAllowedError as exc:
            raise RefusedError(403, str(exc), who) from None
        except (PrivacyError, ValueError) as exc:
            raise RefusedError(400, str(exc), who) from None
        return Response(body, media_type="application/json", headers={
            **HEADERS, "Content-Disposition": 'attachment; filename="visitor-record.json"'})

    @router.post("/privacy/erase")
    def erase(request: Request, who: Annotated[Viewer, Depends(guards.posted)],
              form: Annotated[Chosen, Form()]) -> HTMLResponse:
        try:
            done = desk.erase(who.account, form.visit_ids, form.reason, console.clock())
        except NotAllowedError as exc:
            raise RefusedError(403, str(exc), who) from None
        except (PrivacyError, ValueError) as exc:
            raise RefusedError(400, str(exc), who) from None
        return render(request, "privacy.html", viewer=who, title="Privacy", asked=Lookup(), matches=[],
                      tz=console.tz, may_export=may_export_visitor(who.account),
                      may_erase=may_erase_visitor(who.account), erased=done)
