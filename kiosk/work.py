"""Work the kiosk's UI thread must not wait for (network lookups, outbox writes), and where it runs.

The view-model hands a job and what to do with its answer to a `Background`; `Worker` runs the
jobs on its own thread, in the order given, and passes each answer to `deliver` (the window gives
`kiosk.app.on_ui_thread`, so answers reach the view-model on Kivy's thread, in one place).
`RunNow` runs a job at once on the caller's thread (tests and tools drive the view-model like a
function). A job given a `latest` key replaces the job of that key still waiting (typing "G", "Gr",
"Gre" while the service is slow asks for "Gre" once, not three times). No Kivy imported here.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

log = logging.getLogger(__name__)
_T = TypeVar("_T")
Deliver = Callable[[Callable[[], object]], object]
"""Runs a call where the caller lives (`kiosk.app.on_ui_thread`)."""


class Background(Protocol):
    """Runs jobs away from the caller and hands their answers back."""

    def submit(
        self, job: Callable[[], _T], done: Callable[[_T], object], *, latest: str | None = None
    ) -> None:
        """Run `job()`, then `done(answer)` on the caller's side; `latest` replaces a waiting job."""
        ...


class RunNow:
    """`Background` on the caller's thread: `job` and `done` run before `submit` returns."""

    def submit(
        self, job: Callable[[], _T], done: Callable[[_T], object], *, latest: str | None = None
    ) -> None:
        """Run `job()` and `done(answer)` now."""
        done(job())


@dataclass(slots=True)
class _Job:
    job: Callable[[], Any]
    done: Callable[[Any], object]
    latest: str | None


class Worker:
    """`Background` on one thread of its own: jobs in order, answers through `deliver`."""

    def __init__(self, name: str, *, deliver: Deliver | None = None) -> None:
        """Name the thread `name`; without `deliver`, `done` runs on the worker thread."""
        self.name = name
        self._deliver = deliver
        self._jobs: deque[_Job] = deque()
        self._ready = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.replaced = 0
        """Jobs dropped because a newer one of the same `latest` key came first."""

    def submit(
        self, job: Callable[[], _T], done: Callable[[_T], object], *, latest: str | None = None
    ) -> None:
        """Queue `job`; RuntimeError once stopped. The thread starts with the first job."""
        with self._ready:
            if self._stopping:
                raise RuntimeError(f"{self.name} is stopped")
            if latest is not None:
                kept = deque(j for j in self._jobs if j.latest != latest)
                self.replaced += len(self._jobs) - len(kept)
                self._jobs = kept
            self._jobs.append(_Job(job, done, latest))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
            self._ready.notify()

    def stop(self, timeout: float = 10.0) -> bool:
        """Finish the jobs queued (for at most `timeout` s) and end the thread; True if it ended."""
        with self._ready:
            self._stopping = True
            thread = self._thread
            self._ready.notify()
        if thread is None:
            return True
        thread.join(timeout)
        if thread.is_alive():
            log.warning("%s: still busy after %.0f s; left behind", self.name, timeout)
        return not thread.is_alive()

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._jobs and not self._stopping:
                    self._ready.wait()
                if not self._jobs:
                    return
                item = self._jobs.popleft()
            try:
                answer = item.job()
            except Exception:
                log.exception("%s: a job failed; its answer is dropped", self.name)
                continue
            self._hand_back(item.done, answer)

    def _hand_back(self, done: Callable[[Any], object], answer: object) -> None:
        try:
            if self._deliver is None:
                done(answer)
            else:
                self._deliver(lambda: done(answer))
        except Exception:
            log.exception("%s: an answer could not be handed back", self.name)
