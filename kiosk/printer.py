"""The kiosk's own badge printer, driven in-process so badges print with the broker down.

The badge is laid out by `devices.printers.badge`, encoded by the printer family's driver
(ZPL, ESC/POS, Brother QL) and written to the printer's port (TCP 9100 or serial). A printer
that can tell its status is asked first, so paper out is said before the visitor waits for a
badge that never comes. Each attempt is reported as `badge.printed` through `emit`.

Asking and sending take seconds when the printer does not answer, so the kiosk never prints on
its UI thread: `PrintQueue` prints one badge after another on the print worker the device agent
uses too (`devices.printers.worker.PrintWorker`) and hands each `PrintReport` back through
`deliver` (the window's `kiosk.app.on_ui_thread`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import partial

from broker import topics
from broker.schemas import BadgePrinted
from devices.printers.badge import Badge, visit_badge
from devices.printers.drivers import PrinterDriver
from devices.printers.status import Condition, describe
from devices.printers.transport import PrinterPort, printer_port, query
from devices.printers.worker import PrintWorker
from devices.serial_port import PortError
from kiosk.checkin import PrintReport, print_badge
from kiosk.config import KioskConfig, KioskPrinterConfig
from kiosk.ports import BadgePrinter, BadgeRequest, Emit, PrintResult

log = logging.getLogger(__name__)


class KioskPrinter:
    """`BadgePrinter` on the kiosk's own label printer; safe to call from any thread."""

    def __init__(
        self,
        port: PrinterPort,
        driver: PrinterDriver,
        *,
        printer: str,
        emit: Emit | None = None,
        answer_timeout: float = 1.0,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        """Print on `port` with `driver`; `printer` names it in `badge.printed` events."""
        self.printer = topics.check_name(printer, "printer")
        if answer_timeout <= 0:
            raise ValueError(f"answer_timeout must be > 0 seconds, got {answer_timeout}")
        self.port, self.driver = port, driver
        self._emit = emit
        self._answer_timeout = answer_timeout
        self._clock = clock
        self._lock = threading.Lock()
        self.last_send_s: float | None = None
        """Seconds from the last `print()` call to its bytes being written to the port (benchmark)."""

    @classmethod
    def from_config(cls, config: KioskPrinterConfig, emit: Emit | None = None) -> KioskPrinter:
        """The printer the `[kiosk.printer]` settings describe (nothing is opened yet)."""
        return cls(printer_port(config.port, config.address), config.driver_model(), printer=config.name,
                   emit=emit, answer_timeout=config.answer_timeout_s)

    def print(self, badge: BadgeRequest) -> PrintResult:
        """Lay out, check the printer, send; report `badge.printed` and return the result."""
        started = self._clock()
        with self._lock:
            try:
                data = self.driver.job(_badge(badge))
            except (OSError, ValueError) as exc:
                failed = PrintResult(ok=False, detail=f"cannot lay out badge: {exc}")
                return self._done(badge.visit_id, failed)
            result = self._send(data, started)
            return self._done(badge.visit_id, result)

    def ready(self) -> PrintResult:
        """Ask the printer whether it can print now (for a staff screen); nothing is printed."""
        with self._lock:
            try:
                self.port.open()
                return self._check()
            except PortError as exc:
                self.port.close()
                return PrintResult(ok=False, detail=str(exc))

    def close(self) -> None:
        """Close the printer's port; the next print opens it again."""
        with self._lock:
            self.port.close()

    def _send(self, data: bytes, started: float) -> PrintResult:
        """Check the status and write `data`; a stale connection is reopened once."""
        for attempt in (1, 2):
            was_open = self.port.is_open
            try:
                self.port.open()
                status = self._check()
                if not status.ok:
                    return status
                self.port.write(data)
            except PortError as exc:
                self.port.close()
                if was_open and attempt == 1:
                    log.info("printer %s: connection went stale (%s); reconnecting", self.printer, exc)
                    continue
                return PrintResult(ok=False, detail=str(exc))
            self.last_send_s = self._clock() - started
            log.info("printer %s: badge sent (%d bytes, %.0f ms after the request)", self.printer,
                     len(data), self.last_send_s * 1000)
            return PrintResult(ok=True)
        raise AssertionError("unreachable")  # pragma: no cover

    def _check(self) -> PrintResult:
        """Ask the printer's status if it can tell it; not ready is a result, a dead port a PortError."""
        if self.driver.status_query is None or self.driver.status_decoder is None:
            return PrintResult(ok=True)
        decoder = self.driver.status_decoder()
        status = query(self.port, self.driver.status_query, decoder, self._answer_timeout)
        faults = frozenset({Condition.NO_ANSWER}) if status is None else status.faults
        if faults:
            return PrintResult(ok=False, detail=f"printer not ready: {describe(faults)}")
        return PrintResult(ok=True)

    def _done(self, visit_id: str, result: PrintResult) -> PrintResult:
        """Log and emit `badge.printed` for one attempt; return `result`."""
        if not result.ok:
            log.warning("printer %s: badge for visit %s not printed: %s", self.printer, visit_id,
                        result.detail)
        if self._emit is None:
            return result
        detail = result.detail[:200] if result.detail else None
        try:
            self._emit("badge.printed", BadgePrinted(visit_id=visit_id, printer=self.printer, ok=result.ok,
                                                     detail=detail))
        except Exception:
            log.exception("printer %s: reporting the print of visit %s failed", self.printer, visit_id)
        return result


class NoPrinter:
    """`BadgePrinter` of a kiosk without a printer: nothing prints, and the flow tells the visitor."""

    def print(self, badge: BadgeRequest) -> PrintResult:
        """Say that no badge was printed."""
        log.info("no printer: badge for visit %s not printed", badge.visit_id)
        return PrintResult(ok=False, detail="this kiosk has no printer")


_Job = tuple[BadgeRequest, Callable[[PrintReport], object]]


class PrintQueue:
    """`PrintJobs` on the one print worker (`devices.printers.worker`): in order, the caller never waits."""

    def __init__(
        self,
        printer: BadgePrinter,
        *,
        deliver: Callable[[Callable[[], object]], object] | None = None,
        clock: Callable[[], float] = time.monotonic,
        name: str = "kiosk-print",
    ) -> None:
        """Print on `printer`; `deliver(call)` runs each report's call where the caller lives.

        Without `deliver` the reports are made on the worker thread. `clock` stamps `sent_at`: give
        it the view-model's clock. The worker starts with the first badge.
        """
        self._printer = printer
        self._deliver = deliver
        self._clock = clock
        self._name = name
        self._worker: PrintWorker[_Job] = PrintWorker(self._print, name=name)

    def submit(self, badge: BadgeRequest, on_done: Callable[[PrintReport], object]) -> None:
        """Queue `badge` behind the prints still waiting; `on_done(report)` follows through `deliver`."""
        try:
            self._worker.submit((badge, on_done), start=True)
        except RuntimeError:
            raise RuntimeError("the print queue is stopped") from None

    def stop(self, timeout: float = 10.0) -> bool:
        """Print what is queued (for at most `timeout` s) and end the worker; True if it ended."""
        self._worker.stop(timeout)
        return self._worker.ended

    def _print(self, job: _Job) -> None:
        """Print one badge on the worker thread and hand its report over."""
        badge, on_done = job
        sent = self._clock()
        report = PrintReport(badge.visit_id, print_badge(self._printer, badge), sent)
        call = partial(on_done, report)
        try:
            if self._deliver is None:
                call()
            else:
                self._deliver(call)
        except Exception:
            log.exception("%s: the report on visit %s could not be delivered", self._name, badge.visit_id)


def printer_for(config: KioskConfig, emit: Emit | None = None) -> KioskPrinter | NoPrinter:
    """The kiosk's printer as its settings say (NoPrinter if there is none or it is disabled)."""
    if config.printer is None or not config.printer.enabled:
        return NoPrinter()
    return KioskPrinter.from_config(config.printer, emit)


def _badge(request: BadgeRequest) -> Badge:
    """The printed layout's content for a badge request (the QR carries the badge credential)."""
    return visit_badge(visitor_name=request.visitor_name, visit_id=request.visit_id,
                       host=request.host_name, company=request.company, day=request.valid_until,
                       photo=request.photo, qr=request.badge)
