"""The HTTP API server on the standard library: bearer tokens, roles, JSON errors, a route table."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self, cast
from urllib.parse import parse_qsl, unquote, urlsplit

from sqlalchemy import Engine
from sqlalchemy.exc import InterfaceError, OperationalError

from security.api import door_routes, incident_routes, ops_routes, people_routes, visitor_routes
from security.api.core import (
    MAX_BODY,
    AlarmActions,
    ApiError,
    App,
    Request,
    Response,
    Route,
    allowed,
    check_text,
    error_response,
)
from security.api.throttle import AuthThrottle
from security.ingest.health import IngestHealth
from security.office.incidents import IncidentDesk
from security.office.invitations import InvitationDesk
from security.storage import EventStore, StorageError
from security.storage.people import DuplicateError, NotFoundError, PeopleError
from security.storage.tokens import Caller, verify_token

log = logging.getLogger(__name__)

ROUTES: tuple[Route, ...] = (ops_routes.ROUTES + people_routes.ROUTES + incident_routes.ROUTES
                             + visitor_routes.ROUTES + door_routes.ROUTES)
DRAIN_LIMIT = 4 * MAX_BODY
"""An oversized body up to this size is read and dropped, so the client gets its 413 (not a reset)."""


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


class _Server(ThreadingHTTPServer):
    """The threading server, carrying the app and its routes for the handlers."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], app: App, routes: Sequence[Route]) -> None:
        """Bind `address` (IPv6 when the host has a colon)."""
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.app, self.routes = app, tuple(routes)
        self.outage = _Outage()
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    """One connection: parse, authenticate, authorise, route, answer in JSON."""

    protocol_version = "HTTP/1.1"
    server_version = "Gatehouse"
    sys_version = ""
    timeout = 30

    def do_GET(self) -> None:
        """Answer a GET."""
        self._serve("GET")

    def do_POST(self) -> None:
        """Answer a POST."""
        self._serve("POST")

    def do_PUT(self) -> None:
        """Answer a PUT."""
        self._serve("PUT")

    def do_DELETE(self) -> None:
        """Answer a DELETE."""
        self._serve("DELETE")

    def do_PATCH(self) -> None:
        """Answer a PATCH (no route takes one: 405 or 404)."""
        self._serve("PATCH")

    def log_message(self, format: str, *args: object) -> None:
        """Requests go to the debug log, not stderr."""
        log.debug("%s %s", self.address_string(), format % args)

    def _serve(self, method: str) -> None:
        srv = cast(_Server, self.server)
        try:
            response = self._route(srv, method)
        except ApiError as exc:
            response = error_response(exc.status, exc.message, exc.headers)
        except NotFoundError as exc:
            response = error_response(404, str(exc))
        except DuplicateError as exc:
            response = error_response(409, str(exc))
        except PeopleError as exc:
            response = error_response(400, str(exc))
        except (StorageError, OperationalError, InterfaceError) as exc:  # the database is down or locked
            srv.outage.down(f"{method} {self.path}", exc)
            response = error_response(503, "the database is unavailable; try again later",
                                      {"Retry-After": "5"})
        except Exception:
            log.exception("API request %s %s failed", method, self.path)
            response = error_response(500, "internal error; the service log has the details")
        else:
            srv.outage.up()
        self._send(response)

    def _route(self, srv: _Server, method: str) -> Response:
        """Match the route, check the token and role, read the body, call the handler."""
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/") or "/"  # matched raw: an encoded '/' stays inside its segment
        matching = [(r, m) for r in srv.routes if (m := r.regex.match(path))]
        chosen = next(((r, m) for r, m in matching if r.method == method), None)
        caller: Caller | None = None
        if chosen is None or chosen[0].role is not None:
            caller = self._caller(srv.app)
        if not matching:
            raise ApiError(404, f"no such resource {path}")
        if chosen is None:
            allow = ", ".join(sorted({r.method for r, _ in matching}))
            raise ApiError(405, f"{method} is not allowed on {path}; use {allow}")
        route, match = chosen
        if route.role is not None and not allowed(caller.role if caller else "", route.role):
            raise ApiError(403, f"the {caller.role if caller else ''} role may not {method} {path}")
        body = self._body()
        params = {k: unquote(v) for k, v in match.groupdict().items()}
        query = dict(parse_qsl(parts.query))
        for where, values in (("path", params), ("query", query)):
            for name, value in values.items():
                check_text(f"{where} {name}", value)
        headers = {k.lower(): v for k, v in self.headers.items()}
        request = Request(method, params, query, body, headers, caller)
        return route.handler(srv.app, request)

    def _caller(self, app: App) -> Caller:
        """The token's owner; ApiError 401 when the header is missing or the token is not live.

        An address that failed too often lately gets 429 with Retry-After, its token unchecked.
        """
        address = str(self.client_address[0])
        wait = app.throttle.retry_after(address)
        if wait:
            raise ApiError(429, f"too many failed authentications from {address}; retry in {wait} s",
                           {"Retry-After": str(wait)})
        scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "send Authorization: Bearer <token>")
        caller = verify_token(app.store.engine, token.strip())
        if caller is None:
            app.throttle.failed(address, f"unknown or revoked token on {self.command} {self.path}")
            raise ApiError(401, "the token is unknown or revoked")
        return caller

    def _body(self) -> bytes:
        """The request body, at most MAX_BODY bytes; 411 without a length, 413 when too large."""
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            raise ApiError(411, "send the body with a Content-Length")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            raise ApiError(400, "Content-Length: not a number") from None
        if length < 0:
            self.close_connection = True
            raise ApiError(400, "Content-Length: negative")
        if length > MAX_BODY:
            self._drain(length)
            raise ApiError(413, f"the body is {length} bytes; the limit is {MAX_BODY}")
        return self.rfile.read(length) if length else b""

    def _drain(self, length: int) -> None:
        """Read and drop an oversized body (when not absurdly large), then close the connection."""
        self.close_connection = True
        left = length if length <= DRAIN_LIMIT else 0
        while left > 0:
            chunk = self.rfile.read(min(left, 65536))
            if not chunk:
                return
            left -= len(chunk)

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("Cache-Control", "no-store")
        if response.status == 401:
            self.send_header("WWW-Authenticate", 'Bearer realm="gatehouse"')
        for name, value in response.headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)


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
    ) -> None:
        """Serve the store at host:port (port 0 picks a free one); nothing is bound until start()."""
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be 0-65535, got {port}")
        store = engine_or_store if isinstance(engine_or_store, EventStore) else EventStore(engine_or_store)
        self._app = App(store, site, audit_key, now, alarm_actions, incidents, invitations,
                        throttle=throttle or AuthThrottle(), door_commands=door_commands, ingest=ingest)
        self._address = (host, port)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL, e.g. `http://127.0.0.1:8080` (the bound port once started)."""
        host, port = self._address
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def start(self) -> None:
        """Bind the port and serve in a daemon thread."""
        if self._server is not None:
            raise RuntimeError("the API server is already running")
        self._server = _Server(self._address, self._app, ROUTES)
        self._address = (self._address[0], int(self._server.server_address[1]))
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="gatehouse-api", daemon=True)
        self._thread.start()
        log.info("HTTP API listening on %s", self.url)

    def stop(self) -> None:
        """Stop serving and free the port."""
        server, thread, self._server, self._thread = self._server, self._thread, None, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        self._app.throttle.flush()
        if thread is not None:
            thread.join(timeout=5)
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
