"""One process's link to the site: its Bus, its durable outbox and its EventSource, as one unit."""

from __future__ import annotations

import time
from pathlib import Path
from types import TracebackType

from broker.bus import KEEPALIVE_S, Bus
from broker.config import MqttUrl
from broker.outbox import Outbox
from broker.source import EventSource


class DeviceLink:
    """Connects a device, kiosk or station; `source.emit(...)` publishes with nothing lost."""

    def __init__(
        self,
        url: MqttUrl,
        *,
        site: str,
        device: str,
        kind: str,
        outbox_dir: Path,
        resend_after: float = 5.0,
        max_resend_after: float = 60.0,
        keepalive: int = KEEPALIVE_S,
    ) -> None:
        """Prepare the link; the outbox lives in `outbox_dir/<device>.outbox.db`."""
        self.bus = Bus(url, client_id=f"{device}@{site}", site=site, device=device, kind=kind,
                       keepalive=keepalive)
        self.outbox = Outbox(outbox_dir / f"{device}.outbox.db")
        self.source = EventSource(
            self.bus, self.outbox, site=site, device=device,
            resend_after=resend_after, max_resend_after=max_resend_after,
        )

    def start(self) -> DeviceLink:
        """Connect in the background and start resending what waits."""
        self.source.start()
        self.bus.start()
        return self

    def drain(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for every event to be confirmed stored."""
        deadline = time.monotonic() + timeout
        while self.source.pending() and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.source.pending() == 0

    def stop(self) -> None:
        """Stop resending, say offline and disconnect (unconfirmed events stay in the outbox)."""
        self.source.stop()
        self.bus.stop()
        self.outbox.close()

    def __enter__(self) -> DeviceLink:
        return self.start()

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.stop()
