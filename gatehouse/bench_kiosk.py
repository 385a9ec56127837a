"""`gatehouse bench kiosk`: touches per check-in, screen change, touch-to-answer and Confirm-to-print times.

Everything runs through the real Kivy screens offscreen, with simulated touches, on the demo
adapters and a simulated Zebra on TCP (`devices.printers.simulators`), printing on the kiosk's own
print worker (`kiosk.printer.PrintQueue`) and looking up and recording on its own workers
(`kiosk.work.Worker`) as the kiosk does; nothing is asserted, the figures are printed next to their
targets and to a baseline (an empty frame flip). A few check-ins are made with the Zebra silent, to
time the done screen while the printer does not answer. Key touches on the host search are timed to
the frame that shows them with the host search asked of a real HTTP service 2 s slow (`SlowApi`),
and of the same service answering at once.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from broker.config import Settings
from broker.schemas import Data

WALK_IN_TARGET, INVITED_TARGET = 8, 2
SCREEN_CHANGE_TARGET_MS, PRINT_TARGET_MS = 100.0, 1000.0
SILENT_PRINTS = 3
TOUCHES = 60
"""Key touches timed on the host search, against the slow service and against the fast one."""
"""Check-ins made while the simulated Zebra does not answer its status query."""


@dataclass
class Figures:
    """What the bench measured."""

    walk_in_touches: int = 0
    invited_touches: int = 0
    changes_ms: list[float] = field(default_factory=list)
    baseline_ms: list[float] = field(default_factory=list)
    print_ms: list[float] = field(default_factory=list)
    done_ms: list[float] = field(default_factory=list)
    """Confirm to the done screen's first frame, the printer answering."""
    silent_done_ms: list[float] = field(default_factory=list)
    """Confirm to the done screen's first frame, the printer silent."""
    silent_failed_ms: list[float] = field(default_factory=list)
    """Confirm to 'collect your badge at reception' on the done screen, the printer silent."""
    slow_touch_ms: list[float] = field(default_factory=list)
    """A key touch on the host search to the frame showing it, each key searching a service 2 s slow."""
    fast_touch_ms: list[float] = field(default_factory=list)
    """The same, the service answering at once."""
    slow_asked: int = 0
    """Searches the slow service was asked (the others were replaced by a newer one while waiting)."""


SLOW_S = 2.0
"""How slow the stand-in central service is when the bench measures touches against it."""
BENCH_HOSTS = ({"id": "e-1001", "name": "Grace Hopper", "department": "Research"},
               {"id": "e-1002", "name": "Greg House", "department": "Medicine"})


class SlowApi:
    """A stand-in central service on loopback that holds every answer `delay_s` seconds (or until released).

    It answers the kiosk's host search (`/api/kiosk/hosts?q=`) from `BENCH_HOSTS` and 404 to the
    rest. `asked` lists the searches in the order they arrived; `holding` counts the requests held.
    """

    def __init__(self, delay_s: float = SLOW_S) -> None:
        """Hold each answer `delay_s` seconds, unless `release()` was called."""
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.delay_s = delay_s
        self.asked: list[str] = []
        self.holding = 0
        self._released = threading.Event()
        self._lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                api.answer(self)

            def log_message(self, *_args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="slow-api", daemon=True)

    @property
    def url(self) -> str:
        """The service's base URL."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def release(self) -> None:
        """Answer what is held now, and everything from now on at once."""
        self._released.set()

    def answer(self, handler: Any) -> None:
        """Hold, then answer one request."""
        from urllib.parse import parse_qs, urlsplit

        parts = urlsplit(handler.path)
        query = parse_qs(parts.query).get("q", [""])[0]
        with self._lock:
            if parts.path == "/api/kiosk/hosts":
                self.asked.append(query)
            self.holding += 1
        try:
            self._released.wait(self.delay_s)
        finally:
            with self._lock:
                self.holding -= 1
        if parts.path != "/api/kiosk/hosts":
            handler.send_error(404)
            return
        words = query.casefold()
        rows = [h for h in BENCH_HOSTS if any(w.startswith(words) for w in h["name"].casefold().split())]
        body = json.dumps(rows).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def __enter__(self) -> SlowApi:
        """Start serving."""
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        """Stop serving (what is held is answered first)."""
        self.release()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def bench_kiosk_command(_settings: Settings, args: argparse.Namespace) -> int:
    """Run the kiosk benchmark and print its figures."""
    from kiosk.kivy_env import kivy_environment

    kivy_environment(headless=True)
    figures = measure(transitions=args.transitions, prints=args.prints)
    report(figures, print)
    return 0


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of `values`, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def report(f: Figures, say: Callable[[str], object]) -> None:
    """Print the figures with their targets."""
    say(f"touches, walk-in (typing aside):     {f.walk_in_touches}   (target <= {WALK_IN_TARGET})")
    say(f"touches, invited check-in:           {f.invited_touches}   (target {INVITED_TARGET})")
    base = statistics.median(f.baseline_ms)
    p50, p99 = percentile(f.changes_ms, 0.5), percentile(f.changes_ms, 0.99)
    say(f"screen change, touch -> first frame: p50 {p50:.1f} ms, p99 {p99:.1f} ms over {len(f.changes_ms)} "
        f"changes (target < {SCREEN_CHANGE_TARGET_MS:.0f} ms)")
    say(f"  baseline, an empty frame flip:     p50 {base:.1f} ms; "
        f"screen change p50 = {p50 / base:.1f}x baseline")
    q50, qmax = percentile(f.print_ms, 0.5), max(f.print_ms)
    say(f"Confirm -> print command sent:       p50 {q50:.1f} ms, max {qmax:.1f} ms over {len(f.print_ms)} "
        f"check-ins (target < {PRINT_TARGET_MS:.0f} ms), simulated Zebra over TCP")
    d50, dmax = percentile(f.done_ms, 0.5), max(f.done_ms)
    say(f"Confirm -> done screen drawn:        p50 {d50:.1f} ms, max {dmax:.1f} ms over {len(f.done_ms)} "
        f"check-ins (target < {SCREEN_CHANGE_TARGET_MS:.0f} ms)")
    s50, smax = percentile(f.silent_done_ms, 0.5), max(f.silent_done_ms)
    fail50 = percentile(f.silent_failed_ms, 0.5)
    say(f"  printer silent: done screen drawn  p50 {s50:.1f} ms, max {smax:.1f} ms over "
        f"{len(f.silent_done_ms)} check-ins; 'collect at reception' shown p50 {fail50:.0f} ms")
    t50, t99 = percentile(f.slow_touch_ms, 0.5), percentile(f.slow_touch_ms, 0.99)
    say(f"touch -> answer, service {SLOW_S:.0f} s slow:  p50 {t50:.1f} ms, p99 {t99:.1f} ms over "
        f"{len(f.slow_touch_ms)} key touches on the host search (target < {SCREEN_CHANGE_TARGET_MS:.0f} ms); "
        f"{f.slow_asked} searches reached the service")
    b50, b99 = percentile(f.fast_touch_ms, 0.5), percentile(f.fast_touch_ms, 0.99)
    say(f"  baseline, service answering at once: p50 {b50:.1f} ms, p99 {b99:.1f} ms; "
        f"slow p50 = {t50 / b50:.1f}x baseline, {t50 / base:.1f}x an empty frame flip")


def measure(*, transitions: int, prints: int) -> Figures:
    """Open the kiosk window and play the four measurements through it."""
    from devices.printers.drivers import DRIVERS
    from devices.printers.simulators import SimulatedZebra, TcpPrinter
    from devices.printers.transport import TcpPrinterPort
    from kiosk.app import KioskApp, on_ui_thread
    from kiosk.autopilot import Pilot, Shooter
    from kiosk.demo_ports import demo_site
    from kiosk.printer import KioskPrinter, PrintQueue
    from kiosk.viewmodel import KioskViewModel
    from kiosk.work import Worker

    figures = Figures()
    sent: list[tuple[str, Data]] = []
    model = SimulatedZebra()
    with TcpPrinter(model) as zebra, SlowApi(SLOW_S) as slow, SlowApi(0.0) as fast:
        printer = KioskPrinter(TcpPrinterPort("127.0.0.1", zebra.port), DRIVERS["zpl"](), printer="bench")
        printing = PrintQueue(printer, deliver=on_ui_thread, clock=time.perf_counter)
        lookups = Worker("kiosk-lookups", deliver=on_ui_thread)
        records = Worker("kiosk-records", deliver=on_ui_thread)
        site = demo_site()
        directory = SwitchedDirectory(site.ports.directory)
        ports = replace(site.ports, printer=printer, directory=directory)
        vm = KioskViewModel(lambda kind, data: sent.append((kind, data)), ports, clock=time.perf_counter,
                            printing=printing, lookups=lookups, records=records)
        app = KioskApp(vm, camera=site.camera)
        pilot = Pilot(app)
        services = Services(directory, _hosts_of(slow.url), _hosts_of(fast.url), slow)
        app.bind(on_start=lambda _a: pilot.begin(_script(app, (printer, model), figures,
                                                         (transitions, prints), Shooter(app.root, None),
                                                         services=services)))
        app.run()
        lookups.stop(SLOW_S * 3)
        records.stop()
        printing.stop()
        printer.close()
    if pilot.failure is not None:
        raise RuntimeError(f"the kiosk benchmark stopped: {pilot.failure}") from pilot.failure
    return figures


class SwitchedDirectory:
    """`HostDirectory` that asks whichever directory the bench switched it to."""

    def __init__(self, target: Any) -> None:
        """Ask `target` until switched."""
        self.target = target

    def search(self, prefix: str) -> Any:
        """The hosts `target` finds."""
        return self.target.search(prefix)


@dataclass
class Services:
    """The host directories the touch bench switches between."""

    switch: SwitchedDirectory
    slow: Any
    fast: Any
    slow_api: SlowApi


def _hosts_of(url: str) -> Any:
    """The kiosk's real host directory (`kiosk.central_client.CentralHosts`) over the service at `url`."""
    import tempfile
    from pathlib import Path

    from kiosk.cache import JsonCache
    from kiosk.central_client import CentralApi, CentralClient

    # a timeout above the service's delay: every search really waits for its slow answer
    api = CentralApi(url, "bench-token", timeout=SLOW_S * 3)
    return CentralClient(api, JsonCache(Path(tempfile.mkdtemp(prefix="gatehouse-bench-")))).hosts


def _script(app: Any, printers: tuple[Any, Any], figures: Figures, counts: tuple[int, int],
            shoot: Any, *, services: Services) -> Any:
    """The bench as an autopilot script; `printers` (printer, its Zebra), `counts` (transitions, prints)."""
    from kivy.core.window import Window
    from kivy.graphics.opengl import glFinish

    from kiosk.autopilot import Until, invited, on_screen, screen_ids, tap, walk_in
    from kiosk.demo_ports import INVITATION_CODE

    vm, (transitions, prints) = app.vm, counts
    yield from walk_in(app, shoot)
    figures.walk_in_touches = vm.touches
    tap(screen_ids(app, "done").done, "Done")
    yield on_screen(app, "welcome")
    app.post_code(INVITATION_CODE)  # as the scanner's thread does
    yield from invited(app, shoot)
    figures.invited_touches = vm.last_touches

    flipped: list[float] = []

    def drawn(*_args: object) -> None:
        glFinish()  # the frame is drawn, not only queued for the GPU (llvmpipe here)
        flipped.append(time.perf_counter())

    Window.bind(on_flip=drawn)
    for _ in range(50):  # the baseline: a redraw asked for with nothing changed, to its frame drawn
        start, count = time.perf_counter(), len(flipped)
        Window.canvas.ask_update()
        yield Until(partial(_past, flipped, count, app, None), "a frame")
        figures.baseline_ms.append((flipped[count] - start) * 1000)
    cycle = [("welcome", "check_out", "check_out"), ("check_out", "back", "welcome"),
             ("welcome", "invited", "scan"), ("scan", "cancel", "welcome"),
             ("welcome", "returning", "returning"), ("returning", "back", "welcome"),
             ("welcome", "walk_in", "name"), ("name", "cancel", "welcome")]
    for n in range(transitions):
        screen, button, target = cycle[n % len(cycle)]
        ids = screen_ids(app, screen)
        widget = ids[button] if button in ids else _footer(app, screen, button)
        start, count = time.perf_counter(), len(flipped)
        tap(widget, button)
        yield Until(partial(_past, flipped, count, app, target), target)
        figures.changes_ms.append((flipped[count] - start) * 1000)
    yield from _check_ins(app, printers, figures, prints, flipped)
    yield from _touches(app, services, figures, flipped)


def _touches(app: Any, services: Services, figures: Figures, flipped: list[float]) -> Any:
    """Key touches on the host search, each to the frame showing it: the service slow, then fast."""
    from kiosk.autopilot import Until, on_screen, screen_ids, tap

    vm = app.vm
    runs = ((services.slow, figures.slow_touch_ms), (services.fast, figures.fast_touch_ms))
    for directory, timings in runs:
        services.switch.target = directory
        vm.start("walk_in")
        vm.enter("Bench Visitor")
        vm.skip()
        yield on_screen(app, "host")
        ids = screen_ids(app, "host")
        for n in range(TOUCHES):
            if n % 6 == 0:
                ids.field.text = "G"
            key = ids.keyboard.keys["RAEGOH"[n % 6]]
            start, count, before = time.perf_counter(), len(flipped), ids.field.text
            tap(key, "a key")
            yield Until(partial(_past, flipped, count, app, None), "the key's frame")
            if ids.field.text == before:
                raise RuntimeError("the key touch typed nothing")
            timings.append((flipped[count] - start) * 1000)
        vm.cancel()
        yield on_screen(app, "welcome")
    figures.slow_asked = len(services.slow_api.asked)


def _check_ins(app: Any, printers: tuple[Any, Any], figures: Figures, prints: int,
               flipped: list[float]) -> Any:
    """`prints` check-ins timed to the print command and the done screen, then some with the Zebra silent."""
    from kiosk.autopilot import Until, on_screen, screen_ids, tap
    from kiosk.flow.state import Outcome

    vm, (printer, zebra) = app.vm, printers
    for n in range(prints + SILENT_PRINTS):
        silent = n >= prints
        zebra.answering = not silent
        vm.start("walk_in")
        vm.enter(f"Bench Visitor {n}")
        vm.skip()
        vm.search("Gr")
        yield Until(lambda: bool(vm.session.hosts), "the hosts found")
        vm.pick("e-1001")
        vm.set_camera_available(False)
        vm.choose("guest")
        vm.add_stroke(((0.1, 0.4), (0.5, 0.6), (0.9, 0.4)))
        vm.accept()
        yield on_screen(app, "summary")
        printer.last_send_s = None
        start, count = time.perf_counter(), len(flipped)
        tap(screen_ids(app, "summary").confirm, "Check in")
        yield Until(partial(_past, flipped, count, app, "done"), "done")
        (figures.silent_done_ms if silent else figures.done_ms).append((flipped[count] - start) * 1000)
        yield Until(lambda: vm.print_sent_at is not None, "the printer's report", 15)
        if silent:
            yield Until(lambda: vm.session.outcome is Outcome.PRINT_FAILED, "the failed print shown")
            figures.silent_failed_ms.append((time.perf_counter() - start) * 1000)
        elif printer.last_send_s is None or vm.session.outcome is not Outcome.PRINTED:
            raise RuntimeError("the badge was not sent to the printer")
        else:
            figures.print_ms.append((vm.print_sent_at - start + printer.last_send_s) * 1000)
        vm.done()
        yield on_screen(app, "welcome")
    zebra.answering = True


def _past(flipped: list[float], count: int, app: Any, screen: str | None) -> bool:
    """A frame was drawn after the first `count` (showing `screen`, if given)."""
    return len(flipped) > count and (screen is None or app.manager.current == screen)


def _footer(app: Any, screen: str, button: str) -> Any:
    """Back or Cancel of a screen (they belong to its footer's rule)."""
    from kiosk.app import StepFooter

    footer = next(w for w in app.manager.get_screen(screen).walk(restrict=True) if isinstance(w, StepFooter))
    return footer.ids[button]
