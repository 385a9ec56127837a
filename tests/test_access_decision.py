"""Access decisions: every deny reason, their precedence, visitors, cross-reader matching, anti-passback."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.schemas import AccessDenied, AccessGranted, BadgeRead, DenyReason
from security.office.access import (
    PRECEDENCE,
    AccessRight,
    AntiPassbackMode,
    AntiPassbackState,
    Credential,
    CredentialFormat,
    Direction,
    Directory,
    DoorGroup,
    Person,
    ReaderPoint,
    WeeklySchedule,
    check_in,
    check_out,
    decide,
    reader_map,
    suffix_collisions,
    visitor_badge,
)

TZ = "Europe/Berlin"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday, 10:00 in Berlin
TAG = "62E3086CED"  # EM4100 tag as an RDM6300 reads it; Wiegand-26 sees "086CED", facility 8
MAIN_IN = ReaderPoint(1, "main-door", Direction.IN, "site", 4)
MAIN_OUT = ReaderPoint(2, "main-door", Direction.OUT, "site", 4)
LAB = ReaderPoint(3, "lab-door")
OFFICE_HOURS = WeeklySchedule.weekdays(time(7), time(19), TZ)


def directory(**changes: object) -> Directory:
    """Alice (staff, office hours at the main door), Bob (no rights), visitors to the lobby."""
    alice = Person("E1", "Alice Arndt", groups=frozenset({"staff"}))
    bob = Person("E2", "Bob Brandt")
    base = Directory(
        people=(alice, bob),
        credentials=(
            Credential(TAG, CredentialFormat.EM4100, "E1"),
            Credential("AB12CD", CredentialFormat.WIEGAND26, "E2"),
        ),
        door_groups=(
            DoorGroup("entrance", frozenset({"main-door"})),
            DoorGroup("lab", frozenset({"lab-door"})),
        ),
        rights=(
            AccessRight("entrance", OFFICE_HOURS, group="staff"),
            AccessRight("entrance", WeeklySchedule.all_hours(TZ), group="visitors"),
        ),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def rdm(value: str = TAG, reader: int = 1) -> BadgeRead:
    """An RDM6300 read."""
    return BadgeRead(credential=value, reader=reader, format="rdm6300")


def alice_cred(**changes: object) -> Directory:
    """The directory with Alice's credential changed."""
    base = directory()
    cred = replace(base.credentials[0], **changes)  # type: ignore[arg-type]
    return replace(base, credentials=(cred, *base.credentials[1:]))


OFF = AntiPassbackState(AntiPassbackMode.OFF)

CASES: list[tuple[str, BadgeRead, ReaderPoint, Directory, datetime, DenyReason | None]] = [
    ("granted", rdm(), MAIN_IN, directory(), NOW, None),
    ("unknown", rdm("0000000001"), MAIN_IN, directory(), NOW, DenyReason.UNKNOWN_CREDENTIAL),
    ("holder missing", rdm(), MAIN_IN, directory(people=()), NOW, DenyReason.UNKNOWN_CREDENTIAL),
    ("revoked", rdm(), MAIN_IN, alice_cred(revoked_at=NOW - timedelta(days=1)), NOW, DenyReason.REVOKED),
    ("revoked later is fine", rdm(), MAIN_IN, alice_cred(revoked_at=NOW + timedelta(seconds=1)), NOW, None),
    (
        "not yet valid",
        rdm(),
        MAIN_IN,
        alice_cred(valid_from=NOW + timedelta(hours=1)),
        NOW,
        DenyReason.NOT_YET_VALID,
    ),
    ("expired", rdm(), MAIN_IN, alice_cred(valid_until=NOW), NOW, DenyReason.EXPIRED),
    ("no rights at door", rdm(reader=3), LAB, directory(), NOW, DenyReason.NO_RIGHTS),
    (
        "no rights at all",
        BadgeRead(credential="AB12CD", reader=1, format="wiegand26"),
        MAIN_IN,
        directory(),
        NOW,
        DenyReason.NO_RIGHTS,
    ),
    ("out of schedule", rdm(), MAIN_IN, directory(), NOW + timedelta(hours=10), DenyReason.OUT_OF_SCHEDULE),
    ("saturday", rdm(), MAIN_IN, directory(), NOW - timedelta(days=2), DenyReason.OUT_OF_SCHEDULE),
    # precedence: several reasons apply, the earliest in PRECEDENCE wins
    (
        "revoked beats expired",
        rdm(),
        MAIN_IN,
        alice_cred(revoked_at=NOW - timedelta(days=2), valid_until=NOW - timedelta(days=1)),
        NOW,
        DenyReason.REVOKED,
    ),
    (
        "revoked beats not yet valid",
        rdm(),
        MAIN_IN,
        alice_cred(revoked_at=NOW, valid_from=NOW + timedelta(days=1)),
        NOW,
        DenyReason.REVOKED,
    ),
    (
        "not yet valid beats no rights",
        rdm(reader=3),
        LAB,
        alice_cred(valid_from=NOW + timedelta(days=1)),
        NOW,
        DenyReason.NOT_YET_VALID,
    ),
    (
        "expired beats out of schedule",
        rdm(),
        MAIN_IN,
        alice_cred(valid_until=NOW),
        NOW + timedelta(hours=10),
        DenyReason.EXPIRED,
    ),
    (
        "no rights beats out of schedule",
        rdm(reader=3),
        LAB,
        directory(),
        NOW + timedelta(hours=10),
        DenyReason.NO_RIGHTS,
    ),
]


@pytest.mark.parametrize(
    ("read", "point", "dirx", "now", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_reasons_and_precedence(
    read: BadgeRead, point: ReaderPoint, dirx: Directory, now: datetime, reason: DenyReason | None
) -> None:
    """Each case yields exactly the expected reason (or a grant with an unlock)."""
    decision = decide(read, point, dirx, OFF, now)
    assert decision.reason == reason
    assert decision.granted == (reason is None)
    if reason is None:
        assert decision.event_type == "access.granted"
        assert isinstance(decision.event, AccessGranted)
        assert decision.unlock is not None
        assert (decision.unlock.door, decision.unlock.seconds) == (point.door, point.unlock_s)
    else:
        assert decision.event_type == "access.denied"
        assert decision.unlock is None
        assert decision.event.credential == read.credential


def test_anti_passback_is_last_in_precedence() -> None:
    """A passback with an expired credential reports expired; PRECEDENCE ends with anti_passback."""
    state = AntiPassbackState(AntiPassbackMode.HARD).moved("site", "E1", Direction.IN)
    assert decide(rdm(), MAIN_IN, alice_cred(valid_until=NOW), state, NOW).reason == DenyReason.EXPIRED
    assert decide(rdm(), MAIN_IN, directory(), state, NOW).reason == DenyReason.ANTI_PASSBACK
    assert PRECEDENCE[0] == DenyReason.UNKNOWN_CREDENTIAL
    assert PRECEDENCE[-1] == DenyReason.ANTI_PASSBACK
    assert set(PRECEDENCE) | {DenyReason.LOCKDOWN} == set(DenyReason)  # a lockdown is the engine's


@pytest.mark.parametrize(
    ("read", "reason"),
    [
        (rdm(TAG), None),
        (BadgeRead(credential="086CED", reader=1, format="wiegand26", facility=8), None),
        (BadgeRead(credential="086CED", reader=1, format="wiegand26"), None),
        (
            BadgeRead(credential="086CED", reader=1, format="wiegand26", facility=9),
            DenyReason.UNKNOWN_CREDENTIAL,
        ),
        (BadgeRead(credential="086CED", reader=1, format="osdp"), DenyReason.UNKNOWN_CREDENTIAL),
        (BadgeRead(credential="FF086CED", reader=1, format="unknown"), DenyReason.UNKNOWN_CREDENTIAL),
    ],
    ids=["rdm6300", "wiegand+facility", "wiegand", "wrong facility", "osdp not truncated", "other suffix"],
)
def test_em4100_matches_across_readers(read: BadgeRead, reason: DenyReason | None) -> None:
    """An enrolled EM4100 tag is recognised from its Wiegand-26 view (last 24 bits, facility agreeing)."""
    decision = decide(read, MAIN_IN, directory(), OFF, NOW)
    assert decision.reason == reason
    if reason is None:
        assert decision.event.person_id == "E1"


def test_wiegand_enrolment_matches_rdm6300_read() -> None:
    """A card enrolled from a Wiegand reader (6 hex) is recognised when an RDM6300 reads its full id."""
    dirx = directory(rights=(AccessRight("entrance", OFFICE_HOURS, person_id="E2"),))
    assert decide(rdm("01FFAB12CD"), MAIN_IN, dirx, OFF, NOW).event.person_id == "E2"
    assert decide(rdm("01FFAB12CD"), MAIN_IN, dirx, OFF, NOW).granted


def test_suffix_collision_is_unknown_not_wrong_person() -> None:
    """Two live tags with the same last 24 bits: a Wiegand read matches neither; RDM6300 still works."""
    carol = Person("E3", "Carol", groups=frozenset({"staff"}))
    base = directory()
    dirx = base.with_person(carol, Credential("99E3086CED", CredentialFormat.EM4100, "E3"))
    wiegand = BadgeRead(credential="086CED", reader=1, format="wiegand26")
    assert decide(wiegand, MAIN_IN, dirx, OFF, NOW).reason == DenyReason.UNKNOWN_CREDENTIAL
    assert decide(rdm("99E3086CED"), MAIN_IN, dirx, OFF, NOW).event.person_id == "E3"
    assert suffix_collisions((c.value, c.format) for c in dirx.credentials) == {
        "086CED": ("62E3086CED", "99E3086CED")
    }
    # once Carol's tag is revoked, the Wiegand read is Alice's again
    revoked = dirx.revoke_person("E3", NOW - timedelta(minutes=1))
    assert decide(wiegand, MAIN_IN, revoked, OFF, NOW).event.person_id == "E1"


def test_reissued_badge_goes_to_current_holder() -> None:
    """A badge revoked for one person and issued to another resolves to the new holder."""
    dirx = alice_cred(revoked_at=NOW - timedelta(days=1))
    dan = Person("E4", "Dan", groups=frozenset({"staff"}))
    dirx = dirx.with_person(
        dan, Credential(TAG, CredentialFormat.EM4100, "E4", valid_from=NOW - timedelta(hours=1))
    )
    decision = decide(rdm(), MAIN_IN, dirx, OFF, NOW)
    assert (decision.granted, decision.event.person_id) == (True, "E4")


def test_visitor_badge_valid_from_check_in_to_check_out() -> None:
    """Before check-in not yet valid, during the visit granted at any hour, after check-out revoked."""
    arrive, leave = NOW, NOW + timedelta(hours=3)
    person, badge = visitor_badge(
        "V-2026-0042", "Vera Visitor", "0A1B2C3D4E", CredentialFormat.EM4100, arrive
    )
    inside = check_in(directory(), person, badge)
    read = rdm("0A1B2C3D4E")
    assert (
        decide(read, MAIN_IN, inside, OFF, arrive - timedelta(minutes=1)).reason == DenyReason.NOT_YET_VALID
    )
    assert decide(read, MAIN_IN, inside, OFF, arrive).granted
    assert decide(read, MAIN_IN, inside, OFF, arrive + timedelta(hours=12)).granted
    assert decide(read, LAB, inside, OFF, arrive).reason == DenyReason.NO_RIGHTS
    out = check_out(inside, "V-2026-0042", leave)
    assert decide(read, MAIN_IN, out, OFF, leave - timedelta(seconds=1)).granted
    assert decide(read, MAIN_IN, out, OFF, leave).reason == DenyReason.REVOKED
    assert (
        decide(read, MAIN_IN, check_out(out, "V-2026-0042", leave + timedelta(hours=1)), OFF, leave).reason
        == DenyReason.REVOKED
    )


@pytest.mark.parametrize(
    ("mode", "second_in", "flagged"),
    [
        (AntiPassbackMode.HARD, DenyReason.ANTI_PASSBACK, False),
        (AntiPassbackMode.SOFT, None, True),
        (AntiPassbackMode.OFF, None, False),
    ],
)
def test_anti_passback_modes(mode: AntiPassbackMode, second_in: DenyReason | None, flagged: bool) -> None:
    """In twice: hard denies, soft grants but flags, off ignores; the given state is never changed."""
    start = AntiPassbackState(mode)
    first = decide(rdm(), MAIN_IN, directory(), start, NOW)
    assert first.granted
    assert start == AntiPassbackState(mode)
    second = decide(rdm(), MAIN_IN, directory(), first.state, NOW + timedelta(minutes=1))
    assert (second.reason, second.passback_flagged) == (second_in, flagged)
    out = decide(rdm(reader=2), MAIN_OUT, directory(), first.state, NOW + timedelta(minutes=2))
    assert out.granted
    assert decide(rdm(), MAIN_IN, directory(), out.state, NOW + timedelta(minutes=3)).granted


def test_anti_passback_out_twice_and_reset() -> None:
    """Out without having come in again is a passback; a reset makes the person unknown, so allowed."""
    state = AntiPassbackState().moved("site", "E1", Direction.OUT)
    assert decide(rdm(reader=2), MAIN_OUT, directory(), state, NOW).reason == DenyReason.ANTI_PASSBACK
    assert decide(rdm(), MAIN_IN, directory(), state, NOW).granted
    assert decide(rdm(reader=2), MAIN_OUT, directory(), state.reset(), NOW).granted
    assert decide(rdm(reader=2), MAIN_OUT, directory(), state.reset(area="site"), NOW).granted
    assert decide(rdm(reader=2), MAIN_OUT, directory(), state.reset(person_id="E1"), NOW).granted
    assert state.reset(area="lab") == state
    assert state.reset(person_id="E9") == state


def test_anti_passback_is_per_area() -> None:
    """Being inside one area says nothing about another."""
    state = AntiPassbackState().moved("lab", "E1", Direction.IN)
    assert decide(rdm(), MAIN_IN, directory(), state, NOW).granted


def test_configuration_is_checked() -> None:
    """A bad door name, a reader configured twice, a naive clock and a two-subject right are refused."""
    with pytest.raises(ValueError, match="door name"):
        ReaderPoint(1, "Main Door")
    with pytest.raises(ValueError, match="twice"):
        reader_map(MAIN_IN, replace(MAIN_OUT, reader=1))
    assert reader_map(MAIN_IN, MAIN_OUT)[2] is MAIN_OUT
    with pytest.raises(ValueError, match="aware"):
        decide(rdm(), MAIN_IN, directory(), OFF, NOW.replace(tzinfo=None))
    with pytest.raises(ValueError, match="exactly one"):
        AccessRight("entrance", OFFICE_HOURS, person_id="E1", group="staff")


reads = st.builds(
    BadgeRead,
    credential=st.sampled_from([TAG, "086CED", "AB12CD", "0A1B2C3D4E"])
    | st.text("0123456789ABCDEF", min_size=1, max_size=64),
    reader=st.integers(0, 255),
    format=st.sampled_from(["rdm6300", "wiegand26", "osdp", "qr", "unknown"]),
    facility=st.none() | st.integers(0, 300),
)
moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))


@given(
    read=reads,
    now=moments,
    mode=st.sampled_from(AntiPassbackMode),
    inside=st.booleans(),
    point=st.sampled_from([MAIN_IN, MAIN_OUT, LAB]),
)
def test_any_read_has_exactly_one_outcome(
    read: BadgeRead, now: datetime, mode: AntiPassbackMode, inside: bool, point: ReaderPoint
) -> None:
    """Random reads never raise; a grant has an unlock and no reason, a denial one reason and no unlock."""
    state = AntiPassbackState(mode).moved("site", "E1", Direction.IN if inside else Direction.OUT)
    decision = decide(read, point, directory(), state, now)
    assert isinstance(decision.event, AccessGranted | AccessDenied)
    assert decision.granted == (decision.unlock is not None) == (decision.reason is None)
    if not decision.granted:
        assert decision.state == state
    assert decision.event.door == point.door
