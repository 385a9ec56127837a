"""What a rule says when it fires: a Condition, and the names of the rules (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from broker.schemas import Priority


class RuleName(StrEnum):
    """The name of every alarm rule, as written in `alarm.raised` (`rule`)."""

    UNKNOWN_CREDENTIAL = "unknown-credential"
    REPEATED_DENIALS = "repeated-denials"
    REVOKED_BADGE = "revoked-badge"
    DOOR_FORCED = "door-forced"
    DOOR_HELD_OPEN = "door-held-open"
    CAMERA_TAMPER = "camera-tamper"
    ZONE_AFTER_HOURS = "zone-after-hours"
    WATCHLIST_MATCH = "watchlist-match"
    DEVICE_OFFLINE = "device-offline"
    DEVICE_SILENT = "device-silent"
    DELIVERY_GAP = "delivery-gap"
    PRINTER_FAULT = "printer-fault"
    VISITOR_AFTER_CLOSING = "visitor-after-closing"
    ITEM_OVERDUE = "item-overdue"
    ITEMS_NOT_RETURNED = "items-not-returned"
    # guard tours (security/office/alarms/tours.py; their settings are in [tours], not [alarms.rules])
    TOUR_CHECKPOINT_EARLY = "tour-checkpoint-early"
    TOUR_CHECKPOINT_LATE = "tour-checkpoint-late"
    TOUR_CHECKPOINT_MISSED = "tour-checkpoint-missed"
    TOUR_OUT_OF_SEQUENCE = "tour-out-of-sequence"
    TOUR_NOT_STARTED = "tour-not-started"


MAX_SUMMARY = 200
"""The longest alarm summary: the contract's `Text` and the alarms table's column."""


@dataclass(frozen=True, slots=True)
class Condition:
    """An abnormal condition found by a rule; the alarm book turns it into an alarm or a count."""

    rule: RuleName
    key: str
    priority: Priority
    summary: str
    cause: tuple[str, ...] = ()
    silent: bool = False

    def __post_init__(self) -> None:
        """Cut a summary longer than the contract's texts (an alarm keeps at most MAX_SUMMARY characters)."""
        if len(self.summary) > MAX_SUMMARY:
            object.__setattr__(self, "summary", self.summary[: MAX_SUMMARY - 3] + "...")


@dataclass(frozen=True, slots=True)
class Cleared:
    """The abnormal condition of `key` is gone (a door closed, a device came back); `cause` says what."""

    key: str
    cause: str
