"""`gatehouse serve`: run the central service in the foreground until SIGINT or SIGTERM."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from types import FrameType

from broker.config import MqttUrl, Settings, redact_db
from broker.private import private_dir
from security.site.central import Central, CentralConfig
from security.storage import open_store

log = logging.getLogger(__name__)


def run_service(
    settings: Settings, url: MqttUrl, *, gap_timeout: float = 30.0, config_path: str | Path | None = None
) -> int:
    """Serve until a signal arrives; return the process exit code."""
    config = CentralConfig.read(config_path)  # a bad file fails before anything starts
    private_dir(settings.data_dir)  # an older installation's folder (0755) is made private too
    store = open_store(settings.db_url())
    central = Central(settings, url, store, config, gap_timeout=gap_timeout)
    done = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping", signum)
        done.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    log.info("central service for site %s: broker %s, store %s",
             settings.site, url.redacted(), redact_db(settings.db_url()))
    central.start()
    if not central.service.bus.wait_connected(10):
        log.warning("broker %s not reachable yet; will keep trying", url.redacted())
    done.wait()
    central.stop()
    store.close()
    stats = central.service.stats
    log.info("stopped: %d received, %d stored, %d duplicate, %d dead letters",
             stats.received, stats.stored, stats.duplicates, stats.dead_letters)
    return 0
