"""`python -m security.station`: run the guard station standalone, optionally with sample data."""

from __future__ import annotations

import argparse
import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from kiosk.kivy_env import kivy_environment
from security.station.samples import (
    SITE,
    sample_alarms,
    sample_events,
    sample_statuses,
    sample_watchlist_events,
)

log = logging.getLogger("security.station")


def _size(text: str) -> tuple[int, int]:
    width, _, height = text.partition("x")
    try:
        return int(width), int(height)
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 1280x800, got {text!r}") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv`, set Kivy's environment, run the station; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m security.station", description=__doc__)
    parser.add_argument("--screenshots", type=Path, help="save station.png here at the end")
    parser.add_argument("--run-for", type=float, help="close after this many seconds")
    parser.add_argument("--sample", action="store_true", help="feed sample events and statuses")
    parser.add_argument("--headless", action="store_true", help="render offscreen (no display)")
    parser.add_argument("--size", type=_size, default=(1280, 800), help="window WxH in pixels")
    args = parser.parse_args(argv)

    kivy_environment(headless=args.headless, console_log=True)  # before Kivy is imported
    from security.station.app import StationApp, run_station  # opens the window
    from security.station.viewmodel import StationViewModel

    app = StationApp(StationViewModel(), site=SITE if args.sample else "", size=args.size)
    if args.sample:
        # Post from another thread, as the bus adapter does, through the thread-safe entry points.
        def feed() -> None:
            for device, status in sample_statuses():
                app.post_status(device, status)
            for event in [*sample_events(), *sample_watchlist_events()]:
                app.post_event(event)
                time.sleep(0.02)
            for alarm in sample_alarms():
                app.post_alarm(alarm.id, alarm)

        threading.Thread(target=feed, name="sample-feed", daemon=True).start()
    run_station(app, run_for=args.run_for, screenshot_dir=args.screenshots)
    log.info("station closed after %d events", app.vm.event_count)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
