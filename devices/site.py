"""The site file: which devices run where, as pydantic models read from TOML (pure: no serial, no cv2).

The site file is the `--config` TOML file; next to `site`, `mqtt`, `db` and `data_dir` it lists
devices by kind, one array of tables per kind::

    [[devices.rdm6300]]
    name = "reader-1"                    # its MQTT principal and the {device} of its topics
    port = "/dev/serial/by-id/usb-1a86_USB_Serial-if00-port0"
    reader = 1

Every kind's model refuses unknown keys. A new kind is one model here (a `DeviceConfig`
subclass with its `kind`) added to `KINDS`, and one builder in `devices.runner.BUILDERS`.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from broker import topics
from broker.config import ConfigError
from devices.door import DoorConfig
from devices.lines import Terminator
from devices.readers.wiegand import WiegandEncoding
from devices.relay import MAX_CHANNEL, PRESETS


class SiteError(ConfigError):
    """A site file that cannot be used; the text names the file, the device and the key."""


def _device_name(value: str) -> str:
    """A device name as the contract wants it (also its MQTT user name)."""
    try:
        return topics.check_device(value)
    except topics.TopicError as exc:
        raise ValueError(str(exc)) from None


def _relay_model(value: str) -> str:
    """A relay preset name."""
    if value not in PRESETS:
        raise ValueError(f"unknown relay model {value!r}; known: {', '.join(sorted(PRESETS))}")
    return value


def _word(value: str) -> str:
    """A contact word: printable ASCII without spaces."""
    if not value or not all(0x21 <= ord(c) <= 0x7E for c in value):
        raise ValueError(f"a contact word must be printable ASCII without spaces, got {value!r}")
    return value


Name = Annotated[str, AfterValidator(_device_name)]
Word = Annotated[str, AfterValidator(_word)]
Coordinate = Annotated[float, Field(ge=0.0, le=1.0)]
Points = Annotated[list[tuple[Coordinate, Coordinate]], Field(min_length=3)]
PORT_HELP = "pyserial URL: a device path (/dev/ttyUSB0, /dev/serial/by-id/...), socket://host:port or loop://"


class DeviceConfig(BaseModel):
    """What every device entry has: its name, and whether to run it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: ClassVar[str] = ""
    status_kind: ClassVar[str] = "device"

    name: Name = Field(description="Device name: its MQTT principal and the {device} in its topics.")
    enabled: bool = Field(default=True, description="false keeps the entry but does not run it.")

    def serial_ports(self) -> dict[str, str]:
        """The serial ports this device opens, by role ('serial', 'contact', 'relay')."""
        return {}


class SerialReaderConfig(DeviceConfig):
    """A device on one serial port that reads presentations (badges, codes)."""

    port: str = Field(min_length=1, description=PORT_HELP)
    baudrate: int = Field(default=9600, gt=0, description="Line speed (8N1).")
    hold_s: float = Field(default=1.0, ge=0, description="Equal reads within this many seconds are one.")

    def serial_ports(self) -> dict[str, str]:
        """The one serial port."""
        return {"serial": self.port}


class Rdm6300Config(SerialReaderConfig):
    """An RDM6300 125 kHz EM4100 reader module (9600 8N1, it repeats while a tag is present)."""

    kind: ClassVar[str] = "rdm6300"
    status_kind: ClassVar[str] = "reader"
    reader: int = Field(default=1, ge=0, le=255, description="Reader number in badge.read (0-255).")


class Wiegand26Config(SerialReaderConfig):
    """A Wiegand-26 (H10301) reader behind a Wiegand-to-serial converter."""

    kind: ClassVar[str] = "wiegand26"
    status_kind: ClassVar[str] = "reader"
    reader: int = Field(default=1, ge=0, le=255, description="Reader number in badge.read (0-255).")
    encoding: WiegandEncoding = Field(default=WiegandEncoding.BITS,
                                      description="Converter output: bits, hex26 or hex24.")
    terminator: Terminator = Field(default=Terminator.CRLF, description="Line end: cr, lf, crlf or tab.")


class ScannerDeviceConfig(SerialReaderConfig):
    """A barcode/QR scanner in serial (RS-232 or USB-CDC) mode."""

    kind: ClassVar[str] = "scanner"
    status_kind: ClassVar[str] = "scanner"
    terminator: Terminator = Field(default=Terminator.CR, description="Line end: cr, lf, crlf or tab.")
    aim_ids: bool = Field(default=True, description="Parse an AIM symbology prefix such as ]Q1.")
    max_length: int = Field(default=512, ge=1, le=512, description="Longest code line in bytes.")


class DoorDeviceConfig(DeviceConfig):
    """A door: a contact (reed switch via a microcontroller) and a serial relay board on the strike."""

    kind: ClassVar[str] = "door"
    status_kind: ClassVar[str] = "door"
    door: Name | None = Field(default=None, description="Door name in door.* events (default: name).")
    contact_port: str = Field(min_length=1, description=f"The contact's port; {PORT_HELP}.")
    contact_baudrate: int = Field(default=9600, gt=0, description="The contact's line speed.")
    open_word: Word = Field(default="OPEN", description="Line the contact sends when open.")
    closed_word: Word = Field(default="CLOSED", description="Line the contact sends when closed.")
    contact_terminator: Terminator = Field(default=Terminator.LF, description="The contact's line end.")
    relay_port: str = Field(min_length=1, description=f"The relay board's port; {PORT_HELP}.")
    relay_model: Annotated[str, AfterValidator(_relay_model)] = Field(
        default="lc-technology", description="Relay board: lc-technology, kmtronic or ascii.")
    relay_channel: int = Field(default=1, ge=1, le=MAX_CHANNEL, description="Relay channel on the board.")
    held_open_s: float = Field(default=30.0, gt=0, description="Open longer than this: door.held_open.")
    unlock_s: float = Field(default=5.0, gt=0, description="Unlock time when a command gives none.")
    max_unlock_s: float = Field(default=60.0, gt=0, description="Longest unlock a command may ask.")
    relock_on_close: bool = Field(default=True, description="Relock as soon as the door closes again.")

    @model_validator(mode="after")
    def _times(self) -> DoorDeviceConfig:
        """The timing must make a valid DoorConfig, and the two ports must differ."""
        if self.unlock_s > self.max_unlock_s:
            raise ValueError(f"unlock_s ({self.unlock_s:g}) must not exceed "
                             f"max_unlock_s ({self.max_unlock_s:g})")
        self.door_config()
        if self.contact_port == self.relay_port:
            raise ValueError("contact_port and relay_port must be different ports")
        return self

    def door_config(self) -> DoorConfig:
        """The door logic's timing."""
        return DoorConfig(held_open_s=self.held_open_s, default_unlock_s=self.unlock_s,
                          max_unlock_s=self.max_unlock_s, relock_on_close=self.relock_on_close)

    def serial_ports(self) -> dict[str, str]:
        """The contact's and the relay's ports."""
        return {"contact": self.contact_port, "relay": self.relay_port}


class ZoneConfig(BaseModel):
    """A named area of a camera's view, as a polygon in relative coordinates (0..1)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: Name = Field(description="Zone name in camera.* events.")
    polygon: Points = Field(description="At least 3 [x, y] points, each 0..1 of width and height.")


class CameraDeviceConfig(DeviceConfig):
    """A camera: motion, tamper and people analysis with a snapshot per event."""

    kind: ClassVar[str] = "camera"
    status_kind: ClassVar[str] = "camera"
    source: int | str = Field(description="Device index (0 = /dev/video0), rtsp:// or http:// URL, or "
                              "a video file (relative to the site file).")
    fps: float = Field(default=5.0, gt=0, le=60, description="Frames analysed per second.")
    zones: list[ZoneConfig] = Field(default_factory=list, description="Named zones for events.")
    masks: list[Points] = Field(default_factory=list, description="Polygons where motion is ignored.")
    snapshots: str | None = Field(default=None, description="Snapshot folder (relative to the site "
                                  "file); default DATA_DIR/snapshots/<name>.")
    detect_people: bool = Field(default=True, description="Run the person detector on motion.")


class OsdpReaderEntry(BaseModel):
    """One OSDP reader (PD) on a line: its address and its site key."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    address: int = Field(ge=0, le=126, description="The reader's OSDP address (0-126).")
    scbk: str = Field(pattern=r"^[0-9A-Fa-f]{32}$", repr=False,  # a secret: keep the file private
                      description="The site's secure-channel base key, 32 hex digits (not the install key).")


class OsdpLineConfig(DeviceConfig):
    """An RS-485 line of OSDP readers polled by Gatehouse as the control panel (secure channel)."""

    kind: ClassVar[str] = "osdp"
    status_kind: ClassVar[str] = "reader"
    port: str = Field(min_length=1, description=PORT_HELP)
    baudrate: int = Field(default=115200, gt=0, description="Line speed (OSDP: 9600 to 115200).")
    readers: list[OsdpReaderEntry] = Field(min_length=1, description="The readers on this line.")
    allow_install_key: bool = Field(default=False,
                                    description="Commissioning only: let a fresh reader take the site key.")

    def serial_ports(self) -> dict[str, str]:
        """The one serial line."""
        return {"serial": self.port}


class PrinterDeviceConfig(DeviceConfig):
    """A visitor-badge label printer: Zebra ZPL, ESC/POS or Brother QL, on serial or TCP 9100."""

    kind: ClassVar[str] = "printer"
    status_kind: ClassVar[str] = "printer"
    driver: Literal["zpl", "escpos", "brother-ql"] = Field(description="The printer's language.")
    port: str | None = Field(default=None, min_length=1, description=PORT_HELP + " (serial printers)")
    address: str | None = Field(default=None, pattern=r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$",
                                description="host or host:port of a network printer (port 9100 if left out)")
    poll_s: float = Field(default=5.0, gt=0, description="Seconds between status polls.")
    photo_dir: str | None = Field(default=None, description="Folder of the photos print commands name.")

    @model_validator(mode="after")
    def _one_way_in(self) -> PrinterDeviceConfig:
        if (self.port is None) == (self.address is None):
            raise ValueError("give a printer either a serial `port` or a network `address`, not both")
        return self

    def serial_ports(self) -> dict[str, str]:
        """The serial port, if the printer is on one."""
        return {"serial": self.port} if self.port else {}


KINDS: dict[str, type[DeviceConfig]] = {
    model.kind: model
    for model in (Rdm6300Config, Wiegand26Config, ScannerDeviceConfig, DoorDeviceConfig, CameraDeviceConfig,
                  OsdpLineConfig, PrinterDeviceConfig)
}
"""Every device kind a site file may list, by its key under `devices` (extend here)."""


def principal_kind(kind: str) -> str:
    """The MQTT principal kind (broker.kinds.Kind) of a device listed under `devices.{kind}`."""
    model = KINDS.get(kind)
    if model is None:
        raise SiteError(f"unknown device kind {kind!r}; known: {', '.join(sorted(KINDS))}")
    return model.status_kind


class Site(BaseModel):
    """The devices of one site file, in file order, and where the file is (for relative paths)."""

    model_config = ConfigDict(frozen=True)
    devices: list[DeviceConfig] = Field(default_factory=list, description="Every device listed.")
    folder: Path = Field(default=Path(), description="Folder relative paths are resolved from.")

    def resolve(self, path: str) -> Path:
        """`path` as written in the file, relative to the file's folder."""
        return (self.folder / Path(path).expanduser()).resolve()

    def enabled(self) -> list[DeviceConfig]:
        """The devices to run."""
        return [d for d in self.devices if d.enabled]


def parse_site(doc: Mapping[str, Any], *, where: str = "site file", folder: Path | None = None) -> Site:
    """Validate the `devices` section of a parsed TOML document; SiteError lists every problem."""
    section = doc.get("devices", {})
    if not isinstance(section, Mapping):
        raise SiteError(f"{where}: 'devices' must hold one [[devices.KIND]] table per device")
    problems: list[str] = []
    devices: list[DeviceConfig] = []
    for kind, entries in section.items():
        model = KINDS.get(kind)
        if model is None:
            problems.append(f"unknown device kind [[devices.{kind}]]; known: {', '.join(sorted(KINDS))}")
            continue
        for i, entry in enumerate([entries] if isinstance(entries, Mapping) else entries):
            label = f"devices.{kind}[{i}]"
            if isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
                label += f" ({entry['name']})"
            try:
                devices.append(model.model_validate(entry))
            except ValidationError as exc:
                problems += [f"{label}: {_explain(err, model)}" for err in exc.errors()]
    problems += _clashes(devices)
    if problems:
        raise SiteError(f"{where}: " + "; ".join(problems))
    return Site(devices=devices, folder=folder or Path())


def load_site(path: Path | str) -> Site:
    """Read and validate the site file at `path`."""
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise SiteError(f"site file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SiteError(f"site file {path} cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SiteError(f"site file {path} is not valid TOML: {exc}") from None
    return parse_site(doc, where=f"site file {path}", folder=path.resolve().parent)


def _explain(err: Any, model: type[BaseModel]) -> str:
    """One pydantic error as a line an installer understands."""
    loc = ".".join(str(part) for part in err["loc"])
    if err["type"] == "extra_forbidden":
        known = ", ".join(model.model_fields)
        return f"unknown key {loc!r} (known keys: {known})"
    if err["type"] == "missing":
        return f"{loc} is missing"
    message = str(err["msg"]).removeprefix("Value error, ")
    return f"{loc}: {message}" if loc else message


def _clashes(devices: list[DeviceConfig]) -> list[str]:
    """Two devices with one name, or one serial port opened by two devices."""
    problems: list[str] = []
    names: dict[str, str] = {}
    ports: dict[str, str] = {}
    for device in devices:
        if device.name in names:
            problems.append(f"device name {device.name!r} is used twice "
                            f"({names[device.name]} and {device.kind})")
        names[device.name] = device.kind
        if not device.enabled:
            continue
        for url in device.serial_ports().values():
            if url in ports and ports[url] != device.name and not url.startswith("loop://"):
                problems.append(f"serial port {url} is given to both {ports[url]} and {device.name}")
            ports.setdefault(url, device.name)
    return problems
