"""`gatehouse device run` and `gatehouse simulate`, without argument parsing."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, TextIO

from broker.config import ENV_CONFIG, ConfigError, Settings
from broker.private import private_file

if TYPE_CHECKING:
    from devices.sim_site import SimulatedSite

log = logging.getLogger(__name__)

READY = "devices running:"
"""How the runner's log line starts once every device was started (the simulator waits for it)."""


def device_run_command(settings: Settings, args: argparse.Namespace) -> int:
    """Run every device of the site file until SIGINT/SIGTERM (or --run-for); return an exit code.

    0: stopped by a signal or at the end of --run-for; 1: no device could run;
    2 (from the caller): the site file is invalid.
    """
    from broker.broker_cli import client_url
    from broker.credentials import Role
    from devices.runner import DeviceContext, SiteRunner
    from devices.site import load_site

    path = getattr(args, "config", None) or os.environ.get(ENV_CONFIG)
    if not path:
        raise ConfigError("gatehouse device run needs a site file: --config site.toml (or GATEHOUSE_CONFIG)")
    site = load_site(path)
    enabled = site.enabled()
    if not enabled:
        log.error("site file %s lists no enabled device: nothing to run", path)
        return 1
    stop = threading.Event()
    _on_signals(stop)
    kinds = {d.name: Role(d.status_kind) for d in site.devices}  # each principal's kind, from the site file
    ctx = DeviceContext(settings.site, lambda name: client_url(settings, name, kinds.get(name, Role.DEVICE)),
                        settings.data_dir, site)
    log.info("site %s: starting %d devices from %s, broker %s", settings.site, len(enabled), path,
             settings.mqtt_url().redacted())
    runner = SiteRunner(site, ctx)
    try:
        count = runner.start()
        if count == 0:
            log.error("no device could be started; see the lines above")
            return 1
        names = ", ".join(d.label for d in runner.running)
        failed = f"; not running: {', '.join(runner.failed)}" if runner.failed else ""
        log.info("%s %d of %d (%s)%s", READY, count, len(enabled), names, failed)
        stop.wait(args.run_for)
        log.info("stopping %d devices", count)
    finally:
        runner.stop()
    log.info("devices stopped")
    return 0


def _on_signals(stop: threading.Event) -> None:
    """SIGINT and SIGTERM set `stop` (the main thread then stops the devices cleanly)."""

    def handle(signum: int, _frame: FrameType | None) -> None:
        log.info("%s received", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)


def simulate_command(settings: Settings, args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Simulated devices, their site file, `gatehouse device run` on it and the scenario played."""
    from broker.embedded import accepts_connections
    from devices.sim_site import SimulatedSite

    url = settings.mqtt_url()
    if not args.no_run and not accepts_connections(url.host, url.port):
        print(f"gatehouse simulate: no broker at {url.redacted()}: start one (`gatehouse broker`) or "
              "give --mqtt URL; --no-run only writes the site file", file=sys.stderr)
        return 1
    folder = (settings.data_dir / "simulate").resolve()
    site_file = Path(args.out).resolve() if args.out else folder / "site.toml"
    size = args.camera_size
    t0 = time.monotonic()

    def say(text: str) -> None:
        print(f"  +{time.monotonic() - t0:5.1f}s  {text}", file=out, flush=True)

    with SimulatedSite(folder, camera_size=size, held_open_s=args.held_open) as sim:
        keys = {"site": settings.site, "data_dir": str(settings.data_dir.resolve())}
        if settings.mqtt:
            keys["mqtt"] = settings.mqtt
        sim.write_site_file(site_file, keys)
        say(f"simulated devices up; site file {site_file}")
        _ensure_principals(settings, sim, say)
        if args.no_run:
            print(f"Run the devices with:\n  gatehouse --config {site_file} device run\n"
                  "then press Enter to play the scenario (again), Ctrl-D or Ctrl-C to stop.", file=out)
            try:
                for _line in sys.stdin:
                    sim.play(say)
            except KeyboardInterrupt:
                pass
            return 0
        return _run_and_play(sim, site_file, settings, args, say)


def _run_and_play(sim: SimulatedSite, site_file: Path, settings: Settings, args: argparse.Namespace,
                  say: Callable[[str], None]) -> int:
    """Start `gatehouse device run` on the site file, play the scenario, stop the runner."""
    log_path = settings.data_dir.resolve() / "logs" / "simulate-devices.log"
    command = [sys.executable, "-m", "gatehouse", "--config", str(site_file), "device", "run"]
    with private_file(log_path).open("w") as log_file:
        proc = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        if not _wait_for_line(log_path, READY, proc, timeout=60):
            say(f"the device runner did not start; its log ({log_path}) ends:")
            print(_tail(log_path), file=sys.stderr)
            return 1
        say(f"`gatehouse device run` is driving them (log in {log_path})")
        sim.play(say)
        time.sleep(args.linger)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
    say(f"device runner stopped (exit code {code})")
    return 0 if code == 0 else 1


def _ensure_principals(settings: Settings, sim: SimulatedSite, say: Callable[[str], None]) -> None:
    """On the embedded broker, give every simulated device its credentials (new ones need a restart)."""
    from broker.broker_cli import credential_store
    from broker.credentials import Role
    from devices.site import principal_kind

    if not settings.embedded:
        return
    store = credential_store(settings)
    kinds = {e["name"]: Role(principal_kind(kind))
             for kind, entries in sim.devices().items() for e in entries}
    new = [name for name in kinds if store.get(name) is None]
    for name, kind in kinds.items():
        store.ensure(name, kind)
    if new:
        say(f"new MQTT principals {', '.join(new)}: restart `gatehouse broker` so it lets them in")


def _wait_for_line(path: Path, start: str, proc: subprocess.Popen[bytes], timeout: float) -> bool:
    """Wait until the log at `path` has a message starting with `start`; False if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if f": {start}" in path.read_text(errors="replace"):
            return True
        time.sleep(0.1)
    return False


def _tail(path: Path, lines: int = 15) -> str:
    """The last lines of a log file."""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def ensure_site_principals(settings: Settings, path: str | None) -> list[str]:
    """Give every device of the site file at `path` its principal, of the kind its entry says.

    A new device gets a password; a principal of unknown kind (an old credential file) learns its
    kind. Returns the devices' names (none without a site file).
    """
    from broker.broker_cli import credential_store
    from broker.credentials import Role
    from devices.site import load_site

    if not path:
        return []
    store = credential_store(settings)
    devices = load_site(path).devices
    for device in devices:
        store.ensure(device.name, Role(device.status_kind))
    return [d.name for d in devices]
