"""Records a confirmed check-in or check-out: screens, emits the events, asks for the badge.

The order of a check-in: the watchlist is asked; `visitor.checked_in` is emitted (with a fresh
badge credential, unless the watchlist matched), then `visitor.photo` (if one was taken),
`visitor.agreed` (not for an invited visitor, see below) and `visitor.screened`; then, unless the
watchlist matched, the record carries the badge to print. The view-model hands it to a
`PrintJobs` (`kiosk.printer.PrintQueue` prints on its own thread, so the screen never waits for the
printer) and hears back a `PrintReport`. On a match the central service raises a silent alarm from
`visitor.screened`, with the check-in and the photo already in its log; the kiosk prints nothing and
says nothing of it.
A screening error counts as clear (the visitor is not held up; the central log shows the error).
An invited visitor is shown no agreement and signs none at the kiosk, and nothing in the invitation
path records one, so their check-in emits no `visitor.agreed`: the log does not claim an acceptance
that did not happen.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from broker.schemas import (
    Data,
    VisitorAgreed,
    VisitorCheckedIn,
    VisitorCheckedOut,
    VisitorFeedback,
    VisitorPhoto,
    VisitorScreened,
)
from kiosk.flow.state import Outcome, Session
from kiosk.ports import BadgePrinter, BadgeRequest, Emit, OnSiteVisit, Ports, PrintResult, ScreenResult
from kiosk.signature import svg_path

log = logging.getLogger(__name__)

MAX_PHOTO_BASE64 = 180_000
"""The contract's limit on a photo's base64 text; a larger photo is not sent."""
PHOTO_REFERENCE = "visitor.photo"
"""`VisitorCheckedIn.photo` when a photo was taken: it travels as the visit's `visitor.photo`."""
UNAVAILABLE_AGREEMENT = "unavailable"
"""The agreement name recorded when the agreements adapter could not say which one it was."""


@dataclass(slots=True, frozen=True)
class CheckInRecord:
    """What a confirmed check-in did, and the badge it asks for (None: referred, nothing printed)."""

    visit: VisitorCheckedIn
    outcome: Outcome
    screened: ScreenResult
    badge: BadgeRequest | None


@dataclass(slots=True, frozen=True)
class PrintReport:
    """How the print of one visit's badge went."""

    visit_id: str
    result: PrintResult
    sent_at: float
    """The clock's reading just before the print command was sent."""


class PrintJobs(Protocol):
    """Prints badges for the view-model, one after another, and reports each."""

    def submit(self, badge: BadgeRequest, on_done: Callable[[PrintReport], object]) -> None:
        """Queue `badge`; `on_done(report)` follows on the view-model's thread (never a worker's)."""
        ...


class PrintNow:
    """`PrintJobs` that prints at once on the caller's thread (tests, tools; the window uses `PrintQueue`)."""

    def __init__(self, printer: BadgePrinter, clock: Callable[[], float]) -> None:
        """Print on `printer`; `sent_at` is read from `clock`."""
        self._printer = printer
        self._clock = clock

    def submit(self, badge: BadgeRequest, on_done: Callable[[PrintReport], object]) -> None:
        """Print `badge` now and report it before returning."""
        sent = self._clock()
        on_done(PrintReport(badge.visit_id, print_badge(self._printer, badge), sent))


def print_badge(printer: BadgePrinter, badge: BadgeRequest) -> PrintResult:
    """`printer.print(badge)`; a printer that raises is a failed print (logged)."""
    try:
        return printer.print(badge)
    except Exception as exc:
        log.exception("badge of visit %s not printed", badge.visit_id)
        return PrintResult(False, str(exc) or type(exc).__name__)


class Registrar:
    """Turns a confirmed session into events and a badge."""

    def __init__(
        self,
        emit: Emit,
        ports: Ports,
        *,
        now: Callable[[], datetime],
        new_id: Callable[[], str],
        new_badge: Callable[[], str],
        badge_validity: timedelta,
    ) -> None:
        """`now` is the wall clock for the badge's validity."""
        self._emit = emit
        self._ports = ports
        self._now = now
        self._new_id = new_id
        self._new_badge = new_badge
        self._validity = badge_validity

    def check_in(self, s: Session) -> CheckInRecord:
        """Record the check-in of `s`; raise when `visitor.checked_in` itself cannot be emitted."""
        if s.visitor_type is None:
            raise ValueError("a check-in needs a visitor type")
        visit_id = s.invitation.visit_id if s.invitation else self._new_id()
        screened = self._screen(s)
        referred = screened.result == "match"
        badge = None if referred else self._new_badge()
        photo = self._photo_event(visit_id, s)
        visit = VisitorCheckedIn(
            visit_id=visit_id, visitor_name=s.name, visitor_type=s.visitor_type, company=s.company,
            host_id=s.host_id, host_name=s.host_name or None, badge=badge, invited=s.invitation is not None,
            photo=PHOTO_REFERENCE if photo else None, badge_format="qr" if badge else None, email=s.email,
            language=s.language,
        )  # fmt: skip
        self._emit("visitor.checked_in", visit)
        log.info("visitor checked in: visit %s (%s)", visit_id, "referred" if referred else "clear")
        if photo is not None:
            self._also("visitor.photo", photo)
        if s.invitation is None:  # an invited visitor saw and signed no agreement: nothing to record
            self._also("visitor.agreed", lambda: self._agreed(visit_id, s))
        self._also(
            "visitor.screened",
            VisitorScreened(visit_id=visit_id, result=screened.result, score=screened.score,
                            entry_id=screened.entry_id),
        )  # fmt: skip
        if referred or badge is None:
            return CheckInRecord(visit, Outcome.REFERRED, screened, None)
        request = BadgeRequest(
            visit_id=visit_id, visitor_name=s.name, company=s.company, host_name=s.host_name,
            visitor_type=s.visitor_type, badge=badge, valid_until=self._now() + self._validity,
            photo=s.photo.jpeg if s.photo else None, language=s.language,
        )  # fmt: skip
        return CheckInRecord(visit, Outcome.PRINTED, screened, request)

    def check_out(self, visit: OnSiteVisit, method: str) -> None:
        """Emit `visitor.checked_out` (`method` "qr" or "name"); raise when it cannot be emitted."""
        if method not in ("qr", "name"):
            raise ValueError(f"a kiosk checks out by qr or name, not {method!r}")
        self._emit("visitor.checked_out", VisitorCheckedOut(visit_id=visit.visit_id, method=method))
        log.info("visitor checked out: visit %s by %s", visit.visit_id, method)

    def feedback(self, visit_id: str, rating: int, comment: str | None, language: str) -> None:
        """Emit `visitor.feedback` for a visit just checked out; raise when it cannot be emitted."""
        data = VisitorFeedback(visit_id=visit_id, rating=rating, comment=comment, language=language)
        self._emit("visitor.feedback", data)
        log.info("feedback for visit %s: %d of 5%s", visit_id, rating, " with a comment" if comment else "")

    def _screen(self, s: Session) -> ScreenResult:
        try:
            return self._ports.screener.screen(s.name, s.company)
        except Exception:
            log.exception("screening failed; checking in with result 'error'")
            return ScreenResult("error")

    def _photo_event(self, visit_id: str, s: Session) -> VisitorPhoto | None:
        if s.photo is None:
            return None
        jpeg = base64.b64encode(s.photo.jpeg).decode("ascii")
        if not jpeg or len(jpeg) > MAX_PHOTO_BASE64:
            log.warning("photo of visit %s not sent: %d base64 characters", visit_id, len(jpeg))
            return None
        return VisitorPhoto(visit_id=visit_id, jpeg=jpeg, width=s.photo.width, height=s.photo.height)

    def _agreed(self, visit_id: str, s: Session) -> VisitorAgreed:
        """The agreement `s` signed at the kiosk (walk-in or returning visitor)."""
        signature = svg_path(s.strokes, y_up=True) or None
        return VisitorAgreed(
            visit_id=visit_id, agreement=s.agreement or UNAVAILABLE_AGREEMENT, language=s.language,
            signature=signature,
        )  # fmt: skip

    def _also(self, event_type: str, data: Data | Callable[[], Data]) -> None:
        """Emit an event that follows the check-in; a failure is logged, the check-in stands."""
        try:
            self._emit(event_type, data if isinstance(data, Data) else data())
        except Exception:
            log.exception("%s could not be emitted", event_type)
