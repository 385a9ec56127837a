"""Every kiosk flow as one pure state machine: `next_step(session, intent) -> session`.

welcome → walk-in: name → company → host → visitor type → photo → agreement → summary → done
welcome → invitation (a scanned QR) → "is this you?" → done
welcome → returning: search → pick → host → ... as walk-in
welcome → check-out: scan the badge, or search → pick → confirm → feedback → goodbye
(feedback is optional: one face touched, Skip, or its short timer all go on to goodbye)
A watchlist match ends on the neutral "seat" screen instead of done.
The badge prints while done shows; a failure the printer reports later changes done's message.

No toolkit and no adapter is called here: the view-model asks the adapters (directory, watchlist,
printer...) and feeds their answers back as intents (`HostsFound`, `CheckedIn`, `PrintFailed`...).
Problems come back as data (`Session.error`, `Session.notice`), never as exceptions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from broker.schemas import VisitorType
from kiosk.flow.intents import (
    Accept,
    AddStroke,
    Back,
    CameraFailed,
    Cancel,
    CheckedIn,
    CheckedOut,
    Choose,
    ChooseLanguage,
    ClearSignature,
    CodeRejected,
    Countdown,
    DirectoryDown,
    Enter,
    Failed,
    Finish,
    HostsFound,
    Intent,
    InvitationFound,
    OnSiteFound,
    PastFound,
    PhotoTaken,
    PickHost,
    PickOnSite,
    PickPast,
    PrintFailed,
    Rate,
    Retake,
    SetCamera,
    Skip,
    Start,
    Timeout,
    ToggleLargeText,
    UsePhoto,
)
from kiosk.flow.state import (
    FINAL_STEPS,
    INITIAL,
    MAX_COMMENT,
    RATINGS,
    SCANNING_STEPS,
    Mode,
    Notice,
    Outcome,
    Problem,
    Session,
    Step,
    fresh,
    restart,
)
from kiosk.flow.values import MAX_SIGNATURE_POINTS, MAX_TEXT, clean, is_signed, point_count
from kiosk.i18n import LANGUAGES
from kiosk.ports import Invitation

__all__ = ["COUNTDOWN_FROM", "INITIAL", "MAX_RESULTS", "next_step", "progress_steps", "ready"]

MAX_RESULTS = 6
"""At most this many hosts, past visitors or on-site visits are listed."""
COUNTDOWN_FROM = 3
"""The photo countdown: 3, 2, 1, then the camera takes the picture (0)."""

_STARTS: dict[Mode, Step] = {
    Mode.WALK_IN: Step.NAME,
    Mode.INVITED: Step.SCAN,
    Mode.RETURNING: Step.RETURNING,
    Mode.CHECK_OUT: Step.CHECK_OUT,
}


def next_step(state: Session, intent: Intent) -> Session:
    """The session after `intent`; an intent that makes no sense on this step changes nothing."""
    after = _next(state, intent)
    if after.step is not state.step and after.notice is state.notice:
        after = replace(after, notice=None)  # a notice belongs to the screen it was shown on
    return after


def ready(state: Session) -> bool:
    """True when the session holds everything a check-in needs."""
    basics = bool(state.name) and state.visitor_type is not None and bool(state.host_name)
    return basics and (state.mode is Mode.INVITED or state.agreement is not None)


def progress_steps(state: Session) -> tuple[Step, ...]:
    """The steps this visitor works through, for a 'step n of m' line (empty outside them)."""
    if state.mode is Mode.WALK_IN:
        first: tuple[Step, ...] = (Step.NAME, Step.COMPANY)
    elif state.mode is Mode.RETURNING:
        first = (Step.RETURNING,)
    else:
        return ()
    photo = (Step.PHOTO,) if state.camera else ()
    return (*first, Step.HOST, Step.VISITOR_TYPE, *photo, Step.AGREEMENT, Step.SUMMARY)


def _next(s: Session, intent: Intent) -> Session:  # noqa: PLR0911 (one per intent taken on every step)
    match intent:
        case Timeout() if s.step is Step.FEEDBACK:
            return replace(s, step=Step.GOODBYE, error=None)  # the visit is over: say goodbye, ask nothing
        case Timeout():
            return fresh(s)
        case Finish():
            return fresh(s) if s.step in FINAL_STEPS else s
        case Cancel():
            return restart(s)
        case ChooseLanguage(code=code):
            return replace(s, language=code) if code in LANGUAGES else s
        case ToggleLargeText():
            return replace(s, large_text=not s.large_text)
        case SetCamera(available=available):
            return replace(s, camera=available)
        case Back():
            return _back(s)
        case InvitationFound() | CodeRejected() | CheckedOut() if s.step in SCANNING_STEPS:
            return _scanned(s, intent)
    return _ON_STEP.get(s.step, _unchanged)(s, intent)


def _unchanged(s: Session, _intent: Intent) -> Session:
    return s


def _scanned(s: Session, intent: Intent) -> Session:
    match intent:
        case InvitationFound(invitation=invitation):
            return _invited(s, invitation)
        case CodeRejected(notice=notice):
            return replace(restart(s), notice=notice)
        case CheckedOut(visit=visit):
            return replace(restart(s), step=Step.FEEDBACK, mode=Mode.CHECK_OUT, leaving=visit)
    return s


def _invited(s: Session, inv: Invitation) -> Session:
    return replace(
        restart(s), step=Step.INVITATION, mode=Mode.INVITED, invitation=inv, name=inv.visitor_name,
        company=inv.company, email=inv.email, host_id=inv.host_id, host_name=inv.host_name,
        visitor_type=inv.visitor_type,
    )  # fmt: skip


_PREVIOUS: dict[Step, Step] = {
    Step.COMPANY: Step.NAME,
    Step.VISITOR_TYPE: Step.HOST,
}
"""Where Back goes from steps that need nothing else changed."""


def _back(s: Session) -> Session:
    if s.step in (Step.NAME, Step.SCAN, Step.RETURNING, Step.CHECK_OUT, Step.INVITATION):
        return restart(s)
    match s.step:
        case Step.HOST:
            previous = Step.RETURNING if s.mode is Mode.RETURNING else Step.COMPANY
        case Step.PHOTO:
            previous, s = Step.VISITOR_TYPE, replace(s, countdown=None)
        case Step.AGREEMENT:
            previous, s = (Step.PHOTO if s.photo else Step.VISITOR_TYPE), replace(s, agreement=None)
        case Step.SUMMARY:
            previous, s = Step.AGREEMENT, replace(s, agreement=None)
        case Step.CHECK_OUT_CONFIRM:
            previous, s = Step.CHECK_OUT, replace(s, leaving=None)
        case _ if s.step in _PREVIOUS:
            previous = _PREVIOUS[s.step]
        case _:
            return s
    return replace(s, step=previous, error=None)


def _text(s: Session, raw: str, *, required: Problem | None) -> str | Session:
    """The cleaned text, or the session showing why it was refused."""
    text = clean(raw)
    if not text and required is not None:
        return replace(s, error=required)
    if len(text) > MAX_TEXT:
        return replace(s, error=Problem.TOO_LONG)
    return text


def _on_welcome(s: Session, intent: Intent) -> Session:
    if isinstance(intent, Start):
        return replace(restart(s), step=_STARTS[intent.mode], mode=intent.mode)
    return s


def _on_name(s: Session, intent: Intent) -> Session:
    if not isinstance(intent, Enter):
        return s
    name = _text(s, intent.text, required=Problem.NAME_REQUIRED)
    return name if isinstance(name, Session) else replace(s, step=Step.COMPANY, name=name, error=None)


def _on_company(s: Session, intent: Intent) -> Session:
    if isinstance(intent, Skip):
        return replace(s, step=Step.HOST, company=None, error=None)
    if not isinstance(intent, Enter):
        return s
    company = _text(s, intent.text, required=None)
    if isinstance(company, Session):
        return company
    return replace(s, step=Step.HOST, company=company or None, error=None)


def _on_host(s: Session, intent: Intent) -> Session:
    match intent:
        case HostsFound(query=query, hosts=hosts):
            return replace(s, host_query=query, hosts=hosts[:MAX_RESULTS], directory_down=False)
        case DirectoryDown(query=query):
            return replace(s, host_query=query, hosts=(), directory_down=True)
        case PickHost(host=host) if host in s.hosts:
            return replace(s, step=Step.VISITOR_TYPE, host_id=host.id, host_name=host.name, error=None)
        case Enter(text=text):
            return _typed_host(s, text)
    return s


def _typed_host(s: Session, text: str) -> Session:
    """Next on the host step: a typed name counts only when the directory cannot be asked."""
    if not s.directory_down:
        return replace(s, error=Problem.PICK_HOST)
    name = _text(s, text, required=Problem.HOST_REQUIRED)
    if isinstance(name, Session):
        return name
    return replace(s, step=Step.VISITOR_TYPE, host_id=None, host_name=name, error=None)


def _on_visitor_type(s: Session, intent: Intent) -> Session:
    if not isinstance(intent, Choose):
        return s
    try:
        chosen = VisitorType(intent.value)
    except ValueError:
        return replace(s, error=Problem.UNKNOWN_TYPE)
    s = replace(s, visitor_type=chosen, error=None)
    if not s.camera:
        return replace(s, step=Step.AGREEMENT, photo=None, notice=Notice.NO_CAMERA)
    if s.photo is not None:  # came Back: show the photo taken, with Retake and Use photo
        return replace(s, step=Step.PHOTO, countdown=None)
    return replace(s, step=Step.PHOTO, countdown=COUNTDOWN_FROM)


def _on_photo(s: Session, intent: Intent) -> Session:
    match intent:
        case Countdown() if s.countdown:
            return replace(s, countdown=s.countdown - 1)
        case PhotoTaken(photo=photo) if s.countdown == 0:
            return replace(s, photo=photo, countdown=None)
        case Retake():
            return replace(s, photo=None, countdown=COUNTDOWN_FROM)
        case UsePhoto() if s.photo is not None:
            return replace(s, step=Step.AGREEMENT, error=None)
        case CameraFailed():
            return replace(s, step=Step.AGREEMENT, photo=None, countdown=None, notice=Notice.NO_CAMERA)
    return s


def _on_agreement(s: Session, intent: Intent) -> Session:
    match intent:
        case AddStroke(stroke=stroke) if len(stroke) > 1:
            if point_count(s.strokes) + len(stroke) > MAX_SIGNATURE_POINTS:
                return s
            return replace(s, strokes=(*s.strokes, stroke), error=None)
        case ClearSignature():
            return replace(s, strokes=(), error=None)
        case Accept(agreement=agreement):
            if not is_signed(s.strokes):
                return replace(s, error=Problem.NOT_SIGNED)
            return replace(s, step=Step.SUMMARY, agreement=agreement, error=None)
    return s


def _on_confirming(s: Session, intent: Intent) -> Session:
    match intent:
        case CheckedIn(outcome=outcome) if ready(s):
            step = Step.SEAT if outcome is Outcome.REFERRED else Step.DONE
            return replace(s, step=step, outcome=outcome, error=None)
        case Failed():
            return replace(s, error=Problem.FAILED)
    return s


def _on_done(s: Session, intent: Intent) -> Session:
    match intent:
        case PrintFailed() if s.outcome is Outcome.PRINTED:
            return replace(s, outcome=Outcome.PRINT_FAILED)
    return s


def _on_returning(s: Session, intent: Intent) -> Session:
    match intent:
        case PastFound(query=query, visitors=visitors):
            return replace(s, query=query, past=visitors[:MAX_RESULTS])
        case PickPast(visitor=visitor, details=None) if visitor in s.past:
            return replace(restart(s), step=Step.NAME, mode=Mode.WALK_IN, notice=Notice.NO_DETAILS)
        case PickPast(visitor=visitor, details=details) if visitor in s.past and details is not None:
            return replace(
                s, step=Step.HOST, returning=visitor, name=clean(details.name)[:MAX_TEXT],
                company=clean(details.company or "")[:MAX_TEXT] or None, email=details.email, error=None,
            )  # fmt: skip
    return s


def _on_check_out(s: Session, intent: Intent) -> Session:
    match intent:
        case OnSiteFound(query=query, visits=visits):
            return replace(s, query=query, on_site=visits[:MAX_RESULTS])
        case PickOnSite(visit=visit) if visit in s.on_site:
            return replace(s, step=Step.CHECK_OUT_CONFIRM, leaving=visit, error=None)
    return s


def _on_check_out_confirm(s: Session, intent: Intent) -> Session:
    match intent:
        case CheckedOut(visit=visit) if visit == s.leaving:
            return replace(s, step=Step.FEEDBACK, error=None)
        case Failed():
            return replace(s, error=Problem.FAILED)
    return s


def _on_feedback(s: Session, intent: Intent) -> Session:
    match intent:
        case Skip():
            return replace(s, step=Step.GOODBYE, rating=None, comment=None, error=None)
        case Rate(rating=rating, comment=raw) if rating in RATINGS:
            comment = clean(raw)
            if len(comment) > MAX_COMMENT:
                return replace(s, error=Problem.TOO_LONG)
            return replace(s, step=Step.GOODBYE, rating=rating, comment=comment or None, error=None)
    return s


_ON_STEP: dict[Step, Callable[[Session, Intent], Session]] = {
    Step.WELCOME: _on_welcome,
    Step.NAME: _on_name,
    Step.COMPANY: _on_company,
    Step.HOST: _on_host,
    Step.VISITOR_TYPE: _on_visitor_type,
    Step.PHOTO: _on_photo,
    Step.AGREEMENT: _on_agreement,
    Step.SUMMARY: _on_confirming,
    Step.INVITATION: _on_confirming,
    Step.RETURNING: _on_returning,
    Step.CHECK_OUT: _on_check_out,
    Step.CHECK_OUT_CONFIRM: _on_check_out_confirm,
    Step.FEEDBACK: _on_feedback,
    Step.DONE: _on_done,
}
