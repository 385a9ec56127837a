"""The Invitations page: today's and upcoming invitations, a visitor invited, one cancelled, its QR code.

Hosts invite, see and cancel only as themselves (their role's visit scope is their own visits);
reception and managers for any host. Every change goes through the site's invitation desk, which
stores, audits and announces it exactly as for the HTTP API.
"""

# No `from __future__ import annotations` here: FastAPI evaluates the routes' annotations, which name
# dependencies local to the function declaring the routes.

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from broker.masking import mask_company, mask_name
from broker.schemas import VisitorType
from security.accounts.roles import Account, Permission, Visit
from security.console.auth import Guards, RefusedError, Viewer
from security.console.context import Console
from security.console.i18n import N_
from security.console.ranges import local_moment
from security.console.render import HEADERS, render
from security.office.invitations import InvitationDesk, valid_from
from security.storage.invitations import (
    Invitation,
    InvitationClosedError,
    InvitationError,
    InvitationNotFoundError,
)
from security.storage.reports.keyset import ReportError

VISITOR_TYPES = (N_("guest"), N_("contractor"), N_("delivery"), N_("interview"))
STATES = (N_("open"), N_("checked_in"), N_("cancelled"), N_("ran out"))


class NewInvitation(BaseModel):
    """The form that invites a visitor; the expected time is the site's local time."""

    model_config = ConfigDict(extra="ignore")
    visitor_name: str = Field(min_length=1, max_length=200)
    company: str = Field(default="", max_length=200)
    email: str = Field(default="", max_length=254)
    visitor_type: VisitorType = VisitorType.GUEST
    host_id: str = Field(min_length=1, max_length=64)
    expected: str = Field(default="", max_length=32)
    send_email: bool = False


@dataclass(frozen=True, slots=True)
class InvitationLine:
    """An invitation as one account sees it: the visitor masked unless the account may see their record."""

    invitation: Invitation
    state: str
    name: str
    company: str
    email: str
    host: str


def invitation_line(invitation: Invitation, account: Account, host_name: str | None, now: datetime,
                    tz: ZoneInfo) -> InvitationLine:
    """`invitation` for `account` at `now`: reception sees only today's visitors in full, as on Visits."""
    visit = Visit(invitation.host_id, invitation.expected_at.astimezone(tz).date())
    personal = account.sees_personal_data(visit, now.astimezone(tz).date())
    ran_out = invitation.state == "open" and invitation.valid_until <= now
    return InvitationLine(
        invitation, "ran out" if ran_out else invitation.state,
        invitation.visitor_name if personal else mask_name(invitation.visitor_name),
        (invitation.company or "") if personal else (mask_company(invitation.company) or ""),
        (invitation.email or "") if personal else "", host_name or invitation.host_id)


def invitation_routes(router: APIRouter, console: Console, guards: Guards) -> None:
    """GET/POST /invitations; GET /invitations/{id} and its qr.png; POST /invitations/{id}/cancel."""
    inviters = Depends(guards.needs(Permission.MANAGE_VISITS))

    def desk_of(who: Viewer) -> InvitationDesk:
        if console.invitations is None:
            raise RefusedError(404, N_("This site serves no invitations."), who)
        return console.invitations

    def covers(who: Viewer, host_id: str, invitation: Invitation | None = None) -> bool:
        """Whether the viewer's visit scope covers a visit of `host_id` (a host: only their own)."""
        day = invitation.expected_at.astimezone(console.tz).date() if invitation else console.today()
        return who.account.sees_visit(Visit(host_id, day), console.today())

    def line(who: Viewer, invitation: Invitation, names: dict[str, str]) -> InvitationLine:
        host = names.get(invitation.host_id)
        return invitation_line(invitation, who.account, host, console.clock(), console.tz)

    def found(who: Viewer, visit_id: str) -> tuple[InvitationDesk, Invitation]:
        desk = desk_of(who)
        invitation = desk.get(visit_id[:64])
        if invitation is None or not covers(who, invitation.host_id, invitation):
            raise RefusedError(404, N_("There is no such invitation."), who)
        return desk, invitation

    @router.get("/invitations")
    def invitations(request: Request, who: Annotated[Viewer, inviters]) -> HTMLResponse:
        desk = desk_of(who)
        chosen = {i.visit_id: i for i in desk.on_day(console.today()) + desk.pending()}
        shown = sorted((i for i in chosen.values() if covers(who, i.host_id, i)), key=lambda i: i.expected_at)
        names = desk.host_names()
        hosts = sorted(((k, v) for k, v in names.items() if covers(who, k)), key=lambda h: h[1])
        return render(request, "invitations.html", viewer=who, title="Invitations", tz=console.tz,
                      lines=[line(who, i, names) for i in shown], hosts=hosts, types=VISITOR_TYPES,
                      today=console.today())

    @router.post("/invitations")
    def invite(who: Annotated[Viewer, Depends(guards.posted)], _may: Annotated[Viewer, inviters],
               form: Annotated[NewInvitation, Form()]) -> Response:
        desk = desk_of(who)
        if not covers(who, form.host_id):
            raise RefusedError(403, N_("You may invite only as yourself."), who)
        try:
            issued = desk.invite(visitor_name=form.visitor_name, host_id=form.host_id, by=f"user:{who.name}",
                                 company=form.company.strip() or None, email=form.email.strip() or None,
                                 visitor_type=form.visitor_type,
                                 expected_at=local_moment(form.expected, console.tz, "expected"),
                                 send_email=form.send_email)
        except (InvitationError, ReportError) as exc:
            raise RefusedError(400, str(exc), who) from None
        target = f"/console/invitations/{quote(issued.invitation.visit_id)}"
        return RedirectResponse(target, status_code=303, headers=HEADERS)

    @router.get("/invitations/{visit_id}")
    def invitation(request: Request, visit_id: str, who: Annotated[Viewer, inviters]) -> HTMLResponse:
        desk, shown = found(who, visit_id)
        return render(request, "invitation.html", viewer=who, title="Invitations", tz=console.tz,
                      line=line(who, shown, desk.host_names()), valid_from=valid_from(shown, desk.tz))

    @router.get("/invitations/{visit_id}/qr.png")
    def qr(visit_id: str, who: Annotated[Viewer, inviters]) -> Response:
        desk, shown = found(who, visit_id)
        return Response(desk.qr(shown.visit_id), media_type="image/png", headers=HEADERS)

    @router.post("/invitations/{visit_id}/cancel")
    def cancel(visit_id: str, who: Annotated[Viewer, Depends(guards.posted)],
               _may: Annotated[Viewer, inviters]) -> Response:
        desk, shown = found(who, visit_id)
        try:
            desk.cancel(shown.visit_id, f"user:{who.name}")
        except InvitationNotFoundError as exc:
            raise RefusedError(404, str(exc), who) from None
        except InvitationClosedError as exc:
            raise RefusedError(409, str(exc), who) from None
        target = f"/console/invitations/{quote(shown.visit_id)}"
        return RedirectResponse(target, status_code=303, headers=HEADERS)
