"""Simulated OSDP readers (libosdp PDs) on the device end of a pty pair, for the demo and tests.

Run `python -m devices.readers.osdp.simulator LINK ADDRESS SCBK_HEX` and type `card DEADBEEF`,
`tamper on|off`, `power on|off` or `leds` (what the CP asked the LED and buzzer to do).
"""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path

from devices.readers.osdp import _lib
from devices.readers.osdp.channel import RefreshLoop
from devices.simulator import VirtualSerialPort

log = logging.getLogger(__name__)

_CAPABILITIES = [
    (_lib.CAP_COMMUNICATION_SECURITY, 1, 1),
    (_lib.CAP_READER_LED_CONTROL, 1, 1),
    (_lib.CAP_READER_AUDIBLE_OUTPUT, 1, 1),
    (_lib.CAP_CARD_DATA_FORMAT, 1, 1),
    (_lib.CAP_READERS, 1, 1),
]
_KEYSET_SCBK = 1


class _BusTap:
    """One PD's view of the bus: every byte on the line is queued for it (RS-485 style)."""

    def __init__(self, bus: SimulatedOsdpBus) -> None:
        """Start with nothing received."""
        self.id = 0
        self._bus = bus
        self.rx = bytearray()

    def read(self, max_bytes: int) -> bytes:
        """Up to `max_bytes` queued bytes."""
        data = bytes(self.rx[:max_bytes])
        del self.rx[:max_bytes]
        return data

    def write(self, buf: bytes) -> int:
        """Put `buf` on the line; -1 once the port is closed."""
        try:
            self._bus.write(buf)
        except OSError:
            return -1
        return len(buf)

    def flush(self) -> None:
        """Drop queued bytes."""
        self.rx.clear()


class SimulatedOsdpReader:
    """One simulated reader (PD): present cards, raise tamper and power, record CP commands."""

    def __init__(self, bus: SimulatedOsdpBus, address: int, scbk: bytes | None) -> None:
        """A reader at `address` knowing `scbk` (None: install mode, accepts SCBK-D and a KEYSET)."""
        self.address = address
        self.scbk = scbk
        self._bus = bus
        self._tap = _BusTap(bus)
        self._ctx: _lib.PeripheralDeviceContext | None = None
        self._commands: list[_lib.OsdpDict] = []
        self._tamper = self._power_failure = False

    @property
    def powered(self) -> bool:
        """True while the reader answers the CP."""
        return self._ctx is not None

    @property
    def sc_active(self) -> bool:
        """True while the secure channel with the CP is up."""
        with self._bus.lock:
            return self._ctx is not None and bool(self._ctx.is_sc_active())

    @property
    def commands(self) -> list[_lib.OsdpDict]:
        """Every command the CP sent, oldest first (KEYSET included)."""
        with self._bus.lock:
            return list(self._commands)

    def leds(self) -> list[_lib.OsdpDict]:
        """The LED commands received."""
        return [c for c in self.commands if c["command"] == _lib.CMD_LED]

    def buzzes(self) -> list[_lib.OsdpDict]:
        """The buzzer commands received."""
        return [c for c in self.commands if c["command"] == _lib.CMD_BUZZER]

    def power_on(self) -> None:
        """Start answering as a freshly booted reader (bytes sent while it was off are lost)."""
        with self._bus.lock:
            if self._ctx is not None:
                return
            self._tap.flush()
            flags = _lib.FLAG_INSTALL_MODE if self.scbk is None else 0
            info = _lib.pd_info(self.address, self._tap, self.scbk, flags=flags)
            ctx = _lib.peripheral_device(info, _CAPABILITIES)
            ctx.set_command_callback(self._on_command)
            self._ctx = ctx

    def power_off(self) -> None:
        """Stop answering, as a reader unplugged or without power."""
        with self._bus.lock:
            self._ctx = None

    def present_card(self, card: bytes | str) -> bool:
        """Report a card read (raw bytes or hex); False if the reader is off or its queue is full."""
        data = bytes.fromhex(card) if isinstance(card, str) else bytes(card)
        return self._submit({
            "event": _lib.EVENT_CARDREAD, "reader_no": 0, "format": _lib.CARD_FMT_RAW_UNSPECIFIED,
            "direction": 0, "length": 8 * len(data), "data": data,
        })

    def set_tamper(self, active: bool) -> bool:
        """Open (True) or close the tamper switch; reported as a local status event."""
        self._tamper = active
        return self._report_local_status()

    def set_power_failure(self, active: bool) -> bool:
        """Lose (True) or regain mains power; reported as a local status event."""
        self._power_failure = active
        return self._report_local_status()

    def feed(self, data: bytes) -> None:
        """Queue bytes seen on the line for this reader (the bus calls this, lock held)."""
        if self._ctx is not None:
            self._tap.rx += data

    def refresh(self) -> None:
        """Run the PD state machine once (the bus calls this, lock held)."""
        if self._ctx is not None:
            self._ctx.refresh()

    def _report_local_status(self) -> bool:
        """Send the tamper and power bytes of an OSDP local status report."""
        report = bytes([int(self._tamper), int(self._power_failure)])
        return self._submit({"event": _lib.EVENT_STATUS, "type": _lib.STATUS_REPORT_LOCAL, "report": report})

    def _submit(self, event: _lib.OsdpDict) -> bool:
        """Queue an event for the CP's next poll."""
        with self._bus.lock:
            return self._ctx is not None and bool(self._ctx.submit_event(event))

    def _on_command(self, command: _lib.OsdpDict) -> tuple[int, _lib.OsdpDict | None]:
        """libosdp's command callback: record the command, keep a new SCBK, ACK."""
        self._commands.append(dict(command))
        if command["command"] == _lib.CMD_KEYSET and command.get("type") == _KEYSET_SCBK:
            self.scbk = bytes(command["data"])
            log.info("simulated OSDP reader %d: site key installed", self.address)
        return 0, None


class SimulatedOsdpBus(VirtualSerialPort):
    """A pty whose device end is an OSDP line with simulated readers, refreshed by one thread."""

    def __init__(self, *, link: Path | None = None, period_s: float = 0.02) -> None:
        """Create the pty pair; add readers with `add_reader`, then `start()`."""
        super().__init__(link=link)
        self.lock = threading.RLock()
        self._readers: list[SimulatedOsdpReader] = []
        self._loop = RefreshLoop(self._step, name=f"osdp-sim:{self.path}", period_s=period_s)

    def add_reader(self, address: int, scbk: bytes | None) -> SimulatedOsdpReader:
        """A powered reader at `address` knowing `scbk` (None: install mode)."""
        reader = SimulatedOsdpReader(self, address, scbk)
        reader.power_on()
        with self.lock:
            self._readers.append(reader)
        return reader

    def start(self) -> None:
        """Start refreshing the readers."""
        self._loop.start()

    def close(self) -> None:
        """Stop the readers and close the pty."""
        self._loop.stop()
        super().close()

    def _step(self) -> None:
        """Hand every byte on the line to every reader, then let each one answer."""
        with self.lock:
            while data := self.read(4096):
                for reader in self._readers:
                    reader.feed(data)
            for reader in self._readers:
                reader.refresh()


def main(argv: list[str] | None = None) -> int:
    """Run one simulated OSDP reader driven by lines on standard input."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3:
        print("usage: python -m devices.readers.osdp.simulator LINK ADDRESS SCBK_HEX", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with SimulatedOsdpBus(link=Path(args[0])) as bus:
        reader = bus.add_reader(int(args[1]), bytes.fromhex(args[2]))
        bus.start()
        log.info("simulated OSDP reader %s on %s", args[1], bus.path)
        for line in sys.stdin:
            verb, _, arg = line.strip().partition(" ")
            if verb == "card":
                reader.present_card(arg)
            elif verb in ("tamper", "power"):
                (reader.set_tamper if verb == "tamper" else reader.set_power_failure)(arg == "on")
            elif verb == "leds":
                log.info("LED %s; buzzer %s", reader.leds(), reader.buzzes())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
