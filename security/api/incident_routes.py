"""The API's incident routes: list, read, open, note, attach to and close incidents through the desk."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from broker.api_models import IncidentAttachment, IncidentClosing, IncidentNote, NewIncident
from security.api.core import ApiError, App, Request, Response, Route, json_response
from security.api.views import incident_json
from security.office.incidents import Incident, IncidentError, ItemKind
from security.storage.incident_store import IncidentConflictError, IncidentNotFoundError, StateFilter

STATES: dict[str, StateFilter] = {"open": "open", "closed": "closed", "all": "all"}
MAX_LIMIT = 1000
ATTACHED = {
    "event_id": ItemKind.EVENT, "alarm_id": ItemKind.ALARM, "snapshot_event_id": ItemKind.SNAPSHOT,
}
"""The kind of item each field of an IncidentAttachment attaches."""


@contextmanager
def _refusals() -> Iterator[None]:
    """Turn the desk's IncidentError into 404 (no such thing), 409 (closed, already attached) or 400."""
    try:
        yield
    except IncidentNotFoundError as exc:
        raise ApiError(404, str(exc)) from None
    except IncidentConflictError as exc:
        raise ApiError(409, str(exc)) from None
    except IncidentError as exc:
        raise ApiError(400, str(exc)) from None


def _by(req: Request) -> str:
    """Who acts, as the audit log and the events name them: `api:<token name>`."""
    return f"api:{req.caller.name if req.caller else 'anonymous'}"


def _found(app: App, incident_id: str) -> Incident:
    """The incident with its items; ApiError 404 when there is none."""
    incident = app.incident_desk().get(incident_id)
    if incident is None:
        raise ApiError(404, f"no incident {incident_id}")
    return incident


def list_incidents(app: App, req: Request) -> Response:
    """GET /api/incidents[?state=open|closed|all&limit=N]: incidents newest first, without their items."""
    desk = app.incident_desk()
    state = STATES.get(req.query.get("state", "all"))
    if state is None:
        raise ApiError(400, f"state: one of {', '.join(STATES)}, got {req.query['state']!r}")
    text = req.query.get("limit", "100")
    limit = int(text) if text.isdigit() else 0
    if not 1 <= limit <= MAX_LIMIT:
        raise ApiError(400, f"limit: a whole number from 1 to {MAX_LIMIT}, got {text!r}")
    return json_response([incident_json(i, items=False) for i in desk.list(state, limit)])


def get_incident(app: App, req: Request) -> Response:
    """GET /api/incidents/{id}: one incident with its items in time order."""
    return json_response(incident_json(_found(app, req.params["id"])))


def open_incident(app: App, req: Request) -> Response:
    """POST /api/incidents: `{title, alarm_ids?, event_ids?}`; every alarm and event must be stored."""
    desk = app.incident_desk()
    body = req.read(NewIncident)
    with _refusals():
        opened = desk.open(body.title, _by(req), alarm_ids=body.alarm_ids, event_ids=body.event_ids)
    return json_response(incident_json(opened), 201)


def add_note(app: App, req: Request) -> Response:
    """POST /api/incidents/{id}/notes: `{note}` on an open incident; answers the incident."""
    desk = app.incident_desk()
    body = req.read(IncidentNote)
    with _refusals():
        desk.note(req.params["id"], _by(req), body.note)
    return json_response(incident_json(_found(app, req.params["id"])), 201)


def attach(app: App, req: Request) -> Response:
    """POST /api/incidents/{id}/attach: `{event_id}`, `{alarm_id}` or `{snapshot_event_id}`."""
    desk = app.incident_desk()
    name, ref = req.read(IncidentAttachment).given()
    with _refusals():
        desk.attach(req.params["id"], _by(req), kind=ATTACHED[name], ref=ref)
    return json_response(incident_json(_found(app, req.params["id"])), 201)


def close_incident(app: App, req: Request) -> Response:
    """POST /api/incidents/{id}/close: `{outcome}`; closing a closed incident is 409."""
    desk = app.incident_desk()
    body = req.read(IncidentClosing)
    with _refusals():
        closed = desk.close(req.params["id"], _by(req), body.outcome)
    return json_response(incident_json(closed))


ROUTES = (
    Route("GET", "/api/incidents", "guard", list_incidents),
    Route("POST", "/api/incidents", "guard", open_incident),
    Route("GET", "/api/incidents/{id}", "guard", get_incident),
    Route("POST", "/api/incidents/{id}/notes", "guard", add_note),
    Route("POST", "/api/incidents/{id}/attach", "guard", attach),
    Route("POST", "/api/incidents/{id}/close", "manager", close_incident),
)
"""Incident routes; guards open and work incidents, a manager closes them."""
