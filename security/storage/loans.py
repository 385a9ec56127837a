"""Loans in the database: each loan the back office opened and closed, and the desk's questions about them
(what is out, for a visit or a person, an item's history, what is overdue at a time)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, select, update
from sqlalchemy.dialects import postgresql, sqlite

from security.office.alarms import Loan, LoanChange, LoanClosed
from security.storage import office_models  # noqa: F401  (registers the tables)
from security.storage.models import table

LOANS = table("loans")
MAX_HISTORY = 500
"""The most loans of one item an answer holds."""


@dataclass(frozen=True, slots=True)
class LoanRecord:
    """One loan as stored: the loan, and its return once the item is back."""

    loan: Loan
    returned: LoanClosed | None = None

    @property
    def is_open(self) -> bool:
        """True while the item is still out."""
        return self.returned is None


def record_loans(conn: Connection, changes: Iterable[LoanChange]) -> None:
    """Store loans opened and closed, in order, inside the caller's transaction (a loan is stored once)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    for change in changes:
        if isinstance(change, Loan):
            values = {
                "loan_id": change.loan_id, "item_id": change.item_id, "item_kind": change.item_kind,
                "description": change.description, "visit_id": change.visit_id,
                "person_id": change.person_id, "due_at": change.due_at, "lent_at": change.lent_at,
                "lent_by": change.lent_by, "note": change.note,
            }
            conn.execute(dialect.insert(LOANS).values(values).on_conflict_do_nothing(index_elements=["loan_id"]))
        else:
            conn.execute(
                update(LOANS)
                .where(LOANS.c.loan_id == change.loan_id, LOANS.c.returned_at.is_(None))
                .values(returned_at=change.returned_at, returned_by=change.by,
                        return_event_id=change.event_id, condition=change.condition, return_note=change.note)
            )


def _loan(row: Any) -> Loan:
    return Loan(row.loan_id, row.item_id, row.item_kind, row.description, row.visit_id, row.person_id,
                row.due_at, row.lent_at, row.lent_by, row.note)


def _record(row: Any) -> LoanRecord:
    returned = None
    if row.returned_at is not None:
        returned = LoanClosed(row.loan_id, row.item_id, row.returned_at, row.returned_by, row.return_event_id,
                              row.condition, row.return_note)
    return LoanRecord(_loan(row), returned)


def _open() -> Select[Any]:
    return select(LOANS).where(LOANS.c.returned_at.is_(None)).order_by(LOANS.c.due_at, LOANS.c.item_id)


def open_loans(conn: Connection, *, visit_id: str | None = None, person_id: str | None = None) -> list[Loan]:
    """Items still out, soonest due first: all of them, or those of one visit, or of one person."""
    query = _open()
    if visit_id is not None:
        query = query.where(LOANS.c.visit_id == visit_id)
    if person_id is not None:
        query = query.where(LOANS.c.person_id == person_id)
    return [_loan(row) for row in conn.execute(query).all()]


def overdue_loans(conn: Connection, at: datetime) -> list[Loan]:
    """Items still out whose due time is `at` or earlier, longest overdue first."""
    return [_loan(row) for row in conn.execute(_open().where(LOANS.c.due_at <= at)).all()]


def get_loan(conn: Connection, loan_id: str) -> LoanRecord | None:
    """One loan by its id (the id of its `item.lent` event)."""
    row = conn.execute(select(LOANS).where(LOANS.c.loan_id == loan_id)).one_or_none()
    return _record(row) if row is not None else None


def loan_history(conn: Connection, item_id: str, limit: int = MAX_HISTORY) -> list[LoanRecord]:
    """Every loan of one item, newest first (at most `limit`, up to MAX_HISTORY)."""
    if not 0 < limit <= MAX_HISTORY:
        raise ValueError(f"limit must be 1 to {MAX_HISTORY}, got {limit}")
    query = (select(LOANS).where(LOANS.c.item_id == item_id)
             .order_by(LOANS.c.lent_at.desc(), LOANS.c.loan_id.desc()).limit(limit))
    return [_record(row) for row in conn.execute(query).all()]
