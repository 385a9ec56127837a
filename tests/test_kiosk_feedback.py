"""The optional feedback step after a check-out: pure flow, view, view-model and outbox (no toolkit)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from broker.schemas import VisitorCheckedOut, VisitorFeedback
from kiosk.flow import INITIAL, next_step
from kiosk.flow.intents import Back, CheckedOut, Enter, Finish, Intent, Rate, Skip, Timeout
from kiosk.flow.state import MAX_COMMENT, Mode, Problem, Session, Step
from kiosk.flow.view import render
from kiosk.ports import OnSiteVisit
from tests.test_kiosk_viewmodel import BADGE, Kiosk, make_kiosk

LEAVER = OnSiteVisit("v-1", "A** K*******")
FEEDBACK = replace(INITIAL, step=Step.FEEDBACK, mode=Mode.CHECK_OUT, leaving=LEAVER, language="pl")
GOODBYE = replace(FEEDBACK, step=Step.GOODBYE)



@pytest.fixture
def k() -> Kiosk:
    return make_kiosk()


STEPS: list[tuple[str, Session, Intent, Session]] = [
    ("a scanned badge asks for feedback", INITIAL, CheckedOut(LEAVER),
     replace(INITIAL, step=Step.FEEDBACK, mode=Mode.CHECK_OUT, leaving=LEAVER)),
    ("one face is the whole answer", FEEDBACK, Rate(5), replace(GOODBYE, rating=5)),
    ("a face with a comment", FEEDBACK, Rate(2, "  the  queue was long "),
     replace(GOODBYE, rating=2, comment="the queue was long")),
    ("a blank comment is none", FEEDBACK, Rate(3, "   "), replace(GOODBYE, rating=3)),
    ("a comment at the contract's limit", FEEDBACK, Rate(4, "x" * MAX_COMMENT),
     replace(GOODBYE, rating=4, comment="x" * MAX_COMMENT)),
    ("a comment too long is refused, the step stays", FEEDBACK, Rate(4, "x" * (MAX_COMMENT + 1)),
     replace(FEEDBACK, error=Problem.TOO_LONG)),
    ("no such face", FEEDBACK, Rate(0), FEEDBACK),
    ("no such face either", FEEDBACK, Rate(6), FEEDBACK),
    ("skip", FEEDBACK, Skip(), GOODBYE),
    ("the short timer says goodbye, not welcome", FEEDBACK, Timeout(), GOODBYE),
    ("back is no way into a finished check-out", FEEDBACK, Back(), FEEDBACK),
    ("typing Next is not a rating", FEEDBACK, Enter("great"), FEEDBACK),
    ("a face elsewhere is nothing", replace(INITIAL, step=Step.NAME, mode=Mode.WALK_IN), Rate(5),
     replace(INITIAL, step=Step.NAME, mode=Mode.WALK_IN)),
    ("goodbye after a rating finishes as usual", replace(GOODBYE, rating=5), Finish(),
     replace(INITIAL, language=INITIAL.default_language)),
]  # fmt: skip


@pytest.mark.parametrize(("state", "intent", "expected"), [s[1:] for s in STEPS], ids=[s[0] for s in STEPS])
def test_feedback_step(state: Session, intent: Intent, expected: Session) -> None:
    assert next_step(state, intent) == expected


@pytest.mark.parametrize(("language", "title", "faces"), [
    ("en", "How was your visit?", ("Very bad", "Bad", "Okay", "Good", "Very good")),
    ("id", "Bagaimana kunjungan Anda?", ("Sangat buruk", "Buruk", "Biasa", "Baik", "Sangat baik")),
    ("pl", "Jak minęła wizyta?", ("Bardzo źle", "Źle", "W porządku", "Dobrze", "Bardzo dobrze")),
])
def test_the_feedback_screen_is_in_the_visitors_language(language: str, title: str,
                                                           faces: tuple[str, ...]) -> None:
    view = render(replace(FEEDBACK, language=language))
    assert (view.screen, view.title, view.can_back) == ("feedback", title, False)
    assert view.ratings == tuple(zip((1, 2, 3, 4, 5), faces, strict=True))
    assert view.comment_hint
    assert view.prompt
    assert render(replace(GOODBYE, language=language)).ratings == ()


def test_a_face_goes_through_the_outbox_after_the_check_out(k: Kiosk) -> None:
    k.vm.choose_language("pl")
    k.vm.scanned(BADGE)
    assert k.vm.screen == "feedback"
    k.vm.rate(4, " miła  obsługa ")
    assert k.vm.screen == "goodbye"
    assert k.outbox.events == [
        ("visitor.checked_out", VisitorCheckedOut(visit_id="v-0042", method="qr")),
        ("visitor.feedback",
         VisitorFeedback(visit_id="v-0042", rating=4, language="pl", comment="miła obsługa")),
    ]
    k.vm.rate(1)  # a second touch on goodbye sends nothing
    assert len(k.outbox.events) == 2


def test_skip_and_the_short_timer_send_nothing_and_free_the_kiosk(k: Kiosk) -> None:
    k.vm.scanned(BADGE)
    k.vm.skip()
    assert k.vm.screen == "goodbye"
    k.vm.done()
    k.vm.scanned(BADGE)
    assert k.vm.screen == "feedback"
    k.clock.now += 14
    assert (k.vm.tick(), k.vm.screen) == (False, "feedback")
    k.clock.now += 1
    k.vm.tick()
    assert k.vm.screen == "goodbye"
    k.clock.now += 10
    k.vm.tick()
    assert k.vm.screen == "welcome"
    assert [event_type for event_type, _ in k.outbox.events] == ["visitor.checked_out"] * 2


def test_feedback_the_outbox_refuses_is_logged_and_goodbye_still_shows(k: Kiosk) -> None:
    k.outbox.refuse.add("visitor.feedback")
    k.vm.scanned(BADGE)
    k.vm.rate(5)
    assert k.vm.screen == "goodbye"
    assert [event_type for event_type, _ in k.outbox.events] == ["visitor.checked_out"]
