"""The one print worker: a thread that owns a printer and takes its jobs in order, never the caller's.

The device agent (`devices.printers.agent.PrinterAgent`) and the kiosk (`kiosk.printer.PrintQueue`)
both print through it: jobs run one after another on the worker thread, in the order submitted;
with `idle`, the worker calls it at start and whenever `idle_s` passes with no job (the agent polls
the printer's status so). A job or an idle call that raises is handed to `on_error`, logged, and
the worker goes on.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from functools import partial
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

JobT = TypeVar("JobT")


class PrintWorker(Generic[JobT]):
    """Run `work(job)` for each submitted job on one thread, in order; `idle()` between them."""

    def __init__(
        self,
        work: Callable[[JobT], object],
        *,
        name: str,
        idle: Callable[[], object] | None = None,
        idle_s: float | None = None,
        on_error: Callable[[JobT | None, Exception], object] | None = None,
    ) -> None:
        """A worker named `name` (its thread's name); nothing runs until `start()` or `submit()`."""
        if (idle is None) != (idle_s is None) or (idle_s is not None and idle_s <= 0):
            raise ValueError("give idle and idle_s > 0 seconds together, or neither")
        self.name = name
        self._work, self._idle, self._idle_s, self._on_error = work, idle, idle_s, on_error
        self._jobs: queue.Queue[JobT | None] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._stopped = False

    @property
    def started(self) -> bool:
        """True once the worker thread was started."""
        return self._thread is not None

    def start(self) -> None:
        """Start the worker thread (RuntimeError if it was started or stopped before)."""
        with self._lock:
            if self._thread is not None or self._stopped:
                raise RuntimeError(f"{self.name} already started")
            self._start()

    def submit(self, job: JobT, *, start: bool = False) -> None:
        """Queue `job` behind those still waiting; `start` starts the worker if it is not running."""
        with self._lock:
            if self._stopped:
                raise RuntimeError(f"{self.name} is stopped")
            if start and self._thread is None:
                self._start()
            self._jobs.put(job)

    def stop(self, timeout: float, *, finish_queued: bool = True) -> list[JobT]:
        """End the worker, after the queued jobs or only the running one; the jobs left undone.

        With `finish_queued`, the worker runs what was queued first; without it, it ends after
        the job it is running and the rest are returned. Waits at most `timeout` seconds for the
        thread; `ended` says whether it did.
        """
        with self._lock:
            self._stopped = True
            thread = self._thread
            if not finish_queued:
                self._stopping.set()
            self._jobs.put(None)
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                log.warning("%s: still printing after %.0f s; left behind", self.name, timeout)
                return []
        return self._left()

    @property
    def ended(self) -> bool:
        """True if the worker was never started or its thread has ended."""
        return self._thread is None or not self._thread.is_alive()

    def _start(self) -> None:
        """Start the thread (the lock is held)."""
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def _left(self) -> list[JobT]:
        """The jobs still queued (never run), in order."""
        left: list[JobT] = []
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return left
            if job is not None:
                left.append(job)

    def _run(self) -> None:
        """Worker: run the jobs in order; `idle()` at start and after `idle_s` with no job."""
        if self._idle is not None:
            self._safely(self._idle, None)
        while not self._stopping.is_set():
            try:
                job = self._jobs.get(timeout=self._idle_s)
            except queue.Empty:
                if self._idle is not None:
                    self._safely(self._idle, None)
                continue
            if job is None:
                return
            self._safely(partial(self._work, job), job)

    def _safely(self, call: Callable[[], object], job: JobT | None) -> None:
        """One step of the worker; a surprise is logged and handed to `on_error`, never the end of it."""
        try:
            call()
        except Exception as exc:
            log.exception("%s: unexpected failure; going on", self.name)
            if self._on_error is not None:
                try:
                    self._on_error(job, exc)
                except Exception:
                    log.exception("%s: reporting a failure failed", self.name)
