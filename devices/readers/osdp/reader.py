"""The OSDP control panel agent: poll readers over a secure channel, emit badge reads and faults."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from broker.schemas import BadgeRead, DeviceFault
from devices.agent import Emitter
from devices.readers.osdp import _lib
from devices.readers.osdp.channel import RefreshLoop, SerialChannel
from devices.readers.osdp.keys import check_site_key
from devices.serial_port import Backoff

log = logging.getLogger(__name__)

MAX_CARD_BYTES = 32  # a BadgeRead credential holds 64 hex digits

FaultKind = Literal["reader_tamper", "power"]


@dataclass(frozen=True, slots=True)
class OsdpReaderConfig:
    """One reader (PD) on the line: its OSDP address (0-126) and its site key (SCBK)."""

    address: int
    scbk: bytes | str | None = field(default=None, repr=False)


@dataclass(slots=True)
class _PdState:
    """What the agent knows of one PD; touched only by the refresh thread."""

    address: int
    backoff: Backoff
    online: bool = False
    report_at: float = 0.0
    no_answer_out: bool = False
    restart_at: float = 0.0
    enable_pending: bool = False
    faults: dict[FaultKind, bool] = field(default_factory=dict)


class OsdpReaderAgent:
    """A control panel on `port_url` polling `readers`; emits `badge.read` and `device.fault`.

    Every reader must have a site key: the agent refuses to start without one, or with the
    install key SCBK-D, unless `allow_install_key` is set for commissioning (then libosdp may
    open the channel with SCBK-D and install the site key on the reader). Outside
    commissioning libosdp is told to enforce the secure channel, so a reader that only knows
    SCBK-D stays offline.

    A card read becomes one `badge.read` (format 'osdp', credential the card data in
    upper-case hex, reader the PD address); local tamper and power reports become
    `device.fault` reader_tamper / power, and cleared when they clear; a reader that does not
    answer within `answer_timeout_s` of start, or drops out, is one `device.fault` no_answer
    and one cleared when back. libosdp itself declares a silent PD offline after about 8 s
    and then waits 300 s before trying again; the agent re-enables it with `backoff` instead.
    Events are emitted from the refresh thread, outside the libosdp lock.
    """

    def __init__(
        self,
        port_url: str,
        emitter: Emitter,
        readers: Sequence[OsdpReaderConfig],
        *,
        allow_install_key: bool = False,
        baudrate: int = 115200,
        answer_timeout_s: float = 10.0,
        backoff: Backoff | None = None,
        period_s: float = 0.02,
        log_level: int = _lib.LOG_ERROR,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Check the readers and their keys (OsdpKeyError if refused); nothing opens until `start()`."""
        if not readers:
            raise ValueError("an OSDP agent needs at least one reader")
        addresses = [r.address for r in readers]
        for address in addresses:
            if type(address) is not int or not 0 <= address <= 126:
                raise ValueError(f"OSDP address must be an integer 0-126, got {address!r}")
        if len(set(addresses)) != len(addresses):
            raise ValueError(f"OSDP addresses must be unique, got {addresses}")
        self._keys = [
            check_site_key(r.scbk, address=r.address, allow_install_key=allow_install_key) for r in readers
        ]
        if allow_install_key:
            log.warning("OSDP on %s: commissioning mode, the install key SCBK-D is accepted", port_url)
        self._flags = 0 if allow_install_key else _lib.FLAG_ENFORCE_SECURE
        self._emitter = emitter
        self._answer_timeout_s = answer_timeout_s
        retry = backoff or Backoff(initial=2.0, maximum=30.0)
        self._log_level = log_level
        self._clock = clock
        self.channel = SerialChannel(port_url, baudrate=baudrate)
        self._states = [
            _PdState(address, Backoff(retry.initial, retry.maximum, retry.factor)) for address in addresses
        ]
        self._index = {address: i for i, address in enumerate(addresses)}
        self._lock = threading.RLock()  # guards the libosdp context
        self._ctx: _lib.ControlPanelContext | None = None
        self._pending: deque[tuple[int, _lib.OsdpDict]] = deque(maxlen=1024)
        self._loop = RefreshLoop(self._step, name=f"osdp:{port_url}", period_s=period_s)

    @property
    def addresses(self) -> list[int]:
        """The PD addresses this agent polls."""
        return [s.address for s in self._states]

    def start(self) -> None:
        """Open the port (PortError naming it if absent), set up libosdp and start polling."""
        if self._ctx is not None:
            raise RuntimeError(f"OSDP agent on {self.channel.url} already started")
        _lib.set_log_level(self._log_level)
        self.channel.open()
        infos = [
            _lib.pd_info(state.address, self.channel, key, flags=self._flags)
            for state, key in zip(self._states, self._keys, strict=True)
        ]
        with self._lock:
            self._ctx = _lib.control_panel(infos)
            self._ctx.set_event_callback(self._on_event)
        now = self._clock()
        for state in self._states:
            state.report_at = now + self._answer_timeout_s
            state.restart_at = now + state.backoff.next_delay()
        self._loop.start()

    def stop(self) -> None:
        """Stop polling and close the port; safe to call twice."""
        self._loop.stop()
        with self._lock:
            self._ctx = None
        self.channel.close()

    def is_online(self, reader: int) -> bool:
        """True while the reader at address `reader` answers over its secure channel."""
        i = self._index[reader]
        with self._lock:
            return self._ctx is not None and bool(self._ctx.status() & (1 << i))

    def is_secure(self, reader: int) -> bool:
        """True while the reader at address `reader` has an active secure channel."""
        i = self._index[reader]
        with self._lock:
            return self._ctx is not None and bool(self._ctx.sc_status() & (1 << i))

    def feedback(self, reader: int, granted: bool) -> bool:
        """Flash the reader's LED (green 2 s / red 2 s) and beep once / three times; False if refused."""
        if reader not in self._index:
            raise ValueError(f"no OSDP reader at address {reader}; known: {self.addresses}")
        led: _lib.OsdpDict = {
            "command": _lib.CMD_LED, "reader": 0, "led_number": 0, "temporary": True,
            "control_code": 2, "on_color": _lib.LED_COLOR_GREEN if granted else _lib.LED_COLOR_RED,
            "off_color": _lib.LED_COLOR_NONE, "on_count": 20, "off_count": 0, "timer_count": 20,
        }
        buzzer: _lib.OsdpDict = {
            "command": _lib.CMD_BUZZER, "reader": 0, "control_code": 2,
            "on_count": 2 if granted else 1, "off_count": 0 if granted else 1,
            "rep_count": 1 if granted else 3,
        }
        with self._lock:
            ctx = self._ctx
            if ctx is None:
                raise RuntimeError("OSDP agent is not started")
            i = self._index[reader]
            ok = ctx.submit_command(i, led) and ctx.submit_command(i, buzzer)
        if not ok:
            log.warning("OSDP reader %d: feedback (%s) not queued", reader, "grant" if granted else "deny")
        return ok

    def _on_event(self, pd: int, event: _lib.OsdpDict) -> int:
        """libosdp's event callback (inside refresh, lock held): queue the event for `_step`."""
        self._pending.append((pd, event))
        return 0

    def _step(self) -> None:
        """One refresh: run libosdp, then handle its events and online changes outside the lock."""
        with self._lock:
            ctx = self._ctx
            if ctx is None:
                return
            ctx.refresh()
            online = ctx.status()
        while self._pending:
            pd, event = self._pending.popleft()
            self._handle_event(self._states[pd], event)
        now = self._clock()
        for i, state in enumerate(self._states):
            self._track_online(ctx, i, state, bool(online & (1 << i)), now)

    def _handle_event(self, state: _PdState, event: _lib.OsdpDict) -> None:
        """Turn one PD event into a badge read or fault changes."""
        kind = event.get("event")
        if kind == _lib.EVENT_CARDREAD:
            self._card_read(state, event)
        elif kind == _lib.EVENT_STATUS and event.get("type") == _lib.STATUS_REPORT_LOCAL:
            report = bytes(event.get("report", b""))
            if len(report) >= 1:
                self._set_fault(state, "reader_tamper", report[0] != 0, "tamper switch")
            if len(report) >= 2:
                self._set_fault(state, "power", report[1] != 0, "power failure")
        else:
            log.debug("OSDP reader %d: event %r ignored", state.address, event)

    def _card_read(self, state: _PdState, event: _lib.OsdpDict) -> None:
        """Emit one `badge.read` for a card read, or log why it cannot be one."""
        data = bytes(event.get("data", b""))
        if not data or len(data) > MAX_CARD_BYTES:
            log.warning("OSDP reader %d: card read of %d bytes dropped", state.address, len(data))
            return
        read = BadgeRead(credential=data.hex().upper(), reader=state.address, format="osdp")
        self._emit("badge.read", read)

    def _set_fault(self, state: _PdState, fault: FaultKind, active: bool, what: str) -> None:
        """Emit a fault when it appears and a cleared fault when it goes; repeats are silent."""
        if state.faults.get(fault, False) == active:
            return
        state.faults[fault] = active
        (log.warning if active else log.info)(
            "OSDP reader %d: %s %s", state.address, what, "reported" if active else "cleared"
        )
        detail = f"reader {state.address}: {what}"
        self._emit("device.fault", DeviceFault(fault=fault, detail=detail, cleared=not active))

    def _track_online(
        self, ctx: _lib.ControlPanelContext, i: int, state: _PdState, online: bool, now: float
    ) -> None:
        """Report no_answer once per outage, clear it once, and restart libosdp's attempts."""
        if online:
            if not state.online:
                state.online, state.enable_pending = True, False
                state.backoff.reset()
                log.info("OSDP reader %d online with secure channel", state.address)
                if state.no_answer_out:
                    state.no_answer_out = False
                    detail = f"reader {state.address} answers again"
                    self._emit("device.fault", DeviceFault(fault="no_answer", detail=detail, cleared=True))
            return
        if state.online:  # libosdp already spent ~8 s probing before giving up: report now
            state.online, state.report_at = False, now
            state.restart_at = now + state.backoff.next_delay()
        if not state.no_answer_out and now >= state.report_at:
            state.no_answer_out = True
            log.warning("OSDP reader %d does not answer or refused the secure channel", state.address)
            detail = f"reader {state.address} does not answer or refused the secure channel"
            self._emit("device.fault", DeviceFault(fault="no_answer", detail=detail))
        with self._lock:  # libosdp would wait 300 s after a failure: disable, then enable, sooner
            if state.enable_pending:
                state.enable_pending = False
                ctx.enable_pd(i)
            elif now >= state.restart_at:
                state.enable_pending = bool(ctx.disable_pd(i))
                state.restart_at = now + state.backoff.next_delay()

    def _emit(self, event_type: str, data: BadgeRead | DeviceFault) -> None:
        """Emit one event; a failure is logged, never raised into the refresh thread."""
        try:
            self._emitter.emit(event_type, data)
        except Exception:
            log.exception("OSDP: emitting %s failed", event_type)
