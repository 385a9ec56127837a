"""What a guard is told with an alarm: its rule's procedure and the cameras of its door or zone (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from security.office.alarms.conditions import RuleName

MAX_PROCEDURE = 1000
"""The longest procedure text a site may write for a rule."""

MAX_CAMERAS = 8
"""At most this many cameras are named for one door or zone."""

DEFAULT_PROCEDURES: Mapping[str, str] = MappingProxyType({
    RuleName.DOOR_FORCED: (
        "Look at the door's camera first. Send the nearest guard to the door; do not go alone at night. "
        "If someone got in, note what they look like and where they went, and call the police. "
        "Once the door is closed and checked, write what was found when resolving."),
    RuleName.DOOR_HELD_OPEN: (
        "Look at the door's camera: is it propped open, blocked or broken? Ask a guard nearby to close it "
        "and check that the latch holds. If it will not close, keep someone at the door and call "
        "maintenance."),
    RuleName.CAMERA_TAMPER: (
        "Look at the camera's last snapshot. Send a guard to see whether it was covered, turned or "
        "blinded, and to look around it: tampering often comes before an intrusion."),
    RuleName.ZONE_AFTER_HOURS: (
        "Look at the zone's cameras. If the person is not known to work late, send two guards to ask "
        "who they are; call the police if they run or will not say."),
    RuleName.WATCHLIST_MATCH: (
        "Silent alarm: do not tell the visitor. Keep the visit at the desk, tell the supervisor at once "
        "and follow their instructions."),
    RuleName.REVOKED_BADGE: (
        "The badge belongs to a visitor who checked out. Send a guard to the reader to take the badge "
        "back and to see who holds it."),
    RuleName.REPEATED_DENIALS: (
        "Someone keeps trying a door or a badge. Look at the door's camera and send a guard to check."),
    RuleName.DEVICE_OFFLINE: (
        "Check the device's power and network. A door controller or camera offline leaves that place "
        "unwatched: send a guard there until it is back."),
    RuleName.PRINTER_FAULT: (
        "Refill the paper or close the printer head; badges cannot be printed until then."),
})
"""Procedures for a real site's built-in rules, used unless `[alarms.procedures]` writes its own."""

PLACE_RULES = frozenset({RuleName.DOOR_FORCED, RuleName.DOOR_HELD_OPEN, RuleName.ZONE_AFTER_HOURS})
"""Rules whose alarm key is `<rule>:<door or zone>`."""


def place_of(rule: str, key: str) -> str | None:
    """The door or zone an alarm is about, read from its key, or None for other rules."""
    prefix = f"{rule}:"
    if rule in PLACE_RULES and key.startswith(prefix):
        return key[len(prefix):] or None
    if rule == RuleName.REPEATED_DENIALS and key.startswith(f"{prefix}door:"):
        return key[len(prefix) + len("door:"):] or None
    return None


@dataclass(frozen=True, slots=True)
class AlarmGuidance:
    """The procedure of each rule and the cameras (device names) of each door or zone."""

    procedures: Mapping[str, str] = field(default_factory=lambda: DEFAULT_PROCEDURES)
    cameras: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))

    def procedure(self, rule: str) -> str | None:
        """What to do for an alarm of `rule`, if the site says."""
        return self.procedures.get(rule)

    def cameras_for(self, rule: str, key: str) -> tuple[str, ...]:
        """The cameras (device names) that show an alarm's door or zone; none for other alarms."""
        place = place_of(rule, key)
        return self.cameras.get(place, ()) if place is not None else ()
