"""Run the devices of a site file: each agent on its own DeviceLink, port faults reported, stopped together.

`build_device(config, context)` makes one `RunningDevice` with the builder `BUILDERS[config.kind]`;
`SiteRunner` starts them all, and a device whose port or camera is missing is logged once by
name and retried in the background while the others run. A new kind (a printer, an OSDP
reader) is a model in `devices.site.KINDS` and a builder registered here::

    BUILDERS["zpl"] = build_zpl_printer   # (config, context) -> RunningDevice
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from broker.config import MqttUrl
from broker.device_link import DeviceLink
from broker.schemas import DeviceFault
from devices.agent import Emitter
from devices.serial_port import PortConfigError, SerialTransport
from devices.site import (
    CameraDeviceConfig,
    DeviceConfig,
    DoorDeviceConfig,
    OsdpLineConfig,
    PrinterDeviceConfig,
    Rdm6300Config,
    ScannerDeviceConfig,
    Site,
    Wiegand26Config,
)

log = logging.getLogger(__name__)


@dataclass(slots=True, frozen=True)
class DeviceContext:
    """What builders need besides a device's own config: the site and where things go."""

    site: str
    url_for: Callable[[str], MqttUrl]  # each device's own broker URL and credentials, by name
    data_dir: Path
    site_file: Site = field(default_factory=Site)

    def link(self, config: DeviceConfig) -> DeviceLink:
        """The device's own link to the bus, with its outbox in DATA_DIR/outbox."""
        return DeviceLink(self.url_for(config.name), site=self.site, device=config.name,
                          kind=config.status_kind, outbox_dir=self.data_dir / "outbox")


class PortWatch:
    """Turns one serial port's availability into `device.fault` no_answer / cleared, once per change."""

    def __init__(self, device: str, role: str, url: str, emitter: Emitter) -> None:
        """Watch port `url`, playing `role` ('serial', 'contact') for `device`."""
        self.device, self.role, self.url = device, role, url
        self._emitter = emitter
        self._lock = threading.Lock()
        self.down = False
        self.muted = False  # set while the device stops: closing its own port is no fault

    def on_connection(self, connected: bool) -> None:
        """A transport's `on_connection` hook."""
        if connected:
            self.answers()
        else:
            self.lost(f"{self.role} port {self.url} lost")

    def lost(self, detail: str, *, warn: bool = True) -> None:
        """The port is gone: one warning (unless already said) and one fault until it is back."""
        with self._lock:
            if self.down or self.muted:
                return
            self.down = True
        if warn:
            log.warning("device %s: %s; no answer until it is back", self.device, detail)
        self._emit(DeviceFault(fault="no_answer", detail=detail[:200]))

    def answers(self) -> None:
        """The port is (back) open: clear a fault that was reported."""
        with self._lock:
            if not self.down:
                return
            self.down = False
        log.info("device %s: %s port %s answers again", self.device, self.role, self.url)
        self._emit(DeviceFault(fault="no_answer", detail=f"{self.role} port {self.url}", cleared=True))

    def _emit(self, fault: DeviceFault) -> None:
        """Emit the fault; a failure is logged, never raised into a reader thread."""
        try:
            self._emitter.emit("device.fault", fault)
        except Exception:
            log.exception("device %s: cannot emit device.fault", self.device)


@dataclass(slots=True)
class RunningDevice:
    """One device of the site: its link, how to start and stop its agent, its ports and their watches."""

    config: DeviceConfig
    link: DeviceLink
    start_agent: Callable[[bool], None]  # start_agent(require): with require, a missing port raises
    stop_agent: Callable[[], None]
    ports: dict[str, SerialTransport[Any]] = field(default_factory=dict)
    watches: dict[str, PortWatch] = field(default_factory=dict)
    retries: bool = True  # False for what cannot come back by itself (a video file)
    where: str = ""  # what it reads, for the log

    @property
    def label(self) -> str:
        """'name (kind)', for log lines."""
        return f"{self.config.name} ({self.config.kind})"

    def start(self) -> bool:
        """Connect the link and start the agent; False if the device cannot run at all."""
        self.link.start()
        try:
            self.start_agent(True)
        except PortConfigError as exc:
            log.error("device %s: %s; it will not run (fix the site file)", self.label, exc)
            return False
        except OSError as exc:  # PortError, CameraNotFoundError: one line that names both
            if not self.retries:
                log.error("device %s: %s; not retried, the other devices keep running", self.label, exc)
                return False
            log.error("device %s: %s; retrying with backoff, the other devices keep running",
                      self.label, exc)
            self.start_agent(False)
            for role, transport in self.ports.items():
                if transport.connected:
                    continue
                if transport.url not in str(exc):
                    log.error("device %s: %s port %s cannot be opened either",
                              self.label, role, transport.url)
                if role in self.watches:
                    self.watches[role].lost(f"{role} port {transport.url} cannot be opened", warn=False)
            return True
        log.info("device %s: running on %s", self.label, self.where)
        return True

    def stop(self) -> None:
        """Stop the agent, then the link (unconfirmed events stay in the outbox)."""
        for watch in self.watches.values():
            watch.muted = True
        try:
            self.stop_agent()
        finally:
            self.link.stop()


Builder = Callable[[DeviceConfig, DeviceContext], RunningDevice]


def _reader(config: DeviceConfig, ctx: DeviceContext) -> RunningDevice:
    """An RDM6300, a Wiegand converter or a scanner: one port, one ReaderAgent."""
    from devices.agent import ReaderAgent
    from devices.readers.badge_agent import BadgeReaderAgent, WiegandReaderAgent
    from devices.readers.wiegand import WiegandLineFormat
    from devices.scanner import ScannerConfig
    from devices.scanner_agent import ScannerAgent

    assert isinstance(config, Rdm6300Config | Wiegand26Config | ScannerDeviceConfig)
    link = ctx.link(config)
    watch = PortWatch(config.name, "serial", config.port, link.source)
    hold, baud, hook = config.hold_s, config.baudrate, watch.on_connection
    agent: ReaderAgent[Any]
    if isinstance(config, Rdm6300Config):
        agent = BadgeReaderAgent(config.port, link.source, config.reader, hold_s=hold, baudrate=baud,
                                 on_connection=hook)
    elif isinstance(config, Wiegand26Config):
        agent = WiegandReaderAgent(config.port, link.source, config.reader, hold_s=hold, baudrate=baud,
                                   on_connection=hook,
                                   line_format=WiegandLineFormat(config.encoding, config.terminator))
    else:
        scan = ScannerConfig(config.terminator, config.max_length, config.aim_ids)
        agent = ScannerAgent(config.port, link.source, config.name, config=scan, hold_s=hold, baudrate=baud,
                             on_connection=hook)
    return RunningDevice(config, link, lambda require: agent.start(require_port=require), agent.stop,
                         ports={"serial": agent.transport}, watches={"serial": watch}, where=config.port)


def _door(config: DeviceConfig, ctx: DeviceContext) -> RunningDevice:
    """A door: contact and relay ports, `unlock` commands from its own command topic."""
    from devices.door_agent import DoorAgent
    from devices.door_contact import ContactProtocol
    from devices.relay import model_by_name

    assert isinstance(config, DoorDeviceConfig)
    link = ctx.link(config)
    watch = PortWatch(config.name, "contact", config.contact_port, link.source)
    protocol = ContactProtocol(config.open_word.encode(), config.closed_word.encode(),
                               terminator=config.contact_terminator)
    agent = DoorAgent(config.contact_port, config.relay_port, link.source, door=config.door or config.name,
                      relay_model=model_by_name(config.relay_model, config.relay_channel), contact=protocol,
                      config=config.door_config(), contact_baudrate=config.contact_baudrate,
                      on_contact_connection=watch.on_connection)
    agent.subscribe(link.bus, ctx.site, config.name)  # topics.command(site, name, "unlock")
    ports: dict[str, SerialTransport[Any]] = {"contact": agent.contact, "relay": agent.relay}
    return RunningDevice(config, link, lambda require: agent.start(require_port=require), agent.stop,
                         ports=ports, watches={"contact": watch},
                         where=f"contact {config.contact_port}, relay {config.relay_port}")


def _camera(config: DeviceConfig, ctx: DeviceContext) -> RunningDevice:
    """A camera: OpenCV capture, analysis, snapshots; camera_lost faults come from the agent."""
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")  # before cv2 loads: no WARN line per retry
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "8")  # nor libav's own line per reconnect
    from devices.camera.agent import CameraAgent
    from devices.camera.analysis import CameraAnalyzer, PolicyConfig
    from devices.camera.capture import FrameSource, SnapshotWriter, describe, is_live, parse_source
    from devices.camera.geometry import Polygon, Zone

    assert isinstance(config, CameraDeviceConfig)
    source = parse_source(config.source)
    if isinstance(source, str) and not is_live(source):
        source = str(ctx.site_file.resolve(source))
    folder = (ctx.site_file.resolve(config.snapshots) if config.snapshots
              else ctx.data_dir.resolve() / "snapshots" / config.name)
    analyzer = CameraAnalyzer(config.name, zones=[Zone(z.name, Polygon.of(z.polygon)) for z in config.zones],
                              masks=[Polygon.of(m) for m in config.masks],
                              policy=PolicyConfig(detect_people=config.detect_people))
    link = ctx.link(config)
    frames = FrameSource(source, fps=config.fps)
    agent = CameraAgent(analyzer, link.source, source=frames, snapshots=SnapshotWriter(folder))
    return RunningDevice(config, link, lambda require: agent.start(require_camera=require), agent.stop,
                         retries=frames.live, where=f"{describe(source)}, snapshots in {folder}")


def _osdp(config: DeviceConfig, ctx: DeviceContext) -> RunningDevice:
    """An OSDP line: libosdp as the control panel, card reads, tamper, power and no-answer faults."""
    from devices.readers.osdp import OsdpReaderAgent, OsdpReaderConfig

    assert isinstance(config, OsdpLineConfig)
    link = ctx.link(config)
    agent = OsdpReaderAgent(config.port, link.source,
                            [OsdpReaderConfig(r.address, r.scbk) for r in config.readers],
                            allow_install_key=config.allow_install_key, baudrate=config.baudrate)
    # libosdp reopens a line it lost, but a port absent at start is reported, not retried
    return RunningDevice(config, link, lambda _require: agent.start(), agent.stop, retries=False,
                         where=f"{config.port}, readers {', '.join(str(r.address) for r in config.readers)}")


def _printer(config: DeviceConfig, ctx: DeviceContext) -> RunningDevice:
    """A badge printer: `print` commands, status polling; a fault takes its status offline with why."""
    from broker.messages import Status
    from devices.printers import DRIVERS, PrinterAgent, printer_port

    assert isinstance(config, PrinterDeviceConfig)
    link = ctx.link(config)
    port = printer_port(config.port, config.address)

    def availability(online: bool, detail: str | None) -> None:
        topic = link.bus.status_topic
        if topic:
            status = Status("online" if online else "offline", kind="printer", detail=detail)
            link.bus.publish(topic, status.encode(), qos=1, retain=True)

    agent = PrinterAgent(port, link.source, printer=config.name, driver=DRIVERS[config.driver](),
                         poll_s=config.poll_s, on_availability=availability,
                         photo_dir=ctx.site_file.resolve(config.photo_dir) if config.photo_dir else None)
    agent.subscribe(link.bus, ctx.site, config.name)  # topics.command(site, name, "print")
    return RunningDevice(config, link, lambda _require: agent.start(), agent.stop,
                         where=f"{port.name} ({config.driver})")


BUILDERS: dict[str, Builder] = {
    "rdm6300": _reader,
    "wiegand26": _reader,
    "scanner": _reader,
    "door": _door,
    "camera": _camera,
    "osdp": _osdp,
    "printer": _printer,
}
"""How each kind of `devices.site.KINDS` is built (register printers and OSDP here)."""


def build_device(config: DeviceConfig, ctx: DeviceContext) -> RunningDevice:
    """The running form of one device entry; KeyError if its kind has no builder."""
    try:
        builder = BUILDERS[config.kind]
    except KeyError:
        raise KeyError(f"no builder for device kind {config.kind!r}") from None
    return builder(config, ctx)


class SiteRunner:
    """Every enabled device of a site file, started together and stopped together."""

    def __init__(self, site: Site, ctx: DeviceContext) -> None:
        """Build nothing yet; `start()` builds and starts."""
        self.site, self.ctx = site, ctx
        self.running: list[RunningDevice] = []
        self.failed: list[str] = []

    def start(self) -> int:
        """Build and start each device (one failing does not stop the others); return how many run."""
        for config in self.site.enabled():
            try:
                device = build_device(config, self.ctx)
            except (KeyError, ValueError, OSError) as exc:
                log.error("device %s (%s): cannot be set up: %s", config.name, config.kind, exc)
                self.failed.append(config.name)
                continue
            if device.start():
                self.running.append(device)
            else:
                device.stop()
                self.failed.append(config.name)
        return len(self.running)

    def stop(self) -> None:
        """Stop every running device, newest first."""
        while self.running:
            device = self.running.pop()
            try:
                device.stop()
            except Exception:
                log.exception("device %s did not stop cleanly", device.label)
