"""The API's people routes: people, their badges, door groups, rights and the employee CSV import."""

from __future__ import annotations

from broker.api_models import (
    BadgesRevoked,
    DoorGroupBody,
    DoorGroupDoors,
    NewCredential,
    NewPerson,
    NewRight,
    PersonFields,
    PersonRemoved,
    PersonUpdate,
    RightRevoked,
)
from security.api.core import ApiError, App, Request, Response, Route, allowed, json_response
from security.api.views import import_json, person_json, right_json
from security.office.access import (
    AccessRight,
    Credential,
    CredentialFormat,
    Person,
    PersonKind,
    WeeklySchedule,
)
from security.storage import people
from security.storage.directory import schedule_from_json


def _values(req: Request) -> bool:
    """Whether the caller may see full credential values (managers and admins)."""
    return allowed(req.role, "manager")


def _person(body: PersonFields, person_id: str, kind: PersonKind = PersonKind.EMPLOYEE) -> Person:
    """A person from a body (of `kind` unless it says); ApiError 400 naming the bad field."""
    kind_text = body.kind or str(kind)
    try:
        chosen = PersonKind(kind_text)
    except ValueError:
        raise ApiError(400, f"kind: must be employee or visitor, got {kind_text!r}") from None
    try:
        return Person(person_id, body.name.strip(), chosen, frozenset(body.groups), body.email)
    except ValueError as exc:
        raise ApiError(400, f"id: {exc}") from None


def list_people(app: App, req: Request) -> Response:
    """GET /api/people: everyone, with credentials (values for managers only)."""
    now, values = app.now(), _values(req)
    return json_response([person_json(v, now, values=values) for v in people.list_people(app.store.engine)])


def get_person(app: App, req: Request) -> Response:
    """GET /api/people/{id}: one person with credentials and rights."""
    view = people.get_person(app.store.engine, req.params["id"])
    return json_response(person_json(view, app.now(), values=_values(req)))


def add_person(app: App, req: Request) -> Response:
    """POST /api/people: add a person (409 when the id is taken)."""
    body = req.read(NewPerson)
    person = _person(body, body.id)
    people.add_person(app.store.engine, person, req.change(app))
    view = people.get_person(app.store.engine, person.id)
    return json_response(person_json(view, app.now(), values=True), 201)


def put_person(app: App, req: Request) -> Response:
    """PUT /api/people/{id}: replace a person's name, groups and email (and kind, when given)."""
    body, person_id = req.read(PersonUpdate), req.params["id"]
    if body.id not in (None, person_id):
        raise ApiError(400, "id: differs from the id in the path")
    current = people.get_person(app.store.engine, person_id).person  # NotFoundError: 404
    # a visitor stays a visitor unless told otherwise
    people.update_person(app.store.engine, _person(body, person_id, current.kind), req.change(app))
    return json_response(person_json(people.get_person(app.store.engine, person_id), app.now(), values=True))


def delete_person(app: App, req: Request) -> Response:
    """DELETE /api/people/{id}: remove a person with their badges and personal rights."""
    count = people.remove_person(app.store.engine, req.params["id"], req.change(app))
    return json_response(PersonRemoved(removed=req.params["id"], credentials=count).dump())


def add_credential(app: App, req: Request) -> Response:
    """POST /api/people/{id}/credentials: enrol a badge (409 when a live one has the value)."""
    body = req.read(NewCredential)
    try:
        fmt = CredentialFormat(body.format.lower())
    except ValueError:
        choices = ", ".join(str(f) for f in CredentialFormat)
        raise ApiError(400, f"format: must be one of {choices}, got {body.format!r}") from None
    try:
        cred = Credential(body.value, fmt, req.params["id"], body.valid_from, body.valid_until)
    except ValueError as exc:
        field = "valid_until" if "valid_until" in str(exc) else "value"
        raise ApiError(400, f"{field}: {exc}") from None
    people.add_credential(app.store.engine, cred, req.change(app))
    return json_response(person_json(people.get_person(app.store.engine, cred.person_id), app.now(),
                                     values=True), 201)


def revoke_credentials(app: App, req: Request) -> Response:
    """DELETE /api/people/{id}/credentials[/{value}]: revoke one badge or all of a person's badges."""
    count = people.revoke_credentials(app.store.engine, req.params["id"], req.change(app),
                                      req.params.get("value"))
    return json_response(BadgesRevoked(person_id=req.params["id"], revoked=count).dump())


def import_csv(app: App, req: Request) -> Response:
    """POST /api/people/import: a CSV of employees (`?dry_run=1` checks only, `?tz=` for local times)."""
    kind = req.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ("text/csv", "text/plain"):
        raise ApiError(415, f"send the file as text/csv, not {kind or 'no content type'}")
    report = people.import_employees(app.store.engine, req.text(), req.change(app),
                                     tz=req.query.get("tz", "UTC"), dry_run=req.flag("dry_run"))
    return json_response(import_json(report))


def list_groups(app: App, req: Request) -> Response:
    """GET /api/door-groups: every door group and its doors."""
    return json_response({k: list(v) for k, v in people.list_door_groups(app.store.engine).items()})


def put_group(app: App, req: Request) -> Response:
    """PUT /api/door-groups/{name}: create or replace a door group from `{"doors": [...]}`."""
    doors = req.read(DoorGroupDoors).doors
    people.set_door_group(app.store.engine, req.params["name"], doors, req.change(app))
    return json_response(DoorGroupBody(name=req.params["name"], doors=sorted(set(doors))).dump())


def list_rights(app: App, req: Request) -> Response:
    """GET /api/rights: every access right with its id."""
    return json_response([right_json(i, r) for i, r in people.list_rights(app.store.engine)])


def add_right(app: App, req: Request) -> Response:
    """POST /api/rights: `{"door_group", "person_id" | "group", "schedule"?}` (default: always, UTC)."""
    body = req.read(NewRight)
    try:
        schedule: WeeklySchedule = schedule_from_json(body.schedule.dump())
    except (KeyError, TypeError, ValueError) as exc:  # an unknown zone is a KeyError
        raise ApiError(400, f"schedule: {exc}") from None
    try:
        right = AccessRight(body.door_group, schedule, person_id=body.person_id, group=body.group)
    except ValueError as exc:
        raise ApiError(400, f"person_id/group: {exc}") from None
    right_id = people.grant_right(app.store.engine, right, req.change(app))
    return json_response(right_json(right_id, right), 201)


def delete_right(app: App, req: Request) -> Response:
    """DELETE /api/rights/{id}: revoke an access right."""
    try:
        right_id = int(req.params["id"])
    except ValueError:
        raise ApiError(404, f"no access right {req.params['id']!r}") from None
    people.revoke_right(app.store.engine, right_id, req.change(app))
    return json_response(RightRevoked(revoked=right_id).dump())


ROUTES = (
    Route("GET", "/api/people", "guard", list_people),
    Route("POST", "/api/people", "manager", add_person),
    Route("POST", "/api/people/import", "manager", import_csv),
    Route("GET", "/api/people/{id}", "guard", get_person),
    Route("PUT", "/api/people/{id}", "manager", put_person),
    Route("DELETE", "/api/people/{id}", "manager", delete_person),
    Route("POST", "/api/people/{id}/credentials", "manager", add_credential),
    Route("DELETE", "/api/people/{id}/credentials", "manager", revoke_credentials),
    Route("DELETE", "/api/people/{id}/credentials/{value}", "manager", revoke_credentials),
    Route("GET", "/api/door-groups", "guard", list_groups),
    Route("PUT", "/api/door-groups/{name}", "manager", put_group),
    Route("GET", "/api/rights", "guard", list_rights),
    Route("POST", "/api/rights", "manager", add_right),
    Route("DELETE", "/api/rights/{id}", "manager", delete_right),
)
"""People routes; the first route whose pattern and method match handles a request."""
