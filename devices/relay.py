"""Serial relay boards that drive a door strike: command bytes per model (pure, no serial import).

A board is described by a `RelayModel`: the bytes that energise the relay (unlock) and the
bytes that release it (relock), and the line speed. Presets for common cheap boards:

- `lc_technology(channel)`: LC-Technology / LCUS USB relays on a CH340 (9600 8N1),
  ``A0 <channel> <state> <A0+channel+state mod 256>``; channel 1 is ``A0 01 01 A2`` /
  ``A0 01 00 A1``.
- `kmtronic(channel)`: KMTronic USB relay boards (9600 8N1), ``FF <channel> <state>``.
- `ascii_relay()`: a plain line protocol (an Arduino or ESP sketch), ``ON\\n`` / ``OFF\\n``
  by default.

`RelayCommandDecoder` reads those bytes back (the simulator's side of the wire), and
`DiscardDecoder` is what the agent feeds whatever a board answers: it is counted, not used.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from devices.framing import BufferedDecoder, DecoderStats

LC_TECHNOLOGY_HEAD = 0xA0
KMTRONIC_HEAD = 0xFF
MAX_CHANNEL = 8


@dataclass(slots=True, frozen=True)
class RelayModel:
    """One relay board's protocol: the bytes for relay on (door unlocked) and relay off."""

    on: bytes
    off: bytes
    name: str = "custom"
    baudrate: int = 9600

    def __post_init__(self) -> None:
        """Refuse empty, equal or prefix-ambiguous commands and impossible line speeds."""
        if not self.on or not self.off:
            raise ValueError(f"relay model {self.name!r}: on and off commands must not be empty")
        if self.on.startswith(self.off) or self.off.startswith(self.on):
            raise ValueError(f"relay model {self.name!r}: on and off must not be prefixes of each other")
        if self.baudrate <= 0:
            raise ValueError(f"relay model {self.name!r}: baudrate must be > 0, got {self.baudrate!r}")

    def command(self, *, energize: bool) -> bytes:
        """The bytes that switch the relay on (`energize`) or off."""
        return self.on if energize else self.off


def _check_channel(channel: int) -> int:
    """Return `channel` if it is a board channel 1..MAX_CHANNEL."""
    if type(channel) is not int or not 1 <= channel <= MAX_CHANNEL:
        raise ValueError(f"relay channel must be an integer 1-{MAX_CHANNEL}, got {channel!r}")
    return channel


def encode_lc_technology(channel: int, *, energize: bool) -> bytes:
    """The 4-byte LC-Technology/LCUS command: head, channel, state, 8-bit sum of the three."""
    state = 1 if energize else 0
    head = LC_TECHNOLOGY_HEAD
    return bytes([head, _check_channel(channel), state, (head + channel + state) & 0xFF])


def encode_kmtronic(channel: int, *, energize: bool) -> bytes:
    """The 3-byte KMTronic USB relay command: 0xFF, channel, state."""
    return bytes([KMTRONIC_HEAD, _check_channel(channel), 1 if energize else 0])


def encode_ascii(word: str, terminator: bytes = b"\n") -> bytes:
    """One line of a plain ASCII relay protocol, such as b'ON\\n'."""
    if not word or not word.isascii() or not word.isprintable():
        raise ValueError(f"an ASCII relay command must be printable ASCII, got {word!r}")
    return word.encode("ascii") + terminator


def lc_technology(channel: int = 1) -> RelayModel:
    """An LC-Technology / LCUS (CH340) USB relay board, on `channel`."""
    return RelayModel(
        on=encode_lc_technology(channel, energize=True),
        off=encode_lc_technology(channel, energize=False),
        name=f"lc-technology-{channel}",
    )


def kmtronic(channel: int = 1) -> RelayModel:
    """A KMTronic USB relay board, on `channel`."""
    return RelayModel(
        on=encode_kmtronic(channel, energize=True),
        off=encode_kmtronic(channel, energize=False),
        name=f"kmtronic-{channel}",
    )


def ascii_relay(on: str = "ON", off: str = "OFF", terminator: bytes = b"\n") -> RelayModel:
    """A relay behind a microcontroller speaking a line protocol (default ON/OFF + LF)."""
    return RelayModel(on=encode_ascii(on, terminator), off=encode_ascii(off, terminator), name="ascii")


def _ascii_preset(_channel: int) -> RelayModel:
    """The default ASCII model; a line protocol has no channel byte."""
    return ascii_relay()


PRESETS: dict[str, Callable[[int], RelayModel]] = {
    "lc-technology": lc_technology,
    "kmtronic": kmtronic,
    "ascii": _ascii_preset,
}
"""Preset names usable in a site file; each takes the channel (ignored by `ascii`)."""


def model_by_name(name: str, channel: int = 1) -> RelayModel:
    """The preset relay model `name` on `channel`; ValueError naming the presets otherwise."""
    try:
        make = PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown relay model {name!r}; known: {', '.join(sorted(PRESETS))}") from None
    return make(channel)


class RelaySwitch(Enum):
    """What a relay command did, as read back on the board's side."""

    ON = True
    OFF = False


class RelayCommandDecoder(BufferedDecoder):
    """Sans-I/O reader of a model's on/off commands: what a simulated board receives.

    Bytes that cannot begin a command are dropped as noise at once; a possible beginning
    waits (at most one command's length) for the rest.
    """

    def __init__(self, model: RelayModel) -> None:
        """Decode the commands of `model`."""
        super().__init__()
        self.model = model
        self._longest = max(len(model.on), len(model.off))

    def feed(self, chunk: bytes) -> list[RelaySwitch]:
        """Consume `chunk` and return the switch of every whole command it completed."""
        self._buf += chunk
        out: list[RelaySwitch] = []
        while self._buf:
            found = [(self._buf.find(cmd), cmd, sw) for cmd, sw in self._commands() if cmd in self._buf]
            if found:
                start, cmd, switch = min(found, key=lambda f: f[0])
                self._drop_noise(start)
                del self._buf[: len(cmd)]
                self._stats.frames += 1
                self._stats.frame_bytes += len(cmd)
                out.append(switch)
                continue
            self._drop_noise(len(self._buf) - self._partial_tail())
            break
        return out

    def _commands(self) -> tuple[tuple[bytes, RelaySwitch], ...]:
        """Both commands with their meaning."""
        return ((self.model.on, RelaySwitch.ON), (self.model.off, RelaySwitch.OFF))

    def _partial_tail(self) -> int:
        """Length of the longest buffer suffix that some command begins with."""
        for size in range(min(len(self._buf), self._longest - 1), 0, -1):
            tail = bytes(self._buf[-size:])
            if self.model.on.startswith(tail) or self.model.off.startswith(tail):
                return size
        return 0


class DiscardDecoder:
    """A decoder for boards whose answers the agent does not use: every byte counts as noise."""

    def __init__(self) -> None:
        """Start with zero counters."""
        self._stats = DecoderStats()

    @property
    def stats(self) -> DecoderStats:
        """The running counters (only noise_bytes moves)."""
        return self._stats

    @property
    def pending(self) -> int:
        """Always 0: nothing is buffered."""
        return 0

    def feed(self, chunk: bytes) -> list[None]:
        """Count `chunk` as noise; never returns a reading."""
        self._stats.noise_bytes += len(chunk)
        return []

    def reset(self) -> None:
        """Nothing to drop."""
