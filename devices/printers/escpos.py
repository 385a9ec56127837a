"""ESC/POS receipt printers: a badge through python-escpos, and real-time status (DLE EOT n) (pure)."""

from __future__ import annotations

import copy
import logging

from escpos.printer import Dummy  # type: ignore[import-untyped]
from PIL import Image

from devices.framing import DecoderStats
from devices.printers.status import Condition, PrinterStatus

log = logging.getLogger(__name__)

INIT = b"\x1b@"
"""ESC @: initialise the printer."""
DLE_EOT = b"\x10\x04"
"""DLE EOT n: real-time status request; the printer answers one byte at once."""
STATUS_REQUESTS = (1, 2, 3, 4)
"""Printer, offline cause, error cause and paper roll sensor status."""


def encode_escpos(image: Image.Image) -> bytes:
    """ESC @, the image as a GS v 0 raster, a feed past the cutter and a full cut (via escpos's Dummy)."""
    printer = Dummy()
    profile = copy.deepcopy(printer.profile.profile_data)
    profile.setdefault("media", {}).setdefault("width", {})["pixels"] = image.width
    printer.profile.profile_data = profile  # our own copy: the library's default stays untouched
    printer.hw("INIT")
    printer.image(image.convert("1"), impl="bitImageRaster", center=False)
    printer.cut()
    out: bytes = printer.output
    return out


def status_query(requests: tuple[int, ...] = STATUS_REQUESTS) -> bytes:
    """The DLE EOT requests for `requests`, in order."""
    return b"".join(DLE_EOT + bytes([n]) for n in requests)


def is_status_byte(value: int) -> bool:
    """True for a DLE EOT answer: bits 1 and 4 set, bits 0 and 7 clear."""
    return value & 0x93 == 0x12


def parse_status_byte(request: int, value: int) -> frozenset[Condition]:
    """The conditions one DLE EOT `request` answer says; nothing for a byte that is not one."""
    if not is_status_byte(value):
        return frozenset()
    found: set[Condition] = set()
    if request == 1 and value & 0x08:
        found.add(Condition.OFFLINE)
    elif request == 2:
        if value & 0x04:
            found.add(Condition.HEAD_OPEN)  # cover open
        if value & 0x20:
            found.add(Condition.PAPER_OUT)  # printing stopped at paper end
        if value & 0x40:
            found.add(Condition.ERROR)
    elif request == 3:
        if value & 0x08:
            found.add(Condition.CUTTER_ERROR)
        if value & 0x60:
            found.add(Condition.ERROR)  # unrecoverable or auto-recoverable (head temperature)
    elif request == 4:
        if value & 0x60:
            found.add(Condition.PAPER_OUT)
        if value & 0x0C:
            found.add(Condition.PAPER_LOW)
    return frozenset(found)


def parse_status(requests: tuple[int, ...], answer: bytes) -> PrinterStatus | None:
    """The status in the answers to `requests`, one byte each; None if `answer` is not that."""
    if len(answer) != len(requests) or not all(is_status_byte(b) for b in answer):
        return None
    found: frozenset[Condition] = frozenset()
    for request, value in zip(requests, answer, strict=True):
        found |= parse_status_byte(request, value)
    return PrinterStatus(found)


def status_byte(request: int, conditions: frozenset[Condition]) -> int:
    """The answer a printer with `conditions` gives to DLE EOT `request` (for simulators)."""
    value = 0x12
    bits: dict[int, tuple[tuple[Condition, int], ...]] = {
        1: ((Condition.OFFLINE, 0x08),),
        2: ((Condition.HEAD_OPEN, 0x04), (Condition.PAPER_OUT, 0x20), (Condition.ERROR, 0x40)),
        3: ((Condition.CUTTER_ERROR, 0x08),),
        4: ((Condition.PAPER_OUT, 0x60), (Condition.PAPER_LOW, 0x0C)),
    }
    for condition, bit in bits.get(request, ()):
        if condition in conditions:
            value |= bit
    if request == 1 and conditions - {Condition.PAPER_LOW}:
        value |= 0x08  # a printer with any fault is offline
    return value


class RealtimeStatusDecoder:
    """Sans-I/O decoder of DLE EOT answers: one PrinterStatus per complete set of answers.

    Satisfies `devices.framing.Decoder`. A byte that cannot be a status answer is noise and a
    bad frame.
    """

    def __init__(self, requests: tuple[int, ...] = STATUS_REQUESTS) -> None:
        """Expect one answer byte per request in `requests`, in that order."""
        if not requests or not all(1 <= n <= 4 for n in requests):
            raise ValueError(f"DLE EOT requests must be 1..4, got {requests!r}")
        self.requests = requests
        self._answers = bytearray()
        self._stats = DecoderStats()

    @property
    def stats(self) -> DecoderStats:
        """The running counters."""
        return self._stats

    @property
    def pending(self) -> int:
        """Answers of an incomplete set."""
        return len(self._answers)

    def feed(self, chunk: bytes) -> list[PrinterStatus]:
        """Consume `chunk`; return a status for every complete set of answers."""
        out: list[PrinterStatus] = []
        for value in chunk:
            if not is_status_byte(value):
                self._stats.bad_frames += 1
                self._stats.noise_bytes += 1
                continue
            self._answers.append(value)
            if len(self._answers) == len(self.requests):
                status = parse_status(self.requests, bytes(self._answers))
                self._stats.frames += 1
                self._stats.frame_bytes += len(self._answers)
                self._answers.clear()
                if status is not None:
                    out.append(status)
        return out

    def reset(self) -> None:
        """Drop an incomplete set of answers, counting them as noise."""
        self._stats.noise_bytes += len(self._answers)
        self._answers.clear()
