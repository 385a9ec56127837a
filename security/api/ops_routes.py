"""The API's operations routes: health, the on-site (muster) list, alarms and the actions on them."""

from __future__ import annotations

from datetime import timedelta

from broker.api_models import AlarmActionBody, MusterList
from security.api.core import ApiError, App, Request, Response, Route, json_response, text_response
from security.api.views import alarm_json, iso, muster_entry
from security.office.access import render_muster
from security.office.alarms import (
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

ACTIONS = ("acknowledge", "resolve", "shelve", "unshelve")


def health(app: App, req: Request) -> Response:
    """GET /api/health (no token needed): 200 while ingest runs and stores, else 503 saying what is wrong.

    With a central service in the process, `ingest` tells the age of the last stored batch and how
    many messages wait in its inbox.
    """
    doc: dict[str, object] = {"status": "ok", "site": app.site, "time": iso(app.now())}
    if app.ingest is None:
        return json_response(doc)
    state = app.ingest()
    doc["ingest"] = state.to_json()
    if state.problem is not None:
        doc["status"] = state.problem
        return json_response(doc, 503)
    return json_response(doc)


def _horizon(req: Request) -> float:
    """The `?horizon_h=` of an on-site query (default 24)."""
    text = req.query.get("horizon_h", "24")
    try:
        hours = float(text)
    except ValueError:
        hours = -1.0
    if not 0 < hours <= 24 * 31:
        raise ApiError(400, f"horizon_h: a number of hours from 0 to 744, got {text!r}")
    return hours


def onsite(app: App, req: Request) -> Response:
    """GET /api/onsite: who is on site now, visitors first."""
    now = app.now()
    entries = current_on_site(app.store, now, _horizon(req))
    people = [muster_entry(e) for e in entries]
    muster = MusterList(site=app.site, as_of=now, count=len(entries), people=people)
    return json_response(muster.dump())


def onsite_text(app: App, req: Request) -> Response:
    """GET /api/onsite.txt: the printable muster list."""
    now = app.now()
    return text_response(render_muster(current_on_site(app.store, now, _horizon(req)), now, app.site))


def alarms(app: App, req: Request) -> Response:
    """GET /api/alarms[?open=1]: alarms newest first."""
    with app.store.engine.connect() as conn:
        found = list_alarms(conn, open_only=req.flag("open"))
    return json_response([alarm_json(a) for a in found])


def _alarm(app: App, alarm_id: str) -> Alarm:
    with app.store.engine.connect() as conn:
        alarm = get_alarm(conn, alarm_id)
    if alarm is None:
        raise ApiError(404, f"no alarm {alarm_id!r}")
    return alarm


def alarm(app: App, req: Request) -> Response:
    """GET /api/alarms/{id}: one alarm with its history."""
    return json_response(alarm_json(_alarm(app, req.params["id"])))


def _action(app: App, req: Request) -> Action:
    """The action a request asks for, from the path and `{note, until | minutes}`."""
    body, alarm_id, name = req.read(AlarmActionBody), req.params["id"], req.params["action"]
    by = f"api:{req.caller.name if req.caller else 'anonymous'}"
    note = body.note
    if name == "acknowledge":
        return Acknowledge(alarm_id, by, note)
    if name == "resolve":
        return Resolve(alarm_id, by, note)
    if name == "unshelve":
        return Unshelve(alarm_id, by, note)
    if body.until is not None:
        return Shelve(alarm_id, by, body.until, note)
    if body.minutes is None:
        raise ApiError(400, "until: required (or minutes) to shelve")
    return Shelve(alarm_id, by, app.now() + timedelta(minutes=body.minutes), note)


def act(app: App, req: Request) -> Response:
    """POST /api/alarms/{id}/{action}: acknowledge, resolve, shelve or unshelve through the service."""
    if req.params["action"] not in ACTIONS:
        raise ApiError(404, f"no alarm action {req.params['action']!r}; one of {', '.join(ACTIONS)}")
    if app.alarm_actions is None:
        raise ApiError(503, "the central service does not run in this process")
    action = _action(app, req)
    outputs = app.alarm_actions(action)
    for out in outputs:
        if isinstance(out, ActionRejected):
            raise ApiError(409, out.reason)
    changed = [o.alarm for o in outputs
               if not isinstance(o, ActionRejected) and o.alarm.id == action.alarm_id]
    return json_response(alarm_json(changed[-1] if changed else _alarm(app, action.alarm_id)))


ROUTES = (
    Route("GET", "/api/health", None, health),
    Route("GET", "/api/onsite", "guard", onsite),
    Route("GET", "/api/onsite.txt", "guard", onsite_text),
    Route("GET", "/api/alarms", "guard", alarms),
    Route("GET", "/api/alarms/{id}", "guard", alarm),
    Route("POST", "/api/alarms/{id}/{action}", "guard", act),
)
"""Operations routes; guards may act on alarms, as they do at a station."""
