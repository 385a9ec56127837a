"""`gatehouse bench ingest`: events/s persisted end to end against a bare paho ceiling, and latency."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from broker import topics
from broker.config import MqttUrl
from broker.events import ContractError, encode, make_event
from broker.messages import Ack
from broker.schemas import BadgeRead

SOURCES = 10
SUBSCRIBE_WAIT_S = 30.0


class BenchError(RuntimeError):
    """The bench could not measure; the text says why and what to change."""


@dataclass(slots=True, frozen=True)
class IngestFigures:
    """What one bench run measured."""

    events: int
    ceiling_rate: float
    persisted_rate: float
    latency_rate: float
    p50_ms: float
    p99_ms: float
    resent: int = 0

    @property
    def ratio(self) -> float:
        """Persisted rate as a share of the bare-subscriber ceiling."""
        return self.persisted_rate / self.ceiling_rate if self.ceiling_rate else 0.0


def paho_client(url: MqttUrl, client_id: str) -> mqtt.Client:
    """A paho client for `url` (not yet connected), with room for 1000 messages in flight."""
    if url.username:  # a credentialed broker binds client ids to their principal
        client_id = f"{url.username}@{client_id}"
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=mqtt.MQTTv5 if url.version == 5 else mqtt.MQTTv311)
    client.max_inflight_messages_set(1000)
    if url.username:
        client.username_pw_set(url.username, url.password)
    return client


def _subscribe(client: mqtt.Client, *filters: str) -> None:
    for topic_filter in filters:
        client.subscribe(topic_filter, qos=1)


def _payloads(site: str, count: int, offset: int = 0) -> list[tuple[str, str, int, bytes]]:
    """(topic, source, seq, payload) for `count` events spread over the bench sources."""
    out = []
    for i in range(count):
        device = f"bench-{i % SOURCES}"
        seq = offset + i // SOURCES + 1
        event = make_event(site, device, "badge.read", seq, BadgeRead(credential=f"{i:08X}", reader=1))
        out.append((event.topic, event.source, seq, encode(event)))
    return out


def _publish_all(url: MqttUrl, items: list[tuple[str, str, int, bytes]], rate: float | None,
                 sent_at: dict[tuple[str, int], float] | None = None) -> float:
    """Publish at QoS 1 (paced at `rate` per second if given); return the start time."""
    client = paho_client(url, f"bench-pub-{os.getpid()}")
    client.connect(url.host, url.port)
    client.loop_start()
    start = time.monotonic()
    infos = []
    for n, (topic, source, seq, payload) in enumerate(items):
        if rate:
            delay = start + n / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        if sent_at is not None:
            sent_at[(source, seq)] = time.monotonic()
        infos.append(client.publish(topic, payload, qos=1))
    for info in infos:
        info.wait_for_publish(timeout=60)
    client.disconnect()
    client.loop_stop()
    return start


def count_subscriber(url: MqttUrl, site: str, expect: int, out: TextIO) -> None:
    """The ceiling: a bare paho subscriber that only counts (runs in its own process)."""
    done = threading.Event()
    state = {"n": 0, "first": 0.0, "last": 0.0}

    def on_message(_c: mqtt.Client, _u: object, _m: mqtt.MQTTMessage) -> None:
        now = time.monotonic()
        if state["n"] == 0:
            state["first"] = now
        state["n"] += 1
        state["last"] = now
        if state["n"] >= expect:
            done.set()

    subscribed = threading.Event()
    client = paho_client(url, f"bench-count-{os.getpid()}")
    client.on_message = on_message
    client.on_connect = lambda c, *_a: _subscribe(c, topics.all_events(site))
    client.on_subscribe = lambda *_a: subscribed.set()
    client.connect(url.host, url.port)
    client.loop_start()
    if not subscribed.wait(SUBSCRIBE_WAIT_S):  # "ready" only once the broker has acknowledged it
        print("not subscribed", file=out, flush=True)
        client.loop_stop()
        return
    print("ready", file=out, flush=True)
    started = time.monotonic()
    while not done.wait(timeout=1.0):  # give up once nothing has come for 5 s (60 s at first)
        idle_since = state["last"] if state["n"] else started + 55.0
        if time.monotonic() - idle_since > 5.0:
            break
    client.loop_stop()
    print(json.dumps(state), file=out, flush=True)


class _Resender:
    """Republishes bench events above the watermarks, as sources' outboxes do."""

    def __init__(self, url: MqttUrl, items: list[tuple[str, str, int, bytes]]) -> None:
        self.url, self.items, self.resent = url, items, 0

    def above(self, marks: dict[str, int]) -> None:
        """Publish again every item whose seq is above its source's watermark."""
        todo = [item for item in self.items if item[2] > marks.get(item[1], 0)]
        self.resent += len(todo)
        _publish_all(self.url, todo, rate=None)


class _AckWatcher:
    """Follows the retained watermarks of the bench sources."""

    def __init__(self, url: MqttUrl, site: str) -> None:
        self.marks: dict[str, int] = {}
        self.changed = threading.Condition()
        self.sent_at: dict[tuple[str, int], float] = {}
        self.latencies: list[float] = []
        self.service_online = threading.Event()
        self.subscribed = threading.Event()
        self._site = site
        self._client = paho_client(url, f"bench-acks-{os.getpid()}")
        self._client.on_message = self._on_message
        self._client.on_subscribe = lambda *_a: self.subscribed.set()
        self._client.on_connect = lambda c, *_a: _subscribe(
            c, f"{topics.ROOT}/{site}/+/ack", topics.status(site, "central")
        )
        self._client.connect(url.host, url.port)
        self._client.loop_start()

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        now = time.monotonic()
        if msg.topic.endswith("/status"):
            if b'"online"' in msg.payload:
                self.service_online.set()
            return
        source = msg.topic.rsplit("/", 1)[0]
        try:
            mark = Ack.decode(bytes(msg.payload)).seq
        except ContractError:
            return  # not ours to judge here; the service's own tests cover its acks
        with self.changed:
            old = self.marks.get(source, 0)
            for seq in range(old + 1, mark + 1):
                sent = self.sent_at.pop((source, seq), None)
                if sent is not None:
                    self.latencies.append(now - sent)
            self.marks[source] = max(old, mark)
            self.changed.notify_all()

    def wait_for(self, target: int, timeout: float, resend: _Resender | None = None) -> float:
        """Block until every bench source's watermark reaches `target`; return when it did.

        Like a real source's outbox, `resend` republishes what is above a watermark that has not
        moved for a second (a broker drops QoS 1 messages past its queue limit for a slow consumer).
        """
        deadline = time.monotonic() + timeout
        sources = [topics.source(self._site, f"bench-{i}") for i in range(SOURCES)]
        with self.changed:
            while any(self.marks.get(s, 0) < target for s in sources):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"watermarks {self.marks} did not reach {target}")
                if not self.changed.wait(min(left, 1.0)) and resend is not None:
                    resend.above(dict(self.marks))
        return time.monotonic()

    def close(self) -> None:
        """Disconnect."""
        self._client.disconnect()
        self._client.loop_stop()


@contextmanager
def _service(url_text: str, db_url: str, site: str, data_dir: Path) -> Iterator[subprocess.Popen[bytes]]:
    with (data_dir / "service.log").open("ab") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gatehouse", "--mqtt", url_text, "--db", db_url, "--site", site,
             "--data-dir", str(data_dir), "serve"],
            stdout=log_file, stderr=subprocess.STDOUT,
        )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


def measure_ceiling(url: MqttUrl, site: str, events: int) -> float:
    """Events/s a bare paho subscriber receives from the bench publisher."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "gatehouse.bench_ingest", url_text(url), site, str(events)],
        stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    try:
        if (said := proc.stdout.readline().strip()) != "ready":  # printed once its SUBACK came
            raise BenchError(f"the counting subscriber did not start ({said or 'it died'})")
        start = _publish_all(url, _payloads(site, events), rate=None)
        line = proc.stdout.readline()
        if not line:
            raise BenchError("the counting subscriber died before reporting")
        state = json.loads(line)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
    if state["n"] < events:
        raise BenchError(
            f"the broker delivered only {state['n']} of {events} QoS 1 messages to a bare subscriber: "
            "it drops what it cannot queue (Mosquitto's max_queued_messages defaults to 1000). "
            "Use the config `gatehouse broker mosquitto-config` writes, or run without --mqtt."
        )
    return events / (float(state["last"]) - start)


def url_text(url: MqttUrl) -> str:
    """The URL as text, credentials included (only passed to child processes)."""
    auth = f"{url.username}:{url.password}@" if url.username else ""
    return f"{'mqtts' if url.tls else 'mqtt'}://{auth}{url.host}:{url.port}?version={url.version}"


def run(url: MqttUrl, *, events: int, latency_rate: float, latency_seconds: float,
        db_url: str | None) -> IngestFigures:
    """One full bench on one broker: ceiling, persisted throughput, then latency at a fixed rate."""
    site = f"bench-{os.getpid()}-{int(time.time()) % 100000}"
    ceiling = measure_ceiling(url, site + "-c", events)
    with tempfile.TemporaryDirectory(prefix="gatehouse-bench-") as tmp:
        db = db_url or f"sqlite:///{tmp}/bench.db"
        watcher = _AckWatcher(url, site)
        try:
            if not watcher.subscribed.wait(SUBSCRIBE_WAIT_S):
                raise BenchError(f"the watermark watcher could not subscribe at {url.redacted()}")
            with _service(url_text(url), db, site, Path(tmp)):
                if not watcher.service_online.wait(30):
                    log_text = (Path(tmp) / "service.log").read_text(errors="replace")[-2000:]
                    raise BenchError(f"the central service did not come online within 30 s:\n{log_text}")
                items = _payloads(site, events)
                resender = _Resender(url, items)
                start = _publish_all(url, items, rate=None)
                done = watcher.wait_for(events // SOURCES, timeout=300, resend=resender)
                persisted = events / (done - start)
                count = int(latency_rate * latency_seconds)
                count -= count % SOURCES
                items = _payloads(site, count, offset=events // SOURCES)
                _publish_all(url, items, rate=latency_rate, sent_at=watcher.sent_at)
                watcher.wait_for(events // SOURCES + count // SOURCES, timeout=120)
        finally:
            watcher.close()
    p50, p99 = latency_percentiles(watcher.latencies, count)
    return IngestFigures(events, ceiling, persisted, latency_rate, p50, p99, resender.resent)


def latency_percentiles(latencies: list[float], expected: int) -> tuple[float, float]:
    """p50 and p99 in ms of `latencies` (seconds); BenchError if fewer than `expected` (or 2) were timed."""
    if len(latencies) < max(2, expected):
        raise BenchError(
            f"could not measure the latency: {len(latencies)} of {expected} events were timed from "
            "publish to watermark (at least 2 are needed); give --rate and --seconds a larger product"
        )
    q = statistics.quantiles(latencies, n=100, method="inclusive")  # within the samples seen
    return q[49] * 1000, q[98] * 1000


def report(fig: IngestFigures, broker_name: str, out: TextIO) -> None:
    """Print the figures as a short readable block."""
    print(f"ingest bench on {broker_name}: {fig.events} events from {SOURCES} sources, QoS 1", file=out)
    print(f"  bare paho subscriber (ceiling) {fig.ceiling_rate:9.0f} events/s", file=out)
    print(f"  persisted end to end           {fig.persisted_rate:9.0f} events/s", file=out)
    print(f"  ratio persisted / ceiling      {fig.ratio:9.2f}", file=out)
    if fig.resent:
        print(f"  (the broker dropped some for the slower consumer: {fig.resent} resent)", file=out)
    print(f"  publish-to-stored latency at {fig.latency_rate:.0f} events/s: "
          f"p50 {fig.p50_ms:.1f} ms, p99 {fig.p99_ms:.1f} ms", file=out)


if __name__ == "__main__":
    count_subscriber(MqttUrl.parse(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.stdout)
