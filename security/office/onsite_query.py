"""Who is on site now: the muster list folded from the stored visitor and access events."""

from __future__ import annotations

from datetime import datetime, timedelta

from broker.events import Event
from broker.schemas import AccessGranted
from security.office.access import Direction, OnSite, on_site
from security.storage import EventStore
from security.storage.directory import load_directory

ON_SITE_TYPES = ("visitor.checked_in", "visitor.checked_out", "access.granted")
"""The event types the muster list is folded from."""


def direction_of(event: Event) -> Direction | None:
    """The way an `access.granted` went, as its reader reported it (None when unknown)."""
    data = event.data
    if isinstance(data, AccessGranted) and data.direction is not None:
        return Direction(data.direction)
    return None


def current_on_site(store: EventStore, now: datetime, horizon_h: float = 24) -> tuple[OnSite, ...]:
    """Everyone on site at `now`, from the events the service received in the last `horizon_h` hours.

    The service's receive time decides, not the device's clock: a check-in a device dated in 2099
    leaves the list with its check-out, and one dated last year still counts when it just came.
    """
    if horizon_h <= 0:
        raise ValueError(f"the horizon must be a positive number of hours, got {horizon_h}")
    events = store.query_events(types=ON_SITE_TYPES, since=now - timedelta(hours=horizon_h), limit=None,
                                by_received=True)
    with store.engine.connect() as conn:
        people = {p.id: p for p in load_directory(conn).people}
    return on_site(events, people, direction_of)
