"""A simulated door on two pty pairs: a contact that sends its lines, a relay board that listens.

The door agent opens `contact_path` and `relay_path` as it would open two USB serial
adapters. Run `python -m devices.door_simulator [CONTACT_LINK RELAY_LINK]` and type `open` or
`close` to move the door; relay switches the agent sends are printed.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from pathlib import Path

from devices.door_contact import ContactProtocol, encode_contact
from devices.relay import RelayCommandDecoder, RelayModel, RelaySwitch, lc_technology
from devices.simulator import ClosesOnExit, VirtualSerialPort

log = logging.getLogger(__name__)


class SimulatedDoor(ClosesOnExit):
    """A door with a reed contact and a strike relay, each on its own virtual serial port."""

    def __init__(
        self,
        *,
        model: RelayModel | None = None,
        protocol: ContactProtocol | None = None,
        contact_link: Path | None = None,
        relay_link: Path | None = None,
    ) -> None:
        """Create both pty pairs (with optional by-id style symlinks)."""
        self.model = model or lc_technology()
        self.protocol = protocol or ContactProtocol()
        self.contact_port = VirtualSerialPort(link=contact_link)
        self.relay_port = VirtualSerialPort(link=relay_link)
        self._decoder = RelayCommandDecoder(self.model)
        self._lock = threading.Lock()
        self.raw = bytearray()
        """Every byte the relay board received."""
        self.switches: list[RelaySwitch] = []
        """Every relay command the board understood, in order."""

    @property
    def contact_path(self) -> str:
        """What the agent opens for the contact."""
        return self.contact_port.path

    @property
    def relay_path(self) -> str:
        """What the agent opens for the relay board."""
        return self.relay_port.path

    @property
    def relay_on(self) -> bool | None:
        """The relay's state after the last command it understood; None before any."""
        with self._lock:
            return self.switches[-1].value if self.switches else None

    def open_door(self) -> None:
        """The door swings open: the contact sends its open line."""
        self.contact_port.write(encode_contact(True, self.protocol))

    def close_door(self) -> None:
        """The door shuts: the contact sends its closed line."""
        self.contact_port.write(encode_contact(False, self.protocol))

    def poll(self, timeout: float = 0.0) -> list[RelaySwitch]:
        """Read what the agent sent to the relay (waiting up to `timeout`); return new switches."""
        data = self.relay_port.read(timeout=timeout)
        with self._lock:
            self.raw += data
            new = self._decoder.feed(data)
            self.switches += new
        return new

    def wait_relay(self, on: bool, timeout: float) -> bool:
        """Poll until the relay is in state `on`; True if it got there within `timeout`."""
        deadline = time.monotonic() + timeout
        while self.relay_on is not on:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.poll(timeout=min(left, 0.05))
        return True

    def close(self) -> None:
        """Unplug both ports."""
        self.contact_port.close()
        self.relay_port.close()



def main(argv: list[str] | None = None) -> int:
    """Run a simulated door; `open` and `close` lines on standard input move it."""
    args = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    links = (Path(args[0]), Path(args[1])) if len(args) >= 2 else (None, None)
    with SimulatedDoor(contact_link=links[0], relay_link=links[1]) as door:
        log.info("simulated door: contact on %s, relay on %s", door.contact_path, door.relay_path)
        done = threading.Event()

        def watch_relay() -> None:
            while not done.is_set():
                for switch in door.poll(timeout=0.2):
                    log.info("relay %s", switch.name.lower())

        threading.Thread(target=watch_relay, daemon=True).start()
        for line in sys.stdin:
            word = line.strip().lower()
            if word == "open":
                door.open_door()
            elif word == "close":
                door.close_door()
            elif word:
                log.error("type 'open' or 'close', not %r", word)
        done.set()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
