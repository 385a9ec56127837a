"""Door contact over a serial line protocol: decoder and encoder (pure, no serial import).

A microcontroller (an Arduino, an ESP, a GPIO-to-serial adapter) watching the door's reed
switch sends one line per change, by default ``OPEN`` or ``CLOSED`` ended by LF, at 9600 8N1;
spaces and a CR around the word are ignored, so Arduino's ``println`` (CRLF) works as it is.
The words, case sensitivity, terminator and line limit are set by a `ContactProtocol`. Lines
may repeat (a periodic heartbeat of the state); the door logic ignores a report of the state
the door is already in. Splitting and counting are `devices.lines.LineDecoder`'s.
"""

from __future__ import annotations

from dataclasses import dataclass

from devices.lines import LineDecoder, Rejected, Terminator


@dataclass(slots=True, frozen=True)
class ContactProtocol:
    """The words a contact sends; surrounding spaces are ignored, case too unless `exact_case`."""

    open_word: bytes = b"OPEN"
    closed_word: bytes = b"CLOSED"
    exact_case: bool = False
    terminator: Terminator = Terminator.LF
    max_line: int = 64

    def __post_init__(self) -> None:
        """Refuse empty, equal or unprintable words and lines too short to hold them."""
        for word in (self.open_word, self.closed_word):
            if not word or not all(0x21 <= b <= 0x7E for b in word):
                raise ValueError(f"a contact word must be printable ASCII without spaces, got {word!r}")
        if not isinstance(self.terminator, Terminator):
            raise TypeError(f"terminator must be a Terminator, got {self.terminator!r}")
        if self.normalize(self.open_word) == self.normalize(self.closed_word):
            raise ValueError("the open and closed words must differ")
        if self.max_line < max(len(self.open_word), len(self.closed_word)):
            raise ValueError(f"max_line {self.max_line} is shorter than a word")

    def normalize(self, word: bytes) -> bytes:
        """`word` as compared: stripped, and upper-cased unless `exact_case`."""
        word = word.strip()
        return word if self.exact_case else word.upper()


@dataclass(slots=True, frozen=True)
class ContactReading:
    """One report of the door contact."""

    is_open: bool


def encode_contact(is_open: bool, protocol: ContactProtocol | None = None) -> bytes:
    """The line a contact sends when the door is open (`is_open`) or closed."""
    proto = protocol or ContactProtocol()
    return (proto.open_word if is_open else proto.closed_word) + proto.terminator.wire


class ContactDecoder(LineDecoder[ContactReading]):
    """Sans-I/O decoder of contact lines: feed any chunks, get a reading per recognised line.

    A line that is neither word is a bad frame; empty and over-long lines are noise (see
    `LineDecoder` for how every byte is counted).
    """

    def __init__(self, protocol: ContactProtocol | None = None) -> None:
        """Decode `protocol` (default OPEN/CLOSED + LF)."""
        self.protocol = protocol or ContactProtocol()
        super().__init__(self.protocol.terminator, self.protocol.max_line)
        self._words = {
            self.protocol.normalize(self.protocol.open_word): True,
            self.protocol.normalize(self.protocol.closed_word): False,
        }

    def _parse(self, line: bytes) -> ContactReading | Rejected:
        """The state a line reports, or MALFORMED."""
        state = self._words.get(self.protocol.normalize(line))
        return Rejected.MALFORMED if state is None else ContactReading(is_open=state)
