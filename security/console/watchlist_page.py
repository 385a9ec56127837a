"""The Watchlist page: the people to know about at check-in, with why and by whom; added and taken off."""

# No `from __future__ import annotations` here: FastAPI evaluates the routes' annotations, which name
# dependencies local to the function declaring the routes.

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from security.accounts.roles import Permission
from security.console.auth import Guards, Viewer
from security.console.context import Console
from security.console.person_page import refusal, split_list
from security.console.render import HEADERS, render
from security.storage import watchlist
from security.storage.people import PeopleError


class WatchQuery(BaseModel):
    """Whether entries taken off are listed too."""

    removed: bool = False


class NewEntry(BaseModel):
    """The form that puts a person on the watchlist."""

    model_config = ConfigDict(extra="ignore")
    name: str = Field(min_length=1, max_length=200)
    aliases: str = Field(default="", max_length=4000)
    reason: str = Field(default="", max_length=500)


def watchlist_routes(router: APIRouter, console: Console, guards: Guards) -> None:
    """GET /watchlist; POST /watchlist (add) and /watchlist/{id}/remove."""
    viewers = Depends(guards.needs(Permission.VIEW_WATCHLIST))
    managers = Depends(guards.needs(Permission.MANAGE_WATCHLIST))
    engine = console.store.engine

    def back() -> RedirectResponse:
        return RedirectResponse("/console/watchlist", status_code=303, headers=HEADERS)

    @router.get("/watchlist")
    def entries(request: Request, who: Annotated[Viewer, viewers],
                asked: Annotated[WatchQuery, Query()]) -> HTMLResponse:
        return render(request, "watchlist.html", viewer=who, title="Watchlist", tz=console.tz,
                      entries=watchlist.list_entries(engine, removed=asked.removed), removed=asked.removed,
                      may_change=who.account.may(Permission.MANAGE_WATCHLIST))

    @router.post("/watchlist")
    def add(who: Annotated[Viewer, Depends(guards.posted)], _may: Annotated[Viewer, managers],
            form: Annotated[NewEntry, Form()]) -> Response:
        try:
            watchlist.add_entry(engine, form.name, console.change(who), aliases=split_list(form.aliases),
                                reason=form.reason or None)
        except PeopleError as exc:
            raise refusal(exc, who) from None
        return back()

    @router.post("/watchlist/{entry_id}/remove")
    def remove(entry_id: int, who: Annotated[Viewer, Depends(guards.posted)],
               _may: Annotated[Viewer, managers]) -> Response:
        try:
            watchlist.remove_entry(engine, entry_id, console.change(who))
        except PeopleError as exc:
            raise refusal(exc, who) from None
        return back()
