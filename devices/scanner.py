"""Barcode and QR scanners in serial (RS-232 / USB-CDC) mode: decoder and encoder (pure).

A scanner sends each code it reads as one line: the code's text, optionally preceded by an AIM
symbology identifier (ISO/IEC 15424: `]`, a code character naming the symbology, a modifier
character), then a terminator (CR by default; LF, CR LF or TAB as configured in the scanner).

A well-formed code (`refusal` says why a text is not one) is valid UTF-8 (ASCII for most 1D
codes) of `min_length` to `max_length` bytes, printable characters with the GS (0x1D) separator
that GS1 codes carry for FNC1 allowed between them, not starting or ending with a space or a GS,
and without U+FFFD (a scanner's own mark for a character it could not read). Anything else is
garbage: a bad frame, its bytes noise, never a `Scan`. Lines longer than `max_length` bytes are
refused without buffering them. `MalformedWatch` decides when garbage is logged and when a
scanner that sends only garbage (a wrong baud rate or terminator, a failing scanner, someone
typing into the port) becomes a device fault; `WatchedDecoder` tells it after every read.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from devices.framing import DecoderStats
from devices.lines import LineDecoder, Rejected, Terminator

MAX_CODE_LENGTH = 512
MIN_CODE_LENGTH = 1
FAULT_AFTER = 5
"""Malformed lines in a row (no good code between them) that make a scanner's fault."""
LOG_EVERY_S = 60.0
"""A malformed line is logged at most once in this many seconds (the rest are counted)."""
GS = "\x1d"
REPLACEMENT = "\ufffd"
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
    min_length: int = MIN_CODE_LENGTH
    """Shortest code in characters (AIM identifier excluded): a site whose codes are all long sets
    it higher, so that short bursts of line noise that happen to be printable are refused too."""

    def __post_init__(self) -> None:
        """Check the settings up front."""
        if not isinstance(self.terminator, Terminator):
            raise TypeError(f"terminator must be a Terminator, got {self.terminator!r}")
        if type(self.max_length) is not int or not 1 <= self.max_length <= MAX_CODE_LENGTH:
            raise ValueError(f"max_length must be 1-{MAX_CODE_LENGTH} bytes, got {self.max_length!r}")
        if type(self.min_length) is not int or not 1 <= self.min_length <= self.max_length:
            raise ValueError(f"min_length must be 1-{self.max_length} characters, got {self.min_length!r}")


def encode_scan(code: str, config: ScannerConfig | None = None, *, aim_id: str | None = None) -> bytes:
    """The line a scanner set up as `config` sends for `code` (with `aim_id`, e.g. ']Q1', first)."""
    config = config or ScannerConfig()
    if aim_id is not None and not _AIM.fullmatch(aim_id):
        raise ValueError(f"an AIM identifier is ']' + a letter + a modifier, got {aim_id!r}")
    if (why := refusal(code, config.min_length)) is not None:
        raise ValueError(f"not a well-formed code ({why}): {code!r}")
    line = ((aim_id or "") + code).encode("utf-8")
    if len(line) > config.max_length:
        raise ValueError(f"a line is at most {config.max_length} bytes, got {len(line)}")
    return line + config.terminator.wire


class ScannerDecoder(LineDecoder[Scan]):
    """Sans-I/O decoder of a serial scanner's lines: one `Scan` per good line.

    Partial lines are buffered across reads; over-long lines and lines that are no well-formed
    code are counted in `bad_frames` (their bytes in `noise_bytes`, the reason in `last_refusal`);
    bare terminators are noise.
    """

    def __init__(self, config: ScannerConfig | None = None) -> None:
        """Decode the lines of a scanner set up as `config` (the defaults if None)."""
        self.config = config or ScannerConfig()
        self._why = ""
        super().__init__(self.config.terminator, self.config.max_length)

    def _parse(self, line: bytes) -> Scan | Rejected:
        """The scan one line carries, or why there is none."""
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            self._why = "not UTF-8"
            return Rejected.MALFORMED
        aim_id = None
        if self.config.aim_ids and _AIM.match(text):
            aim_id, text = text[:3], text[3:]
        if (why := refusal(text, self.config.min_length)) is not None:
            self._why = why
            return Rejected.MALFORMED
        symbology = symbology_name(aim_id) if aim_id else None
        return Scan(text, symbology, aim_id)

    def _refusal(self, why: Rejected) -> str:
        """Why the line just parsed was refused."""
        return self._why or super()._refusal(why)


def refusal(code: str, min_length: int = MIN_CODE_LENGTH) -> str | None:
    """Why `code` (AIM identifier removed) is not a well-formed code, or None if it is one."""
    if not code.strip(" " + GS):
        return "blank"
    if len(code) < min_length:
        return f"shorter than {min_length} characters"
    if any(not (ch.isprintable() or ch == GS) for ch in code):
        return "a control or invisible character"
    if REPLACEMENT in code:
        return "a character the scanner could not read (U+FFFD)"
    if code[0] in (" ", GS) or code[-1] in (" ", GS):
        return "a space or GS at either end"
    return None


class Health(Enum):
    """What `MalformedWatch` says about a scanner after a read."""

    LOG = "log"
    """Malformed lines arrived: log it (at most once per `LOG_EVERY_S`)."""
    FAULT = "fault"
    """`FAULT_AFTER` malformed lines in a row: report a device fault (once)."""
    CLEARED = "cleared"
    """A good code after a fault: report the fault cleared."""


class MalformedWatch:
    """Decides from a decoder's counters when malformed lines are logged and become a fault (pure)."""

    def __init__(self, *, fault_after: int = FAULT_AFTER, log_every_s: float = LOG_EVERY_S) -> None:
        """A fault after `fault_after` malformed lines in a row; a log line at most every `log_every_s`."""
        if fault_after < 1 or log_every_s < 0:
            raise ValueError("fault_after must be >= 1 and log_every_s >= 0")
        self._fault_after, self._log_every = fault_after, log_every_s
        self._frames = self._bad = 0
        self._logged_at: float | None = None
        self.faulted = False
        self.unlogged = 0
        """Malformed lines counted since the last one logged."""

    def update(self, stats: DecoderStats, run: int, now: float) -> list[Health]:
        """What to do after a read: `stats` and `run` (malformed lines in a row) from the decoder."""
        said: list[Health] = []
        good, bad = stats.frames > self._frames, stats.bad_frames - self._bad
        self._frames, self._bad = stats.frames, stats.bad_frames
        if good and self.faulted:
            self.faulted = False
            said.append(Health.CLEARED)
        if bad <= 0:
            return said
        self.unlogged += bad
        if self._logged_at is None or now - self._logged_at >= self._log_every:
            self._logged_at = now
            said.append(Health.LOG)
        if run >= self._fault_after and not self.faulted:
            self.faulted = True
            said.append(Health.FAULT)
        return said

    def logged(self) -> int:
        """The malformed lines the log line about to be written covers (the count starts again)."""
        count, self.unlogged = self.unlogged, 0
        return count


class WatchedDecoder:
    """A `ScannerDecoder` whose health is told to `on_health` after every read (pure, no I/O)."""

    def __init__(self, decoder: ScannerDecoder, on_health: Callable[[list[Health]], object],
                 clock: Callable[[], float], watch: MalformedWatch | None = None) -> None:
        """Watch `decoder` with `watch` (a default one if None); `clock` gives seconds for the log pace."""
        self.inner, self._on_health, self._clock = decoder, on_health, clock
        self.watch = watch or MalformedWatch()

    @property
    def stats(self) -> DecoderStats:
        """The decoder's counters."""
        return self.inner.stats

    @property
    def pending(self) -> int:
        """Bytes of a partial line buffered."""
        return self.inner.pending

    def feed(self, chunk: bytes) -> list[Scan]:
        """Decode `chunk`, then tell the watch's verdict (if any) before the scans are handed on."""
        scans = self.inner.feed(chunk)
        said = self.watch.update(self.inner.stats, self.inner.malformed_run, self._clock())
        if said:
            self._on_health(said)
        return scans

    def reset(self) -> None:
        """Drop a partial line (counted as noise)."""
        self.inner.reset()
