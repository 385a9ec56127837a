"""`gatehouse station`: the guard station window fed live from the site's events, statuses and alarms."""

from __future__ import annotations

import logging
import signal
from pathlib import Path

from broker import topics
from broker.config import MqttUrl
from broker.device_link import DeviceLink
from broker.events import ContractError, decode
from broker.messages import AlarmStatus, Status
from broker.schemas import AlarmRequested
from kiosk.kivy_env import kivy_environment

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
    operator: str | None = None,
) -> int:
    """Run the station until its window closes (or for `run_for` seconds); return an exit code.

    `operator` names who acts on alarms from this station (default 'guard:<device>').
    """
    kivy_environment(headless=headless)  # before Kivy is imported
    from kivy.clock import Clock

    from security.station.app import SIZE, StationApp, run_station  # opens the window
    from security.station.viewmodel import StationViewModel

    if position is not None:
        from kivy.core.window import Window

        Window.left, Window.top = position
    link = DeviceLink(url, site=site, device=device, kind="station", outbox_dir=data_dir / "outbox")

    def send(request: AlarmRequested) -> None:  # the central service answers on the alarm topic
        event = link.source.emit("alarm.requested", request)
        log.info("requested %s of %s as %s (seq %d)", request.action, request.alarm_id, request.by, event.seq)

    app = StationApp(
        StationViewModel(), site=site, size=size or SIZE,
        operator=operator or f"guard:{device}", on_request=send,
    )

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

    def on_alarm(topic: str, payload: bytes) -> None:  # an empty retained payload: resolved, cleared
        try:
            alarm_id = topics.parse(topic).device
            app.post_alarm(alarm_id, AlarmStatus.decode(payload) if payload else None)
        except (ContractError, topics.TopicError) as exc:
            log.warning("alarm not shown: %s: %s", topic, exc)

    link.bus.subscribe(topics.all_events(site), on_event)
    link.bus.subscribe(topics.all_statuses(site), on_status)
    link.bus.subscribe(topics.all_alarms(site), on_alarm)
    # SIGTERM closes the window the normal way (the screenshot is saved on the way out)
    signal.signal(signal.SIGTERM, lambda *_a: Clock.schedule_once(lambda _dt: app.stop()))
    with link:
        run_station(app, run_for=run_for, screenshot_dir=screenshot_dir)
    log.info("station closed after %d events", app.vm.event_count)
    return 0
