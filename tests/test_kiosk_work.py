"""Look-ups and outbox writes off the kiosk's UI thread: the view-model with held jobs, and `Worker`."""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import pytest

from broker.schemas import VisitorCheckedIn, VisitorCheckedOut
from kiosk.work import Worker
from tests.test_kiosk_viewmodel import BADGE, CODE, Kiosk, make_kiosk, to_summary

_T = TypeVar("_T")


class Held:
    """A `Background` whose jobs wait until the test finishes them, in any order it likes."""

    def __init__(self) -> None:
        self.jobs: list[tuple[Callable[[], Any], Callable[[Any], object], str | None]] = []

    def submit(
        self, job: Callable[[], _T], done: Callable[[_T], object], *, latest: str | None = None
    ) -> None:
        self.jobs.append((job, done, latest))

    def finish(self, index: int = 0) -> None:
        """Run job `index` and hand its answer back (as the UI thread would, later)."""
        job, done, _ = self.jobs.pop(index)
        done(job())


def held_kiosk() -> tuple[Kiosk, Held, Held]:
    lookups, records = Held(), Held()
    return make_kiosk(lookups=lookups, records=records), lookups, records


def labels(k: Kiosk) -> list[str]:
    return [row.label for row in k.vm.view.results]


def test_a_search_is_asked_off_the_ui_thread_and_shown_when_it_comes_back() -> None:
    k, lookups, _ = held_kiosk()
    k.vm.start("walk_in")
    k.vm.enter("Ada")
    k.vm.skip()
    k.vm.search("gre")
    assert (k.directory.asked, labels(k)) == ([], [])  # nothing asked on the caller's thread
    assert [latest for _, _, latest in lookups.jobs] == ["search"]
    lookups.finish()
    assert k.directory.asked == ["gre"]
    assert labels(k) == ["Greg House"]


def test_a_stale_search_answer_never_overwrites_a_newer_one() -> None:
    k, lookups, _ = held_kiosk()
    k.vm.start("walk_in")
    k.vm.enter("Ada")
    k.vm.skip()
    k.vm.search("gr")
    k.vm.search("gra")
    lookups.finish(1)  # the newer answer comes first
    assert labels(k) == ["Grace Hopper"]
    lookups.finish(0)  # the older one arrives late: dropped
    assert labels(k) == ["Grace Hopper"]
    assert k.vm.view.field_text == "gra"


def test_a_box_cleared_while_a_search_is_on_its_way_stays_cleared() -> None:
    k, lookups, _ = held_kiosk()
    k.vm.start("check_out")
    k.vm.search("lov")
    k.vm.search("l")  # too short: answered at once, no one asked
    lookups.finish()
    assert labels(k) == []
    assert k.vm.view.field_text == "l"


def test_an_answer_for_a_step_the_visitor_left_is_dropped() -> None:
    k, lookups, _ = held_kiosk()
    k.vm.start("returning")
    k.vm.search("kowalska")
    k.vm.back()
    lookups.finish()
    assert k.vm.screen == "welcome"
    assert labels(k) == []


def test_a_scanned_invitation_is_looked_up_off_the_ui_thread() -> None:
    k, lookups, _ = held_kiosk()
    k.vm.scanned(CODE)
    assert k.vm.screen == "welcome"
    lookups.finish()
    assert k.vm.screen == "invitation"


def test_a_check_in_is_written_off_the_ui_thread_and_touches_wait_for_it() -> None:
    k, lookups, records = held_kiosk()
    k.vm.start("walk_in")
    k.vm.enter("Ada Lovelace")
    k.vm.skip()
    k.vm.search("gr")
    lookups.finish()
    k.vm.pick("e-1001")
    k.vm.choose("guest")
    k.vm.camera_failed()
    k.vm.add_stroke([(0.1, 0.2), (0.5, 0.6), (0.9, 0.3)])
    k.vm.accept()
    assert k.vm.screen == "summary"
    k.vm.confirm()
    assert (k.vm.recording, k.outbox.events, k.vm.screen) == (True, [], "summary")
    k.vm.confirm()  # a second tap while the first is written: not a second check-in
    k.vm.cancel()  # and no way out half-way
    k.clock.now += 60
    assert not k.vm.tick()  # nor an idle reset: the visitor waits on the kiosk
    assert len(records.jobs) == 1
    records.finish()
    assert (k.vm.recording, k.vm.screen) == (False, "done")
    visit = k.outbox.one("visitor.checked_in")
    assert isinstance(visit, VisitorCheckedIn)
    assert visit.visitor_name == "Ada Lovelace"
    assert [badge.visitor_name for _, badge in k.printer.jobs] == ["Ada Lovelace"]


def test_a_check_in_the_outbox_refuses_on_the_worker_stays_on_the_summary() -> None:
    k, lookups, records = held_kiosk()
    k.vm.start("walk_in")
    k.vm.enter("Ada Lovelace")
    k.vm.skip()
    k.vm.search("gr")
    lookups.finish()
    k.vm.pick("e-1001")
    k.vm.choose("guest")
    k.vm.camera_failed()
    k.vm.add_stroke([(0.1, 0.2), (0.5, 0.6), (0.9, 0.3)])
    k.vm.accept()
    k.outbox.refuse.add("visitor.checked_in")
    k.vm.confirm()
    records.finish()
    assert (k.vm.recording, k.vm.screen) == (False, "summary")
    assert k.vm.view.error


def test_a_scanned_badge_is_looked_up_then_checked_out_off_the_ui_thread() -> None:
    k, lookups, records = held_kiosk()
    k.vm.scanned(BADGE)
    lookups.finish()
    assert (k.vm.screen, k.outbox.events) == ("welcome", [])
    records.finish()
    assert k.vm.screen == "feedback"
    assert k.outbox.events == [("visitor.checked_out", VisitorCheckedOut(visit_id="v-0042", method="qr"))]


def test_the_view_model_without_workers_answers_at_once() -> None:
    k = make_kiosk()
    to_summary(k)
    k.vm.confirm()
    assert k.vm.screen == "done"


class Posted:
    """A hand-made 'UI thread': calls handed over by the worker, run when the test says."""

    def __init__(self) -> None:
        self.calls: list[Callable[[], object]] = []
        self.arrived = threading.Semaphore(0)

    def post(self, call: Callable[[], object]) -> None:
        self.calls.append(call)
        self.arrived.release()

    def run_next(self) -> None:
        assert self.arrived.acquire(timeout=10), "the worker handed nothing back"
        self.calls.pop(0)()


def test_a_worker_runs_jobs_in_order_and_hands_answers_back_through_deliver() -> None:
    ui, answers, threads = Posted(), list[int](), list[str]()
    worker = Worker("test-worker", deliver=ui.post)

    def job(n: int) -> int:
        threads.append(threading.current_thread().name)
        return n * 10

    for n in (1, 2, 3):
        worker.submit(partial(job, n), answers.append)
    for _ in range(3):
        ui.run_next()
    assert answers == [10, 20, 30]
    assert threads == ["test-worker"] * 3
    assert worker.stop(5)
    with pytest.raises(RuntimeError, match="stopped"):
        worker.submit(lambda: 0, answers.append)


def test_a_newer_search_replaces_the_ones_still_waiting_and_a_failing_job_stops_nothing() -> None:
    ui, answers = Posted(), list[str]()
    worker = Worker("test-worker", deliver=ui.post)
    started, release = threading.Event(), threading.Event()

    def busy() -> str:
        started.set()
        assert release.wait(10)
        return "busy"

    def broken() -> str:
        raise ValueError("bad answer")

    worker.submit(busy, answers.append, latest="search")
    assert started.wait(10)  # the first search is being asked: it is not replaced
    worker.submit(broken, answers.append)
    for text in ("g", "gr", "gre"):
        worker.submit(partial(str, text), answers.append, latest="search")
    release.set()
    ui.run_next()
    ui.run_next()
    assert worker.stop(5)
    assert answers == ["busy", "gre"]
    assert worker.replaced == 2
