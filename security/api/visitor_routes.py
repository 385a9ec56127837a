"""The API's visitor routes: invitations and the watchlist for staff, and what kiosks look up.

Kiosk routes (least role `kiosk`, so guards may call them too) show as little as they can: host
search answers employees' ids and names only, returning visitors and visitors on site come masked
(`A** L****`), upcoming invitations carry their codes only hashed, no e-mail, and the visitor's
name and company masked (in full only sealed under the code, for the kiosk the visitor shows it to),
and a returning visitor's name, company, type and language (never the e-mail) are given once per
opaque token: a search issues a token per match, and each token is gone once it was resolved.
"""

from __future__ import annotations

import re
import threading
from datetime import date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Response

from broker.api_models import (
    CreatedInvitation,
    HostEntry,
    KioskInvitation,
    NewInvitation,
    NewWatchEntry,
    OnSiteEntry,
    ReturningVisitor,
    StaffInvitation,
    UpcomingInvitation,
    VisitorDetailsBody,
    WatchlistEntryBody,
    WatchlistName,
)
from broker.api_models.requests import Text
from broker.masking import mask_company, mask_name
from broker.schemas import VisitorType
from security.api.auth import Guard, Invitations, Kiosk, Manager, Service, by, change
from security.api.core import ApiError, App
from security.api.routing import ApiRoute
from security.api.views import (
    fold,
    invitation_json,
    kiosk_invitation_json,
    staff_invitation,
    watch_json,
)
from security.office.invitations import InvitationDesk, valid_from
from security.storage import invitations as invitation_store
from security.storage import watchlist
from security.storage.invitations import (
    Invitation,
    InvitationClosedError,
    InvitationError,
    InvitationNotFoundError,
    VisitRecord,
)

HOSTS_SHOWN = 8
VISITORS_SHOWN = 5
MIN_QUERY = 2
RETURNING_DAYS = 400
"""How far back returning visitors are looked for (retention anonymises older check-ins anyway)."""
ONSITE_HOURS = 24
MAX_UPCOMING_H = 168
PSEUDONYM = re.compile(r"^visitor [0-9a-f]{8}$")
"""The name retention leaves in an anonymised check-in: never offered as a returning visitor."""
FLAGS = ("1", "true", "yes", "on")

router = APIRouter(route_class=ApiRoute, tags=["visitors"])
"""Visitor routes: invitations and the watchlist for staff, lookups for kiosks (least role kiosk)."""


def _staff_view(desk: InvitationDesk, found: list[Invitation]) -> list[dict[str, Any]]:
    names = desk.host_names()
    return [invitation_json(i, names.get(i.host_id), valid_from=valid_from(i, desk.tz)) for i in found]


@router.post("/api/invitations", status_code=201)
def create_invitation(caller: Guard, desk: Invitations, body: NewInvitation) -> CreatedInvitation:
    """POST /api/invitations: `{visitor_name, host_id, company?, email?, visitor_type?, expected_at?, ..}`."""
    try:
        issued = desk.invite(
            visitor_name=body.visitor_name, host_id=body.host_id, by=by(caller), company=body.company,
            email=body.email, visitor_type=body.visitor_type or VisitorType.GUEST,
            expected_at=body.expected_at, valid_until=body.valid_until, send_email=body.send_email)
    except InvitationError as exc:
        raise ApiError(400, str(exc)) from None
    made = issued.invitation
    staff = staff_invitation(made, desk.host_names().get(made.host_id), valid_from=valid_from(made, desk.tz))
    return CreatedInvitation(**dict(staff), qr_png=f"/api/invitations/{made.visit_id}/qr.png",
                             emailed=issued.emailed)


@router.get("/api/invitations", response_model=list[StaffInvitation])
def list_invitations(_caller: Guard, desk: Invitations, day: Text | None = None) -> Any:
    """GET /api/invitations[?day=today|YYYY-MM-DD]: open ones not run out, or every one of a local day."""
    if day is None:
        return _staff_view(desk, desk.pending())
    if day == "today":
        chosen = desk.now().astimezone(desk.tz).date()
    else:
        try:
            chosen = date.fromisoformat(day)
        except ValueError:
            raise ApiError(400, f"day: today or YYYY-MM-DD, got {day!r}") from None
    return _staff_view(desk, desk.on_day(chosen))


@router.delete("/api/invitations/{visit_id}", response_model=StaffInvitation)
def cancel_invitation(caller: Manager, desk: Invitations, visit_id: Text) -> Any:
    """DELETE /api/invitations/{visit_id}: cancel an open invitation (409 when used or cancelled)."""
    try:
        cancelled = desk.cancel(visit_id, by(caller))
    except InvitationNotFoundError as exc:
        raise ApiError(404, str(exc)) from None
    except InvitationClosedError as exc:
        raise ApiError(409, str(exc)) from None
    return _staff_view(desk, [cancelled])[0]


@router.get("/api/invitations/{visit_id}/qr.png", response_class=Response,
            responses={200: {"content": {"image/png": {}}, "description": "the QR code"}})
def invitation_qr(_caller: Guard, desk: Invitations, visit_id: Text) -> Response:
    """GET /api/invitations/{visit_id}/qr.png: the QR code to print or send."""
    try:
        png = desk.qr(visit_id)
    except InvitationNotFoundError as exc:
        raise ApiError(404, str(exc)) from None
    return Response(png, media_type="image/png")


def _employees(app: App) -> list[HostEntry]:
    with app.store.engine.connect() as conn:
        return [HostEntry(id=p.id, name=p.name) for p in invitation_store.employees(conn)]


@router.get("/api/kiosk/hosts")
def kiosk_hosts(app: Service, _caller: Kiosk, q: Text = "") -> list[HostEntry]:
    """GET /api/kiosk/hosts?q=PREFIX: up to 8 employees whose name or a name word starts with it."""
    wanted = fold(q)
    if not wanted:
        raise ApiError(400, "q: required")
    found = []
    for person in _employees(app):
        words = fold(person.name).split()
        if any(" ".join(words[i:]).startswith(wanted) for i in range(len(words))):
            found.append(person)
            if len(found) == HOSTS_SHOWN:
                break
    return found


@router.get("/api/kiosk/hosts/all")
def kiosk_all_hosts(app: Service, _caller: Kiosk) -> list[HostEntry]:
    """GET /api/kiosk/hosts/all: every employee's id and name, for a kiosk's offline cache."""
    return _employees(app)


@router.get("/api/kiosk/invitations/{code}", response_model=KioskInvitation)
def kiosk_invitation(_caller: Kiosk, desk: Invitations, code: Text) -> Any:
    """GET /api/kiosk/invitations/{code}: the scanned invitation while it is usable, else 404."""
    found = desk.lookup(code)
    if found is None:
        raise ApiError(404, "no usable invitation has this code")
    host = desk.host_names().get(found.host_id)
    return kiosk_invitation_json(found, host, valid_from=valid_from(found, desk.tz), cache=False)


@router.get("/api/kiosk/invitations", response_model=list[UpcomingInvitation])
def kiosk_upcoming(_caller: Kiosk, desk: Invitations, upcoming_h: Text = "24") -> Any:
    """GET /api/kiosk/invitations?upcoming_h=24: open invitations usable within the hours, codes hashed.

    Every kiosk token may ask, so the codes go only as their SHA-256, no e-mail is given, and the
    visitor's name and company are masked (in full only sealed under the code).
    """
    hours = int(upcoming_h) if upcoming_h.isdigit() else 0
    if not 1 <= hours <= MAX_UPCOMING_H:
        raise ApiError(400, f"upcoming_h: a whole number from 1 to {MAX_UPCOMING_H}, got {upcoming_h!r}")
    names = desk.host_names()
    return [kiosk_invitation_json(i, names.get(i.host_id), valid_from=valid_from(i, desk.tz), cache=True)
            for i in desk.upcoming(hours)]


def _records(app: App, since: datetime, types: tuple[str, ...]) -> list[VisitRecord]:
    with app.store.engine.connect() as conn:
        return invitation_store.visit_records(conn, since, types=types)


def _query(q: str) -> str:
    text = " ".join(q.split())
    if len(text) < MIN_QUERY:
        raise ApiError(400, f"q: at least {MIN_QUERY} characters")
    return text


@router.get("/api/kiosk/visitors", response_model=list[ReturningVisitor])
def kiosk_visitors(app: Service, _caller: Kiosk, q: Text = "") -> Any:
    """GET /api/kiosk/visitors?q=TEXT: up to 5 returning visitors by name or exact e-mail, masked."""
    text = _query(q)
    wanted, by_email = fold(text), "@" in text
    starts: list[VisitRecord] = []
    contains: list[VisitRecord] = []
    seen: set[str] = set()
    for record in _records(app, app.now() - timedelta(days=RETURNING_DAYS), ("visitor.checked_in",)):
        name, email = str(record.data.get("visitor_name") or ""), str(record.data.get("email") or "")
        key = fold(name)
        if not name or PSEUDONYM.match(name) or key in seen:
            continue
        if (email.casefold() != text.casefold()) if by_email else (wanted not in key):
            continue
        seen.add(key)  # newest first: the first record of a person is their last visit
        (starts if by_email or key.startswith(wanted) else contains).append(record)
        if len(starts) == VISITORS_SHOWN:
            break
    return [_returning(app, r) for r in (starts + contains)[:VISITORS_SHOWN]]


class _Once:
    """Carried in a token's details so that they are given out only once (the first resolve wins)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._taken = False

    def take(self) -> bool:
        """True the first time only."""
        with self._lock:
            taken, self._taken = self._taken, True
            return not taken


_ONCE = "_once"
"""The key of a token's `_Once` in its details (never answered)."""


def _returning(app: App, record: VisitRecord) -> dict[str, Any]:
    """A returning visitor masked, with a single-use token for their details (no e-mail) at the kiosk."""
    data = record.data
    last = record.time.date().isoformat()
    details = {"visitor_name": data.get("visitor_name"), "company": data.get("company"),
               "visitor_type": data.get("visitor_type"), "language": data.get("language"),
               "last_visit": last, _ONCE: _Once()}
    return ReturningVisitor(token=app.picks.issue(details), name=mask_name(str(data.get("visitor_name"))),
                            company=mask_company(data.get("company")), last_visit=record.time.date()).dump()


@router.get("/api/kiosk/visitors/{token}")
def kiosk_visitor(app: Service, _caller: Kiosk, token: Text) -> VisitorDetailsBody:
    """GET /api/kiosk/visitors/{token}: the details of the returning visitor who picked this entry, once."""
    details = app.picks.resolve(token)
    once = details.pop(_ONCE, None) if details is not None else None
    if details is None or not isinstance(once, _Once) or not once.take():
        raise ApiError(404, "the token is unknown, used or ran out; search again")
    return VisitorDetailsBody.read(details)


def _on_site(app: App) -> list[tuple[datetime, dict[str, Any]]]:
    """Visitors checked in within ONSITE_HOURS and not checked out, newest first."""
    records = _records(app, app.now() - timedelta(hours=ONSITE_HOURS),
                       ("visitor.checked_in", "visitor.checked_out"))
    gone = {r.data.get("visit_id") for r in records if r.type == "visitor.checked_out"}
    present: dict[str, tuple[datetime, dict[str, Any]]] = {}
    for record in records:
        visit_id = record.data.get("visit_id")
        if record.type == "visitor.checked_in" and visit_id not in gone and visit_id not in present:
            present[str(visit_id)] = (record.time, record.data)
    return list(present.values())


def _onsite_json(since: datetime, data: dict[str, Any]) -> dict[str, Any]:
    masked = mask_name(str(data.get("visitor_name") or ""))
    company = mask_company(data.get("company"))
    return OnSiteEntry(visit_id=str(data.get("visit_id")), name=masked, company=company, since=since).dump()


@router.get("/api/kiosk/onsite-badge/{badge}", response_model=OnSiteEntry)
def kiosk_onsite_badge(app: Service, _caller: Kiosk, badge: Text) -> Any:
    """GET /api/kiosk/onsite-badge/{badge}: the visit on site holding this badge value (or visit id)."""
    value = badge.strip()
    for since, data in _on_site(app):
        if str(data.get("badge") or "") == value.upper() or data.get("visit_id") == value:
            return _onsite_json(since, data)
    raise ApiError(404, "no visitor on site holds this badge")


@router.get("/api/kiosk/onsite", response_model=list[OnSiteEntry])
def kiosk_onsite(app: Service, _caller: Kiosk, q: Text = "") -> Any:
    """GET /api/kiosk/onsite?q=TEXT: visitors on site whose name contains the text, masked."""
    wanted = fold(_query(q))
    return [_onsite_json(since, data) for since, data in _on_site(app)
            if wanted in fold(str(data.get("visitor_name") or ""))][:VISITORS_SHOWN]


@router.get("/api/kiosk/watchlist", response_model=list[WatchlistName])
def kiosk_watchlist(app: Service, _caller: Kiosk) -> Any:
    """GET /api/kiosk/watchlist: id, name and aliases of the active entries, for screening at the kiosk."""
    return [watch_json(e, full=False) for e in watchlist.list_entries(app.store.engine)]


@router.get("/api/watchlist", response_model=list[WatchlistEntryBody])
def list_watchlist(app: Service, _caller: Guard, removed: Text = "") -> Any:
    """GET /api/watchlist[?removed=1]: the entries with why and by whom."""
    entries = watchlist.list_entries(app.store.engine, removed=removed.lower() in FLAGS)
    return [watch_json(e, full=True) for e in entries]


@router.post("/api/watchlist", status_code=201, response_model=WatchlistEntryBody)
def add_watch(app: Service, caller: Manager, body: NewWatchEntry) -> Any:
    """POST /api/watchlist: `{name, aliases?: [..], reason?}`."""
    entry = watchlist.add_entry(app.store.engine, body.name, change(app, caller), aliases=body.aliases,
                                reason=body.reason)
    return watch_json(entry, full=True)


@router.delete("/api/watchlist/{id}", response_model=WatchlistEntryBody)
def remove_watch(app: Service, caller: Manager, id: Text) -> Any:
    """DELETE /api/watchlist/{id}: take an entry off the watchlist."""
    if not id.isdigit():
        raise ApiError(404, f"no watchlist entry {id!r}")
    entry = watchlist.remove_entry(app.store.engine, int(id), change(app, caller))
    return watch_json(entry, full=True)

