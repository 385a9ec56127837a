"""The bus client says what is wrong with the connection once per change, not at every retry."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from broker.bus import Bus
from broker.credentials import CredentialStore, Role
from broker.embedded import EmbeddedBroker, free_port
from tests.support import wait_until


def test_unreachable_then_refused_are_each_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = CredentialStore(tmp_path / "credentials.json")
    reader = store.ensure("reader-1", Role.DEVICE)
    broker = EmbeddedBroker(port=free_port(), site="s", principals=[reader])
    bus = Bus(broker.url.with_credentials("reader-1", "wrong-password"), client_id="s-reader-1",
              site="s", device="reader-1")
    caplog.set_level(logging.INFO, logger="broker.bus")
    bus.start()
    try:
        wait_until(lambda: "unreachable" in caplog.text, 10, "the first failed connect logged")
        _another_attempt(bus)
        assert caplog.text.count("unreachable") == 1
        with broker:
            wait_until(lambda: "refused the connection" in caplog.text, 15, "the refusal logged")
            _another_attempt(bus)
            assert caplog.text.count("refused the connection") == 1
            assert not bus.connected
    finally:
        bus.stop()


def _another_attempt(bus: Bus) -> None:
    """Wait until the bus has failed to connect once more (paho backs off: 3, 4, 8, 16 s...)."""
    seen = bus.failed_connects
    wait_until(lambda: bus.failed_connects > seen, 30, "another failed connection attempt")
