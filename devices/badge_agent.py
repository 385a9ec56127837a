"""The RDM6300 badge reader agent: a serial RDM6300 emitting `badge.read` events."""

from __future__ import annotations

from collections.abc import Callable

from broker.schemas import BadgeRead
from devices.agent import Emitter, ReaderAgent
from devices.rdm6300 import Rdm6300Decoder, TagRead
from devices.serial_port import Backoff

DEFAULT_HOLD_S = 1.0


class BadgeReaderAgent(ReaderAgent[TagRead]):
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
        baudrate: int = 9600,
        backoff: Backoff | None = None,
        on_connection: Callable[[bool], None] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        """Check the reader number (0-255) and wire an RDM6300 decoder to `emitter`."""
        if type(reader_number) is not int or not 0 <= reader_number <= 255:
            raise ValueError(f"reader_number must be an integer 0-255, got {reader_number!r}")
        self.reader_number = reader_number
        extra = {} if clock is None else {"clock": clock}
        super().__init__(
            port_url,
            emitter,
            Rdm6300Decoder(),
            self.to_badge_read,
            event_type="badge.read",
            hold_s=hold_s,
            baudrate=baudrate,
            backoff=backoff,
            on_connection=on_connection,
            **extra,
        )

    def to_badge_read(self, tag: TagRead) -> BadgeRead:
        """The `badge.read` data for one tag read at this reader."""
        return BadgeRead(credential=tag.hex, reader=self.reader_number, format="rdm6300")
