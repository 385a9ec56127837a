"""The API's route class: JSON bodies read strictly, and refused only after the caller's token and role.

FastAPI reads a body before it solves a route's dependencies. A body that is not JSON (or is JSON no
store should take: NaN, Infinity, nested past Python's recursion limit, not UTF-8) is therefore kept as
`Unreadable` rather than refused on the spot: the route's dependencies (the token, the role, a desk
this process serves) speak first, then validating the body fails on it and the error answer says why.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute


class Unreadable:
    """A request body that is not the JSON the API takes, and why."""

    def __init__(self, why: str) -> None:
        """Keep the reason for the 400."""
        self.why = why

    def __repr__(self) -> str:
        """The reason, as an error input is shown."""
        return f"Unreadable({self.why!r})"


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def read_json(body: bytes) -> Any:
    """A body as JSON (UTF-8, no NaN or Infinity), or Unreadable saying what is wrong with it."""
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError as exc:
        return Unreadable(f"the body is not UTF-8 ({exc.reason} at byte {exc.start})")
    except RecursionError:
        return Unreadable("the body is nested too deeply")
    except ValueError as exc:  # JSONDecodeError, NaN, an integer of more than 4300 digits
        return Unreadable(f"the body is not valid JSON: {exc}")


class ApiRequest(Request):
    """A request whose JSON body is read by `read_json`."""

    async def json(self) -> Any:
        """The body as JSON, or Unreadable."""
        if not hasattr(self, "_json"):
            self._json = read_json(await self.body())
        return self._json


class ApiRoute(APIRoute):
    """A route that hands its handler an ApiRequest."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """FastAPI's handler, given an ApiRequest."""
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(ApiRequest(request.scope, request.receive))

        return strict
