"""A simulated Wiegand-to-serial converter on a pty pair, for the demo and the tests."""

from __future__ import annotations

from pathlib import Path

from devices.readers.wiegand import (
    ARDUINO_BITS,
    WiegandCard,
    WiegandLineFormat,
    encode_line,
    encode_raw_line,
    frame_value,
)
from devices.simulator import VirtualSerialPort


class SimulatedWiegandConverter(VirtualSerialPort):
    """A converter with a 26-bit reader behind it: `present()` a card, it sends one line."""

    def __init__(self, line_format: WiegandLineFormat = ARDUINO_BITS, *, link: Path | None = None) -> None:
        """A converter whose output is `line_format`, on a fresh pty (and optional `link`)."""
        super().__init__(link=link)
        self.line_format = line_format

    def present(self, facility: int, card: int, *, noise: bytes = b"") -> bytes:
        """Send the line of one card read, after `noise`; return the bytes written."""
        data = noise + encode_line(WiegandCard(facility, card), self.line_format)
        self.write(data)
        return data

    def present_bad_parity(self, facility: int, card: int) -> bytes:
        """Send the card's frame with its last (odd parity) bit flipped, as a bad read would."""
        data = encode_raw_line(frame_value(WiegandCard(facility, card)) ^ 1, self.line_format)
        self.write(data)
        return data
