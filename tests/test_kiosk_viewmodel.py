"""The kiosk view-model against hand-written fakes of its adapters, with an injected clock."""

from __future__ import annotations

import base64
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pytest

from broker.schemas import (
    BadgePrinted,
    Data,
    VisitorAgreed,
    VisitorCheckedIn,
    VisitorCheckedOut,
    VisitorPhoto,
    VisitorScreened,
    VisitorType,
)
from devices.printers import TcpPrinterPort, zebra
from kiosk.checkin import PrintJobs
from kiosk.flow.state import Session
from kiosk.flow.texts import Button
from kiosk.ports import (
    BadgePrinter,
    BadgeRequest,
    Host,
    Invitation,
    OnSiteVisit,
    PastVisitor,
    Ports,
    PrintResult,
    ScreenResult,
    VisitorDetails,
)
from kiosk.printer import KioskPrinter, PrintQueue
from kiosk.viewmodel import KioskViewModel, new_visit_id
from kiosk.work import Background
from tests.support import wait_until
from tests.test_kiosk_printer import SilentPrinter

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(200))
SIGNATURE = [(0.1, 0.2), (0.4, 0.6), (0.8, 0.3)]
CODE = "GH1:v-7f3a:Zx81-secret"
BADGE = "0A1B2C3D4E5F6071"
PRINTING = "Your badge is printing… Your host has been told."
COLLECT = "Please collect your badge at reception."


class Clock:
    """Monotonic seconds that move only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Outbox:
    """The `emit` callable: keeps events in order; can refuse some event types."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Data]] = []
        self.refuse: set[str] = set()

    def __call__(self, event_type: str, data: Data) -> None:
        if event_type in self.refuse:
            raise OSError("outbox disk full")
        self.events.append((event_type, data))

    @property
    def types(self) -> list[str]:
        return [t for t, _ in self.events]

    def one(self, event_type: str) -> Data:
        found = [d for t, d in self.events if t == event_type]
        assert len(found) == 1, self.types
        return found[0]


@dataclass
class Directory:
    hosts: list[Host]
    down: bool = False
    asked: list[str] = field(default_factory=list)

    def search(self, prefix: str) -> list[Host]:
        self.asked.append(prefix)
        if self.down:
            raise ConnectionError("directory unreachable, no cache")
        words = prefix.lower()
        return [h for h in self.hosts if any(w.startswith(words) for w in h.name.lower().split())]


@dataclass
class Rules:
    broken: bool = False

    def text(self, visitor_type: VisitorType, language: str) -> tuple[str, str]:
        if self.broken:
            raise FileNotFoundError("no agreement file")
        return f"{visitor_type.value}-v1", f"[{language}] the rules for a {visitor_type.value}"


@dataclass
class Watchlist:
    hits: dict[str, ScreenResult] = field(default_factory=dict)
    broken: bool = False

    def screen(self, name: str, company: str | None) -> ScreenResult:
        if self.broken:
            raise RuntimeError("watchlist cache unreadable")
        return self.hits.get(name, ScreenResult("clear", 0.1))


def opened() -> threading.Event:
    gate = threading.Event()
    gate.set()
    return gate


@dataclass
class Printer:
    """Prints once `gate` is open (it is, unless a test closes it)."""

    clock: Clock
    ok: bool = True
    broken: bool = False
    jobs: list[tuple[float, BadgeRequest]] = field(default_factory=list)
    gate: threading.Event = field(default_factory=opened)

    def print(self, badge: BadgeRequest) -> PrintResult:
        self.jobs.append((self.clock(), badge))
        if not self.gate.wait(10):
            raise TimeoutError("the test never opened the printer's gate")
        if self.broken:
            raise OSError("printer port gone")
        return PrintResult(self.ok, None if self.ok else "paper out")


@dataclass
class InvitationBook:
    codes: dict[str, Invitation] = field(default_factory=dict)

    def find(self, code: str) -> Invitation | None:
        return self.codes.get(code)


@dataclass
class PastBook:
    entries: dict[str, tuple[PastVisitor, VisitorDetails]] = field(default_factory=dict)
    broken: bool = False

    def search(self, text: str) -> list[PastVisitor]:
        if self.broken:
            raise ConnectionError("service down")
        return [p for p, d in self.entries.values() if text.lower() in f"{d.name} {d.email}".lower()]

    def details(self, token: str) -> VisitorDetails | None:
        if self.broken:
            raise ConnectionError("service down")
        return self.entries[token][1] if token in self.entries else None


@dataclass
class OnSiteBook:
    by_badge: dict[str, OnSiteVisit] = field(default_factory=dict)
    names: dict[str, OnSiteVisit] = field(default_factory=dict)

    def find_by_badge(self, badge: str) -> OnSiteVisit | None:
        return self.by_badge.get(badge)

    def search(self, text: str) -> list[OnSiteVisit]:
        return [v for name, v in self.names.items() if text.lower() in name.lower()]


GRACE = Host("e-1001", "Grace Hopper", "Research")
INVITE = Invitation(
    visit_id="v-7f3a", visitor_name="Ana Kowalska", company="Acme Sp. z o.o.", host_id="e-1001",
    host_name="Grace Hopper", visitor_type=VisitorType.CONTRACTOR, email="ana@example.org",
    expected_at=datetime(2026, 11, 22, 9, 30, tzinfo=UTC),
)  # fmt: skip
ANA = PastVisitor("tok-ana", "A** K*******", "A*** S** z o.o.", date(2026, 10, 1))
LEAVER = OnSiteVisit("v-0042", "A** L*******")


class UiThread:
    """The window's `on_ui_thread` by hand: calls handed over by the print worker, run when the test says."""

    def __init__(self) -> None:
        self.calls: queue.SimpleQueue[Callable[[], object]] = queue.SimpleQueue()
        self.queues: list[PrintQueue] = []

    def post(self, call: Callable[[], object]) -> None:
        self.calls.put(call)

    def print_queue(self, printer: BadgePrinter, clock: Clock) -> PrintQueue:
        """The kiosk's print worker on `printer`, reporting through this 'UI thread'."""
        self.queues.append(PrintQueue(printer, deliver=self.post, clock=clock))
        return self.queues[-1]

    def run(self, count: int, what: str) -> None:
        wait_until(lambda: self.calls.qsize() >= count, 15, what)
        for _ in range(count):
            self.calls.get()()


@dataclass
class Kiosk:
    vm: KioskViewModel
    outbox: Outbox
    clock: Clock
    directory: Directory
    rules: Rules
    watchlist: Watchlist
    printer: Printer
    visitors: PastBook


PrintingFor = Callable[[Clock, Outbox, Printer], PrintJobs]
"""Makes the view-model's `printing` from the test kiosk's clock, outbox and printer."""


def make_kiosk(*, camera: bool = True, language: str = "en", printing: PrintingFor | None = None,
               lookups: Background | None = None, records: Background | None = None) -> Kiosk:
    clock, outbox = Clock(), Outbox()
    hosts = [GRACE, Host("e-1002", "Greg House"), *(Host(f"e-2{n:03d}", f"Gr Number{n}") for n in range(8))]
    directory, rules, watchlist, printer = Directory(hosts), Rules(), Watchlist(), Printer(clock)
    visitors = PastBook(
        {"tok-ana": (ANA, VisitorDetails("Ana Kowalska", "Acme Sp. z o.o.", "ana@example.org"))}
    )
    ports = Ports(
        directory=directory, agreements=rules, screener=watchlist, printer=printer,
        invitations=InvitationBook({CODE: INVITE}), visitors=visitors,
        visits=OnSiteBook({BADGE: LEAVER}, {"Ada Lovelace": LEAVER}),
    )  # fmt: skip
    ids = iter(f"VISIT{n:05d}" for n in range(1, 100))
    vm = KioskViewModel(
        outbox, ports, clock=clock, now=lambda: NOW, new_id=lambda: next(ids),
        new_badge=lambda: "00FF00FF00FF00FF",
        language=language, camera=camera,
        printing=printing(clock, outbox, printer) if printing is not None else None,
        lookups=lookups, records=records,
    )  # fmt: skip
    return Kiosk(vm, outbox, clock, directory, rules, watchlist, printer, visitors)


@pytest.fixture
def k() -> Kiosk:
    return make_kiosk()


@pytest.fixture
def ui() -> Iterator[UiThread]:
    thread = UiThread()
    yield thread
    for jobs in thread.queues:
        assert jobs.stop(10)


def take_photo(k: Kiosk) -> None:
    for _ in range(3):
        k.clock.now += 1
        k.vm.tick()
    assert k.vm.view.capture_requested
    k.vm.photo_taken(JPEG, 320, 240)


def to_summary(k: Kiosk, name: str = "Ada Lovelace") -> None:
    vm = k.vm
    vm.start("walk_in")
    vm.enter(name)
    vm.enter("Analytical Engines")
    vm.search("g")
    vm.search("gr")
    vm.pick("e-1001")
    vm.choose("contractor")
    take_photo(k)
    vm.use_photo()
    vm.add_stroke(SIGNATURE)
    vm.accept()
    assert vm.screen == "summary", vm.view.error


def test_a_walk_in_takes_eight_touches_and_emits_prints_in_order(k: Kiosk) -> None:
    to_summary(k)
    k.clock.now += 0.25
    k.vm.confirm()
    assert k.vm.touches == 8  # check in, name, company, host, type, use photo, accept, confirm
    assert k.vm.screen == "done"
    assert k.outbox.types == ["visitor.checked_in", "visitor.photo", "visitor.agreed", "visitor.screened"]
    assert k.outbox.one("visitor.checked_in") == VisitorCheckedIn(
        visit_id="VISIT00001", visitor_name="Ada Lovelace", visitor_type=VisitorType.CONTRACTOR,
        company="Analytical Engines", host_id="e-1001", host_name="Grace Hopper", badge="00FF00FF00FF00FF",
        invited=False, photo="visitor.photo", badge_format="qr", language="en",
    )  # fmt: skip
    assert k.outbox.one("visitor.photo") == VisitorPhoto(
        visit_id="VISIT00001", jpeg=base64.b64encode(JPEG).decode(), width=320, height=240
    )
    agreed = k.outbox.one("visitor.agreed")
    assert isinstance(agreed, VisitorAgreed)
    assert (agreed.agreement, agreed.language) == ("contractor-v1", "en")
    assert agreed.signature is not None
    assert agreed.signature.startswith("M")
    assert k.outbox.one("visitor.screened") == VisitorScreened(
        visit_id="VISIT00001", result="clear", score=0.1
    )
    [(sent, job)] = k.printer.jobs
    assert job == BadgeRequest(
        visit_id="VISIT00001", visitor_name="Ada Lovelace", company="Analytical Engines",
        host_name="Grace Hopper",
        visitor_type=VisitorType.CONTRACTOR, badge="00FF00FF00FF00FF", valid_until=NOW + timedelta(hours=12),
        photo=JPEG, language="en",
    )  # fmt: skip
    assert k.vm.confirmed_at == sent == k.vm.print_sent_at
    assert k.vm.view.message == "Your badge is printing… Your host has been told."
    assert k.vm.last_visit == k.outbox.one("visitor.checked_in")
    k.clock.now += 10
    assert k.vm.tick() is True
    assert (k.vm.screen, k.vm.last_touches, k.vm.touches) == ("welcome", 8, 0)
    assert k.vm.session.name == ""
    assert not k.vm.last_visit  # forgotten with the visitor


def test_an_invited_visitor_takes_two_touches(k: Kiosk) -> None:
    k.vm.scanned(CODE)
    assert k.vm.screen == "invitation"
    assert dict(k.vm.view.summary)["Name"] == "Ana Kowalska"
    assert k.vm.view.message == "Your host will be told that you are here."
    k.vm.confirm()
    assert k.vm.screen == "done"
    k.vm.done()
    assert (k.vm.screen, k.vm.last_touches) == ("welcome", 2)
    visit = k.outbox.one("visitor.checked_in")
    assert isinstance(visit, VisitorCheckedIn)
    assert (visit.visit_id, visit.invited, visit.email, visit.host_id) == (
        "v-7f3a",
        True,
        "ana@example.org",
        "e-1001",
    )
    # no agreement was shown or signed on this path: the log must not claim one was accepted
    assert k.outbox.types == ["visitor.checked_in", "visitor.screened"]
    assert [job.visit_id for _, job in k.printer.jobs] == ["v-7f3a"]


NEUTRAL_FORBIDDEN = re.compile(r"watch|match|alarm|security|cocok|dopasow", re.IGNORECASE)


@pytest.mark.parametrize("language", ["en", "id", "pl"])
def test_a_watchlist_match_checks_in_without_a_badge_and_says_nothing_of_it(language: str) -> None:
    k = make_kiosk(language=language)
    k.watchlist.hits["Eve Mallory"] = ScreenResult("match", 0.93, "w-7")
    to_summary(k, "Eve Mallory")
    k.vm.confirm()
    assert k.vm.screen == "seat"
    assert k.printer.jobs == []
    assert k.outbox.types == ["visitor.checked_in", "visitor.photo", "visitor.agreed", "visitor.screened"]
    visit = k.outbox.one("visitor.checked_in")
    assert isinstance(visit, VisitorCheckedIn)
    assert (visit.badge, visit.badge_format) == (None, None)
    assert k.outbox.one("visitor.screened") == VisitorScreened(
        visit_id=visit.visit_id, result="match", score=0.93, entry_id="w-7"
    )
    view = k.vm.view
    shown = [
        view.title,
        view.prompt,
        view.message,
        view.notice,
        view.error,
        k.vm.closes_in,
        *view.buttons.values(),
    ]
    assert not [text for text in shown if NEUTRAL_FORBIDDEN.search(text)]
    if language == "en":
        assert view.prompt == "Please take a seat, reception will be with you shortly"


def test_a_screening_error_still_prints_and_says_so_to_the_log(k: Kiosk) -> None:
    k.watchlist.broken = True
    to_summary(k)
    k.vm.confirm()
    assert k.vm.screen == "done"
    screened = k.outbox.one("visitor.screened")
    assert isinstance(screened, VisitorScreened)
    assert screened.result == "error"
    assert len(k.printer.jobs) == 1


@pytest.mark.parametrize("broken", [False, True], ids=["printer says no", "printer raises"])
def test_a_failed_print_still_checks_in_and_sends_to_reception(k: Kiosk, broken: bool) -> None:
    k.printer.ok, k.printer.broken = False, broken
    to_summary(k)
    k.vm.confirm()
    assert k.vm.screen == "done"
    assert k.vm.view.message == "Please collect your badge at reception."
    assert "visitor.checked_in" in k.outbox.types


def test_a_printer_that_hangs_never_holds_the_done_screen_and_its_failure_changes_the_message(
    ui: UiThread,
) -> None:
    printers: list[KioskPrinter] = []

    def hung(clock: Clock, outbox: Outbox, _printer: Printer) -> PrintQueue:
        port = TcpPrinterPort("127.0.0.1", silent.port)
        printers.append(KioskPrinter(port, zebra(), printer="kiosk-printer", emit=outbox, answer_timeout=2.0))
        return ui.print_queue(printers[0], clock)

    with SilentPrinter() as silent:
        k = make_kiosk(printing=hung)
        changes: list[str] = []
        k.vm.listen(lambda: changes.append(k.vm.view.message))
        to_summary(k)
        started = time.perf_counter()
        k.vm.confirm()
        assert time.perf_counter() - started < 1.0  # the printer is found silent only after 2 s
        assert (k.vm.screen, k.vm.view.message) == ("done", PRINTING)
        assert k.vm.print_sent_at is None  # not yet reported
        assert k.outbox.types == ["visitor.checked_in", "visitor.photo", "visitor.agreed", "visitor.screened"]
        wait_until(lambda: bool(silent.accepted), 10, "the print worker connecting to the printer")
        k.clock.now += 6
        k.vm.tick()
        assert k.vm.closes_in == "This screen closes in 4 seconds"
        ui.run(1, "the silent printer's report")
        printers[0].close()
    assert (k.vm.screen, k.vm.view.message) == ("done", COLLECT)
    assert changes[-1] == COLLECT
    assert k.vm.closes_in == "This screen closes in 10 seconds"  # the whole time to read where to go
    assert k.vm.print_sent_at == k.vm.confirmed_at  # the worker's clock reading, the test clock unmoved then
    printed = k.outbox.one("badge.printed")
    assert isinstance(printed, BadgePrinted)
    assert (printed.visit_id, printed.ok) == ("VISIT00001", False)
    assert printed.detail == "printer not ready: no answer"


@pytest.mark.parametrize("leaving", ["idle reset", "Done"])
def test_a_print_result_after_the_visitor_left_changes_nothing_on_screen(leaving: str, ui: UiThread) -> None:
    k = make_kiosk(printing=lambda clock, _outbox, printer: ui.print_queue(printer, clock))
    k.printer.ok = False
    k.printer.gate.clear()
    to_summary(k)
    k.vm.confirm()
    assert (k.vm.screen, k.vm.view.message) == ("done", PRINTING)
    if leaving == "Done":
        k.vm.done()
    else:
        k.clock.now += 10
        assert k.vm.tick() is True
    welcome, changes = k.vm.session, []
    k.vm.listen(lambda: changes.append(k.vm.screen))
    k.printer.gate.set()
    ui.run(1, "the late report")
    assert k.vm.session is welcome
    assert changes == []
    assert (k.vm.screen, k.vm.view.message) == ("welcome", "")


def test_two_quick_check_ins_print_in_order_and_each_answer_goes_to_its_own_visit(ui: UiThread) -> None:
    k = make_kiosk(printing=lambda clock, _outbox, printer: ui.print_queue(printer, clock))
    k.printer.ok = False
    k.printer.gate.clear()  # the first badge's print hangs until the gate opens
    to_summary(k)
    k.vm.confirm()
    wait_until(lambda: len(k.printer.jobs) == 1, 10, "the first badge's print to begin")
    k.vm.done()
    k.clock.now += 1
    k.vm.scanned(CODE)
    k.vm.confirm()  # the invited visitor's badge queues behind the first
    assert (k.vm.screen, k.vm.view.message) == ("done", PRINTING)
    assert [job.visit_id for _, job in k.printer.jobs] == ["VISIT00001"]
    k.printer.gate.set()
    wait_until(lambda: ui.calls.qsize() == 2, 10, "both reports")
    assert [(at, job.visit_id) for at, job in k.printer.jobs] == [(1003.0, "VISIT00001"), (1004.0, "v-7f3a")]
    ui.run(1, "the first visitor's report")
    assert k.vm.view.message == PRINTING  # not this visitor's
    assert k.vm.print_sent_at is None
    ui.run(1, "the invited visitor's report")
    assert k.vm.view.message == COLLECT
    assert k.vm.print_sent_at == 1004.0


def test_a_print_queue_that_takes_no_more_says_at_once_to_collect_the_badge(ui: UiThread) -> None:
    def stopped(clock: Clock, _outbox: Outbox, printer: Printer) -> PrintQueue:
        jobs = ui.print_queue(printer, clock)
        jobs.stop()
        return jobs

    k = make_kiosk(printing=stopped)
    to_summary(k)
    k.vm.confirm()
    assert (k.vm.screen, k.vm.view.message) == ("done", COLLECT)
    assert k.printer.jobs == []
    assert "visitor.checked_in" in k.outbox.types


def test_a_check_in_the_outbox_refuses_stays_on_the_summary_and_can_be_retried(k: Kiosk) -> None:
    to_summary(k)
    k.outbox.refuse.add("visitor.checked_in")
    k.vm.confirm()
    assert (k.vm.screen, k.vm.view.error) == (
        "summary",
        "Sorry, that did not work. Please try again or ask at reception.",
    )
    assert k.printer.jobs == []
    k.outbox.refuse.clear()
    k.vm.confirm()
    assert k.vm.screen == "done"
    assert [t for t in k.outbox.types if t == "visitor.checked_in"] == ["visitor.checked_in"]


def test_a_refused_follow_up_event_does_not_undo_the_check_in(k: Kiosk) -> None:
    to_summary(k)
    k.outbox.refuse.add("visitor.photo")
    k.vm.confirm()
    assert k.vm.screen == "done"
    assert k.outbox.types == ["visitor.checked_in", "visitor.agreed", "visitor.screened"]


def test_idle_reset_clears_every_field_photo_stroke_result_and_the_language(k: Kiosk) -> None:
    vm = k.vm
    vm.choose_language("pl")
    vm.toggle_large_text()
    vm.start("walk_in")
    vm.enter("Ada Lovelace")
    vm.enter("ACME")
    vm.search("gr")
    vm.pick("e-1001")
    vm.choose("guest")
    take_photo(k)
    vm.use_photo()
    vm.add_stroke(SIGNATURE)
    assert vm.view.strokes
    assert vm.session.photo
    assert vm.session.hosts
    assert vm.view.large_text
    k.clock.now += 29.9
    assert vm.tick() is False
    k.clock.now += 0.1
    assert vm.tick() is True
    assert vm.session == Session()
    view = vm.view
    assert (view.screen, view.language, view.large_text, view.strokes, view.photo) == (
        "welcome",
        "en",
        False,
        (),
        None,
    )
    assert (view.results, view.summary, view.field_text, view.error, view.notice) == ((), (), "", "", "")
    assert vm.last_touches == 8
    vm.start("walk_in")
    assert vm.view.field_text == ""


def test_typing_keeps_the_kiosk_awake_but_counts_no_touch(k: Kiosk) -> None:
    k.vm.start("walk_in")
    k.vm.enter("Ada")
    k.vm.skip()
    for letters in ("g", "gr", "gra"):
        k.clock.now += 20
        k.vm.search(letters)
        assert k.vm.tick() is False
    assert k.vm.touches == 3
    k.clock.now += 30
    assert k.vm.tick() is True


def test_the_welcome_screen_resets_only_what_a_visitor_changed(k: Kiosk) -> None:
    k.clock.now += 3600
    assert k.vm.tick() is False
    k.vm.choose_language("id")
    assert k.vm.view.title == "Selamat datang"
    k.clock.now += 30
    assert k.vm.tick() is True
    assert k.vm.view.title == "Welcome"


def test_the_final_screens_count_down_to_welcome(k: Kiosk) -> None:
    changes: list[str] = []
    k.vm.listen(lambda: changes.append(k.vm.closes_in))
    k.vm.scanned(BADGE)
    k.vm.skip()
    assert (k.vm.screen, k.vm.closes_in) == ("goodbye", "This screen closes in 10 seconds")
    k.clock.now += 9
    k.vm.tick()
    assert k.vm.closes_in == "This screen closes in 1 second"
    assert changes[-1] == "This screen closes in 1 second"
    k.clock.now += 1
    assert k.vm.tick() is True
    assert k.vm.screen == "welcome"


def test_the_photo_countdown_runs_on_ticks_and_a_retake_starts_it_again(k: Kiosk) -> None:
    vm = k.vm
    vm.start("walk_in")
    vm.enter("Ada")
    vm.skip()
    vm.search("grace")
    vm.pick("e-1001")
    vm.choose("guest")
    seen = [vm.view.countdown]
    for _ in range(6):
        k.clock.now += 0.5
        vm.tick()
        seen.append(vm.view.countdown)
    assert seen == [3, 3, 2, 2, 1, 1, 0]
    assert (vm.view.capture_requested, vm.view.prompt) == (True, "Smile!")
    vm.photo_taken(JPEG, 320, 240)
    assert (vm.view.countdown, vm.view.photo is not None, vm.view.prompt) == (
        None,
        True,
        "Happy with your photo?",
    )
    vm.retake()
    assert (vm.view.countdown, vm.view.photo) == (3, None)


def test_a_camera_that_gives_no_picture_never_blocks(k: Kiosk) -> None:
    vm = k.vm
    vm.start("walk_in")
    vm.enter("Ada")
    vm.skip()
    vm.search("grace")
    vm.pick("e-1001")
    vm.choose("guest")
    for _ in range(3):
        k.clock.now += 1
        vm.tick()
    k.clock.now += 4.9
    vm.tick()
    assert vm.screen == "photo"
    k.clock.now += 0.1
    vm.tick()
    assert (vm.screen, vm.view.notice) == ("agreement", "The camera is not working, so no photo today.")


def test_no_camera_skips_the_photo_step() -> None:
    k = make_kiosk(camera=False)
    k.vm.start("walk_in")
    k.vm.enter("Ada")
    k.vm.skip()
    k.vm.search("grace")
    k.vm.pick("e-1001")
    k.vm.choose("delivery")
    assert k.vm.screen == "agreement"
    assert k.vm.view.agreement_text == "[en] the rules for a delivery"
    assert k.vm.view.can_accept is False
    k.vm.accept()
    assert k.vm.view.error == "Please sign in the box first"
    k.vm.add_stroke(SIGNATURE)
    assert k.vm.view.can_accept is True
    k.vm.accept()
    assert "Photo" not in dict(k.vm.view.summary)
    assert k.vm.view.progress == "Step 6 of 6"


def test_host_search_lists_at_most_six_employees_and_a_host_must_be_picked(k: Kiosk) -> None:
    vm = k.vm
    vm.start("walk_in")
    vm.enter("Ada")
    vm.skip()
    vm.search("G")
    assert k.directory.asked == []
    vm.search("Gr")
    listed = [(row.label, row.detail) for row in vm.view.results]
    assert listed[:2] == [("Grace Hopper", "Research"), ("Greg House", "")]
    assert len(listed) == 6
    vm.search("zz")
    assert (list(vm.view.results), vm.view.no_results) == ([], "No one found. Check the spelling.")
    vm.enter("zz")
    assert vm.view.error == "Please touch your host's name in the list"
    vm.pick("e-9999")
    assert vm.screen == "host"


def test_a_directory_that_cannot_answer_lets_the_host_be_typed(k: Kiosk) -> None:
    k.directory.down = True
    vm = k.vm
    vm.start("walk_in")
    vm.enter("Ada")
    vm.skip()
    vm.search("gra")
    assert (vm.view.host_free_text, vm.view.prompt, vm.view.no_results) == (True, "Type your host's name", "")
    vm.search("g")
    assert vm.view.host_free_text is True
    vm.search("grace h")
    vm.enter("Grace Hopper")
    vm.choose("guest")
    take_photo(k)
    vm.use_photo()
    vm.add_stroke(SIGNATURE)
    vm.accept()
    vm.confirm()
    visit = k.outbox.one("visitor.checked_in")
    assert isinstance(visit, VisitorCheckedIn)
    assert (visit.host_id, visit.host_name) == (None, "Grace Hopper")
    assert vm.view.message == "Your badge is printing… Reception will tell your host."


def test_a_returning_visitor_is_found_masked_and_picked_with_one_touch(k: Kiosk) -> None:
    vm = k.vm
    vm.start("returning")
    vm.search("an")
    assert list(vm.view.results) == []
    vm.search("ana@exa")
    [row] = list(vm.view.results)
    assert (row.label, row.detail) == ("A** K*******", "A*** S** z o.o. · Last visit: 2026-10-01")
    vm.pick(row.key)
    assert vm.screen == "host"
    vm.search("grace")
    vm.pick("e-1001")
    vm.choose("guest")
    take_photo(k)
    vm.use_photo()
    vm.add_stroke(SIGNATURE)
    vm.accept()
    assert dict(vm.view.summary)["Name"] == "A** K*******"  # the entry may be someone else's
    vm.confirm()
    assert vm.touches == 7
    visit = k.outbox.one("visitor.checked_in")
    assert isinstance(visit, VisitorCheckedIn)
    assert (visit.visitor_name, visit.email) == ("Ana Kowalska", "ana@example.org")


def test_a_returning_visitor_without_details_checks_in_as_new(k: Kiosk) -> None:
    k.vm.start("returning")
    k.vm.search("kowalska")
    k.visitors.broken = True
    k.vm.pick("tok-ana")
    assert (k.vm.screen, k.vm.view.notice) == (
        "name",
        "We could not load your details. Please check in as a new visitor.",
    )


def test_check_out_by_scanning_the_badge_is_immediate(k: Kiosk) -> None:
    k.vm.scanned(BADGE.lower())
    assert k.vm.screen == "feedback"
    assert k.outbox.events == [("visitor.checked_out", VisitorCheckedOut(visit_id="v-0042", method="qr"))]
    assert k.vm.touches == 0


def test_check_out_by_name_takes_a_search_a_pick_and_a_confirm(k: Kiosk) -> None:
    vm = k.vm
    vm.start("check_out")
    vm.search("lov")
    [row] = vm.view.results
    assert row.label == "A** L*******"
    vm.pick(row.key)
    assert (vm.screen, vm.view.summary) == ("check_out_confirm", (("Name", "A** L*******"),))
    vm.confirm()
    assert vm.screen == "feedback"
    assert k.outbox.events == [("visitor.checked_out", VisitorCheckedOut(visit_id="v-0042", method="name"))]


@pytest.mark.parametrize(
    ("code", "notice"),
    [
        ("GH1:v-7f3a:wrong-secret", "We could not find that invitation. Please ask at reception."),
        ("GH1:v-other:Zx81-secret", "We could not find that invitation. Please ask at reception."),
        ("FFFFFFFFFFFFFFFF", "We could not find that badge. Please ask at reception."),
        ("https://example.org", "That code is not one of ours. Please ask at reception."),
    ],
)
def test_a_code_the_kiosk_cannot_use_gets_a_friendly_word_on_welcome(
    k: Kiosk, code: str, notice: str
) -> None:
    k.vm.start("invited")
    k.vm.scanned(code)
    assert (k.vm.screen, k.vm.view.notice) == ("welcome", notice)
    assert k.outbox.events == []


def test_an_invitation_code_naming_another_visit_is_refused() -> None:
    k = make_kiosk()
    other = "GH1:v-0000:Zx81-secret"
    k.vm._ports.invitations.codes[other] = INVITE  # type: ignore[attr-defined]
    k.vm.scanned(other)
    assert k.vm.screen == "welcome"


def test_a_scan_in_the_middle_of_a_walk_in_is_ignored(k: Kiosk) -> None:
    k.vm.start("walk_in")
    k.vm.scanned(CODE)
    assert k.vm.screen == "name"


def test_an_agreement_that_cannot_be_read_does_not_stop_the_visitor(k: Kiosk) -> None:
    k.rules.broken = True
    to_summary(k)
    k.vm.confirm()
    agreed = k.outbox.one("visitor.agreed")
    assert isinstance(agreed, VisitorAgreed)
    assert agreed.agreement == "unavailable"


def test_a_photo_too_large_for_the_contract_is_not_sent() -> None:
    k = make_kiosk()
    vm = k.vm
    vm.start("walk_in")
    vm.enter("Ada")
    vm.skip()
    vm.search("grace")
    vm.pick("e-1001")
    vm.choose("guest")
    for _ in range(3):
        k.clock.now += 1
        vm.tick()
    vm.photo_taken(b"\xff" * 140_000, 1920, 1080)
    vm.use_photo()
    vm.add_stroke(SIGNATURE)
    vm.accept()
    vm.confirm()
    visit = k.outbox.one("visitor.checked_in")
    assert isinstance(visit, VisitorCheckedIn)
    assert visit.photo is None
    assert "visitor.photo" not in k.outbox.types
    assert k.printer.jobs[0][1].photo == b"\xff" * 140_000


def test_every_screen_speaks_the_chosen_language(k: Kiosk) -> None:
    k.vm.choose_language("pl")
    assert k.vm.view.buttons[Button.CHECK_IN] == "Zamelduj się"
    k.vm.start("walk_in")
    assert (k.vm.view.title, k.vm.view.progress) == ("Jak się nazywasz?", "Krok 1 z 7")
    k.vm.enter("")
    assert k.vm.view.error == "Wpisz imię i nazwisko"
    k.vm.choose_language("id")
    assert k.vm.view.title == "Siapa nama Anda?"
    assert [c.label for c in k.vm.view.visitor_types] == ["Tamu", "Kontraktor", "Pengiriman", "Wawancara"]


def test_listeners_hear_every_change_until_they_stop(k: Kiosk) -> None:
    seen: list[str] = []
    stop = k.vm.listen(lambda: seen.append(k.vm.screen))
    k.vm.start("walk_in")
    stop()
    k.vm.enter("Ada")
    assert seen == ["name"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"idle_timeout": 0}, "idle_timeout"),
        ({"done_timeout": -1}, "done_timeout"),
        ({"language": "xx"}, "language"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, object], message: str) -> None:
    k = make_kiosk()
    with pytest.raises(ValueError, match=message):
        KioskViewModel(k.outbox, k.vm._ports, **kwargs)  # type: ignore[arg-type]


def test_visit_ids_are_short_unique_and_valid() -> None:
    ids = {new_visit_id() for _ in range(2000)}
    assert len(ids) == 2000
    allowed = set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")  # Crockford base32: no I, L, O, U
    assert all(len(i) == 10 and set(i) <= allowed for i in ids)
