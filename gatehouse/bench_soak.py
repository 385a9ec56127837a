"""`gatehouse bench soak`: a steady stream from device processes through kill -9s and broker restarts.

Device processes (real outboxes, real bus) emit `camera.motion` at a steady rate into a `gatehouse
serve` process. At random moments the service or a device is killed with SIGKILL and started again,
or the broker is killed and restarted. Every period it prints the events sent, the p99 of emit ->
watermark latency and the service's memory; at the end every device drains its outbox and the
store is compared with what the outboxes handed out: `sent N stored N lost N duplicated N`.
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TextIO

import paho.mqtt.client as mqtt

from broker import topics
from broker.config import MqttUrl, redact_db
from broker.embedded import EmbeddedBroker, free_port
from broker.events import ContractError
from broker.local_mosquitto import MOSQUITTO_BIN, LocalMosquitto, anonymous_config
from broker.messages import Ack
from broker.outbox import Outbox
from gatehouse.bench_ingest import paho_client, url_text
from gatehouse.soak_device import DRAIN_TIMEOUT_S

FAULTS = ("service", "device", "broker")
"""What the soak may kill: the service, a device, the broker (killed and restarted)."""
SERVICE_CONFIG = "[api]\nport = 0\n"
"""The service as `gatehouse serve` runs it, with its HTTP API on any free port."""


class SoakError(RuntimeError):
    """The soak could not run or could not finish measuring; the text says why."""


@dataclass(slots=True, frozen=True)
class Tally:
    """What the outboxes handed out against what the store holds, for the soak's devices."""

    sent: int
    stored: int
    lost: int
    duplicated: int
    wrong_id: int = 0

    @property
    def line(self) -> str:
        """The closing line."""
        return f"sent {self.sent} stored {self.stored} lost {self.lost} duplicated {self.duplicated}"


def tally(sent: dict[str, int], stored: dict[str, list[tuple[int, str]]],
          emitted_ids: dict[tuple[str, int], str]) -> Tally:
    """Compare seqs 1..sent[source] of each source with the stored (seq, id) pairs (pure)."""
    lost = duplicated = wrong = count = 0
    for source, last in sent.items():
        rows = stored.get(source, [])
        count += len(rows)
        seqs = [seq for seq, _ in rows]
        ids = [event_id for _, event_id in rows]
        duplicated += (len(seqs) - len(set(seqs))) + (len(ids) - len(set(ids)))
        lost += len(set(range(1, last + 1)) - set(seqs))
        wrong += sum(1 for seq, event_id in rows
                     if emitted_ids.get((source, seq), event_id) != event_id)
    return Tally(sum(sent.values()), count, lost, duplicated + wrong, wrong)


def p99_ms(samples: list[float]) -> float | None:
    """The 99th percentile of `samples` (seconds) in milliseconds; None without samples."""
    if not samples:
        return None
    ordered = sorted(samples)
    return 1000.0 * ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def rss_mb(pid: int) -> float | None:
    """Resident memory of process `pid` in MB (Linux /proc), None when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        return None
    return None


class _Broker:
    """The soak's broker: a fresh embedded or Mosquitto one that can be killed and restarted."""

    def __init__(self, kind: str, folder: Path) -> None:
        port = free_port()
        self.kind = kind
        self._mosquitto: LocalMosquitto | None = None
        self._embedded: EmbeddedBroker | None = None
        if kind == "mosquitto":
            if not MOSQUITTO_BIN.exists():
                raise SoakError(f"{MOSQUITTO_BIN} is not installed (set GATEHOUSE_MOSQUITTO_BIN)")
            self._mosquitto = LocalMosquitto(anonymous_config(folder / "mosquitto", port), port)
            self.name = f"a fresh Mosquitto ({MOSQUITTO_BIN})"
        else:
            self._embedded = EmbeddedBroker(port=port, anonymous=True, log_file=folder / "broker.log")
            self.name = "the embedded broker (amqtt, its own process)"
        self.url = MqttUrl("127.0.0.1", port)

    def start(self) -> None:
        """Start and wait until it accepts connections."""
        if self._mosquitto is not None:
            self._mosquitto.start()
        elif self._embedded is not None:
            self._embedded.start()
            self._embedded.wait_ready()

    def kill(self) -> None:
        """SIGKILL, as a crash."""
        if self._mosquitto is not None:
            self._mosquitto.kill()
        elif self._embedded is not None:
            self._embedded.kill()

    def close(self) -> None:
        """Stop for good."""
        if self._mosquitto is not None:
            self._mosquitto.stop()
        elif self._embedded is not None:
            self._embedded.close()


class _Child:
    """A child process of the soak (the service or a device) that may be killed and started again."""

    def __init__(self, name: str, command: list[str], log_path: Path) -> None:
        self.name, self.command, self.log_path = name, command, log_path
        self.proc: subprocess.Popen[str] | None = None
        self.started = 0.0

    def start(self, stdout: int | IO[str] | None = None) -> subprocess.Popen[str]:
        """Run it; its stderr goes to its log file."""
        with self.log_path.open("a") as log:
            self.proc = subprocess.Popen(self.command, stdout=stdout if stdout is not None else log,
                                         stderr=log, stdin=subprocess.DEVNULL, text=True)
        self.started = time.monotonic()
        return self.proc

    def kill(self) -> None:
        """SIGKILL it and reap it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait()

    def stop(self, timeout: float = 60.0) -> None:
        """SIGTERM it; SIGKILL if it hangs."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def alive(self) -> bool:
        """True while it runs."""
        return self.proc is not None and self.proc.poll() is None


@dataclass
class _Book:
    """Emit and watermark times, and the ids each device said it emitted (shared by threads)."""

    period: float
    t0: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)
    emitted: dict[tuple[str, int], float] = field(default_factory=dict)
    acked: dict[tuple[str, int], float] = field(default_factory=dict)
    ids: dict[tuple[str, int], str] = field(default_factory=dict)
    marks: dict[str, int] = field(default_factory=dict)
    latencies: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    sent: dict[int, int] = field(default_factory=lambda: defaultdict(int))

    def bucket(self, when: float) -> int:
        """The period `when` falls in."""
        return int((when - self.t0) // self.period)

    def on_emitted(self, source: str, seq: int, event_id: str, when: float) -> None:
        """A device emitted (source, seq) at `when`."""
        with self.lock:
            self.ids[(source, seq)] = event_id
            self.sent[self.bucket(when)] += 1
            acked = self.acked.pop((source, seq), None)
            if acked is not None:
                self.latencies[self.bucket(acked)].append(acked - when)
            elif seq > self.marks.get(source, 0):
                self.emitted[(source, seq)] = when

    def on_mark(self, source: str, mark: int, when: float) -> None:
        """The service's watermark for `source` reached `mark` at `when`."""
        with self.lock:
            old = self.marks.get(source, 0)
            for seq in range(old + 1, mark + 1):
                sent = self.emitted.pop((source, seq), None)
                if sent is None:
                    self.acked[(source, seq)] = when
                else:
                    self.latencies[self.bucket(when)].append(when - sent)
            self.marks[source] = max(old, mark)


class _Watermarks:
    """Follows the retained watermarks of the site through broker restarts."""

    def __init__(self, url: MqttUrl, site: str, book: _Book) -> None:
        self._book = book
        self._client = paho_client(url, f"soak-acks-{os.getpid()}")
        self._client.on_message = self._on_message
        self.service_online = threading.Event()
        self._service_status = topics.status(site, "central")
        self._client.on_connect = lambda c, *_a: c.subscribe(
            [(f"{topics.ROOT}/{site}/+/ack", 1), (self._service_status, 1)])
        self._client.reconnect_delay_set(min_delay=1, max_delay=2)
        self._client.connect(url.host, url.port, keepalive=10)
        self._client.loop_start()

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        if msg.topic == self._service_status:
            if b'"online"' in msg.payload:
                self.service_online.set()
            return
        try:
            mark = Ack.decode(bytes(msg.payload)).seq
        except ContractError:
            return
        self._book.on_mark(msg.topic.rsplit("/", 1)[0], mark, time.monotonic())

    def close(self) -> None:
        """Disconnect."""
        self._client.disconnect()
        self._client.loop_stop()


def _device_command(url: MqttUrl, site: str, device: str, folder: Path, rate: float, *,
                    drain: bool = False) -> list[str]:
    command = [sys.executable, "-m", "gatehouse.soak_device", url_text(url), site, device, str(folder),
               str(rate)]
    return command + (["--drain"] if drain else [])


def _read_emits(proc: subprocess.Popen[str], source: str, book: _Book) -> None:
    """Record every `seq id monotonic` line a device prints (a torn last line is ignored)."""
    assert proc.stdout is not None
    for line in proc.stdout:
        parts = line.split()
        if len(parts) == 3:
            try:
                book.on_emitted(source, int(parts[0]), parts[1], float(parts[2]))
            except ValueError:
                continue


@dataclass
class _Rig:
    """Everything the soak runs: broker, service, devices, and what happened to them."""

    broker: _Broker | None
    url: MqttUrl
    site: str
    folder: Path
    db_url: str
    rate: float
    book: _Book
    service: _Child = field(init=False)
    devices: list[_Child] = field(default_factory=list)
    faults: list[tuple[float, str]] = field(default_factory=list)
    incarnations: list[tuple[int, float, float | None, float | None]] = field(default_factory=list)
    """(pid, start time, first RSS, last RSS) of each service process."""
    warm_s: float = 10.0
    """A service process's memory is sampled once it has run this long (loaded, connected, busy)."""
    last_rss: float | None = None
    kinds: tuple[str, ...] = FAULTS
    p99s: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        config = self.folder / "service.toml"
        config.write_text(SERVICE_CONFIG)
        self.service = _Child("service", [
            sys.executable, "-m", "gatehouse", "--mqtt", url_text(self.url), "--db", self.db_url,
            "--site", self.site, "--data-dir", str(self.folder / "service"), "--config", str(config),
            "serve"], self.folder / "service.log")

    def start_service(self) -> None:
        """Start the service process and begin a new incarnation record."""
        proc = self.service.start()
        self.incarnations.append((proc.pid, time.monotonic(), None, None))

    def sample_rss(self) -> float | None:
        """The running service's RSS now, once it has run `warm_s`; kept as its incarnation's figures."""
        if not self.service.alive() or not self.incarnations:
            return None
        pid, started, first, _ = self.incarnations[-1]
        now = rss_mb(pid) if time.monotonic() - started >= self.warm_s else None
        if now is not None:
            self.incarnations[-1] = (pid, started, first if first is not None else now, now)
            self.last_rss = now
        return now

    def start_device(self, n: int) -> None:
        """Start device `n` (again), its emits read on a thread."""
        child = self.devices[n]
        proc = child.start(stdout=subprocess.PIPE)
        source = topics.source(self.site, child.name)
        threading.Thread(target=_read_emits, args=(proc, source, self.book), daemon=True).start()

    def fault(self, rng: random.Random) -> str:
        """Inflict one random fault and recover from it; say which."""
        what = rng.choice(self.kinds)
        if what == "service":
            self.service.kill()
            time.sleep(rng.uniform(0.0, 2.0))
            self.start_service()
            text = "service kill -9"
        elif what == "device":
            n = rng.randrange(len(self.devices))
            self.devices[n].kill()
            time.sleep(rng.uniform(0.0, 2.0))
            self.start_device(n)
            text = f"{self.devices[n].name} kill -9"
        else:
            assert self.broker is not None
            self.broker.kill()
            time.sleep(rng.uniform(0.5, 2.0))
            self.broker.start()
            text = "broker kill -9 and restart"
        self.faults.append((time.monotonic(), text))
        return text


def _stored(db_url: str, sources: list[str]) -> dict[str, list[tuple[int, str]]]:
    from security.storage import open_store  # the composition root's store, only for counting

    with open_store(db_url) as store:
        events = store.query_events(sources=sources, limit=None)
    out: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for event in events:
        out[event.source].append((event.seq, event.id))
    return out


@contextmanager
def _broker(kind: str, url: MqttUrl | None, folder: Path) -> Iterator[tuple[_Broker | None, MqttUrl, str]]:
    if url is not None:
        yield None, url, f"{url.redacted()} (as configured; no broker restarts)"
        return
    broker = _Broker(kind, folder)
    broker.start()
    try:
        yield broker, broker.url, broker.name
    finally:
        broker.close()


def run(*, seconds: float, rate: float, devices: int, fault_every: float, seed: int, broker: str,
        mqtt_url: MqttUrl | None, db_url: str | None, out: TextIO, faults: Sequence[str] = FAULTS) -> Tally:
    """The whole soak; prints as it goes and returns the closing tally."""
    if seconds <= 0 or rate <= 0 or devices < 1 or fault_every <= 0:
        raise SoakError("--minutes/--seconds, --rate, --devices and --fault-every must be positive")
    unknown = set(faults) - set(FAULTS)
    if unknown:
        raise SoakError(f"unknown fault(s) {', '.join(sorted(unknown))}; choose from {', '.join(FAULTS)}")
    if mqtt_url is not None and "broker" in faults:
        faults = [kind for kind in faults if kind != "broker"]  # a configured broker is not ours to kill
    rng = random.Random(seed)
    period = 60.0 if seconds >= 180 else max(1.0, seconds / 3)
    with tempfile.TemporaryDirectory(prefix="gatehouse-soak-") as tmp, ExitStack() as stack:
        folder = Path(tmp)
        b, url, name = stack.enter_context(_broker(broker, mqtt_url, folder))
        site = f"soak-{os.getpid()}-{int(time.time()) % 100000}"
        book = _Book(period)
        rig = _Rig(b, url, site, folder, db_url or f"sqlite:///{folder}/soak.db", rate / devices, book)
        rig.warm_s = min(10.0, period / 2)
        rig.kinds = tuple(dict.fromkeys(faults))
        if not rig.kinds:
            fault_every = float("inf")
        store = redact_db(db_url) if db_url else "SQLite (a temporary file)"
        print(f"soak on {name}; store {store}; {devices} device "
              f"processes, {rate:g} events/s in all, "
              + (f"a random fault ({', '.join(rig.kinds)}) every ~{fault_every:g} s (seed {seed})"
                 if rig.kinds else "no faults") + f", {seconds:g} s", file=out, flush=True)
        watch = _Watermarks(url, site, book)
        stack.callback(watch.close)
        stack.callback(_kill_all, rig.devices)
        stack.callback(rig.service.stop)
        rig.start_service()
        if not watch.service_online.wait(60):
            raise SoakError(f"the service did not come online within 60 s:\n{_tail(rig.service.log_path)}")
        for n in range(devices):
            name_n = f"soak-cam-{n}"
            rig.devices.append(_Child(name_n, _device_command(url, site, name_n, folder, rig.rate),
                                      folder / f"{name_n}.log"))
            rig.start_device(n)
        book.t0 = time.monotonic()
        _steady(rig, rng, seconds=seconds, period=period, fault_every=fault_every, out=out)
        return _finish(rig, out)


def _tail(path: Path, chars: int = 2000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"


def _kill_all(children: list[_Child]) -> None:
    for child in children:
        child.kill()


def _steady(rig: _Rig, rng: random.Random, *, seconds: float, period: float, fault_every: float,
            out: TextIO) -> None:
    """Run for `seconds`, a fault now and then, a line every period."""
    start = rig.book.t0
    next_fault = start + rng.uniform(0.5, 1.5) * fault_every
    next_line = start + period
    index = 0
    while (now := time.monotonic()) < start + seconds:
        if now >= next_fault:
            rig.fault(rng)
            next_fault = time.monotonic() + rng.uniform(0.5, 1.5) * fault_every
        elif now >= next_line:
            _period_line(rig, index, out)
            index += 1
            next_line += period
        else:
            time.sleep(min(0.2, next_fault - now, next_line - now))
    _period_line(rig, index, out)


def _period_line(rig: _Rig, index: int, out: TextIO) -> None:
    book = rig.book
    with book.lock:
        sent = book.sent.get(index, 0)
        p99 = p99_ms(book.latencies.get(index, []))
    rss = rig.sample_rss()
    if p99 is not None:
        rig.p99s.append(p99)
    lo, hi = book.t0 + index * book.period, book.t0 + (index + 1) * book.period
    faults = [text for when, text in rig.faults if lo <= when < hi]
    unit = "min" if book.period == 60.0 else "period"
    print(f"  {unit} {index + 1:3d}: sent {sent:6d}  p99 "
          + (f"{p99:8.1f} ms" if p99 is not None else "       - ms")
          + "  service RSS " + (f"{rss:6.1f} MB" if rss is not None else "     - MB")
          + (f"  ({', '.join(faults)})" if faults else ""), file=out, flush=True)


def _finish(rig: _Rig, out: TextIO) -> Tally:
    """Stop emitting, let every outbox drain, stop the service, count."""
    for child in rig.devices:
        child.stop()
    if not rig.service.alive():
        rig.start_service()
    rig.sample_rss()
    drains = []
    for child in rig.devices:
        drain = _Child(child.name, _device_command(rig.url, rig.site, child.name, rig.folder, rig.rate,
                                                   drain=True), child.log_path)
        drain.start()
        drains.append(drain)
    undrained = []
    for drain in drains:
        assert drain.proc is not None
        try:
            if drain.proc.wait(DRAIN_TIMEOUT_S + 30) != 0:
                undrained.append(drain.name)
        except subprocess.TimeoutExpired:
            drain.kill()
            undrained.append(drain.name)
    rig.service.stop()
    sent = {}
    for child in rig.devices:
        outbox = Outbox(rig.folder / f"{child.name}.outbox.db")
        sent[topics.source(rig.site, child.name)] = outbox.last_seq
        outbox.close()
    result = tally(sent, _stored(rig.db_url, list(sent)), dict(rig.book.ids))
    _memory_lines(rig, rig.last_rss, out)
    if rig.p99s:
        unit = "minute" if rig.book.period == 60.0 else "period"
        print(f"p99 emit -> stored per {unit}: {min(rig.p99s):.1f} to {max(rig.p99s):.1f} ms "
              f"(median {statistics.median(rig.p99s):.1f} ms)", file=out)
    kinds: dict[str, int] = defaultdict(int)
    for _, text in rig.faults:
        kinds[text.split(" ")[0] if not text.startswith("soak-cam") else "device"] += 1
    detail = ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items()))
    print(f"faults: {sum(kinds.values())}" + (f" ({detail})" if detail else ""), file=out)
    if undrained:
        print(f"outboxes not drained within {DRAIN_TIMEOUT_S:.0f} s: {', '.join(undrained)}", file=out)
    if result.wrong_id:
        print(f"{result.wrong_id} stored event(s) carry another id than the device emitted", file=out)
    print(result.line, file=out, flush=True)
    return result


def _memory_lines(rig: _Rig, end_rss: float | None, out: TextIO) -> None:
    """The service's RSS at start and end, and over its longest-lived process."""
    firsts = [first for _, _, first, _ in rig.incarnations if first is not None]
    if firsts and end_rss is not None:
        print(f"service RSS: start {firsts[0]:.1f} MB, end {end_rss:.1f} MB "
              f"({100.0 * (end_rss - firsts[0]) / firsts[0]:+.1f}%)", file=out)
    ends = [started for _, started, _, _ in rig.incarnations[1:]] + [time.monotonic()]
    spans = [(ends[i] - started, pid, first, last)
             for i, (pid, started, first, last) in enumerate(rig.incarnations)
             if first is not None and last is not None]
    if spans:
        span, pid, first, last = max(spans)
        print(f"longest-lived service process (pid {pid}, {span / 60:.1f} min): RSS {first:.1f} -> "
              f"{last:.1f} MB ({100.0 * (last - first) / first:+.1f}%)", file=out)
