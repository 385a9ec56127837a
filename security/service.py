"""The central service: stores every event once, keeps device status, dead letters and watermarks."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial

from sqlalchemy import Connection

from broker import topics
from broker.bus import Bus
from broker.config import MqttUrl
from broker.events import ContractError, Event, decode, encode, make_event
from broker.kinds import Kind, refusal
from broker.messages import Ack, Status
from broker.schemas import Data, DeliveryGap
from security.backoffice.engine import BackOffice, Effects
from security.backoffice.runtime import Host, OfficeRuntime, Step
from security.storage import BatchResult, EventStore
from security.storage.batch import first_line
from security.watermarks import Watermarks

log = logging.getLogger(__name__)

SERVICE_DEVICE = "central"
WAKE = ("", b"")
"""Put in the inbox to wake the writer for a call; never stored."""
MAX_HELD = 10_000
"""Dead letters held in memory while the store is down; beyond that the oldest are let go."""


@dataclass(slots=True)
class Stats:
    """Counters of what the service has done since it started."""

    received: int = 0
    stored: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    statuses: int = 0
    batches: int = 0
    gaps: int = 0
    offline: set[str] = field(default_factory=set)


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
    ) -> None:
        """Wire the service to a broker and a store; nothing connects before `start()`.

        `office` builds the back office (access decisions, alarms) on this service; without it
        the service only keeps the log. `kinds` gives a device's principal kind (None: not a
        principal); an event its kind may not emit is a dead letter. Without it (an anonymous
        broker) every event is believed.
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
        self._own_seq = 0
        self._marks = Watermarks()
        self._marks_stale = True  # reload from the store before trusting them
        self._republish = threading.Event()  # set on (re)connection: say every watermark again
        self._last_ack: dict[str, float] = {}
        self._stop = threading.Event()
        self._store_failing = False
        # what nobody would send again if a batch fails: held for the next try (writer thread only)
        self._own: list[Event] = []
        self._held_dead: list[Letter] = []
        self._held_status: dict[str, Status] = {}
        self._thread: threading.Thread | None = None
        self._calls: queue.SimpleQueue[tuple[Step, Future[Effects]]] = queue.SimpleQueue()
        self._tick_s = tick_s
        self._kind_of = None if kinds is None else partial(_kind_of, kinds)
        self.bus = Bus(
            url, client_id=client_id or f"{SERVICE_DEVICE}@{site}", site=site, device=SERVICE_DEVICE,
            kind="service", persistent=True,
        )
        self.office = office(self) if office is not None else None

    def start(self) -> None:
        """Load watermarks, subscribe and start the writer thread."""
        self._load_marks()
        self._own_seq = self.store.next_own_seq(self._own_source) - 1
        if self.office is not None:
            self.office.load(datetime.now(UTC))
        self.bus.subscribe(topics.all_events(self.site), self._enqueue)
        self.bus.subscribe(topics.all_statuses(self.site), self._enqueue)
        self.bus.on_connect(self._republish.set)
        self._thread = threading.Thread(target=self._run, name="central-writer", daemon=True)
        self._thread.start()
        self.bus.start()

    def stop(self) -> None:
        """Store and acknowledge what was received, then disconnect."""
        self._stop.set()
        self._inbox.put(None)
        if self._thread:
            self._thread.join(timeout=30)
        self.bus.stop()

    def _load_marks(self) -> None:
        marks = self.store.load_watermarks()
        self._marks = Watermarks(marks)
        for source, mark in marks.items():
            self._marks.restore(source, self.store.stored_seqs_above(source, mark))
        self._marks_stale = False

    def make_own(self, event_type: str, data: Data) -> Event:
        """A new event of the service's own source (the caller stores it; writer thread only)."""
        self._own_seq += 1
        return make_event(self.site, SERVICE_DEVICE, event_type, self._own_seq, data)

    def _emit_own(self, event_type: str, data: Data) -> None:
        """Record an event of the service's own: stored with the next batch, then published."""
        self._own.append(self.make_own(event_type, data))

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

    def _run(self) -> None:
        next_gap_check = next_tick = self._clock() + 1.0
        while True:
            batch, stopping = self._take_batch(timeout=min(0.5, self._tick_s))
            if batch or self._own or self._held_dead or self._held_status:
                self._process(batch)
            if self._republish.is_set() and not self._marks_stale:
                self._republish.clear()
                self._publish_acks(self._marks.marks())
            self._run_calls()
            if stopping:
                self._fail_calls()
                return
            if self._clock() >= next_gap_check:
                next_gap_check = self._clock() + 1.0
                self._check_gaps()
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
        work = _Work(own=self._own, dead=self._held_dead, statuses=self._held_status, kind_of=self._kind_of)
        self._own, self._held_dead, self._held_status = [], [], {}
        for topic, payload in batch:
            self.stats.received += 1
            work.classify(topic, payload)
        work.events.extend(work.own)
        try:
            self._store(work, datetime.now(UTC))
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
            time.sleep(1.0)
            return
        if self._store_failing:
            self._store_failing = False
            log.info("storing events again")
        for event in work.own:
            self.bus.publish(event.topic, encode(event), qos=1)
        if self.office is not None:
            self.office.published(self.bus, datetime.now(UTC))

    def _store(self, work: _Work, now: datetime) -> None:
        if self._marks_stale:
            self._load_marks()
        for source in {e.source for e in work.events}:
            if source not in self._marks:  # first sight since start: learn what is stored
                self._marks.restore(source, self.store.stored_seqs_above(source, 0))
        moved: dict[str, int] = {}
        touched: set[str] = set()

        def advance(result: BatchResult) -> dict[str, int]:
            # runs inside the batch's transaction, so watermarks commit with the events; a
            # dead-lettered event with a sound envelope fills its seq too, or the mark would stick
            clock = self._clock()
            taken = result.occupied()
            for source, seqs in work.poisoned.items():
                taken.setdefault(source, set()).update(seqs)
            for source, seqs in taken.items():
                if source == self._own_source:
                    continue  # the back office writes its own events outside the batch's result
                touched.add(source)
                if self._marks.add(source, seqs, clock):
                    moved[source] = self._marks.get(source)
            return moved

        def within(conn: Connection, result: BatchResult) -> None:
            if self.office is not None:
                self.office.on_batch(conn, result.stored, now)

        # statuses first: a station's first request may come in the same batch as its status
        self._store_statuses(work.statuses, now)
        outcome = None
        if work.events or work.poisoned:
            outcome = self.store.store_batch(work.events, now, watermarks=advance, within=within)
            # the store keeps conflicting events as dead letters itself
            self.stats.stored += len(outcome.stored)
            self.stats.duplicates += len(outcome.duplicates)
            self.stats.dead_letters += len(outcome.conflicts)
            if self.office is not None:  # committed: send the doors their commands now
                self.office.published(self.bus, now)
        if work.dead:
            self.store.add_dead_letters(work.dead, now)
            self.stats.dead_letters += len(work.dead)
            first = work.dead[0]
            log.warning("%d dead letter(s) kept; first on %s: %s", len(work.dead), first[0], first[2])
        self.stats.batches += 1
        # a source that sends what is already stored did not get our ack: say it again (at most
        # once a second per source), or it would resend for ever
        clock = self._clock()
        again = {s: self._marks.get(s) for s in touched - moved.keys()
                 if clock - self._last_ack.get(s, -1e9) >= 1.0}
        self._publish_acks({**again, **moved})

    def _store_statuses(self, statuses: dict[str, Status], now: datetime) -> None:
        for source, status in statuses.items():
            self.store.set_status(source, status, now)
            self._note_status(source, status)
            if self.office is not None and source != self._own_source:
                self.office.transact(partial(BackOffice.on_status, source=source, status=status, now=now),
                                     now, self.bus)
        self.stats.statuses += len(statuses)

    def _publish_acks(self, marks: dict[str, int]) -> None:
        now = self._clock()
        for source, mark in marks.items():
            _, site, device = source.split("/")
            self.bus.publish(topics.ack(site, device), Ack(mark).encode(), qos=1, retain=True)
            self._last_ack[source] = now

    def _note_status(self, source: str, status: Status) -> None:
        if source == self._own_source:
            return
        if status.state == "offline" and source not in self.stats.offline:
            self.stats.offline.add(source)
            log.warning("%s is offline (%s)", source, status.detail or "no reason given")
        elif status.state == "online" and source in self.stats.offline:
            self.stats.offline.discard(source)
            log.info("%s is back online", source)

    def _check_gaps(self) -> None:
        for gap in self._marks.overdue(self._clock(), self._gap_timeout):
            self.stats.gaps += 1
            log.warning("%s: seq %d-%d missing for %.0fs", gap.source, gap.first, gap.last, self._gap_timeout)
            self._emit_own(
                "delivery.gap",
                DeliveryGap(for_source=gap.source, missing_from=gap.first, missing_to=gap.last),
            )


Letter = tuple[str, bytes, str, str | None]
"""A dead letter: topic, payload, reason, source (if known)."""


@dataclass(slots=True)
class _Work:
    """One batch sorted out: events to store, dead letters, statuses, and seqs to let pass."""

    own: list[Event]
    dead: list[Letter]
    statuses: dict[str, Status]
    events: list[Event] = field(default_factory=list)
    poisoned: dict[str, set[int]] = field(default_factory=dict)
    kind_of: Callable[[str], str | None] | None = None

    def classify(self, topic: str, payload: bytes) -> None:
        """Sort one message into events, statuses or dead letters."""
        try:
            parsed = topics.parse(topic)
            if parsed.kind is topics.Kind.STATUS:
                self.statuses[topics.source(parsed.site, parsed.device)] = Status.decode(payload)
            else:
                event = decode(payload, topic)
                device = event.device
                why = None if self.kind_of is None else refusal(self.kind_of(device), device, event.type)
                if why is not None:  # a principal is believed only about what its kind is for
                    raise ContractError(why, source=event.source, seq=event.seq)
                self.events.append(event)
        except (ContractError, topics.TopicError) as exc:
            self.dead.append((topic, payload, str(exc), _source_of(topic)))
            if isinstance(exc, ContractError) and exc.source is not None and exc.seq is not None:
                self.poisoned.setdefault(exc.source, set()).add(exc.seq)


def _kind_of(kinds: Callable[[str], str | None], device: str) -> str | None:
    """The kind of `device` (the service's own device is the service)."""
    return str(Kind.SERVICE) if device == SERVICE_DEVICE else kinds(device)


def _source_of(topic: str) -> str | None:
    parts = topic.split("/")
    return "/".join(parts[:3]) if len(parts) >= 3 and parts[0] == topics.ROOT else None
