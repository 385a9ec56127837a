"""`gatehouse demo`: a whole small site on embedded defaults, scripted and screenshotted when headless."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO
from urllib.request import Request, urlopen

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from broker import topics
from broker.broker_cli import credential_store, ensure_default_principals
from broker.config import EMBEDDED_PORT, MqttUrl, Settings
from broker.credentials import Principal, Role
from broker.embedded import EmbeddedBroker, accepts_connections, free_port
from broker.private import private_file
from broker.safe_text import EscapingFormatter
from broker.summaries import summarize
from devices.sim_site import EMPLOYEE_BADGE, SimulatedSite
from devices.site import principal_kind
from gatehouse.demo_console import ACCOUNT, console_account, console_tour
from security.ingest.service import SERVICE_DEVICE
from security.office.access import AccessRight, Credential, CredentialFormat, Person, WeeklySchedule
from security.site.central import Central, CentralConfig
from security.storage import EventStore, open_store
from security.storage.people import (
    Change,
    add_credential,
    add_person,
    grant_right,
    list_people,
    list_rights,
    set_door_group,
)
from security.storage.tokens import create_token

log = logging.getLogger(__name__)

DEMO_BACK_OFFICE = {
    "access": {
        "readers": [{"device": "reader-1", "reader": 1, "door": "main-door", "unlock_s": 1.0},
                    {"device": "reader-2", "reader": 2, "door": "main-door", "unlock_s": 1.0}],
        "doors": {"main-door": "door-1"},
    },
    "api": {"port": 0},
}
"""The demo's readers open the main door (briefly, so the scenario's later push counts as forced)."""
EMPLOYEE = Person("e-1001", "Budi Santoso", groups=frozenset({"staff"}), email="budi@example.org")

SCENARIO_EVIDENCE = (
    ("the kiosk's check-in", "kiosk-1", "visitor.checked_in"),
    ("the employee's badge at reader-1", "reader-1", "badge.read"),
    ("the employee let in", SERVICE_DEVICE, "access.granted"),
    ("the contractor's card at reader-2", "reader-2", "badge.read"),
    ("the contractor refused", SERVICE_DEVICE, "access.denied"),
    ("the QR code at scanner-1", "scanner-1", "code.scanned"),
    ("the door forced", "door-1", "door.forced"),
    ("the door held open", "door-1", "door.held_open"),
    ("the person on camera-1", "camera-1", "camera.person"),
    ("camera-2 covered", "camera-2", "camera.tamper"),
    ("the alarms raised", SERVICE_DEVICE, "alarm.raised"),
)
"""What the scripted scenario claims, as (step, device, event type) the central log must then hold."""
EVIDENCE_WAIT_S = 30.0
"""How long the stored log may lag behind the scenario before a missing event is a failure."""


def missing_evidence(stored: set[tuple[str, str]]) -> list[str]:
    """The scenario's steps with no (device, type) among the `stored` events, in scenario order."""
    return [step for step, device, kind in SCENARIO_EVIDENCE if (device, kind) not in stored]


class Failures:
    """What went wrong in a demo run, each named by the part it happened in."""

    def __init__(self, line: Timeline) -> None:
        self._line = line
        self.items: list[tuple[str, str]] = []

    def add(self, part: str, what: str) -> None:
        """Record (and narrate) that `part` failed: `what` says how and where to look."""
        self.items.append((part, what))
        self._line.say(f"FAILED: {part}: {what}")

    def exited(
        self, part: str, proc: subprocess.Popen[bytes], log: str, *, ok: tuple[int, ...] = (0,)
    ) -> None:
        """Record a failure unless the process `proc` of `part` has ended with a code in `ok`."""
        code = proc.poll()
        if code is None:
            self.add(part, f"still running when it should have finished; see logs/{log}")
        elif code not in ok:
            self.add(part, f"exited with code {code}; see logs/{log}")

    def running(self, part: str, proc: subprocess.Popen[bytes], log: str) -> None:
        """Record a failure if the process `proc` of `part` is no longer running."""
        code = proc.poll()
        if code is not None:
            self.add(part, f"stopped early with code {code}; see logs/{log}")

    def report(self, out: TextIO) -> int:
        """Print the failures (if any) and return the demo's exit code."""
        if not self.items:
            print("\nThe demo ran to the end: every part worked and every step is in the log.", file=out)
            return 0
        print(f"\nThe demo FAILED in {len(self.items)} place(s):", file=out)
        for part, what in self.items:
            print(f"  {part}: {what}", file=out)
        return 1


class Timeline:
    """Prints what the demo does, each line stamped with seconds since the start."""

    def __init__(self, out: TextIO) -> None:
        self._out, self._t0 = out, time.monotonic()

    def say(self, text: str) -> None:
        """One line of the live narration."""
        print(f"  +{time.monotonic() - self._t0:5.1f}s  {text}", file=self._out, flush=True)


def run_demo(settings: Settings, *, headless: bool, screenshots: str | None, out: TextIO = sys.stdout) -> int:
    """Bring up broker, central service, simulated devices, kiosk and station; return an exit code."""
    data_dir = settings.data_dir.resolve()
    shots = Path(screenshots).resolve() if screenshots else data_dir / "screenshots"
    scripted = headless or not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    line = Timeline(out)
    failures = Failures(line)
    started = datetime.now(UTC) - timedelta(seconds=5)  # the log may hold an earlier run's events
    _log_to_file(data_dir / "logs" / "demo.log")
    print(f"Gatehouse demo: site '{settings.site}', data in {data_dir} (logs in {data_dir / 'logs'})",
          file=out)
    port = EMBEDDED_PORT if not accepts_connections("127.0.0.1", EMBEDDED_PORT) else free_port()
    with ExitStack() as stack:
        sim = stack.enter_context(SimulatedSite(data_dir / "simulate", held_open_s=3.0))
        store_of_keys = credential_store(settings)
        ensure_default_principals(store_of_keys)
        for kind, entries in sim.devices().items():
            for entry in entries:
                store_of_keys.ensure(entry["name"], Role(principal_kind(kind)))
        principals = {p.name: p for p in store_of_keys.principals()}
        broker = stack.enter_context(EmbeddedBroker(
            port=port, site=settings.site, principals=principals.values(),
            log_file=data_dir / "broker.log",
        ))
        line.say(f"embedded broker (amqtt, own process) on {broker.url.redacted()}, passwords and ACLs on")
        store = stack.enter_context(open_store(settings.db_url()))
        central = Central(settings, broker.url_for(principals[SERVICE_DEVICE]), store,
                          CentralConfig.from_document(DEMO_BACK_OFFICE, "the demo's settings"))
        _enrol(store, central.audit_key)
        central.start()
        stack.callback(central.stop)
        if not central.service.bus.wait_subscribed(10):
            line.say("the central service cannot reach the broker; see logs/demo.log")
            return 1
        api = central.api.url if central.api else "off"
        line.say(f"central service storing into {settings.db_url()}; HTTP API on {api}")
        console_password = console_account(store, central.audit_key)
        line.say(f"managers' console on {api}/console/ (log in as {ACCOUNT}, password {console_password})")
        line.say(f"employee {EMPLOYEE.name} ({EMPLOYEE.id}) enrolled with badge {EMPLOYEE_BADGE}, "
                 "allowed through main-door at any hour")
        apps = _Apps(broker.url, settings, data_dir, shots, scripted)
        station = stack.enter_context(apps.spawn("station"))
        if not _wait(lambda: _online(store, settings.site, "station-1"), 30):
            line.say("the guard station did not come online; see logs/station.log")
            return 1
        line.say("guard station 'station-1' online" + (" (offscreen)" if scripted else ""))
        site_file = sim.write_site_file(data_dir / "simulate" / "site.toml", {"site": settings.site})
        devices = stack.enter_context(apps.spawn_devices(site_file))
        if not _wait(lambda: _log_says(data_dir / "logs" / "devices.log", "devices running:"), 60) \
                or devices.poll() is not None:
            line.say("the device runner did not start; see logs/devices.log")
            return 1
        line.say("simulated RDM6300 and Wiegand readers, a QR scanner, a door and two cameras on "
                 f"virtual serial ports and video files, run by `gatehouse device run` ({site_file.name})")
        if scripted:
            _play(line, failures, sim, apps, broker=broker, reader=principals["reader-1"], site=settings.site,
                  central=central, devices=devices, station=station, since=started, out=out,
                  console_password=console_password)
        else:
            _interactive(line, failures, sim, apps, station)
    _print_log(settings, out)
    if scripted:
        print(f"\nScreenshots in {shots}:", file=out)
        for path in sorted(shots.rglob("*.png")):
            print(f"  {path.relative_to(shots)}", file=out)
    return failures.report(out)


def _play(line: Timeline, failures: Failures, sim: SimulatedSite, apps: _Apps, *, broker: EmbeddedBroker,
          reader: Principal, site: str, central: Central, devices: subprocess.Popen[bytes],
          station: subprocess.Popen[bytes], since: datetime, out: TextIO, console_password: str) -> None:
    """The scripted run: the scenario, then what it must have left in the log, the API and the processes."""
    try:
        _scenario(line, failures, sim, apps, broker=broker, reader=reader, site=site, store=central.store)
        _check_evidence(line, failures, central.store, since)
        _api_tour(line, failures, central, out)
        _console_tour(line, failures, central, console_password)
        _check_still_running(failures, broker, devices)
        _close_station(line, failures, station)
    except Exception as exc:  # a step the demo itself could not take: named, and the rest is skipped
        log.exception("the scripted demo stopped")
        failures.add("the demo's script", f"{type(exc).__name__}: {exc}; see logs/demo.log")


def _scenario(line: Timeline, failures: Failures, sim: SimulatedSite, apps: _Apps, *,
              broker: EmbeddedBroker, reader: Principal, site: str, store: EventStore) -> None:
    with apps.spawn("kiosk") as kiosk:
        line.say("a visitor walks up to kiosk 'kiosk-1' to check in (scripted touches)")
        with suppress(subprocess.TimeoutExpired):  # named just below; leaving the block stops it
            kiosk.wait(timeout=90)
        failures.exited("the kiosk", kiosk, "kiosk.log")
    line.say("kiosk closed")
    sim.play(line.say, pause=0.3)
    last_letter = _newest_dead_letter(store)
    _misbehave(broker.url_for(reader), site)
    line.say("a faulty firmware on reader-1 sends a malformed event")
    if _wait(lambda: _newest_dead_letter(store) > last_letter, 10):
        line.say("the central service kept it as a dead letter with the reason")
    else:
        failures.add("the central service", "no dead letter for the malformed event within 10 s; "
                     "see logs/demo.log")


def _check_still_running(
    failures: Failures, broker: EmbeddedBroker, devices: subprocess.Popen[bytes]
) -> None:
    """Name the long-running parts that stopped before the end of the scenario."""
    failures.running("the device runner", devices, "devices.log")
    if not broker.running:
        failures.add("the embedded broker", f"stopped early; see {broker.log_path}")


def _close_station(line: Timeline, failures: Failures, station: subprocess.Popen[bytes]) -> None:
    """Let the station draw the last events, check it is still up, then close it."""
    time.sleep(1.5)  # let the station draw the last events before its screenshot
    failures.running("the guard station", station, "station.log")
    if station.poll() is not None:
        return
    station.terminate()
    with suppress(subprocess.TimeoutExpired):  # named just below; the exit stack kills it
        station.wait(timeout=30)
    failures.exited("the guard station", station, "station.log", ok=(0, -signal.SIGTERM))
    line.say("station closed")


def _newest_dead_letter(store: EventStore) -> int:
    """The id of the newest dead letter (0 if none): a new one has a higher id."""
    newest = store.list_dead_letters(limit=1)
    return newest[0].id if newest else 0


def _check_evidence(line: Timeline, failures: Failures, store: EventStore, since: datetime) -> None:
    """Wait until the central log holds what every scripted step claims; name each step that is not."""
    def missing() -> list[str]:
        events = store.query_events(since=since, limit=None)
        return missing_evidence({(event.device, event.type) for event in events})

    if _wait(lambda: not missing(), EVIDENCE_WAIT_S):
        line.say("the central log holds every step: the visitor's check-in, the badges, the QR code, "
                 "the door, the cameras and the alarms")
        return
    for step in missing():
        failures.add("the scenario", f"{step}: not in the central log after {EVIDENCE_WAIT_S:.0f} s; "
                     "see logs/devices.log, logs/kiosk.log and logs/demo.log")


def _interactive(
    line: Timeline, failures: Failures, sim: SimulatedSite, apps: _Apps, station: subprocess.Popen[bytes]
) -> None:
    with apps.spawn("kiosk") as kiosk:
        line.say("kiosk and station windows are open; a badge is shown every 20 s. Ctrl-C to stop.")
        try:
            while kiosk.poll() is None and station.poll() is None:
                sim.rdm6300.present(EMPLOYEE_BADGE)
                for _ in range(200):
                    if kiosk.poll() is not None or station.poll() is not None:
                        break
                    time.sleep(0.1)
        except KeyboardInterrupt:
            line.say("stopping")
            return
        if kiosk.poll() not in (None, 0):
            failures.exited("the kiosk", kiosk, "kiosk.log")
        if station.poll() not in (None, 0):
            failures.exited("the guard station", station, "station.log")


class _Apps:
    """Starts the kiosk and the station as their own processes (one Kivy window each)."""

    def __init__(self, url: MqttUrl, settings: Settings, data_dir: Path, shots: Path, scripted: bool) -> None:
        self._base = [sys.executable, "-m", "gatehouse", "--mqtt", f"mqtt://{url.host}:{url.port}",
                      "--site", settings.site, "--data-dir", str(data_dir)]
        self._shots, self._scripted = shots, scripted
        self._logs = data_dir / "logs"

    @contextmanager
    def spawn_devices(self, site_file: Path) -> Iterator[subprocess.Popen[bytes]]:
        """`gatehouse device run` on the simulated site's file, its log in logs/devices.log."""
        with self._process([*self._base, "--config", str(site_file), "device", "run"], "devices") as proc:
            yield proc

    @contextmanager
    def spawn(self, app: str) -> Iterator[subprocess.Popen[bytes]]:
        args = [*self._base, app]
        if self._scripted:
            args += ["--headless", "--screenshots", str(self._shots / app)]
            args += ["--demo"] if app == "kiosk" else []
        else:  # side by side on a desktop: a half-size portrait kiosk, the station beside it
            args += ["--size", "680x1100", "--position", "10,30"] if app == "kiosk" else [
                "--size", "1200x800", "--position", "700,30"]
        with self._process(args, app) as proc:
            yield proc

    @contextmanager
    def _process(self, args: list[str], name: str) -> Iterator[subprocess.Popen[bytes]]:
        with private_file(self._logs / f"{name}.log").open("wb") as log_file:  # one run per log
            proc = subprocess.Popen(args, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()


def _enrol(store: EventStore, audit_key: bytes | None) -> None:
    """The demo's employee, badge, door group and right (kept from an earlier run of the demo)."""
    change = Change("demo", datetime.now(UTC), audit_key)
    engine = store.engine
    if not any(p.person.id == EMPLOYEE.id for p in list_people(engine)):
        add_person(engine, EMPLOYEE, change)
        add_credential(engine, Credential(EMPLOYEE_BADGE, CredentialFormat.EM4100, EMPLOYEE.id), change)
    set_door_group(engine, "lobby", ["main-door"], change)
    if not list_rights(engine):
        grant_right(engine, AccessRight("lobby", WeeklySchedule.all_hours(), group="staff"), change)


def _api_tour(line: Timeline, failures: Failures, central: Central, out: TextIO) -> None:
    """Ask the HTTP API what a manager would (the open alarms and the muster list) and its health."""
    if central.api is None:
        failures.add("the HTTP API", "it did not start; see logs/demo.log")
        return
    try:
        _ask_api(line, central, out)
    except (OSError, ValueError, KeyError, TypeError) as exc:  # URLError and HTTPError are OSErrors
        failures.add("the HTTP API", f"{type(exc).__name__}: {exc}; see logs/demo.log")
    try:  # no token needed; an error status (503: ingest not running) raises
        health = json.loads(_get(f"{central.api.url}/api/health", None))
        line.say(f"GET /api/health: {health.get('status')}")
    except (OSError, ValueError, AttributeError) as exc:
        failures.add("the central service", f"/api/health: {type(exc).__name__}: {exc}; see logs/demo.log")


def _console_tour(line: Timeline, failures: Failures, central: Central, password: str) -> None:
    """Log in to the managers' console as the demo manager and read what Today shows."""
    if central.api is None:
        return
    try:
        alarms, people = console_tour(central.api.url, password)
    except (OSError, ValueError) as exc:
        failures.add("the managers' console", f"{type(exc).__name__}: {exc}; see logs/demo.log")
        return
    line.say(f"console: {ACCOUNT} logged in; Today shows {alarms} open alarm(s) and {people} people on site")
    if alarms == 0:
        failures.add("the managers' console", "Today shows no open alarm after the door was forced")


def _ask_api(line: Timeline, central: Central, out: TextIO) -> None:
    assert central.api is not None
    change = Change("demo", datetime.now(UTC), central.audit_key)
    _info, token = create_token(central.store.engine, "demo-manager", "manager", change)
    alarms = json.loads(_get(f"{central.api.url}/api/alarms?open=1", token))
    line.say(f"GET /api/alarms?open=1 (a manager's token): {len(alarms)} open alarm(s)")
    for alarm in alarms:
        print(f"           {alarm['id']:<5} {alarm['priority']:<8} {alarm['state']:<15} {alarm['summary']}",
              file=out)
    muster = _get(f"{central.api.url}/api/onsite.txt", token).decode()
    line.say("GET /api/onsite.txt: the muster list to print")
    for text in muster.splitlines():
        print(f"           {text}", file=out)


def _get(url: str, token: str | None) -> bytes:
    """The body of a GET on our own API (an http:// URL we built); an error status raises."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = Request(url, headers=headers)  # noqa: S310
    with urlopen(request, timeout=10) as answer:  # noqa: S310
        body: bytes = answer.read()
    return body


def _log_to_file(path: Path) -> None:
    """Send this process's log to `path`, keeping only errors on the console beside the timeline."""
    private_file(path)
    root = logging.getLogger()
    console = [h for h in root.handlers if isinstance(h, logging.StreamHandler)]
    for handler in console:
        handler.setLevel(logging.ERROR)
    to_file = logging.FileHandler(path)
    to_file.setFormatter(EscapingFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root.addHandler(to_file)


def _log_says(path: Path, text: str) -> bool:
    return path.exists() and text in path.read_text(errors="replace")


def _misbehave(url: MqttUrl, site: str) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"reader-1@{site}-firmware")
    client.username_pw_set(url.username, url.password)
    client.connect(url.host, url.port)
    client.loop_start()
    payload = b'{"specversion": "1.0", "type": "badge.read", "seq": "seven", "data": {}}'
    client.publish(topics.event(site, "reader-1", "badge.read"), payload, qos=1).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()


def _online(store: EventStore, site: str, device: str) -> bool:
    source = topics.source(site, device)
    return any(d.source == source and d.status.state == "online" for d in store.list_status())


def _wait(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _print_log(settings: Settings, out: TextIO) -> None:
    with open_store(settings.db_url()) as store:
        events = store.query_events(limit=60, newest_first=True)[::-1]
        letters = store.list_dead_letters(limit=5)
        states = store.list_status()
    print("\nThe central log now holds (newest 60; `gatehouse events` lists it all):", file=out)
    for event in events:
        when = event.time.astimezone().strftime("%H:%M:%S")
        print(f"  {when}  {event.device:<10} #{event.seq:<4} {event.type:<20} {summarize(event)}", file=out)
    print("\nDead letters (kept with the reason, never dropped):", file=out)
    for letter in letters:
        print(f"  {letter.topic}: {letter.reason}", file=out)
    print("\nDevices as last seen (the demo has stopped them):", file=out)
    for state in states:
        if state.status.kind != "service":  # the service cannot record its own goodbye
            print(f"  {state.source:<32} {state.status.state:<8} {state.status.kind}", file=out)

