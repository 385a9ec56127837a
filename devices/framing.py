"""What every device decoder shares: the `Decoder` protocol and its counters (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, TypeVar

ReadingT = TypeVar("ReadingT")


@dataclass(slots=True)
class DecoderStats:
    """Running counters of one decoder; every byte fed ends up in exactly one of them.

    The invariant `bytes fed == frame_bytes + noise_bytes + pending` holds at all times, so a
    test (or a health check) can account for every byte.
    """

    frames: int = 0
    """Well-formed frames with a good checksum, returned as readings."""
    bad_checksum: int = 0
    """Well-formed frames whose checksum (or parity) did not match; dropped."""
    bad_frames: int = 0
    """Frame starts that were not followed by a well-formed frame; dropped as noise."""
    noise_bytes: int = 0
    """Bytes outside any well-formed frame (line noise, truncated frames, resets)."""
    frame_bytes: int = 0
    """Bytes of the frames counted in `frames` and `bad_checksum` (frames vary in length)."""


class Decoder(Protocol[ReadingT]):
    """A sans-I/O decoder: bytes in, readings out; partial frames wait in a bounded buffer."""

    @property
    def stats(self) -> DecoderStats:
        """The decoder's running counters."""
        ...

    @property
    def pending(self) -> int:
        """How many bytes of a partial frame are buffered."""
        ...

    def feed(self, chunk: bytes) -> list[ReadingT]:
        """Consume `chunk` (any size, any split) and return the readings it completed."""
        ...

    def reset(self) -> None:
        """Drop a partial frame (counted as noise), e.g. after the port reconnected."""
        ...


class BufferedDecoder:
    """Base of decoders that buffer one partial frame: the buffer, the counters, noise and reset."""

    def __init__(self) -> None:
        """Start with an empty buffer and zero counters."""
        self._buf = bytearray()
        self._stats = DecoderStats()

    @property
    def stats(self) -> DecoderStats:
        """The running counters."""
        return self._stats

    @property
    def pending(self) -> int:
        """How many bytes of a partial frame are buffered."""
        return len(self._buf)

    def reset(self) -> None:
        """Drop a buffered partial frame, counting its bytes as noise."""
        self._drop_noise(len(self._buf))

    def _drop_noise(self, count: int) -> None:
        """Discard the first `count` buffered bytes as noise."""
        del self._buf[:count]
        self._stats.noise_bytes += count
