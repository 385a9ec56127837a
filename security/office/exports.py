"""The columns of the visits and alarms CSV exports, for the console's downloads and the digest's files.

Cells go through `csv_export` (formula-safe); times are written in the zone the caller passes.
A visitor's name and company are masked unless the reader may see them (`personal`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import tzinfo

from broker.masking import mask_company, mask_name
from security.office.alarms.kpis import AlarmLife
from security.office.csv_export import csv_lines
from security.storage.reports.visits import VisitRow

VISIT_COLUMNS = ("visit_id", "arrived_at", "left_at", "visitor_name", "company", "visitor_type", "invited",
                 "host_id", "host_name", "badge", "device", "checkout_method")
ALARM_COLUMNS = ("id", "raised_at", "priority", "rule", "source", "summary", "state", "count_activations",
                 "acknowledged_at", "acknowledged_by", "resolved_at", "resolved_by", "escalation_level",
                 "shelves", "last_shelved_by", "last_shelved_at", "last_shelved_until")


def visit_cells(row: VisitRow, *, personal: bool) -> Sequence[object]:
    """One visit as VISIT_COLUMNS' values; name and company masked unless `personal`."""
    name = row.visitor_name if personal else mask_name(row.visitor_name)
    company = row.company if personal else mask_company(row.company)
    return (row.visit_id, row.arrived_at, row.left_at, name, company, row.visitor_type, row.invited,
            row.host_id, row.host_name, row.badge, row.device, row.checkout_method)


def alarm_cells(life: AlarmLife) -> Sequence[object]:
    """One alarm as ALARM_COLUMNS' values."""
    last = life.shelves[-1] if life.shelves else None
    return (life.id, life.raised_at, life.priority, life.rule, life.source, life.summary, life.state,
            len(life.activations), life.acknowledged_at, life.acknowledged_by, life.resolved_at,
            life.resolved_by, life.escalation_level, len(life.shelves), last.by if last else None,
            last.at if last else None, last.until if last else None)


def visits_csv(rows: Iterable[VisitRow], tz: tzinfo, *, personal: bool) -> Iterator[str]:
    """The visits export's lines: the header, then one line per visit."""
    return csv_lines(VISIT_COLUMNS, (visit_cells(r, personal=personal) for r in rows), tz)


def alarms_csv(lives: Iterable[AlarmLife], tz: tzinfo) -> Iterator[str]:
    """The alarms export's lines: the header, then one line per alarm."""
    return csv_lines(ALARM_COLUMNS, (alarm_cells(a) for a in lives), tz)
