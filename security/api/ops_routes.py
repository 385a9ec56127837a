"""The API's operations routes: health, the on-site (muster) list, alarms and the actions on them."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, PlainTextResponse

from broker.api_models import AlarmActionBody, AlarmBody, MusterList
from broker.api_models.requests import Text
from security.api.auth import Guard, Service, by
from security.api.core import ApiError, App
from security.api.routing import ApiRoute
from security.api.views import alarm_json, iso, muster_entry
from security.office.access import render_muster
from security.office.alarms import (
    NEEDS_COMMENT,
    Acknowledge,
    Action,
    ActionRejected,
    Alarm,
    Resolve,
    Shelve,
    Unshelve,
)
from security.office.onsite_query import current_on_site
from security.storage.alarm_store import get_alarm, list_alarms
from security.storage.tokens import Caller

ACTIONS = ("acknowledge", "resolve", "shelve", "unshelve")
FLAGS = ("1", "true", "yes", "on")
"""The values that turn a query flag such as `?open=1` on."""

router = APIRouter(route_class=ApiRoute, tags=["operations"])
"""Operations routes; guards may act on alarms, as they do at a station."""


@router.get("/api/health", responses={503: {"description": "ingest is not running or not storing"}})
def health(app: Service) -> JSONResponse:
    """GET /api/health (no token needed): 200 while ingest runs and stores, else 503 saying what is wrong.

    With a central service in the process, `ingest` tells the age of the last stored batch and how
    many messages wait in its inbox.
    """
    doc: dict[str, object] = {"status": "ok", "site": app.site, "time": iso(app.now())}
    if app.ingest is None:
        return JSONResponse(doc)
    state = app.ingest()
    doc["ingest"] = state.to_json()
    if state.problem is not None:
        doc["status"] = state.problem
        return JSONResponse(doc, 503)
    return JSONResponse(doc)


def _horizon(text: str) -> float:
    """The `?horizon_h=` of an on-site query (default 24)."""
    try:
        hours = float(text)
    except ValueError:
        hours = -1.0
    if not 0 < hours <= 24 * 31:
        raise ApiError(400, f"horizon_h: a number of hours from 0 to 744, got {text!r}")
    return hours


@router.get("/api/onsite")
def onsite(app: Service, _caller: Guard, horizon_h: Text = "24") -> MusterList:
    """GET /api/onsite: who is on site now, visitors first."""
    now = app.now()
    entries = current_on_site(app.store, now, _horizon(horizon_h))
    people = [muster_entry(e) for e in entries]
    return MusterList(site=app.site, as_of=now, count=len(entries), people=people)


@router.get("/api/onsite.txt", response_class=PlainTextResponse)
def onsite_text(app: Service, _caller: Guard, horizon_h: Text = "24") -> str:
    """GET /api/onsite.txt: the printable muster list."""
    now = app.now()
    return render_muster(current_on_site(app.store, now, _horizon(horizon_h)), now, app.site)


@router.get("/api/alarms", response_model=list[AlarmBody])
def alarms(app: Service, _caller: Guard, open_only: Annotated[Text, Query(alias="open")] = "") -> Any:
    """GET /api/alarms[?open=1]: alarms newest first."""
    with app.store.engine.connect() as conn:
        found = list_alarms(conn, open_only=open_only.lower() in FLAGS)
    return [alarm_json(a) for a in found]


def _alarm(app: App, alarm_id: str) -> Alarm:
    with app.store.engine.connect() as conn:
        alarm = get_alarm(conn, alarm_id)
    if alarm is None:
        raise ApiError(404, f"no alarm {alarm_id!r}")
    return alarm


@router.get("/api/alarms/{id}", response_model=AlarmBody)
def alarm(app: Service, _caller: Guard, id: Text) -> Any:
    """GET /api/alarms/{id}: one alarm with its history."""
    return alarm_json(_alarm(app, id))


def _action(app: App, caller: Caller, alarm_id: str, name: str, body: AlarmActionBody) -> Action:
    """The action a request asks for, from the path and `{note, until | minutes}`."""
    who, note = by(caller), body.note
    if name == "acknowledge":
        return Acknowledge(alarm_id, who, note)
    if name == "resolve":
        if not note:
            raise ApiError(400, f"note: {NEEDS_COMMENT}")
        return Resolve(alarm_id, who, note)
    if name == "unshelve":
        return Unshelve(alarm_id, who, note)
    if body.until is not None:
        return Shelve(alarm_id, who, body.until, note)
    if body.minutes is None:
        raise ApiError(400, "until: required (or minutes) to shelve")
    return Shelve(alarm_id, who, app.now() + timedelta(minutes=body.minutes), note)


@router.post("/api/alarms/{id}/{action}", response_model=AlarmBody)
def act(app: Service, caller: Guard, id: Text, action: Text, body: AlarmActionBody | None = None) -> Any:
    """POST /api/alarms/{id}/{action}: acknowledge, resolve, shelve or unshelve through the service."""
    if action not in ACTIONS:
        raise ApiError(404, f"no alarm action {action!r}; one of {', '.join(ACTIONS)}")
    if app.alarm_actions is None:
        raise ApiError(503, "the central service does not run in this process")
    asked = _action(app, caller, id, action, body or AlarmActionBody())
    outputs = app.alarm_actions(asked)
    for out in outputs:
        if isinstance(out, ActionRejected):
            raise ApiError(409, out.reason)
    changed = [o.alarm for o in outputs
               if not isinstance(o, ActionRejected) and o.alarm.id == asked.alarm_id]
    return alarm_json(changed[-1] if changed else _alarm(app, asked.alarm_id))
