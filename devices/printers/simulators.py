"""Simulated label printers speaking the real protocols, on a pty pair or a local TCP port.

A model (`SimulatedZebra`, `SimulatedEscPos`, `SimulatedBrotherQl`) is pure: bytes from the
host in, its answer out, and a record of what it printed. A carrier (`PtyPrinter`,
`TcpPrinter`) runs a model behind a virtual serial port or a socket in a thread.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from types import TracebackType
from typing import Protocol, Self

from devices.printers import brother, escpos, zpl
from devices.printers.status import Condition
from devices.simulator import VirtualSerialPort

log = logging.getLogger(__name__)
_MAX_BUFFER = 4 * 1024 * 1024
_FIXED = {escpos.DLE_EOT: 3, b"\x1bd": 3, b"\x1ba": 3, escpos.INIT: 2}
"""ESC/POS commands of a fixed length this simulator reads."""


class PrinterModel(Protocol):
    """A simulated printer: what it answers to bytes from the host."""

    conditions: set[Condition]
    answering: bool

    def feed(self, data: bytes) -> bytes:
        """Take bytes from the host; return the printer's answer (may be empty)."""
        ...


class SimulatedZebra:
    """A Zebra: answers `~HS` with its `conditions`, keeps every ^XA...^XZ label it receives."""

    def __init__(self) -> None:
        """A ready printer with no labels."""
        self.conditions: set[Condition] = set()
        self.answering = True
        self.labels: list[bytes] = []
        self._buf = bytearray()

    def feed(self, data: bytes) -> bytes:
        """Answer the `~HS` queries in `data` (at once, as tilde commands are) and keep labels."""
        self._buf += data
        answer = b""
        while (at := self._buf.find(zpl.HOST_STATUS_QUERY)) >= 0:
            del self._buf[at : at + len(zpl.HOST_STATUS_QUERY)]
            if self.answering:
                answer += zpl.host_status_reply(frozenset(self.conditions))
        while (end := self._buf.find(b"^XZ")) >= 0:
            start = self._buf.find(b"^XA")
            if 0 <= start < end:
                self.labels.append(bytes(self._buf[start : end + 3]))
            del self._buf[: end + 3]
        if len(self._buf) > _MAX_BUFFER:
            self._buf.clear()
        return answer


class SimulatedEscPos:
    """An ESC/POS printer: answers DLE EOT n, keeps raster images and counts cuts."""

    def __init__(self) -> None:
        """A ready printer with nothing printed."""
        self.conditions: set[Condition] = set()
        self.answering = True
        self.images: list[tuple[int, int]] = []
        """(width in dots, height in dots) of each GS v 0 raster image."""
        self.cuts = 0
        self.inits = 0
        self._buf = bytearray()

    def feed(self, data: bytes) -> bytes:
        """Obey the commands in `data`; answer real-time status requests."""
        self._buf += data
        answer = bytearray()
        buf = self._buf
        pos = 0
        while pos < len(buf):
            size = self._command_size(buf, pos)
            if size == 0:
                break  # a command cut off: wait for the rest
            if buf.startswith(escpos.DLE_EOT, pos) and self.answering:
                answer.append(escpos.status_byte(buf[pos + 2], frozenset(self.conditions)))
            pos += size
        del buf[:pos]
        return bytes(answer)

    def _command_size(self, buf: bytearray, pos: int) -> int:
        """Length of the command at `pos` (recording its effect), or 0 if it is incomplete."""
        left = len(buf) - pos
        head = bytes(buf[pos : pos + 3])
        size = 1  # text, line feeds and commands this simulator does not model
        if head[:2] in _FIXED:
            size = _FIXED[head[:2]]
        elif head[:2] == b"\x1dV":
            size = 4 if left >= 3 and head[2] in (65, 66) else 3
        elif head == b"\x1dv0":
            size = 8 + _u16(buf, pos + 4) * _u16(buf, pos + 6) if left >= 8 else 8
        elif buf[pos] in (0x1B, 0x1D, 0x10) and left < 3:
            size = 3
        if left < size:
            return 0
        if head[:2] == escpos.INIT:
            self.inits += 1
        elif head[:2] == b"\x1dV":
            self.cuts += 1
        elif head == b"\x1dv0":
            self.images.append((_u16(buf, pos + 4) * 8, _u16(buf, pos + 6)))
        return size


def _u16(buf: bytearray, at: int) -> int:
    """The little-endian 16-bit number at `at`."""
    return buf[at] | buf[at + 1] << 8


class SimulatedBrotherQl:
    """A Brother QL: keeps printed pages of raster lines; answers ESC i S with 32 status bytes."""

    def __init__(self) -> None:
        """A ready printer with 62 mm tape."""
        self.conditions: set[Condition] = set()
        self.answering = True
        self.job = brother.RasterJob()
        self._buf = bytearray()

    @property
    def pages(self) -> list[list[bytes]]:
        """The raster lines of every printed page."""
        return self.job.pages

    def feed(self, data: bytes) -> bytes:
        """Read the raster commands in `data`; answer each status request."""
        self._buf += data
        before = self.job.status_requests
        try:
            _, used = brother.read_raster(bytes(self._buf), self.job)
        except brother.RasterError as exc:
            log.warning("simulated Brother QL dropped its input: %s", exc)
            self._buf.clear()
            return b""
        del self._buf[:used]
        asked = self.job.status_requests - before
        if not self.answering:
            return b""
        return brother.status_frame(frozenset(self.conditions)) * asked


class PtyPrinter(VirtualSerialPort):
    """A simulated printer behind a pty pair: the agent opens `path` as a serial port."""

    def __init__(self, model: PrinterModel) -> None:
        """Create the pty pair; `start()` (or `with`) runs the printer."""
        super().__init__()
        self.model = model
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        """Start answering in a thread."""
        self._thread = threading.Thread(target=self._run, name=f"sim-printer:{self.path}", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        """Read what the agent wrote; write the model's answer back."""
        while not self._stop.is_set():
            try:
                data = self.read(65536, timeout=0.05)
            except OSError:
                return
            if data:
                with self.lock:
                    answer = self.model.feed(data)
                if answer:
                    with contextlib.suppress(OSError):
                        self.write(answer)

    def close(self) -> None:
        """Stop the thread and close the pty pair."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
        super().close()

    def __enter__(self) -> Self:
        """Start, as a context manager that closes the port."""
        return self.start()


class TcpPrinter:
    """A simulated network printer on 127.0.0.1 (a free port unless `port` is given)."""

    def __init__(self, model: PrinterModel, *, port: int = 0) -> None:
        """Prepare; `start()` (or `with`) binds and runs the server."""
        self.model = model
        self.lock = threading.Lock()
        self._want_port = port
        self._server: socket.socket | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.connections = 0

    @property
    def port(self) -> int:
        """The TCP port the printer listens on."""
        if self._server is None:
            raise RuntimeError("simulated printer not started")
        return int(self._server.getsockname()[1])

    def start(self) -> Self:
        """Bind, listen and accept connections in a thread."""
        self._server = socket.create_server(("127.0.0.1", self._want_port))
        self._server.settimeout(0.1)
        self._spawn(self._accept)
        return self

    def _spawn(self, target: object, *args: object) -> None:
        """Run `target` in a daemon thread."""
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        """Accept clients until stopped; each is served on its own thread."""
        assert self._server is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            self._spawn(self._serve, conn)

    def _serve(self, conn: socket.socket) -> None:
        """Feed one client's bytes to the model and send its answers back."""
        conn.settimeout(0.1)
        with conn:
            while not self._stop.is_set():
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not data:
                    return
                with self.lock:
                    answer = self.model.feed(data)
                if answer:
                    with contextlib.suppress(OSError):
                        conn.sendall(answer)

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        self._stop.set()
        if self._server is not None:
            self._server.close()
        for thread in self._threads:
            thread.join(2.0)

    def __enter__(self) -> Self:
        """Start, as a context manager that stops it."""
        return self.start()

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        """Stop."""
        self.stop()

