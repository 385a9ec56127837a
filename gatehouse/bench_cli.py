"""`gatehouse bench ...`: pick the broker (the one configured, or a fresh local one) and report."""

from __future__ import annotations

import argparse
import random
import signal
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from broker.config import MqttUrl, Settings
from broker.embedded import EmbeddedBroker, free_port
from broker.local_mosquitto import MOSQUITTO_BIN, LocalMosquitto, anonymous_config
from gatehouse import bench_ingest, bench_soak


@contextmanager
def bench_broker(settings: Settings, kind: str | None) -> Iterator[tuple[MqttUrl, str]]:
    """The broker to measure: as configured (--mqtt), else a fresh local Mosquitto or embedded one."""
    if not settings.embedded:
        url = settings.mqtt_url()
        yield url, f"{url.redacted()} (as configured)"
        return
    kind = kind or ("mosquitto" if MOSQUITTO_BIN.exists() else "embedded")
    if kind == "mosquitto":
        with tempfile.TemporaryDirectory(prefix="gatehouse-bench-mosquitto-") as tmp:
            port = free_port()
            broker = LocalMosquitto(anonymous_config(Path(tmp), port), port)
            broker.start()
            try:
                yield broker.url, f"a fresh Mosquitto ({MOSQUITTO_BIN}) configured as for production"
            finally:
                broker.stop()
        return
    with EmbeddedBroker(port=free_port(), anonymous=True) as embedded:
        yield embedded.url, "the embedded broker (amqtt, its own process)"


def bench_ingest_command(settings: Settings, args: argparse.Namespace) -> int:
    """Run the ingest bench and print its figures."""
    try:
        with bench_broker(settings, args.broker) as (url, name):
            figures = bench_ingest.run(url, events=args.events, latency_rate=args.rate,
                                       latency_seconds=args.seconds, db_url=settings.db)
    except (bench_ingest.BenchError, TimeoutError) as exc:
        print(f"gatehouse bench ingest: {exc}", file=sys.stderr)
        return 1
    store = settings.db or "SQLite (a temporary file, WAL)"
    bench_ingest.report(figures, f"{name}; store {store}", sys.stdout)
    return 0


def bench_soak_command(settings: Settings, args: argparse.Namespace) -> int:
    """Run the soak and print its figures; exit 1 when anything was lost or duplicated."""
    seconds = args.seconds if args.seconds is not None else 60.0 * args.minutes
    signal.signal(signal.SIGTERM, _exit_on_signal)  # so the broker, service and devices are stopped too
    try:
        result = bench_soak.run(
            seconds=seconds, rate=args.rate, devices=args.devices, fault_every=args.fault_every,
            seed=args.seed if args.seed is not None else random.randrange(1 << 30), broker=args.broker,
            mqtt_url=None if settings.embedded else settings.mqtt_url(), db_url=settings.db, out=sys.stdout,
            faults=[kind for kind in args.faults.split(",") if kind and kind != "none"],
        )
    except bench_soak.SoakError as exc:
        print(f"gatehouse bench soak: {exc}", file=sys.stderr)
        return 1
    return 0 if result.lost == result.duplicated == 0 else 1


def _exit_on_signal(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)
