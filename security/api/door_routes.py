"""Door commands through the API: a guard asks, the central service checks, audits, sends and records."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter

from broker.api_models import DoorCommandNote, DoorGroupSent, UnlockRequest, UnlockSent
from broker.api_models.requests import Text
from broker.schemas import CommandSent
from security.api.auth import Guard, Service, by
from security.api.core import ApiError
from security.api.routing import ApiRoute
from security.office.door_control import LOCK, RELEASE, SCHEDULE, UNLOCK, CommandRequest

DoorCommands = Callable[[CommandRequest], list[CommandSent] | str]
"""The central service's way to send a person's door command: what it sent, or why it refused."""

router = APIRouter(route_class=ApiRoute, tags=["doors"])
"""Door routes; guards may command doors (unlock, schedule, lockdown), as they may at a station."""


@router.post("/api/doors/{device}/unlock", status_code=202)
def unlock(app: Service, caller: Guard, device: Text, body: UnlockRequest | None = None) -> UnlockSent:
    """POST /api/doors/{device}/unlock `{seconds | until, note}`: the service unlocks a door device."""
    asked = body or UnlockRequest()
    request = CommandRequest(device, UNLOCK, by(caller), asked.seconds, asked.note, until=asked.until)
    [sent] = _send(app, request)
    return _answer(sent)


@router.post("/api/doors/{device}/schedule", status_code=202)
def schedule(app: Service, caller: Guard, device: Text, body: DoorCommandNote | None = None) -> UnlockSent:
    """POST /api/doors/{device}/schedule `{note}`: the door goes back to its schedule (relocked now)."""
    note = (body or DoorCommandNote()).note
    [sent] = _send(app, CommandRequest(device, SCHEDULE, by(caller), note=note))
    return _answer(sent)


@router.post("/api/door-groups/{name}/lockdown", status_code=202)
def lockdown(app: Service, caller: Guard, name: Text, body: DoorCommandNote | None = None) -> DoorGroupSent:
    """POST /api/door-groups/{name}/lockdown `{note}`: every door of the group locked, badges refused."""
    note = (body or DoorCommandNote()).note
    return _group(app, CommandRequest("", LOCK, by(caller), note=note, group=name))


@router.post("/api/door-groups/{name}/release", status_code=202)
def release(app: Service, caller: Guard, name: Text, body: DoorCommandNote | None = None) -> DoorGroupSent:
    """POST /api/door-groups/{name}/release `{note}`: the group's lockdown ends (its doors stay locked)."""
    return _group(app, CommandRequest("", RELEASE, by(caller), note=(body or DoorCommandNote()).note,
                                      group=name))


def _send(app: Service, request: CommandRequest) -> list[CommandSent]:
    """The service's answer to `request`: 503 when it does not run or did not take it, 409 when it refused."""
    commands = app.door_commands
    if commands is None:
        raise ApiError(503, "the central service does not run in this process")
    try:
        outcome = commands(request)
    except TimeoutError:
        raise ApiError(503, "the central service did not take the command in time: not sent") from None
    if isinstance(outcome, str):
        raise ApiError(409, outcome)
    return outcome


def _group(app: Service, request: CommandRequest) -> DoorGroupSent:
    assert request.group is not None
    sent = _send(app, request)
    return DoorGroupSent(group=request.group, command=request.command, by=request.by,
                         doors=[_answer(s) for s in sent])


def _answer(sent: CommandSent) -> UnlockSent:
    return UnlockSent(device=sent.device, command=sent.command, command_id=sent.command_id,
                      seconds=sent.seconds, door=sent.door, expires=sent.expires, by=sent.by,
                      until=sent.until)
