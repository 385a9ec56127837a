"""`gatehouse bench alarms`: a reader's `badge.read` to the `alarm.raised` a guard station receives.

One process holds the central service with its back office (on a temporary SQLite, or --db), a
publisher of background events that raise no alarm, a station subscriber on `alarm.raised`, a bare
subscriber on the reader's `badge.read` (the broker hop alone, timed on the same messages), and a
reader that emits a fresh unknown credential at a fixed rate through its DeviceLink and outbox.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import secrets
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from broker import topics
from broker.config import MqttUrl, Settings
from broker.device_link import DeviceLink
from broker.events import encode, make_event
from broker.local_mosquitto import MOSQUITTO_BIN
from broker.schemas import BadgeRead, CameraMotion, Data, DoorChange
from gatehouse.bench_cli import bench_broker
from gatehouse.bench_devices import Arrivals, BenchError, Latency
from gatehouse.bench_ingest import paho_client
from security.ingest.service import SERVICE_DEVICE, CentralService, Stats
from security.office.access import (
    AccessRight,
    Credential,
    CredentialFormat,
    DoorGroup,
    Person,
    WeeklySchedule,
)
from security.office.config import OfficeConfig
from security.office.runtime import office_for
from security.storage import EventStore, open_store
from security.storage.directory import add_to_directory

READER, ENTRY, DOOR, CAMERAS = "bench-reader", "bench-entry", "door-1", ("bench-cam-1", "bench-cam-2")
TARGET_P99_MS = 50.0
WAIT_S = 10.0
WARMUP = 5
UNKNOWN = re.compile(r"Unknown credential ([0-9A-F]+) ")


@dataclass(slots=True, frozen=True)
class Spread:
    """p50/p95/p99/max of one measured path, in milliseconds (p50 and p99 as `Latency` takes them)."""

    count: int
    p50: float
    p95: float
    p99: float
    max: float

    @classmethod
    def of(cls, seconds: list[float]) -> Spread:
        """The spread of `seconds` samples."""
        base = Latency.of(seconds)
        ms = sorted(1000.0 * s for s in seconds)
        return cls(base.count, base.p50, ms[round(0.95 * (len(ms) - 1))], base.p99, ms[-1])

    def line(self, label: str) -> str:
        """One printable figure line."""
        return (f"  {label:<44} p50 {self.p50:6.2f}  p95 {self.p95:6.2f}  p99 {self.p99:6.2f}  "
                f"max {self.max:7.2f} ms")


@dataclass(slots=True, frozen=True)
class AlarmFigures:
    """What one run measured."""

    samples: int
    rate: float
    background_asked: float
    background_rate: float
    baseline: Spread
    alarm: Spread
    baseline_missing: int
    missing: int
    service: Stats

    @property
    def measured(self) -> bool:
        """True when every sample's read and alarm arrived, so the spreads cover them all."""
        return self.missing == 0 and self.baseline_missing == 0

    def verdict(self) -> str:
        """Whether the target was met, or why this run cannot say."""
        if not self.measured:
            return (f"not measured: {self.missing} alarms and {self.baseline_missing} reads of "
                    f"{self.samples} never arrived")
        return "met" if self.alarm.p99 < TARGET_P99_MS else "not met"


class _Background:
    """Publishes a mix of events that raise no alarm at a fixed rate, raw QoS 1, from its own thread."""

    def __init__(self, url: MqttUrl, site: str, rate: float, credential: str) -> None:
        """Prepare the publisher; nothing is sent before it is entered."""
        self.url, self.site, self.rate, self.sent, self.seconds = url, site, rate, 0, 0.0
        self._mix = _mix(credential)
        self._seq: dict[str, int] = {}
        self._stop = threading.Event()
        self._client = paho_client(url, f"bench-background-{site}")
        self._thread = threading.Thread(target=self._run, name="bench-background", daemon=True)

    def __enter__(self) -> _Background:
        self._client.connect(self.url.host, self.url.port, keepalive=30)
        self._client.loop_start()
        if self.rate > 0:
            self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()
        self._client.disconnect()
        self._client.loop_stop()

    def _run(self) -> None:
        start = time.perf_counter()
        for n, (device, event_type, data) in enumerate(itertools.cycle(self._mix)):
            if self._stop.wait(max(0.0, start + n / self.rate - time.perf_counter())):
                break
            seq = self._seq[device] = self._seq.get(device, 0) + 1
            event = make_event(self.site, device, event_type, seq, data)
            self._client.publish(event.topic, encode(event), qos=1)
            self.sent += 1
        self.seconds = time.perf_counter() - start

    def stop(self) -> float:
        """Stop publishing (again is harmless); the rate achieved, in events/s."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=WAIT_S)
        return self.sent / self.seconds if self.seconds else 0.0


def _mix(credential: str) -> list[tuple[str, str, Data]]:
    """Ten events as a lobby makes them: motion without zones, a door, one granted badge."""
    cam1, cam2 = CAMERAS
    opened, closed = DoorChange(door="main-door"), DoorChange(door="main-door", duration_s=4.0)
    return [
        (cam1, "camera.motion", CameraMotion(camera=cam1, score=0.3)),
        (ENTRY, "badge.read", BadgeRead(credential=credential, reader=1, format="rdm6300")),
        (DOOR, "door.opened", opened),
        (cam2, "camera.motion", CameraMotion(camera=cam2, score=0.5)),
        (DOOR, "door.closed", closed),
        (cam1, "camera.motion", CameraMotion(camera=cam1, score=0.4)),
        (cam2, "camera.motion", CameraMotion(camera=cam2, score=0.2)),
        (DOOR, "door.opened", opened),
        (cam1, "camera.motion", CameraMotion(camera=cam1, score=0.6)),
        (DOOR, "door.closed", closed),
    ]


def _config() -> OfficeConfig:
    """Both readers open the main door; anti-passback and repeated denials off, so only unknowns alarm."""
    return OfficeConfig.from_document({
        "access": {"readers": [{"device": READER, "reader": 1, "door": "main-door"},
                               {"device": ENTRY, "reader": 1, "door": "main-door"}],
                   "doors": {"main-door": DOOR}, "anti_passback": "off"},
        "alarms": {"rules": {"repeated-denials": {"enabled": False}}},
    })


def _enrol(store: EventStore, name: str, tag: str) -> str:
    """One person of this run whose badge (returned) opens the main door at any hour."""
    now, credential = datetime.now(UTC), f"{tag}EEEEEE"
    with store.engine.begin() as conn:
        add_to_directory(conn, now, people=[Person(name, "Bench Walker", groups=frozenset({name}))],
                         credentials=[Credential(credential, CredentialFormat.EM4100, name)],
                         door_groups=[DoorGroup(name, frozenset({"main-door"}))],
                         rights=[AccessRight(name, WeeklySchedule.all_hours(), group=name)])
    return credential


@contextmanager
def _service(url: MqttUrl, store: EventStore, site: str) -> Iterator[CentralService]:
    """The central service with its back office, subscribed, stopped afterwards."""
    config = _config()
    service = CentralService(url, store, site=site, client_id=f"central@{site}", tick_s=config.alarms.tick_s,
                             office=office_for(store, config))
    service.start()
    try:
        if not service.bus.wait_subscribed(WAIT_S):
            raise BenchError(f"the central service could not subscribe at {url.redacted()}")
        yield service
    finally:
        service.stop()


@contextmanager
def _subscribed(url: MqttUrl, name: str, topic: str, on_payload: Callable[[bytes], None]) -> Iterator[None]:
    """A paho client subscribed to `topic` (QoS 1) calling `on_payload` per message, closed afterwards."""
    client = paho_client(url, f"bench-{name}-{time.monotonic_ns()}")
    subscribed = threading.Event()
    client.on_connect = lambda c, *_a: c.subscribe(topic, qos=1)
    client.on_subscribe = lambda *_a: subscribed.set()
    # amqtt also sends a new subscriber retained messages of other topics: take only ours
    client.on_message = lambda _c, _u, msg: on_payload(bytes(msg.payload)) if msg.topic == topic else None
    client.connect(url.host, url.port, keepalive=30)
    client.loop_start()
    try:
        if not subscribed.wait(WAIT_S):
            raise BenchError(f"the {name} subscriber could not subscribe at {url.redacted()}")
        yield
    finally:
        client.disconnect()
        client.loop_stop()


@dataclass(slots=True)
class _Watch:
    """When each credential's `badge.read` reached the bare subscriber and its alarm the station."""

    reads: Arrivals
    alarms: Arrivals

    def on_read(self, payload: bytes) -> None:
        """A `badge.read` of the bench reader arrived."""
        self.reads.note(json.loads(payload)["data"]["credential"])

    def on_alarm(self, payload: bytes) -> None:
        """An `alarm.raised` arrived; note it under the credential its summary names."""
        found = UNKNOWN.match(json.loads(payload)["data"]["summary"])
        if found:
            self.alarms.note(found.group(1))


@dataclass(slots=True)
class _Measured:
    """Seconds from each emit to its read and to its alarm, and how many never came."""

    reads: list[float] = field(default_factory=list)
    alarms: list[float] = field(default_factory=list)
    missing_reads: int = 0
    missing_alarms: int = 0


def _measure(link: DeviceLink, watch: _Watch, credentials: list[str], rate: float) -> _Measured:
    """Emit each credential on schedule, `rate` a second (open loop), then collect the arrivals."""
    sent: dict[str, float] = {}
    start = time.perf_counter()
    for i, credential in enumerate(credentials):
        time.sleep(max(0.0, start + i / rate - time.perf_counter()))
        sent[credential] = time.perf_counter()
        link.source.emit("badge.read", BadgeRead(credential=credential, reader=1, format="rdm6300"))
    deadline = time.perf_counter() + WAIT_S
    got = _Measured()
    for credential, at in sent.items():
        try:
            got.reads.append(watch.reads.wait(credential, max(0.0, deadline - time.perf_counter())) - at)
        except BenchError:
            got.missing_reads += 1
        try:
            got.alarms.append(watch.alarms.wait(credential, max(0.0, deadline - time.perf_counter())) - at)
        except BenchError:
            got.missing_alarms += 1
    return got


def run(url: MqttUrl, *, samples: int = 300, rate: float = 10.0, background: float = 200.0,
        db_url: str | None = None, folder: Path) -> AlarmFigures:
    """One run on one broker: service, background load, station, and `samples` unknown badges."""
    if samples < 1 or rate <= 0 or background < 0:
        raise BenchError("--samples and --rate must be positive, --background not negative")
    tag, site = secrets.token_hex(2).upper(), f"bench-alarms-{secrets.token_hex(4)}"
    watch = _Watch(Arrivals(), Arrivals())
    store = open_store(db_url or f"sqlite:///{folder / 'bench-alarms.db'}")
    with ExitStack() as stack:
        stack.callback(store.close)
        credential = _enrol(store, site, tag)
        service = stack.enter_context(_service(url, store, site))
        stack.enter_context(_subscribed(url, "station", topics.event(site, SERVICE_DEVICE, "alarm.raised"),
                                        watch.on_alarm))
        stack.enter_context(_subscribed(url, "bare", topics.event(site, READER, "badge.read"), watch.on_read))
        feed = stack.enter_context(_Background(url, site, background, credential))
        link = stack.enter_context(DeviceLink(url, site=site, device=READER, kind="reader",
                                              outbox_dir=folder))
        if not link.bus.wait_connected(WAIT_S):
            raise BenchError(f"the reader could not connect to {url.redacted()}")
        credentials = [f"{tag}{i:06X}" for i in range(WARMUP + samples)]
        _measure(link, watch, credentials[:WARMUP], rate)
        got = _measure(link, watch, credentials[WARMUP:], rate)
        achieved = feed.stop()
        link.drain(WAIT_S)
        stats = replace(service.stats, offline=set(service.stats.offline))
    if len(got.alarms) < 2 or len(got.reads) < 2:
        raise BenchError(f"could not measure: {len(got.alarms)} of the {samples} alarms and {len(got.reads)} "
                         f"reads reached their subscribers within {WAIT_S:g} s")
    return AlarmFigures(samples, rate, background, achieved, Spread.of(got.reads), Spread.of(got.alarms),
                        got.missing_reads, got.missing_alarms, stats)


def report(figures: AlarmFigures, broker_name: str, out: TextIO) -> None:
    """Print the figures as a short readable block."""
    f, s = figures, figures.service
    lines = [
        f"alarms bench on {broker_name}",
        "  reader: badge.read emitted through its DeviceLink (SQLite outbox, then QoS 1 publish), a fresh",
        f"    unknown credential each, {f.rate:g}/s open loop, {f.samples} samples after {WARMUP} warm-up",
        f"  background: {f.background_rate:.0f} events/s achieved of {f.background_asked:g} asked, raw QoS 1 "
        f"from {len(CAMERAS) + 2} sources",
        "    (camera.motion without zones, door.opened/closed, a granted badge.read in ten)",
        f.baseline.line("baseline: badge.read -> bare subscriber"),
        f.alarm.line("badge.read -> alarm.raised at the station"),
        f"  {'ratio to the baseline':<44} p50 {f.alarm.p50 / max(f.baseline.p50, 1e-9):6.2f}  "
        f"p99 {f.alarm.p99 / max(f.baseline.p99, 1e-9):6.2f}",
        f"  missing (nothing within {WAIT_S:g} s): {f.missing} alarms, {f.baseline_missing} reads, "
        f"of {f.samples}",
        f"  service: received {s.received}, stored {s.stored}, duplicates {s.duplicates} (its own events "
        f"coming back), dead letters {s.dead_letters}",
        f"  target p99 < {TARGET_P99_MS:g} ms: {f.verdict()}",
    ]
    print("\n".join(lines), file=out, flush=True)


def bench_alarms_command(settings: Settings, args: argparse.Namespace) -> int:
    """Run the alarms bench on the broker asked for, else on Mosquitto (if installed) then embedded."""
    kinds: list[str | None] = [args.broker]
    if args.broker is None and settings.embedded:
        kinds = ["mosquitto", "embedded"] if MOSQUITTO_BIN.exists() else ["embedded"]
    store = settings.db or "SQLite (a temporary file, WAL)"
    for kind in kinds:
        try:
            with bench_broker(settings, kind) as (url, name), \
                    tempfile.TemporaryDirectory(prefix="gatehouse-bench-alarms-") as tmp:
                figures = run(url, samples=args.samples, rate=args.rate, background=args.background,
                              db_url=settings.db, folder=Path(tmp))
        except (BenchError, TimeoutError, OSError) as exc:
            print(f"gatehouse bench alarms: {exc}", file=sys.stderr)
            return 1
        report(figures, f"{name}; store {store}", sys.stdout)
        if not figures.measured:
            print(f"gatehouse bench alarms: on {name}: {figures.verdict()}; the figures above leave "
                  "them out and prove nothing", file=sys.stderr)
            return 1
    return 0
