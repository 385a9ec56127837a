"""The access decision: a badge read at a door becomes a grant or a denial with one reason (pure).

Precedence, first that applies wins: unknown_credential → revoked → not_yet_valid → expired →
no_rights → out_of_schedule → anti_passback. Anti-passback is judged last and, on a grant, the
returned state records where the person now is; the given state is never changed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from broker.schemas import AccessDenied, AccessGranted, BadgeRead, DenyReason
from security.office.access.model import Directory, Match

PRECEDENCE: tuple[DenyReason, ...] = (
    DenyReason.UNKNOWN_CREDENTIAL,
    DenyReason.REVOKED,
    DenyReason.NOT_YET_VALID,
    DenyReason.EXPIRED,
    DenyReason.NO_RIGHTS,
    DenyReason.OUT_OF_SCHEDULE,
    DenyReason.ANTI_PASSBACK,
)
"""The order in which deny reasons are checked; the first that applies is the one reported."""

_NAME = re.compile(r"^[a-z0-9-]{1,64}$")


class Direction(StrEnum):
    """Which way a reader lets people through its door."""

    IN = "in"
    OUT = "out"


class AntiPassbackMode(StrEnum):
    """Hard denies a passback, soft grants it but flags it for the log, off ignores it."""

    HARD = "hard"
    SOFT = "soft"
    OFF = "off"


@dataclass(slots=True, frozen=True)
class ReaderPoint:
    """Configuration of one reader: the door it opens, the direction, the area entered, unlock time."""

    reader: int
    door: str
    direction: Direction = Direction.IN
    area: str = "site"
    unlock_s: float = 5.0

    def __post_init__(self) -> None:
        """Refuse a door name the contract would refuse and a non-positive unlock time."""
        if not _NAME.fullmatch(self.door):
            raise ValueError(f"door name must be [a-z0-9-]{{1,64}}, got {self.door!r}")
        if self.unlock_s <= 0:
            raise ValueError("unlock_s must be positive")


def reader_map(*points: ReaderPoint) -> dict[int, ReaderPoint]:
    """Reader number → its configuration; a reader configured twice is refused."""
    found: dict[int, ReaderPoint] = {}
    for point in points:
        if point.reader in found:
            raise ValueError(f"reader {point.reader} is configured twice")
        found[point.reader] = point
    return found


@dataclass(slots=True, frozen=True)
class AntiPassbackState:
    """Who is known inside or outside each area; people in neither are unknown and may go either way."""

    mode: AntiPassbackMode = AntiPassbackMode.HARD
    inside: frozenset[tuple[str, str]] = frozenset()
    outside: frozenset[tuple[str, str]] = frozenset()

    def violates(self, area: str, person_id: str, direction: Direction) -> bool:
        """Whether passing in `direction` contradicts where the person is known to be."""
        key = (area, person_id)
        return key in (self.inside if direction is Direction.IN else self.outside)

    def moved(self, area: str, person_id: str, direction: Direction) -> AntiPassbackState:
        """The state after the person passed into or out of `area`."""
        key = (area, person_id)
        if direction is Direction.IN:
            return replace(self, inside=self.inside | {key}, outside=self.outside - {key})
        return replace(self, inside=self.inside - {key}, outside=self.outside | {key})

    def reset(self, area: str | None = None, person_id: str | None = None) -> AntiPassbackState:
        """Forget positions (all, one area's, one person's or one person in one area): they become unknown."""

        def keep(key: tuple[str, str]) -> bool:
            """Whether a position survives the reset."""
            return (area is not None and key[0] != area) or (person_id is not None and key[1] != person_id)

        return replace(self, inside=frozenset(filter(keep, self.inside)),
                       outside=frozenset(filter(keep, self.outside)))


@dataclass(slots=True, frozen=True)
class Unlock:
    """The command a granted read sends the door: unlock for so many seconds."""

    door: str
    seconds: float


@dataclass(slots=True, frozen=True)
class Decision:
    """The outcome of one read: what to publish, the unlock on a grant, and the next anti-passback state."""

    event: AccessGranted | AccessDenied
    state: AntiPassbackState
    unlock: Unlock | None = None
    passback_flagged: bool = False

    @property
    def granted(self) -> bool:
        """Whether the read was granted."""
        return isinstance(self.event, AccessGranted)

    @property
    def reason(self) -> DenyReason | None:
        """The deny reason, or None on a grant."""
        return self.event.reason if isinstance(self.event, AccessDenied) else None

    @property
    def event_type(self) -> str:
        """The contract event type to publish: access.granted or access.denied."""
        return "access.granted" if self.granted else "access.denied"


def decide(
    read: BadgeRead, door: ReaderPoint, directory: Directory, state: AntiPassbackState, now: datetime
) -> Decision:
    """Grant or deny a read at a configured reader at the aware time `now`."""
    if now.utcoffset() is None:
        raise ValueError("now must be time-zone aware")
    match = directory.find(read, now)

    def deny(reason: DenyReason) -> Decision:
        """A denial for the current read."""
        person_id = match.person.id if match else None
        return Decision(AccessDenied(credential=read.credential, door=door.door, reason=reason,
                                     person_id=person_id), state)

    reason = _first_reason(match, directory, door.door, now)
    if reason is not None or match is None:
        return deny(reason or DenyReason.UNKNOWN_CREDENTIAL)
    person = match.person
    flagged = False
    if state.mode is not AntiPassbackMode.OFF and state.violates(door.area, person.id, door.direction):
        if state.mode is AntiPassbackMode.HARD:
            return deny(DenyReason.ANTI_PASSBACK)
        flagged = True
    next_state = state if state.mode is AntiPassbackMode.OFF else state.moved(
        door.area, person.id, door.direction)
    granted = AccessGranted(credential=read.credential, door=door.door, person_id=person.id)
    return Decision(granted, next_state, Unlock(door.door, door.unlock_s), flagged)


def _first_reason(match: Match | None, directory: Directory, door: str, now: datetime) -> DenyReason | None:
    """The first deny reason before anti-passback that applies, in `PRECEDENCE` order."""
    if match is None:
        return DenyReason.UNKNOWN_CREDENTIAL
    cred = match.credential
    checks: tuple[tuple[DenyReason, Callable[[], bool]], ...] = (
        (DenyReason.REVOKED, lambda: cred.is_revoked(now)),
        (DenyReason.NOT_YET_VALID, lambda: cred.is_not_yet_valid(now)),
        (DenyReason.EXPIRED, lambda: cred.is_expired(now)),
        (DenyReason.NO_RIGHTS, lambda: not directory.rights_at(match.person, door)),
        (DenyReason.OUT_OF_SCHEDULE,
         lambda: not any(r.schedule.is_open(now) for r in directory.rights_at(match.person, door))),
    )
    return next((reason for reason, applies in checks if applies()), None)
