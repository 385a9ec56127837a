"""Small helpers shared by tests: bounded waiting and a running central service."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from broker.config import MqttUrl
from broker.device_link import DeviceLink
from broker.source import EventSource
from security.service import CentralService
from security.storage import open_store


def wait_until(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    """Poll `check` until it is true; fail the test saying `what` did not happen in time."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout:.0f}s")
        time.sleep(interval)


def unique_site() -> str:
    """A site name no other test uses, so retained messages never leak between tests."""
    return f"t-{uuid.uuid4().hex[:10]}"


@contextmanager
def running_service(url: MqttUrl, db_url: str, site: str, **options: float) -> Iterator[CentralService]:
    """A central service connected to `url`, storing into `db_url`, stopped afterwards."""
    store = open_store(db_url)
    service = CentralService(url, store, site=site, client_id=f"central-{site}", **options)  # type: ignore[arg-type]
    service.start()
    try:
        assert service.bus.wait_subscribed(10), f"service could not subscribe at {url.redacted()}"
        yield service
    finally:
        service.stop()
        store.close()


@contextmanager
def event_source(
    url: MqttUrl, folder: Path, site: str, device: str, *, resend_after: float = 5.0,
    max_resend_after: float = 60.0,
) -> Iterator[EventSource]:
    """A device's event source with its own outbox in `folder`, stopped afterwards."""
    with DeviceLink(url, site=site, device=device, kind="device", outbox_dir=folder,
                    resend_after=resend_after, max_resend_after=max_resend_after) as link:
        yield link.source
