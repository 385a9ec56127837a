"""A simulated site: every device family on pty pairs and synthetic videos, a site file, a scenario.

`SimulatedSite.start(folder)` brings up an RDM6300, a Wiegand-26 converter, a QR scanner and a
door (contact and relay) on virtual serial ports, and writes two synthetic camera videos (a
person walking past, a lens being covered). `write_site_file()` writes the TOML site file that
points at them, so `gatehouse device run --config FILE` drives the real agents; `play()` acts
the scenario on the simulators' side of the wires.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from broker.private import make_private_dirs, private_dir
from devices.door_simulator import SimulatedDoor
from devices.readers.sim_wiegand import SimulatedWiegandConverter
from devices.scanner import ScannerConfig
from devices.sim_scanner import SimulatedScanner
from devices.simulator import ClosesOnExit, SimulatedRdm6300

EMPLOYEE_BADGE = "62E3086CED"
"""The RDM6300 tag the employee shows (its id as the reader sends it)."""
WIEGAND_CARD = (18, 37848)
"""Facility code and card number of the contractor's Wiegand-26 card (credential '1293D8')."""
VISIT_QR = "GH-VISIT-2026-0042"
"""The visit code on the visitor's invitation, scanned as a QR code."""
PERSON_ZONE = [[0.5, 0.6], [1.0, 0.6], [1.0, 1.0], [0.5, 1.0]]
"""The camera zone in front of the door (the right half of the floor) in relative coordinates."""

Say = Callable[[str], None]


class SimulatedSite(ClosesOnExit):
    """The simulated devices of one site and the videos its cameras play; a context manager."""

    def __init__(self, folder: Path, *, camera_size: tuple[int, int] = (640, 360),
                 held_open_s: float = 2.0) -> None:
        """Create the pty pairs now and write the videos into `folder`."""
        from devices.camera.synthetic import scenario  # cv2 only for those who simulate cameras

        self.folder = folder.resolve()
        private_dir(self.folder)
        self.held_open_s = held_open_s
        self.rdm6300 = SimulatedRdm6300()
        self.wiegand = SimulatedWiegandConverter()
        self.scanner = SimulatedScanner(ScannerConfig())
        self.door = SimulatedDoor()
        width, height = camera_size
        self.videos = {
            name: scenario(kind, width=width, height=height).write(self.folder / f"{name}.avi")
            for name, kind in (("camera-1", "person"), ("camera-2", "covered"))
        }

    def devices(self) -> dict[str, list[dict[str, Any]]]:
        """The `devices` section of the site file: every simulated device and where it is."""
        return {
            "rdm6300": [{"name": "reader-1", "port": self.rdm6300.path, "reader": 1}],
            "wiegand26": [{"name": "reader-2", "port": self.wiegand.path, "reader": 2,
                           "encoding": "bits", "terminator": "crlf"}],
            "scanner": [{"name": "scanner-1", "port": self.scanner.path, "terminator": "cr"}],
            "door": [{"name": "door-1", "door": "main-door", "contact_port": self.door.contact_path,
                      "relay_port": self.door.relay_path, "relay_model": "lc-technology",
                      "held_open_s": self.held_open_s}],
            "camera": [
                {"name": "camera-1", "source": str(self.videos["camera-1"]), "fps": 5,
                 "zones": [{"name": "door", "polygon": PERSON_ZONE}]},
                {"name": "camera-2", "source": str(self.videos["camera-2"]), "fps": 5,
                 "detect_people": False},
            ],
        }

    def write_site_file(self, path: Path, settings: Mapping[str, str] | None = None) -> Path:
        """Write the site file (with `settings` such as site and mqtt on top); return its path."""
        make_private_dirs(path.parent)
        lines = ["# Written by `gatehouse simulate`: every device below is simulated on this machine."]
        lines += [f"{key} = {json.dumps(value)}" for key, value in (settings or {}).items()]
        for kind, entries in self.devices().items():
            for entry in entries:
                lines += ["", f"[[devices.{kind}]]"]
                lines += [f"{k} = {json.dumps(v)}" for k, v in entry.items() if k != "zones"]
                for zone in entry.get("zones", []):
                    lines.append(f"[[devices.{kind}.zones]]")
                    lines += [f"{k} = {json.dumps(v)}" for k, v in zone.items()]
        path.write_text("\n".join(lines) + "\n")
        path.chmod(0o600)  # an mqtt URL may carry a password
        return path

    def play(self, say: Say, *, pause: float = 0.6) -> None:
        """Act the scenario on the devices' side of the wires, narrating each step with `say`."""
        say("cameras: camera-1 plays a person walking past the door, camera-2 its lens being covered")
        self.rdm6300.present(EMPLOYEE_BADGE, repeats=3, interval=0.1)
        say(f"an employee holds badge {EMPLOYEE_BADGE} at the RDM6300 reader-1 (3 repeats, one read)")
        time.sleep(pause)
        facility, card = WIEGAND_CARD
        self.wiegand.present(facility, card, noise=b"\r\n")
        say(f"a contractor shows Wiegand-26 card {facility}/{card} at reader-2")
        time.sleep(pause)
        self.scanner.scan(VISIT_QR, aim_id="]Q1")
        say(f"a visitor scans the QR code {VISIT_QR} of the invitation at scanner-1")
        time.sleep(pause)
        self.door.close_door()
        time.sleep(0.3)
        self.door.open_door()
        say("door-1 (main-door) is pushed open with no grant: forced")
        time.sleep(pause)
        self.door.close_door()
        say("door-1 closes again")
        time.sleep(pause)
        self.door.open_door()
        say(f"door-1 is opened and left open longer than its {self.held_open_s:g} s limit")
        time.sleep(self.held_open_s + 1.0)
        self.door.close_door()
        say("door-1 is closed at last: held open")
        self.door.poll()  # drain what the agent told the relay

    def close(self) -> None:
        """Unplug every simulated device (the videos stay)."""
        for port in (self.rdm6300, self.wiegand, self.scanner):
            port.close()
        self.door.close()

