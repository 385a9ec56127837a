"""Settings of every alarm rule, each with its thresholds and priority, and sensible defaults (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, tzinfo

from broker.schemas import Priority, TamperKind

WEEKDAYS = frozenset(range(5))
"""Monday to Friday, as `datetime.weekday()` numbers them."""


@dataclass(frozen=True, slots=True)
class UnknownCredentialConfig:
    """An `access.denied` with reason `unknown_credential`."""

    enabled: bool = True
    priority: Priority = Priority.LOW


@dataclass(frozen=True, slots=True)
class RepeatedDenialsConfig:
    """At least `count` denials within `window_s` seconds at one door or for one credential."""

    enabled: bool = True
    priority: Priority = Priority.MEDIUM
    count: int = 5
    window_s: float = 60.0


@dataclass(frozen=True, slots=True)
class RevokedBadgeConfig:
    """A checked-out visitor's (revoked) badge seen in one of `event_types`."""

    enabled: bool = True
    priority: Priority = Priority.HIGH
    event_types: frozenset[str] = frozenset({"badge.read"})


@dataclass(frozen=True, slots=True)
class DoorForcedConfig:
    """A `door.forced` event."""

    enabled: bool = True
    priority: Priority = Priority.HIGH


@dataclass(frozen=True, slots=True)
class DoorHeldOpenConfig:
    """A `door.held_open` event whose `duration_s` (when given) is at least `min_duration_s`."""

    enabled: bool = True
    priority: Priority = Priority.MEDIUM
    min_duration_s: float = 0.0


@dataclass(frozen=True, slots=True)
class CameraTamperConfig:
    """A `camera.tamper` event of one of `kinds`."""

    enabled: bool = True
    priority: Priority = Priority.HIGH
    kinds: frozenset[TamperKind] = frozenset(TamperKind)


@dataclass(frozen=True, slots=True)
class ZoneSchedule:
    """The hours a camera zone may see people: `days` (0 = Monday), from `opens` until `closes`."""

    zone: str
    opens: time = time(7, 0)
    closes: time = time(19, 0)
    days: frozenset[int] = WEEKDAYS
    tz: tzinfo = UTC

    def is_open(self, when: datetime) -> bool:
        """True when `when` is inside this zone's hours."""
        local = when.astimezone(self.tz)
        return local.weekday() in self.days and self.opens <= local.time() < self.closes


@dataclass(frozen=True, slots=True)
class ZoneHoursConfig:
    """A person (or motion) in a scheduled zone outside its hours; unscheduled zones are not watched."""

    enabled: bool = True
    priority: Priority = Priority.HIGH
    zones: tuple[ZoneSchedule, ...] = ()
    min_person_confidence: float = 0.5
    include_motion: bool = True
    min_motion_score: float = 0.2


@dataclass(frozen=True, slots=True)
class WatchlistConfig:
    """A `visitor.screened` with result `match` (and score at least `min_score`); silent by default."""

    enabled: bool = True
    priority: Priority = Priority.CRITICAL
    silent: bool = True
    min_score: float = 0.0


@dataclass(frozen=True, slots=True)
class DeviceOfflineConfig:
    """A device whose retained status went `offline` (its Last Will), unless of one of `ignored_kinds`."""

    enabled: bool = True
    priority: Priority = Priority.MEDIUM
    ignored_kinds: frozenset[str] = frozenset({"station"})


@dataclass(frozen=True, slots=True)
class DeviceSilentConfig:
    """A device (one that sent a status) silent for `silent_after_s`; `kinds` empty means every kind."""

    enabled: bool = True
    priority: Priority = Priority.MEDIUM
    silent_after_s: float = 900.0
    kinds: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class DeliveryGapConfig:
    """A `delivery.gap` event: a seq gap of a source that did not fill."""

    enabled: bool = True
    priority: Priority = Priority.LOW


@dataclass(frozen=True, slots=True)
class PrinterFaultConfig:
    """A `device.fault` of one of `faults` from a printer (status kind `printer`, or named in `printers`)."""

    enabled: bool = True
    priority: Priority = Priority.LOW
    faults: frozenset[str] = frozenset({"paper_out", "head_open", "no_answer"})
    printers: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class VisitorAfterClosingConfig:
    """A visitor still checked in between `closing` and `opening` (local time in `tz`)."""

    enabled: bool = True
    priority: Priority = Priority.MEDIUM
    closing: time = time(19, 0)
    opening: time = time(6, 0)
    tz: tzinfo = UTC

    def is_closed(self, when: datetime) -> bool:
        """True when `when` is after closing (and before the next opening)."""
        local = when.astimezone(self.tz).time()
        if self.closing >= self.opening:
            return local >= self.closing or local < self.opening
        return self.closing <= local < self.opening


@dataclass(frozen=True, slots=True)
class ItemOverdueConfig:
    """An item lent by the desk and not returned `grace_s` seconds after its due time: one alarm per item."""

    enabled: bool = True
    priority: Priority = Priority.MEDIUM
    grace_s: float = 0.0


@dataclass(frozen=True, slots=True)
class ItemsNotReturnedConfig:
    """A visitor checked out while items lent to the visit were still out."""

    enabled: bool = True
    priority: Priority = Priority.MEDIUM


@dataclass(frozen=True, slots=True)
class RulesConfig:
    """The settings of all rules together."""

    unknown_credential: UnknownCredentialConfig = field(default_factory=UnknownCredentialConfig)
    repeated_denials: RepeatedDenialsConfig = field(default_factory=RepeatedDenialsConfig)
    revoked_badge: RevokedBadgeConfig = field(default_factory=RevokedBadgeConfig)
    door_forced: DoorForcedConfig = field(default_factory=DoorForcedConfig)
    door_held_open: DoorHeldOpenConfig = field(default_factory=DoorHeldOpenConfig)
    camera_tamper: CameraTamperConfig = field(default_factory=CameraTamperConfig)
    zone_hours: ZoneHoursConfig = field(default_factory=ZoneHoursConfig)
    watchlist: WatchlistConfig = field(default_factory=WatchlistConfig)
    device_offline: DeviceOfflineConfig = field(default_factory=DeviceOfflineConfig)
    device_silent: DeviceSilentConfig = field(default_factory=DeviceSilentConfig)
    delivery_gap: DeliveryGapConfig = field(default_factory=DeliveryGapConfig)
    printer_fault: PrinterFaultConfig = field(default_factory=PrinterFaultConfig)
    visitor_after_closing: VisitorAfterClosingConfig = field(default_factory=VisitorAfterClosingConfig)
    item_overdue: ItemOverdueConfig = field(default_factory=ItemOverdueConfig)
    items_not_returned: ItemsNotReturnedConfig = field(default_factory=ItemsNotReturnedConfig)
