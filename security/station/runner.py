"""`gatehouse station`: the guard station window fed live from the site's events and statuses."""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path

from broker import topics
from broker.config import MqttUrl
from broker.device_link import DeviceLink
from broker.events import ContractError, decode
from broker.messages import Status

log = logging.getLogger(__name__)


def run(
    url: MqttUrl,
    *,
    site: str,
    device: str,
    data_dir: Path,
    headless: bool = False,
    run_for: float | None = None,
    screenshot_dir: Path | None = None,
    size: tuple[int, int] | None = None,
    position: tuple[int, int] | None = None,
) -> int:
    """Run the station until its window closes (or for `run_for` seconds); return an exit code."""
    os.environ["KIVY_NO_ARGS"] = "1"  # Kivy must not read our command line
    os.environ["KIVY_NO_CONSOLELOG"] = "1"  # its records reach our log handler once, not twice
    if headless:
        os.environ["SDL_VIDEODRIVER"] = "offscreen"
    from kivy.clock import Clock

    from security.station.app import SIZE, StationApp, run_station  # opens the window
    from security.station.viewmodel import StationViewModel

    if position is not None:
        from kivy.core.window import Window

        Window.left, Window.top = position
    app = StationApp(StationViewModel(), site=site, size=size or SIZE)
    link = DeviceLink(url, site=site, device=device, kind="station", outbox_dir=data_dir / "outbox")

    def on_event(topic: str, payload: bytes) -> None:
        try:
            app.post_event(decode(payload, topic))
        except ContractError as exc:  # the central service keeps it as a dead letter
            log.debug("not shown: %s: %s", topic, exc)

    def on_status(topic: str, payload: bytes) -> None:
        try:
            app.post_status(topics.parse(topic).device, Status.decode(payload))
        except (ContractError, topics.TopicError) as exc:
            log.debug("not shown: %s: %s", topic, exc)

    link.bus.subscribe(topics.all_events(site), on_event)
    link.bus.subscribe(topics.all_statuses(site), on_status)
    # SIGTERM closes the window the normal way (the screenshot is saved on the way out)
    signal.signal(signal.SIGTERM, lambda *_a: Clock.schedule_once(lambda _dt: app.stop()))
    with link:
        run_station(app, run_for=run_for, screenshot_dir=screenshot_dir)
    log.info("station closed after %d events", app.vm.event_count)
    return 0
