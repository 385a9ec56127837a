"""Each door's state for the guard station, from the events and statuses it hears (pure).

A door is `offline` when its device's status says so; otherwise `forced` from `door.forced`
until it closes, `held_open` from `door.held_open` until it closes, `open` between `door.opened`
and `door.closed`, `lockdown` between a `command.sent` lock of its group and the release,
`unlocked` until the end of a guard's unlock (`command.sent`: `until`, or its time plus
`seconds`) unless `schedule` or a lock ended it, else `locked`. The clock is injected, so an
unlock runs out without an event. Badge grants are not shown: they last seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from broker.events import Event
from broker.messages import Status
from broker.schemas import CommandSent, DoorChange


class DoorState(StrEnum):
    """What the station shows for a door, the more urgent first."""

    OFFLINE = "offline"
    FORCED = "forced"
    HELD_OPEN = "held_open"
    OPEN = "open"
    LOCKDOWN = "lockdown"
    UNLOCKED = "unlocked"
    LOCKED = "locked"


@dataclass(frozen=True, slots=True)
class DoorView:
    """One door's row: its state, and until when it is unlocked."""

    door: str
    device: str
    state: DoorState
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class _Known:
    online: bool = True
    is_open: bool = False
    forced: bool = False
    held: bool = False
    lockdown: bool = False
    unlocked_until: datetime | None = None


class DoorBoard:
    """The doors of `[access.doors]` (door -> device) and what was last heard of each."""

    def __init__(self, doors: Mapping[str, str], clock: Callable[[], datetime]) -> None:
        """Know `doors`; `clock` says now (aware)."""
        self._devices = dict(doors)
        self._doors = {device: door for door, device in doors.items()}
        self._clock = clock
        self._known = {door: _Known() for door in doors}

    def on_event(self, event: Event) -> bool:
        """Learn a door's change or a service's door command; True when a door's row may have changed."""
        data = event.data
        if isinstance(data, DoorChange) and data.door in self._known:
            self._door_change(data.door, event.type)
            return True
        if isinstance(data, CommandSent) and data.door in self._known:
            self._command(data.door, data, event.service_time)
            return True
        return False

    def on_status(self, device: str, status: Status) -> bool:
        """Learn a door device's availability; True when it is one of the doors."""
        door = self._doors.get(device)
        if door is None:
            return False
        self._known[door] = replace(self._known[door], online=status.state == "online")
        return True

    def views(self) -> list[DoorView]:
        """Every door's row, in door order, as of the clock's now."""
        now = self._clock()
        return [self._view(door, now) for door in sorted(self._known)]

    def _door_change(self, door: str, event_type: str) -> None:
        known = self._known[door]
        if event_type == "door.opened":
            known = replace(known, is_open=True)
        elif event_type == "door.forced":
            known = replace(known, is_open=True, forced=True)
        elif event_type == "door.held_open":
            known = replace(known, is_open=True, held=True)
        elif event_type == "door.closed":
            known = replace(known, is_open=False, forced=False, held=False)
        self._known[door] = known

    def _command(self, door: str, sent: CommandSent, at: datetime) -> None:
        known = self._known[door]
        if sent.command == "unlock":
            end = sent.until or (at + timedelta(seconds=sent.seconds) if sent.seconds is not None else None)
            known = replace(known, unlocked_until=end)
        elif sent.command == "schedule":
            known = replace(known, unlocked_until=None)
        elif sent.command == "lock":
            known = replace(known, unlocked_until=None, lockdown=True)
        elif sent.command == "release":
            known = replace(known, lockdown=False)
        self._known[door] = known

    def _view(self, door: str, now: datetime) -> DoorView:
        known, device = self._known[door], self._devices[door]
        until = known.unlocked_until if known.unlocked_until and known.unlocked_until > now else None
        if not known.online:
            state = DoorState.OFFLINE
        elif known.forced:
            state = DoorState.FORCED
        elif known.held:
            state = DoorState.HELD_OPEN
        elif known.is_open:
            state = DoorState.OPEN
        elif known.lockdown:
            state = DoorState.LOCKDOWN
        elif until is not None:
            state = DoorState.UNLOCKED
        else:
            state = DoorState.LOCKED
        return DoorView(door, device, state, until if state is DoorState.UNLOCKED else None)
