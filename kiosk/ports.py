"""What the kiosk asks of the world: small frozen values and the adapters' `Protocol`s (pure).

The view-model only talks to these; real adapters (the central service's HTTP API with a local
cache, the label printer, the watchlist cache) and the tests' fakes implement them. Adapters
answer from their caches when the network is down; an adapter that raises is handled by the
view-model, never by the visitor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, Protocol

from broker.schemas import Data, VisitorType

Emit = Callable[[str, Data], object]
"""Send one event (`DeviceLink.source.emit`): it stores it in the outbox (an fsync: the window's
view-model calls it on its records worker, never on the UI thread)."""


@dataclass(slots=True, frozen=True)
class Host:
    """An employee a visitor can visit, as the directory lists them."""

    id: str
    name: str
    department: str | None = None


@dataclass(slots=True, frozen=True)
class Invitation:
    """A visit announced ahead by its host, found by the code in the visitor's QR."""

    visit_id: str
    visitor_name: str
    company: str | None
    host_id: str
    host_name: str
    visitor_type: VisitorType
    email: str | None
    expected_at: datetime


@dataclass(slots=True, frozen=True)
class PastVisitor:
    """A visitor who came before, as the service shows them to anyone: masked ("A** L*******")."""

    token: str
    masked_name: str
    masked_company: str | None
    last_visit_date: date


@dataclass(slots=True, frozen=True)
class VisitorDetails:
    """A returning visitor's own details, asked for only after they picked their entry."""

    name: str
    company: str | None
    email: str | None


@dataclass(slots=True, frozen=True)
class OnSiteVisit:
    """A visit that has checked in and not yet out (masked name only)."""

    visit_id: str
    masked_name: str


@dataclass(slots=True, frozen=True)
class ScreenResult:
    """The watchlist's answer for one name."""

    result: Literal["clear", "match", "error"]
    score: float | None = None
    entry_id: str | None = None


@dataclass(slots=True, frozen=True)
class Photo:
    """A photo the kiosk camera took: JPEG bytes and the image size in pixels."""

    jpeg: bytes
    width: int
    height: int


@dataclass(slots=True, frozen=True)
class BadgeRequest:
    """Everything a visitor badge shows; `badge` is the QR's content (the credential)."""

    visit_id: str
    visitor_name: str
    company: str | None
    host_name: str
    visitor_type: VisitorType
    badge: str
    valid_until: datetime
    photo: bytes | None
    language: str


@dataclass(slots=True, frozen=True)
class PrintResult:
    """Whether the printer took the badge, and why not."""

    ok: bool
    detail: str | None = None


class HostDirectory(Protocol):
    """The employee directory (never visitors)."""

    def search(self, prefix: str) -> list[Host]:
        """Employees whose name starts with (a word starting with) `prefix`."""
        ...


class Agreements(Protocol):
    """The agreement a visitor of each type signs."""

    def text(self, visitor_type: VisitorType, language: str) -> tuple[str, str]:
        """(agreement name like "contractor-v1", its text in `language`)."""
        ...


class Screener(Protocol):
    """The site's watchlist (a cached copy on the kiosk)."""

    def screen(self, name: str, company: str | None) -> ScreenResult:
        """Match one visitor against the watchlist."""
        ...


class BadgePrinter(Protocol):
    """The kiosk's label printer."""

    def print(self, badge: BadgeRequest) -> PrintResult:
        """Send the badge to the printer and say whether it took it (may block: run it off the UI thread)."""
        ...


class Invitations(Protocol):
    """Invitations announced by hosts."""

    def find(self, code: str) -> Invitation | None:
        """The invitation with this QR code, or None when unknown, cancelled or expired."""
        ...


class Visitors(Protocol):
    """Visitors who came before (masked for the search)."""

    def search(self, text: str) -> list[PastVisitor]:
        """Past visitors whose name or e-mail matches `text`, masked."""
        ...

    def details(self, token: str) -> VisitorDetails | None:
        """The full details behind one search result's token."""
        ...


class Visits(Protocol):
    """Visits currently on site."""

    def find_by_badge(self, badge: str) -> OnSiteVisit | None:
        """The on-site visit holding this badge value."""
        ...

    def search(self, text: str) -> list[OnSiteVisit]:
        """On-site visits whose visitor's name matches `text`, masked."""
        ...


@dataclass(slots=True, frozen=True)
class Ports:
    """Every adapter the kiosk uses, handed to the view-model in one piece."""

    directory: HostDirectory
    agreements: Agreements
    screener: Screener
    printer: BadgePrinter
    invitations: Invitations
    visitors: Visitors
    visits: Visits
