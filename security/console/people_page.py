"""The People page: the directory (employees and visitors) filtered, a person added, employees imported."""

# No `from __future__ import annotations` here: FastAPI evaluates the routes' annotations, which name
# dependencies local to the function declaring the routes.

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from security.accounts.roles import Permission
from security.console.auth import Guards, RefusedError, Viewer
from security.console.context import Console
from security.console.i18n import N_
from security.console.person_page import person_routes, refusal, split_list
from security.console.render import HEADERS, render
from security.office.access.fields import FieldError, csv_text, person_from_fields
from security.storage import people
from security.storage.people import PeopleError, PersonView

KINDS = (N_("employee"), N_("visitor"))
MAX_CSV = 2 * 1024 * 1024
"""The largest employee file taken (bytes): a directory of tens of thousands of rows."""


class PeopleQuery(BaseModel):
    """The list's filters as sent."""

    text: str = Field(default="", max_length=200)
    kind: str = Field(default="", max_length=16)


class NewPerson(BaseModel):
    """The form that adds a person."""

    model_config = ConfigDict(extra="ignore")
    id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    kind: str = Field(default="employee", max_length=16)
    email: str = Field(default="", max_length=254)
    groups: str = Field(default="", max_length=2000)


class ImportForm(BaseModel):
    """The import form's fields beside its file."""

    model_config = ConfigDict(extra="ignore")
    tz: str = Field(default="", max_length=64)
    dry_run: bool = False


def matches(view: PersonView, text: str, kind: str) -> bool:
    """Whether a person passes the filters: their kind, and the text in id, name, e-mail or a group."""
    person = view.person
    if kind and str(person.kind) != kind:
        return False
    wanted = text.strip().casefold()
    haystack = " ".join((person.id, person.name, person.email or "", *person.groups)).casefold()
    return not wanted or wanted in haystack


def people_routes(router: APIRouter, console: Console, guards: Guards) -> None:
    """GET /people (the list), POST /people (add one), POST /people/import; then one person's routes."""
    viewers = Depends(guards.needs(Permission.VIEW_PEOPLE))
    managers = Depends(guards.needs(Permission.MANAGE_PEOPLE))
    engine = console.store.engine

    @router.get("/people")
    def people_list(request: Request, who: Annotated[Viewer, viewers],
                    asked: Annotated[PeopleQuery, Query()]) -> HTMLResponse:
        shown = [v for v in people.list_people(engine) if matches(v, asked.text, asked.kind)]
        now = console.clock()
        return render(request, "people.html", viewer=who, title="People", asked=asked, kinds=KINDS,
                      people=sorted(shown, key=lambda v: (v.person.name.casefold(), v.person.id)),
                      live={v.person.id: sum(c.state(now) == "valid" for c in v.credentials) for v in shown},
                      may_change=who.account.may(Permission.MANAGE_PEOPLE), tz=console.tz.key)

    @router.post("/people")
    def add_person(who: Annotated[Viewer, Depends(guards.posted)], _may: Annotated[Viewer, managers],
                   form: Annotated[NewPerson, Form()]) -> Response:
        try:
            person = person_from_fields(form.id.strip(), form.name, form.kind, split_list(form.groups),
                                        form.email.strip() or None)
            people.add_person(engine, person, console.change(who))
        except (FieldError, PeopleError) as exc:
            raise refusal(exc, who) from None
        return RedirectResponse(f"/console/people/{quote(person.id)}", status_code=303, headers=HEADERS)

    @router.post("/people/import")
    def import_people(request: Request, who: Annotated[Viewer, Depends(guards.posted)],
                      _may: Annotated[Viewer, managers], form: Annotated[ImportForm, Form()],
                      file: Annotated[UploadFile, File()]) -> HTMLResponse:
        data = file.file.read(MAX_CSV + 1)
        if len(data) > MAX_CSV:
            raise RefusedError(400, N_("The file is too large (at most 2 MB)."), who)
        try:
            report = people.import_employees(engine, csv_text(data, "file"), console.change(who),
                                             tz=form.tz or console.tz.key, dry_run=form.dry_run)
        except (FieldError, PeopleError) as exc:
            raise refusal(exc, who) from None
        return render(request, "people_import.html", viewer=who, title="People", report=report,
                      name=file.filename or "")

    person_routes(router, console, guards)
