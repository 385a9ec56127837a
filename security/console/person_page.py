"""One person: badges (masked unless one manages people) and rights; changed, badges enrolled or revoked."""

# No `from __future__ import annotations` here: FastAPI evaluates the routes' annotations, which name
# dependencies local to the function declaring the routes.

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from security.accounts.roles import Permission
from security.console.auth import Guards, RefusedError, Viewer
from security.console.context import Console
from security.console.i18n import N_
from security.console.ranges import local_moment
from security.console.render import HEADERS, render
from security.office.access import CredentialFormat
from security.office.access.fields import FieldError, credential_from_fields, person_from_fields
from security.storage import people
from security.storage.people import DuplicateError, NotFoundError, PeopleError, mask
from security.storage.reports.keyset import ReportError

WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))
BADGE_STATES = (N_("valid"), N_("revoked"), N_("expired"), N_("not_yet_valid"))


class PersonEdit(BaseModel):
    """The form that changes a person's name, e-mail and groups (their kind stays)."""

    model_config = ConfigDict(extra="ignore")
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(default="", max_length=254)
    groups: str = Field(default="", max_length=2000)


class NewBadge(BaseModel):
    """The form that enrols a badge, its validity in the site's local time."""

    model_config = ConfigDict(extra="ignore")
    value: str = Field(min_length=1, max_length=64)
    format: str = Field(min_length=1, max_length=16)
    valid_from: str = Field(default="", max_length=32)
    valid_until: str = Field(default="", max_length=32)


class Revoked(BaseModel):
    """The form that revokes one badge."""

    model_config = ConfigDict(extra="ignore")
    value: str = Field(min_length=1, max_length=64)


def split_list(text: str) -> list[str]:
    """Names typed with commas between them (groups, doors, aliases), blanks dropped, order kept."""
    return list(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))


def refusal(exc: Exception, who: Viewer) -> RefusedError:
    """A storage or field refusal as the page's answer: 404 when absent, 409 when taken, else 400."""
    status = 404 if isinstance(exc, NotFoundError) else 409 if isinstance(exc, DuplicateError) else 400
    return RefusedError(status, str(exc), who)


def _back(person_id: str) -> RedirectResponse:
    return RedirectResponse(f"/console/people/{quote(person_id)}", status_code=303, headers=HEADERS)


def person_routes(router: APIRouter, console: Console, guards: Guards) -> None:
    """GET /people/{id}; POST /people/{id}/edit, /badges, /badges/revoke and /delete."""
    viewers = Depends(guards.needs(Permission.VIEW_PEOPLE))
    managers = Depends(guards.needs(Permission.MANAGE_PEOPLE))
    engine = console.store.engine

    @router.get("/people/{person_id}")
    def person(request: Request, person_id: str, who: Annotated[Viewer, viewers]) -> HTMLResponse:
        try:
            view = people.get_person(engine, person_id[:64])
        except PeopleError as exc:
            raise refusal(exc, who) from None
        full = who.account.may(Permission.MANAGE_PEOPLE)  # the API shows values to managers only, too
        badges = [(c, c.value if full else mask(c.value), c.state(console.clock())) for c in view.credentials]
        return render(request, "person.html", viewer=who, title="People", view=view, badges=badges,
                      may_change=full, formats=[str(f) for f in CredentialFormat], tz=console.tz,
                      weekdays=WEEKDAYS)

    @router.post("/people/{person_id}/edit")
    def edit(person_id: str, who: Annotated[Viewer, Depends(guards.posted)],
             _may: Annotated[Viewer, managers], form: Annotated[PersonEdit, Form()]) -> Response:
        try:
            current = people.get_person(engine, person_id[:64]).person
            changed = person_from_fields(current.id, form.name, None, split_list(form.groups),
                                         form.email.strip() or None, default=current.kind)
            people.update_person(engine, changed, console.change(who))
        except (FieldError, PeopleError) as exc:
            raise refusal(exc, who) from None
        return _back(current.id)

    @router.post("/people/{person_id}/badges")
    def add_badge(person_id: str, who: Annotated[Viewer, Depends(guards.posted)],
                  _may: Annotated[Viewer, managers], form: Annotated[NewBadge, Form()]) -> Response:
        try:
            cred = credential_from_fields(person_id[:64], form.value.strip(), form.format,
                                          local_moment(form.valid_from, console.tz, "valid_from"),
                                          local_moment(form.valid_until, console.tz, "valid_until"))
            people.add_credential(engine, cred, console.change(who))
        except (FieldError, PeopleError, ReportError) as exc:
            raise refusal(exc, who) from None
        return _back(cred.person_id)

    @router.post("/people/{person_id}/badges/revoke")
    def revoke_badge(person_id: str, who: Annotated[Viewer, Depends(guards.posted)],
                     _may: Annotated[Viewer, managers], form: Annotated[Revoked, Form()]) -> Response:
        try:
            people.revoke_credentials(engine, person_id[:64], console.change(who), form.value)
        except PeopleError as exc:  # NotFoundError when no unrevoked badge has the value
            raise refusal(exc, who) from None
        return _back(person_id[:64])

    @router.post("/people/{person_id}/delete")
    def remove(person_id: str, who: Annotated[Viewer, Depends(guards.posted)],
               _may: Annotated[Viewer, managers]) -> Response:
        try:
            people.remove_person(engine, person_id[:64], console.change(who))
        except PeopleError as exc:
            raise refusal(exc, who) from None
        return RedirectResponse("/console/people", status_code=303, headers=HEADERS)
