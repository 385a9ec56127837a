"""The walk-in flow as a table of transitions, and whole walk-ins by screen names (pure, no adapters)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from broker.schemas import VisitorType
from kiosk.flow import COUNTDOWN_FROM, INITIAL, MAX_RESULTS, next_step, progress_steps, ready
from kiosk.flow.intents import (
    Accept,
    AddStroke,
    Back,
    CameraFailed,
    Cancel,
    CheckedIn,
    Choose,
    ChooseLanguage,
    ClearSignature,
    Countdown,
    DirectoryDown,
    Enter,
    Failed,
    Finish,
    HostsFound,
    Intent,
    PhotoTaken,
    PickHost,
    Retake,
    SetCamera,
    Skip,
    Start,
    Timeout,
    ToggleLargeText,
    UsePhoto,
)
from kiosk.flow.state import Mode, Notice, Outcome, Problem, Session, Step
from kiosk.ports import Host, Photo

GRACE = Host("e-1", "Grace Hopper", "Research")
ALAN = Host("e-2", "Alan Turing")
PHOTO = Photo(b"\xff\xd8jpeg", 320, 240)
SIGNATURE = ((0.1, 0.5), (0.5, 0.6), (0.9, 0.4))
SHORT = ((0.1, 0.5), (0.12, 0.5))

NAME = replace(INITIAL, step=Step.NAME, mode=Mode.WALK_IN)
COMPANY = replace(NAME, step=Step.COMPANY, name="Ada Lovelace")
HOST = replace(COMPANY, step=Step.HOST, company="ACME")
LISTED = replace(HOST, host_query="gr", hosts=(GRACE, ALAN))
DOWN = replace(HOST, host_query="grace", directory_down=True)
KIND = replace(LISTED, step=Step.VISITOR_TYPE, host_id="e-1", host_name="Grace Hopper")
PHOTO_STEP = replace(KIND, step=Step.PHOTO, visitor_type=VisitorType.GUEST, countdown=COUNTDOWN_FROM)
SNAP = replace(PHOTO_STEP, countdown=0)
TAKEN = replace(PHOTO_STEP, countdown=None, photo=PHOTO)
SIGN = replace(TAKEN, step=Step.AGREEMENT)
SIGNED = replace(SIGN, strokes=(SIGNATURE,))
SUMMARY = replace(SIGNED, step=Step.SUMMARY, agreement="guest-v1")

TRANSITIONS: list[tuple[str, Session, Intent, Session]] = [
    ("welcome: check in", INITIAL, Start(Mode.WALK_IN), NAME),
    ("welcome: typing means nothing", INITIAL, Enter("Ada"), INITIAL),
    ("welcome: back stays", INITIAL, Back(), INITIAL),
    ("name", NAME, Enter("Ada Lovelace"), COMPANY),
    ("name: blanks squeezed", NAME, Enter("  Ada \t Lovelace "), COMPANY),
    ("name: empty refused", NAME, Enter("   "), replace(NAME, error=Problem.NAME_REQUIRED)),
    ("name: too long", NAME, Enter("x" * 101), replace(NAME, error=Problem.TOO_LONG)),
    ("name: fixed after refusal", replace(NAME, error=Problem.NAME_REQUIRED), Enter("Ada Lovelace"), COMPANY),
    ("name: skip is not offered", NAME, Skip(), NAME),
    ("company", COMPANY, Enter("ACME"), HOST),
    ("company: skip", COMPANY, Skip(), replace(HOST, company=None)),
    ("company: empty is a skip", COMPANY, Enter(" "), replace(HOST, company=None)),
    ("company: too long", COMPANY, Enter("y" * 101), replace(COMPANY, error=Problem.TOO_LONG)),
    ("host: directory answers", HOST, HostsFound("gr", (GRACE, ALAN)), LISTED),
    (
        "host: at most six listed",
        HOST,
        HostsFound("a", tuple(Host(f"e-{n}", f"A {n}") for n in range(9))),
        replace(HOST, host_query="a", hosts=tuple(Host(f"e-{n}", f"A {n}") for n in range(MAX_RESULTS))),
    ),
    ("host: picked from the list", LISTED, PickHost(GRACE), KIND),
    ("host: someone not listed", LISTED, PickHost(Host("e-9", "Eve")), LISTED),
    ("host: typed text is not a host", LISTED, Enter("Grace"), replace(LISTED, error=Problem.PICK_HOST)),
    ("host: directory down", HOST, DirectoryDown("grace"), DOWN),
    (
        "host: typed in full when down",
        DOWN,
        Enter("Grace Hopper"),
        replace(DOWN, step=Step.VISITOR_TYPE, host_id=None, host_name="Grace Hopper"),
    ),
    ("host: empty when down", DOWN, Enter(""), replace(DOWN, error=Problem.HOST_REQUIRED)),
    ("host: directory back", DOWN, HostsFound("gr", (GRACE,)),
     replace(HOST, host_query="gr", hosts=(GRACE,))),
    ("type: guest starts the countdown", KIND, Choose("guest"), PHOTO_STEP),
    ("type: unknown", KIND, Choose("alien"), replace(KIND, error=Problem.UNKNOWN_TYPE)),
    (
        "type: no camera skips the photo",
        replace(KIND, camera=False),
        Choose("delivery"),
        replace(KIND, camera=False, step=Step.AGREEMENT, visitor_type=VisitorType.DELIVERY,
                notice=Notice.NO_CAMERA),
    ),
    (
        "type: back again keeps the photo",
        replace(TAKEN, step=Step.VISITOR_TYPE),
        Choose("contractor"),
        replace(TAKEN, visitor_type=VisitorType.CONTRACTOR),
    ),
    ("photo: 3 to 2", PHOTO_STEP, Countdown(), replace(PHOTO_STEP, countdown=2)),
    ("photo: 1 to capture", replace(PHOTO_STEP, countdown=1), Countdown(), SNAP),
    ("photo: no count below 0", SNAP, Countdown(), SNAP),
    ("photo: taken", SNAP, PhotoTaken(PHOTO), TAKEN),
    ("photo: not asked for yet", PHOTO_STEP, PhotoTaken(PHOTO), PHOTO_STEP),
    ("photo: retake", TAKEN, Retake(), PHOTO_STEP),
    ("photo: use", TAKEN, UsePhoto(), SIGN),
    ("photo: use before taken", PHOTO_STEP, UsePhoto(), PHOTO_STEP),
    (
        "photo: camera failed",
        SNAP,
        CameraFailed(),
        replace(PHOTO_STEP, step=Step.AGREEMENT, countdown=None, notice=Notice.NO_CAMERA),
    ),
    ("sign: a stroke", SIGN, AddStroke(SIGNATURE), SIGNED),
    ("sign: a dot is no stroke", SIGN, AddStroke(((0.5, 0.5),)), SIGN),
    ("sign: clear", SIGNED, ClearSignature(), SIGN),
    ("sign: accept", SIGNED, Accept("guest-v1"), SUMMARY),
    ("sign: accept unsigned", SIGN, Accept("guest-v1"), replace(SIGN, error=Problem.NOT_SIGNED)),
    (
        "sign: a short scribble is no signature",
        replace(SIGN, strokes=(SHORT, SHORT)),
        Accept("guest-v1"),
        replace(SIGN, strokes=(SHORT, SHORT), error=Problem.NOT_SIGNED),
    ),
    ("summary: checked in", SUMMARY, CheckedIn(Outcome.PRINTED), replace(SUMMARY, step=Step.DONE,
                                                                         outcome=Outcome.PRINTED)),
    ("summary: referred", SUMMARY, CheckedIn(Outcome.REFERRED), replace(SUMMARY, step=Step.SEAT,
                                                                        outcome=Outcome.REFERRED)),
    ("summary: not recorded", SUMMARY, Failed(), replace(SUMMARY, error=Problem.FAILED)),
    ("summary: incomplete", replace(SUMMARY, agreement=None), CheckedIn(Outcome.PRINTED),
     replace(SUMMARY, agreement=None)),
    ("done: finish", replace(SUMMARY, step=Step.DONE, language="pl", large_text=True), Finish(), INITIAL),
    ("not done: finish means nothing", NAME, Finish(), NAME),
    ("camera lost", NAME, SetCamera(False), replace(NAME, camera=False)),
    ("language anywhere", HOST, ChooseLanguage("id"), replace(HOST, language="id")),
    ("language unknown", HOST, ChooseLanguage("xx"), HOST),
    ("large text", HOST, ToggleLargeText(), replace(HOST, large_text=True)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("state", "intent", "expected"), [t[1:] for t in TRANSITIONS], ids=[t[0] for t in TRANSITIONS]
)
def test_transition(state: Session, intent: Intent, expected: Session) -> None:
    assert next_step(state, intent) == expected


BACKS = [
    (NAME, INITIAL),
    (COMPANY, replace(COMPANY, step=Step.NAME)),
    (LISTED, replace(LISTED, step=Step.COMPANY)),
    (KIND, replace(KIND, step=Step.HOST)),
    (PHOTO_STEP, replace(PHOTO_STEP, step=Step.VISITOR_TYPE, countdown=None)),
    (SIGNED, replace(SIGNED, step=Step.PHOTO)),
    (replace(SIGNED, photo=None), replace(SIGNED, photo=None, step=Step.VISITOR_TYPE)),
    (SUMMARY, replace(SUMMARY, step=Step.AGREEMENT, agreement=None)),
    (replace(SUMMARY, step=Step.DONE), replace(SUMMARY, step=Step.DONE)),
]


@pytest.mark.parametrize(("state", "expected"), BACKS, ids=[s.step.value for s, _ in BACKS])
def test_back_keeps_what_was_given(state: Session, expected: Session) -> None:
    assert next_step(state, Back()) == expected


EVERY_STEP = [INITIAL, NAME, COMPANY, LISTED, DOWN, KIND, PHOTO_STEP, TAKEN, SIGNED, SUMMARY]


@pytest.mark.parametrize("state", EVERY_STEP, ids=lambda s: s.step.value)
def test_timeout_forgets_everything_but_the_kiosk_settings(state: Session) -> None:
    chosen = replace(state, language="pl", large_text=True, default_language="id", camera=False)
    assert next_step(chosen, Timeout()) == Session(default_language="id", language="id", camera=False)


@pytest.mark.parametrize("state", EVERY_STEP, ids=lambda s: s.step.value)
def test_cancel_keeps_the_visitors_language_and_large_text(state: Session) -> None:
    chosen = replace(state, language="pl", large_text=True)
    assert next_step(chosen, Cancel()) == replace(INITIAL, language="pl", large_text=True)


def _walk(intents: list[Intent], state: Session = INITIAL) -> list[str]:
    screens = []
    for intent in intents:
        state = next_step(state, intent)
        screens.append(state.step.value)
    return screens


def test_whole_walk_in_by_screen_names() -> None:
    screens = _walk([
        Start(Mode.WALK_IN), Enter(""), Enter("Ada"), Skip(), HostsFound("gr", (GRACE,)), PickHost(GRACE),
        Choose("contractor"), Countdown(), Countdown(), Countdown(), PhotoTaken(PHOTO), UsePhoto(),
        AddStroke(SIGNATURE), Accept("contractor-v1"), CheckedIn(Outcome.PRINTED), Finish(),
    ])  # fmt: skip
    assert screens == [
        "name", "name", "company", "host", "host", "visitor_type", "photo", "photo", "photo", "photo",
        "photo", "agreement", "agreement", "summary", "done", "welcome",
    ]  # fmt: skip


def test_progress_counts_the_steps_this_visitor_sees() -> None:
    assert progress_steps(SUMMARY) == (
        Step.NAME, Step.COMPANY, Step.HOST, Step.VISITOR_TYPE, Step.PHOTO, Step.AGREEMENT, Step.SUMMARY,
    )  # fmt: skip
    assert Step.PHOTO not in progress_steps(replace(SUMMARY, camera=False))
    assert progress_steps(INITIAL) == ()


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (SUMMARY, True),
        (replace(SUMMARY, agreement=None), False),
        (replace(SUMMARY, host_name=""), False),
        (replace(SUMMARY, visitor_type=None), False),
        (replace(SUMMARY, agreement=None, mode=Mode.INVITED), True),
    ],
)
def test_ready_needs_name_type_host_and_an_agreement(state: Session, expected: bool) -> None:
    assert ready(state) is expected


def test_sessions_are_immutable() -> None:
    with pytest.raises(AttributeError):
        NAME.name = "x"  # type: ignore[misc]
