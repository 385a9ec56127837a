"""What the guard station remembers of recent visits: who checked in, their photo, their screenings (pure).

Fed with the events the station sees live, it answers which visitor is behind an alarm whose
`cause` names a `visitor.screened` event. A station that started after the check-in has not seen
it: it says so instead of showing nothing. No toolkit is imported here; call from one thread.
"""

from __future__ import annotations

import base64
import binascii
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from broker.events import Event
from broker.schemas import VisitorCheckedIn, VisitorPhoto, VisitorScreened
from security.office.alarms.conditions import RuleName

VISITS = 100
"""How many visits (and screenings) the station remembers by default, the newest ones."""
JPEG_START = b"\xff\xd8"
"""The first two bytes of every JPEG file."""

NOT_AT_THIS_STATION = "photo not available at this station"
"""The note of a visitor photo the station never received (it started after the check-in)."""
PhotoState = Literal["unknown", "taken", "not taken", "removed", "unreadable"]
_NOTES: dict[PhotoState, str] = {
    "unknown": NOT_AT_THIS_STATION,
    "taken": "",
    "not taken": "no photo was taken at check-in",
    "removed": "no photo: removed by retention",
    "unreadable": "the photo could not be read",
}


@dataclass(slots=True, frozen=True)
class Photo:
    """A visitor's photo as the kiosk sent it: JPEG bytes and the size it gave (None: not given)."""

    jpeg: bytes
    width: int | None = None
    height: int | None = None


@dataclass(slots=True, frozen=True)
class Visit:
    """What the station knows of one visit; `photo` is None unless a readable photo is held."""

    visit_id: str
    name: str | None = None
    company: str | None = None
    photo: Photo | None = None
    photo_state: PhotoState = "unknown"
    photo_at: datetime | None = None


@dataclass(slots=True, frozen=True)
class Screening:
    """One `visitor.screened` event: the visit it belongs to and its result."""

    visit_id: str
    result: str
    score: float | None = None
    entry_id: str | None = None


@dataclass(slots=True, frozen=True)
class VisitorDetails:
    """What the station shows about the visitor behind the selected alarm (None: not known here)."""

    visit_id: str | None
    name: str | None
    company: str | None
    score: float | None
    entry_id: str | None
    photo: Photo | None
    photo_note: str

    @property
    def who(self) -> str:
        """The visitor's name, or what is known instead, e.g. 'visit K7QX4M2P9A (name not known here)'."""
        if self.name:
            return self.name
        if self.visit_id:
            return f"visit {self.visit_id} (name not known at this station)"
        return "visitor not known at this station"

    @property
    def match(self) -> str:
        """The watchlist match, e.g. 'watchlist match 93% · entry wl-0042' ('' when not known here)."""
        parts = []
        if self.score is not None:
            parts.append(f"watchlist match {self.score:.0%}")
        if self.entry_id:
            parts.append(f"entry {self.entry_id}")
        return " · ".join(parts)


class Visits:
    """The newest visits by id and the newest screenings by event id, each bounded to `limit`."""

    def __init__(self, *, limit: int = VISITS) -> None:
        """Remember at most `limit` visits and `limit` screenings (the oldest are forgotten first)."""
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        self._limit = limit
        self._visits: OrderedDict[str, Visit] = OrderedDict()
        self._screenings: OrderedDict[str, Screening] = OrderedDict()

    def __len__(self) -> int:
        """How many visits are remembered."""
        return len(self._visits)

    def on_event(self, event: Event) -> bool:
        """Learn from one event; returns True when it told something about a visit."""
        data = event.data
        if isinstance(data, VisitorCheckedIn):
            visit = self._visit(data.visit_id)
            state = visit.photo_state
            if state == "unknown" and data.photo is None:
                state = "not taken"
            self._keep(replace(visit, name=data.visitor_name, company=data.company, photo_state=state))
            return True
        if isinstance(data, VisitorPhoto):
            visit = self._visit(data.visit_id)
            if visit.photo_at is not None and event.time < visit.photo_at:
                return False  # an older photo than the one held
            photo = _decode(data)
            held: PhotoState = "removed" if data.jpeg is None else ("taken" if photo else "unreadable")
            self._keep(replace(visit, photo=photo, photo_state=held, photo_at=event.time))
            return True
        if isinstance(data, VisitorScreened):
            self._screenings[event.id] = Screening(data.visit_id, data.result, data.score, data.entry_id)
            self._screenings.move_to_end(event.id)
            if len(self._screenings) > self._limit:
                self._screenings.popitem(last=False)
            return True
        return False

    def visit(self, visit_id: str) -> Visit | None:
        """What is known of one visit, or None."""
        return self._visits.get(visit_id)

    def screening(self, event_id: str) -> Screening | None:
        """The `visitor.screened` event with this id, or None if not seen (or forgotten)."""
        return self._screenings.get(event_id)

    def for_alarm(self, rule: str, cause: Sequence[str]) -> VisitorDetails | None:
        """The visitor behind an alarm's newest screened cause; a watchlist alarm not seen here says so."""
        for event_id in reversed(cause):
            screening = self._screenings.get(event_id)
            if screening is None:
                continue
            visit = self._visits.get(screening.visit_id) or Visit(screening.visit_id)
            return VisitorDetails(
                visit_id=visit.visit_id,
                name=visit.name,
                company=visit.company,
                score=screening.score,
                entry_id=screening.entry_id,
                photo=visit.photo,
                photo_note=_NOTES[visit.photo_state],
            )
        if rule == RuleName.WATCHLIST_MATCH:
            return VisitorDetails(None, None, None, None, None, None, NOT_AT_THIS_STATION)
        return None

    def _visit(self, visit_id: str) -> Visit:
        return self._visits.get(visit_id) or Visit(visit_id)

    def _keep(self, visit: Visit) -> None:
        self._visits[visit.visit_id] = visit
        self._visits.move_to_end(visit.visit_id)
        if len(self._visits) > self._limit:
            self._visits.popitem(last=False)


def _decode(data: VisitorPhoto) -> Photo | None:
    if data.jpeg is None:
        return None
    try:
        jpeg = base64.b64decode(data.jpeg, validate=True)
    except (binascii.Error, ValueError):
        return None
    if not jpeg.startswith(JPEG_START):
        return None
    return Photo(jpeg, data.width, data.height)
