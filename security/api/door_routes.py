"""Door commands through the API: a guard asks, the central service checks, audits, sends and records."""

from __future__ import annotations

from collections.abc import Callable

from broker.api_models import UnlockRequest, UnlockSent
from broker.schemas import CommandSent
from security.api.core import ApiError, App, Request, Response, Route, json_response
from security.office.engine import UNLOCK, CommandRequest

DoorCommands = Callable[[CommandRequest], CommandSent | str]
"""The central service's way to send a person's command: what it sent, or why it refused."""


def unlock(app: App, req: Request) -> Response:
    """POST /api/doors/{device}/unlock `{seconds, note}`: the service unlocks a door device for a while."""
    body = req.read(UnlockRequest)  # a malformed body is 400 whether or not a service runs here
    commands = app.door_commands
    if commands is None:
        raise ApiError(503, "the central service does not run in this process")
    by = f"api:{req.caller.name if req.caller else 'anonymous'}"
    request = CommandRequest(req.params["device"], UNLOCK, by, body.seconds, body.note)
    try:
        outcome = commands(request)
    except TimeoutError:
        raise ApiError(503, "the central service did not take the command in time: not sent") from None
    if isinstance(outcome, str):
        raise ApiError(409, outcome)
    sent = UnlockSent(device=outcome.device, command=outcome.command, command_id=outcome.command_id,
                      seconds=outcome.seconds, door=outcome.door, expires=outcome.expires, by=outcome.by)
    return json_response(sent.dump(), 202)


ROUTES = (Route("POST", "/api/doors/{device}/unlock", "guard", unlock),)
"""Door routes; guards may unlock a door, as they may at a station."""
