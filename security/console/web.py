"""The console on the API's FastAPI app: Today, its panels and live feed, static files, login and errors."""

# No `from __future__ import annotations` here: FastAPI evaluates the routes' annotations, which name
# dependencies local to the function declaring the routes.

import asyncio
from collections.abc import AsyncIterator, Mapping
from importlib import resources
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from security.accounts.roles import Permission
from security.console.alarm_page import alarm_page_routes
from security.console.alarms_page import alarm_routes
from security.console.audit_page import audit_routes
from security.console.auth import Guards, LoginNeededError, RefusedError, Viewer, login_routes
from security.console.context import Console
from security.console.devices_page import device_routes
from security.console.i18n import N_
from security.console.incidents_page import incident_routes
from security.console.invitations_page import invitation_routes
from security.console.people_page import people_routes
from security.console.privacy_page import privacy_routes
from security.console.render import HEADERS, NAV, render
from security.console.rights_page import rights_routes
from security.console.today import day_bounds, today_page
from security.console.visits_page import visit_routes
from security.console.watchlist_page import watchlist_routes
from security.office.onsite_query import current_on_site
from security.storage.alarm_store import list_alarms
from security.storage.invitations import list_invitations

HEARTBEAT_S = 15.0
"""A comment line on an idle live feed this often, so proxies and the browser keep it open."""
STATIC = {"console.css": "text/css; charset=utf-8", "live.js": "text/javascript; charset=utf-8"}


def console_router(console: Console) -> APIRouter:
    """The console's routes under /console: pages, their fragments, the live feed, static files."""
    router = APIRouter(prefix="/console", include_in_schema=False)
    guards = Guards(console.desk, console.clock)
    login_routes(router, console.desk, console.clock)
    visits = Depends(guards.needs(Permission.VIEW_VISITS))

    @router.get("/static/{name}")
    def static(name: str) -> Response:
        if name not in STATIC:
            raise RefusedError(404, N_("There is no such page."))
        body = resources.files("security.console").joinpath("static", name).read_bytes()
        return Response(body, media_type=STATIC[name],
                        headers={"Cache-Control": "max-age=3600", "X-Content-Type-Options": "nosniff"})

    def today_values() -> Mapping[str, Any]:
        now = console.clock()
        start, end = day_bounds(now, console.tz)
        with console.store.engine.connect() as conn:
            invitations = list_invitations(conn, expected_from=start, expected_before=end, limit=1000)
            alarms = list_alarms(conn, open_only=True, limit=500)
        on_site = current_on_site(console.store, now)
        page = today_page(now, console.tz, on_site=on_site, invitations=invitations, alarms=alarms,
                          devices=console.store.list_status())
        return {"page": page}

    @router.get("/")
    def today(request: Request, who: Annotated[Viewer, Depends(guards.viewer)]) -> Response:
        if not who.account.may(Permission.VIEW_VISITS):  # an admin's or auditor's first page is another
            first = next((href for href, _label, shown in NAV if shown(who.account)), None)
            if first is None:
                raise RefusedError(403, N_("Your role may not see this page."), who)
            return RedirectResponse(first, status_code=303, headers=HEADERS)
        return render(request, "today.html", viewer=who, title="Today", recent=console.feed.recent(),
                      may_alarms=who.account.may(Permission.VIEW_ALARMS), **today_values())

    @router.get("/today/panels")
    def today_panels(request: Request, who: Annotated[Viewer, visits]) -> HTMLResponse:
        return render(request, "today_panels.html", viewer=who, title="Today",
                      may_alarms=who.account.may(Permission.VIEW_ALARMS), **today_values())

    @router.get("/live")
    async def live(request: Request, _who: Annotated[Viewer, visits]) -> StreamingResponse:
        async def items() -> AsyncIterator[str]:
            yield f"retry: {int(HEARTBEAT_S * 200)}\n\n"
            with console.feed.listen() as queue:
                while not await request.is_disconnected():
                    try:
                        item = await asyncio.wait_for(queue.get(), HEARTBEAT_S)
                    except TimeoutError:
                        yield ": still here\n\n"
                        continue
                    yield item.sse()
        return StreamingResponse(items(), media_type="text/event-stream",
                                 headers={**HEADERS, "X-Accel-Buffering": "no"})

    alarm_routes(router, console, guards)
    visit_routes(router, console, guards)
    audit_routes(router, console, guards)
    incident_routes(router, console, guards)
    device_routes(router, console, guards)
    privacy_routes(router, console, guards)
    alarm_page_routes(router, console, guards)
    invitation_routes(router, console, guards)
    people_routes(router, console, guards)
    rights_routes(router, console, guards)
    watchlist_routes(router, console, guards)
    return router


def install(app: FastAPI, console: Console) -> None:
    """Add the console to the API's app: its routes, and its answers for a missing login or a refusal."""
    router = console_router(console)
    app.include_router(router)

    @app.get("/", include_in_schema=False)
    @app.get("/console", include_in_schema=False)
    def to_console() -> Response:  # what a person types into the address bar
        return RedirectResponse("/console/", status_code=303, headers=HEADERS)

    app.state.console_routes = [(sorted(getattr(r, "methods", ())), getattr(r, "path", ""))
                                for r in router.routes]

    @app.exception_handler(LoginNeededError)
    async def to_login(request: Request, exc: LoginNeededError) -> Response:
        if request.url.path.startswith(("/console/live", "/console/today/")):
            return Response("log in again", status_code=401, headers=HEADERS)
        return RedirectResponse(f"/console/login?next={quote(exc.path)}", status_code=303, headers=HEADERS)

    @app.exception_handler(RefusedError)
    async def refused(request: Request, exc: RefusedError) -> Response:
        return render(request, "refused.html", exc.status, viewer=exc.viewer, title="Refused",
                      message=exc.message)
