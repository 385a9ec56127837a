"""Zebra ZPL II: a badge as one ^GF graphic field, and the `~HS` host status answer (pure).

Why a graphic field and not text fields + ^BQ: the badge carries a photo, which ZPL can only
print as a graphic anyway; printer-resident fonts cover few scripts (names are Unicode) and
differ by model, so wrapping and shrinking a long name could not be checked before printing; and
one bitmap makes the PNG preview exactly what prints. The cost is size, which Zebra's ASCII
compression (runs, `,` `!` line fills, `:` repeated lines) cuts by an order of magnitude.
"""

from __future__ import annotations

import logging
import re

from PIL import Image

from devices.framing import DecoderStats
from devices.printers.status import Condition, PrinterStatus

log = logging.getLogger(__name__)

HOST_STATUS_QUERY = b"~HS"
"""The host status query; the printer answers with three STX...ETX CR LF strings."""

STX, ETX = 0x02, 0x03
_MAX_FRAME = 96  # the longest ~HS string is about 40 bytes


class ZplError(ValueError):
    """A graphic field that cannot be decoded."""


def image_rows(image: Image.Image) -> tuple[int, list[bytes]]:
    """Bytes per row and the rows of `image` as dots (bit set = black, most significant first)."""
    mono = image.convert("1")
    row_bytes = (mono.width + 7) // 8
    padded = Image.new("1", (row_bytes * 8, mono.height), 1)
    padded.paste(mono, (0, 0))
    raw = bytes(b ^ 0xFF for b in padded.tobytes())  # Pillow: 1 = white; ZPL: 1 = a dot
    return row_bytes, [raw[i : i + row_bytes] for i in range(0, len(raw), row_bytes)]


def encode_zpl(image: Image.Image, *, compress: bool = True, copies: int = 1) -> bytes:
    """One label: ^XA, print width and length, the image as ^GFA at 0,0, quantity, ^XZ."""
    if copies < 1:
        raise ValueError(f"copies must be >= 1, got {copies!r}")
    row_bytes, rows = image_rows(image)
    total = row_bytes * len(rows)
    data = compress_rows(rows) if compress else "".join(r.hex().upper() for r in rows)
    return (
        f"^XA\n^PW{image.width}\n^LL{image.height}\n^LH0,0\n"
        f"^FO0,0^GFA,{total},{total},{row_bytes},{data}^FS\n^PQ{copies}\n^XZ\n"
    ).encode("ascii")


def _count(n: int) -> str:
    """Zebra's repeat count letters: g..z are 20..400, G..Y are 1..19."""
    out = ""
    while n > 400:
        out += "z"
        n -= 400
    if n >= 20:
        out += chr(ord("g") + n // 20 - 1)
    if n % 20:
        out += chr(ord("G") + n % 20 - 1)
    return out


def compress_rows(rows: list[bytes]) -> str:
    """ZPL ASCII compression of hex rows: runs as counts, `,`/`!` fill a row, `:` repeats one."""
    parts: list[str] = []
    previous: bytes | None = None
    for row in rows:
        if row == previous:
            parts.append(":")
            continue
        previous = row
        text = row.hex().upper()
        tail = ""
        if text.endswith("00"):
            text, tail = text.rstrip("0"), ","
        elif text.endswith("FF"):
            text, tail = text.rstrip("F"), "!"
        for run in re.finditer(r"(.)\1*", text):
            size = len(run.group(0))
            parts.append((_count(size) if size > 1 else "") + run.group(1))
        parts.append(tail)
    return "".join(parts)


def decompress_rows(data: str, row_bytes: int) -> list[bytes]:
    """Undo `compress_rows` (and read plain hex); ZplError on anything else."""
    width = row_bytes * 2
    rows: list[str] = []
    current = ""
    count = 0
    for char in data:
        if "G" <= char <= "Y":
            count += ord(char) - ord("G") + 1
        elif "g" <= char <= "z":
            count += (ord(char) - ord("g") + 1) * 20
        elif char in "0123456789ABCDEFabcdef":
            current += char.upper() * max(count, 1)
            count = 0
        elif char in ",!" and not count:
            current = current.ljust(width, "0" if char == "," else "F")
        elif char == ":" and not current and not count and rows:
            current = rows[-1]
        else:
            raise ZplError(f"unexpected {char!r} in graphic field data")
        if len(current) > width:
            raise ZplError("graphic field row longer than its width")
        if len(current) == width:
            rows.append(current)
            current = ""
    if current or count:
        raise ZplError("graphic field data ends inside a row")
    return [bytes.fromhex(r) for r in rows]


_GF = re.compile(rb"\^GFA,(\d+),(\d+),(\d+),([^\^~]*)")


def decode_graphic(label: bytes) -> Image.Image:
    """The image of the first ^GFA field of a ZPL label (for simulators and tests)."""
    found = _GF.search(label)
    if found is None:
        raise ZplError("label has no ^GFA graphic field")
    total, row_bytes = int(found.group(1)), int(found.group(3))
    if row_bytes < 1 or total % row_bytes:
        raise ZplError(f"graphic field of {total} bytes is not whole rows of {row_bytes}")
    rows = decompress_rows(found.group(4).decode("ascii").strip(), row_bytes)
    if len(rows) * row_bytes != total:
        raise ZplError(f"graphic field declares {total} bytes, data has {len(rows) * row_bytes}")
    raw = bytes(b ^ 0xFF for b in b"".join(rows))
    return Image.frombytes("1", (row_bytes * 8, len(rows)), raw)


def parse_host_status(strings: list[bytes]) -> PrinterStatus | None:
    """The status in the three `~HS` strings (STX/ETX stripped), or None if they are not one."""
    if len(strings) != 3:
        return None
    try:
        fields = [s.decode("ascii").split(",") for s in strings]
    except UnicodeDecodeError:
        return None
    first, second, third = fields
    if len(first) != 12 or len(second) != 11 or len(third) != 2:
        return None
    if not all(f.isdigit() for f in (*first, *second, *third)):
        return None
    flags = {
        Condition.PAPER_OUT: first[1],
        Condition.PAUSED: first[2],
        Condition.BUFFER_FULL: first[5],
        Condition.ERROR: first[9],  # corrupt RAM
        Condition.UNDER_TEMPERATURE: first[10],
        Condition.OVER_TEMPERATURE: first[11],
        Condition.HEAD_OPEN: second[2],
        Condition.RIBBON_OUT: second[3],
    }
    return PrinterStatus(frozenset(c for c, flag in flags.items() if flag == "1"))


def host_status_reply(conditions: frozenset[Condition] = frozenset(), label_length: int = 406) -> bytes:
    """The `~HS` answer a Zebra with `conditions` sends (for simulators and tests)."""

    def flag(c: Condition) -> str:
        return "1" if c in conditions else "0"

    first = (f"030,{flag(Condition.PAPER_OUT)},{flag(Condition.PAUSED)},{label_length:04d},000,"
             f"{flag(Condition.BUFFER_FULL)},0,0,000,{flag(Condition.ERROR)},"
             f"{flag(Condition.UNDER_TEMPERATURE)},{flag(Condition.OVER_TEMPERATURE)}")
    second = f"001,0,{flag(Condition.HEAD_OPEN)},{flag(Condition.RIBBON_OUT)},0,2,6,0,00000000,1,000"
    return b"".join(b"\x02" + s.encode() + b"\x03\r\n" for s in (first, second, "1234,0"))


class HostStatusDecoder:
    """Sans-I/O decoder of `~HS` answers: bytes in, one PrinterStatus per three strings.

    Satisfies `devices.framing.Decoder`. CR and LF between strings are counted as frame bytes;
    other bytes outside STX...ETX, over-long strings and groups that do not parse are noise.
    """

    def __init__(self) -> None:
        """Start empty."""
        self._buf = bytearray()
        self._group: list[bytes] = []
        self._group_bytes = 0
        self._stats = DecoderStats()

    @property
    def stats(self) -> DecoderStats:
        """The running counters."""
        return self._stats

    @property
    def pending(self) -> int:
        """Bytes of a partial answer: a partial string and the strings of an incomplete group."""
        return len(self._buf) + self._group_bytes

    def feed(self, chunk: bytes) -> list[PrinterStatus]:
        """Consume `chunk`; return a status for every complete three-string answer."""
        self._buf += chunk
        out: list[PrinterStatus] = []
        while self._buf:
            if self._buf[0] in (0x0D, 0x0A) and (self._group or self._stats.frames):
                del self._buf[0]
                self._stats.frame_bytes += 1
                continue
            if self._buf[0] != STX:
                start = self._buf.find(STX)
                self._drop(len(self._buf) if start < 0 else start)
                continue
            end = self._buf.find(ETX)
            if end < 0:
                if len(self._buf) > _MAX_FRAME:
                    self._stats.bad_frames += 1
                    self._drop(1)
                    continue
                break
            body = bytes(self._buf[1:end])
            if STX in body or end > _MAX_FRAME:
                self._stats.bad_frames += 1
                self._drop(1)
                continue
            del self._buf[: end + 1]
            self._group.append(body)
            self._group_bytes += end + 1
            if len(self._group) == 3:
                self._finish_group(out)
        return out

    def reset(self) -> None:
        """Drop a partial answer, counting its bytes as noise."""
        self._drop(len(self._buf))
        self._stats.noise_bytes += self._group_bytes
        self._group, self._group_bytes = [], 0

    def _finish_group(self, out: list[PrinterStatus]) -> None:
        """Parse three collected strings; a group that does not parse is one bad frame."""
        status = parse_host_status(self._group)
        if status is None:
            self._stats.bad_frames += 1
            self._stats.noise_bytes += self._group_bytes
            log.debug("~HS answer did not parse: %r", self._group)
        else:
            self._stats.frames += 1
            self._stats.frame_bytes += self._group_bytes
            out.append(status)
        self._group, self._group_bytes = [], 0

    def _drop(self, count: int) -> None:
        """Discard `count` buffered bytes as noise."""
        del self._buf[:count]
        self._stats.noise_bytes += count
