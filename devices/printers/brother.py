"""Brother QL raster: a badge through brother_ql, the raster command stream read back, status (pure)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from brother_ql.conversion import convert  # type: ignore[import-untyped]
from brother_ql.raster import BrotherQLRaster  # type: ignore[import-untyped]
from PIL import Image

from devices.framing import BufferedDecoder
from devices.printers.status import Condition, PrinterStatus

log = logging.getLogger(__name__)

INVALIDATE = bytes(400)
"""The preamble of zero bytes that ends any half-sent command (400 suit every QL model)."""
INITIALISE = b"\x1b@"
STATUS_REQUEST = b"\x1biS"
STATUS_QUERY = INVALIDATE + INITIALISE + STATUS_REQUEST
"""What to send to ask a QL printer for its 32-byte status."""
STATUS_HEADER = b"\x80\x20\x42"
STATUS_SIZE = 32


class RasterError(ValueError):
    """A Brother QL command stream with an unknown or malformed command."""


def encode_brother(
    image: Image.Image, *, model: str = "QL-800", label: str = "62", cut: bool = True
) -> bytes:
    """The raster job brother_ql makes of `image` (already lying across the head) for `model`."""
    raster = BrotherQLRaster(model)
    convert(raster, [image.convert("1")], label, rotate="0", cut=cut, dither=False, compress=False)
    data: bytes = raster.data
    return data


# command prefix -> number of argument bytes that follow it
_FIXED: dict[bytes, int] = {
    b"\x1b@": 0, b"\x1biS": 0, b"\x1bia": 1, b"\x1bi!": 1, b"\x1biz": 10, b"\x1biM": 1,
    b"\x1biA": 1, b"\x1biK": 1, b"\x1bid": 2, b"M": 1, b"Z": 0, b"\x0c": 0, b"\x1a": 0,
}


@dataclass(slots=True)
class RasterJob:
    """What a QL printer made of a command stream: pages of raster lines, and status requests."""

    pages: list[list[bytes]] = field(default_factory=list)
    lines: list[bytes] = field(default_factory=list)
    """Raster lines of the page being sent (not printed yet)."""
    status_requests: int = 0
    initialised: bool = False
    cut: bool = False


def read_raster(data: bytes, job: RasterJob | None = None) -> tuple[RasterJob, int]:
    """Apply the complete commands at the start of `data` to `job`; return it and bytes used.

    A command cut off at the end waits for more bytes (not counted as used); an unknown command
    raises RasterError.
    """
    job = job or RasterJob()
    pos = 0
    while pos < len(data):
        byte = data[pos]
        if byte == 0:
            pos += 1
            continue
        if byte in (0x67, 0x77):  # g 0x00 n + n bytes (w: 0x01/0x02 colour, n, data)
            if pos + 3 > len(data):
                break
            size = data[pos + 2]
            if pos + 3 + size > len(data):
                break
            job.lines.append(data[pos + 3 : pos + 3 + size])
            pos += 3 + size
            continue
        command = next((c for c in _FIXED if data.startswith(c, pos)), None)
        if command is None:
            if data[pos] == 0x1B and len(data) - pos < 3:
                break  # an escape sequence cut off at the end
            raise RasterError(f"unknown raster command {data[pos : pos + 3].hex()} at byte {pos}")
        end = pos + len(command) + _FIXED[command]
        if end > len(data):
            break
        _apply(job, command, data[pos + len(command) : end])
        pos = end
    return job, pos


def _apply(job: RasterJob, command: bytes, args: bytes) -> None:
    """Change `job` for one fixed-size command."""
    if command == INITIALISE:
        job.initialised = True
    elif command == STATUS_REQUEST:
        job.status_requests += 1
    elif command == b"\x1biM":
        job.cut = bool(args[0] & 0x40)
    elif command == b"Z":
        job.lines.append(b"")  # an all-white line
    elif command in (b"\x0c", b"\x1a"):
        job.pages.append(job.lines)
        job.lines = []


def parse_status(frame: bytes) -> PrinterStatus | None:
    """The status in one 32-byte QL status frame, or None if it is not one."""
    if len(frame) != STATUS_SIZE or not frame.startswith(STATUS_HEADER):
        return None
    error1, error2 = frame[8], frame[9]
    found: set[Condition] = set()
    if error1 & 0x03 or error2 & 0x01:
        found.add(Condition.PAPER_OUT)  # no media, end of media, replace media
    if error1 & 0x04:
        found.add(Condition.CUTTER_ERROR)
    if error2 & 0x10:
        found.add(Condition.HEAD_OPEN)  # cover open
    if error2 & 0x40:
        found.add(Condition.PAPER_OUT)  # media cannot be fed
    if error1 & 0xF8 or error2 & 0xAE:
        found.add(Condition.ERROR)
    return PrinterStatus(frozenset(found))


def status_frame(conditions: frozenset[Condition] = frozenset(), media_width_mm: int = 62) -> bytes:
    """The 32-byte status a QL-800 with `conditions` sends (for simulators and tests)."""
    error1 = 0x01 if Condition.PAPER_OUT in conditions else 0
    error2 = 0x10 if Condition.HEAD_OPEN in conditions else 0
    frame = bytearray(STATUS_SIZE)
    frame[:8] = STATUS_HEADER + b"\x34\x38\x30\x00\x00"
    frame[8], frame[9], frame[10], frame[11] = error1, error2, media_width_mm, 0x0A
    frame[18] = 0x02 if error1 or error2 else 0x00  # status type: error occurred / reply
    return bytes(frame)


class StatusDecoder(BufferedDecoder):
    """Sans-I/O decoder of 32-byte QL status frames; satisfies `devices.framing.Decoder`."""

    def feed(self, chunk: bytes) -> list[PrinterStatus]:
        """Consume `chunk`; return a status per complete frame."""
        self._buf += chunk
        out: list[PrinterStatus] = []
        while self._buf:
            start = self._buf.find(STATUS_HEADER)
            if start < 0:
                tail = bytes(self._buf[-2:])
                keep = next((k for k in (2, 1) if k <= len(tail) and STATUS_HEADER.startswith(tail[-k:])), 0)
                self._drop_noise(len(self._buf) - keep)
                break
            if start:
                self._drop_noise(start)
            if len(self._buf) < STATUS_SIZE:
                break
            status = parse_status(bytes(self._buf[:STATUS_SIZE]))
            del self._buf[:STATUS_SIZE]
            self._stats.frame_bytes += STATUS_SIZE
            if status is None:  # cannot happen for a well-headed 32-byte frame; kept for safety
                self._stats.bad_frames += 1
                continue
            self._stats.frames += 1
            out.append(status)
        return out

