"""The kiosk session's state: its steps, modes, problems and the immutable `Session` (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from broker.schemas import VisitorType
from kiosk.flow.values import Stroke
from kiosk.i18n import DEFAULT_LANGUAGE
from kiosk.ports import Host, Invitation, OnSiteVisit, PastVisitor, Photo


class Step(StrEnum):
    """One screen of the kiosk; its value is the screen's name."""

    WELCOME = "welcome"
    SCAN = "scan"
    NAME = "name"
    COMPANY = "company"
    HOST = "host"
    VISITOR_TYPE = "visitor_type"
    PHOTO = "photo"
    AGREEMENT = "agreement"
    SUMMARY = "summary"
    INVITATION = "invitation"
    RETURNING = "returning"
    CHECK_OUT = "check_out"
    CHECK_OUT_CONFIRM = "check_out_confirm"
    FEEDBACK = "feedback"
    DONE = "done"
    SEAT = "seat"
    GOODBYE = "goodbye"


class Mode(StrEnum):
    """Which of the welcome screen's four starts the visitor took."""

    WALK_IN = "walk_in"
    INVITED = "invited"
    RETURNING = "returning"
    CHECK_OUT = "check_out"


class Problem(StrEnum):
    """Why the last touch did not move the flow on; the view-model words it."""

    NAME_REQUIRED = "name_required"
    TOO_LONG = "too_long"
    PICK_HOST = "pick_host"
    HOST_REQUIRED = "host_required"
    UNKNOWN_TYPE = "unknown_type"
    NOT_SIGNED = "not_signed"
    FAILED = "failed"


class Notice(StrEnum):
    """A friendly line shown on the screen the flow arrived at (no fault of the visitor)."""

    UNKNOWN_INVITATION = "unknown_invitation"
    UNKNOWN_BADGE = "unknown_badge"
    UNKNOWN_CODE = "unknown_code"
    NO_CAMERA = "no_camera"
    NO_DETAILS = "no_details"
    FAILED = "failed"


class Outcome(StrEnum):
    """How a confirmed check-in ended."""

    PRINTED = "printed"
    """The badge went to the printer (printing on its own; a failure it reports later is PRINT_FAILED)."""
    PRINT_FAILED = "print_failed"
    REFERRED = "referred"
    """The watchlist matched: no badge, the visitor is asked to wait for reception."""


@dataclass(slots=True, frozen=True)
class Session:
    """Everything one visitor did at the kiosk so far; immutable, replaced on every intent.

    `default_language` and `camera` belong to the kiosk and survive every reset; `language` and
    `large_text` survive Cancel (the same person is still there) but not a timeout or a finish.
    """

    step: Step = Step.WELCOME
    mode: Mode | None = None
    default_language: str = DEFAULT_LANGUAGE
    language: str = DEFAULT_LANGUAGE
    large_text: bool = False
    camera: bool = True
    name: str = ""
    company: str | None = None
    email: str | None = None
    host_query: str = ""
    hosts: tuple[Host, ...] = ()
    directory_down: bool = False
    host_id: str | None = None
    host_name: str = ""
    visitor_type: VisitorType | None = None
    countdown: int | None = None
    photo: Photo | None = None
    strokes: tuple[Stroke, ...] = ()
    agreement: str | None = None
    invitation: Invitation | None = None
    query: str = ""
    past: tuple[PastVisitor, ...] = ()
    returning: PastVisitor | None = None
    on_site: tuple[OnSiteVisit, ...] = ()
    leaving: OnSiteVisit | None = None
    outcome: Outcome | None = None
    error: Problem | None = None
    notice: Notice | None = None
    rating: int | None = None
    """The face the leaving visitor touched (1 very unhappy .. 5 very happy); None: skipped or not asked."""
    comment: str | None = None


FINAL_STEPS = frozenset({Step.DONE, Step.SEAT, Step.GOODBYE})
"""Screens that close by themselves (Done, or after a few seconds)."""
SCANNING_STEPS = frozenset({Step.WELCOME, Step.SCAN, Step.CHECK_OUT})
"""Where a scanned code is taken (elsewhere a stray scan is ignored)."""
RATINGS = (1, 2, 3, 4, 5)
"""The five faces of the feedback step, very unhappy to very happy (the contract's scale)."""
MAX_COMMENT = 200
"""Longest feedback comment (the contract's limit)."""

INITIAL = Session()
"""The welcome screen of a kiosk in the default language, with every field empty."""


def fresh(s: Session) -> Session:
    """The welcome screen for the next visitor: only the kiosk's own settings kept."""
    return Session(default_language=s.default_language, language=s.default_language, camera=s.camera)


def restart(s: Session) -> Session:
    """The welcome screen for the same visitor: their language and large text kept."""
    return Session(
        default_language=s.default_language, language=s.language, large_text=s.large_text, camera=s.camera
    )
