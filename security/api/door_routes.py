"""Door commands through the API: a guard asks, the central service checks, audits, sends and records."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter

from broker.api_models import UnlockRequest, UnlockSent
from broker.api_models.requests import Text
from broker.schemas import CommandSent
from security.api.auth import Guard, Service, by
from security.api.core import ApiError
from security.api.routing import ApiRoute
from security.office.engine import UNLOCK, CommandRequest

DoorCommands = Callable[[CommandRequest], CommandSent | str]
"""The central service's way to send a person's command: what it sent, or why it refused."""

router = APIRouter(route_class=ApiRoute, tags=["doors"])
"""Door routes; guards may unlock a door, as they may at a station."""


@router.post("/api/doors/{device}/unlock", status_code=202)
def unlock(app: Service, caller: Guard, device: Text, body: UnlockRequest | None = None) -> UnlockSent:
    """POST /api/doors/{device}/unlock `{seconds, note}`: the service unlocks a door device for a while."""
    asked = body or UnlockRequest()
    commands = app.door_commands
    if commands is None:
        raise ApiError(503, "the central service does not run in this process")
    request = CommandRequest(device, UNLOCK, by(caller), asked.seconds, asked.note)
    try:
        outcome = commands(request)
    except TimeoutError:
        raise ApiError(503, "the central service did not take the command in time: not sent") from None
    if isinstance(outcome, str):
        raise ApiError(409, outcome)
    return UnlockSent(device=outcome.device, command=outcome.command, command_id=outcome.command_id,
                      seconds=outcome.seconds, door=outcome.door, expires=outcome.expires, by=outcome.by)
