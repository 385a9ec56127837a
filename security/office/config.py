"""The back office's settings from the TOML file's `[access]` and `[alarms]` sections (pure).

Rule settings are written per rule under `[alarms.rules.<rule-name>]`, with the field names of
`security.office.alarms.config` (e.g. `count`, `window_s`, `priority`); an unknown rule or key is an error.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from datetime import time, tzinfo
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from broker import topics
from broker.config import ConfigError, read_toml
from broker.schemas import Priority
from security.office.access import AntiPassbackMode, CredentialFormat, Direction, ReaderPoint
from security.office.alarms import BookConfig, EscalationStep, RuleName, RulesConfig, ZoneSchedule
from security.office.alarms.book import DEFAULT_ESCALATION
from security.office.alarms.guidance import DEFAULT_PROCEDURES, MAX_CAMERAS, MAX_PROCEDURE, AlarmGuidance
from security.office.alarms.tour_plan import Checkpoint, TagKind, Tour, TourPlan, TourPriorities, TourSchedule

_FIELD_OF_RULE: dict[RuleName, str] = {
    RuleName.UNKNOWN_CREDENTIAL: "unknown_credential",
    RuleName.REPEATED_DENIALS: "repeated_denials",
    RuleName.REVOKED_BADGE: "revoked_badge",
    RuleName.DOOR_FORCED: "door_forced",
    RuleName.DOOR_HELD_OPEN: "door_held_open",
    RuleName.CAMERA_TAMPER: "camera_tamper",
    RuleName.ZONE_AFTER_HOURS: "zone_hours",
    RuleName.WATCHLIST_MATCH: "watchlist",
    RuleName.DEVICE_OFFLINE: "device_offline",
    RuleName.DEVICE_SILENT: "device_silent",
    RuleName.DELIVERY_GAP: "delivery_gap",
    RuleName.PRINTER_FAULT: "printer_fault",
    RuleName.VISITOR_AFTER_CLOSING: "visitor_after_closing",
    RuleName.ITEM_OVERDUE: "item_overdue",
    RuleName.ITEMS_NOT_RETURNED: "items_not_returned",
}
"""`[alarms.rules.<rule-name>]` → the RulesConfig field holding that rule's settings."""


def _name(value: str) -> str:
    try:
        return topics.check_name(value, "name")
    except topics.TopicError as exc:
        raise ValueError(str(exc)) from None


class ReaderEntry(BaseModel):
    """One reader of one device: the door it opens, which way, into which area."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    device: str = Field(description="The reader's device name (its MQTT principal).")
    reader: int = Field(default=1, ge=0, le=255, description="Reader number in its badge.read events.")
    door: str = Field(description="The door this reader opens.")
    direction: Direction = Field(default=Direction.IN, description="in or out of `area`.")
    area: str = Field(default="site", description="The area entered (anti-passback, muster list).")
    unlock_s: float = Field(default=5.0, gt=0, le=600, description="Seconds the door unlocks on a grant.")

    _device = field_validator("device", "door")(_name)

    def point(self) -> ReaderPoint:
        """The pure decision's view of this reader."""
        return ReaderPoint(self.reader, self.door, self.direction, self.area, self.unlock_s)


class AccessSection(BaseModel):
    """`[access]`: readers, the door devices that take `unlock`, anti-passback and visitor badges."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    readers: list[ReaderEntry] = Field(default_factory=list, description="Readers and their doors.")
    doors: dict[str, str] = Field(default_factory=dict,
                                  description="Door name → the door device that takes its unlock command.")
    anti_passback: AntiPassbackMode = Field(default=AntiPassbackMode.SOFT, description="hard, soft or off.")
    visitor_badge_format: CredentialFormat = Field(
        default=CredentialFormat.QR, description="Format of the badges the kiosk prints for visitors.")
    unlock_deadline_s: float = Field(
        default=3.0, gt=0, le=60, description="An unlock not obeyed this long after the read is dropped.")
    visit_horizon_days: int = Field(default=7, ge=1, description="Visits older than this are not reloaded.")

    @field_validator("doors")
    @classmethod
    def _doors(cls, value: dict[str, str]) -> dict[str, str]:
        for door, device in value.items():
            _name(door)
            _name(device)
        return value

    def reader_points(self) -> dict[tuple[str, int], ReaderPoint]:
        """(device, reader) → its configuration; a reader listed twice is refused."""
        found: dict[tuple[str, int], ReaderPoint] = {}
        for entry in self.readers:
            key = (entry.device, entry.reader)
            if key in found:
                raise ConfigError(f"[access] reader {entry.reader} of {entry.device} is listed twice")
            found[key] = entry.point()
        return found


class EscalationEntry(BaseModel):
    """One escalation step of a priority."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    after_s: float = Field(gt=0, description="Seconds unacknowledged after raising.")
    level: int = Field(ge=1, le=9, description="The level reached.")
    notify: list[str] = Field(description="Roles told (see [notify.roles]).")


class AlarmsSection(BaseModel):
    """`[alarms]`: the site's time zone, rule settings, shelving limit and escalation per priority."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    timezone: str = Field(default="UTC", description="IANA zone for zone hours and closing time.")
    max_shelve_h: float = Field(default=8.0, gt=0, le=72, description="Longest shelve, in hours.")
    tick_s: float = Field(default=1.0, gt=0, le=60, description="How often clock-driven rules run.")
    rules: dict[str, dict[str, Any]] = Field(default_factory=dict, description="Settings per rule name.")
    escalation: dict[Priority, list[EscalationEntry]] | None = Field(
        default=None, description="Escalation steps per priority (default: DEFAULT_ESCALATION).")
    procedures: dict[str, str] = Field(
        default_factory=dict, description="What to do per rule name, over DEFAULT_PROCEDURES (\"\": none).")
    cameras: dict[str, list[str]] = Field(
        default_factory=dict, description="The camera devices that show each door or zone.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    def rules_config(self) -> RulesConfig:
        """Every rule's settings: the defaults with this section's values over them."""
        tz = ZoneInfo(self.timezone)
        changes: dict[str, Any] = {}
        for rule, values in self.rules.items():
            try:
                field = _FIELD_OF_RULE[RuleName(rule)]
            except (ValueError, KeyError):  # a tour rule's settings are in [tours]
                known = ", ".join(sorted(_FIELD_OF_RULE))
                raise ConfigError(f"[alarms.rules] unknown rule {rule!r}; known: {known}") from None
            default = getattr(RulesConfig(), field)
            changes[field] = _settings(default, values, tz, rule)
        if "tz" not in self.rules.get(RuleName.VISITOR_AFTER_CLOSING, {}):  # the site's zone by default
            closing = changes.get("visitor_after_closing", RulesConfig().visitor_after_closing)
            changes["visitor_after_closing"] = dataclasses.replace(closing, tz=tz)
        return RulesConfig(**changes)

    def guidance(self) -> AlarmGuidance:
        """The procedures per rule and the cameras per door or zone; ConfigError names what is wrong."""
        procedures = dict(DEFAULT_PROCEDURES)
        known = {str(r) for r in RuleName}
        for rule, written in self.procedures.items():
            if rule not in known:
                rules = ", ".join(sorted(known))
                raise ConfigError(f"[alarms.procedures] unknown rule {rule!r}; known: {rules}")
            text = written.strip()
            if len(text) > MAX_PROCEDURE:
                too_long = f"{len(text)} characters; at most {MAX_PROCEDURE}"
                raise ConfigError(f"[alarms.procedures] {rule}: {too_long}")
            if text:
                procedures[rule] = text
            else:
                procedures.pop(rule, None)
        cameras: dict[str, tuple[str, ...]] = {}
        for place, devices in self.cameras.items():
            try:
                names = tuple(_name(p) for p in (place, *devices))
            except ValueError as exc:
                raise ConfigError(f"[alarms.cameras] {place!r}: {exc}") from None
            if not devices or len(devices) > MAX_CAMERAS or len(set(devices)) != len(devices):
                raise ConfigError(f"[alarms.cameras] {place}: 1 to {MAX_CAMERAS} different cameras")
            cameras[place] = names[1:]
        return AlarmGuidance(MappingProxyType(procedures), MappingProxyType(cameras))

    def book_config(self) -> BookConfig:
        """The alarm book's settings."""
        steps: Mapping[Priority, tuple[EscalationStep, ...]] = DEFAULT_ESCALATION
        if self.escalation is not None:
            steps = {p: tuple(EscalationStep(e.after_s, e.level, tuple(e.notify)) for e in entries)
                     for p, entries in self.escalation.items()}
        return BookConfig(max_shelve_s=self.max_shelve_h * 3600, escalation=steps)


def _settings(default: Any, values: Mapping[str, Any], tz: tzinfo, rule: str) -> Any:
    """`default` (a rule's settings dataclass) with `values` coerced to the types of its fields."""
    fields = {f.name: f for f in dataclasses.fields(default)}
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key not in fields:
            raise ConfigError(f"[alarms.rules.{rule}] unknown setting {key!r}; known: {', '.join(fields)}")
        current = getattr(default, key)
        try:
            out[key] = _coerce(current, value, tz, key)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"[alarms.rules.{rule}] {key}: {exc}") from None
    return dataclasses.replace(default, **out)


def _coerce(current: Any, value: Any, tz: tzinfo, key: str) -> Any:
    """`value` from TOML as the type of `current`."""
    if key == "zones":
        return tuple(_zone(z, tz) for z in value)
    if isinstance(current, (bool, int, float)):
        return _number(current, value)
    if isinstance(current, frozenset):
        kind = type(next(iter(current))) if current else str
        return frozenset(kind(v) for v in value)
    converters: tuple[tuple[type, Any], ...] = (
        (Priority, Priority), (time, time.fromisoformat), (tzinfo, ZoneInfo))
    for kind, convert in converters:
        if isinstance(current, kind):
            return convert(value)
    raise TypeError(f"cannot set {key} from the config file")


def _number(current: bool | float, value: Any) -> bool | float:
    """A flag or a non-negative number of the same type as `current`."""
    if isinstance(current, bool):
        if not isinstance(value, bool):
            raise TypeError(f"expected true or false, got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise TypeError(f"expected a number >= 0, got {value!r}")
    return type(current)(value)


def _zone(doc: Mapping[str, Any], tz: tzinfo) -> ZoneSchedule:
    unknown = set(doc) - {"zone", "opens", "closes", "days"}
    if unknown:
        raise ValueError(f"unknown zone key(s) {', '.join(sorted(unknown))}")
    base = ZoneSchedule(zone=_name(str(doc["zone"])), tz=tz)
    return dataclasses.replace(
        base,
        opens=time.fromisoformat(doc["opens"]) if "opens" in doc else base.opens,
        closes=time.fromisoformat(doc["closes"]) if "closes" in doc else base.closes,
        days=frozenset(int(d) for d in doc["days"]) if "days" in doc else base.days,
    )


class TourPrioritiesEntry(BaseModel):
    """`priorities` of `[tours]` or of one tour: the priority of each tour alarm."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    early: Priority = Field(default=Priority.LOW, description="tour-checkpoint-early")
    late: Priority = Field(default=Priority.MEDIUM, description="tour-checkpoint-late")
    missed: Priority = Field(default=Priority.HIGH, description="tour-checkpoint-missed")
    out_of_sequence: Priority = Field(default=Priority.MEDIUM, description="tour-out-of-sequence")
    not_started: Priority = Field(default=Priority.HIGH, description="tour-not-started")

    def priorities(self) -> TourPriorities:
        """As the tracker's value."""
        return TourPriorities(self.early, self.late, self.missed, self.out_of_sequence, self.not_started)


class CheckpointEntry(BaseModel):
    """One checkpoint: a badge read at a reader or a QR text scanned, within minutes of the previous one."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(description="The checkpoint's name, unique in its tour.")
    badge: str | None = Field(default=None, description="A credential value (hex) read as badge.read.")
    qr: str | None = Field(default=None, min_length=1, max_length=512, description="A code.scanned text.")
    device: str | None = Field(default=None, description="The reader or scanner that must read it.")
    min_minutes: float = Field(default=0.0, ge=0, le=1440, description="Earliest, after the previous one.")
    max_minutes: float = Field(default=15.0, gt=0, le=1440, description="Latest, after the previous one.")

    _names = field_validator("name", "device")(lambda v: v if v is None else _name(v))

    @field_validator("badge")
    @classmethod
    def _hex(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[0-9A-Fa-f]{1,64}", value):
            raise ValueError(f"badge {value!r} is not a credential value (1 to 64 hex digits)")
        return None if value is None else value.upper()

    @model_validator(mode="after")
    def _one_tag(self) -> CheckpointEntry:
        if (self.badge is None) == (self.qr is None):
            raise ValueError(f"checkpoint {self.name}: give exactly one of badge or qr")
        if self.max_minutes < self.min_minutes:
            raise ValueError(f"checkpoint {self.name}: max_minutes {self.max_minutes:g} is less than "
                             f"min_minutes {self.min_minutes:g}")
        return self

    def checkpoint(self) -> Checkpoint:
        """As the tracker's value."""
        kind, tag = (TagKind.BADGE, self.badge) if self.badge is not None else (TagKind.QR, self.qr)
        assert tag is not None
        return Checkpoint(self.name, kind, tag, self.min_minutes * 60, self.max_minutes * 60, self.device)


class TourScheduleEntry(BaseModel):
    """`schedule` of a tour: a round due every N minutes from `start` until `end`, local time."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    every_minutes: float = Field(ge=1, le=1440, description="Minutes between rounds.")
    start: time = Field(description="First round of the day, local time (e.g. 22:00).")
    end: time = Field(description="No round due from then on; at or before start: the next day.")
    days: list[int] = Field(default_factory=lambda: list(range(7)), description="Days (0 = Monday).")

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[int]) -> list[int]:
        if not value or any(not 0 <= d <= 6 for d in value):
            raise ValueError("days are 0 (Monday) to 6 (Sunday), at least one")
        return value

    def schedule(self, tz: tzinfo) -> TourSchedule:
        """As the tracker's value, in the site's zone."""
        return TourSchedule(self.every_minutes * 60, self.start, self.end, frozenset(self.days), tz)


MAX_TOUR_NAME = 47
"""Longest tour name: with `-YYYYMMDDTHHMMSSZ` a round's id fits the contract's 64 characters."""


class TourEntry(BaseModel):
    """`[[tours.tour]]`: a tour's checkpoints in order, its schedule (optional) and priorities."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(description="The tour's name (in its events and alarm keys).")
    checkpoints: list[CheckpointEntry] = Field(min_length=1, max_length=999, description="In order.")
    schedule: TourScheduleEntry | None = Field(default=None, description="None: started by a guard.")
    priorities: TourPrioritiesEntry | None = Field(default=None, description="Else [tours.priorities].")

    @field_validator("name")
    @classmethod
    def _tour_name(cls, value: str) -> str:
        if len(value) > MAX_TOUR_NAME:  # a round's id is the name and its start time, at most 64 characters
            raise ValueError(f"a tour name has at most {MAX_TOUR_NAME} characters")
        return _name(value)

    @model_validator(mode="after")
    def _unique_names(self) -> TourEntry:
        names = [c.name for c in self.checkpoints]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"tour {self.name}: checkpoint(s) {', '.join(twice)} listed twice")
        return self


class ToursSection(BaseModel):
    """`[tours]`: guard tours, the devices their checkpoints may name, and default alarm priorities."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    enabled: bool = Field(default=True, description="false: checkpoint tags are ignored like any badge.")
    devices: list[str] = Field(default_factory=list,
                               description="Readers and scanners listed in another host's site file.")
    priorities: TourPrioritiesEntry = Field(default_factory=TourPrioritiesEntry)
    tour: list[TourEntry] = Field(default_factory=list, description="The tours, one [[tours.tour]] each.")

    _devices = field_validator("devices")(lambda v: [_name(d) for d in v])

    def plan(self, tz: tzinfo) -> TourPlan:
        """The tracker's plan; ConfigError for a tour named twice or a tag on two checkpoints."""
        tours: list[Tour] = []
        tags: dict[tuple[TagKind, str], str] = {}
        seen: set[str] = set()
        for entry in self.tour:
            if entry.name in seen:
                raise ConfigError(f"[tours] tour {entry.name} is listed twice")
            seen.add(entry.name)
            for c in entry.checkpoints:
                checkpoint = c.checkpoint()
                where = f"{entry.name}/{c.name}"
                other = tags.setdefault((checkpoint.kind, checkpoint.tag), where)
                if other != where:
                    raise ConfigError(f"[tours] {checkpoint.kind} tag {checkpoint.tag} is on both {other} "
                                      f"and {where}")
            priorities = (entry.priorities or self.priorities).priorities()
            schedule = entry.schedule.schedule(tz) if entry.schedule else None
            tours.append(Tour(entry.name, tuple(c.checkpoint() for c in entry.checkpoints), schedule,
                              priorities))
        return TourPlan(tuple(tours), self.enabled, tz)

    def check_devices(self, known: set[str]) -> None:
        """ConfigError for a checkpoint whose device is unknown (not a reader, device or `devices` name)."""
        known = known | set(self.devices)
        for entry in self.tour:
            for c in entry.checkpoints:
                if c.device is not None and c.device not in known:
                    raise ConfigError(f"[tours] checkpoint {entry.name}/{c.name}: unknown device {c.device} "
                                      "(not in [access] readers, [[devices.*]] or [tours] devices)")


def listed_devices(doc: Mapping[str, Any]) -> set[str]:
    """Device names in the file's `[[devices.KIND]]` tables (checked in full by the devices' runner)."""
    devices = doc.get("devices")
    if not isinstance(devices, Mapping):
        return set()
    return {str(d["name"]) for tables in devices.values() if isinstance(tables, list)
            for d in tables if isinstance(d, Mapping) and "name" in d}


def read_office_config(path: str | Path | None) -> OfficeConfig:
    """The back office's settings from the TOML file at `path` (None: every default)."""
    if path is None:
        return OfficeConfig()
    return OfficeConfig.from_document(read_toml(path), f"config file {path}")


class OfficeConfig(BaseModel):
    """The back office's sections of the TOML file."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    access: AccessSection = Field(default_factory=AccessSection)
    alarms: AlarmsSection = Field(default_factory=AlarmsSection)
    tours: ToursSection = Field(default_factory=ToursSection)

    @classmethod
    def from_document(cls, doc: Mapping[str, Any], where: str = "config") -> OfficeConfig:
        """Read the sections from a parsed TOML document; ConfigError names what is wrong."""
        try:
            config = cls.model_validate(doc)
            config.access.reader_points()
            config.alarms.rules_config()
            config.alarms.guidance()
            config.tours.plan(ZoneInfo(config.alarms.timezone))
            readers = {r.device for r in config.access.readers}
            config.tours.check_devices(readers | listed_devices(doc))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ConfigError(f"{where}: {problems}") from None
        return config

