"""What the agent needs to know of a printer family: label size, encoder and status query."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from PIL import Image

from devices.framing import Decoder
from devices.printers import brother, escpos, zpl
from devices.printers.badge import (
    BROTHER_62,
    ESCPOS_80,
    ZEBRA_4X2,
    Badge,
    LabelSize,
    head_image,
    render_badge,
)
from devices.printers.status import PrinterStatus

log = logging.getLogger(__name__)


@dataclass(slots=True, frozen=True)
class PrinterDriver:
    """A printer family: `encode` turns a head-oriented image into the job's bytes.

    `status_query` and `status_decoder` are None for a printer that cannot say its status; such
    a printer is only at fault when writing to it fails.
    """

    family: str
    size: LabelSize
    encode: Callable[[Image.Image], bytes]
    status_query: bytes | None = None
    status_decoder: Callable[[], Decoder[PrinterStatus]] | None = None

    def job(self, badge: Badge) -> bytes:
        """The bytes that print `badge` on this printer (pure)."""
        return self.encode(head_image(render_badge(badge, self.size), self.size))


def zebra(size: LabelSize = ZEBRA_4X2, *, compress: bool = True) -> PrinterDriver:
    """A Zebra ZPL II printer, status by `~HS`."""
    return PrinterDriver("zpl", size, partial(zpl.encode_zpl, compress=compress),
                         zpl.HOST_STATUS_QUERY, zpl.HostStatusDecoder)


def escpos_printer(size: LabelSize = ESCPOS_80) -> PrinterDriver:
    """An ESC/POS receipt printer, status by DLE EOT 1 to 4."""
    return PrinterDriver("escpos", size, escpos.encode_escpos, escpos.status_query(),
                         escpos.RealtimeStatusDecoder)


def brother_ql(
    size: LabelSize = BROTHER_62, *, model: str = "QL-800", label: str = "62", with_status: bool = True
) -> PrinterDriver:
    """A Brother QL printer on endless tape; status by ESC i S unless `with_status` is off."""
    encode = partial(brother.encode_brother, model=model, label=label)
    if not with_status:
        return PrinterDriver("brother-ql", size, encode)
    return PrinterDriver("brother-ql", size, encode, brother.STATUS_QUERY, brother.StatusDecoder)


DRIVERS: dict[str, Callable[[], PrinterDriver]] = {
    "zpl": zebra, "escpos": escpos_printer, "brother-ql": brother_ql,
}
"""The driver of each printer family by the name a site file gives it."""
