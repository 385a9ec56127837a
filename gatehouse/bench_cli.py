"""`gatehouse bench ...`: pick the broker (the one configured, or a fresh embedded one) and report."""

from __future__ import annotations

import argparse
import sys

from broker.config import Settings
from broker.embedded import EmbeddedBroker, free_port
from gatehouse import bench_ingest


def bench_ingest_command(settings: Settings, args: argparse.Namespace) -> int:
    """Run the ingest bench on the configured broker, or on an embedded one when none is."""
    db = settings.db
    if settings.embedded:
        with EmbeddedBroker(port=free_port(), anonymous=True) as broker:
            broker.wait_ready()
            figures = bench_ingest.run(broker.url, events=args.events, latency_rate=args.rate,
                                       latency_seconds=args.seconds, db_url=db)
        name = "the embedded broker (amqtt, own process)"
    else:
        url = settings.mqtt_url()
        figures = bench_ingest.run(url, events=args.events, latency_rate=args.rate,
                                   latency_seconds=args.seconds, db_url=db)
        name = url.redacted()
    bench_ingest.report(figures, f"{name}, store {db or 'SQLite (temporary file)'}", sys.stdout)
    return 0
