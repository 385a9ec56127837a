"""The kiosk end to end: simulated touches on the real screens, a real broker, the real central service.

Each kiosk runs in its own process (one Kivy window per process) with its real adapters: the central
service's HTTP API and offline cache, a synthetic camera video, and a simulated Zebra on TCP. The
walk-in and the invitation end as events in the central log and a label on the printer; the offline
test stops the broker under three check-ins and finds them delivered once each, in order.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest

from broker import topics
from broker.config import MqttUrl, Settings
from broker.events import Event
from broker.local_mosquitto import LocalMosquitto
from broker.schemas import BadgePrinted, VisitorAgreed, VisitorCheckedIn, VisitorScreened
from devices.camera.synthetic import scenario
from devices.printers.simulators import SimulatedZebra, TcpPrinter
from security.office.access import Person
from security.site.central import Central, CentralConfig
from security.storage import EventStore, open_store
from security.storage.people import Change, add_person
from security.storage.tokens import create_token
from tests.support import unique_site, wait_until

pytestmark = [pytest.mark.ui, pytest.mark.mosquitto]

ROOT = Path(__file__).resolve().parent.parent
GRACE = Person("e-1001", "Grace Hopper", email="grace@example.org")

KIOSK_SCRIPT = textwrap.dedent(
    """
    import json, logging, sys
    from pathlib import Path
    from broker.config import MqttUrl
    from kiosk.central_client import CentralClient
    from kiosk.config import parse_kiosk
    from kiosk.runner import run

    logging.basicConfig(level=logging.INFO)
    args = json.loads(sys.argv[1])
    data = Path(args["data"])
    kiosk = {"api_url": args["api"], "api_token": args["token"], "camera": args["camera"],
             "printer": {"driver": "zpl", "address": f"127.0.0.1:{args['printer']}"}}
    config = parse_kiosk({"kiosk": kiosk}, data_dir=data)
    # The kiosk's first refresh of its cache (hosts, invitations, the watchlist) before the visitor
    # walks up, so that screening has a list to screen against: "clear", never "error".
    if not CentralClient.from_config(config).refresh():
        sys.exit("the kiosk's first refresh from the central service failed")
    sys.exit(run(MqttUrl(args["host"], args["port"]), site=args["site"], device="kiosk-1", data_dir=data,
                 config=config, scripted=True, script=args["script"], headless=True,
                 screenshot_dir=Path(args["shots"]), step_delay=0.05))
    """
)


def kivy_env(home: Path) -> dict[str, str]:
    """The environment of a kiosk process: offscreen, its own Kivy home."""
    env = dict(os.environ)
    env.update(KIVY_NO_ARGS="1", KIVY_NO_CONSOLELOG="1", KIVY_NO_FILELOG="1", KIVY_HOME=str(home),
               SDL_VIDEODRIVER="offscreen")
    return env


@dataclass
class Site:
    """A running central service with its API, one employee, a kiosk token and a simulated Zebra."""

    name: str
    url: MqttUrl
    store: EventStore
    central: Central
    token: str
    zebra: SimulatedZebra
    printer_port: int

    def events(self, *types: str) -> list[Event]:
        """The kiosk's events in the central log, oldest first."""
        source = topics.source(self.name, "kiosk-1")
        return self.store.query_events(types=types, sources=[source], limit=None)


@contextmanager
def central_site(tmp_path: Path, url: MqttUrl) -> Iterator[Site]:
    """Start the central service (HTTP API on a free port) on `url`, with Grace Hopper enrolled."""
    name = unique_site()
    db = f"sqlite:///{tmp_path / 'central.db'}"
    settings = Settings(site=name, data_dir=tmp_path / "central", db=db)
    config = CentralConfig.from_document({"api": {"port": 0}})
    zebra = SimulatedZebra()
    with open_store(db) as store:
        central = Central(settings, url, store, config)
        change = Change("test", datetime.now(UTC), central.audit_key)  # before the service writes too
        add_person(store.engine, GRACE, change)
        _info, token = create_token(store.engine, "kiosk-1", "kiosk", change)
        with central, TcpPrinter(zebra) as printer:
            assert central.service.bus.wait_subscribed(10)
            yield Site(name, url, store, central, token, zebra, printer.port)


def run_kiosk(tmp_path: Path, site: Site, script: str, camera: Path) -> subprocess.CompletedProcess[str]:
    """Play `script` on a kiosk process of `site`; its screenshots go to tmp_path/shots-<script>."""
    assert site.central.api is not None
    args = {"host": site.url.host, "port": site.url.port, "site": site.name, "data": str(tmp_path / "kiosk"),
            "api": site.central.api.url, "token": site.token, "camera": str(camera),
            "printer": site.printer_port, "script": script, "shots": str(tmp_path / f"shots-{script}")}
    return subprocess.run([sys.executable, "-c", KIOSK_SCRIPT, json.dumps(args)], cwd=ROOT,
                          env=kivy_env(tmp_path / "kivy"), capture_output=True, text=True, timeout=150,
                          check=False)


def qr_video(path: Path, png: bytes) -> Path:
    """A short video of a QR code held up to the camera (MJPG .avi)."""
    code = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert code is not None
    frame = np.full((480, 640, 3), 235, np.uint8)
    side = min(360, code.shape[0])
    code = cv2.resize(code, (side, side), interpolation=cv2.INTER_NEAREST)
    top, left = (480 - side) // 2, (640 - side) // 2
    frame[top : top + side, left : left + side] = code
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 5.0, (640, 480))
    for _ in range(20):
        writer.write(frame)
    writer.release()
    return path


def test_a_walk_in_by_touch_ends_in_the_central_log_and_on_the_printer(
    tmp_path: Path, mosquitto_url: MqttUrl
) -> None:
    camera = scenario("person", width=480, height=360).write(tmp_path / "person.avi")
    with central_site(tmp_path, mosquitto_url) as site:
        done = run_kiosk(tmp_path, site, "walk_in", camera)
        assert done.returncode == 0, done.stderr[-4000:]
        wanted = sorted(["visitor.checked_in", "visitor.photo", "visitor.agreed", "visitor.screened",
                         "badge.printed"])
        wait_until(lambda: sorted(e.type for e in site.events()) == wanted, 20, "the walk-in's events")
        events = {e.type: e.data for e in site.events()}
        labels = list(site.zebra.labels)
    visit = events["visitor.checked_in"]
    assert isinstance(visit, VisitorCheckedIn)
    assert (visit.visitor_name, visit.company, visit.host_id, visit.host_name, visit.visitor_type) == (
        "Ada Lovelace", "Analytical Engines", "e-1001", "Grace Hopper", "contractor")
    assert visit.invited is False
    assert visit.badge is not None
    assert visit.photo == "visitor.photo"
    agreed = events["visitor.agreed"]
    assert isinstance(agreed, VisitorAgreed)
    assert agreed.signature  # drawn with a simulated finger on the pad
    screened = events["visitor.screened"]
    assert isinstance(screened, VisitorScreened)
    assert screened.result == "clear"  # screened against the (empty) watchlist it had fetched
    printed = events["badge.printed"]
    assert isinstance(printed, BadgePrinted)
    assert (printed.visit_id, printed.ok) == (visit.visit_id, True)
    assert len(labels) == 1
    assert labels[0].startswith(b"^XA")
    shots = sorted(p.name for p in (tmp_path / "shots-walk_in").glob("*.png"))
    assert shots[0] == "01-welcome.png"
    assert shots[-1].endswith("-done.png")
    assert any(name.endswith("-photo.png") for name in shots)
    assert "kiosk closed; 8 touches in the last visit" in done.stderr


def test_an_invited_visitor_scans_the_qr_and_checks_in_with_two_touches(
    tmp_path: Path, mosquitto_url: MqttUrl
) -> None:
    with central_site(tmp_path, mosquitto_url) as site:
        issued = site.central.invitations.invite(
            visitor_name="Ana Kowalska", host_id="e-1001", by="test", company="Acme",
            visitor_type="guest", email="ana@example.org",
        )  # fmt: skip
        camera = qr_video(tmp_path / "qr.avi", issued.png)
        done = run_kiosk(tmp_path, site, "invited", camera)
        assert done.returncode == 0, done.stderr[-4000:]
        wanted = sorted(["visitor.checked_in", "visitor.screened", "badge.printed"])  # no visitor.agreed
        wait_until(lambda: sorted(e.type for e in site.events()) == wanted, 20, "the check-in's events")
        events = {e.type: e.data for e in site.events()}
        labels = list(site.zebra.labels)
    assert "visitor.agreed" not in events  # no agreement was shown or signed: none is claimed
    visit = events["visitor.checked_in"]
    assert isinstance(visit, VisitorCheckedIn)
    assert (visit.visit_id, visit.visitor_name, visit.invited, visit.host_id) == (
        issued.invitation.visit_id, "Ana Kowalska", True, "e-1001")
    assert "kiosk closed; 2 touches in the last visit" in done.stderr
    assert len(labels) == 1


OFFLINE_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from broker.config import MqttUrl
    from broker.device_link import DeviceLink
    from kiosk.autopilot import Pilot, Until
    from kiosk.demo_ports import demo_site
    from kiosk.kivy_env import kivy_environment
    from kiosk.runner import Adapters, open_kiosk

    args = json.loads(sys.argv[1])
    kivy_environment(headless=True)
    link = DeviceLink(MqttUrl(args["host"], args["port"]), site=args["site"], device="kiosk-1",
                      kind="kiosk", outbox_dir=Path(args["data"]), resend_after=1.0, max_resend_after=2.0)
    site = demo_site()
    app = open_kiosk(link, Adapters(site.ports, site.visits), None, size=(1280, 800))
    vm = app.vm
    report = {"offline_seen": False, "pending_while_offline": None, "online_again": False}

    def check_ins():
        yield Until(lambda: app.offline, "the offline dot", 20)
        report["offline_seen"] = True
        for name in ("Offline One", "Offline Two", "Offline Three"):
            vm.start("walk_in"); vm.enter(name); vm.skip(); vm.search("Gr")
            yield Until(lambda: bool(vm.session.hosts), "hosts found (on the look-up worker)")
            vm.pick("e-1001")
            vm.choose("guest"); vm.add_stroke([(0.1, 0.4), (0.5, 0.6), (0.9, 0.4)]); vm.accept(); vm.confirm()
            yield Until(lambda: not vm.recording, "the check-in written (on the records worker)")
            assert vm.screen == "done", vm.view.error
            vm.done()
            yield None
        report["pending_while_offline"] = link.source.pending()
        print("CHECKED-IN", flush=True)
        yield Until(lambda: not app.offline, "the dot back online", 60)
        report["online_again"] = True
        yield Until(lambda: link.source.pending() == 0, "the outbox delivered", 60)

    pilot = Pilot(app, check_ins())
    app.bind(on_start=lambda _app: pilot.begin())
    with link:
        app.run()
    report["failure"] = str(pilot.failure) if pilot.failure else None
    print(json.dumps(report), flush=True)
    """
)


def test_offline_check_ins_wait_in_the_outbox_and_arrive_once_in_order(
    tmp_path: Path, private_mosquitto: LocalMosquitto
) -> None:
    with central_site(tmp_path, private_mosquitto.url) as site:
        private_mosquitto.stop()
        args = {"host": site.url.host, "port": site.url.port, "site": site.name,
                "data": str(tmp_path / "kiosk")}
        kiosk = subprocess.Popen([sys.executable, "-c", OFFLINE_SCRIPT, json.dumps(args)], cwd=ROOT,
                                 env=kivy_env(tmp_path / "kivy"), stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        try:
            assert kiosk.stdout is not None
            first = kiosk.stdout.readline()
            assert first.strip() == "CHECKED-IN", first + (kiosk.stderr.read() if kiosk.stderr else "")
            assert site.events() == []  # nothing got through while the broker was down
            private_mosquitto.start()
            out, err = kiosk.communicate(timeout=120)
        finally:
            if kiosk.poll() is None:
                kiosk.kill()
        assert kiosk.returncode == 0, err[-4000:]
        report = json.loads(out.strip().splitlines()[-1])
        assert report == {"offline_seen": True, "pending_while_offline": 9, "online_again": True,
                          "failure": None}
        wait_until(lambda: len(site.events("visitor.checked_in")) == 3, 30, "three check-ins stored")
        everything = site.events()
    check_ins = [e for e in everything if e.type == "visitor.checked_in"]
    names = [e.data.visitor_name for e in check_ins if isinstance(e.data, VisitorCheckedIn)]
    assert names == ["Offline One", "Offline Two", "Offline Three"]
    seqs = [e.seq for e in everything]
    assert seqs == sorted(seqs) == list(range(1, 10))  # 3 events a check-in, each stored once, in order
    assert len({e.id for e in everything}) == 9
