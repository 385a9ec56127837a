"""The door agent: contact port + door logic + relay port, events out, door commands in."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from broker import topics
from broker.commands import LockArgs, ReleaseArgs, ScheduleArgs, UnlockArgs, parse_args
from broker.events import ContractError
from broker.messages import Command
from broker.schemas import DeviceFault, DoorChange
from devices.agent import Emitter
from devices.door import (
    Closed,
    DoorConfig,
    DoorEvent,
    DoorInput,
    DoorState,
    Hold,
    Lockdown,
    Opened,
    Release,
    Relock,
    SetRelay,
    Tick,
    Unlock,
    next_deadline,
    step,
)
from devices.door_contact import ContactDecoder, ContactProtocol, ContactReading
from devices.relay import DiscardDecoder, RelayModel, lc_technology
from devices.serial_port import Backoff, PortError, SerialTransport

log = logging.getLogger(__name__)

UNLOCK = UnlockArgs.NAME
DOOR_COMMANDS = (UNLOCK, ScheduleArgs.NAME, LockArgs.NAME, ReleaseArgs.NAME)
"""The commands a door obeys."""
_SEEN_COMMANDS = 1024


class CommandBus(Protocol):
    """What the agent needs of `broker.bus.Bus` to receive its commands."""

    def subscribe(self, topic_filter: str, handler: Callable[[str, bytes], None], qos: int = 1) -> None:
        """Route messages matching `topic_filter` to `handler`."""
        ...


class DoorAgent:
    """One door: a contact on `contact_url`, a relay board on `relay_url`, events to `emitter`.

    Contact reports, commands and the timer run on different threads (serial reader, bus,
    timer); one lock serialises them, so events are emitted in the order the logic decided.
    The relay is switched off at start (fail secure) and re-synchronised whenever its port
    comes back; a write that fails is retried on every tick and reported once as a
    `device.fault` (and once more, cleared, when it works again).
    """

    def __init__(
        self,
        contact_url: str,
        relay_url: str,
        emitter: Emitter,
        *,
        door: str,
        relay_model: RelayModel | None = None,
        contact: ContactProtocol | None = None,
        config: DoorConfig | None = None,
        contact_baudrate: int = 9600,
        backoff: Backoff | None = None,
        on_contact_connection: Callable[[bool], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        poll_s: float = 0.25,
    ) -> None:
        """Wire the layers; nothing is opened until `start()`.

        `on_contact_connection(connected)` hears when the contact's port opens or is lost; the
        relay's port needs no such hook, since a relay that cannot be switched is a fault here.
        """
        self.door = topics.check_name(door, "door")
        if poll_s <= 0:
            raise ValueError(f"poll_s must be > 0 seconds, got {poll_s!r}")
        self.relay_model = relay_model or lc_technology()
        self.config = config or DoorConfig()
        self._emitter = emitter
        self._clock, self._wall_clock, self._poll_s = clock, wall_clock, poll_s
        self._lock = threading.RLock()
        self._state = DoorState()
        self._relay_is: bool | None = None  # what the board was last told; None: unknown
        self._relay_fault = False
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None
        self.contact = SerialTransport(
            contact_url, ContactDecoder(contact), self.on_contact,
            baudrate=contact_baudrate, backoff=backoff, on_connection=on_contact_connection,
        )
        self.relay: SerialTransport[None] = SerialTransport(
            relay_url, DiscardDecoder(), lambda _: None,
            baudrate=self.relay_model.baudrate, backoff=backoff, on_connection=self._on_relay_port,
        )

    @property
    def state(self) -> DoorState:
        """The door logic's current state."""
        with self._lock:
            return self._state

    def start(self, *, require_port: bool = False, run_timer: bool = True) -> None:
        """Open both ports (see `SerialTransport.start`) and start the relock/held-open timer."""
        self.relay.start(require_port=require_port)
        try:
            self.contact.start(require_port=require_port)
        except PortError:
            self.relay.stop()
            raise
        if run_timer:
            self._stop.clear()
            self._timer = threading.Thread(target=self._run_timer, name=f"door:{self.door}", daemon=True)
            self._timer.start()

    def stop(self) -> None:
        """Stop the timer, then the ports; safe to call twice."""
        self._stop.set()
        self._wake.set()
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.join(2.0)
        with self._lock:  # never leave a strike energised behind us (a missing relay was reported)
            if self.relay.connected:
                try:
                    self.relay.write(self.relay_model.command(energize=False))
                except PortError as exc:
                    log.warning("door %s: could not relock on stop: %s", self.door, exc)
        self.contact.stop()
        self.relay.stop()

    def subscribe(self, bus: CommandBus, site: str, device: str) -> None:
        """Receive this door's commands from `bus` (site and device of the agent)."""
        for name in DOOR_COMMANDS:
            bus.subscribe(topics.command(site, device, name), self.handle_command)

    def handle_command(self, topic: str, payload: bytes, now: datetime | None = None) -> None:
        """Obey a door command if it is well-formed, new and not expired (a `Bus` handler)."""
        when = now or self._wall_clock()
        try:
            parsed = topics.parse(topic)
            if parsed.kind is not topics.Kind.COMMAND:
                raise ContractError(f"{topic} is not a command topic")
            name = parsed.name
            command = Command.decode(payload)
            if command.name != name:
                raise ContractError(f"command name {command.name!r} does not match topic {topic}")
            if name not in DOOR_COMMANDS:
                raise ContractError(f"door {self.door} has no command {name!r}")
            inp = self._input(parse_args(name, command.args), when)
        except (ContractError, topics.TopicError) as exc:
            log.warning("door %s: ignoring malformed command on %s: %s", self.door, topic, exc)
            return
        with self._lock:
            if command.id in self._seen:
                log.debug("door %s: command %s seen before, ignored", self.door, command.id)
                return
            self._seen[command.id] = None
            if len(self._seen) > _SEEN_COMMANDS:
                self._seen.popitem(last=False)
            if command.expired(when):
                log.warning(
                    "door %s: dropped late %s %s (expired %s, now %s)",
                    self.door, name, command.id, command.expires.isoformat(), when.isoformat(),
                )
                return
            if isinstance(inp, Unlock | Hold) and self._state.lockdown:
                log.warning("door %s: %s %s refused: the door is in lockdown", self.door, name, command.id)
                return
            log.info("door %s: %s %s (%s)", self.door, name, command.id, inp)
            self._apply(inp)

    def on_contact(self, reading: ContactReading) -> None:
        """Feed one contact report to the door logic."""
        with self._lock:
            self._apply(Opened() if reading.is_open else Closed())

    def tick(self, now: float | None = None) -> None:
        """Relock when a grant ran out, report a door held open, retry a failed relay write."""
        with self._lock:
            self._apply(Tick(), now)

    def _apply(self, inp: DoorInput, now: float | None = None) -> None:
        """Step the logic, emit its events in order and bring the relay in line (lock held)."""
        self._state, outputs = step(self._state, inp, self._clock() if now is None else now, self.config)
        for out in outputs:
            if isinstance(out, DoorEvent):
                self._emit(out.type, DoorChange(door=self.door, duration_s=out.duration_s))
            elif isinstance(out, SetRelay):
                log.debug("door %s: relay %s", self.door, "on" if out.on else "off")
        self._sync_relay()
        if not isinstance(inp, Tick):
            self._wake.set()  # the timer re-reads the deadline this input may have moved

    def _sync_relay(self) -> None:
        """Write the relay command if the board is not known to be in the wanted state."""
        want = self._state.relay_on
        if self._relay_is == want:
            return
        try:
            self.relay.write(self.relay_model.command(energize=want))
        except PortError as exc:
            self._relay_is = None
            if not self._relay_fault:
                self._relay_fault = True
                log.error("door %s: cannot switch relay %s: %s", self.door, "on" if want else "off", exc)
                self._emit("device.fault", DeviceFault(fault="no_answer", detail=str(exc)[:200]))
            return
        self._relay_is = want
        if self._relay_fault:
            self._relay_fault = False
            log.info("door %s: relay answers again", self.door)
            self._emit("device.fault", DeviceFault(fault="no_answer", detail="relay", cleared=True))

    def _on_relay_port(self, connected: bool) -> None:
        """A relay port that (re)opened is in an unknown state: tell it what it should be."""
        with self._lock:
            self._relay_is = None
            if connected:
                self._sync_relay()

    def _emit(self, event_type: str, data: DoorChange | DeviceFault) -> None:
        """Emit one event; a failure is logged, never raised into a reader or bus thread."""
        try:
            self._emitter.emit(event_type, data)
        except Exception:
            log.exception("door %s: emitting %s failed", self.door, event_type)

    def _input(self, args: object, now: datetime) -> DoorInput:
        """The door logic's input for a command's typed args; ContractError if the door cannot obey it."""
        if isinstance(args, UnlockArgs) and args.until is not None:
            seconds = (args.until - now).total_seconds()
            if not 0 < seconds <= self.config.max_hold_s:
                raise ContractError(f"unlock until {args.until.isoformat()} is not within"
                                    f" {self.config.max_hold_s:g} s from now ({now.isoformat()})")
            return Hold(seconds)
        if isinstance(args, UnlockArgs):
            return Unlock(self._unlock_seconds(args))
        if isinstance(args, LockArgs):
            return Lockdown() if args.lockdown else Relock()
        if isinstance(args, ScheduleArgs):
            return Relock()
        if isinstance(args, ReleaseArgs):
            return Release()
        raise ContractError(f"door {self.door} cannot obey {type(args).__name__}")

    def _unlock_seconds(self, args: UnlockArgs) -> float:
        """The unlock time asked for (a number, by the contract), checked against the door's limits."""
        seconds = self.config.default_unlock_s if args.seconds is None else args.seconds
        if not 0 < seconds <= self.config.max_unlock_s:
            raise ContractError(f"unlock seconds must be in (0, {self.config.max_unlock_s}], got {seconds!r}")
        return seconds

    def _run_timer(self) -> None:
        """Timer thread: tick at the logic's next deadline, or every `poll_s` at the latest."""
        while not self._stop.is_set():
            with self._lock:
                deadline = next_deadline(self._state, self.config)
            delay = self._poll_s if deadline is None else deadline - self._clock()
            self._wake.wait(min(max(delay, 0.0), self._poll_s))
            self._wake.clear()
            if not self._stop.is_set():
                try:
                    self.tick()
                except Exception:  # keep relocking and held-open checks alive
                    log.exception("door %s: timer tick failed; going on", self.door)
