"""The central service: stores every event once, keeps device status, dead letters and watermarks.

Nothing one message holds may stop it: every step on one message (decoding, sorting, storing,
the back office's handling) is guarded, and what fails on one message makes it a dead letter.
A batch the database refuses is stored in halves until the one event at fault is found; a
database that is down keeps the old behaviour (nothing acked, sources resend). The writer
thread is supervised and restarted if it stops anyway.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from datetime import UTC, datetime
from functools import partial

from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError

from broker import topics
from broker.bus import Bus
from broker.config import MqttUrl
from broker.events import Event, encode, make_event
from broker.messages import Ack, Status
from broker.schemas import ClockSkewed, Data, DeliveryGap, DeliveryReset
from security.ingest.console import ConsoleFeed
from security.ingest.health import IngestHealth, SkewWatch, Stats
from security.ingest.sorting import Letter, Work
from security.ingest.watermarks import Watermarks
from security.office.engine import BackOffice, Effects
from security.office.runtime import Host, OfficeRuntime, Step
from security.storage import BatchResult, EventStore, Rejected, insert_batch, put_watermarks
from security.storage.batch import first_line
from security.storage.records import Stream

log = logging.getLogger(__name__)

__all__ = ["MAX_CLOCK_SKEW_S", "SERVICE_DEVICE", "CentralService", "IngestHealth", "Stats"]

SERVICE_DEVICE = "central"
WAKE = ("", b"")
"""Put in the inbox to wake the writer for a call; never stored."""
MAX_HELD = 10_000
"""Dead letters held in memory while the store is down; beyond that the oldest are let go."""
MAX_CLOCK_SKEW_S = 300.0
"""How far a device's event time may be from the service's receive time before it is flagged."""
STALLED_S = 30.0
"""A writer that has not come round its loop for this long is reported as not running."""
RESTART_DELAY_S = 1.0
OUTAGES = (OperationalError, InterfaceError, DisconnectionError)
"""What the database raises when it is down or unreachable, rather than refusing one message."""


class CentralService:
    """Subscribes to every event and status of a site, stores them in batches, then acks."""

    def __init__(
        self,
        url: MqttUrl,
        store: EventStore,
        *,
        site: str,
        client_id: str | None = None,
        batch_size: int = 1000,
        linger: float = 0.02,
        linger_gap: float = 0.002,
        gap_timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        office: Callable[[Host], OfficeRuntime] | None = None,
        tick_s: float = 1.0,
        kinds: Callable[[str], str | None] | None = None,
        max_clock_skew_s: float = MAX_CLOCK_SKEW_S,
    ) -> None:
        """Wire the service to a broker and a store; nothing connects before `start()`.

        `office` builds the back office (access decisions, alarms) on this service; without it
        the service only keeps the log. `kinds` gives a device's principal kind (None: not a
        principal); an event its kind may not emit is a dead letter. Without it (an anonymous
        broker) every event is believed. An event whose device time is more than
        `max_clock_skew_s` from the receive time is stored but flagged (`clock.skewed`).
        """
        self.site = site
        self.store = store
        self.stats = Stats()
        self._batch_size = batch_size
        self._linger = linger
        self._linger_gap = linger_gap
        self._gap_timeout = gap_timeout
        self._clock = clock
        self._inbox: queue.SimpleQueue[tuple[str, bytes] | None] = queue.SimpleQueue()
        self._own_source = topics.source(site, SERVICE_DEVICE)
        self._console = ConsoleFeed(store, site)
        self._own_seq = 0
        self._skew = SkewWatch(max_clock_skew_s)
        self._marks: Watermarks[Stream] = Watermarks()
        self._current: dict[str, str] = {}  # per source, the incarnation its acks are for
        self._resets_told: set[Stream] = set()
        self._marks_stale = True  # reload from the store before trusting them
        self._republish = threading.Event()  # set on (re)connection: say every watermark again
        self._last_ack: dict[Stream, float] = {}
        self._beat = clock()  # the writer's last time round its loop
        self._last_batch: float | None = None
        self._crashed = False
        self._reviving = threading.Lock()
        self._stop = threading.Event()
        self._store_failing = False
        # what nobody would send again if a batch fails: held for the next try (writer thread only)
        self._own: list[Event] = []
        self._held_dead: list[Letter] = []
        self._held_status: dict[str, Status] = {}
        self._thread: threading.Thread | None = None
        self._calls: queue.SimpleQueue[tuple[Step, Future[Effects]]] = queue.SimpleQueue()
        self._emits: queue.SimpleQueue[tuple[str, Data, Future[Event]]] = queue.SimpleQueue()
        self._waiting: list[tuple[Event, Future[Event]]] = []  # own events asked for, not yet committed
        self._tick_s = tick_s
        self._kind_of = kinds  # the service's own device never gets this far: see Work.reserved
        self.bus = Bus(
            url, client_id=client_id or f"{SERVICE_DEVICE}@{site}", site=site, device=SERVICE_DEVICE,
            kind="service", persistent=True,
        )
        self.office = office(self) if office is not None else None

    def start(self) -> None:
        """Load watermarks, subscribe and start the writer thread."""
        self._load_marks()
        self._console.resume()
        self._own_seq = self.store.next_own_seq(self._own_source) - 1
        if self.office is not None:
            self.office.load(datetime.now(UTC))
        self.bus.subscribe(topics.all_events(self.site), self._enqueue)
        self.bus.subscribe(topics.all_statuses(self.site), self._enqueue)
        self.bus.on_connect(self._republish.set)
        self._thread = threading.Thread(target=self._supervise, name="central-writer", daemon=True)
        self._thread.start()
        self.bus.start()

    def stop(self) -> None:
        """Store and acknowledge what was received, then disconnect."""
        self._stop.set()
        self._inbox.put(None)
        if self._thread:
            self._thread.join(timeout=30)
        self.bus.stop()

    def health(self) -> IngestHealth:
        """Ingest as it is now (any thread): running, storing, the last batch's age, the inbox depth."""
        now = self._clock()
        thread = self._thread
        running = (thread is not None and thread.is_alive() and not self._stop.is_set()
                   and now - self._beat < STALLED_S)
        age = None if self._last_batch is None else max(0.0, now - self._last_batch)
        return IngestHealth(running, not self._store_failing, age, self._inbox.qsize(), self.stats.restarts)

    def _load_marks(self) -> None:
        marks = self.store.load_watermarks()
        self._marks = Watermarks(marks)
        for (source, inc), mark in marks.items():
            self._marks.restore((source, inc), self.store.stored_seqs_above(source, mark, inc))
        self._current = self.store.current_incarnations()
        self._marks_stale = False

    def make_own(self, event_type: str, data: Data) -> Event:
        """A new event of the service's own source (the caller stores it; writer thread only)."""
        self._own_seq += 1
        return make_event(self.site, SERVICE_DEVICE, event_type, self._own_seq, data)

    def _emit_own(self, event_type: str, data: Data) -> None:
        """Record an event of the service's own: stored with the next batch, then published."""
        self._own.append(self.make_own(event_type, data))

    def emit(self, event_type: str, data: Data) -> Future[Event]:
        """Put an event of the service's own into the log (any thread): stored with the next batch, seen
        by the back office there like a device's, and published after its commit; the event, once stored.
        """
        future: Future[Event] = Future()
        self._emits.put((event_type, data, future))
        self._inbox.put(WAKE)
        return future

    def _take_emits(self) -> None:
        """Make the events asked for by `emit` (writer thread): they join the next batch."""
        while not self._emits.empty():
            event_type, data, future = self._emits.get_nowait()
            if future.set_running_or_notify_cancel():  # else the caller gave up and did without
                event = self.make_own(event_type, data)
                self._own.append(event)
                self._waiting.append((event, future))

    def call(self, step: Step) -> Future[Effects]:
        """Run a back-office step (a person's action) on the writer thread; its effects, once stored."""
        if self.office is None:
            raise RuntimeError("this service runs no back office")
        future: Future[Effects] = Future()
        self._calls.put((step, future))
        self._inbox.put(WAKE)
        return future

    def _enqueue(self, topic: str, payload: bytes) -> None:
        self._inbox.put((topic, payload))
        writer = self._thread
        if writer is not None and not writer.is_alive() and not self._stop.is_set():
            self._revive()

    def _revive(self) -> None:
        """Start the writer again after its thread ended on something its own loop could not catch."""
        with self._reviving:
            writer = self._thread
            if writer is None or writer.is_alive() or self._stop.is_set():
                return
            self.stats.restarts += 1
            if not self._crashed:
                log.error("the central writer thread ended; starting it again")
            self._crashed = True
            self._marks_stale = True
            self._thread = threading.Thread(target=self._supervise, name="central-writer", daemon=True)
            self._thread.start()

    def _supervise(self) -> None:
        """Run the writer; if it stops on an error anyway, log it once and start it again."""
        while True:
            try:
                self._run()
                return
            except Exception as exc:
                self.stats.restarts += 1
                if not self._crashed:
                    log.exception("the central writer stopped (%s: %s); restarting it",
                                  type(exc).__name__, first_line(exc))
                self._crashed = True
                self._marks_stale = True
                if self._stop.wait(RESTART_DELAY_S) and self._inbox.empty():
                    self._fail_calls()
                    return

    def _run(self) -> None:
        next_gap_check = next_tick = self._clock() + 1.0
        while True:
            self._beat = self._clock()
            batch, stopping = self._take_batch(timeout=min(0.5, self._tick_s))
            self._take_emits()
            if batch or self._own or self._held_dead or self._held_status:
                self._process(batch)
            if self._republish.is_set() and not self._marks_stale:
                self._republish.clear()
                # one retained watermark per device: its current incarnation's
                self._publish_acks({s: m for s, m in self._marks.marks().items()
                                    if self._current.get(s[0], s[1]) == s[1]})
            self._run_calls()
            if stopping:
                self._fail_calls()
                return
            if self._clock() >= next_gap_check:
                next_gap_check = self._clock() + 1.0
                self._check_gaps()
                self._console.take(self.office, self.bus)
            if self.office is not None and self._clock() >= next_tick:
                next_tick = self._clock() + self._tick_s
                self._tick(self.office)

    def _run_calls(self) -> None:
        while self.office is not None and not self._calls.empty():
            step, future = self._calls.get_nowait()
            if not future.set_running_or_notify_cancel():
                continue  # the caller gave up waiting and did without
            try:
                future.set_result(self.office.transact(step, datetime.now(UTC), self.bus))
            except Exception as exc:
                future.set_exception(exc)

    def _fail_calls(self) -> None:
        self._take_emits()
        waiting, self._waiting = self._waiting, []
        for _, emitted in waiting:  # held by a batch that failed: never stored
            emitted.set_exception(RuntimeError("the central service stopped"))
        while not self._calls.empty():
            future = self._calls.get_nowait()[1]
            if future.set_running_or_notify_cancel():
                future.set_exception(RuntimeError("the central service stopped"))

    def _tick(self, office: OfficeRuntime) -> None:
        """The back office's clock-driven work: shelve expiry, escalation, silent devices, closing time."""
        now = datetime.now(UTC)
        try:
            with self.store.engine.begin() as conn:
                office.refresh_directory(conn)
            office.transact(lambda o: o.tick(now), now, self.bus)
        except Exception as exc:
            if not self._store_failing:
                log.error("back office cannot store its work: %s; trying again", first_line(exc))
            self._store_failing = True

    def _take_batch(self, timeout: float) -> tuple[list[tuple[str, bytes]], bool]:
        """Block for the first message, then gather more for up to `linger` seconds (group commit).

        Gathering stops early when nothing more arrives for `linger_gap` seconds: a lone badge read
        is stored (and decided) at once, a burst still goes in large batches.
        """
        try:
            item = self._inbox.get(timeout=timeout)
        except queue.Empty:
            return [], self._stop.is_set()
        batch: list[tuple[str, bytes]] = []
        deadline = self._clock() + self._linger
        while item is not None:
            if item is not WAKE:
                batch.append(item)
            if len(batch) >= self._batch_size:
                return batch, False
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                left = deadline - self._clock()
                if left <= 0 or self._stop.is_set():
                    return batch, False
                try:
                    item = self._inbox.get(timeout=min(left, self._linger_gap))
                except queue.Empty:
                    return batch, False
        return batch, True

    def _process(self, batch: list[tuple[str, bytes]]) -> None:
        now = datetime.now(UTC)
        work = Work(own=self._own, dead=self._held_dead, statuses=self._held_status, now=now,
                    kind_of=self._kind_of, reserved=frozenset({self._own_source, self._console.source}))
        self._own, self._held_dead, self._held_status = [], [], {}
        for topic, payload in batch:
            self.stats.received += 1
            work.classify(topic, payload)
        self._note_skew(work)
        work.events.extend(work.own)
        try:
            self._store(work, now)
        except Exception as exc:
            # the store is down or full: nothing is acked, so the sources keep and resend their
            # events; what nobody resends is held for the next try
            if not self._store_failing:
                log.error("cannot store events: %s; sources keep theirs and will resend", first_line(exc))
            self._store_failing = True
            self._marks_stale = True  # the batch may have moved them before its commit failed
            self._own = work.own
            if len(work.dead) > MAX_HELD:
                log.warning("holding only the newest %d of %d dead letters", MAX_HELD, len(work.dead))
            self._held_dead = work.dead[-MAX_HELD:]
            self._held_status = work.statuses
            if self.office is not None:
                self.office.rolled_back()
            self._stop.wait(1.0)
            return
        self._last_batch = self._clock()
        self._crashed = False
        if self._store_failing:
            self._store_failing = False
            log.info("storing events again")
        for event in work.own:
            self.bus.publish(event.topic, encode(event), qos=1)
        waiting, self._waiting = self._waiting, []
        for event, emitted in waiting:
            emitted.set_result(event)
        if self.office is not None:
            self.office.published(self.bus, datetime.now(UTC))

    def _store(self, work: Work, now: datetime) -> None:
        if self._marks_stale:
            self._load_marks()
        if work.claims:
            work.refuse_claims(self.store.stored_as_is([event for event, _, _ in work.claims]))
        self._learn_streams(work)
        moved: dict[Stream, int] = {}
        touched: set[Stream] = set()
        # statuses first: a station's first request may come in the same batch as its status
        self._store_statuses(work, now)
        if work.events or work.poisoned:
            try:
                self._store_events(work.events, work.poisoned, now, moved, touched)
            except OUTAGES:
                raise
            except Exception as exc:  # one event the database or the back office cannot take
                log.warning("a batch of %d event(s) failed (%s: %s); storing it in halves to find the "
                            "one at fault", len(work.events), type(exc).__name__, first_line(exc))
                self._load_marks()  # the failed try may have moved them in memory
                self._split(work, work.events, now, moved, touched)
                self._store_events([], work.poisoned, now, moved, touched)
        if work.dead:
            self.store.add_dead_letters(work.dead, now)
            self.stats.dead_letters += len(work.dead)
            first = work.dead[0]
            # what a sender wrote is logged escaped (%r): a newline in it cannot forge a log line
            log.warning("%d dead letter(s) kept; first on %r: %r", len(work.dead), first[0], first[2])
        self.stats.batches += 1
        # a source that sends what is already stored did not get our ack: say it again (at most
        # once a second per source), or it would resend for ever
        clock = self._clock()
        again = {s: self._marks.get(s) for s in touched - moved.keys()
                 if clock - self._last_ack.get(s, -1e9) >= 1.0}
        self._publish_acks({**again, **moved})

    def _store_events(
        self, events: list[Event], poisoned: dict[Stream, set[int]], now: datetime,
        moved: dict[Stream, int], touched: set[Stream],
    ) -> None:
        """Store `events` in one transaction with the back office's work on them and the watermarks
        they (and `poisoned`) move: the batch, then the back office's step, then the watermarks."""
        with self.store.transaction() as conn:
            outcome = insert_batch(conn, events, now)
            if self.office is not None:
                self.office.on_batch(conn, outcome.stored, now)
            changed, seen = self._advance(outcome, poisoned)
            put_watermarks(conn, changed)
        # committed: only now may these watermarks be published
        moved.update(changed)
        touched.update(seen)
        for source, incarnation in changed:  # a watermark that moved is its source's current one
            self._current[source] = incarnation
        # the store keeps conflicting events as dead letters itself
        self.stats.stored += len(outcome.stored)
        self.stats.duplicates += len(outcome.duplicates)
        self.stats.dead_letters += len(outcome.conflicts)
        if self.office is not None:  # committed: send the doors their commands now
            self.office.published(self.bus, now)

    def _advance(
        self, result: BatchResult, poisoned: dict[Stream, set[int]]
    ) -> tuple[dict[Stream, int], set[Stream]]:
        """Move the watermarks in memory by what `result` occupies: those that moved, and every stream seen.

        A dead-lettered event with a sound envelope fills its seq too, or the mark would stick. The
        caller saves them in the batch's transaction and publishes them only after its commit.
        """
        changed: dict[Stream, int] = {}
        seen: set[Stream] = set()
        clock = self._clock()
        taken = result.occupied()
        for stream, seqs in poisoned.items():
            taken.setdefault(stream, set()).update(seqs)
        for stream, seqs in taken.items():
            if stream[0] == self._own_source:
                continue  # the back office writes its own events outside the batch's result
            seen.add(stream)
            if self._marks.add(stream, seqs, clock):
                changed[stream] = self._marks.get(stream)
        return changed, seen

    def _split(
        self, work: Work, events: list[Event], now: datetime, moved: dict[Stream, int], touched: set[Stream],
    ) -> None:
        """Store `events` in halves until the one that fails alone is found; it becomes a dead letter."""
        if not events:
            return
        try:
            self._store_events(events, {}, now, moved, touched)
            return
        except OUTAGES:
            raise
        except Exception as exc:
            if len(events) > 1:
                self._load_marks()
                middle = len(events) // 2
                self._split(work, events[:middle], now, moved, touched)
                self._split(work, events[middle:], now, moved, touched)
                return
            self.store.ping()  # the database itself failing is an outage, not this event's fault
            self._load_marks()
            event = events[0]
            topic, payload = work.raw.get(event.id, (event.topic, b""))
            reason = f"could not be stored or handled: {type(exc).__name__}: {first_line(exc)}"
            log.warning("event %r of %s: %r", event.id, event.source, reason)
            work.dead.append(Rejected(topic, payload, reason, event.source))
            if event.source != self._own_source:
                work.poisoned.setdefault(_stream(event), set()).add(event.seq)

    def _store_statuses(self, work: Work, now: datetime) -> None:
        for source, status in work.statuses.items():
            try:
                self.store.set_status(source, status, now)
                self._note_status(source, status)
                if self.office is not None and source != self._own_source:
                    self.office.transact(partial(BackOffice.on_status, source=source, status=status, now=now),
                                         now, self.bus)
            except OUTAGES:
                raise
            except Exception as exc:  # this one status cannot be taken: keep it, go on
                topic, payload = work.raw_status.get(source, (f"{source}/status", status.encode()))
                reason = f"status not stored or handled: {type(exc).__name__}: {first_line(exc)}"
                work.dead.append(Rejected(topic, payload, reason, source))
                continue
            self.stats.statuses += 1

    def _learn_streams(self, work: Work) -> None:
        """Learn what is stored of streams first seen since start; report a source that started over."""
        for stream in {_stream(e) for e in work.events} - self._marks.marks().keys():
            source, incarnation = stream
            if source == self._own_source:
                continue
            stored = self.store.stored_seqs_above(source, 0, incarnation)
            self._marks.restore(stream, stored)
            if stored or stream in self._resets_told:
                continue
            before = {i for s, i in self._marks.marks() if s == source} | self.store.incarnations_of(source)
            before.discard(incarnation)
            self._current[source] = incarnation
            if not before:
                continue  # a source seen for the first time
            self._resets_told.add(stream)
            first = min(e.seq for e in work.events if _stream(e) == stream)
            self.stats.resets += 1
            earlier = ", ".join(sorted(i or "(none)" for i in before))
            log.warning("%s started over: new incarnation %s (before: %s), its seq counts from %d again",
                        source, incarnation or "(none)", earlier, first)
            reset = self.make_own("delivery.reset", DeliveryReset(
                for_source=source, incarnation=incarnation or "none", previous=sorted(before)[:16],
                first_seq=first))
            work.own.append(reset)
            work.events.append(reset)

    def _note_skew(self, work: Work) -> None:
        """Flag sources whose clock is off by more than the allowed skew (logged once per source)."""
        for source, (event_time, received, skew) in work.skew.items():
            change = self._skew.observe(source, skew)
            if change is False:
                log.info("%s: its clock agrees with ours again", source)
            elif change and source != self._own_source:
                log.warning("%s: its clock is %+.0f s from ours; its events are kept, dated by our receive "
                            "time", source, skew)
                work.own.append(self.make_own("clock.skewed", ClockSkewed(
                    for_source=source, skew_s=round(skew, 3), device_time=event_time, received_at=received)))

    def _publish_acks(self, marks: dict[Stream, int]) -> None:
        """Publish watermarks; each carries its incarnation, and a device heeds only its own."""
        now = self._clock()
        for (source, incarnation), mark in marks.items():
            _, site, device = source.split("/")
            self.bus.publish(topics.ack(site, device), Ack(mark, incarnation).encode(), qos=1, retain=True)
            self._last_ack[(source, incarnation)] = now

    def _note_status(self, source: str, status: Status) -> None:
        if source == self._own_source:
            return
        if status.state == "offline" and source not in self.stats.offline:
            self.stats.offline.add(source)
            log.warning("%s is offline (%r)", source, status.detail or "no reason given")
        elif status.state == "online" and source in self.stats.offline:
            self.stats.offline.discard(source)
            log.info("%s is back online", source)

    def _check_gaps(self) -> None:
        for gap in self._marks.overdue(self._clock(), self._gap_timeout):
            self.stats.gaps += 1
            source, incarnation = gap.source
            log.warning("%s%s: seq %d-%d missing for %.0fs", source,
                        f" ({incarnation})" if incarnation else "", gap.first, gap.last, self._gap_timeout)
            self._emit_own(
                "delivery.gap",
                DeliveryGap(for_source=source, missing_from=gap.first, missing_to=gap.last),
            )


def _stream(event: Event) -> Stream:
    return (event.source, event.incarnation)
