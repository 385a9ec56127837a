"""`gatehouse bench devices`: camera analysis CPU per stream, and badge frame -> `badge.read` on the bus.

The badge path is the real one: an RDM6300 simulator writes a frame on a pty, the agent's serial
transport decodes it, the agent stores it in its outbox and publishes it, the broker delivers it
to a subscriber. Two baselines are measured in the same run: the same transport alone (pty write
-> decoded frame) and a raw paho QoS 1 publish -> receive on the same broker.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from broker import topics
from broker.config import MqttUrl, Settings

SITE, DEVICE = "bench", "reader-bench"
TARGET_P99_MS = 20.0


class BenchError(RuntimeError):
    """The bench could not run; the text says why."""


@dataclass(slots=True, frozen=True)
class Latency:
    """Percentiles of one measured path, in milliseconds."""

    count: int
    p50: float
    p99: float

    @classmethod
    def of(cls, seconds: list[float]) -> Latency:
        """The p50 and p99 of `seconds` samples."""
        if not seconds:
            raise BenchError("no samples were received")
        ms = sorted(1000.0 * s for s in seconds)
        p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
        return cls(len(ms), statistics.median(ms), p99)


@dataclass(slots=True, frozen=True)
class BadgeBench:
    """The badge path and its two baselines."""

    pty: Latency
    paho: Latency
    badge: Latency

    def lines(self) -> list[str]:
        """The figures as printable lines."""
        base50, base99 = self.pty.p50 + self.paho.p50, self.pty.p99 + self.paho.p99
        return [
            f"badge frame -> badge.read on the bus, {self.badge.count} frames:",
            _row("baseline: pty write -> decoded frame", self.pty),
            _row("baseline: raw paho QoS 1 pub -> recv", self.paho),
            _row("RDM6300 frame -> badge.read received", self.badge),
            f"  {'ratio to the two baselines together':<38} p50 {self.badge.p50 / max(base50, 1e-9):6.2f}, "
            f"   p99 {self.badge.p99 / max(base99, 1e-9):6.2f}",
            f"  target p99 < {TARGET_P99_MS:g} ms: {'met' if self.badge.p99 < TARGET_P99_MS else 'NOT met'}",
        ]


def _row(label: str, latency: Latency) -> str:
    """One figure line."""
    return f"  {label:<38} p50 {latency.p50:6.2f} ms, p99 {latency.p99:6.2f} ms"


class Arrivals:
    """perf_counter time of the first arrival of each key, with a wait."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._seen: dict[str, float] = {}

    def note(self, key: str) -> None:
        """Record `key` arriving now (the first arrival counts)."""
        now = time.perf_counter()
        with self._cond:
            self._seen.setdefault(key, now)
            self._cond.notify_all()

    def wait(self, key: str, timeout: float) -> float:
        """When `key` arrived; BenchError if it does not within `timeout`."""
        with self._cond:
            if not self._cond.wait_for(lambda: key in self._seen, timeout):
                raise BenchError(f"{key} was not received within {timeout:g} s")
            return self._seen[key]


def _measure(count: int, interval: float, send: Callable[[str], None], arrivals: Arrivals,
             key: Callable[[int], str]) -> list[float]:
    """Send `count` keys one at a time, `interval` apart; the seconds from each send to its arrival."""
    samples = []
    for i in range(count):
        k = key(i)
        start = time.perf_counter()
        send(k)
        samples.append(arrivals.wait(k, 10.0) - start)
        time.sleep(interval)
    return samples


def _client(url: MqttUrl, name: str) -> mqtt.Client:
    """A connected paho client with its network thread running."""
    own = f"bench-{name}-{time.monotonic_ns()}"
    # a credentialed broker binds client ids to their principal (broker.acl.client_id_allowed)
    client_id = f"{url.username}@{own}" if url.username else own
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
    if url.username:
        client.username_pw_set(url.username, url.password)
    client.connect(url.host, url.port, keepalive=30)
    client.loop_start()
    return client


def bench_badge(url: MqttUrl, *, frames: int, interval: float, folder: Path) -> BadgeBench:
    """Measure the badge path and its baselines against the broker at `url`."""
    from broker.device_link import DeviceLink
    from devices.readers.badge_agent import BadgeReaderAgent
    from devices.readers.rdm6300 import Rdm6300Decoder
    from devices.serial_port import SerialTransport
    from devices.simulator import SimulatedRdm6300

    arrivals = Arrivals()
    subscribed = threading.Event()
    sub = _client(url, "sub")
    sub.on_subscribe = lambda *_: subscribed.set()
    raw_topic = f"gatehouse/{SITE}/bench-raw/event/bench.raw"
    event_topic = topics.event(SITE, DEVICE, "badge.read")

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        doc = json.loads(msg.payload)
        arrivals.note(doc["data"]["credential"])

    sub.on_message = on_message
    sub.subscribe([(raw_topic, 1), (event_topic, 1)])
    pub = _client(url, "pub")
    try:
        if not subscribed.wait(10):
            raise BenchError(f"could not subscribe at {url.redacted()}")
        with SimulatedRdm6300() as sim:
            transport = SerialTransport(sim.path, Rdm6300Decoder(), lambda r: arrivals.note(f"P{r.hex}"))
            transport.start(require_port=True)
            pty = _measure(frames, interval, lambda k: sim.write(_frame(k[1:])), arrivals,
                           lambda i: f"P{_tag(i, 1)}")
            transport.stop()
        paho = _measure(frames, interval, lambda k: _publish_raw(pub, raw_topic, k), arrivals,
                        lambda i: f"R{i:09d}")
        with SimulatedRdm6300() as sim, DeviceLink(url, site=SITE, device=DEVICE, kind="reader",
                                                   outbox_dir=folder, resend_after=60.0) as link:
            if not link.bus.wait_connected(10):
                raise BenchError(f"the reader could not connect to {url.redacted()}")
            agent = BadgeReaderAgent(sim.path, link.source, 1, hold_s=0.0)
            agent.start(require_port=True)
            try:
                badge = _measure(frames, interval, lambda k: sim.write(_frame(k)), arrivals,
                                 lambda i: _tag(i, 2))
            finally:
                agent.stop()
    finally:
        for client in (sub, pub):
            client.disconnect()
            client.loop_stop()
    return BadgeBench(Latency.of(pty), Latency.of(paho), Latency.of(badge))


def _publish_raw(client: mqtt.Client, topic: str, key: str) -> None:
    """Publish a message about the size of a badge.read event (QoS 1)."""
    client.publish(topic, json.dumps({"data": {"credential": key}, "pad": "x" * 250}).encode(), qos=1)


def _tag(i: int, run: int) -> str:
    """A distinct tag id (10 upper-case hex digits) per frame and run."""
    return f"{run:02X}{i:08X}"


def _frame(tag: str) -> bytes:
    """The RDM6300 frame of `tag`."""
    from devices.readers.rdm6300 import encode_frame

    return encode_frame(tag)


def bench_devices_command(settings: Settings, args: argparse.Namespace) -> int:
    """Run the camera and badge benches and print their figures."""
    from gatehouse.bench_cli import bench_broker

    if not args.no_camera:
        from devices.camera.bench import bench_camera

        width, height = args.camera_size
        print("\n".join(bench_camera(width, height, 5.0).lines()), flush=True)
    try:
        with bench_broker(settings, args.broker) as (url, name), \
                tempfile.TemporaryDirectory(prefix="gatehouse-bench-devices-") as tmp:
            figures = bench_badge(url, frames=args.frames, interval=args.interval, folder=Path(tmp))
    except (BenchError, TimeoutError, OSError) as exc:
        print(f"gatehouse bench devices: {exc}", file=sys.stderr)
        return 1
    print(f"broker: {name}")
    print("\n".join(figures.lines()))
    return 0
