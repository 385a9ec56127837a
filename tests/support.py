"""Small helpers shared by tests: bounded waiting and a running central service."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.error import HTTPError

from sqlalchemy import Connection, Engine, event
from starlette.datastructures import Headers

from broker.config import MqttUrl
from broker.device_link import DeviceLink
from broker.events import Event, make_event
from broker.schemas import Data
from broker.source import EventSource
from security.ingest.service import CentralService
from security.office.config import OfficeConfig
from security.office.runtime import office_for
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
def running_service(
    url: MqttUrl, db_url: str, site: str, office: OfficeConfig | None = None, **options: float
) -> Iterator[CentralService]:
    """A central service connected to `url`, storing into `db_url`, stopped afterwards.

    With `office`, it runs the back office too (access decisions, alarms), ticking every 0.2 s.
    """
    store = open_store(db_url)
    build = office_for(store, office, audit_key=b"test-key") if office is not None else None
    service = CentralService(url, store, site=site, client_id=f"central-{site}", office=build,
                             tick_s=0.2, **options)  # type: ignore[arg-type]
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


class RecordingEmitter:
    """A stand-in for broker.source.EventSource that records what a device agent asked to emit."""

    def __init__(self, site: str = "lobby", device: str = "device-1") -> None:
        """Start with no calls; events are made as `device` of `site` would make them."""
        self.site, self.device = site, device
        self.calls: list[tuple[str, Data]] = []
        self._lock = threading.Lock()

    def emit(self, event_type: str, data: Data) -> Event:
        """Record the call and return the event a real source would have stored."""
        with self._lock:
            self.calls.append((event_type, data))
            seq = len(self.calls)
        return make_event(self.site, self.device, event_type, seq, data)

    def types(self) -> list[str]:
        """The event types emitted so far."""
        with self._lock:
            return [t for t, _ in self.calls]

    def of(self, event_type: str) -> list[Data]:
        """The data of every emitted event of `event_type`."""
        with self._lock:
            return [data for kind, data in self.calls if kind == event_type]


@dataclass
class Reply:
    """An HTTP answer: status, headers and the body (parsed when JSON)."""

    status: int
    headers: Headers
    """The headers, by name in any case (as HTTP means them)."""
    raw: bytes

    @property
    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.raw)

    @property
    def content_type(self) -> str | None:
        """The body's media type as the server said it."""
        return self.headers.get("Content-Type")


def http(method: str, url: str, *, token: str | None = None, body: Any = None, data: bytes | None = None,
         content_type: str = "application/json", timeout: float = 15.0) -> Reply:
    """One request with urllib (a JSON `body`, or raw `data`), answered even when it is an error."""
    if body is not None:
        data = json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", content_type)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return Reply(resp.status, Headers(headers=dict(resp.headers)), resp.read())
    except HTTPError as exc:
        with exc:
            return Reply(exc.code, Headers(headers=dict(exc.headers)), exc.read())



def query_plans(engine: Engine, run: Callable[[Connection], object]) -> list[str]:
    """PostgreSQL's EXPLAIN of every SELECT `run` sends on a connection of `engine`, with its parameters."""
    sent: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            sent.append((statement, params))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        with engine.connect() as conn:
            run(conn)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    with engine.connect() as conn:
        return ["\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + s, p)) for s, p in sent]
