"""The embedded broker: amqtt in a process of its own, on loopback by default.

amqtt in the same process as its clients manages a third of the throughput with a p99 of
seconds, so `EmbeddedBroker` runs `python -m broker.embedded` as a child process. That entry
point serves until SIGTERM or SIGINT, or until the process that started it goes away.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from broker import topics
from broker.acl import amqtt_anonymous_config, amqtt_config, amqtt_password_file
from broker.amqtt_server import serve_config
from broker.config import EMBEDDED_PORT, MqttUrl
from broker.credentials import Principal, write_private_file
from broker.safe_text import EscapingFormatter

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
_SOURCE_ROOT = Path(__file__).resolve().parent.parent


class BrokerError(RuntimeError):
    """The embedded broker cannot start or stopped unexpectedly; the text says why."""


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port on `host` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def accepts_connections(host: str, port: int, timeout: float = 0.5) -> bool:
    """True if something accepts a TCP connection on `host`:`port`."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def check_port_free(host: str, port: int) -> None:
    """Raise BrokerError if another program already listens on `host`:`port`.

    It tries to bind as asyncio will (SO_REUSEADDR, so connections of a broker that just
    stopped do not count) rather than connect, which a running amqtt would log as an error.
    Other bind errors (an address not on this machine) are left for the broker to report.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError:
        return
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                return
            raise BrokerError(
                f"port {port} on {host} is already in use (another broker?); stop it or choose "
                "another port, e.g. one from broker.embedded.free_port()"
            ) from None


class EmbeddedBroker:
    """An amqtt broker in a child process; a context manager that starts and stops it."""

    def __init__(
        self,
        *,
        host: str = LOOPBACK,
        port: int = EMBEDDED_PORT,
        site: str | None = None,
        principals: Iterable[Principal] | None = None,
        anonymous: bool = False,
        log_level: str = "WARNING",
        log_file: Path | None = None,
    ) -> None:
        """Describe the broker; nothing starts until `start()`.

        Give `site` and `principals` for password authentication and the per-principal ACLs
        (what `gatehouse broker` runs), or `anonymous=True` for anyone-may-do-anything.
        """
        if anonymous == (principals is not None):
            raise ValueError("EmbeddedBroker needs either principals (with site) or anonymous=True")
        if principals is not None and not site:
            raise ValueError("EmbeddedBroker with principals needs the site their ACLs are for")
        if not 0 < port < 65536:
            raise ValueError(f"port must be 1-65535, got {port}")
        if site is not None:
            topics.check_name(site, "site")
        self.host = host
        self.port = port
        self.site = site
        self.anonymous = anonymous
        self._principals = None if principals is None else list(principals)
        self._log_level = log_level
        self._log_file = log_file
        self._workdir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> MqttUrl:
        """Where clients reach this broker (no credentials)."""
        return MqttUrl(self.host, self.port)

    @property
    def pid(self) -> int | None:
        """Process id of the running broker, or None."""
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        """True while the child process is alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def log_path(self) -> Path | None:
        """The file the child's log goes to (once started)."""
        if self._log_file is not None:
            return self._log_file
        return self._workdir / "broker.log" if self._workdir is not None else None

    def url_for(self, principal: Principal) -> MqttUrl:
        """Where `principal` reaches this broker, with its credentials."""
        return self.url.with_credentials(principal.name, principal.password)

    def start(self) -> None:
        """Spawn the broker process (no-op if it runs); BrokerError if the port is taken."""
        if self.running:
            return
        check_port_free(self.host, self.port)
        workdir = self._workdir or Path(tempfile.mkdtemp(prefix="gatehouse-broker-"))
        self._workdir = workdir
        config_path = workdir / "amqtt.json"
        write_private_file(config_path, json.dumps(self._config(workdir), indent=2))
        ready = workdir / "ready"
        ready.unlink(missing_ok=True)
        log_path = self.log_path or workdir / "broker.log"
        self._log = log_path.open("ab")
        command = [
            sys.executable, "-m", "broker.embedded",
            "--config", str(config_path),
            "--log-level", self._log_level,
            "--ready-file", str(ready),
            "--parent-pid", str(os.getpid()),
        ]  # fmt: skip
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_SOURCE_ROOT), env.get("PYTHONPATH")) if p)
        self._proc = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._log, env=env
        )
        log.info("embedded broker starting on %s (pid %d)", self.url.redacted(), self._proc.pid)

    def wait_ready(self, timeout: float = 15.0) -> None:
        """Block until the broker accepts connections; BrokerError if it dies or times out."""
        if self._proc is None or self._workdir is None:
            raise BrokerError("embedded broker was not started")
        ready = self._workdir / "ready"
        deadline = time.monotonic() + timeout
        while True:
            code = self._proc.poll()
            if code is not None:
                raise BrokerError(
                    f"embedded broker on {self.host}:{self.port} exited with code {code} "
                    f"before it was ready: {self._log_tail()}"
                )
            if ready.exists():  # touched once amqtt listens; a TCP probe would log an error
                return
            if time.monotonic() >= deadline:
                raise BrokerError(
                    f"embedded broker on {self.host}:{self.port} not ready after {timeout:.0f} s: "
                    f"{self._log_tail()}"
                )
            time.sleep(0.05)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM the broker, SIGKILL it if it lingers; return its exit code (None if idle)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("embedded broker pid %d ignored SIGTERM; killing it", proc.pid)
                proc.kill()
                proc.wait()
        self._close_log()
        log.info("embedded broker on %s stopped (exit code %s)", self.url.redacted(), proc.returncode)
        return proc.returncode

    def kill(self) -> None:
        """SIGKILL the broker, as a crash would end it."""
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.kill()
            proc.wait()
        self._close_log()

    def restart(self, timeout: float = 15.0) -> None:
        """Stop, start on the same port and wait until ready."""
        self.stop()
        self.start()
        self.wait_ready(timeout)

    def close(self) -> None:
        """Stop the broker and remove its private working folder."""
        self.stop()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> EmbeddedBroker:
        """Start and wait until ready."""
        self.start()
        try:
            self.wait_ready()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Stop and clean up."""
        self.close()

    def _config(self, workdir: Path) -> dict[str, Any]:
        if self._principals is None:
            return amqtt_anonymous_config(self.host, self.port)
        password_file = workdir / "amqtt.passwd"
        write_private_file(password_file, amqtt_password_file(self._principals))
        assert self.site is not None
        return amqtt_config(self.host, self.port, self.site, self._principals, str(password_file))

    def _log_tail(self, lines: int = 15) -> str:
        path = self.log_path
        if path is None or not path.exists():
            return "(no log)"
        tail = path.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(tail) if tail else "(empty log)"

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m broker.embedded`: serve an amqtt configuration until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m broker.embedded", description=main.__doc__)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--config", type=Path, help="amqtt configuration (JSON)")
    mode.add_argument("--anonymous", action="store_true", help="anyone may connect, no ACL")
    parser.add_argument("--host", default=LOOPBACK, help="with --anonymous: address to bind")
    parser.add_argument("--port", type=int, default=EMBEDDED_PORT, help="with --anonymous: port")
    parser.add_argument("--log-level", default="WARNING")
    parser.add_argument("--ready-file", type=Path, help="touched once the broker listens")
    parser.add_argument("--parent-pid", type=int, help="stop when this process is gone")
    args = parser.parse_args(argv)
    handler = logging.StreamHandler()  # a client id or topic in a message cannot forge a log line
    handler.setFormatter(EscapingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=args.log_level.upper(), handlers=[handler])
    if args.config:
        config = json.loads(args.config.read_text())
    else:
        try:
            check_port_free(args.host, args.port)
        except BrokerError as exc:
            log.error("%s", exc)
            return 1
        config = amqtt_anonymous_config(args.host, args.port)
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(
            serve_config(config, ready_file=args.ready_file, parent_pid=args.parent_pid)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
