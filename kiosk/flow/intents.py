"""What can move the kiosk flow: the visitor's touches, the timers, and the adapters' answers (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.flow.state import Mode, Notice, Outcome
from kiosk.flow.values import Stroke
from kiosk.ports import Host, Invitation, OnSiteVisit, PastVisitor, Photo, VisitorDetails


# touches
@dataclass(slots=True, frozen=True)
class Start:
    """One of the welcome screen's four starts."""

    mode: Mode


@dataclass(slots=True, frozen=True)
class ChooseLanguage:
    """A language button (a code like "pl")."""

    code: str


@dataclass(slots=True, frozen=True)
class ToggleLargeText:
    """The large-text, high-contrast switch."""


@dataclass(slots=True, frozen=True)
class Enter:
    """Next on a text step, with what the box holds."""

    text: str


@dataclass(slots=True, frozen=True)
class Skip:
    """Leave the company empty."""


@dataclass(slots=True, frozen=True)
class PickHost:
    """One host of the directory's list."""

    host: Host


@dataclass(slots=True, frozen=True)
class Choose:
    """A visitor-type button."""

    value: str


@dataclass(slots=True, frozen=True)
class Retake:
    """Take the photo again."""


@dataclass(slots=True, frozen=True)
class UsePhoto:
    """Keep the photo just taken."""


@dataclass(slots=True, frozen=True)
class AddStroke:
    """One finger stroke on the signature box (points 0..1, y from the bottom)."""

    stroke: Stroke


@dataclass(slots=True, frozen=True)
class ClearSignature:
    """Wipe the signature box."""


@dataclass(slots=True, frozen=True)
class Accept:
    """Accept the agreement, named as the agreements adapter names it."""

    agreement: str


@dataclass(slots=True, frozen=True)
class PickPast:
    """A returning visitor's own entry, with the details the service gave for it (None: none)."""

    visitor: PastVisitor
    details: VisitorDetails | None


@dataclass(slots=True, frozen=True)
class PickOnSite:
    """The visit to check out, from the name search."""

    visit: OnSiteVisit


@dataclass(slots=True, frozen=True)
class Back:
    """Go to the previous step, keeping what was given."""


@dataclass(slots=True, frozen=True)
class Cancel:
    """Start over; the visitor's language and large text stay."""


@dataclass(slots=True, frozen=True)
class Finish:
    """Done on a final screen (or its timer): ready for the next visitor."""


@dataclass(slots=True, frozen=True)
class Rate:
    """One of the feedback step's five faces, with what the comment box holds ("" for none)."""

    rating: int
    comment: str = ""


# timers and devices
@dataclass(slots=True, frozen=True)
class Timeout:
    """Nobody touched the kiosk for a while: forget everything."""


@dataclass(slots=True, frozen=True)
class Countdown:
    """One second of the photo countdown passed."""


@dataclass(slots=True, frozen=True)
class PhotoTaken:
    """The camera took the picture the countdown asked for."""

    photo: Photo


@dataclass(slots=True, frozen=True)
class CameraFailed:
    """The camera gave no picture: go on without one."""


@dataclass(slots=True, frozen=True)
class SetCamera:
    """The kiosk has (or lost) a camera."""

    available: bool


# the adapters' answers
@dataclass(slots=True, frozen=True)
class HostsFound:
    """The directory's hosts for what is typed in the host box."""

    query: str
    hosts: tuple[Host, ...]


@dataclass(slots=True, frozen=True)
class DirectoryDown:
    """The directory could not be asked: the host's name is typed in full."""

    query: str


@dataclass(slots=True, frozen=True)
class PastFound:
    """Past visitors matching the returning search."""

    query: str
    visitors: tuple[PastVisitor, ...]


@dataclass(slots=True, frozen=True)
class OnSiteFound:
    """On-site visits matching the check-out search."""

    query: str
    visits: tuple[OnSiteVisit, ...]


@dataclass(slots=True, frozen=True)
class InvitationFound:
    """A scanned code is a valid invitation."""

    invitation: Invitation


@dataclass(slots=True, frozen=True)
class CodeRejected:
    """A scanned code is unknown, expired or not one of ours."""

    notice: Notice


@dataclass(slots=True, frozen=True)
class CheckedIn:
    """The check-in was recorded (and the badge sent to print, unless referred)."""

    outcome: Outcome


@dataclass(slots=True, frozen=True)
class PrintFailed:
    """The printer said no (or never answered) to the badge of the check-in on the done screen."""


@dataclass(slots=True, frozen=True)
class CheckedOut:
    """The check-out was recorded."""

    visit: OnSiteVisit


@dataclass(slots=True, frozen=True)
class Failed:
    """The check-in or check-out could not be recorded."""


Intent = (
    Start | ChooseLanguage | ToggleLargeText | Enter | Skip | PickHost | Choose | Retake | UsePhoto
    | AddStroke | ClearSignature | Accept | PickPast | PickOnSite | Back | Cancel | Finish | Timeout | Rate
    | Countdown | PhotoTaken | CameraFailed | SetCamera | HostsFound | DirectoryDown | PastFound
    | OnSiteFound | InvitationFound | CodeRejected | CheckedIn | PrintFailed | CheckedOut | Failed
)  # fmt: skip
"""Everything that can move the flow."""
