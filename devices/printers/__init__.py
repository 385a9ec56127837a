"""Visitor badge printers: one layout, encoders for ZPL, ESC/POS and Brother QL, status, an agent."""

from devices.printers.agent import PRINT, Availability, PrinterAgent, PrintJob
from devices.printers.badge import (
    BROTHER_62,
    ESCPOS_58,
    ESCPOS_80,
    ZEBRA_4X2,
    Badge,
    LabelSize,
    head_image,
    render_badge,
    save_preview,
)
from devices.printers.brother import encode_brother
from devices.printers.drivers import DRIVERS, PrinterDriver, brother_ql, escpos_printer, zebra
from devices.printers.escpos import encode_escpos
from devices.printers.status import Condition, FaultTracker, PrinterStatus
from devices.printers.transport import PrinterPort, SerialPrinterPort, TcpPrinterPort, printer_port, query
from devices.printers.worker import PrintWorker
from devices.printers.zpl import encode_zpl

__all__ = [
    "BROTHER_62",
    "DRIVERS",
    "ESCPOS_58",
    "ESCPOS_80",
    "PRINT",
    "ZEBRA_4X2",
    "Availability",
    "Badge",
    "Condition",
    "FaultTracker",
    "LabelSize",
    "PrintJob",
    "PrintWorker",
    "PrinterAgent",
    "PrinterDriver",
    "PrinterPort",
    "PrinterStatus",
    "SerialPrinterPort",
    "TcpPrinterPort",
    "brother_ql",
    "encode_brother",
    "encode_escpos",
    "encode_zpl",
    "escpos_printer",
    "head_image",
    "printer_port",
    "query",
    "render_badge",
    "save_preview",
    "zebra",
]
