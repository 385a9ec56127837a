"""Serve an amqtt configuration in the current process until SIGTERM or SIGINT.

The broker is broker.amqtt_patches' PatchedBroker: amqtt 0.12.1 with our fixes for its
subscription-map races, refused on any other amqtt version.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT_S = 5.0
PARENT_POLL_S = 1.0
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


async def serve_config(
    config: dict[str, Any], *, ready_file: Path | None = None, parent_pid: int | None = None
) -> int:
    """Run amqtt with `config` until SIGTERM/SIGINT (or the parent exits); return an exit code."""
    from amqtt.errors import BrokerError as AmqttBrokerError

    from broker.amqtt_identity import GuardedBroker
    from broker.amqtt_patches import AmqttVersionError

    bind = config.get("listeners", {}).get("default", {}).get("bind", "?")
    chatty = logging.getLogger("transitions")  # amqtt's state machine logs every step at INFO
    if chatty.level == logging.NOTSET:
        chatty.setLevel(logging.WARNING)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in _STOP_SIGNALS:  # before starting, so an early SIGTERM still ends cleanly
        loop.add_signal_handler(signum, stop.set)
    try:
        try:  # amqtt wants a running event loop at construction
            amqtt = GuardedBroker(config)
        except AmqttVersionError as exc:
            log.error("embedded broker cannot start: %s", exc)
            return 1
        try:
            await amqtt.start()
        except AmqttBrokerError as exc:
            log.error("embedded broker could not start on %s: %s", bind, exc)
            return 1
        watcher = asyncio.create_task(_watch_parent(parent_pid, stop)) if parent_pid else None
        if ready_file is not None:
            ready_file.touch()
        log.info("embedded broker serving on %s", bind)
        await stop.wait()
        if watcher is not None:
            watcher.cancel()
        log.info("embedded broker on %s shutting down", bind)
        try:
            await asyncio.wait_for(amqtt.shutdown(), SHUTDOWN_TIMEOUT_S)
        except TimeoutError:
            log.warning("embedded broker did not shut down within %.0f s", SHUTDOWN_TIMEOUT_S)
            return 1
    finally:
        for signum in _STOP_SIGNALS:
            loop.remove_signal_handler(signum)
    return 0


async def _watch_parent(parent_pid: int, stop: asyncio.Event) -> None:
    """Set `stop` once the process that started this broker has gone (re-parented)."""
    while os.getppid() == parent_pid:
        await asyncio.sleep(PARENT_POLL_S)
    log.warning("parent process %d has gone; stopping the embedded broker", parent_pid)
    stop.set()
