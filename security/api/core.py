"""The API's plumbing with no HTTP server in it: requests, responses, errors, routes and roles."""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import ValidationError

from broker.api_models import RequestBody, explain
from broker.safe_text import escape, text_fault
from security.api.throttle import AuthThrottle
from security.ingest.health import IngestHealth
from security.office.alarms import Action, Output
from security.office.incidents import IncidentDesk
from security.office.invitations import InvitationDesk
from security.storage import EventStore
from security.storage.people import Change
from security.storage.tokens import ROLES, Caller

if TYPE_CHECKING:
    from security.api.door_routes import DoorCommands

MAX_BODY = 5 * 1024 * 1024
"""The largest request body accepted (a CSV of tens of thousands of employees fits)."""
MAX_DEPTH = 32
"""The deepest JSON body accepted (no route reads more than three levels)."""

AlarmActions = Callable[[Action], Sequence[Output]]
"""The central service's way to apply a person's action to its alarm book."""

KIOSK = "kiosk"
RANKING: tuple[str, ...] = ROLES if KIOSK in ROLES else (KIOSK, *ROLES)
"""API roles from least to most allowed: a kiosk token reaches only the kiosk routes, a guard's those too."""
PICK_TTL_S = 300.0
PICK_MAX = 5000


class Picks:
    """Short-lived opaque tokens a kiosk trades for one returning visitor's details (kept in memory)."""

    def __init__(self, ttl_s: float = PICK_TTL_S, clock: Callable[[], float] = time.monotonic) -> None:
        """Tokens live `ttl_s` seconds; at most PICK_MAX are kept (the oldest go first)."""
        self._ttl, self._clock = ttl_s, clock
        self._items: dict[str, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def issue(self, details: Mapping[str, Any]) -> str:
        """A new random token for `details`."""
        token = secrets.token_urlsafe(18)
        with self._lock:
            now = self._clock()
            for old in [k for k, (at, _) in self._items.items() if now - at > self._ttl]:
                del self._items[old]
            while len(self._items) >= PICK_MAX:
                del self._items[next(iter(self._items))]
            self._items[token] = (now, dict(details))
        return token

    def resolve(self, token: str) -> dict[str, Any] | None:
        """The details of a live token, or None when it is unknown or ran out."""
        with self._lock:
            item = self._items.get(token)
            if item is None or self._clock() - item[0] > self._ttl:
                self._items.pop(token, None)
                return None
            return dict(item[1])


class ApiError(Exception):
    """An error answer: an HTTP status and a message for the `{"error": ...}` body."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        """Keep the status, the message and any header the answer needs (e.g. Retry-After)."""
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


@dataclass(frozen=True, slots=True)
class App:
    """What every handler works with: the store, the site, the audit key, the clock, alarm hook, desks."""

    store: EventStore
    site: str
    audit_key: bytes | None
    now: Callable[[], datetime]
    alarm_actions: AlarmActions | None = None
    incidents: IncidentDesk | None = None
    invitations: InvitationDesk | None = None
    picks: Picks = field(default_factory=Picks)
    throttle: AuthThrottle = field(default_factory=AuthThrottle)
    door_commands: DoorCommands | None = None
    ingest: Callable[[], IngestHealth] | None = None
    """How the central service's ingest is doing (None: this process runs no ingest)."""

    def incident_desk(self) -> IncidentDesk:
        """The incident desk; ApiError 503 when this process serves no incidents."""
        if self.incidents is None:
            raise ApiError(503, "incidents are not served by this process")
        return self.incidents

    def invitation_desk(self) -> InvitationDesk:
        """The invitation desk; ApiError 503 when this process serves no invitations."""
        if self.invitations is None:
            raise ApiError(503, "invitations are not served by this process")
        return self.invitations


M = TypeVar("M", bound=RequestBody)


@dataclass(frozen=True, slots=True)
class Request:
    """One parsed request: path parameters, query, body, headers and who sent it."""

    method: str
    params: Mapping[str, str]
    query: Mapping[str, str]
    body: bytes
    headers: Mapping[str, str]
    caller: Caller | None = None

    def change(self, app: App) -> Change:
        """The audit context of a change made by this request's caller."""
        who = self.caller.name if self.caller else "anonymous"
        return Change(f"api:{who}", app.now(), app.audit_key)

    def read(self, model: type[M]) -> M:
        """The body as `model` (an empty body is `{}`); ApiError 400 naming every bad field otherwise."""
        doc = parse_json(self.body) if self.body else {}
        if not isinstance(doc, dict):
            raise ApiError(400, "the body must be a JSON object")
        try:
            return model.model_validate(doc)
        except ValidationError as exc:
            raise ApiError(400, explain(exc)) from None

    def text(self) -> str:
        """The body as UTF-8 text that can be stored; ApiError 400 otherwise."""
        try:
            text = self.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ApiError(400, f"body: not UTF-8 ({exc.reason} at byte {exc.start})") from None
        check_text("body", text)
        return text

    def flag(self, name: str) -> bool:
        """Whether a query flag such as `?dry_run=1` is on."""
        return self.query.get(name, "").lower() in ("1", "true", "yes", "on")

    @property
    def role(self) -> str:
        """The caller's role (empty for an unauthenticated request)."""
        return self.caller.role if self.caller else ""


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_json(body: bytes) -> Any:
    """A request body as JSON: UTF-8, no NaN or Infinity, at most MAX_DEPTH deep, every string storable.

    ApiError 400 naming the problem otherwise (a body nested thousands deep included).
    """
    try:
        doc = json.loads(body.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError as exc:
        raise ApiError(400, f"the body is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except RecursionError:
        raise ApiError(400, f"the body is nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:  # JSONDecodeError, NaN, an integer of more than 4300 digits
        raise ApiError(400, f"the body is not valid JSON: {exc}") from None
    check_json(doc)
    return doc


def check_json(doc: Any) -> None:
    """ApiError 400 when a JSON value is deeper than MAX_DEPTH or holds a key or string no store takes."""
    todo: list[tuple[Any, str, int]] = [(doc, "body", 0)]
    while todo:
        value, where, depth = todo.pop()
        if depth > MAX_DEPTH:
            raise ApiError(400, f"the body is nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, str):
            check_text(where, value)
        elif isinstance(value, dict):
            for key, item in value.items():
                check_text(f"{where}: a key", key)
                todo.append((item, key if depth == 0 else f"{where}.{key}", depth + 1))
        elif isinstance(value, list):
            todo.extend((item, f"{where}[{i}]", depth + 1) for i, item in enumerate(value))


def check_text(where: str, text: str) -> None:
    """ApiError 400 naming `where` when `text` cannot be stored (NUL, lone surrogate)."""
    fault = text_fault(text)
    if fault is not None:
        raise ApiError(400, f"{escape(where)}: {fault}")


@dataclass(frozen=True, slots=True)
class Response:
    """An answer: status, body bytes and content type."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)


def json_response(doc: Any, status: int = 200) -> Response:
    """A JSON answer."""
    return Response(status, json.dumps(doc, ensure_ascii=False).encode("utf-8"))


def text_response(text: str, status: int = 200) -> Response:
    """A plain-text UTF-8 answer."""
    return Response(status, text.encode("utf-8"), "text/plain; charset=utf-8")


def error_response(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    """The `{"error": ...}` answer."""
    return Response(status, json_response({"error": message}).body, headers=dict(headers or {}))


Handler = Callable[[App, Request], Response]


@dataclass(frozen=True, slots=True)
class Route:
    """A method and path pattern (`{name}` captures one segment), the least role allowed, the handler."""

    method: str
    pattern: str
    role: str | None
    handler: Handler
    regex: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        """Compile the pattern; refuse an unknown role."""
        if self.role is not None and self.role not in RANKING:
            raise ValueError(f"unknown role {self.role!r}")
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.pattern)
        object.__setattr__(self, "regex", re.compile(f"^{regex}$"))


def allowed(role: str, least: str) -> bool:
    """Whether `role` may do what `least` may (kiosk < guard < manager < admin)."""
    return role in RANKING and RANKING.index(role) >= RANKING.index(least)
