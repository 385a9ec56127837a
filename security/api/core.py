"""The API's plumbing with no HTTP in it: what handlers work with, errors, roles."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from broker.safe_text import escape, text_fault
from security.api.throttle import AuthThrottle
from security.ingest.health import IngestHealth
from security.office.alarms import Action, Output
from security.office.incidents import IncidentDesk
from security.office.invitations import InvitationDesk
from security.storage import EventStore
from security.storage.tokens import ROLES

if TYPE_CHECKING:
    from security.api.door_routes import DoorCommands

MAX_BODY = 5 * 1024 * 1024
"""The largest request body accepted (a CSV of tens of thousands of employees fits)."""

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


def check_text(where: str, text: str) -> None:
    """ApiError 400 naming `where` when `text` cannot be stored (NUL, lone surrogate)."""
    fault = text_fault(text)
    if fault is not None:
        raise ApiError(400, f"{escape(where)}: {fault}")


def allowed(role: str, least: str) -> bool:
    """Whether `role` may do what `least` may (kiosk < guard < manager < admin)."""
    return role in RANKING and RANKING.index(role) >= RANKING.index(least)
