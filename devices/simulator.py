"""Simulated serial devices on a pseudo-terminal pair, for the demo and the tests.

The agent opens `path` with pyserial exactly as it would open `/dev/ttyUSB0`; the simulator
writes real frames to the other end. Run `python -m devices.simulator [LINK]` to get a
simulated RDM6300 and type tag ids (10 hex characters) to present them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import sys
import time
import tty
from pathlib import Path
from types import TracebackType
from typing import Self

from devices.readers.rdm6300 import encode_frame

log = logging.getLogger(__name__)


class ClosesOnExit:
    """Mixin: a `with` block closes the object (it must have `close()`)."""

    def close(self) -> None:
        """Release what the object holds."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        """Use as a context manager that closes on the way out."""
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Close."""
        self.close()


class VirtualSerialPort(ClosesOnExit):
    """A pty pair: the simulator holds the device end, an agent opens `path` (the other end).

    With `link`, a symlink to `path` is made there (replacing an older one), like a udev
    `/dev/serial/by-id/...` name; a new port made on the same link stands for a device
    unplugged and plugged in again.
    """

    def __init__(self, *, link: Path | None = None) -> None:
        """Create the pty pair (raw mode, no echo) and the optional symlink."""
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no line discipline: 0x03 must not turn into an interrupt
        self._tty_path = os.ttyname(self._slave)
        self._link = link
        if link is not None:
            tmp = link.with_name(f".{link.name}.tmp")
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(self._tty_path)
            tmp.replace(link)

    @property
    def path(self) -> str:
        """What the agent opens: the symlink if one was asked for, else the pty's own path."""
        return str(self._link) if self._link is not None else self._tty_path

    @property
    def closed(self) -> bool:
        """True once `close()` ran."""
        return self._master < 0

    def write(self, data: bytes) -> None:
        """Send raw bytes as the device would; blocks if nobody drains a full pty buffer."""
        if self.closed:
            raise OSError(f"virtual serial port {self.path} is closed")
        view = memoryview(data)
        while view:
            written = os.write(self._master, view)
            view = view[written:]

    def read(self, max_bytes: int = 4096, timeout: float = 0.0) -> bytes:
        """Bytes the agent sent to the device, waiting up to `timeout` s for the first ones."""
        if self.closed:
            raise OSError(f"virtual serial port {self.path} is closed")
        ready, _, _ = select.select([self._master], [], [], timeout)
        return os.read(self._master, max_bytes) if ready else b""

    def close(self) -> None:
        """Close both ends (the agent sees the device vanish) and remove our symlink."""
        if self.closed:
            return
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._master = self._slave = -1
        if self._link is not None:
            with contextlib.suppress(OSError):
                if self._link.is_symlink() and str(self._link.readlink()) == self._tty_path:
                    self._link.unlink()



class SimulatedRdm6300(VirtualSerialPort):
    """A simulated RDM6300 reader: `present()` a tag and it repeats the tag's frame."""

    def present(
        self, tag: bytes | str, repeats: int = 3, interval: float = 0.1, *, noise: bytes = b""
    ) -> None:
        """Hold `tag` (5 bytes or 10 hex chars) at the reader: `repeats` frames, `interval` apart.

        `noise` is written before each frame, as a noisy line or a glitching module would.
        """
        if repeats < 1:
            raise ValueError(f"repeats must be >= 1, got {repeats!r}")
        frame = encode_frame(tag)
        for i in range(repeats):
            if i:
                time.sleep(interval)
            self.write(noise + frame)


def main(argv: list[str] | None = None) -> int:
    """Run a simulated RDM6300; each line of standard input is a tag to present."""
    args = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with SimulatedRdm6300(link=Path(args[0]) if args else None) as reader:
        log.info("simulated RDM6300 on %s; type a 10-hex-digit tag per line", reader.path)
        for line in sys.stdin:
            tag = line.strip()
            if not tag:
                continue
            try:
                reader.present(tag)
            except ValueError as exc:
                log.error("not a tag: %s", exc)
            else:
                log.info("presented %s", tag.upper())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
