"""`python -m kiosk`: run the walk-in kiosk standalone, or play a demo script headless."""

from __future__ import annotations

import argparse
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from broker.schemas import VisitorCheckedIn
from kiosk import walkin

log = logging.getLogger("kiosk")


def _size(text: str) -> tuple[int, int]:
    width, _, height = text.partition("x")
    try:
        return int(width), int(height)
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 1080x1920, got {text!r}") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv`, set Kivy's environment, run the kiosk; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m kiosk", description=__doc__)
    parser.add_argument("--screenshots", type=Path, help="save a PNG of every screen here")
    parser.add_argument("--demo", action="store_true", help="play the demo script, then exit")
    parser.add_argument("--headless", action="store_true", help="render offscreen (no display)")
    parser.add_argument("--size", type=_size, default=(1080, 1920), help="window WxH in pixels")
    parser.add_argument("--step-delay", type=float, default=0.3, help="seconds between steps")
    parser.add_argument("--record", type=Path, help="append each check-in as a JSON line here")
    args = parser.parse_args(argv)

    os.environ["KIVY_NO_ARGS"] = "1"  # Kivy must not read our command line
    if args.headless:
        os.environ["SDL_VIDEODRIVER"] = "offscreen"
    from kiosk.app import run_kiosk  # opens the window: only after the environment is set
    from kiosk.viewmodel import KioskViewModel

    def check_in(visit: VisitorCheckedIn) -> None:
        log.info("checked in: %s", visit.model_dump_json(exclude_none=True))
        if args.record is not None:
            with args.record.open("a", encoding="utf-8") as out:
                out.write(json.dumps(visit.model_dump(mode="json", exclude_none=True)) + "\n")

    run_kiosk(
        KioskViewModel(check_in),
        script=walkin.DEMO_SCRIPT if args.demo else None,
        screenshot_dir=args.screenshots,
        step_delay=args.step_delay,
        size=args.size,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
