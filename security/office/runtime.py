"""The back office inside the central service: its state loaded from the database, each step's effects
stored in the step's transaction, and published only after that transaction commits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Container, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Protocol

from sqlalchemy import Connection

from broker import topics
from broker.bus import Bus
from broker.events import Event, encode
from broker.schemas import Data
from security.office.alarms import AlarmEscalated
from security.office.config import OfficeConfig
from security.office.engine import BackOffice, Effects, Emit, OfficeState, alarm_status
from security.storage import EventStore, insert_batch
from security.storage.alarm_store import load_book, save_alarms
from security.storage.audit_log import append_audit
from security.storage.directory import directory_version, load_directory
from security.storage.loans import open_loans, record_loans

log = logging.getLogger(__name__)

Step = Callable[[BackOffice], Effects]
"""One thing for the back office to do (an event, a status, an action, a tick)."""
Enqueue = Callable[[Connection, AlarmEscalated, datetime], int]
"""Queue an escalation's notifications inside the caller's transaction; how many were queued."""
BatchHook = Callable[[Connection, Sequence[Event], datetime], int]
"""Work on newly stored events inside their batch's transaction; how many notifications it queued."""

REPLAYED = ("visitor.checked_in", "visitor.checked_out", "access.granted",
            "tour.started", "tour.checkpoint", "tour.ended")
"""Event types read again at start: visitors on site, revoked badges, who is inside, guard tours' rounds."""
PASSBACK_HOURS = 24
"""How far back `access.granted` is read again to know who is inside."""


def _describe(step: Step) -> str:
    """What a step was, for the log: the event or action it carried."""
    if isinstance(step, partial):
        event = step.keywords.get("event")
        if isinstance(event, Event):
            return f"{event.type} {event.id} from {event.source}"
        return ", ".join(f"{k}={v!r}" for k, v in step.keywords.items() if k != "now")
    return getattr(step, "__name__", "a step")


class Host(Protocol):
    """What the back office needs of the service it runs in."""

    site: str

    def make_own(self, event_type: str, data: Data) -> Event:
        """A new event of the service's own source."""
        ...


def office_for(
    store: EventStore,
    config: OfficeConfig,
    *,
    audit_key: bytes | None = None,
    enqueue: Enqueue | None = None,
    wake_notifier: Callable[[], None] | None = None,
    hooks: Sequence[BatchHook] = (),
    stations: Container[str] | None = None,
) -> Callable[[Host], OfficeRuntime]:
    """How a central service builds its back office (pass as `CentralService(office=...)`)."""

    def build(host: Host) -> OfficeRuntime:
        return OfficeRuntime(store, config, site=host.site, emit=host.make_own, audit_key=audit_key,
                             enqueue=enqueue, wake_notifier=wake_notifier, hooks=hooks, stations=stations)

    return build


class OfficeRuntime:
    """Runs the pure `BackOffice` against the event store and the bus."""

    def __init__(
        self,
        store: EventStore,
        config: OfficeConfig,
        *,
        site: str,
        emit: Emit,
        audit_key: bytes | None = None,
        enqueue: Enqueue | None = None,
        wake_notifier: Callable[[], None] | None = None,
        hooks: Sequence[BatchHook] = (),
        stations: Container[str] | None = None,
    ) -> None:
        """Wire to `store`; `emit` makes events of the service's own source; `hooks` see each batch.

        `stations`: the device names whose credentials are a guard station's (see `BackOffice`).
        """
        self.store = store
        self.site = site
        self.office = BackOffice(config, emit, stations=stations)
        self._audit_key = audit_key
        self._enqueue = enqueue
        self._wake = wake_notifier
        self._hooks = tuple(hooks)
        self._queued = 0
        self._fx = Effects()
        self._committed = self.office.state
        self._version = -1

    def load(self, now: datetime) -> None:
        """Rebuild the state: directory, open alarms and loans; kinds, visits and positions from the log."""
        office = self.office
        with self.store.engine.connect() as conn:
            self._version = directory_version(conn)
            directory = load_directory(conn)
            book = load_book(conn, office.config.alarms.book_config())
            loans = open_loans(conn)
        office.restore(OfficeState(book=book, directory=directory))
        office.learn_loans(loans)
        for device in self.store.list_status():
            office.learn_status(device.source, device.status, device.updated_at)
        horizon = now - timedelta(days=office.config.access.visit_horizon_days)
        replayed = 0
        for event in self.store.query_events(types=REPLAYED, since=horizon, limit=None, by_received=True):
            if event.type == "access.granted" and event.service_time < now - timedelta(hours=PASSBACK_HOURS):
                continue
            try:
                office.replay(event)
            except Exception:
                log.exception("back office: event %s could not be replayed; skipped", event.id)
                continue
            replayed += 1
        self._committed = office.state
        log.info("back office: %d people, %d open alarm(s), %d item(s) out on loan, %d event(s) replayed",
                 len(directory.people), len(book.open_alarms()), len(loans), replayed)

    def refresh_directory(self, conn: Connection) -> None:
        """Load the directory again if someone changed it since (a cheap version check)."""
        version = directory_version(conn)
        if version != self._version:
            self.office.set_directory(load_directory(conn))
            log.info("directory reloaded (version %d)", version)
            self._version = version

    def on_batch(self, conn: Connection, events: Sequence[Event], now: datetime) -> None:
        """Handle newly stored events inside their batch's transaction."""
        before, pending, self._fx = self.office.state, self._fx, Effects()
        queued = self._queued
        try:
            if any(e.type == "badge.read" for e in events):
                self.refresh_directory(conn)
            for event in events:
                self.step(conn, partial(BackOffice.on_event, event=event, now=now), now)
            for hook in self._hooks:
                self._queued += hook(conn, events, now)
        except BaseException:  # the batch is tried again (one event at a time): start from before it
            self.office.restore(before)
            self._fx = pending
            self._queued = queued
            self._version = -1  # the directory may have been reloaded in it: load it again next time
            raise
        pending.extend(self._fx)
        self._fx = pending

    def step(self, conn: Connection, step: Step, now: datetime) -> None:
        """Run one step and store its effects in `conn`'s transaction (published by `published`)."""
        fx = self._run(step)
        if fx is not None:
            self._store(conn, fx, now)

    def transact(self, step: Step, now: datetime, bus: Bus) -> Effects:
        """Run one step, store what it produced in a transaction of its own, then publish it.

        A step with nothing to store (most clock ticks) opens no transaction.
        """
        fx = self._run(step)
        if fx is not None and fx.stored_nothing:
            self._fx.extend(fx)
        elif fx is not None:
            try:
                with self.store.engine.begin() as conn:
                    self._store(conn, fx, now)
            except Exception:
                self.rolled_back()
                raise
        return self.published(bus, now)

    def _run(self, step: Step) -> Effects | None:
        """The effects of one step; None when the back office's own logic failed on it.

        Such a step is logged and skipped, so one event the logic cannot take never holds up the
        log; a failure to store the effects of a step fails its transaction instead.
        """
        before = self.office.state
        try:
            return step(self.office)
        except Exception:
            self.office.restore(before)
            log.exception("back office: a step failed and was skipped (%s)", _describe(step))
            return None

    def _store(self, conn: Connection, fx: Effects, now: datetime) -> None:
        """Write a step's effects in `conn`'s transaction; they are published after its commit."""
        if fx.events:
            insert_batch(conn, fx.events, now)
        if fx.alarms:
            save_alarms(conn, fx.alarms.values(), now)
        if fx.audit:
            append_audit(conn, fx.audit, key=self._audit_key)
        if fx.loans:
            record_loans(conn, fx.loans)
        if self._enqueue is not None:
            for escalated in fx.escalations:
                self._enqueue(conn, escalated, now)
        self._fx.extend(fx)

    def rolled_back(self) -> None:
        """The transaction failed: forget its effects and go back to the last committed state."""
        self.office.restore(self._committed)
        self._fx = Effects()
        self._version = -1  # the committed state may hold an older directory: reload it
        self._queued = 0

    def published(self, bus: Bus, now: datetime) -> Effects:
        """The transaction committed: publish its events, door commands and alarm states."""
        fx, self._fx = self._fx, Effects()
        queued, self._queued = self._queued, 0
        self._committed = self.office.state
        for device, command in fx.commands:
            bus.publish(topics.command(self.site, device, command.name), command.encode(), qos=1)
        for event in fx.events:
            bus.publish(event.topic, encode(event), qos=1)
        for alarm in fx.alarms.values():
            payload = b""  # empty: cleared
            if alarm.is_open:
                payload = alarm_status(alarm, now, self.office.guidance).encode()
            bus.publish(topics.alarm(self.site, alarm.id), payload, qos=1, retain=True)
        if (fx.escalations or queued) and self._wake is not None:
            self._wake()
        return fx
