"""Kivy's environment, set before Kivy is imported: one place for the kiosk, the station and the tests.

Kivy reads these variables at import time: `KIVY_NO_ARGS` (else it parses our command line and
exits on an option it does not know), `KIVY_NO_CONSOLELOG` (its records reach our log handler
once, not twice), `KIVY_NO_FILELOG`, `KIVY_HOME` (else it writes `~/.kivy`) and, to render
without a display, `SDL_VIDEODRIVER=offscreen`. Nothing here imports Kivy.
"""

from __future__ import annotations

import os
from pathlib import Path


def kivy_settings(
    *, headless: bool, console_log: bool = False, file_log: bool = True, home: Path | str | None = None
) -> dict[str, str]:
    """The variables Kivy must find: no command line, the logs asked for, offscreen if `headless`."""
    settings = {"KIVY_NO_ARGS": "1"}
    if not console_log:
        settings["KIVY_NO_CONSOLELOG"] = "1"  # Kivy only checks that they are set
    if not file_log:
        settings["KIVY_NO_FILELOG"] = "1"
    if home is not None:
        settings["KIVY_HOME"] = str(home)
    if headless:
        settings["SDL_VIDEODRIVER"] = "offscreen"
    return settings


def kivy_environment(*, headless: bool, console_log: bool = False) -> None:
    """Set Kivy's environment before it is imported (it must not read our command line)."""
    os.environ.update(kivy_settings(headless=headless, console_log=console_log))
