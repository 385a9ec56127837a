"""The walk-in flow as a table of transitions, whole flows by screen names, and the view-model."""

from __future__ import annotations

from dataclasses import replace

import pytest

from broker.events import make_event
from broker.schemas import VisitorCheckedIn, VisitorType
from kiosk import walkin
from kiosk.viewmodel import KioskViewModel, new_visit_id
from kiosk.walkin import (
    INITIAL,
    Back,
    Cancel,
    Choose,
    Confirm,
    Enter,
    Intent,
    Problem,
    Skip,
    Start,
    Step,
    Timeout,
    WalkIn,
    next_step,
)

NAME = replace(INITIAL, step=Step.NAME)
COMPANY = replace(NAME, step=Step.COMPANY, name="Ada Lovelace")
KIND = replace(COMPANY, step=Step.VISITOR_TYPE, company="ACME")
HOST = replace(KIND, step=Step.HOST, visitor_type=VisitorType.GUEST)
CONFIRM = replace(HOST, step=Step.CONFIRM, host="Grace Hopper")
DONE = replace(CONFIRM, step=Step.DONE)

TRANSITIONS = [
    # welcome
    (INITIAL, Start(), NAME),
    (INITIAL, Enter("Ada"), INITIAL),
    (INITIAL, Back(), INITIAL),
    (INITIAL, Confirm(), INITIAL),
    # name
    (NAME, Enter("Ada Lovelace"), COMPANY),
    (NAME, Enter("  Ada \t  Lovelace  "), COMPANY),
    (NAME, Enter(""), replace(NAME, error=Problem.NAME_REQUIRED)),
    (NAME, Enter("   "), replace(NAME, error=Problem.NAME_REQUIRED)),
    (NAME, Enter("x" * 101), replace(NAME, error=Problem.TOO_LONG)),
    (replace(NAME, error=Problem.NAME_REQUIRED), Enter("Ada Lovelace"), COMPANY),
    (NAME, Back(), INITIAL),
    (NAME, Choose("guest"), NAME),
    (NAME, Skip(), NAME),
    # company (optional)
    (COMPANY, Enter("ACME"), KIND),
    (COMPANY, Skip(), replace(KIND, company=None)),
    (COMPANY, Enter("  "), replace(KIND, company=None)),
    (COMPANY, Enter("y" * 101), replace(COMPANY, error=Problem.TOO_LONG)),
    (COMPANY, Back(), replace(COMPANY, step=Step.NAME)),
    # visitor type
    (KIND, Choose("guest"), HOST),
    (KIND, Choose("interview"), replace(HOST, visitor_type=VisitorType.INTERVIEW)),
    (KIND, Choose("alien"), replace(KIND, error=Problem.UNKNOWN_TYPE)),
    (KIND, Enter("guest"), KIND),
    (KIND, Back(), replace(KIND, step=Step.COMPANY)),
    # host
    (HOST, Enter("Grace Hopper"), CONFIRM),
    (HOST, Enter(""), replace(HOST, error=Problem.HOST_REQUIRED)),
    (HOST, Enter("z" * 101), replace(HOST, error=Problem.TOO_LONG)),
    (HOST, Back(), replace(HOST, step=Step.VISITOR_TYPE)),
    # confirm
    (CONFIRM, Confirm(), DONE),
    (CONFIRM, Back(), replace(CONFIRM, step=Step.HOST)),
    (CONFIRM, Enter("x"), CONFIRM),
    (replace(CONFIRM, host=""), Confirm(), replace(CONFIRM, host="")),
    (replace(CONFIRM, error=Problem.CHECK_IN_FAILED), Confirm(), DONE),
    # done
    (DONE, Confirm(), INITIAL),
    (DONE, Start(), INITIAL),
    (DONE, Back(), DONE),
]


@pytest.mark.parametrize(("state", "intent", "expected"), TRANSITIONS)
def test_transition(state: WalkIn, intent: walkin.Intent, expected: WalkIn) -> None:
    assert next_step(state, intent) == expected


@pytest.mark.parametrize("state", [INITIAL, NAME, COMPANY, KIND, HOST, CONFIRM, DONE])
@pytest.mark.parametrize("intent", [Cancel(), Timeout()])
def test_cancel_and_timeout_forget_everything(state: WalkIn, intent: walkin.Intent) -> None:
    assert next_step(state, intent) == INITIAL


def test_states_are_immutable() -> None:
    with pytest.raises(AttributeError):
        NAME.name = "x"  # type: ignore[misc]


def _walk(intents: list[walkin.Intent]) -> list[str]:
    state, screens = INITIAL, []
    for intent in intents:
        state = next_step(state, intent)
        screens.append(state.step.value)
    return screens


def test_whole_walk_in_by_screen_names() -> None:
    screens = _walk([Start(), Enter(""), Enter("Ada"), Skip(), Choose("delivery"), Enter("Bob"), Confirm()])
    assert screens == [
        "name", "name", "company", "visitor_type", "host", "confirm", "done",
    ]  # fmt: skip


def test_back_all_the_way_keeps_what_was_typed_until_welcome() -> None:
    state = INITIAL
    intents: list[Intent] = [Start(), Enter("Ada"), Enter("ACME"), Choose("guest"), Enter("Grace")]
    for intent in intents:
        state = next_step(state, intent)
    assert state.step is Step.CONFIRM
    for expected in ["host", "visitor_type", "company", "name"]:
        state = next_step(state, Back())
        assert state.step.value == expected
        assert (state.name, state.company, state.host) == ("Ada", "ACME", "Grace")
    assert next_step(state, Back()) == INITIAL


class FakeClock:
    """Monotonic seconds that only move when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Desk:
    """Collects check-ins; can be told to fail."""

    def __init__(self) -> None:
        self.visits: list[VisitorCheckedIn] = []
        self.fail = False

    def __call__(self, visit: VisitorCheckedIn) -> None:
        if self.fail:
            raise ConnectionError("bus down")
        self.visits.append(visit)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def desk() -> Desk:
    return Desk()


@pytest.fixture
def vm(clock: FakeClock, desk: Desk) -> KioskViewModel:
    ids = iter(f"VISIT{n:05d}" for n in range(1, 100))
    return KioskViewModel(desk, clock=clock, new_id=lambda: next(ids))


def _to_confirm(vm: KioskViewModel) -> None:
    vm.start()
    vm.enter("Ada Lovelace")
    vm.enter("Analytical Engines")
    vm.choose("contractor")
    vm.enter("Grace Hopper")


def test_viewmodel_checks_in_once_with_the_contract_data(vm: KioskViewModel, desk: Desk) -> None:
    _to_confirm(vm)
    assert vm.screen == "confirm"
    assert desk.visits == []
    vm.confirm()
    assert vm.screen == "done"
    assert desk.visits == [
        VisitorCheckedIn(
            visit_id="VISIT00001",
            visitor_name="Ada Lovelace",
            visitor_type=VisitorType.CONTRACTOR,
            company="Analytical Engines",
            host_name="Grace Hopper",
        )
    ]
    event = make_event("lobby", "kiosk-1", "visitor.checked_in", 1, desk.visits[0])
    assert event.data == desk.visits[0]
    assert vm.last_visit == desk.visits[0]
    assert "Ada" in vm.done_text
    assert "Grace Hopper" in vm.done_text
    vm.confirm()
    assert vm.screen == "welcome"
    assert vm.last_visit is None
    assert len(desk.visits) == 1


def test_viewmodel_texts_follow_the_flow(vm: KioskViewModel) -> None:
    assert (vm.screen, vm.progress, vm.error) == ("welcome", "", "")
    vm.start()
    assert vm.title == "What is your name?"
    assert vm.progress == "Step 1 of 5"
    vm.enter("  ")
    assert vm.error == "Please type your name"
    vm.enter("Ada")
    assert (vm.screen, vm.error, vm.progress) == ("company", "", "Step 2 of 5")
    vm.skip()
    assert [c.value for c in vm.choices] == ["guest", "contractor", "delivery", "interview"]
    vm.choose("guest")
    vm.enter("")
    assert "person you are visiting" in vm.error
    vm.enter("Grace")
    assert vm.progress == "Step 5 of 5"
    assert vm.summary == (
        ("Name", "Ada"),
        ("Company", "-"),
        ("Visiting as", "Guest"),
        ("Host", "Grace"),
    )


def test_back_shows_what_was_typed(vm: KioskViewModel) -> None:
    _to_confirm(vm)
    vm.back()
    assert (vm.screen, vm.field_text) == ("host", "Grace Hopper")
    vm.back()
    vm.back()
    assert (vm.screen, vm.field_text) == ("company", "Analytical Engines")


def test_failed_check_in_stays_on_confirm_and_can_be_retried(vm: KioskViewModel, desk: Desk) -> None:
    _to_confirm(vm)
    desk.fail = True
    vm.confirm()
    assert vm.screen == "confirm"
    assert vm.error.startswith("Sorry")
    assert vm.last_visit is None
    desk.fail = False
    vm.confirm()
    assert vm.screen == "done"
    assert [v.visit_id for v in desk.visits] == ["VISIT00002"]


def test_idle_timeout_resets_to_welcome_and_clears_every_field(vm: KioskViewModel, clock: FakeClock) -> None:
    changes: list[str] = []
    vm.listen(lambda: changes.append(vm.screen))
    _to_confirm(vm)
    clock.now += 29.9
    assert vm.tick() is False
    assert vm.screen == "confirm"
    clock.now += 0.1
    assert vm.tick() is True
    assert vm.state == INITIAL
    assert changes[-1] == "welcome"
    vm.start()
    assert vm.field_text == ""


def test_typing_keeps_the_kiosk_awake(vm: KioskViewModel, clock: FakeClock) -> None:
    vm.start()
    clock.now += 25
    vm.touch()
    clock.now += 25
    assert vm.tick() is False
    clock.now += 5
    assert vm.tick() is True


def test_done_screen_goes_back_sooner_and_forgets_the_visitor(vm: KioskViewModel, clock: FakeClock) -> None:
    _to_confirm(vm)
    vm.confirm()
    clock.now += 9
    assert vm.tick() is False
    clock.now += 1
    assert vm.tick() is True
    assert (vm.screen, vm.last_visit, vm.done_text) == ("welcome", None, "")


def test_welcome_never_times_out(vm: KioskViewModel, clock: FakeClock) -> None:
    clock.now += 3600
    assert vm.tick() is False


def test_listeners_can_stop_listening(vm: KioskViewModel) -> None:
    seen: list[str] = []
    stop = vm.listen(lambda: seen.append(vm.screen))
    vm.start()
    stop()
    vm.enter("Ada")
    assert seen == ["name"]


def test_timeouts_must_be_positive(desk: Desk) -> None:
    with pytest.raises(ValueError, match="idle_timeout"):
        KioskViewModel(desk, idle_timeout=0)


def test_visit_ids_are_short_unique_and_valid() -> None:
    ids = {new_visit_id() for _ in range(2000)}
    assert len(ids) == 2000
    allowed = set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")  # Crockford base32: no I, L, O, U
    assert all(len(i) == 10 and set(i) <= allowed for i in ids)


def test_demo_script_checks_one_visitor_in() -> None:
    assert _walk(list(walkin.DEMO_SCRIPT))[-1] == "done"
