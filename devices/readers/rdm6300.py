"""RDM6300 125 kHz (EM4100) reader framing: decoder and encoder (pure, no serial import).

A frame is 14 bytes at 9600 8N1::

    0x02 | 10 ASCII hex: version (2) + card id (8) | 2 ASCII hex: XOR of the 5 data bytes | 0x03

The module repeats the frame every 100-300 ms while a tag stays in the field; debouncing is
done elsewhere (`devices.readers.debounce`).
"""

from __future__ import annotations

from dataclasses import dataclass

from devices.framing import BufferedDecoder

STX = 0x02
ETX = 0x03
TAG_LEN = 5
FRAME_LEN = 14
_HEX_DIGITS = frozenset(b"0123456789ABCDEFabcdef")


@dataclass(slots=True, frozen=True)
class TagRead:
    """One tag read from a good frame: the 5 data bytes (version + 32-bit card id)."""

    tag: bytes

    def __post_init__(self) -> None:
        """Refuse anything but exactly 5 bytes."""
        if len(self.tag) != TAG_LEN:
            raise ValueError(f"an RDM6300 tag is {TAG_LEN} bytes, got {len(self.tag)}")

    @property
    def hex(self) -> str:
        """The 10 upper-case hex characters the frame carried, e.g. '62E3086CED'."""
        return self.tag.hex().upper()

    @property
    def version(self) -> int:
        """The first data byte (version or customer id)."""
        return self.tag[0]

    @property
    def card_id(self) -> int:
        """The 32-bit card number (the last 4 data bytes), as often printed on the card."""
        return int.from_bytes(self.tag[1:], "big")


def checksum(tag: bytes) -> int:
    """XOR of the data bytes, as the frame's checksum field carries it."""
    value = 0
    for byte in tag:
        value ^= byte
    return value


def encode_frame(tag: bytes | str) -> bytes:
    """The 14-byte frame an RDM6300 sends for `tag` (5 bytes, or 10 hex characters)."""
    data = bytes.fromhex(tag) if isinstance(tag, str) else bytes(tag)
    if len(data) != TAG_LEN:
        raise ValueError(f"an RDM6300 tag is {TAG_LEN} bytes, got {len(data)}")
    body = (data.hex() + f"{checksum(data):02x}").upper().encode("ascii")
    return bytes([STX]) + body + bytes([ETX])


class Rdm6300Decoder(BufferedDecoder):
    """Sans-I/O RDM6300 decoder: feed any chunks, get the tags of complete good frames.

    Partial frames are buffered across calls; bytes that cannot start or continue a frame
    are dropped at once and counted, so the buffer never holds more than one partial frame
    (at most 13 bytes). Hex digits of either case are accepted.
    """

    def feed(self, chunk: bytes) -> list[TagRead]:
        """Consume `chunk` and return a TagRead for every good frame it completed."""
        self._buf += chunk
        reads: list[TagRead] = []
        while self._buf:
            start = self._buf.find(STX)
            if start < 0:
                self._drop_noise(len(self._buf))
                break
            if start:
                self._drop_noise(start)
            if _malformed(self._buf):
                # Not a frame: only this STX is noise; a real frame may start inside the rest.
                self._stats.bad_frames += 1
                self._drop_noise(1)
                continue
            if len(self._buf) < FRAME_LEN:
                break  # a well-formed beginning: wait for the rest
            frame = bytes(self._buf[:FRAME_LEN])
            del self._buf[:FRAME_LEN]
            self._stats.frame_bytes += FRAME_LEN
            read = self._check(frame)
            if read is not None:
                reads.append(read)
        return reads

    def _check(self, frame: bytes) -> TagRead | None:
        """Verify the checksum of a well-formed frame and count the outcome."""
        tag = bytes.fromhex(frame[1:11].decode("ascii"))
        if checksum(tag) != int(frame[11:13], 16):
            self._stats.bad_checksum += 1
            return None
        self._stats.frames += 1
        return TagRead(tag)


def _malformed(buf: bytearray) -> bool:
    """True if `buf` (which starts with STX) can no longer become a well-formed frame."""
    if any(byte not in _HEX_DIGITS for byte in buf[1 : FRAME_LEN - 1]):
        return True
    return len(buf) >= FRAME_LEN and buf[FRAME_LEN - 1] != ETX
