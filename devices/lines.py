"""Line-oriented device framing shared by Wiegand converters and barcode scanners (pure).

A line is the bytes before a configured terminator. Partial lines wait in a buffer bounded by
`max_length`; a longer line is refused as one bad frame and its bytes are dropped as noise up to
and including the next terminator. An empty line (a bare terminator) is noise, not a frame.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from enum import Enum, StrEnum
from typing import Generic, TypeVar

from devices.framing import BufferedDecoder

ReadingT = TypeVar("ReadingT")


class Terminator(StrEnum):
    """What ends a line, named as a site file spells it ("cr", "lf", "crlf", "tab")."""

    CR = "cr"
    LF = "lf"
    CRLF = "crlf"
    TAB = "tab"

    @property
    def wire(self) -> bytes:
        """The terminator's bytes on the wire."""
        return _TERMINATOR_BYTES[self]


_TERMINATOR_BYTES = {
    Terminator.CR: b"\r",
    Terminator.LF: b"\n",
    Terminator.CRLF: b"\r\n",
    Terminator.TAB: b"\t",
}


class Rejected(Enum):
    """Why a complete line yielded no reading."""

    MALFORMED = "malformed"
    """Not a frame of the expected shape: counted in `bad_frames`, its bytes as noise."""
    BAD_CHECK = "bad_check"
    """A well-formed frame whose parity or checksum failed: counted in `bad_checksum`."""


class LineDecoder(BufferedDecoder, ABC, Generic[ReadingT]):
    """Sans-I/O base of line decoders: split, bound and count; subclasses parse one line.

    Satisfies `devices.framing.Decoder`. Every byte fed ends up in exactly one of
    `stats.frame_bytes` (lines that parsed or failed only their check, with their terminator),
    `stats.noise_bytes` (malformed, over-long and empty lines, with their terminator) or
    `pending` (at most `max_length + len(terminator) - 1` bytes).
    """

    def __init__(self, terminator: Terminator, max_length: int) -> None:
        """Split on `terminator`; refuse lines longer than `max_length` bytes (terminator excluded)."""
        if not isinstance(terminator, Terminator):
            raise TypeError(f"terminator must be a Terminator, got {terminator!r}")
        if type(max_length) is not int or max_length < 1:
            raise ValueError(f"max_length must be a positive integer, got {max_length!r}")
        super().__init__()
        self._term = terminator.wire
        self._max_length = max_length
        self._discarding = False  # inside an over-long line: drop up to the next terminator
        self.malformed_run = 0
        """Malformed lines (over-long ones included) since the last good line: a health signal."""
        self.last_refusal: str | None = None
        """Why the last malformed line was refused (None before any); never its content."""

    def feed(self, chunk: bytes) -> list[ReadingT]:
        """Consume `chunk` and return a reading for every good line it completed."""
        self._buf += chunk
        reads: list[ReadingT] = []
        term_len = len(self._term)
        while self._buf:
            end = self._buf.find(self._term)
            if self._discarding:
                if end < 0:  # keep a possible partial terminator, drop the rest
                    self._drop_noise(max(0, len(self._buf) - (term_len - 1)))
                    break
                self._drop_noise(end + term_len)
                self._discarding = False
                continue
            if end < 0:
                if len(self._buf) > self._max_length + term_len - 1:
                    self._malformed(f"a line longer than {self._max_length} bytes")
                    self._discarding = True
                    continue
                break  # a partial line: wait for the rest
            line = bytes(self._buf[:end])
            if len(line) > self._max_length:
                self._malformed(f"a line longer than {self._max_length} bytes")
                self._drop_noise(end + term_len)
                continue
            if not line:
                self._drop_noise(term_len)
                continue
            del self._buf[: end + term_len]
            reading = self._parse(line)
            if isinstance(reading, Rejected):
                self._count_rejected(reading, len(line) + term_len)
            else:
                self._stats.frames += 1
                self._stats.frame_bytes += len(line) + term_len
                self.malformed_run = 0
                reads.append(reading)
        return reads

    def reset(self) -> None:
        """Drop a buffered partial line, counting its bytes as noise."""
        super().reset()
        self._discarding = False

    @abstractmethod
    def _parse(self, line: bytes) -> ReadingT | Rejected:
        """The reading one complete, non-empty line (terminator removed) carries, or why not."""

    def _count_rejected(self, why: Rejected, size: int) -> None:
        """Count a complete line that yielded no reading."""
        if why is Rejected.BAD_CHECK:
            self._stats.bad_checksum += 1
            self._stats.frame_bytes += size
        else:
            self._malformed(self._refusal(why))
            self._stats.noise_bytes += size

    def _refusal(self, why: Rejected) -> str:
        """Why `_parse` refused the line it just saw (subclasses may say more than the kind)."""
        return f"a {why.value} line"

    def _malformed(self, reason: str) -> None:
        """Count one malformed line and remember why."""
        self._stats.bad_frames += 1
        self.malformed_run += 1
        self.last_refusal = reason

