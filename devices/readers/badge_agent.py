"""Badge reader agents: a serial reader (RDM6300, Wiegand converter) emitting `badge.read` events."""

from __future__ import annotations

from abc import abstractmethod
from typing import Unpack

from broker.schemas import BadgeRead
from devices.agent import Emitter, ReaderAgent, ReadingT, SerialOptions
from devices.framing import Decoder
from devices.readers.rdm6300 import Rdm6300Decoder, TagRead
from devices.readers.wiegand import ARDUINO_BITS, WiegandCard, WiegandDecoder, WiegandLineFormat

DEFAULT_HOLD_S = 1.0


class BadgeAgent(ReaderAgent[ReadingT]):
    """Emit one `badge.read` per presentation at reader `reader_number`; subclasses map readings."""

    def __init__(
        self,
        port_url: str,
        emitter: Emitter,
        reader_number: int,
        decoder: Decoder[ReadingT],
        *,
        hold_s: float = DEFAULT_HOLD_S,
        **options: Unpack[SerialOptions],
    ) -> None:
        """Check the reader number (0-255) and wire `decoder` to `emitter`."""
        if type(reader_number) is not int or not 0 <= reader_number <= 255:
            raise ValueError(f"reader_number must be an integer 0-255, got {reader_number!r}")
        self.reader_number = reader_number
        super().__init__(
            port_url, emitter, decoder, self.to_badge_read, event_type="badge.read", hold_s=hold_s,
            **options,
        )

    @abstractmethod
    def to_badge_read(self, reading: ReadingT) -> BadgeRead:
        """The `badge.read` data for one reading at this reader."""


class BadgeReaderAgent(BadgeAgent[TagRead]):
    """Emit one `badge.read` per presentation of a 125 kHz tag at an RDM6300 on `port_url`.

    The credential is the frame's 10 hex characters, upper-case (version byte + 32-bit card
    id, e.g. '62E3086CED'): the whole EM4100 id, lossless and unique. The numbers printed on
    cards (decimal of the last 4 bytes, or '8-bit,16-bit' of the last 3) and what a Wiegand-26
    reader reports (the last 3 bytes only) are derived from it; map them at enrolment.
    """

    def __init__(
        self,
        port_url: str,
        emitter: Emitter,
        reader_number: int,
        *,
        hold_s: float = DEFAULT_HOLD_S,
        **options: Unpack[SerialOptions],
    ) -> None:
        """Wire an RDM6300 decoder to `emitter` for reader `reader_number` (0-255)."""
        super().__init__(port_url, emitter, reader_number, Rdm6300Decoder(), hold_s=hold_s, **options)

    def to_badge_read(self, reading: TagRead) -> BadgeRead:
        """The `badge.read` data for one tag read at this reader."""
        return BadgeRead(credential=reading.hex, reader=self.reader_number, format="rdm6300")


class WiegandReaderAgent(BadgeAgent[WiegandCard]):
    """Emit one `badge.read` per presentation at a Wiegand-26 reader behind a serial converter.

    The credential is the frame's 24 data bits as 6 upper-case hex digits: facility code (2)
    then card number (4), e.g. facility 18, card 37848 -> '1293D8'; `facility` repeats the
    facility code (18) so a site can filter on it. For an EM4100 tag this equals the last 6
    hex digits of the RDM6300 credential of the same tag, since a 26-bit reader sends the low
    3 bytes of its id. The format is 'wiegand26'.
    """

    def __init__(
        self,
        port_url: str,
        emitter: Emitter,
        reader_number: int,
        *,
        line_format: WiegandLineFormat = ARDUINO_BITS,
        hold_s: float = DEFAULT_HOLD_S,
        **options: Unpack[SerialOptions],
    ) -> None:
        """Wire a decoder of the converter's `line_format` to `emitter` for reader `reader_number`."""
        decoder = WiegandDecoder(line_format)
        super().__init__(port_url, emitter, reader_number, decoder, hold_s=hold_s, **options)

    def to_badge_read(self, reading: WiegandCard) -> BadgeRead:
        """The `badge.read` data for one card read at this reader."""
        return BadgeRead(
            credential=reading.credential,
            reader=self.reader_number,
            format="wiegand26",
            facility=reading.facility,
        )
