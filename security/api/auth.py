"""Who calls the API, as FastAPI dependencies: the service's App, the bearer token's owner, the least role.

A route takes `Kiosk`, `Guard` or `Manager` as a parameter (or in `dependencies=`): the token is checked
first (401, or 429 with Retry-After when the address failed too often lately, its token unchecked),
then the role (403). FastAPI solves these before it validates a route's path, query and body, so an
unauthenticated caller learns nothing about them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from security.api.core import RANKING, ApiError, App, allowed
from security.office.incidents import IncidentDesk
from security.office.invitations import InvitationDesk
from security.storage.people import Change
from security.storage.tokens import Caller, verify_token


def get_app(request: Request) -> App:
    """The App this server serves (set on the FastAPI application's state)."""
    app: App = request.app.state.gatehouse
    return app


Service = Annotated[App, Depends(get_app)]
"""A route's App parameter."""


def incident_desk(request: Request) -> IncidentDesk:
    """The incident desk; ApiError 503 when this process serves none (before the body is validated)."""
    return get_app(request).incident_desk()


def invitation_desk(request: Request) -> InvitationDesk:
    """The invitation desk; ApiError 503 when this process serves no invitations."""
    return get_app(request).invitation_desk()


BEARER = HTTPBearer(auto_error=False, scheme_name="token",
                    description="A token made with `gatehouse api token create NAME --role ROLE`.")
"""The `Authorization: Bearer <token>` header, read by FastAPI (and named in the OpenAPI document)."""


def authenticate(request: Request,
                 credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]) -> Caller:
    """The token's owner; ApiError 401 when the header is missing or the token is not live.

    An address that failed too often lately gets 429 with Retry-After, its token unchecked.
    """
    app = get_app(request)
    address = request.client.host if request.client else ""
    wait = app.throttle.retry_after(address)
    if wait:
        raise ApiError(429, f"too many failed authentications from {address}; retry in {wait} s",
                       {"Retry-After": str(wait)})
    token = credentials.credentials.strip() if credentials else ""
    if not token:
        raise ApiError(401, "send Authorization: Bearer <token>")
    caller = verify_token(app.store.engine, token)
    if caller is None:
        app.throttle.failed(address, f"unknown or revoked token on {request.method} {request.url.path}")
        raise ApiError(401, "the token is unknown or revoked")
    return caller


def least(role: str) -> Callable[[Request, Caller], Caller]:
    """A dependency: the caller, when their role may do what `role` may; ApiError 403 otherwise."""
    if role not in RANKING:
        raise ValueError(f"unknown role {role!r}")

    def check(request: Request, caller: Annotated[Caller, Depends(authenticate)]) -> Caller:
        if not allowed(caller.role, role):
            raise ApiError(403, f"the {caller.role} role may not {request.method} {request.url.path}")
        return caller

    check.__name__ = f"least_{role}"
    return check


Incidents = Annotated[IncidentDesk, Depends(incident_desk)]
"""A route's incident desk parameter (declared after the caller's, so 401/403 come first)."""
Invitations = Annotated[InvitationDesk, Depends(invitation_desk)]
"""A route's invitation desk parameter."""
Kiosk = Annotated[Caller, Depends(least("kiosk"))]
"""A caller with a kiosk token or better."""
Guard = Annotated[Caller, Depends(least("guard"))]
"""A caller with a guard token or better."""
Manager = Annotated[Caller, Depends(least("manager"))]
"""A caller with a manager token or better."""


def by(caller: Caller) -> str:
    """Who acts, as the audit log and the events name them: `api:<token name>`."""
    return f"api:{caller.name}"


def change(app: App, caller: Caller) -> Change:
    """The audit context of a change made by `caller`."""
    return Change(by(caller), app.now(), app.audit_key)
