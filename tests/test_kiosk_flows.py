"""The invited, returning and check-out flows, scanned codes and the small pure helpers."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from broker.schemas import VisitorType
from kiosk.flow import INITIAL, next_step
from kiosk.flow.intents import (
    Back,
    Cancel,
    CheckedIn,
    CheckedOut,
    CodeRejected,
    Enter,
    Failed,
    Finish,
    HostsFound,
    Intent,
    InvitationFound,
    OnSiteFound,
    PastFound,
    PickOnSite,
    PickPast,
    PrintFailed,
    Start,
)
from kiosk.flow.state import Mode, Notice, Outcome, Problem, Session, Step
from kiosk.flow.values import (
    BadgeCode,
    InvitationCode,
    clamp_stroke,
    clean,
    is_signed,
    new_badge_value,
    parse_code,
    stroke_length,
)
from kiosk.ports import Invitation, OnSiteVisit, PastVisitor, VisitorDetails

INVITE = Invitation(
    visit_id="v-7f3a", visitor_name="Ana Kowalska", company="Acme", host_id="e-1", host_name="Budi Santoso",
    visitor_type=VisitorType.CONTRACTOR, email="ana@example.org",
    expected_at=datetime(2026, 11, 22, 9, 30, tzinfo=UTC),
)  # fmt: skip
INVITED = replace(
    INITIAL, step=Step.INVITATION, mode=Mode.INVITED, invitation=INVITE, name="Ana Kowalska", company="Acme",
    email="ana@example.org", host_id="e-1", host_name="Budi Santoso", visitor_type=VisitorType.CONTRACTOR,
)  # fmt: skip
ANA = PastVisitor("tok-1", "A** K*******", "A***", date(2026, 10, 1))
DETAILS = VisitorDetails("Ana  Kowalska", "Acme", "ana@example.org")
RETURNING = replace(INITIAL, step=Step.RETURNING, mode=Mode.RETURNING)
FOUND = replace(RETURNING, query="kowal", past=(ANA,))
LEAVER = OnSiteVisit("v-1", "A** K*******")
CHECK_OUT = replace(INITIAL, step=Step.CHECK_OUT, mode=Mode.CHECK_OUT)
PICKED = replace(CHECK_OUT, step=Step.CHECK_OUT_CONFIRM, query="ana", on_site=(LEAVER,), leaving=LEAVER)
GOODBYE = replace(INITIAL, step=Step.GOODBYE, mode=Mode.CHECK_OUT, leaving=LEAVER)
FEEDBACK = replace(GOODBYE, step=Step.FEEDBACK)
SCAN = replace(INITIAL, step=Step.SCAN, mode=Mode.INVITED)
POLISH = replace(INITIAL, language="pl", large_text=True)
DONE = replace(INVITED, step=Step.DONE, outcome=Outcome.PRINTED)
SEAT = replace(INVITED, step=Step.SEAT, outcome=Outcome.REFERRED)

TRANSITIONS: list[tuple[str, Session, Intent, Session]] = [
    ("welcome: I have an invitation", INITIAL, Start(Mode.INVITED), SCAN),
    ("welcome: returning", INITIAL, Start(Mode.RETURNING), RETURNING),
    ("welcome: check out", INITIAL, Start(Mode.CHECK_OUT), CHECK_OUT),
    ("scan on welcome: invitation", INITIAL, InvitationFound(INVITE), INVITED),
    ("scan on scan screen: invitation", SCAN, InvitationFound(INVITE), INVITED),
    ("scan keeps the language", POLISH, InvitationFound(INVITE),
     replace(INVITED, language="pl", large_text=True)),
    ("scan: unknown invitation", SCAN, CodeRejected(Notice.UNKNOWN_INVITATION),
     replace(INITIAL, notice=Notice.UNKNOWN_INVITATION)),
    ("scan on welcome: badge", INITIAL, CheckedOut(LEAVER), FEEDBACK),
    ("scan on check-out: badge", CHECK_OUT, CheckedOut(LEAVER), FEEDBACK),
    ("scan mid-walk-in is ignored", replace(INITIAL, step=Step.NAME, mode=Mode.WALK_IN),
     InvitationFound(INVITE),
     replace(INITIAL, step=Step.NAME, mode=Mode.WALK_IN)),
    ("invitation: confirmed", INVITED, CheckedIn(Outcome.PRINTED), replace(INVITED, step=Step.DONE,
                                                                           outcome=Outcome.PRINTED)),
    ("invitation: referred", INVITED, CheckedIn(Outcome.REFERRED), replace(INVITED, step=Step.SEAT,
                                                                          outcome=Outcome.REFERRED)),
    ("done: the print failed later", DONE, PrintFailed(), replace(DONE, outcome=Outcome.PRINT_FAILED)),
    ("done: a second failure", replace(DONE, outcome=Outcome.PRINT_FAILED), PrintFailed(),
     replace(DONE, outcome=Outcome.PRINT_FAILED)),
    ("seat: no badge, no print failure", SEAT, PrintFailed(), SEAT),
    ("welcome: a late print failure", INITIAL, PrintFailed(), INITIAL),
    ("invitation: a print failure before done", INVITED, PrintFailed(), INVITED),
    ("done: finish after the failure", replace(DONE, outcome=Outcome.PRINT_FAILED), Finish(), INITIAL),
    ("invitation: not me", INVITED, Cancel(), INITIAL),
    ("invitation: back", INVITED, Back(), INITIAL),
    ("invitation: not recorded", INVITED, Failed(), replace(INVITED, error=Problem.FAILED)),
    ("returning: found", RETURNING, PastFound("kowal", (ANA,)), FOUND),
    ("returning: picked", FOUND, PickPast(ANA, DETAILS), replace(
        FOUND, step=Step.HOST, returning=ANA, name="Ana Kowalska", company="Acme", email="ana@example.org")),
    ("returning: someone not listed", FOUND, PickPast(replace(ANA, token="x"), DETAILS), FOUND),
    ("returning: no details", FOUND, PickPast(ANA, None), replace(INITIAL, step=Step.NAME, mode=Mode.WALK_IN,
                                                                  notice=Notice.NO_DETAILS)),
    ("returning: typing is no pick", FOUND, Enter("Ana"), FOUND),
    ("check-out: found", CHECK_OUT, OnSiteFound("ana", (LEAVER,)), replace(CHECK_OUT, query="ana",
                                                                           on_site=(LEAVER,))),
    ("check-out: picked", replace(CHECK_OUT, query="ana", on_site=(LEAVER,)), PickOnSite(LEAVER), PICKED),
    ("check-out: confirmed", PICKED, CheckedOut(LEAVER), replace(PICKED, step=Step.FEEDBACK)),
    ("check-out: another visit", PICKED, CheckedOut(OnSiteVisit("v-2", "B**")), PICKED),
    ("check-out: not recorded", PICKED, Failed(), replace(PICKED, error=Problem.FAILED)),
    ("check-out: back", PICKED, Back(), replace(PICKED, step=Step.CHECK_OUT, leaving=None)),
    ("goodbye: finish", replace(GOODBYE, language="pl"), Finish(), INITIAL),
]  # fmt: skip


@pytest.mark.parametrize(
    ("state", "intent", "expected"), [t[1:] for t in TRANSITIONS], ids=[t[0] for t in TRANSITIONS]
)
def test_transition(state: Session, intent: Intent, expected: Session) -> None:
    assert next_step(state, intent) == expected


def test_returning_visitor_goes_back_to_the_search_from_host() -> None:
    at_host = next_step(FOUND, PickPast(ANA, DETAILS))
    assert next_step(at_host, Back()).step is Step.RETURNING
    assert next_step(at_host, HostsFound("bu", ())).step is Step.HOST


def test_a_notice_stays_on_its_screen_only() -> None:
    rejected = next_step(SCAN, CodeRejected(Notice.UNKNOWN_CODE))
    assert (rejected.step, rejected.notice) == (Step.WELCOME, Notice.UNKNOWN_CODE)
    assert next_step(rejected, Start(Mode.WALK_IN)).notice is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("GH1:v-7f3a:s3cr3t-value", InvitationCode("GH1:v-7f3a:s3cr3t-value", "v-7f3a")),
        ("  GH1:V.12_x:abcdefgh \n", InvitationCode("GH1:V.12_x:abcdefgh", "V.12_x")),
        ("GH1:v-7f3a:short", None),
        ("GH1::abcdefgh", None),
        ("GH2:v-7f3a:abcdefghij", None),
        ("GH1:a:b:abcdefghij", None),
        ("0a1b2c3d4e5f6071", BadgeCode("0A1B2C3D4E5F6071")),
        ("0A1B2C3D4E5F607", None),
        ("0A1B2C3D4E5F60712", None),
        ("hello", None),
        ("", None),
    ],
)
def test_parse_code(text: str, expected: InvitationCode | BadgeCode | None) -> None:
    assert parse_code(text) == expected


def test_badge_values_are_16_uppercase_hex_digits_and_scan_back_as_badges() -> None:
    values = {new_badge_value() for _ in range(500)}
    assert len(values) == 500
    assert all(re.fullmatch(r"[0-9A-F]{16}", v) for v in values)
    assert all(parse_code(v) == BadgeCode(v) for v in values)


@pytest.mark.parametrize(
    ("text", "expected"), [("  Ada \t Lovelace ", "Ada Lovelace"), ("", ""), ("\n", ""), ("A  B", "A B")]
)
def test_clean(text: str, expected: str) -> None:
    assert clean(text) == expected


def test_strokes_are_clamped_and_measured() -> None:
    stroke = clamp_stroke([(-1.0, 0.5), (0.3, 2.0)])
    assert stroke == ((0.0, 0.5), (0.3, 1.0))
    assert stroke_length(((0.0, 0.0), (0.3, 0.4), (0.3, 0.0))) == pytest.approx(0.9)
    assert not is_signed([((0.0, 0.0), (0.1, 0.0))] * 5)
    assert is_signed([((0.0, 0.0), (0.1, 0.0)), ((0.0, 0.0), (0.2, 0.0))])
