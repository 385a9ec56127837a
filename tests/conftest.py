"""Test-wide set-up: Kivy renders offscreen into a private home; fixtures come from tests/fixtures."""

from __future__ import annotations

import os
import tempfile

from kiosk.kivy_env import kivy_settings

# Kivy reads these at import time; they must be set before any test imports it.
for name, value in kivy_settings(headless=True, file_log=False,
                                 home=tempfile.mkdtemp(prefix="gatehouse-kivy-")).items():
    os.environ.setdefault(name, value)

pytest_plugins = [
    "tests.fixtures.browser", "tests.fixtures.console", "tests.fixtures.db", "tests.fixtures.mqtt",
    "tests.fixtures.servers",
]
