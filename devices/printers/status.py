"""Printer conditions, and the pure tracker that turns status changes into `device.fault` data."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from broker.schemas import DeviceFault

FaultKind = Literal["paper_out", "head_open", "no_answer", "other"]


class Condition(StrEnum):
    """Something a printer reports about itself; most of them stop it printing."""

    PAPER_OUT = "paper_out"
    HEAD_OPEN = "head_open"
    NO_ANSWER = "no_answer"
    PAUSED = "paused"
    RIBBON_OUT = "ribbon_out"
    OFFLINE = "offline"
    CUTTER_ERROR = "cutter_error"
    OVER_TEMPERATURE = "over_temperature"
    UNDER_TEMPERATURE = "under_temperature"
    BUFFER_FULL = "buffer_full"
    ERROR = "error"
    PAPER_LOW = "paper_low"
    """A warning, not a fault: the printer still prints."""


_KIND: dict[Condition, FaultKind] = {
    Condition.PAPER_OUT: "paper_out",
    Condition.HEAD_OPEN: "head_open",
    Condition.NO_ANSWER: "no_answer",
}
_NOT_FAULTS = frozenset({Condition.PAPER_LOW})


def fault_kind(condition: Condition) -> FaultKind:
    """The contract's `device.fault` kind of a condition (`other` for those it does not name)."""
    return _KIND.get(condition, "other")


@dataclass(slots=True, frozen=True)
class PrinterStatus:
    """One answer of a printer to a status query."""

    conditions: frozenset[Condition] = frozenset()

    @property
    def faults(self) -> frozenset[Condition]:
        """The conditions that stop the printer printing."""
        return self.conditions - _NOT_FAULTS

    @property
    def ready(self) -> bool:
        """True when nothing stops the printer printing."""
        return not self.faults


def describe(faults: frozenset[Condition]) -> str:
    """A short human text of a set of faults, e.g. "paper out, head open"."""
    return ", ".join(sorted(f.value.replace("_", " ") for f in faults))


def fault_data(condition: Condition, *, cleared: bool, printer: str) -> DeviceFault:
    """The `device.fault` data saying that `condition` began (or cleared) on `printer`."""
    detail = f"printer {printer}: {condition.value.replace('_', ' ')}"
    return DeviceFault(fault=fault_kind(condition), detail=detail[:200], cleared=cleared)


class FaultTracker:
    """Remembers the faults a printer has and says which began and which cleared (pure).

    A printer that does not answer has `no_answer`; what else it had is then unknown, so those
    faults are kept until it answers again.
    """

    def __init__(self, printer: str) -> None:
        """Start with no known faults; `printer` names the printer in fault details."""
        self.printer = printer
        self._faults: frozenset[Condition] = frozenset()

    @property
    def faults(self) -> frozenset[Condition]:
        """The faults the printer has now."""
        return self._faults

    @property
    def online(self) -> bool:
        """True when the printer answers and has no fault."""
        return not self._faults

    def update(self, status: PrinterStatus | None) -> list[DeviceFault]:
        """Take a poll result (None: no answer) and return one fault datum per change, in order."""
        now = self._faults | {Condition.NO_ANSWER} if status is None else status.faults
        began = sorted(now - self._faults)
        ended = sorted(self._faults - now)
        self._faults = now
        return [fault_data(c, cleared=True, printer=self.printer) for c in ended] + [
            fault_data(c, cleared=False, printer=self.printer) for c in began
        ]
