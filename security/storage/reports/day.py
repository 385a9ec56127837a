"""What the daily digest reads beyond the console's lists: incidents closed and device faults of a range.

Incidents opened in a range are the console's list (`reports.incidents`); the digest also tells
those closed in it, whenever they were opened. Device faults are `device.fault` events, by the
service's receive time.
"""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from security.office.digest import DeviceFaultFact
from security.storage.models import table
from security.storage.reports.incidents import INCIDENTS, ITEMS, IncidentRow
from security.storage.reports.keyset import TimeRange

EVENTS = table("events")
FAULT = "device.fault"
MAX_FAULTS = 10_000
"""At most this many fault events of one range are read (a device stuck in a loop stops nothing)."""


def incidents_closed(conn: Connection, time_range: TimeRange) -> list[IncidentRow]:
    """The incidents closed in the range, in the order they were closed."""
    items = (select(func.count()).select_from(ITEMS).where(ITEMS.c.incident_id == INCIDENTS.c.id)
             .scalar_subquery().label("items"))
    query = (select(*INCIDENTS.c, items)
             # opened before the range's end: the opened_at index narrows what is read
             .where(INCIDENTS.c.opened_at < time_range.end, INCIDENTS.c.closed_at >= time_range.start,
                    INCIDENTS.c.closed_at < time_range.end)
             .order_by(INCIDENTS.c.closed_at, INCIDENTS.c.number))
    return [IncidentRow(r.id, int(r.number), r.title, r.state, r.opened_by, r.opened_at, r.closed_by,
                        r.closed_at, r.outcome, int(r.items)) for r in conn.execute(query)]


def device_faults(conn: Connection, time_range: TimeRange, limit: int = MAX_FAULTS) -> list[DeviceFaultFact]:
    """The `device.fault` events received in the range, oldest first (at most `limit`)."""
    fault = EVENTS.c.data["fault"].as_string()
    cleared = EVENTS.c.data["cleared"].as_boolean()
    query = (select(EVENTS.c.source, EVENTS.c.received_at, fault.label("fault"), cleared.label("cleared"))
             .where(EVENTS.c.type == FAULT, EVENTS.c.received_at >= time_range.start,
                    EVENTS.c.received_at < time_range.end)
             .order_by(EVENTS.c.received_at, EVENTS.c.id).limit(limit))
    return [DeviceFaultFact(r.source, r.received_at, str(r.fault or "other"), r.cleared is True)
            for r in conn.execute(query)]
