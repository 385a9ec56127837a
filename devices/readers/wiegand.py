"""Wiegand-26 (HID H10301) as a Wiegand-to-serial converter sends it: decoder and encoder (pure).

A Wiegand-26 frame is 26 bits, sent first to last::

    bit 1        even parity over bits 2-13
    bits 2-9     facility code (8 bits, 0-255)
    bits 10-25   card number (16 bits, 0-65535)
    bit 26       odd parity over bits 14-25

A converter turns each frame into one line of ASCII. `WiegandLineFormat` says which; these
are the common ones (all 9600 8N1):

- `BITS`: the 26 bits as '0'/'1' characters, first bit first, e.g. `ARDUINO_BITS` (CR LF):
  what Arduino and ESP32 "Wiegand to serial" sketches print. Parity is checked here.
- `HEX26`: the raw 26-bit frame, parity bits included, as 7 hex digits (either case), e.g.
  `RAW_HEX` (CR LF). Parity is checked here.
- `HEX24`: the 24 data bits as 6 hex digits, facility first (`XXYYZZ`), e.g. `WIE232_HEX`
  (CR), as the Priority 1 Design WIE232-A / WG2RS232 converters send. The converter checked
  the parity and dropped frames that failed it, so no parity errors can be counted here.

The credential a frame carries is its 24 data bits as 6 upper-case hex digits (facility then
card number, `WiegandCard.credential`); see `devices.readers.badge_agent.WiegandReaderAgent`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from devices.lines import LineDecoder, Rejected, Terminator

FRAME_BITS = 26
_DATA_MASK = (1 << 24) - 1
_HEX_DIGITS = frozenset(b"0123456789ABCDEFabcdef")
_BIT_DIGITS = frozenset(b"01")


class WiegandEncoding(StrEnum):
    """How a converter writes one frame as ASCII (see the module docstring)."""

    BITS = "bits"
    HEX26 = "hex26"
    HEX24 = "hex24"

    @property
    def length(self) -> int:
        """Characters of one frame in this encoding, terminator excluded."""
        return {WiegandEncoding.BITS: 26, WiegandEncoding.HEX26: 7, WiegandEncoding.HEX24: 6}[self]

    @property
    def has_parity(self) -> bool:
        """True if the line carries the parity bits, so parity errors can be detected here."""
        return self is not WiegandEncoding.HEX24


@dataclass(slots=True, frozen=True)
class WiegandLineFormat:
    """One converter's output: the frame's encoding and the line terminator."""

    encoding: WiegandEncoding = WiegandEncoding.BITS
    terminator: Terminator = Terminator.CRLF

    def __post_init__(self) -> None:
        """Refuse values that are not the enums (a site file's strings are converted first)."""
        if not isinstance(self.encoding, WiegandEncoding):
            raise TypeError(f"encoding must be a WiegandEncoding, got {self.encoding!r}")
        if not isinstance(self.terminator, Terminator):
            raise TypeError(f"terminator must be a Terminator, got {self.terminator!r}")


ARDUINO_BITS = WiegandLineFormat(WiegandEncoding.BITS, Terminator.CRLF)
"""26 '0'/'1' characters and CR LF."""
RAW_HEX = WiegandLineFormat(WiegandEncoding.HEX26, Terminator.CRLF)
"""The raw 26-bit frame as 7 hex digits and CR LF."""
WIE232_HEX = WiegandLineFormat(WiegandEncoding.HEX24, Terminator.CR)
"""The 24 data bits as 6 hex digits and CR (Priority 1 Design WIE232-A and alike)."""


@dataclass(slots=True, frozen=True)
class WiegandCard:
    """One card read from a good frame: facility code and card number."""

    facility: int
    card: int

    def __post_init__(self) -> None:
        """Refuse a facility code outside 0-255 or a card number outside 0-65535."""
        if type(self.facility) is not int or not 0 <= self.facility <= 0xFF:
            raise ValueError(f"a Wiegand-26 facility code is 0-255, got {self.facility!r}")
        if type(self.card) is not int or not 0 <= self.card <= 0xFFFF:
            raise ValueError(f"a Wiegand-26 card number is 0-65535, got {self.card!r}")

    @property
    def data(self) -> int:
        """The 24 data bits: facility code in the high 8, card number in the low 16."""
        return self.facility << 16 | self.card

    @property
    def credential(self) -> str:
        """The 24 data bits as 6 upper-case hex digits, e.g. facility 18, card 37848: '1293D8'."""
        return f"{self.data:06X}"


def _ones(value: int) -> int:
    """How many bits of `value` are set."""
    return bin(value).count("1")


def frame_value(card: WiegandCard) -> int:
    """The 26-bit frame for `card`, both parity bits set correctly."""
    data = card.data
    even = _ones(data >> 12) & 1  # makes bits 1-13 hold an even number of ones
    odd = 1 - (_ones(data & 0xFFF) & 1)  # makes bits 14-26 hold an odd number of ones
    return even << 25 | data << 1 | odd


def parity_ok(frame: int) -> bool:
    """True if a 26-bit frame has even parity over bits 1-13 and odd over bits 14-26."""
    return _ones(frame >> 13) % 2 == 0 and _ones(frame & 0x1FFF) % 2 == 1


def card_of(frame: int) -> WiegandCard:
    """The facility code and card number a 26-bit frame carries (parity not checked)."""
    data = frame >> 1 & _DATA_MASK
    return WiegandCard(data >> 16, data & 0xFFFF)


def encode_line(card: WiegandCard, line_format: WiegandLineFormat = ARDUINO_BITS) -> bytes:
    """The line a converter of `line_format` sends for `card`, terminator included."""
    encoding = line_format.encoding
    if encoding is WiegandEncoding.BITS:
        text = f"{frame_value(card):026b}"
    elif encoding is WiegandEncoding.HEX26:
        text = f"{frame_value(card):07X}"
    else:
        text = card.credential
    return text.encode("ascii") + line_format.terminator.wire


def encode_raw_line(frame: int, line_format: WiegandLineFormat = ARDUINO_BITS) -> bytes:
    """The line for an arbitrary 26-bit `frame` (bad parity allowed), for simulating faults."""
    if not 0 <= frame < 1 << FRAME_BITS:
        raise ValueError(f"a Wiegand-26 frame is 26 bits, got {frame!r}")
    encoding = line_format.encoding
    if encoding is WiegandEncoding.HEX24:
        raise ValueError("the hex24 format carries no parity bits: use encode_line")
    text = f"{frame:026b}" if encoding is WiegandEncoding.BITS else f"{frame:07X}"
    return text.encode("ascii") + line_format.terminator.wire


class WiegandDecoder(LineDecoder[WiegandCard]):
    """Sans-I/O decoder of a Wiegand-to-serial converter's lines: cards of good frames.

    Partial lines wait in the buffer; a line of the wrong length or with a foreign character
    is a bad frame (its bytes noise); a frame whose parity fails counts in `bad_checksum`.
    """

    def __init__(self, line_format: WiegandLineFormat = ARDUINO_BITS) -> None:
        """Decode lines of `line_format`."""
        if not isinstance(line_format, WiegandLineFormat):
            raise TypeError(f"line_format must be a WiegandLineFormat, got {line_format!r}")
        encoding = line_format.encoding
        super().__init__(line_format.terminator, encoding.length)
        self.line_format = line_format
        bits = encoding is WiegandEncoding.BITS
        self._digits = _BIT_DIGITS if bits else _HEX_DIGITS
        self._base = 2 if bits else 16

    def _parse(self, line: bytes) -> WiegandCard | Rejected:
        """The card of one line, or why there is none."""
        if len(line) != self.line_format.encoding.length or not all(b in self._digits for b in line):
            return Rejected.MALFORMED
        value = int(line, self._base)
        if not self.line_format.encoding.has_parity:
            return WiegandCard(value >> 16, value & 0xFFFF)
        if value >> FRAME_BITS:
            return Rejected.MALFORMED  # 7 hex digits can hold 28 bits
        if not parity_ok(value):
            return Rejected.BAD_CHECK
        return card_of(value)
