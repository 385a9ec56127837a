"""The HTTP API on FastAPI, served by uvicorn in a background thread: routers, JSON errors, body limit.

Every answer that is not a success is `{"error": "..."}`: the API's own errors (ApiError), storage's
refusals, FastAPI's validation errors (400, naming the fields, as before), unknown routes (404, and
405 naming the methods the path takes; both only for a caller with a live token, so the routes are
not mapped by strangers), an unavailable database (503 with Retry-After, logged once until it is
back) and anything unexpected (500, the traceback once in the log).
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, NamedTuple, Self

import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy import Engine
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from broker.api_models import ErrorBody, words
from security.api import door_routes, incident_routes, ops_routes, people_routes, visitor_routes
from security.api.auth import BEARER, authenticate
from security.api.core import MAX_BODY, AlarmActions, ApiError, App
from security.api.routing import Unreadable
from security.api.throttle import AuthThrottle
from security.ingest.health import IngestHealth
from security.office.incidents import IncidentDesk
from security.office.invitations import InvitationDesk
from security.storage import EventStore, StorageError
from security.storage.people import DuplicateError, NotFoundError, PeopleError

log = logging.getLogger(__name__)

ROUTERS = (ops_routes.router, people_routes.router, incident_routes.router, visitor_routes.router,
           door_routes.router)
"""One router per area; a new area adds its router here."""
OPENAPI_URL = "/api/openapi.json"
ERRORS: dict[int | str, dict[str, Any]] = {
    "4XX": {"model": ErrorBody, "description": "refused: a bad request, token, role or state"},
    "5XX": {"model": ErrorBody, "description": "the database or the service is unavailable, or a bug"},
}
"""Every route's error answers in the OpenAPI document (in place of FastAPI's 422, never sent)."""
DRAIN_LIMIT = 4 * MAX_BODY
"""An oversized body up to this size is read and dropped, so the client gets its 413 (not a reset)."""
FAILED = "gatehouse.failed"
"""The scope key an error answer sets, so that answering it does not count as the database being back."""
START_TIMEOUT_S = 10.0
HEAD_TIMEOUT_S = 30.0
"""How long a new connection may take to send a whole request head (the old server's read timeout)."""


class Route(NamedTuple):
    """A method and path pattern the API serves."""

    method: str
    pattern: str


ROUTES: tuple[Route, ...] = tuple(
    Route(method, route.path) for router in ROUTERS for route in router.routes
    if isinstance(route, APIRoute) for method in sorted(route.methods or ()))
"""Every route of the API."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


class _Outage:
    """Whether the database answered the last request: logged once when it stops, once when it is back."""

    def __init__(self) -> None:
        """Start as reachable."""
        self._lock = threading.Lock()
        self._down = False

    def down(self, request: str, exc: Exception) -> None:
        """A request found the database unavailable."""
        with self._lock:
            was, self._down = self._down, True
        if not was:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            log.warning("API: the database is unavailable (%s on %s); answering 503 until it is back",
                        reason, request)

    def up(self) -> None:
        """A request was answered without a database failure."""
        with self._lock:
            was, self._down = self._down, False
        if was:
            log.info("API: the database is reachable again")


def error_response(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """The `{"error": ...}` answer (a 401 says which scheme to use)."""
    more = dict(headers or {})
    if status == 401:
        more["WWW-Authenticate"] = 'Bearer realm="gatehouse"'
    safe = message.encode("utf-8", "backslashreplace").decode("utf-8")  # never a lone surrogate
    return JSONResponse(ErrorBody(error=safe).dump(), status, more)


def _validation_message(exc: RequestValidationError) -> str:
    """FastAPI's complaint about a request in the API's words: the body's fields by name, `path id`."""
    errors = []
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        if isinstance(err.get("input"), Unreadable):
            return str(err["input"].why)
        if loc[:1] == ("body",):  # the body's own check (one of a few fields) names its fields itself
            loc = loc[1:] or (() if err.get("type") == "value_error" else ("body",))
        elif loc[:1] in (("path",), ("query",), ("header",)) and len(loc) > 1:
            loc = (f"{loc[0]} {loc[1]}", *loc[2:])
        errors.append({**err, "loc": loc})
    return words(errors)


def _allowed_methods(request: Request) -> list[str]:
    """The methods the request's path is served with."""
    scope = dict(request.scope)
    found: set[str] = set()
    for route in (r for router in ROUTERS for r in router.routes):
        if isinstance(route, APIRoute) and route.matches(scope)[0] is not Match.NONE:
            found |= route.methods or set()
    return sorted(found)


async def _unrouted(request: Request, exc: HTTPException) -> JSONResponse:
    """The router's 404 or 405: only for a caller with a live token (else 401 or 429)."""
    await run_in_threadpool(authenticate, request, await BEARER(request))
    path = request.url.path
    if exc.status_code == 404:
        return error_response(404, f"no such resource {path}")
    allow = ", ".join(_allowed_methods(request))
    return error_response(405, f"{request.method} is not allowed on {path}; use {allow}", {"Allow": allow})


REFUSALS: tuple[tuple[type[Exception], int], ...] = ((NotFoundError, 404), (DuplicateError, 409),
                                                    (PeopleError, 400))
"""Storage's refusals of a change and their status."""
HANDLED: tuple[type[Exception], ...] = (
    ApiError, RequestValidationError, HTTPException, StorageError, OperationalError, InterfaceError,
    *(kind for kind, _ in REFUSALS),
)
"""What `_answer` turns into an error answer; anything else is a 500 (the middleware's)."""


def _error(request: Request, exc: Exception) -> JSONResponse:
    """The error answer to one of HANDLED."""
    if isinstance(exc, ApiError):
        return error_response(exc.status, exc.message, exc.headers)
    if isinstance(exc, RequestValidationError):
        return error_response(400, _validation_message(exc))
    if isinstance(exc, HTTPException):
        return error_response(exc.status_code, str(exc.detail), exc.headers)
    if isinstance(exc, StorageError | OperationalError | InterfaceError):  # the database is down or locked
        request.app.state.outage.down(f"{request.method} {request.url.path}", exc)
        return error_response(503, "the database is unavailable; try again later", {"Retry-After": "5"})
    return error_response(next(s for kind, s in REFUSALS if isinstance(exc, kind)), str(exc))


async def _answer(request: Request, exc: Exception) -> JSONResponse:
    """The exception handler: the error answer to what a route, a dependency or the framework raised."""
    request.scope[FAILED] = True
    if isinstance(exc, HTTPException) and exc.status_code in (404, 405):  # routes raise ApiError instead
        try:
            return await _unrouted(request, exc)
        except HANDLED as err:  # 401, 429, or the database down while the token is checked
            return _error(request, err)
    return _error(request, exc)


async def _send_error(send: Send, status: int, message: str, *, close: bool = False) -> None:
    """An error answer sent straight to the client (from the middleware, before or around the app)."""
    body = json.dumps(ErrorBody(error=message).dump()).encode("utf-8")
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               (b"cache-control", b"no-store")]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _drain(receive: Receive, more: bool = True) -> None:
    """Read and drop the rest of an oversized body (up to DRAIN_LIMIT) so the client reads its 413."""
    left = DRAIN_LIMIT
    while more and left > 0:
        message = await receive()
        if message["type"] != "http.request":
            return
        left -= len(message.get("body", b""))
        more = bool(message.get("more_body", False))


class _Guard:
    """The ASGI middleware around the routes: the body limit, no-store, the 500 answer, the outage's end."""

    def __init__(self, app: ASGIApp, outage: _Outage) -> None:
        """Wrap `app`; tell `outage` when a request went through without failing."""
        self.app, self.outage = app, outage

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request within MAX_BODY (413 on Content-Length, or once more bytes came)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = next((v for k, v in scope["headers"] if k == b"content-length"), b"")
        if length.isdigit() and int(length) > MAX_BODY:
            if int(length) <= DRAIN_LIMIT:
                await _drain(receive)
            said = f"the body is {int(length)} bytes; the limit is {MAX_BODY}"
            await _send_error(send, 413, said, close=True)
            return
        seen, started = 0, False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > MAX_BODY:
                await _drain(receive, bool(message.get("more_body", False)))
                raise HTTPException(413, f"the body is over the limit of {MAX_BODY} bytes",
                                    {"Connection": "close"})
            return message

        async def sending(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if not scope.get(FAILED):  # told before the client reads its answer
                    self.outage.up()
                headers = [*message.get("headers", []), (b"cache-control", b"no-store")]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, counted, sending)
        except Exception:
            log.exception("API request %s %s failed", scope.get("method"), scope.get("path"))
            if not started:
                await _send_error(send, 500, "internal error; the service log has the details")


class _H11(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, closing a connection that sends no whole request head in time.

    uvicorn times out idle keep-alive connections only after a first answer; a client that connects
    and then says nothing, or dribbles its headers (slowloris), would hold its connection forever.
    """

    head_timeout_s = HEAD_TIMEOUT_S

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Start the connection and its clock for the first request head."""
        super().connection_made(transport)  # type: ignore[arg-type]
        self._head_timer = self.loop.call_later(self.head_timeout_s, self._head_late)

    def _head_late(self) -> None:
        if self.cycle is None:  # no request head came whole
            self.timeout_keep_alive_handler()  # uvicorn's own way to close an idle connection

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the clock with the connection."""
        self._head_timer.cancel()
        super().connection_lost(exc)


def build_app(app: App, extend: Callable[[FastAPI], None] | None = None) -> FastAPI:
    """The API as an ASGI application serving `app`: its routers, error answers and body limit.

    `extend` adds what else the process serves (the managers' console) before the middleware.
    """
    # no /docs or /redoc: their pages load scripts from a CDN, which a site's LAN may not reach
    web = FastAPI(title="Gatehouse API", version="1", openapi_url=OPENAPI_URL, docs_url=None, redoc_url=None,
                  swagger_ui_oauth2_redirect_url=None, responses=ERRORS,
                  redirect_slashes=False)  # a redirect would tell a stranger which paths exist
    web.state.gatehouse = app
    web.state.outage = _Outage()
    for router in ROUTERS:
        web.include_router(router)
    for kind in HANDLED:
        web.add_exception_handler(kind, _answer)
    if extend is not None:
        extend(web)
    web.add_middleware(_Guard, outage=web.state.outage)
    return web


class ApiServer:
    """The Gatehouse HTTP API in a background thread: `start()`, `url`, `stop()`."""

    def __init__(
        self,
        engine_or_store: Engine | EventStore,
        *,
        host: str = "127.0.0.1",
        port: int = 8080,
        site: str,
        audit_key: bytes | None,
        now: Callable[[], datetime] = _utcnow,
        alarm_actions: AlarmActions | None = None,
        incidents: IncidentDesk | None = None,
        invitations: InvitationDesk | None = None,
        throttle: AuthThrottle | None = None,
        door_commands: door_routes.DoorCommands | None = None,
        ingest: Callable[[], IngestHealth] | None = None,
        extend: Callable[[FastAPI], None] | None = None,
        head_timeout_s: float = HEAD_TIMEOUT_S,
    ) -> None:
        """Serve the store at host:port (port 0 picks a free one); nothing is bound until start()."""
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be 0-65535, got {port}")
        store = engine_or_store if isinstance(engine_or_store, EventStore) else EventStore(engine_or_store)
        self._app = App(store, site, audit_key, now, alarm_actions, incidents, invitations,
                        throttle=throttle or AuthThrottle(), door_commands=door_commands, ingest=ingest)
        self.web = build_app(self._app, extend)
        self._address = (host, port)
        self._head_timeout_s = head_timeout_s
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL, e.g. `http://127.0.0.1:8080` (the bound port once started)."""
        host, port = self._address
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def start(self) -> None:
        """Bind the port and serve in a daemon thread; return once uvicorn is serving."""
        if self._server is not None:
            raise RuntimeError("the API server is already running")
        family = socket.AF_INET6 if ":" in self._address[0] else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(self._address)
        except OSError:
            sock.close()
            raise
        self._address = (self._address[0], int(sock.getsockname()[1]))
        # no logging set-up (the service's handlers stay; uvicorn's own start and stop lines are below
        # warning, ours say it), no access log, no proxy headers (the throttle keys on the real
        # peer), no websockets, no lifespan
        protocol = type("_Protocol", (_H11,), {"head_timeout_s": self._head_timeout_s})
        config = uvicorn.Config(self.web, http=protocol, ws="none", lifespan="off", log_config=None,
                                log_level=logging.WARNING, access_log=False, proxy_headers=False,
                                server_header=False, timeout_graceful_shutdown=5)
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="gatehouse-api",
                                  daemon=True)
        self._server, self._thread = server, thread
        thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                sock.close()
                raise RuntimeError(f"the API server did not start on {self.url}")
            time.sleep(0.01)
        log.info("HTTP API listening on %s", self.url)

    def stop(self) -> None:
        """Stop serving (open requests get a few seconds to finish) and free the port."""
        server, thread, self._server, self._thread = self._server, self._thread, None, None
        if server is None:
            return
        server.should_exit = True
        if thread is not None:
            thread.join(timeout=10)
        self._app.throttle.flush()
        log.info("HTTP API stopped")

    def __enter__(self) -> Self:
        """Start the server for a with-block."""
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Stop the server."""
        self.stop()
