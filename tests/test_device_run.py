"""`gatehouse device run`, `gatehouse simulate` and `gatehouse bench devices` in subprocesses, end to end."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from broker import topics
from broker.embedded import EmbeddedBroker
from broker.messages import Command
from broker.schemas import DeviceFault
from devices.door_simulator import SimulatedDoor
from devices.readers.sim_wiegand import SimulatedWiegandConverter
from devices.sim_scanner import SimulatedScanner
from devices.simulator import SimulatedRdm6300
from security.storage import open_store
from tests.fixtures.mqtt import MqttClientFactory
from tests.support import running_service, unique_site, wait_until

MISSING = "/dev/gatehouse-test-no-such-port"


@contextmanager
def gatehouse(args: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m gatehouse ARGS` with its output in `log`; SIGTERM and reaped afterwards."""
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "gatehouse", *args], stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_device_run_turns_frames_into_events_and_survives_a_missing_port(
    embedded_broker: EmbeddedBroker, sqlite_url: str, tmp_path: Path, mqtt_client: MqttClientFactory
) -> None:
    site = unique_site()
    url = embedded_broker.url
    with SimulatedRdm6300() as rdm, SimulatedWiegandConverter() as wiegand, SimulatedScanner() as scanner, \
            SimulatedDoor() as door, running_service(url, sqlite_url, site):
        site_file = tmp_path / "site.toml"
        site_file.write_text(f"""
[[devices.rdm6300]]
name = "reader-1"
port = "{rdm.path}"
[[devices.rdm6300]]
name = "reader-9"
port = "{MISSING}"
[[devices.wiegand26]]
name = "reader-2"
port = "{wiegand.path}"
reader = 2
[[devices.scanner]]
name = "scanner-1"
port = "{scanner.path}"
[[devices.door]]
name = "door-1"
door = "main-door"
contact_port = "{door.contact_path}"
relay_port = "{door.relay_path}"
""")
        log = tmp_path / "run.log"
        args = ["--config", str(site_file), "--mqtt", f"mqtt://{url.host}:{url.port}", "--site", site,
                "--data-dir", str(tmp_path / "data"), "device", "run"]
        with gatehouse(args, log) as proc:
            wait_until(lambda: "devices running: 5 of 5" in log.read_text(), 20, "every device started")
            wait_until(lambda: door.relay_on is not None or bool(door.poll(0.05)), 15, "relay set off")
            door.close_door()
            rdm.present("62E3086CED", repeats=3, interval=0.05)
            wiegand.present(18, 37848)
            scanner.scan("GH-VISIT-42", aim_id="]Q1")
            door.open_door()

            def stored() -> set[tuple[str, str]]:
                with open_store(sqlite_url) as store:
                    return {(e.device, e.type) for e in store.query_events(limit=None)}

            want = {("reader-1", "badge.read"), ("reader-2", "badge.read"), ("scanner-1", "code.scanned"),
                    ("door-1", "door.forced"), ("reader-9", "device.fault")}
            wait_until(lambda: want <= stored(), 20, f"{want} in the central log")
            expires = datetime.now(UTC) + timedelta(seconds=30)
            command = Command(uuid.uuid4().hex, "unlock", expires, {"seconds": 2}).encode()
            mqtt_client(url).publish(topics.command(site, "door-1", "unlock"), command)
            assert door.wait_relay(True, 5), "the unlock command did not reach the relay"
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=20) == 0
    output = log.read_text()
    with open_store(sqlite_url) as store:
        events = {(e.device, e.type): e for e in store.query_events(limit=None)}
    assert events["reader-1", "badge.read"].data.model_dump(exclude_none=True) == {
        "credential": "62E3086CED", "reader": 1, "format": "rdm6300"}
    assert events["reader-2", "badge.read"].data.credential == "1293D8"  # type: ignore[attr-defined]
    assert events["scanner-1", "code.scanned"].data.model_dump(exclude_none=True) == {
        "code": "GH-VISIT-42", "symbology": "qr", "scanner": "scanner-1"}
    fault = events["reader-9", "device.fault"]
    assert fault.source == topics.source(site, "reader-9")
    assert isinstance(fault.data, DeviceFault)
    assert fault.data.fault == "no_answer"
    assert MISSING in (fault.data.detail or "")
    errors = [line for line in output.splitlines() if " ERROR " in line]
    assert len(errors) == 1, output
    assert "device reader-9 (rdm6300)" in errors[0]
    assert MISSING in errors[0]
    assert "retrying with backoff, the other devices keep running" in errors[0]
    assert "Traceback" not in output
    assert "devices stopped" in output


def test_simulate_plays_its_scenario_through_device_run(
    embedded_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    url = embedded_broker.url
    done = subprocess.run(
        [sys.executable, "-m", "gatehouse", "--mqtt", f"mqtt://{url.host}:{url.port}",
         "--site", unique_site(), "--data-dir", str(tmp_path), "simulate", "--held-open", "0.5",
         "--linger", "0.5", "--camera-size", "320x180"],
        capture_output=True, text=True, timeout=90, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for step in ("badge 62E3086CED", "Wiegand-26 card 18/37848", "QR code", "forced", "held open",
                 "device runner stopped (exit code 0)"):
        assert step in done.stdout, done.stdout
    site_file = tmp_path / "simulate" / "site.toml"
    assert "[[devices.camera]]" in site_file.read_text()
    runner_log = (tmp_path / "logs" / "simulate-devices.log").read_text()
    assert "devices running: 6 of 6" in runner_log
    assert "Traceback" not in runner_log


def test_bench_devices_prints_its_lines(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gatehouse", "--data-dir", str(tmp_path), "bench", "devices", "--broker",
         "embedded", "--frames", "20", "--interval", "0.002", "--camera-size", "320x180"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert re.search(r"camera analysis, 320x180 at 5 fps", out), out
    assert re.search(r"person walking\s+\d+\.\d\d ms/frame\s+\d+\.\d\d% of a core", out), out
    for label in ("baseline: pty write -> decoded frame", "baseline: raw paho QoS 1 pub -> recv",
                  "RDM6300 frame -> badge.read received"):
        assert re.search(rf"{re.escape(label)}\s+p50\s+\d+\.\d\d ms, p99\s+\d+\.\d\d ms", out), out
    assert re.search(r"ratio to the two baselines together\s+p50\s+\d+\.\d\d", out), out


def test_device_run_prints_a_badge_on_a_network_zebra(
    embedded_broker: EmbeddedBroker, sqlite_url: str, tmp_path: Path, mqtt_client: MqttClientFactory
) -> None:
    from devices.printers.simulators import SimulatedZebra, TcpPrinter

    site = unique_site()
    url = embedded_broker.url
    model = SimulatedZebra()
    with TcpPrinter(model) as printer, running_service(url, sqlite_url, site):
        site_file = tmp_path / "site.toml"
        site_file.write_text(f"""
[[devices.printer]]
name = "printer-1"
driver = "zpl"
address = "127.0.0.1:{printer.port}"
poll_s = 0.5
""")
        log = tmp_path / "run.log"
        args = ["--config", str(site_file), "--mqtt", f"mqtt://{url.host}:{url.port}", "--site", site,
                "--data-dir", str(tmp_path / "data"), "device", "run"]
        with gatehouse(args, log):
            wait_until(lambda: "devices running: 1 of 1" in log.read_text(), 20, "the printer started")
            expires = datetime.now(UTC) + timedelta(seconds=30)
            command = Command(uuid.uuid4().hex, "print", expires, {"visitor_name": "Ana", "visit_id": "v-1"})
            kiosk = mqtt_client(url)
            wait_until(lambda: _online(sqlite_url, topics.source(site, "printer-1")), 10, "printer online")
            kiosk.publish(topics.command(site, "printer-1", "print"), command.encode())
            wait_until(lambda: len(model.labels) == 1, 15, "the label at the Zebra")
            wait_until(lambda: _types(sqlite_url, site) == ["badge.printed"], 15, "badge.printed stored")
    assert model.labels[0].startswith(b"^XA")


def _online(db_url: str, source: str) -> bool:
    with open_store(db_url) as store:
        return any(d.source == source and d.status.state == "online" for d in store.list_status())


def _types(db_url: str, site: str) -> list[str]:
    with open_store(db_url) as store:
        return [e.type for e in store.query_events(limit=None) if e.site == site]
