"""Door groups and access rights: the lists, a door group set, a right given on a weekly schedule, revoked."""

# No `from __future__ import annotations` here: FastAPI evaluates the routes' annotations, which name
# dependencies local to the function declaring the routes.

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from security.accounts.roles import Permission
from security.console.auth import Guards, RefusedError, Viewer
from security.console.context import Console
from security.console.i18n import N_
from security.console.person_page import WEEKDAYS, refusal, split_list
from security.console.render import HEADERS, render
from security.office.access.fields import FieldError, right_from_fields
from security.storage import people
from security.storage.people import PeopleError


class RightsQuery(BaseModel):
    """Who a new right is for, when the page is opened from a person's page."""

    person_id: str = Field(default="", max_length=64)


class DoorGroupForm(BaseModel):
    """The form that creates or replaces a door group."""

    model_config = ConfigDict(extra="ignore")
    name: str = Field(min_length=1, max_length=64)
    doors: str = Field(default="", max_length=4000)


class RightForm(BaseModel):
    """The form that gives a right: a door group, one person or one group, always or on weekdays' hours."""

    model_config = ConfigDict(extra="ignore")
    door_group: str = Field(min_length=1, max_length=64)
    person_id: str = Field(default="", max_length=64)
    group: str = Field(default="", max_length=64)
    tz: str = Field(default="", max_length=64)
    always: bool = False
    days: list[int] = Field(default_factory=list, max_length=7)
    start: str = Field(default="", max_length=8)
    end: str = Field(default="", max_length=8)

    def schedule(self, site_tz: str) -> dict[str, Any]:
        """The schedule document the form describes (as the API's `schedule` field is)."""
        windows = [] if self.always else [[day, self.start, self.end] for day in sorted(set(self.days))]
        return {"tz": self.tz or site_tz, "always": self.always, "windows": windows}


def rights_routes(router: APIRouter, console: Console, guards: Guards) -> None:
    """GET /rights; POST /door-groups, /rights and /rights/{id}/delete."""
    viewers = Depends(guards.needs(Permission.VIEW_PEOPLE))
    managers = Depends(guards.needs(Permission.MANAGE_PEOPLE))
    engine = console.store.engine
    back = "/console/rights"

    @router.get("/rights")
    def rights(request: Request, who: Annotated[Viewer, viewers],
               asked: Annotated[RightsQuery, Query()]) -> HTMLResponse:
        return render(request, "rights.html", viewer=who, title="Rights",
                      groups=people.list_door_groups(engine),
                      rights=people.list_rights(engine), weekdays=WEEKDAYS, site_tz=console.tz.key,
                      person_id=asked.person_id, may_change=who.account.may(Permission.MANAGE_PEOPLE))

    @router.post("/door-groups")
    def set_group(who: Annotated[Viewer, Depends(guards.posted)], _may: Annotated[Viewer, managers],
                  form: Annotated[DoorGroupForm, Form()]) -> Response:
        try:
            people.set_door_group(engine, form.name.strip(), split_list(form.doors), console.change(who))
        except PeopleError as exc:
            raise refusal(exc, who) from None
        return RedirectResponse(back, status_code=303, headers=HEADERS)

    @router.post("/rights")
    def add_right(who: Annotated[Viewer, Depends(guards.posted)], _may: Annotated[Viewer, managers],
                  form: Annotated[RightForm, Form()]) -> Response:
        if not form.always and not (form.days and form.start and form.end):
            raise RefusedError(400, N_("Choose always, or the weekdays with a start and an end time."), who)
        try:
            right = right_from_fields(form.door_group.strip(), form.schedule(console.tz.key),
                                      form.person_id.strip() or None, form.group.strip() or None)
            people.grant_right(engine, right, console.change(who))
        except (FieldError, PeopleError) as exc:
            raise refusal(exc, who) from None
        if right.person_id is not None:
            target = f"/console/people/{quote(right.person_id)}"
            return RedirectResponse(target, status_code=303, headers=HEADERS)
        return RedirectResponse(back, status_code=303, headers=HEADERS)

    @router.post("/rights/{right_id}/delete")
    def revoke(right_id: int, who: Annotated[Viewer, Depends(guards.posted)],
               _may: Annotated[Viewer, managers]) -> Response:
        try:
            people.revoke_right(engine, right_id, console.change(who))
        except PeopleError as exc:
            raise refusal(exc, who) from None
        return RedirectResponse(back, status_code=303, headers=HEADERS)
