"""A Mosquitto of our own on a free loopback port: for benchmarks and fault tests."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from broker.acl import MAX_QUEUED
from broker.config import MqttUrl
from broker.embedded import accepts_connections

MOSQUITTO_BIN = Path(
    os.environ.get("GATEHOUSE_MOSQUITTO_BIN") or shutil.which("mosquitto") or "/usr/sbin/mosquitto"
)


def anonymous_config(folder: Path, port: int) -> Path:
    """Write a loopback-only, anonymous config tuned like the production one; return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [
        f"listener {port} 127.0.0.1",
        "allow_anonymous true",
        "persistence false",
        f"max_queued_messages {MAX_QUEUED}",
        "set_tcp_nodelay true",
        "log_dest stderr",
    ]
    if os.geteuid() == 0:
        lines.append("user root")  # it would drop to `mosquitto`, which cannot read our temp folder
    path = folder / "mosquitto.conf"
    path.write_text("\n".join(lines) + "\n")
    return path


class LocalMosquitto:
    """A Mosquitto process of our own, from a config file, that may be stopped, killed, restarted."""

    def __init__(
        self, config_file: Path, port: int, host: str = "127.0.0.1", *, binary: Path = MOSQUITTO_BIN
    ) -> None:
        """Describe it; `start()` runs it."""
        self.binary = binary
        self.config_file = config_file
        self.host = host
        self.port = port
        self.log_file = config_file.with_suffix(".log")
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> MqttUrl:
        """Where clients reach it (no credentials)."""
        return MqttUrl(self.host, self.port)

    def start(self, timeout: float = 10.0) -> None:
        """Run Mosquitto and wait until it accepts connections."""
        if self._proc is not None and self._proc.poll() is None:
            return
        if accepts_connections(self.host, self.port):
            raise RuntimeError(f"port {self.port} on {self.host} is already in use")
        with self.log_file.open("ab") as log:
            self._proc = subprocess.Popen(
                [str(self.binary), "-c", str(self.config_file)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while not accepts_connections(self.host, self.port, timeout=0.2):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"mosquitto did not start:\n{self.log()}")
            time.sleep(0.05)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (Mosquitto saves its persistence file), SIGKILL if it hangs."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def kill(self) -> None:
        """SIGKILL, as a crash: state not yet autosaved is lost."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def restart(self) -> None:
        """Stop cleanly and start again on the same port."""
        self.stop()
        self.start()

    def log(self) -> str:
        """Everything Mosquitto logged so far."""
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""


