"""The one place that imports libosdp: typed constants and typed views of its C contexts.

libosdp 3.2.9 ships no type information, so everything untyped stays in this module. We use
the C binding `osdp_sys` directly rather than `osdp.ControlPanel`: that wrapper keeps every
event in a queue nobody drains (it grows forever in an agent that only uses callbacks), and
its refresh thread holds a plain Lock while calling our callbacks, so a callback that submits
a command deadlocks. Our own `RefreshLoop` replaces it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypedDict, cast

import osdp_sys  # type: ignore[import-not-found]

OsdpDict = dict[str, Any]
"""A command or event as libosdp's binding passes it: a dict keyed as in its `osdp.h`."""

SCBK_DEFAULT = bytes(range(0x30, 0x40))
"""SCBK-D, the install-mode key every OSDP device knows ('0123456789:;<=>?'); never a site key."""

FLAG_ENFORCE_SECURE: int = osdp_sys.FLAG_ENFORCE_SECURE
FLAG_INSTALL_MODE: int = osdp_sys.FLAG_INSTALL_MODE

CMD_LED: int = osdp_sys.CMD_LED
CMD_BUZZER: int = osdp_sys.CMD_BUZZER
CMD_KEYSET: int = osdp_sys.CMD_KEYSET
CMD_STATUS: int = osdp_sys.CMD_STATUS

EVENT_CARDREAD: int = osdp_sys.EVENT_CARDREAD
EVENT_KEYPRESS: int = osdp_sys.EVENT_KEYPRESS
EVENT_STATUS: int = osdp_sys.EVENT_STATUS

STATUS_REPORT_LOCAL: int = osdp_sys.STATUS_REPORT_LOCAL
CARD_FMT_RAW_UNSPECIFIED: int = osdp_sys.CARD_FMT_RAW_UNSPECIFIED

LED_COLOR_NONE: int = osdp_sys.LED_COLOR_NONE
LED_COLOR_RED: int = osdp_sys.LED_COLOR_RED
LED_COLOR_GREEN: int = osdp_sys.LED_COLOR_GREEN

LOG_ERROR: int = osdp_sys.LOG_ERROR
LOG_WARNING: int = osdp_sys.LOG_WARNING
LOG_INFO: int = osdp_sys.LOG_INFO

CAP_COMMUNICATION_SECURITY: int = osdp_sys.CAP_COMMUNICATION_SECURITY
CAP_READER_LED_CONTROL: int = osdp_sys.CAP_READER_LED_CONTROL
CAP_READER_AUDIBLE_OUTPUT: int = osdp_sys.CAP_READER_AUDIBLE_OUTPUT
CAP_CARD_DATA_FORMAT: int = osdp_sys.CAP_CARD_DATA_FORMAT
CAP_READERS: int = osdp_sys.CAP_READERS


class Channel(Protocol):
    """What libosdp calls to move bytes: `read(max)`, `write(buf)`, `flush()`, and an `id`."""

    id: int

    def read(self, max_bytes: int) -> bytes:
        """Up to `max_bytes` received bytes, b'' if none; never blocks, never raises."""
        ...

    def write(self, buf: bytes) -> int:
        """Send `buf`; the number of bytes sent, or -1 on error; never raises."""
        ...

    def flush(self) -> None:
        """Drop unsent or unread bytes if the stream can."""
        ...


class ControlPanelContext(Protocol):
    """The methods of `osdp_sys.ControlPanel` we use; PDs are named by their index."""

    def refresh(self) -> None:
        """Run the protocol state machines once (at least every 50 ms)."""
        ...

    def set_event_callback(self, callback: Callable[[int, OsdpDict], int]) -> None:
        """Call `callback(pd_index, event)` from `refresh()` for every PD event."""
        ...

    def status(self) -> int:
        """Bitmask of online PDs."""
        ...

    def sc_status(self) -> int:
        """Bitmask of PDs with an active secure channel."""
        ...

    def submit_command(self, pd: int, command: OsdpDict) -> bool:
        """Queue a command for PD `pd`; False if refused."""
        ...

    def disable_pd(self, pd: int) -> bool:
        """Take PD `pd` offline (processed on the next refresh)."""
        ...

    def enable_pd(self, pd: int) -> bool:
        """Put PD `pd` back into service, starting with a fresh ID request."""
        ...


class PeripheralDeviceContext(Protocol):
    """The methods of `osdp_sys.PeripheralDevice` we use."""

    def refresh(self) -> None:
        """Run the PD state machine once (at least every 50 ms)."""
        ...

    def set_command_callback(self, callback: Callable[[OsdpDict], tuple[int, OsdpDict | None]]) -> None:
        """Call `callback(command)` from `refresh()`; it returns (0, None) to ACK, (-1, None) to NAK."""
        ...

    def submit_event(self, event: OsdpDict) -> bool:
        """Queue an event for the CP's next poll; False if refused."""
        ...

    def is_sc_active(self) -> bool:
        """True while a secure channel with the CP is up."""
        ...

    def is_online(self) -> bool:
        """True while the CP polls this PD."""
        ...


class PdInfo(TypedDict):
    """One PD's set-up record, as `osdp_pd_info_t` in `osdp.h`."""

    name: str
    address: int
    flags: int
    scbk: bytes | None
    channel: Channel
    version: int
    model: int
    vendor_code: int
    serial_number: int
    firmware_version: int


def pd_info(address: int, channel: Channel, scbk: bytes | None, *, flags: int = 0) -> PdInfo:
    """A set-up record for the PD at `address` on `channel` (identity fields are the simulator's)."""
    return PdInfo(
        name=f"PD-{address}", address=address, flags=flags, scbk=scbk, channel=channel,
        version=1, model=1, vendor_code=0x47484F, serial_number=address, firmware_version=0x010000,
    )


def set_log_level(level: int) -> None:
    """Set libosdp's log level; it is process-wide and libosdp writes to standard error itself."""
    osdp_sys.set_loglevel(level)


def control_panel(infos: Sequence[PdInfo]) -> ControlPanelContext:
    """A libosdp control panel polling the PDs of `infos` (index i is `infos[i]`)."""
    return cast(ControlPanelContext, osdp_sys.ControlPanel(list(infos)))


def peripheral_device(info: PdInfo, capabilities: Sequence[tuple[int, int, int]]) -> PeripheralDeviceContext:
    """A libosdp PD with `capabilities` as (function code, compliance level, number of items)."""
    caps = [
        {"function_code": code, "compliance_level": level, "num_items": items}
        for code, level, items in capabilities
    ]
    return cast(PeripheralDeviceContext, osdp_sys.PeripheralDevice(info, capabilities=caps))
