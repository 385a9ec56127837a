"""Printer ports: a serial port (any pyserial URL) or raw TCP (port 9100), and query-and-wait.

Printing is request and answer, so these ports are synchronous: the agent's one worker thread
writes a job or a status query and reads the answer with a timeout. Every failure is a
`PortError` (an OSError) whose text names the port.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import time
from typing import Protocol, TypeVar

import serial

from devices.framing import Decoder
from devices.serial_port import PortError, open_port

log = logging.getLogger(__name__)

ReadingT = TypeVar("ReadingT")


class PrinterPort(Protocol):
    """A connection to a printer; `open` may be called again after a failure."""

    name: str

    @property
    def is_open(self) -> bool:
        """True while connected."""
        ...

    def open(self) -> None:
        """Connect; PortError if the printer cannot be reached."""
        ...

    def close(self) -> None:
        """Disconnect; safe to call twice."""
        ...

    def write(self, data: bytes) -> None:
        """Send all of `data`; PortError on failure."""
        ...

    def read(self, timeout: float) -> bytes:
        """What arrived within `timeout` seconds (b"" if nothing); PortError on failure."""
        ...


class SerialPrinterPort:
    """A printer on a serial port, opened with `serial_for_url` (device path, pty, loop://)."""

    def __init__(self, url: str, *, baudrate: int = 9600, write_timeout: float = 10.0) -> None:
        """Prepare; nothing is opened until `open()`."""
        if not url:
            raise ValueError("printer port URL must not be empty")
        self.name = url
        self._baudrate = baudrate
        self._write_timeout = write_timeout
        self._port: serial.Serial | None = None

    @property
    def is_open(self) -> bool:
        """True while the port is open."""
        return self._port is not None

    def open(self) -> None:
        """Open the port (see `devices.serial_port.open_port`)."""
        if self._port is None:
            port = open_port(self.name, baudrate=self._baudrate, timeout=0.05)
            port.write_timeout = self._write_timeout
            self._port = port

    def close(self) -> None:
        """Close the port, ignoring errors of a port already gone."""
        port, self._port = self._port, None
        if port is not None:
            with contextlib.suppress(serial.SerialException, OSError):
                port.close()

    def write(self, data: bytes) -> None:
        """Write all of `data` and wait until it left."""
        port = self._require()
        try:
            port.write(data)
            port.flush()
        except (serial.SerialException, OSError) as exc:
            raise PortError(f"cannot write to printer port {self.name}: {exc}") from None

    def read(self, timeout: float) -> bytes:
        """Bytes that arrived within `timeout` seconds."""
        port = self._require()
        try:
            port.timeout = timeout
            first: bytes = port.read(1)
            if not first:
                return b""
            port.timeout = 0
            rest: bytes = port.read(max(0, port.in_waiting))
        except (serial.SerialException, OSError) as exc:
            raise PortError(f"cannot read from printer port {self.name}: {exc}") from None
        return first + rest

    def _require(self) -> serial.Serial:
        """The open port, or PortError."""
        if self._port is None:
            raise PortError(f"printer port {self.name} is not open")
        return self._port


class TcpPrinterPort:
    """A network printer's raw port (9100 for Zebra and most ESC/POS network printers)."""

    def __init__(
        self, host: str, port: int = 9100, *, connect_timeout: float = 3.0, write_timeout: float = 10.0
    ) -> None:
        """Prepare; nothing is connected until `open()`."""
        if not host or not 0 < port < 65536:
            raise ValueError(f"printer address {host!r}:{port!r} is not usable")
        self.name = f"tcp://{host}:{port}"
        self._address = (host, port)
        self._connect_timeout = connect_timeout
        self._write_timeout = write_timeout
        self._sock: socket.socket | None = None

    @property
    def is_open(self) -> bool:
        """True while connected."""
        return self._sock is not None

    def open(self) -> None:
        """Connect within `connect_timeout` seconds."""
        if self._sock is not None:
            return
        try:
            self._sock = socket.create_connection(self._address, timeout=self._connect_timeout)
        except OSError as exc:
            raise PortError(f"cannot connect to printer {self.name}: {exc}") from None

    def close(self) -> None:
        """Close the connection."""
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()

    def write(self, data: bytes) -> None:
        """Send all of `data` within `write_timeout` seconds."""
        sock = self._require()
        try:
            sock.settimeout(self._write_timeout)
            sock.sendall(data)
        except OSError as exc:
            self.close()
            raise PortError(f"cannot send to printer {self.name}: {exc}") from None

    def read(self, timeout: float) -> bytes:
        """Bytes that arrived within `timeout` seconds; a closed connection is a PortError."""
        sock = self._require()
        try:
            ready, _, _ = select.select([sock], [], [], timeout)
            if not ready:
                return b""
            data = sock.recv(4096)
        except OSError as exc:
            self.close()
            raise PortError(f"cannot read from printer {self.name}: {exc}") from None
        if not data:
            self.close()
            raise PortError(f"printer {self.name} closed the connection")
        return data

    def _require(self) -> socket.socket:
        """The open socket, or PortError."""
        if self._sock is None:
            raise PortError(f"printer {self.name} is not connected")
        return self._sock


def printer_port(port: str | None, address: str | None, *, tcp_port: int = 9100) -> PrinterPort:
    """The port a printer entry names: serial `port` if given, else TCP `address` ('host' or 'host:port')."""
    if port:
        return SerialPrinterPort(port)
    host, _, number = (address or "").partition(":")
    return TcpPrinterPort(host, int(number or tcp_port))


def query(port: PrinterPort, request: bytes, decoder: Decoder[ReadingT], timeout: float) -> ReadingT | None:
    """Send `request` and return the first reading `decoder` makes of the answer, or None in time.

    Stale bytes already waiting are read and dropped first, so an old answer is never taken
    for the new one.
    """
    while port.read(0):
        pass
    decoder.reset()
    port.write(request)
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        readings = decoder.feed(port.read(min(left, 0.2)))
        if readings:
            return readings[0]
    log.debug("no answer from %s within %.1f s", port.name, timeout)
    return None
