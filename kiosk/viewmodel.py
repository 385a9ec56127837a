"""What the kiosk's screens show and the calls they make, with no toolkit imported.

`KioskViewModel` holds the flow's `Session`, words it in the visitor's language, asks the
adapters (`kiosk.ports`) on its `lookups` worker and feeds their answers to the flow (an answer
made stale by a newer question, or by a step left, is dropped), records check-ins and check-outs
through `kiosk.checkin.Registrar` on its `records` worker (the outbox's fsync never runs on the
UI thread), hands the badge to a `PrintJobs` (the window's prints on a worker: the done screen
never waits for the printer) and takes its answer in `print_finished`, counts touches, and resets
itself when nobody touches it. The workers' answers come back on the caller's thread (the window
gives `kiosk.work.Worker`s that deliver through `on_ui_thread`; without them, everything runs at
once, which is how the tests drive it). Screens read its properties after every change (`listen`)
and call one method per touch; a timer calls `tick`. Time, ids and badge values are injected so
tests drive it like a function.
"""

from __future__ import annotations

import logging
import math
import secrets
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from broker.schemas import VisitorCheckedIn
from kiosk import flow
from kiosk.checkin import UNAVAILABLE_AGREEMENT, CheckInRecord, PrintJobs, PrintNow, PrintReport, Registrar
from kiosk.flow import intents as i
from kiosk.flow import texts as t
from kiosk.flow.state import FINAL_STEPS, SCANNING_STEPS, Mode, Notice, Session, Step, fresh
from kiosk.flow.values import (
    BadgeCode,
    InvitationCode,
    Point,
    clamp_stroke,
    clean,
    new_badge_value,
    parse_code,
)
from kiosk.flow.view import HOST_SEARCH_FROM, PEOPLE_SEARCH_FROM, View, closes_in, render
from kiosk.i18n import DEFAULT_LANGUAGE, LANGUAGES, translator
from kiosk.ports import BadgeRequest, Emit, Host, Invitation, OnSiteVisit, Photo, Ports, PrintResult
from kiosk.work import Background, RunNow

log = logging.getLogger(__name__)
_T = TypeVar("_T")

IDLE_TIMEOUT = 30.0
"""Seconds without a touch after which a half-finished visit is wiped."""
DONE_TIMEOUT = 10.0
"""Seconds a final screen (done, seat, goodbye) stays before the kiosk is ready again."""
FEEDBACK_TIMEOUT = 15.0
"""Seconds the optional feedback step waits for a face before saying goodbye (the next visitor waits)."""
CAPTURE_TIMEOUT = 5.0
"""Seconds the countdown waits for the camera's picture before going on without one."""
BADGE_VALIDITY = timedelta(hours=12)

_ID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U


def new_visit_id() -> str:
    """A short random visit id, 10 characters of Crockford base32 (50 bits)."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(10))


class KioskViewModel:
    """The kiosk's state and texts; screens read its properties and call its methods."""

    def __init__(
        self,
        emit: Emit,
        ports: Ports,
        *,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        new_id: Callable[[], str] = new_visit_id,
        new_badge: Callable[[], str] = new_badge_value,
        language: str = DEFAULT_LANGUAGE,
        camera: bool = True,
        idle_timeout: float = IDLE_TIMEOUT,
        done_timeout: float = DONE_TIMEOUT,
        feedback_timeout: float = FEEDBACK_TIMEOUT,
        badge_validity: timedelta = BADGE_VALIDITY,
        printing: PrintJobs | None = None,
        lookups: Background | None = None,
        records: Background | None = None,
    ) -> None:
        """Emit through `emit`; `clock` is monotonic seconds; `printing` None prints on this thread.

        `lookups` runs the adapters' searches and look-ups, `records` the check-ins and check-outs
        (their events go to the outbox); None runs them at once on this thread (tests, tools).
        """
        if idle_timeout <= 0 or done_timeout <= 0 or feedback_timeout <= 0:
            raise ValueError("idle_timeout, done_timeout and feedback_timeout must be > 0 seconds")
        if language not in LANGUAGES:
            raise ValueError(f"language must be one of {LANGUAGES}, got {language!r}")
        self._ports = ports
        self._clock = clock
        self._idle_timeout = idle_timeout
        self._done_timeout = done_timeout
        self._feedback_timeout = feedback_timeout
        self._registrar = Registrar(
            emit, ports, now=now, new_id=new_id, new_badge=new_badge, badge_validity=badge_validity,
        )  # fmt: skip
        self._printing: PrintJobs = printing if printing is not None else PrintNow(ports.printer, clock)
        self._printing_for: str | None = None
        self._lookups: Background = lookups if lookups is not None else RunNow()
        self._records: Background = records if records is not None else RunNow()
        self._asked = 0  # the number of the last look-up asked: an older answer is stale
        self.recording = False
        """A check-in or check-out is being written: the screen waits for it, touches are ignored."""
        self._state = Session(default_language=language, language=language, camera=camera)
        self._last_activity = self._countdown_mark = clock()
        self._listeners: list[Callable[[], None]] = []
        self._closes_in = 0
        self._view: View | None = None
        self._view_of: Session | None = None
        self._agreements: dict[tuple[str, str], tuple[str, str]] = {}
        self.touches = 0
        """Touches in the current visit (typing, signing and scanning do not count)."""
        self.last_touches = 0
        """Touches of the visit that ended last (when the kiosk went back to welcome)."""
        self.last_visit: VisitorCheckedIn | None = None
        """The check-in just recorded, while its final screen shows."""
        self.confirmed_at: float | None = None
        """Clock reading when the visitor last touched Check in / Confirm."""
        self.print_sent_at: float | None = None
        """Clock reading just before the last check-in's print command was sent (None until reported)."""

    # what the screens read
    @property
    def view(self) -> View:
        """Everything the current screen shows, in the visitor's language (see `kiosk.flow.view`)."""
        if self._view is None or self._view_of is not self._state:
            self._view, self._view_of = render(self._state, agreement_text=self._agreement()[1]), self._state
        return self._view

    @property
    def session(self) -> Session:
        """The flow's current state."""
        return self._state

    @property
    def screen(self) -> str:
        """The name of the screen to show (a `Step` value)."""
        return self._state.step.value

    @property
    def closes_in(self) -> str:
        """'This screen closes in n seconds' on the final screens, else empty."""
        if self._state.step not in FINAL_STEPS:
            return ""
        return closes_in(self._state.language, self._seconds_left())

    def _agreement(self) -> tuple[str, str]:
        """(name, text) of the agreement the visitor signs now; ("", "") off the agreement step."""
        s = self._state
        if s.step is not Step.AGREEMENT or s.visitor_type is None:
            return "", ""
        key = (s.visitor_type.value, s.language)
        if key not in self._agreements:
            try:
                self._agreements[key] = self._ports.agreements.text(s.visitor_type, s.language)
            except Exception:
                log.exception("agreement for %s in %s not available", *key)
                unavailable = translator(s.language).gettext(t.AGREEMENT_UNAVAILABLE)
                return UNAVAILABLE_AGREEMENT, unavailable
        return self._agreements[key]

    # what the screens call: one call per touch
    def listen(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback` after every change; returns a function that stops it."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback)

    def choose_language(self, code: str) -> None:
        """A language button."""
        self._touch(i.ChooseLanguage(code))

    def toggle_large_text(self) -> None:
        """The large-text, high-contrast switch."""
        self._touch(i.ToggleLargeText())

    def start(self, mode: str) -> None:
        """One of the welcome screen's starts: walk_in, invited, returning or check_out."""
        self._touch(i.Start(Mode(mode)))

    def enter(self, text: str) -> None:
        """Next on a text step (name, company, host when typed in full)."""
        self._touch(i.Enter(text))

    def skip(self) -> None:
        """Skip on the company step or the feedback step."""
        self._touch(i.Skip())

    def rate(self, rating: int, comment: str = "") -> None:
        """A face on the feedback step (1..5), with the comment box's text; sent through the outbox."""
        if self.recording:
            return
        self._count()
        before = self._state
        self.dispatch(i.Rate(rating, comment))
        s = self._state
        if before.step is Step.FEEDBACK and s.step is Step.GOODBYE and s.rating is not None and s.leaving:
            visit_id, score, said, language = s.leaving.visit_id, s.rating, s.comment, s.language
            self._records.submit(lambda: self._record_feedback(visit_id, score, said, language), _ignore)

    def choose(self, value: str) -> None:
        """A visitor-type button."""
        self._touch(i.Choose(value))

    def pick(self, key: str) -> None:
        """A row of the result list (its `Row.key`); a returning visitor's details are asked off-thread."""
        if self.recording:
            return
        self._count()
        s = self._state
        if s.step is Step.HOST and (host := next((h for h in s.hosts if h.id == key), None)):
            self.dispatch(i.PickHost(host))
        elif s.step is Step.RETURNING and (past := next((p for p in s.past if p.token == key), None)):
            details = self._ports.visitors.details
            self._look_up(lambda: i.PickPast(past, self._safely(details, key, None)))
        elif s.step is Step.CHECK_OUT and (visit := next((v for v in s.on_site if v.visit_id == key), None)):
            self.dispatch(i.PickOnSite(visit))

    def retake(self) -> None:
        """Retake on the photo step."""
        self._touch(i.Retake())

    def use_photo(self) -> None:
        """Use photo on the photo step."""
        self._touch(i.UsePhoto())

    def clear_signature(self) -> None:
        """Clear on the agreement step."""
        self._touch(i.ClearSignature())

    def accept(self) -> None:
        """Accept on the agreement step."""
        self._touch(i.Accept(self._agreement()[0]))

    def confirm(self) -> None:
        """Check in (summary), Confirm (invitation) or Check out (check-out confirmation)."""
        if self.recording:
            return
        self._count()
        s = self._state
        if s.step in (Step.SUMMARY, Step.INVITATION) and flow.ready(s):
            self.confirmed_at = self._clock()
            self.recording = True
            self._records.submit(lambda: self._record_check_in(s), self._checked_in)
        elif s.step is Step.CHECK_OUT_CONFIRM and s.leaving is not None:
            self._check_out(s.leaving, "name")

    def done(self) -> None:
        """Done on a final screen."""
        self._touch(i.Finish())

    def back(self) -> None:
        """Back."""
        self._touch(i.Back())

    def cancel(self) -> None:
        """Cancel (or 'This is not me'): back to welcome, language kept."""
        self._touch(i.Cancel())

    # what the screen's adapters call: no touches
    def search(self, text: str) -> None:
        """The search box changed (host, returning or check-out): the adapter is asked off-thread.

        Its answer replaces the results only if nothing was asked since and the step is the same.
        """
        self._awake()
        s, query = self._state, clean(text)
        short = len(query) < (HOST_SEARCH_FROM if s.step is Step.HOST else PEOPLE_SEARCH_FROM)
        if s.step is Step.HOST and short:  # too short to ask: the mode stays
            self._answer_now(i.DirectoryDown(query) if s.directory_down else i.HostsFound(query, ()))
        elif s.step is Step.HOST:
            directory = self._ports.directory
            self._look_up(lambda: _hosts(directory.search, query), latest="search")
        elif s.step is Step.RETURNING and short:
            self._answer_now(i.PastFound(query, ()))
        elif s.step is Step.RETURNING:
            visitors = self._ports.visitors
            self._look_up(lambda: i.PastFound(query, tuple(self._safely(visitors.search, query, []))),
                          latest="search")
        elif s.step is Step.CHECK_OUT and short:
            self._answer_now(i.OnSiteFound(query, ()))
        elif s.step is Step.CHECK_OUT:
            visits = self._ports.visits
            self._look_up(lambda: i.OnSiteFound(query, tuple(self._safely(visits.search, query, []))),
                          latest="search")

    def print_finished(self, visit_id: str, result: PrintResult, sent_at: float | None = None) -> None:
        """The printer's answer for `visit_id` (UI thread): a failure changes its done screen, if shown."""
        if visit_id == self._printing_for:
            self.print_sent_at = sent_at
        if result.ok or self.last_visit is None or self.last_visit.visit_id != visit_id:
            return
        before = self._state
        self.dispatch(i.PrintFailed())
        if self._state is not before:
            self._awake()  # the visitor gets the done screen's whole time to read where the badge is

    def keep_awake(self) -> None:
        """Typing or any activity that is no touch: keeps the idle reset away."""
        self._awake()

    def add_stroke(self, points: Iterable[Point]) -> None:
        """One finger stroke on the signature box, points 0..1 with y from the bottom."""
        self._awake()
        self.dispatch(i.AddStroke(clamp_stroke(points)))

    def photo_taken(self, jpeg: bytes, width: int, height: int) -> None:
        """The camera's picture, after `capture_requested` turned True."""
        self._awake()
        self.dispatch(i.PhotoTaken(Photo(jpeg, width, height)))

    def camera_failed(self) -> None:
        """The camera could not take the picture: go on without one."""
        self.dispatch(i.CameraFailed())

    def set_camera_available(self, available: bool) -> None:
        """Whether the kiosk has a working camera (the photo step is skipped without one)."""
        self.dispatch(i.SetCamera(available))

    def scanned(self, code: str) -> None:
        """A QR code was read (invitation or badge); taken on welcome, scan and check-out."""
        if self._state.step not in SCANNING_STEPS:
            return
        self._awake()
        parsed = parse_code(code)
        if isinstance(parsed, InvitationCode):
            invitations, wanted = self._ports.invitations, parsed
            self._look_up(lambda: _invitation(self._safely(invitations.find, wanted.text, None), wanted))
        elif isinstance(parsed, BadgeCode):
            visits, badge = self._ports.visits, parsed.badge
            self._look_up(lambda: _badge_holder(self._safely(visits.find_by_badge, badge, None)))
        else:
            self._answer_now(i.CodeRejected(Notice.UNKNOWN_CODE))

    def tick(self) -> bool:
        """Call a few times a second: runs the photo countdown and the resets; True if it reset."""
        now, s = self._clock(), self._state
        if s.step is Step.PHOTO and s.countdown and now - self._countdown_mark >= 1:
            self._countdown_mark += 1
            self.dispatch(i.Countdown())
        elif s.step is Step.PHOTO and s.countdown == 0 and now - self._countdown_mark >= CAPTURE_TIMEOUT:
            log.warning("the camera gave no picture in %.0f s; going on without a photo", CAPTURE_TIMEOUT)
            self.dispatch(i.CameraFailed())
        s = self._state
        if (s.step is Step.WELCOME and s == fresh(s)) or self.recording:  # one waiting on us is not idle
            return False
        if now - self._last_activity >= self._timeout(s.step):
            log.info("kiosk idle on %s; starting over", s.step.value)
            self.dispatch(i.Finish() if s.step in FINAL_STEPS else i.Timeout())
            return True
        if s.step in FINAL_STEPS and self._seconds_left() != self._closes_in:
            self._closes_in = self._seconds_left()
            self._notify()
        return False

    def dispatch(self, intent: i.Intent) -> None:
        """Apply one intent to the flow (touches are counted by the methods above, not here)."""
        before = self._state
        after = flow.next_step(before, intent)
        self._state = after
        restarted = after.countdown == flow.COUNTDOWN_FROM and before.countdown != flow.COUNTDOWN_FROM
        if after.step is Step.PHOTO and restarted:
            self._countdown_mark = self._clock()
        if after.step is Step.WELCOME and (before.step is not Step.WELCOME or isinstance(intent, i.Timeout)):
            self.last_touches, self.touches, self.last_visit = self.touches, 0, None
        if after.step in (*FINAL_STEPS, Step.FEEDBACK) and after.step is not before.step:
            self._last_activity = self._clock()
        if after != before:
            self._notify()

    def _touch(self, intent: i.Intent) -> None:
        if self.recording:
            return
        self._count()
        self.dispatch(intent)

    def _count(self) -> None:
        self.touches += 1
        self._awake()

    def _awake(self) -> None:
        self._last_activity = self._clock()

    def _timeout(self, step: Step) -> float:
        """Seconds without a touch after which `step` moves on (final and feedback steps are short)."""
        if step in FINAL_STEPS:
            return self._done_timeout
        return self._feedback_timeout if step is Step.FEEDBACK else self._idle_timeout

    def _seconds_left(self) -> int:
        return max(0, math.ceil(self._done_timeout - (self._clock() - self._last_activity)))

    def _print(self, badge: BadgeRequest) -> None:
        """Hand the badge to the printer's queue; its answer comes back through `print_finished`."""
        self._printing_for = badge.visit_id
        try:
            self._printing.submit(badge, self._printed)
        except Exception as exc:
            log.exception("badge of visit %s could not be queued for printing", badge.visit_id)
            self.print_finished(badge.visit_id, PrintResult(False, str(exc) or type(exc).__name__))

    def _printed(self, report: PrintReport) -> None:
        self.print_finished(report.visit_id, report.result, report.sent_at)

    def _look_up(self, job: Callable[[], i.Intent | OnSiteVisit], *, latest: str | None = None) -> None:
        """Run `job` on the look-up worker; its answer is taken only if it is still the newest."""
        self._asked += 1
        ticket, step = self._asked, self._state.step
        self._lookups.submit(job, lambda answer: self._looked_up(ticket, step, answer), latest=latest)

    def _answer_now(self, intent: i.Intent) -> None:
        """An answer known without asking: it also makes any answer still on its way stale."""
        self._asked += 1
        self.dispatch(intent)

    def _looked_up(self, ticket: int, step: Step, answer: i.Intent | OnSiteVisit) -> None:
        """A look-up's answer (on this thread): dropped when stale; a badge holder is checked out."""
        if ticket != self._asked or step is not self._state.step:
            log.debug("a stale look-up answer was dropped (%s)", type(answer).__name__)
        elif isinstance(answer, OnSiteVisit):
            self._check_out(answer, "qr")
        else:
            self.dispatch(answer)

    def _record_check_in(self, s: Session) -> CheckInRecord | None:
        """On the records worker: screen and emit the check-in of `s` (None if it was not recorded)."""
        try:
            return self._registrar.check_in(s)
        except Exception:
            log.exception("check-in could not be recorded")
            return None

    def _checked_in(self, record: CheckInRecord | None) -> None:
        """The check-in was written (or not): show it, and print the badge."""
        self.recording = False
        if record is None:
            self.dispatch(i.Failed())
            return
        self.last_visit = record.visit
        self.print_sent_at = None
        self.dispatch(i.CheckedIn(record.outcome))
        if record.badge is not None:
            self._print(record.badge)

    def _check_out(self, visit: OnSiteVisit, method: str) -> None:
        """Emit the check-out on the records worker; the screen changes when it is written."""
        if self.recording:
            log.info("check-out of visit %s not started: another record is being written", visit.visit_id)
            return
        self.recording = True
        self._records.submit(lambda: self._record_check_out(visit, method), self._checked_out)

    def _record_check_out(self, visit: OnSiteVisit, method: str) -> tuple[OnSiteVisit, bool]:
        try:
            self._registrar.check_out(visit, method)
        except Exception:
            log.exception("check-out of visit %s could not be recorded", visit.visit_id)
            return visit, False
        return visit, True

    def _checked_out(self, answer: tuple[OnSiteVisit, bool]) -> None:
        self.recording = False
        visit, recorded = answer
        if recorded:
            self.dispatch(i.CheckedOut(visit))
        else:
            confirming = self._state.step is Step.CHECK_OUT_CONFIRM
            self.dispatch(i.Failed() if confirming else i.CodeRejected(Notice.FAILED))

    def _record_feedback(self, visit_id: str, rating: int, comment: str | None, language: str) -> None:
        """On the records worker: feedback is optional, so a failure is logged and the visitor not told."""
        try:
            self._registrar.feedback(visit_id, rating, comment, language)
        except Exception:
            log.exception("feedback for visit %s could not be recorded", visit_id)

    def _safely(self, call: Callable[[str], _T], argument: str, default: _T) -> _T:
        """`call(argument)`, or `default` (logged) when the adapter raises."""
        try:
            return call(argument)
        except Exception:
            log.exception("kiosk adapter failed; going on without its answer")
            return default

    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener()


def _hosts(search: Callable[[str], list[Host]], query: str) -> i.Intent:
    """The directory's answer for `query` as an intent (DirectoryDown when it cannot be asked)."""
    try:
        return i.HostsFound(query, tuple(search(query)))
    except Exception:
        log.exception("host directory unavailable; the host's name is typed instead")
        return i.DirectoryDown(query)


def _invitation(found: Invitation | None, code: InvitationCode) -> i.Intent:
    """The invitation of a scanned code, if it is the one the code names."""
    if found is not None and found.visit_id == code.visit_id:
        return i.InvitationFound(found)
    return i.CodeRejected(Notice.UNKNOWN_INVITATION)


def _badge_holder(visit: OnSiteVisit | None) -> i.Intent | OnSiteVisit:
    """The visit holding a scanned badge (checked out next), or the notice that none does."""
    return visit if visit is not None else i.CodeRejected(Notice.UNKNOWN_BADGE)


def _ignore(_answer: object) -> None:
    """A records job whose answer changes nothing on screen."""
