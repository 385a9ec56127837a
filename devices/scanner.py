"""Barcode and QR scanners in serial (RS-232 / USB-CDC) mode: decoder and encoder (pure).

A scanner sends each code it reads as one line: the code's text, optionally preceded by an AIM
symbology identifier (ISO/IEC 15424: `]`, a code character naming the symbology, a modifier
character), then a terminator (CR by default; LF, CR LF or TAB as configured in the scanner).

Lines are UTF-8 (ASCII for most 1D codes). A code may hold printable characters and the GS
(0x1D) separator that GS1 codes carry for FNC1; a line with any other control character, or
one that is not UTF-8, is garbage: a bad frame, its bytes noise. Lines longer than
`max_length` bytes are refused the same way, without buffering them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from devices.lines import LineDecoder, Rejected, Terminator

MAX_CODE_LENGTH = 512
GS = "\x1d"
_AIM = re.compile(r"\][A-Za-z][0-9A-Za-z]")

# AIM code characters (ISO/IEC 15424) and the name we give each; a few modifiers refine it.
SYMBOLOGIES: dict[str, str] = {
    "A": "code39",
    "C": "code128",
    "d": "datamatrix",
    "E": "ean-upc",
    "e": "gs1-databar",
    "F": "codabar",
    "G": "code93",
    "H": "code11",
    "I": "itf",
    "L": "pdf417",
    "M": "msi",
    "Q": "qr",
    "U": "maxicode",
    "X": "other",
    "z": "aztec",
}
"""Symbology name for each AIM code character."""
_REFINED = {"C1": "gs1-128", "d2": "gs1-datamatrix", "E4": "ean-8", "Q3": "gs1-qr"}


def symbology_name(aim_id: str) -> str | None:
    """The symbology an AIM identifier such as ']Q1' names, or None for an unknown one."""
    if not _AIM.fullmatch(aim_id):
        return None
    return _REFINED.get(aim_id[1:]) or SYMBOLOGIES.get(aim_id[1])


@dataclass(slots=True, frozen=True)
class Scan:
    """One code read by a scanner: its text, and its symbology when the scanner said."""

    code: str
    symbology: str | None = None
    aim_id: str | None = None
    """The AIM identifier as sent (e.g. ']Q1'), or None if the line had none."""


@dataclass(slots=True, frozen=True)
class ScannerConfig:
    """How a scanner is set up: line terminator, longest line, whether it sends AIM ids."""

    terminator: Terminator = Terminator.CR
    max_length: int = MAX_CODE_LENGTH
    """Longest line in bytes, AIM identifier included, terminator excluded (1-512)."""
    aim_ids: bool = True
    """Parse and strip an AIM identifier when a line starts with one; off, lines are verbatim."""

    def __post_init__(self) -> None:
        """Check the settings up front."""
        if not isinstance(self.terminator, Terminator):
            raise TypeError(f"terminator must be a Terminator, got {self.terminator!r}")
        if type(self.max_length) is not int or not 1 <= self.max_length <= MAX_CODE_LENGTH:
            raise ValueError(f"max_length must be 1-{MAX_CODE_LENGTH} bytes, got {self.max_length!r}")


def encode_scan(code: str, config: ScannerConfig | None = None, *, aim_id: str | None = None) -> bytes:
    """The line a scanner set up as `config` sends for `code` (with `aim_id`, e.g. ']Q1', first)."""
    config = config or ScannerConfig()
    if aim_id is not None and not _AIM.fullmatch(aim_id):
        raise ValueError(f"an AIM identifier is ']' + a letter + a modifier, got {aim_id!r}")
    if not code or not _printable(code):
        raise ValueError(f"a code is non-empty printable text (GS allowed), got {code!r}")
    line = ((aim_id or "") + code).encode("utf-8")
    if len(line) > config.max_length:
        raise ValueError(f"a line is at most {config.max_length} bytes, got {len(line)}")
    return line + config.terminator.wire


class ScannerDecoder(LineDecoder[Scan]):
    """Sans-I/O decoder of a serial scanner's lines: one `Scan` per good line.

    Partial lines are buffered across reads; over-long, non-UTF-8 and non-printable lines are
    counted in `bad_frames` (their bytes in `noise_bytes`); bare terminators are noise.
    """

    def __init__(self, config: ScannerConfig | None = None) -> None:
        """Decode the lines of a scanner set up as `config` (the defaults if None)."""
        self.config = config or ScannerConfig()
        super().__init__(self.config.terminator, self.config.max_length)

    def _parse(self, line: bytes) -> Scan | Rejected:
        """The scan one line carries, or why there is none."""
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            return Rejected.MALFORMED
        aim_id = None
        if self.config.aim_ids and _AIM.match(text):
            aim_id, text = text[:3], text[3:]
        if not text or not _printable(text):
            return Rejected.MALFORMED
        symbology = symbology_name(aim_id) if aim_id else None
        return Scan(text, symbology, aim_id)


def _printable(text: str) -> bool:
    """True if every character is printable or the GS1 group separator."""
    return all(ch.isprintable() or ch == GS for ch in text)
