"""The API's incident routes: list, read, open, note, attach to and close incidents through the desk."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import APIRouter

from broker.api_models import (
    IncidentAttachment,
    IncidentBody,
    IncidentClosing,
    IncidentNote,
    IncidentSummary,
    NewIncident,
)
from broker.api_models.requests import Text
from security.api.auth import Guard, Incidents, Manager, by
from security.api.core import ApiError
from security.api.routing import ApiRoute
from security.api.views import incident_json
from security.office.incidents import Incident, IncidentDesk, IncidentError, ItemKind
from security.storage.incident_store import IncidentConflictError, IncidentNotFoundError, StateFilter

STATES: dict[str, StateFilter] = {"open": "open", "closed": "closed", "all": "all"}
MAX_LIMIT = 1000
ATTACHED = {
    "event_id": ItemKind.EVENT, "alarm_id": ItemKind.ALARM, "snapshot_event_id": ItemKind.SNAPSHOT,
}
"""The kind of item each field of an IncidentAttachment attaches."""

router = APIRouter(route_class=ApiRoute, tags=["incidents"])
"""Incident routes; guards open and work incidents, a manager closes them."""


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


def _found(desk: IncidentDesk, incident_id: str) -> Incident:
    """The incident with its items; ApiError 404 when there is none."""
    incident = desk.get(incident_id)
    if incident is None:
        raise ApiError(404, f"no incident {incident_id}")
    return incident


@router.get("/api/incidents", response_model=list[IncidentSummary])
def list_incidents(_caller: Guard, desk: Incidents, state: Text = "all", limit: Text = "100") -> Any:
    """GET /api/incidents[?state=open|closed|all&limit=N]: incidents newest first, without their items."""
    chosen = STATES.get(state)
    if chosen is None:
        raise ApiError(400, f"state: one of {', '.join(STATES)}, got {state!r}")
    count = int(limit) if limit.isdigit() else 0
    if not 1 <= count <= MAX_LIMIT:
        raise ApiError(400, f"limit: a whole number from 1 to {MAX_LIMIT}, got {limit!r}")
    return [incident_json(i, items=False) for i in desk.list(chosen, count)]


@router.get("/api/incidents/{id}", response_model=IncidentBody)
def get_incident(_caller: Guard, desk: Incidents, id: Text) -> Any:
    """GET /api/incidents/{id}: one incident with its items in time order."""
    return incident_json(_found(desk, id))


@router.post("/api/incidents", status_code=201, response_model=IncidentBody)
def open_incident(caller: Guard, desk: Incidents, body: NewIncident) -> Any:
    """POST /api/incidents: `{title, alarm_ids?, event_ids?}`; every alarm and event must be stored."""
    with _refusals():
        opened = desk.open(body.title, by(caller), alarm_ids=body.alarm_ids, event_ids=body.event_ids)
    return incident_json(opened)


@router.post("/api/incidents/{id}/notes", status_code=201, response_model=IncidentBody)
def add_note(caller: Guard, desk: Incidents, id: Text, body: IncidentNote) -> Any:
    """POST /api/incidents/{id}/notes: `{note}` on an open incident; answers the incident."""
    with _refusals():
        desk.note(id, by(caller), body.note)
    return incident_json(_found(desk, id))


@router.post("/api/incidents/{id}/attach", status_code=201, response_model=IncidentBody)
def attach(caller: Guard, desk: Incidents, id: Text, body: IncidentAttachment) -> Any:
    """POST /api/incidents/{id}/attach: `{event_id}`, `{alarm_id}` or `{snapshot_event_id}`."""
    name, ref = body.given()
    with _refusals():
        desk.attach(id, by(caller), kind=ATTACHED[name], ref=ref)
    return incident_json(_found(desk, id))


@router.post("/api/incidents/{id}/close", response_model=IncidentBody)
def close_incident(caller: Manager, desk: Incidents, id: Text, body: IncidentClosing) -> Any:
    """POST /api/incidents/{id}/close: `{outcome}`; closing a closed incident is 409."""
    with _refusals():
        closed = desk.close(id, by(caller), body.outcome)
    return incident_json(closed)
