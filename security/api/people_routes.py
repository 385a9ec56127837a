"""The API's people routes: people, their badges, door groups, rights and the employee CSV import."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from broker.api_models import (
    BadgesRevoked,
    DoorGroupBody,
    DoorGroupDoors,
    ImportReportBody,
    NewCredential,
    NewPerson,
    NewRight,
    PersonBody,
    PersonFields,
    PersonRemoved,
    PersonUpdate,
    RightBody,
    RightRevoked,
)
from broker.api_models.requests import Text
from security.api.auth import Guard, Manager, Service, change
from security.api.core import ApiError, allowed
from security.api.routing import ApiRoute
from security.api.views import import_json, person_json, right_json
from security.office.access import Person, PersonKind
from security.office.access.fields import (
    FieldError,
    credential_from_fields,
    csv_text,
    person_from_fields,
    right_from_fields,
)
from security.storage import people
from security.storage.tokens import Caller

FLAGS = ("1", "true", "yes", "on")
CSV_TYPES = ("text/csv", "text/plain")

router = APIRouter(route_class=ApiRoute, tags=["people"])
"""People routes: guards read, managers change."""


def _values(caller: Caller) -> bool:
    """Whether the caller may see full credential values (managers and admins)."""
    return allowed(caller.role, "manager")


def _person(body: PersonFields, person_id: str, kind: PersonKind = PersonKind.EMPLOYEE) -> Person:
    """A person from a body (of `kind` unless it says); ApiError 400 naming the bad field."""
    try:
        return person_from_fields(person_id, body.name, body.kind, body.groups, body.email, default=kind)
    except FieldError as exc:
        raise ApiError(400, str(exc)) from None


@router.get("/api/people", response_model=list[PersonBody])
def list_people(app: Service, caller: Guard) -> Any:
    """GET /api/people: everyone, with credentials (values for managers only)."""
    now, values = app.now(), _values(caller)
    return [person_json(v, now, values=values) for v in people.list_people(app.store.engine)]


@router.post("/api/people", status_code=201, response_model=PersonBody)
def add_person(app: Service, caller: Manager, body: NewPerson) -> Any:
    """POST /api/people: add a person (409 when the id is taken)."""
    person = _person(body, body.id)
    people.add_person(app.store.engine, person, change(app, caller))
    return person_json(people.get_person(app.store.engine, person.id), app.now(), values=True)


async def _csv(request: Request) -> str:
    """The request's body as CSV text: 415 unless sent as text/csv, 400 unless UTF-8 that can be stored."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in CSV_TYPES:
        raise ApiError(415, f"send the file as text/csv, not {kind or 'no content type'}")
    try:
        return csv_text(await request.body())
    except FieldError as exc:
        raise ApiError(400, str(exc)) from None


CSV_BODY = {"requestBody": {"required": True,
                            "content": {t: {"schema": {"type": "string"}} for t in CSV_TYPES}}}
"""The import's body in the OpenAPI document: a CSV file, not JSON."""


@router.post("/api/people/import", response_model=ImportReportBody, openapi_extra=CSV_BODY)
def import_csv(app: Service, caller: Manager, csv: Annotated[str, Depends(_csv)],
               tz: Text = "UTC", dry_run: Text = "") -> Any:
    """POST /api/people/import: a CSV of employees (`?dry_run=1` checks only, `?tz=` for local times)."""
    report = people.import_employees(app.store.engine, csv, change(app, caller), tz=tz,
                                     dry_run=dry_run.lower() in FLAGS)
    return import_json(report)


@router.get("/api/people/{id}", response_model=PersonBody)
def get_person(app: Service, caller: Guard, id: Text) -> Any:
    """GET /api/people/{id}: one person with credentials and rights."""
    return person_json(people.get_person(app.store.engine, id), app.now(), values=_values(caller))


@router.put("/api/people/{id}", response_model=PersonBody)
def put_person(app: Service, caller: Manager, id: Text, body: PersonUpdate) -> Any:
    """PUT /api/people/{id}: replace a person's name, groups and email (and kind, when given)."""
    if body.id not in (None, id):
        raise ApiError(400, "id: differs from the id in the path")
    current = people.get_person(app.store.engine, id).person  # NotFoundError: 404
    # a visitor stays a visitor unless told otherwise
    people.update_person(app.store.engine, _person(body, id, current.kind), change(app, caller))
    return person_json(people.get_person(app.store.engine, id), app.now(), values=True)


@router.delete("/api/people/{id}")
def delete_person(app: Service, caller: Manager, id: Text) -> PersonRemoved:
    """DELETE /api/people/{id}: remove a person with their badges and personal rights."""
    count = people.remove_person(app.store.engine, id, change(app, caller))
    return PersonRemoved(removed=id, credentials=count)


@router.post("/api/people/{id}/credentials", status_code=201, response_model=PersonBody)
def add_credential(app: Service, caller: Manager, id: Text, body: NewCredential) -> Any:
    """POST /api/people/{id}/credentials: enrol a badge (409 when a live one has the value)."""
    try:
        cred = credential_from_fields(id, body.value, body.format, body.valid_from, body.valid_until)
    except FieldError as exc:
        raise ApiError(400, str(exc)) from None
    people.add_credential(app.store.engine, cred, change(app, caller))
    return person_json(people.get_person(app.store.engine, cred.person_id), app.now(), values=True)


@router.delete("/api/people/{id}/credentials")
def revoke_credentials(app: Service, caller: Manager, id: Text) -> BadgesRevoked:
    """DELETE /api/people/{id}/credentials: revoke all of a person's badges."""
    count = people.revoke_credentials(app.store.engine, id, change(app, caller), None)
    return BadgesRevoked(person_id=id, revoked=count)


@router.delete("/api/people/{id}/credentials/{value}")
def revoke_credential(app: Service, caller: Manager, id: Text, value: Text) -> BadgesRevoked:
    """DELETE /api/people/{id}/credentials/{value}: revoke one of a person's badges."""
    count = people.revoke_credentials(app.store.engine, id, change(app, caller), value)
    return BadgesRevoked(person_id=id, revoked=count)


@router.get("/api/door-groups", response_model=dict[str, list[str]])
def list_groups(app: Service, _caller: Guard) -> Any:
    """GET /api/door-groups: every door group and its doors."""
    return {k: list(v) for k, v in people.list_door_groups(app.store.engine).items()}


@router.put("/api/door-groups/{name}")
def put_group(app: Service, caller: Manager, name: Text, body: DoorGroupDoors | None = None) -> DoorGroupBody:
    """PUT /api/door-groups/{name}: create or replace a door group from `{"doors": [...]}`."""
    doors = (body or DoorGroupDoors()).doors
    people.set_door_group(app.store.engine, name, doors, change(app, caller))
    return DoorGroupBody(name=name, doors=sorted(set(doors)))


@router.get("/api/rights", response_model=list[RightBody])
def list_rights(app: Service, _caller: Guard) -> Any:
    """GET /api/rights: every access right with its id."""
    return [right_json(i, r) for i, r in people.list_rights(app.store.engine)]


@router.post("/api/rights", status_code=201, response_model=RightBody)
def add_right(app: Service, caller: Manager, body: NewRight) -> Any:
    """POST /api/rights: `{"door_group", "person_id" | "group", "schedule"?}` (default: always, UTC)."""
    try:
        right = right_from_fields(body.door_group, body.schedule.dump(), body.person_id, body.group)
    except FieldError as exc:
        raise ApiError(400, str(exc)) from None
    right_id = people.grant_right(app.store.engine, right, change(app, caller))
    return right_json(right_id, right)


@router.delete("/api/rights/{id}")
def delete_right(app: Service, caller: Manager, id: Text) -> RightRevoked:
    """DELETE /api/rights/{id}: revoke an access right."""
    try:
        right_id = int(id)
    except ValueError:
        raise ApiError(404, f"no access right {id!r}") from None
    people.revoke_right(app.store.engine, right_id, change(app, caller))
    return RightRevoked(revoked=right_id)
