"""Test-wide set-up: Kivy renders offscreen into a private home; fixtures come from tests/fixtures."""

from __future__ import annotations

import os
import tempfile

# Kivy reads these at import time; they must be set before any test imports it.
os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
os.environ.setdefault("KIVY_NO_FILELOG", "1")
os.environ.setdefault("KIVY_HOME", tempfile.mkdtemp(prefix="gatehouse-kivy-"))
os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")

pytest_plugins = ["tests.fixtures.db", "tests.fixtures.mqtt", "tests.fixtures.servers"]
