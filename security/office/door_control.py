"""Guards' door commands, planned (pure): which door devices get which command, or why not.

An unlock (for seconds or until a time) and back-to-schedule name one door device; a lockdown
(`lock`) and its `release` name a door group of the directory and go to every door of it that
has a device in `[access.doors]`. The engine sends, audits and records what this plans.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from broker.commands import Args, LockArgs, ReleaseArgs, ScheduleArgs, UnlockArgs
from broker.schemas import MAX_UNLOCK_UNTIL_S

UNLOCK, SCHEDULE, LOCK, RELEASE = UnlockArgs.NAME, ScheduleArgs.NAME, LockArgs.NAME, ReleaseArgs.NAME
GROUP_COMMANDS = frozenset({LOCK, RELEASE})
"""Commands that name a door group (a lockdown and its release)."""
MANUAL_UNLOCK_S = 5.0
"""Seconds a door unlocks for when a person asks without saying how long."""


@dataclass(frozen=True, slots=True)
class CommandRequest:
    """A person asks the service to send a door a command (from a station's event or the API).

    `device` names the door device; for `lock` and `release`, `group` names the door group instead
    and `device` is empty.
    """

    device: str
    command: str
    by: str
    seconds: float | None = None
    note: str | None = None
    until: datetime | None = None
    group: str | None = None

    @property
    def target(self) -> str:
        """What the request is about, as the audit log names it."""
        return f"door-group:{self.group}" if self.group is not None else f"device:{self.device}"


@dataclass(frozen=True, slots=True)
class DoorOrder:
    """One command for one door device."""

    device: str
    door: str
    args: Args

    @property
    def seconds(self) -> float | None:
        """The seconds of an unlock for a while (None for anything else)."""
        return self.args.seconds if isinstance(self.args, UnlockArgs) else None


@dataclass(frozen=True, slots=True)
class DoorPlan:
    """The orders of one request, and the doors in lockdown after it."""

    orders: tuple[DoorOrder, ...]
    lockdown: frozenset[str]


def plan(request: CommandRequest, doors: Mapping[str, str], groups: Callable[[str], frozenset[str]],
         lockdown: frozenset[str], now: datetime) -> DoorPlan | str:
    """The orders for `request` (`doors`: door -> device; `groups`: a group's doors), or why it is refused."""
    if request.command in GROUP_COMMANDS:
        return _group(request, doors, groups, lockdown)
    if request.group is not None:
        return f"{request.command} names a door device, not a door group"
    return _device(request, doors, lockdown, now)


def _device(request: CommandRequest, doors: Mapping[str, str], lockdown: frozenset[str],  # noqa: PLR0911
            now: datetime) -> DoorPlan | str:
    """An unlock or back-to-schedule of one door device."""
    by_device = {device: door for door, device in doors.items()}
    door = by_device.get(request.device)
    if door is None:
        return f"{request.device} is not a door device in [access.doors]"
    if request.command == SCHEDULE:
        return DoorPlan((DoorOrder(request.device, door, ScheduleArgs()),), lockdown)
    if request.command != UNLOCK:
        return f"the service sends no {request.command!r} command on request"
    if door in lockdown:
        return f"door {door} is in lockdown: release its group first"
    if request.until is None:
        seconds = request.seconds if request.seconds is not None else MANUAL_UNLOCK_S
        return DoorPlan((DoorOrder(request.device, door, UnlockArgs(seconds=seconds)),), lockdown)
    if request.seconds is not None:
        return "unlock takes seconds or until, not both"
    ahead = (request.until - now).total_seconds()
    if not 0 < ahead <= MAX_UNLOCK_UNTIL_S:
        return (f"unlock until {request.until.isoformat()} is not within the next"
                f" {MAX_UNLOCK_UNTIL_S / 3600:g} h")
    return DoorPlan((DoorOrder(request.device, door, UnlockArgs(until=request.until)),), lockdown)


def _group(request: CommandRequest, doors: Mapping[str, str], groups: Callable[[str], frozenset[str]],
           lockdown: frozenset[str]) -> DoorPlan | str:
    """A lockdown or release of every door of a group (doors without a device are only marked)."""
    if request.group is None:
        return f"{request.command} names a door group"
    members = groups(request.group)
    if not members:
        return f"no door group {request.group!r} with doors in the directory"
    args: Args = LockArgs(lockdown=True) if request.command == LOCK else ReleaseArgs()
    orders = tuple(DoorOrder(doors[door], door, args) for door in sorted(members) if door in doors)
    after = lockdown | members if request.command == LOCK else lockdown - members
    return DoorPlan(orders, frozenset(after))


def audit_details(request: CommandRequest, planned: DoorPlan, ids: list[str], expires: datetime,
                  origin: str) -> dict[str, object]:
    """What the audit log keeps of a request that was sent."""
    details: dict[str, object] = {"origin": origin, "command": request.command,
                                  "expires": expires.isoformat(), "doors": [o.door for o in planned.orders]}
    if request.group is None:
        details["command_id"] = ids[0]
    else:
        details.update(group=request.group, command_ids=ids)
    if request.note:
        details["note"] = request.note
    if request.until is not None:
        details["until"] = request.until.isoformat()
    seconds = planned.orders[0].seconds if planned.orders else None
    if seconds is not None:
        details["seconds"] = seconds
    return details
