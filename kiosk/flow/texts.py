"""Every word the kiosk shows, in English, marked for the catalog; the view-model translates them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from broker.schemas import VisitorType
from kiosk.flow.state import Notice, Problem, Step
from kiosk.i18n import N_, ngettext_noop

TITLES: dict[Step, tuple[str, str]] = {
    Step.WELCOME: (N_("Welcome"), N_("Touch a button to start, or show your QR code to the scanner")),
    Step.SCAN: (N_("Show your invitation"), N_("Hold the QR code from your invitation under the scanner")),
    Step.NAME: (N_("What is your name?"), N_("Your first and last name")),
    Step.COMPANY: (N_("Which company are you with?"), N_("Touch Skip if you have none")),
    Step.HOST: (N_("Who are you visiting?"), N_("Type the first letters of their name, then touch it")),
    Step.VISITOR_TYPE: (N_("Why are you visiting?"), N_("Choose the one that fits best")),
    Step.PHOTO: (N_("Your photo"), N_("Look at the camera")),
    Step.AGREEMENT: (N_("Please read and sign"), N_("Sign with your finger in the box, then touch Accept")),
    Step.SUMMARY: (N_("Is this right?"), N_("Check your details, then touch Check in")),
    Step.INVITATION: (N_("Is this you?"), N_("Touch Confirm to check in")),
    Step.RETURNING: (N_("Welcome back"), N_("Type your name or e-mail, then touch your name")),
    Step.CHECK_OUT: (N_("Check out"), N_("Scan the QR code on your badge, or type your name")),
    Step.CHECK_OUT_CONFIRM: (N_("Check out now?"), N_("Touch Check out to end your visit")),
    Step.FEEDBACK: (N_("How was your visit?"), N_("Touch a face, or Skip. You may type a comment first.")),
    Step.DONE: (N_("Thank you"), N_("You are checked in")),
    Step.SEAT: (N_("Thank you"), N_("Please take a seat, reception will be with you shortly")),
    Step.GOODBYE: (N_("Goodbye"), N_("Thank you for your visit")),
}
"""(heading, line under it) of each screen."""

HOST_FREE_TEXT = N_("Type your host's name")
PHOTO_SMILE = N_("Smile!")
PHOTO_TAKEN = N_("Happy with your photo?")
NO_RESULTS = N_("No one found. Check the spelling.")
PRINTED = N_("Your badge is printing… Your host has been told.")
PRINTED_NO_HOST_ID = N_("Your badge is printing… Reception will tell your host.")
PRINT_FAILED = N_("Please collect your badge at reception.")
HOST_WILL_BE_TOLD = N_("Your host will be told that you are here.")
AGREEMENT_UNAVAILABLE = N_("The visitor rules cannot be shown right now. Please ask at reception.")
LAST_VISIT = N_("Last visit: %(date)s")
PROGRESS = N_("Step %(n)d of %(total)d")
CLOSES_IN = ngettext_noop("This screen closes in %(n)d second", "This screen closes in %(n)d seconds")
"""Singular and plural of the final screens' count-down line (translated with ngettext)."""

PROBLEMS: dict[Problem, str] = {
    Problem.NAME_REQUIRED: N_("Please type your name"),
    Problem.TOO_LONG: N_("That is too long"),
    Problem.PICK_HOST: N_("Please touch your host's name in the list"),
    Problem.HOST_REQUIRED: N_("Please type your host's name"),
    Problem.UNKNOWN_TYPE: N_("Please choose one of the options"),
    Problem.NOT_SIGNED: N_("Please sign in the box first"),
    Problem.FAILED: N_("Sorry, that did not work. Please try again or ask at reception."),
}

NOTICES: dict[Notice, str] = {
    Notice.UNKNOWN_INVITATION: N_("We could not find that invitation. Please ask at reception."),
    Notice.UNKNOWN_BADGE: N_("We could not find that badge. Please ask at reception."),
    Notice.UNKNOWN_CODE: N_("That code is not one of ours. Please ask at reception."),
    Notice.NO_CAMERA: N_("The camera is not working, so no photo today."),
    Notice.NO_DETAILS: N_("We could not load your details. Please check in as a new visitor."),
    Notice.FAILED: N_("Sorry, that did not work. Please try again or ask at reception."),
}


class Button(StrEnum):
    """Every button a screen may show; the view-model gives each its text."""

    CHECK_IN = "check_in"
    INVITATION = "invitation"
    RETURNING = "returning"
    CHECK_OUT = "check_out"
    LARGE_TEXT = "large_text"
    NEXT = "next"
    SKIP = "skip"
    BACK = "back"
    CANCEL = "cancel"
    RETAKE = "retake"
    USE_PHOTO = "use_photo"
    CLEAR = "clear"
    ACCEPT = "accept"
    CONFIRM = "confirm"
    NOT_ME = "not_me"
    DONE = "done"


BUTTONS: dict[Button, str] = {
    Button.CHECK_IN: N_("Check in"),
    Button.INVITATION: N_("I have an invitation"),
    Button.RETURNING: N_("I have been here before"),
    Button.CHECK_OUT: N_("Check out"),
    Button.LARGE_TEXT: N_("Large text"),
    Button.NEXT: N_("Next"),
    Button.SKIP: N_("Skip"),
    Button.BACK: N_("Back"),
    Button.CANCEL: N_("Cancel"),
    Button.RETAKE: N_("Retake"),
    Button.USE_PHOTO: N_("Use photo"),
    Button.CLEAR: N_("Clear"),
    Button.ACCEPT: N_("Accept"),
    Button.CONFIRM: N_("Confirm"),
    Button.NOT_ME: N_("This is not me"),
    Button.DONE: N_("Done"),
}


class Field(StrEnum):
    """A row of the summary and invitation screens."""

    NAME = "name"
    COMPANY = "company"
    HOST = "host"
    VISITOR_TYPE = "visitor_type"
    PHOTO = "photo"
    EXPECTED = "expected"


FIELDS: dict[Field, str] = {
    Field.NAME: N_("Name"),
    Field.COMPANY: N_("Company"),
    Field.HOST: N_("Visiting"),
    Field.VISITOR_TYPE: N_("Visitor type"),
    Field.PHOTO: N_("Photo"),
    Field.EXPECTED: N_("Expected at"),
}
PHOTO_YES = N_("Taken")
PHOTO_NO = N_("None")


@dataclass(slots=True, frozen=True)
class Choice:
    """One visitor-type button: the value sent back, its label and a hint line (English)."""

    value: VisitorType
    label: str
    hint: str


VISITOR_TYPES: tuple[Choice, ...] = (
    Choice(VisitorType.GUEST, N_("Guest"), N_("Here for a meeting")),
    Choice(VisitorType.CONTRACTOR, N_("Contractor"), N_("Here to work on site")),
    Choice(VisitorType.DELIVERY, N_("Delivery"), N_("Dropping off or collecting")),
    Choice(VisitorType.INTERVIEW, N_("Interview"), N_("Here for a job interview")),
)
"""The visitor-type buttons, in the order they are shown."""

RATING_LABELS: dict[int, str] = {
    1: N_("Very bad"),
    2: N_("Bad"),
    3: N_("Okay"),
    4: N_("Good"),
    5: N_("Very good"),
}
"""The words under the feedback step's five faces (1 very unhappy .. 5 very happy)."""
COMMENT_HINT = N_("Comment (optional)")
