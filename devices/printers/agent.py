"""The printer agent: `print` commands in, badges out, status polled into `device.fault` events."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from broker import topics
from broker.commands import PrintArgs
from broker.events import ContractError
from broker.messages import Command
from broker.schemas import BadgePrinted, DeviceFault
from devices.agent import Emitter
from devices.door_agent import CommandBus
from devices.printers.badge import Badge, visit_badge
from devices.printers.drivers import PrinterDriver
from devices.printers.status import FaultTracker, PrinterStatus, describe
from devices.printers.transport import PrinterPort, query
from devices.printers.worker import PrintWorker
from devices.serial_port import PortError

log = logging.getLogger(__name__)

PRINT = PrintArgs.NAME
_SEEN_COMMANDS = 1024

Availability = Callable[[bool, str | None], None]
"""Told `(online, detail)` whenever the printer becomes available or unavailable."""


@dataclass(slots=True, frozen=True)
class PrintJob:
    """A badge to print, and the command that asked for it (None when printed directly)."""

    badge: Badge
    command_id: str | None = None


class PrinterAgent:
    """One badge printer: a worker thread owns the port, prints queued badges and polls status.

    `print` commands (a `Bus` handler) are checked and queued on the bus thread; printing and
    polling run on the worker, so the port is never used by two threads. Faults (paper out, head
    open, no answer, ...) are emitted once when they begin and once when they clear, and
    `on_availability` hears about each change of the printer's availability.
    """

    def __init__(
        self,
        port: PrinterPort,
        emitter: Emitter,
        *,
        printer: str,
        driver: PrinterDriver,
        poll_s: float = 5.0,
        answer_timeout: float = 2.0,
        on_availability: Availability | None = None,
        photo_dir: Path | None = None,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """Wire the agent; nothing is opened until `start()`."""
        self.printer = topics.check_name(printer, "printer")
        if poll_s <= 0 or answer_timeout <= 0:
            raise ValueError("poll_s and answer_timeout must be > 0 seconds")
        self.port, self.driver = port, driver
        self._emitter = emitter
        self._poll_s, self._answer_timeout = poll_s, answer_timeout
        self._on_availability = on_availability
        self._photo_dir = photo_dir
        self._wall_clock = wall_clock
        self._tracker = FaultTracker(self.printer)
        self._available: bool | None = None
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._seen_lock = threading.Lock()
        self._worker = self._new_worker()

    @property
    def online(self) -> bool | None:
        """True when the printer answers and has no fault; None before the first poll or print."""
        return self._available

    def start(self) -> None:
        """Start the worker thread; it connects and polls at once."""
        if self._worker.started:
            raise RuntimeError(f"printer agent {self.printer} already started")
        self._worker.start()

    def stop(self) -> None:
        """Stop the worker (after the job it is printing) and close the port; safe to call twice."""
        worker, self._worker = self._worker, self._new_worker()
        # say what was accepted and will not print now, so the kiosk can tell the visitor
        for left in worker.stop(self._answer_timeout + 5.0, finish_queued=False):
            self._printed(left.badge.visit_id, ok=False, detail="printer agent stopped")
        self.port.close()

    def subscribe(self, bus: CommandBus, site: str, device: str) -> None:
        """Receive this printer's `print` commands from `bus` (site and device of the agent)."""
        bus.subscribe(topics.command(site, device, PRINT), self.handle_command)

    def submit(self, badge: Badge, command_id: str | None = None) -> None:
        """Queue `badge` for printing."""
        self._worker.submit(PrintJob(badge, command_id))

    def handle_command(self, topic: str, payload: bytes, now: datetime | None = None) -> None:
        """Queue the badge of a `print` command if it is well-formed, new and not expired."""
        try:
            parsed = topics.parse(topic)
            if parsed.kind is not topics.Kind.COMMAND:
                raise ContractError(f"{topic} is not a command topic")
            command = Command.decode(payload)
            if command.name != parsed.name:
                raise ContractError(f"command name {command.name!r} does not match topic {topic}")
            if command.name != PRINT:
                raise ContractError(f"printer {self.printer} has no command {command.name!r}")
            when = now or self._wall_clock()
            badge = self.badge_from_args(command.args, when.date())
        except (ContractError, topics.TopicError) as exc:
            log.warning("printer %s: ignoring malformed command on %s: %s", self.printer, topic, exc)
            return
        with self._seen_lock:
            if command.id in self._seen:
                log.debug("printer %s: command %s seen before, ignored", self.printer, command.id)
                return
            self._seen[command.id] = None
            if len(self._seen) > _SEEN_COMMANDS:
                self._seen.popitem(last=False)
        if command.expired(when):
            log.warning("printer %s: dropped late print %s for visit %s (expired %s, now %s)",
                        self.printer, command.id, badge.visit_id, command.expires.isoformat(),
                        when.isoformat())
            return
        log.info("printer %s: print %s for visit %s queued", self.printer, command.id, badge.visit_id)
        self.submit(badge, command.id)

    def badge_from_args(self, args: dict[str, Any], today: date) -> Badge:
        """The badge a `print` command's args describe; ContractError if they do not."""
        typed = PrintArgs.from_wire(args)
        return visit_badge(
            visitor_name=typed.visitor_name, visit_id=typed.visit_id, host=typed.host, company=typed.company,
            qr=typed.qr, day=typed.date or today, photo=self._photo(typed.photo),
        )

    def poll(self) -> PrinterStatus | None:
        """Ask the printer for its status now and report changes; None if it did not answer."""
        status = self._ask_status()
        self._track(status)
        return status

    def print_badge(self, job: PrintJob) -> bool:
        """Print one badge unless the printer has a fault; emit `badge.printed` either way."""
        visit = job.badge.visit_id
        try:
            data = self.driver.job(job.badge)
        except (OSError, ValueError) as exc:
            return self._printed(visit, ok=False, detail=f"cannot render badge: {exc}")
        self.poll()  # a printer that cannot say its status is only checked for its port
        if self._tracker.faults:
            why = describe(self._tracker.faults)
            return self._printed(visit, ok=False, detail=f"printer not ready: {why}")
        try:
            self.port.write(data)
        except PortError as exc:
            self.port.close()
            self._track(None)
            return self._printed(visit, ok=False, detail=str(exc))
        log.info("printer %s: badge for visit %s sent (%d bytes)", self.printer, visit, len(data))
        return self._printed(visit, ok=True, detail=None)

    def _new_worker(self) -> PrintWorker[PrintJob]:
        """The worker that prints this agent's jobs and polls the status when idle (not started)."""
        return PrintWorker(self.print_badge, name=f"printer:{self.printer}", idle=self.poll,
                           idle_s=self._poll_s, on_error=self._failed)

    def _failed(self, job: PrintJob | None, exc: Exception) -> None:
        """A surprise in the worker (already logged): a job it ended is reported as not printed."""
        if job is not None:
            self._printed(job.badge.visit_id, ok=False, detail=f"unexpected failure: {exc}")

    def _connect(self) -> bool:
        """Open the port if needed; False (logged at debug level) if it cannot be opened."""
        try:
            self.port.open()
        except PortError as exc:
            log.debug("printer %s: %s", self.printer, exc)
            return False
        return True

    def _ask_status(self) -> PrinterStatus | None:
        """One status query; None if the port is down or the printer does not answer in time."""
        if not self._connect():
            return None
        if self.driver.status_query is None or self.driver.status_decoder is None:
            return PrinterStatus()  # it cannot say more than that its port is open
        try:
            return query(self.port, self.driver.status_query, self.driver.status_decoder(),
                         self._answer_timeout)
        except PortError as exc:
            log.debug("printer %s: %s", self.printer, exc)
            self.port.close()
            return None

    def _track(self, status: PrinterStatus | None) -> None:
        """Emit the faults that began or cleared, and tell a change of availability once."""
        for fault in self._tracker.update(status):
            self._emit("device.fault", fault)
        online = self._tracker.online
        if online == self._available:
            return
        self._available = online
        detail = None if online else describe(self._tracker.faults)
        if online:
            log.info("printer %s is ready", self.printer)
        else:
            log.warning("printer %s is not ready: %s", self.printer, detail)
        if self._on_availability is not None:
            try:
                self._on_availability(online, detail)
            except Exception:
                log.exception("printer %s: availability callback failed", self.printer)

    def _printed(self, visit_id: str, *, ok: bool, detail: str | None) -> bool:
        """Emit `badge.printed` for one job and return `ok`."""
        if not ok:
            log.warning("printer %s: badge for visit %s not printed: %s", self.printer, visit_id, detail)
        try:
            data = BadgePrinted(visit_id=visit_id, printer=self.printer, ok=ok,
                                detail=detail[:200] if detail else None)
        except ValueError as exc:
            log.error("printer %s: cannot report print of visit %r: %s", self.printer, visit_id, exc)
            return ok
        self._emit("badge.printed", data)
        return ok

    def _emit(self, event_type: str, data: BadgePrinted | DeviceFault) -> None:
        """Emit one event; a failure is logged, never raised into the worker."""
        try:
            self._emitter.emit(event_type, data)
        except Exception:
            log.exception("printer %s: emitting %s failed", self.printer, event_type)

    def _photo(self, name: object) -> Path | None:
        """The photo file a command names: a plain file name inside `photo_dir`."""
        if name is None:
            return None
        if self._photo_dir is None:
            raise ContractError("this printer takes no photos (no photo_dir)")
        if not isinstance(name, str) or not name or Path(name).name != name or name.startswith("."):
            raise ContractError(f"print photo must be a plain file name, got {name!r}")
        path = self._photo_dir / name
        if not path.is_file():
            raise ContractError(f"print photo {name!r} not found")
        return path
