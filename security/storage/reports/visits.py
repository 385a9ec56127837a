"""The console's visits: check-ins from the event log, filtered and paged in SQL, with their check-outs.

A visit is a `visitor.checked_in` event; its time is the service's receive time (reports use
the service's clock, not the kiosk's). Its check-out is the first `visitor.checked_out` of the
same visit id received at or after it, found for a whole page in one more query. The detail adds
the visit's photo, signed agreement, badge print, screening and host notices.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, or_, select

from broker.schemas import VisitorType
from security.office.visits_report import InvitationFact, VisitFact
from security.storage.models import table
from security.storage.reports.keyset import (
    DEFAULT_PAGE,
    Page,
    ReportError,
    TimeRange,
    fetch_page,
    scope_of,
    walk,
)

EVENTS = table("events")
INVITATIONS = table("invitations")
CHECKED_IN, CHECKED_OUT = "visitor.checked_in", "visitor.checked_out"
AROUND = ("visitor.photo", "visitor.agreed", "visitor.screened", "host.notified", "badge.printed")
MAX_STAY = timedelta(days=31)
"""A check-out later than this after its check-in is not looked for (it keeps the look-up on the index)."""
BEFORE_CHECK_IN = timedelta(hours=1)
"""How long before its check-in a visit's photo or agreement may have been received."""
MAX_TEXT = 200


def _field(name: str) -> ColumnElement[str]:
    found: ColumnElement[str] = EVENTS.c.data[name].as_string()
    return found


VISIT_ID = _field("visit_id")


@dataclass(frozen=True, slots=True)
class VisitFilter:
    """What the visits list is narrowed to; None (or empty) means any."""

    host_id: str | None = None
    company: str | None = None
    """Part of the company's name, any case."""
    visitor_type: str | None = None
    invited: bool | None = None
    """True: invited visits only; False: walk-ins only."""
    text: str | None = None
    """Part of the visitor's name, company or host name, any case."""

    def __post_init__(self) -> None:
        """Refuse over-long texts."""
        for name in ("host_id", "company", "visitor_type", "text"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or len(value) > MAX_TEXT):
                raise ReportError(f"{name}: text of at most {MAX_TEXT} characters")
        if self.visitor_type is not None and self.visitor_type not in set(VisitorType):
            raise ReportError(f"visitor_type: one of {', '.join(VisitorType)}, not {self.visitor_type!r}")


@dataclass(frozen=True, slots=True)
class VisitRow:
    """One visit as the list shows it."""

    id: int
    event_id: str
    visit_id: str
    arrived_at: datetime
    device: str
    visitor_name: str
    company: str | None
    visitor_type: str
    invited: bool
    host_id: str | None
    host_name: str | None
    badge: str | None
    left_at: datetime | None
    checkout_method: str | None

    @property
    def dwell_s(self) -> float | None:
        """Seconds from check-in to check-out; None while the visitor has not checked out."""
        return None if self.left_at is None else (self.left_at - self.arrived_at).total_seconds()


@dataclass(frozen=True, slots=True)
class HostNotice:
    """One attempt to tell the host their visitor arrived."""

    at: datetime
    channel: str
    ok: bool
    detail: str | None


@dataclass(frozen=True, slots=True)
class VisitDetail:
    """A visit with what the kiosk recorded around it; refs are event ids the console can show."""

    visit: VisitRow
    photo_ref: str | None
    signature_ref: str | None
    agreement: str | None
    agreement_language: str | None
    badge_printed: bool | None
    screening: str | None
    host_notices: tuple[HostNotice, ...]

    @property
    def host_told(self) -> bool:
        """True when at least one notice reached the host."""
        return any(n.ok for n in self.host_notices)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _data(row: Any) -> dict[str, Any]:
    """A stored event's data; anything but a JSON object reads as empty (a hand-edited row stops nothing)."""
    return row.data if isinstance(row.data, dict) else {}


def _visit_row(row: Any, out: tuple[datetime, str | None] | None) -> VisitRow:
    data = _data(row)
    return VisitRow(
        id=int(row.id), event_id=row.event_id, visit_id=str(data.get("visit_id", "")),
        arrived_at=row.received_at,
        device=row.device, visitor_name=str(data.get("visitor_name", "")), company=_text(data.get("company")),
        visitor_type=str(data.get("visitor_type", "")), invited=data.get("invited") is True,
        host_id=_text(data.get("host_id")), host_name=_text(data.get("host_name")),
        badge=_text(data.get("badge")), left_at=out[0] if out else None,
        checkout_method=out[1] if out else None,
    )


def _contains(column: ColumnElement[str], part: str) -> ColumnElement[bool]:
    return func.lower(column).contains(part.lower(), autoescape=True)


def _where(time_range: TimeRange, filters: VisitFilter) -> list[ColumnElement[bool]]:
    found = [EVENTS.c.type == CHECKED_IN, EVENTS.c.received_at >= time_range.start,
             EVENTS.c.received_at < time_range.end]
    if filters.host_id:
        found.append(_field("host_id") == filters.host_id)
    if filters.company:
        found.append(_contains(_field("company"), filters.company))
    if filters.visitor_type:
        found.append(_field("visitor_type") == filters.visitor_type)
    if filters.invited is not None:
        invited = func.coalesce(EVENTS.c.data["invited"].as_boolean(), False)
        found.append(invited.is_(True) if filters.invited else invited.is_(False))
    if filters.text:
        names = ("visitor_name", "company", "host_name")
        found.append(or_(*(_contains(_field(f), filters.text) for f in names)))
    return found


visit_where = _where
"""The check-ins of a range matching the filters, as SQL conditions (also for ratings by visit)."""


def _checkouts(conn: Connection, rows: Sequence[Any]) -> dict[str, tuple[datetime, str | None]]:
    """Per visit id of `rows`, its first check-out received at or after its check-in."""
    arrived = {str(_data(r).get("visit_id")): r.received_at for r in rows}
    if not arrived:
        return {}
    query = (select(VISIT_ID.label("visit_id"), EVENTS.c.received_at, _field("method").label("method"))
             .where(EVENTS.c.type == CHECKED_OUT, EVENTS.c.received_at >= min(arrived.values()),
                    EVENTS.c.received_at <= max(arrived.values()) + MAX_STAY, VISIT_ID.in_(list(arrived)))
             .order_by(EVENTS.c.received_at, EVENTS.c.id))
    found: dict[str, tuple[datetime, str | None]] = {}
    for r in conn.execute(query):
        if r.visit_id not in found and arrived[r.visit_id] <= r.received_at <= arrived[r.visit_id] + MAX_STAY:
            found[r.visit_id] = (r.received_at, r.method)
    return found


def _columns() -> list[Any]:
    return [EVENTS.c.id, EVENTS.c.event_id, EVENTS.c.received_at, EVENTS.c.device, EVENTS.c.data]


def list_visits(
    conn: Connection, time_range: TimeRange, filters: VisitFilter = VisitFilter(), *,
    cursor: str | None = None, limit: int = DEFAULT_PAGE, key: bytes | None = None,
) -> Page[VisitRow]:
    """One page of visits that arrived in the range, newest first, with their check-outs."""
    query = select(*_columns()).where(*_where(time_range, filters))
    rows, following = fetch_page(conn, query, (EVENTS.c.received_at, EVENTS.c.id),
                                 scope=scope_of("visits", time_range, filters), cursor=cursor, limit=limit,
                                 key=key)
    outs = _checkouts(conn, rows)
    return Page(tuple(_visit_row(r, outs.get(str(_data(r).get("visit_id")))) for r in rows), following)


def iter_visits(
    conn: Connection, time_range: TimeRange, filters: VisitFilter = VisitFilter(), *, page: int = 500,
    key: bytes | None = None,
) -> Iterator[VisitRow]:
    """Every visit the list shows for these filters, walked page by page (for a streamed CSV)."""
    return walk(lambda cursor: list_visits(conn, time_range, filters, cursor=cursor, limit=page, key=key))


def visit_facts(
    conn: Connection, time_range: TimeRange, filters: VisitFilter = VisitFilter()
) -> Iterator[VisitFact]:
    """The visits of the range as `VisitFact` rows, for `security.office.visits_report`."""
    for row in iter_visits(conn, time_range, filters):
        yield VisitFact(row.visit_id, row.arrived_at, row.left_at, row.invited, row.visitor_type, row.host_id,
                        row.host_name)


def visit_detail(conn: Connection, visit_id: str) -> VisitDetail | None:
    """The newest check-in of `visit_id` with its check-out, photo, agreement, badge and host notices."""
    if not isinstance(visit_id, str) or not 0 < len(visit_id) <= MAX_TEXT:
        return None
    query = (select(*_columns()).where(EVENTS.c.type == CHECKED_IN, _field("visit_id") == visit_id)
             .order_by(EVENTS.c.received_at.desc(), EVENTS.c.id.desc()).limit(1))
    found = conn.execute(query).first()
    if found is None:
        return None
    visit = _visit_row(found, _checkouts(conn, [found]).get(visit_id))
    texts = [_field(name).label(name) for name in ("agreement", "language", "channel", "detail", "result")]
    around = (select(EVENTS.c.event_id, EVENTS.c.type, EVENTS.c.received_at, *texts,
                     # whether a photo or signature is there, not its (large) content
                     _field("jpeg").is_not(None).label("has_jpeg"),
                     _field("signature").is_not(None).label("has_signature"),
                     EVENTS.c.data["ok"].as_boolean().label("ok"))
              .where(EVENTS.c.type.in_(AROUND), _field("visit_id") == visit_id,
                     EVENTS.c.received_at >= visit.arrived_at - BEFORE_CHECK_IN)
              .order_by(EVENTS.c.received_at, EVENTS.c.id))
    photo = signature = agreement = language = screening = None
    printed: bool | None = None
    notices: list[HostNotice] = []
    for r in conn.execute(around):
        if r.type == "visitor.photo" and r.has_jpeg:
            photo = r.event_id
        elif r.type == "visitor.agreed":
            agreement, language = r.agreement, r.language
            signature = r.event_id if r.has_signature else None
        elif r.type == "badge.printed":
            printed = printed or r.ok is True
        elif r.type == "visitor.screened":
            screening = r.result
        elif r.type == "host.notified":
            notices.append(HostNotice(r.received_at, r.channel or "", r.ok is True, r.detail))
    checked_in_photo = _text(_data(found).get("photo"))
    return VisitDetail(visit, photo or checked_in_photo, signature, agreement, language, printed, screening,
                       tuple(notices))


def invitation_facts(conn: Connection, time_range: TimeRange) -> list[InvitationFact]:
    """The invitations expected in the range, for no-shows (`visits_report.invitation_outcomes`)."""
    query = (select(INVITATIONS.c.visit_id, INVITATIONS.c.expected_at, INVITATIONS.c.valid_until,
                    INVITATIONS.c.cancelled_at, INVITATIONS.c.checked_in_at)
             .where(INVITATIONS.c.expected_at >= time_range.start, INVITATIONS.c.expected_at < time_range.end)
             .order_by(INVITATIONS.c.expected_at, INVITATIONS.c.visit_id))
    return [InvitationFact(r.visit_id, r.expected_at, r.valid_until, r.cancelled_at, r.checked_in_at)
            for r in conn.execute(query)]


def visit_media(
    conn: Connection, photo_ref: str | None, signature_ref: str | None
) -> tuple[str | None, str | None]:
    """A visit's photo (base64 JPEG) and signature (an SVG path) from the events `visit_detail` named."""
    wanted = [ref for ref in (photo_ref, signature_ref) if ref]
    if not wanted:
        return None, None
    found = {r.event_id: r.data for r in conn.execute(
        select(EVENTS.c.event_id, EVENTS.c.data).where(EVENTS.c.event_id.in_(wanted)))}
    photo = found.get(photo_ref or "")
    signature = found.get(signature_ref or "")
    return (_text(photo.get("jpeg")) if isinstance(photo, dict) else None,
            _text(signature.get("signature")) if isinstance(signature, dict) else None)
