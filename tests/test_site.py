"""The site file: a good one parses, unknown keys and bad values are refused with a clear message."""

from __future__ import annotations

from pathlib import Path

import pytest

from devices.lines import Terminator
from devices.readers.wiegand import WiegandEncoding
from devices.site import (
    KINDS,
    CameraDeviceConfig,
    DoorDeviceConfig,
    OsdpLineConfig,
    Rdm6300Config,
    ScannerDeviceConfig,
    SiteError,
    Wiegand26Config,
    load_site,
    parse_site,
)
from gatehouse.cli import main

GOOD = """
site = "lobby"
mqtt = "mqtt://127.0.0.1:1883"

[[devices.rdm6300]]
name = "reader-1"
port = "/dev/serial/by-id/usb-1a86_USB_Serial-if00-port0"
reader = 1

[[devices.wiegand26]]
name = "reader-2"
port = "socket://10.0.0.7:4001"
reader = 2
encoding = "hex24"
terminator = "cr"

[[devices.scanner]]
name = "kiosk-scanner"
port = "/dev/ttyACM0"
terminator = "crlf"
aim_ids = false

[[devices.door]]
name = "door-1"
door = "main-door"
contact_port = "/dev/ttyUSB1"
relay_port = "/dev/ttyUSB2"
relay_model = "kmtronic"
relay_channel = 2
held_open_s = 45

[[devices.camera]]
name = "cam-lobby"
source = "videos/lobby.avi"
fps = 4
masks = [[[0.0, 0.0], [0.2, 0.0], [0.2, 0.1]]]
snapshots = "snaps"
[[devices.camera.zones]]
name = "door"
polygon = [[0.5, 0.6], [1.0, 0.6], [1.0, 1.0], [0.5, 1.0]]

[[devices.camera]]
name = "cam-usb"
source = 0
enabled = false
"""


def write(tmp_path: Path, text: str) -> Path:
    """A site file in `tmp_path`."""
    path = tmp_path / "site.toml"
    path.write_text(text)
    return path


def test_a_good_site_file_parses_every_kind(tmp_path: Path) -> None:
    site = load_site(write(tmp_path, GOOD))
    kinds = [type(d) for d in site.devices]
    assert kinds == [Rdm6300Config, Wiegand26Config, ScannerDeviceConfig, DoorDeviceConfig,
                     CameraDeviceConfig, CameraDeviceConfig]
    reader2 = site.devices[1]
    assert isinstance(reader2, Wiegand26Config)
    assert (reader2.encoding, reader2.terminator) == (WiegandEncoding.HEX24, Terminator.CR)
    door = site.devices[3]
    assert isinstance(door, DoorDeviceConfig)
    assert door.door_config().held_open_s == 45
    assert door.serial_ports() == {
        "contact": "/dev/ttyUSB1", "relay": "/dev/ttyUSB2"}
    camera = site.devices[4]
    assert isinstance(camera, CameraDeviceConfig)
    assert camera.zones[0].name == "door"
    assert len(camera.masks[0]) == 3
    assert site.resolve(str(camera.source)) == tmp_path.resolve() / "videos" / "lobby.avi"
    enabled = [d.name for d in site.enabled()]
    assert enabled == ["reader-1", "reader-2", "kiosk-scanner", "door-1", "cam-lobby"]
    assert set(KINDS) == {"rdm6300", "wiegand26", "scanner", "door", "camera", "osdp", "printer"}


OSDP = """
[[devices.osdp]]
name = "osdp-line-1"
port = "/dev/ttyUSB5"
readers = [{address = 1, scbk = "%s"}, {address = 2, scbk = "%s"}]
"""


def test_an_osdp_line_and_its_site_keys(tmp_path: Path) -> None:
    key = "0F" * 16
    site = load_site(write(tmp_path, OSDP % (key, key)))
    line = site.devices[0]
    assert isinstance(line, OsdpLineConfig)
    assert [r.address for r in line.readers] == [1, 2]
    assert key not in repr(line)  # the key is a secret: never in a log line
    with pytest.raises(SiteError, match="scbk"):
        load_site(write(tmp_path, OSDP % ("0F" * 15, key)))


def test_an_unknown_key_is_refused_naming_the_device_and_the_key(tmp_path: Path) -> None:
    text = GOOD.replace('reader = 1\n', 'reader = 1\nbaud = 9600\n', 1)
    with pytest.raises(SiteError) as err:
        load_site(write(tmp_path, text))
    message = str(err.value)
    assert "devices.rdm6300[0] (reader-1): unknown key 'baud'" in message
    assert "known keys: name, enabled, port, baudrate" in message


def test_the_cli_refuses_a_bad_site_file_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, GOOD.replace("[[devices.scanner]]", "[[devices.scaner]]"))
    code = main(["--config", str(path), "--data-dir", str(tmp_path), "device", "run"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.count("\n") == 0
    known = "camera, door, osdp, printer, rdm6300, scanner, wiegand26"
    assert f"unknown device kind [[devices.scaner]]; known: {known}" in err


@pytest.mark.parametrize(("entry", "expected"), [
    ({"rdm6300": [{"name": "Reader 1", "port": "/dev/x"}]}, "name: device 'Reader 1' must be 1-64"),
    ({"rdm6300": [{"name": "r", "port": "/dev/x", "reader": 256}]}, "reader: Input should be less than"),
    ({"rdm6300": [{"name": "r"}]}, "devices.rdm6300[0] (r): port is missing"),
    ({"wiegand26": [{"name": "r", "port": "p", "encoding": "hex"}]}, "encoding: Input should be 'bits'"),
    ({"scanner": [{"name": "s", "port": "p", "terminator": "nul"}]}, "terminator: Input should be 'cr'"),
    ({"door": [{"name": "d", "contact_port": "a", "relay_port": "b", "relay_model": "acme"}]},
     "unknown relay model 'acme'; known: ascii, kmtronic, lc-technology"),
    ({"door": [{"name": "d", "contact_port": "a", "relay_port": "a"}]}, "must be different ports"),
    ({"door": [{"name": "d", "contact_port": "a", "relay_port": "b", "unlock_s": 90}]},
     "unlock_s (90) must not exceed max_unlock_s (60)"),
    ({"door": [{"name": "d", "contact_port": "a", "relay_port": "b", "held_open_s": 0}]},
     "held_open_s: Input should be greater than 0"),
    ({"camera": [{"name": "c", "source": 0, "zones": [{"name": "z", "polygon": [[0, 0], [1, 1]]}]}]},
     "zones.0.polygon: List should have at least 3 items"),
    ({"camera": [{"name": "c", "source": 0, "masks": [[[0, 0], [1, 0], [1, 1.5]]]}]},
     "masks.0.2.1: Input should be less than or equal to 1"),
    ({"camera": [{"name": "c", "source": 0, "fps": 0}]}, "fps: Input should be greater than 0"),
    ({"rdm6300": [{"name": "r", "port": "/dev/x"}], "scanner": [{"name": "r", "port": "/dev/y"}]},
     "device name 'r' is used twice"),
    ({"rdm6300": [{"name": "a", "port": "/dev/x"}], "scanner": [{"name": "b", "port": "/dev/x"}]},
     "serial port /dev/x is given to both a and b"),
])
def test_bad_values_are_refused_with_the_reason(entry: dict[str, object], expected: str) -> None:
    with pytest.raises(SiteError) as err:
        parse_site({"devices": entry}, where="site file x.toml")
    assert str(err.value).startswith("site file x.toml: ")
    assert expected in str(err.value)


def test_a_file_that_is_missing_or_not_toml_is_named(tmp_path: Path) -> None:
    with pytest.raises(SiteError, match="does not exist"):
        load_site(tmp_path / "nope.toml")
    with pytest.raises(SiteError, match="is not valid TOML"):
        load_site(write(tmp_path, "[[devices.rdm6300]\n"))
