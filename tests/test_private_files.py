"""The data folder and everything in it are private (folders 0700, files 0600) under a umask of 022."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from broker.config import MqttUrl
from broker.embedded import free_port
from broker.private import make_private_dirs, private_dir, private_file
from broker.schemas import BadgeRead
from devices.camera.capture import SnapshotWriter
from kiosk.cache import JsonCache
from security.storage import open_store
from tests.support import event_source, http, unique_site, wait_until


def mode(path: Path) -> int:
    """The permission bits of `path`."""
    return stat.S_IMODE(path.stat().st_mode)


@contextmanager
def umask(value: int) -> Iterator[None]:
    """Run the block with this process's umask set to `value`."""
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


def test_private_dir_and_file_ignore_the_umask(tmp_path: Path) -> None:
    """Created folders are 0700 and files 0600 under umask 022; a parent that was there is left alone."""
    tmp_path.chmod(0o755)
    with umask(0o022):
        made = private_dir(tmp_path / "data" / "logs")
        log_file = private_file(tmp_path / "data" / "snapshots" / "cam" / "a.jpg")
        make_private_dirs(tmp_path / "data" / "outbox")
    assert made == tmp_path / "data" / "logs"
    for folder in ("data", "data/logs", "data/snapshots", "data/snapshots/cam", "data/outbox"):
        assert mode(tmp_path / folder) == 0o700, folder
    assert (mode(log_file), log_file.read_bytes()) == (0o600, b"")
    assert mode(tmp_path) == 0o755

    log_file.write_bytes(b"kept")
    log_file.chmod(0o644)  # written by an older version
    (tmp_path / "data" / "logs").chmod(0o755)
    private_file(log_file)
    private_dir(tmp_path / "data" / "logs")
    assert (mode(log_file), log_file.read_bytes()) == (0o600, b"kept")
    assert mode(tmp_path / "data" / "logs") == 0o700


def test_sqlite_store_outbox_snapshots_and_kiosk_cache_are_private(tmp_path: Path) -> None:
    """The SQLite store with its -wal and -shm, an outbox, a snapshot and the kiosk cache, umask 022."""
    data = tmp_path / "data"
    with umask(0o022):
        with open_store(f"sqlite:///{data / 'gatehouse.db'}") as store:
            assert store.query_events() == []
            files = {p.name: mode(p) for p in data.iterdir()}
        snapshot = SnapshotWriter(data / "snapshots" / "cam-1").write("s-1", np.zeros((8, 8, 3), np.uint8))
        cache = JsonCache(data / "kiosk-cache")
        cache.write("hosts", [{"id": "e1", "name": "Ana"}])
    assert files == {"gatehouse.db": 0o600, "gatehouse.db-wal": 0o600, "gatehouse.db-shm": 0o600}
    assert (mode(data), mode(snapshot.parent), mode(snapshot)) == (0o700, 0o700, 0o600)
    assert (mode(data / "kiosk-cache"), mode(cache.path("hosts"))) == (0o700, 0o600)


def test_the_service_and_a_device_keep_the_data_folder_private(
    mosquitto_url: MqttUrl, tmp_path: Path
) -> None:
    """`gatehouse serve` started under umask 022 in an existing 0755 data folder, a device beside it:
    the folder becomes 0700, the database (with -wal, -shm), the audit key and the outbox 0600."""
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    site, port = unique_site(), free_port()
    config = tmp_path / "gatehouse.toml"
    config.write_text(f"[api]\nport = {port}\n")
    broker = f"mqtt://{mosquitto_url.host}:{mosquitto_url.port}"
    command = [sys.executable, "-m", "gatehouse", "--config", str(config), "--site", site,
               "--mqtt", broker, "--data-dir", str(data), "serve"]
    with (tmp_path / "serve.log").open("wb") as log:
        proc = subprocess.Popen(["sh", "-c", 'umask 022 && exec "$@"', "sh", *command],
                                stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: _answers(f"http://127.0.0.1:{port}/api/health"), 60, "the service's API answering")
        with umask(0o022), event_source(mosquitto_url, data / "outbox", site, "reader-1") as source:
            source.emit("badge.read", BadgeRead(credential="0A1B2C3D", reader=1))
            wait_until(lambda: source.pending() == 0, 30, "the event stored by the service")
        modes = {str(p.relative_to(data)): mode(p) for p in data.rglob("*")}
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert mode(data) == 0o700
    for name in ("gatehouse.db", "gatehouse.db-wal", "gatehouse.db-shm", "secrets/audit.key"):
        assert modes.pop(name) == 0o600, name
    assert modes.pop("secrets") == 0o700
    assert modes.pop("outbox") == 0o700
    outbox_files = {name: m for name, m in modes.items() if name.startswith("outbox/")}
    assert outbox_files
    assert set(outbox_files.values()) == {0o600}, outbox_files
    others = {name: m for name, m in modes.items() if not name.startswith("outbox/")}
    assert all(m & 0o077 == 0 for m in others.values()), others


def _answers(url: str) -> bool:
    try:
        return http("GET", url, timeout=2).status == 200
    except OSError:
        return False
