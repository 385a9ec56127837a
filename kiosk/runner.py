"""`gatehouse kiosk`: the kiosk window wired to its adapters, its events sent through the outbox.

Three ways to run: interactive (the real adapters of the `[kiosk]` settings), `--demo` (a scripted
walk-in played with touches on the real widgets; on the built-in demo adapters when no `[kiosk]`
section is configured), and `--screenshots DIR` alone (every screen in every language, offscreen,
on the demo adapters, nothing sent anywhere).
"""

from __future__ import annotations

import logging
import os
import threading
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from broker.config import ENV_CONFIG, MqttUrl
from broker.device_link import DeviceLink
from broker.schemas import Data, VisitorCheckedIn, VisitorCheckedOut
from kiosk.config import FileAgreements, KioskConfig, load_kiosk
from kiosk.i18n import LANGUAGES
from kiosk.kivy_env import kivy_environment
from kiosk.ports import Emit, Ports

if TYPE_CHECKING:
    from kiosk.app import KioskApp
    from kiosk.autopilot import Pilot
    from kiosk.printer import PrintQueue
    from kiosk.viewmodel import KioskViewModel
    from kiosk.work import Worker

log = logging.getLogger(__name__)

SCRIPTS = ("walk_in", "invited")
"""The visitor scripts `--demo` can play."""
QR_EVERY_S = 0.3
"""How often the camera's picture is searched for a QR code while the kiosk takes codes."""
PRINTS_FINISH_S = 10.0
"""How long a closing kiosk waits for the badges still printing (their `badge.printed` is sent)."""


class OwnVisits(Protocol):
    """Where a kiosk keeps its own check-ins (check-out works before they reach the service)."""

    def remember(self, visit_id: str, badge: str, name: str) -> None:
        """Record a check-in made here."""
        ...

    def forget(self, visit_id: str) -> None:
        """Drop a visit that checked out."""
        ...

    def forget_invitation(self, visit_id: str) -> None:
        """Drop the cached invitation of an invited check-in made here (its code is spent)."""
        ...


@dataclass(slots=True)
class Adapters:
    """What the view-model and the window are given, and what to stop at the end."""

    ports: Ports
    own: OwnVisits
    camera: Any = None
    """A `kiosk.app.CameraFeed` (KioskCamera or the demo's), or None."""
    online: Callable[[], bool] = lambda: True
    """The central service answers (always True for the demo adapters)."""
    stops: list[Callable[[], object]] = field(default_factory=list)
    printing: PrintQueue | None = None
    """The worker printing the badges off the UI thread (made by `open_kiosk`, stopped by `run`)."""
    lookups: Worker | None = None
    """The worker asking the central service (searches, codes) off the UI thread (`open_kiosk`)."""
    records: Worker | None = None
    """The worker writing check-ins and check-outs to the outbox off the UI thread (`open_kiosk`)."""


def remembering(emit: Emit, own: OwnVisits) -> Emit:
    """`emit` that also records this kiosk's check-ins (with a badge) and forgets its check-outs."""

    def send(event_type: str, data: Data) -> object:
        sent = emit(event_type, data)
        try:
            if isinstance(data, VisitorCheckedIn) and data.invited:
                own.forget_invitation(data.visit_id)
            if isinstance(data, VisitorCheckedIn) and data.badge:
                own.remember(data.visit_id, data.badge, data.visitor_name)
            elif isinstance(data, VisitorCheckedOut):
                own.forget(data.visit_id)
        except Exception:
            log.exception("the kiosk's own record of visit %s could not be kept", data)
        return sent

    return send


def real_adapters(config: KioskConfig, emit: Emit) -> Adapters:
    """The central service's client with its offline cache, the printer and the camera of `config`."""
    from kiosk.central_client import CentralClient
    from kiosk.printer import printer_for

    client = CentralClient.from_config(config)
    client.start()
    agreements = FileAgreements(config)
    agreements.preload(LANGUAGES)  # read now, not on the UI thread when the agreement step shows
    ports = Ports(
        directory=client.hosts, agreements=agreements,
        screener=client.screener(config.screen_threshold, check_company=config.screen_company),
        printer=printer_for(config, emit), invitations=client.invitations, visitors=client.visitors,
        visits=client.visits,
    )  # fmt: skip
    adapters = Adapters(ports, client.visits, online=lambda: client.online, stops=[client.stop])
    if config.camera is not None:
        from kiosk.camera import KioskCamera

        camera = KioskCamera(config.camera)
        camera.start()
        adapters.stops.append(camera.stop)
        if not camera.wait_available(5.0):
            log.warning("%s gives no picture yet; the photo step is skipped until it does", camera.name)
        adapters.camera = camera
    return adapters


def demo_adapters(badge_folder: Path | None) -> Adapters:
    """The built-in demo adapters (`kiosk.demo_ports`); badges drawn into `badge_folder`."""
    from kiosk.demo_ports import demo_site

    site = demo_site(badge_folder)
    return Adapters(site.ports, site.visits, camera=site.camera)


def has_kiosk_section(config_file: str | Path | None) -> bool:
    """True when the settings file (or $GATEHOUSE_CONFIG) has a `[kiosk]` section."""
    path = config_file or os.environ.get(ENV_CONFIG)
    if not path:
        return False
    try:
        return "kiosk" in tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return True  # let load_kiosk say what is wrong


class QrWatcher:
    """Looks for a QR code in the camera's picture while `active()`, handing each new one to `found`."""

    def __init__(self, camera: Any, found: Callable[[str], object], active: Callable[[], bool],
                 *, hold_s: float = 3.0) -> None:
        """Watch `camera` (a CameraFeed); a code seen again within `hold_s` seconds is not repeated."""
        self._camera, self._found, self._active, self._hold = camera, found, active, hold_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kiosk-qr", daemon=True)

    def start(self) -> None:
        """Start watching in a thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop watching."""
        self._stop.set()
        self._thread.join(2.0)

    def _run(self) -> None:
        from kiosk.camera import read_qr

        last, last_at = "", 0.0
        while not self._stop.wait(QR_EVERY_S):
            frame = self._camera.preview() if self._active() else None
            code = read_qr(frame) if frame is not None else None
            if code and (code != last or time.monotonic() - last_at > self._hold):
                last, last_at = code, time.monotonic()
                log.info("QR code read by the camera (%d characters)", len(code))
                self._found(code)


def run(
    url: MqttUrl,
    *,
    site: str,
    device: str,
    data_dir: Path,
    config_file: str | Path | None = None,
    config: KioskConfig | None = None,
    scripted: bool = False,
    script: str = "walk_in",
    headless: bool = False,
    screenshot_dir: Path | None = None,
    size: tuple[int, int] | None = None,
    position: tuple[int, int] | None = None,
    step_delay: float = 0.3,
) -> int:
    """Run the kiosk until its window closes (or its script ends); return an exit code.

    `--screenshots` without `--demo` makes the screenshot tour instead (see `screenshots`).
    """
    if screenshot_dir is not None and not scripted:
        return screenshots(screenshot_dir, size=size)
    if script not in SCRIPTS:
        raise ValueError(f"script must be one of {SCRIPTS}, got {script!r}")
    demo = config is None and scripted and not has_kiosk_section(config_file)
    if config is None and not demo:
        config = load_kiosk(config_file, data_dir=data_dir)
    kivy_environment(headless=headless)
    if position is not None:
        from kivy.core.window import Window  # opens the window: only after the environment is set

        Window.left, Window.top = position
    link = DeviceLink(url, site=site, device=device, kind="kiosk", outbox_dir=data_dir / "outbox")
    adapters = demo_adapters(screenshot_dir) if demo or config is None else real_adapters(
        config, link.source.emit)
    app = open_kiosk(link, adapters, None if demo else config, size=size)
    pilot = play(app, script, screenshot_dir, step_delay) if scripted else None
    try:
        with link:
            try:
                app.run()
            finally:
                stop_workers(adapters)
            if not link.drain(10):
                log.warning("%d event(s) not yet confirmed; they wait in the outbox", link.source.pending())
    finally:
        for stop in reversed(adapters.stops):
            stop()
    if pilot is not None and (pilot.failure is not None or not pilot.finished):
        log.error("the script did not finish: %s", pilot.failure)
        return 1
    log.info("kiosk closed; %d touches in the last visit", app.vm.last_touches or app.vm.touches)
    return 0


def kiosk_viewmodel(emit: Emit, adapters: Adapters, config: KioskConfig | None) -> KioskViewModel:
    """The view-model on `adapters`, sending through `emit`, with its workers made into `adapters`.

    The UI thread waits on neither the network nor the disk: look-ups, outbox writes and prints run
    on their own workers (`kiosk.work.Worker`), whose answers come back through `on_ui_thread`.
    """
    from kiosk.app import on_ui_thread
    from kiosk.printer import PrintQueue
    from kiosk.viewmodel import KioskViewModel
    from kiosk.work import Worker

    clock = time.monotonic
    adapters.printing = PrintQueue(adapters.ports.printer, deliver=on_ui_thread, clock=clock)
    adapters.lookups = Worker("kiosk-lookups", deliver=on_ui_thread)
    adapters.records = Worker("kiosk-records", deliver=on_ui_thread)
    return KioskViewModel(
        emit, adapters.ports, clock=clock,
        language=config.default_language if config is not None else "en",
        camera=adapters.camera is not None and bool(adapters.camera.available),
        idle_timeout=config.idle_s if config is not None else 30.0, printing=adapters.printing,
        lookups=adapters.lookups, records=adapters.records,
    )  # fmt: skip


def stop_workers(adapters: Adapters) -> None:
    """End the kiosk's workers: the check-ins being written, then the badges printing, reach the outbox."""
    if adapters.lookups is not None:
        adapters.lookups.stop(1.0)
    if adapters.records is not None:
        adapters.records.stop(PRINTS_FINISH_S)
    if adapters.printing is not None:  # its badge.printed events reach the outbox first
        adapters.printing.stop(PRINTS_FINISH_S)


def open_kiosk(link: DeviceLink, adapters: Adapters, config: KioskConfig | None, *,
               size: tuple[int, int] | None = None) -> KioskApp:
    """The kiosk window on `adapters`, emitting through `link`; its workers, scanner and QR reader."""
    from kiosk.app import PORTRAIT, KioskApp

    vm = kiosk_viewmodel(remembering(link.source.emit, adapters.own), adapters, config)
    app = KioskApp(vm, camera=adapters.camera, online=lambda: link.bus.connected and adapters.online(),
                   size=size or PORTRAIT)
    if config is not None and config.scanner is not None:
        from kiosk.scanner import KioskScanner

        scanner = KioskScanner.from_config(config.scanner, app.post_code)
        scanner.start()
        adapters.stops.append(scanner.stop)
    if adapters.camera is not None:
        watcher = QrWatcher(adapters.camera, app.post_code, lambda: app.scanning)
        watcher.start()
        adapters.stops.append(watcher.stop)
    return app


def play(app: KioskApp, script: str, screenshot_dir: Path | None, step_delay: float) -> Pilot:
    """Play visitor `script` ("walk_in" or "invited") through `app`'s widgets once it runs."""
    from kiosk.autopilot import Pilot, Shooter, invited, walk_in

    def begin(_app: object) -> None:
        scripted = walk_in if script == "walk_in" else invited
        pilot.begin(scripted(app, Shooter(app.root, screenshot_dir)))  # the window exists only now

    pilot = Pilot(app, step_delay=step_delay)
    app.bind(on_start=begin)
    return pilot


def screenshots(folder: Path, *, size: tuple[int, int] | None = None, large: str = "pl") -> int:
    """Every screen in every language, offscreen, on the demo adapters: `folder/<lang>/NN-<step>.png`."""
    kivy_environment(headless=True)
    from kiosk.app import PORTRAIT, KioskApp
    from kiosk.autopilot import ManualClock, Pilot, tour
    from kiosk.viewmodel import KioskViewModel

    adapters = demo_adapters(None)
    clock = ManualClock()
    sent: list[tuple[str, Data]] = []
    vm = KioskViewModel(lambda kind, data: sent.append((kind, data)), adapters.ports, clock=clock)
    app = KioskApp(vm, camera=adapters.camera, size=size or PORTRAIT)
    pilot = Pilot(app, tour(app, clock, folder, LANGUAGES, large))
    app.bind(on_start=lambda _app: pilot.begin())
    app.run()
    if pilot.failure is not None or not pilot.finished:
        log.error("the screenshot tour failed: %s", pilot.failure)
        return 1
    count = sum(1 for _ in folder.rglob("*.png"))
    print(f"{count} screenshots in {folder}")
    return 0
