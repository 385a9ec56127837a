"""Who is on site now: the muster list folded from visitor and access events (pure).

`access.granted` carries no direction in the contract, so the caller says which way each grant
went (`direction_of`, e.g. from the reader configuration at decision time); a grant whose direction
is unknown counts as coming in, since it proves the person was at a door of the site.

Events are taken in the order the central service received them and dated by its clock
(`Event.service_time`), not the device's: a device whose clock says 2099 cannot keep someone on
the list after they left, nor reorder a check-out before its check-in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from broker.events import Event
from broker.schemas import AccessGranted, VisitorCheckedIn, VisitorCheckedOut
from security.office.access.decision import Direction
from security.office.access.model import Person, PersonKind


@dataclass(slots=True, frozen=True)
class OnSite:
    """One person on site: who, what kind, since when, and where they were last seen."""

    person_id: str
    name: str
    kind: PersonKind
    since: datetime
    last_door: str | None = None
    company: str | None = None
    host: str | None = None


def on_site(
    events: Iterable[Event],
    people: Mapping[str, Person],
    direction_of: Callable[[Event], Direction | None] = lambda _event: None,
) -> tuple[OnSite, ...]:
    """The muster list after `events` (taken in receive order): visitors first, then employees, by name."""
    present: dict[str, OnSite] = {}
    for event in sorted(events, key=lambda e: (e.service_time, e.source, e.seq)):
        data = event.data
        if isinstance(data, VisitorCheckedIn):
            present[data.visit_id] = OnSite(
                data.visit_id, data.visitor_name, PersonKind.VISITOR, event.service_time,
                company=data.company, host=data.host_name or data.host_id)
        elif isinstance(data, VisitorCheckedOut):
            present.pop(data.visit_id, None)
        elif isinstance(data, AccessGranted) and data.person_id is not None:
            _granted(present, data, event, people, direction_of(event))
    order = {PersonKind.VISITOR: 0, PersonKind.EMPLOYEE: 1}
    return tuple(sorted(present.values(), key=lambda p: (order[p.kind], p.name.casefold(), p.person_id)))


def _granted(
    present: dict[str, OnSite], data: AccessGranted, event: Event, people: Mapping[str, Person],
    direction: Direction | None,
) -> None:
    """Fold one grant: an employee coming in is added, going out removed; visitors keep their check-in."""
    pid = data.person_id
    assert pid is not None
    known = present.get(pid)
    if known is not None and known.kind is PersonKind.VISITOR:
        present[pid] = OnSite(known.person_id, known.name, known.kind, known.since, data.door,
                              known.company, known.host)
        return
    if direction is Direction.OUT:
        present.pop(pid, None)
        return
    person = people.get(pid)
    if person is None or person.kind is PersonKind.VISITOR:
        return
    since = known.since if known is not None else event.service_time
    present[pid] = OnSite(pid, person.name, person.kind, since, data.door)


def render_muster(entries: Iterable[OnSite], now: datetime, site: str = "") -> str:
    """A plain-text muster list to print: a heading, counts, then one line per person to tick off."""
    rows = tuple(entries)
    visitors = [e for e in rows if e.kind is PersonKind.VISITOR]
    staff = [e for e in rows if e.kind is PersonKind.EMPLOYEE]
    title = f"MUSTER LIST {site}".rstrip()
    lines = [title, f"as of {now.isoformat(timespec='minutes')}",
             f"on site: {len(rows)} ({len(visitors)} visitors, {len(staff)} employees)", ""]
    for heading, group in (("VISITORS", visitors), ("EMPLOYEES", staff)):
        lines.append(f"{heading} ({len(group)})")
        for entry in group:
            extra = ", ".join(x for x in (entry.company, f"host {entry.host}" if entry.host else None) if x)
            door = f" last at {entry.last_door}" if entry.last_door else ""
            since = entry.since.astimezone(now.tzinfo).strftime("%H:%M")
            lines.append(f"[ ] {entry.name:<30} {entry.person_id:<16} since {since}{door}"
                         + (f"  ({extra})" if extra else ""))
        if not group:
            lines.append("    (none)")
        lines.append("")
    return "\n".join(lines)
