"""`gatehouse kiosk`: the kiosk window wired to the site, its check-ins sent through the outbox."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from broker.config import MqttUrl
from broker.device_link import DeviceLink
from broker.schemas import VisitorCheckedIn

log = logging.getLogger(__name__)


def run(
    url: MqttUrl,
    *,
    site: str,
    device: str,
    data_dir: Path,
    scripted: bool = False,
    headless: bool = False,
    screenshot_dir: Path | None = None,
    size: tuple[int, int] | None = None,
    position: tuple[int, int] | None = None,
    step_delay: float = 0.3,
) -> int:
    """Run the kiosk until its window closes (or its demo script ends); return an exit code."""
    os.environ["KIVY_NO_ARGS"] = "1"  # Kivy must not read our command line
    os.environ["KIVY_NO_CONSOLELOG"] = "1"  # its records reach our log handler once, not twice
    if headless:
        os.environ["SDL_VIDEODRIVER"] = "offscreen"
    from kiosk import walkin
    from kiosk.app import PORTRAIT, run_kiosk  # opens the window: only after the environment is set
    from kiosk.viewmodel import KioskViewModel

    if position is not None:
        from kivy.core.window import Window

        Window.left, Window.top = position
    with DeviceLink(url, site=site, device=device, kind="kiosk", outbox_dir=data_dir / "outbox") as link:

        def check_in(visit: VisitorCheckedIn) -> None:
            event = link.source.emit("visitor.checked_in", visit)
            log.info("checked in %s (visit %s, seq %d)", visit.visitor_name, visit.visit_id, event.seq)

        run_kiosk(
            KioskViewModel(check_in),
            script=walkin.DEMO_SCRIPT if scripted else None,
            screenshot_dir=screenshot_dir,
            step_delay=step_delay,
            size=size or PORTRAIT,
        )
        if not link.drain(10):
            log.warning("%d check-in(s) not yet confirmed; they wait in the outbox", link.source.pending())
    return 0
