"""Lending: what the desk lent and to whom, and the rules on it: overdue items, a check-out with items
still lent, and the alarms a return settles (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING

from broker.events import Event
from broker.schemas import ItemLent, ItemReturned, VisitorCheckedOut
from security.office.alarms.conditions import Condition, RuleName
from security.office.alarms.config import RulesConfig

if TYPE_CHECKING:
    from security.office.alarms.state import RuleState

LENT_AGAIN = "lent again before its return was recorded"
"""The note of a loan closed because its item was lent anew (the item was back at the desk)."""
MAX_TEXT = 200
"""The contract's (and the alarms table's) limit on a summary or a note."""


def _short(text: str, limit: int = MAX_TEXT) -> str:
    """`text` cut to `limit` characters (a description may fill the contract's limit by itself)."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


@dataclass(frozen=True, slots=True)
class Loan:
    """An item out on loan: what it is, who has it, until when; `loan_id` is its `item.lent` event's id."""

    loan_id: str
    item_id: str
    item_kind: str
    description: str
    visit_id: str | None
    person_id: str | None
    due_at: datetime
    lent_at: datetime
    lent_by: str
    note: str | None = None

    @property
    def borrower(self) -> str:
        """Who has it, in words."""
        return f"visit {self.visit_id}" if self.visit_id else f"person {self.person_id}"


@dataclass(frozen=True, slots=True)
class LoanClosed:
    """A loan ended: returned (`event_id` the `item.returned`), or lent again (the new `item.lent`)."""

    loan_id: str
    item_id: str
    returned_at: datetime
    by: str
    event_id: str
    condition: str | None = None
    note: str | None = None


LoanChange = Loan | LoanClosed
"""What one event did to the loans: a loan opened or closed."""

Loans = Mapping[str, Loan]
"""The open loans by item id (an item is out at most once)."""


def loan_changes(event: Event, loans: Loans) -> tuple[LoanChange, ...]:
    """What `event` does to the open `loans`: an item lent (closing its earlier loan if any), or returned."""
    data, at = event.data, event.service_time
    if isinstance(data, ItemLent):
        opened = Loan(event.id, data.item_id, str(data.item_kind), data.description, data.visit_id,
                      data.person_id, data.due_at, at, data.by, data.note)
        earlier = loans.get(data.item_id)
        if earlier is None:
            return (opened,)
        return LoanClosed(earlier.loan_id, earlier.item_id, at, data.by, event.id, note=LENT_AGAIN), opened
    if isinstance(data, ItemReturned) and data.item_id in loans:
        loan = loans[data.item_id]
        return (LoanClosed(loan.loan_id, loan.item_id, at, data.by, event.id, data.condition, data.note),)
    return ()


def apply_changes(loans: Loans, changes: Iterable[LoanChange]) -> Loans:
    """The open loans after `changes`."""
    out = dict(loans)
    for change in changes:
        if isinstance(change, Loan):
            out[change.item_id] = change
        elif change.item_id in out and out[change.item_id].loan_id == change.loan_id:
            del out[change.item_id]
    return MappingProxyType(out)


def lent_to_visit(loans: Loans, visit_id: str) -> tuple[Loan, ...]:
    """The open loans of one visit, by item id."""
    return tuple(sorted((loan for loan in loans.values() if loan.visit_id == visit_id),
                        key=lambda loan: loan.item_id))


def overdue_key(item_id: str) -> str:
    """The alarm key of an overdue item: one alarm per item."""
    return f"{RuleName.ITEM_OVERDUE}:{item_id}"


def not_returned_key(visit_id: str) -> str:
    """The alarm key of a visit checked out with items still lent."""
    return f"{RuleName.ITEMS_NOT_RETURNED}:{visit_id}"


def items_not_returned(event: Event, state: RuleState, config: RulesConfig) -> tuple[Condition, ...]:
    """A visitor checked out with items still lent to the visit: the desk must get them back."""
    cfg, data = config.items_not_returned, event.data
    if not cfg.enabled or not isinstance(data, VisitorCheckedOut):
        return ()
    out = lent_to_visit(state.loans, data.visit_id)
    if not out:
        return ()
    items = ", ".join(f"{loan.item_kind.replace('_', ' ')} {loan.item_id}" for loan in out)
    summary = _short(f"Visit {data.visit_id} checked out with {len(out)} item(s) not returned: {items}")
    cause = (event.id, *(loan.loan_id for loan in out))[-64:]
    return (Condition(RuleName.ITEMS_NOT_RETURNED, not_returned_key(data.visit_id), cfg.priority, summary,
                      cause),)


def overdue_items(now: datetime, state: RuleState, config: RulesConfig) -> tuple[frozenset[str],
                                                                                 tuple[Condition, ...]]:
    """Loans past their due time (plus the grace) at `now` not yet reported: their loan ids, and one
    `item-overdue` per item."""
    cfg = config.item_overdue
    if not cfg.enabled:
        return frozenset(), ()
    grace = timedelta(seconds=cfg.grace_s)
    due = sorted((loan for loan in state.loans.values()
                  if loan.loan_id not in state.reported_overdue and now >= loan.due_at + grace),
                 key=lambda loan: (loan.due_at, loan.item_id))
    found = []
    for loan in due:
        what = f"{loan.item_kind.replace('_', ' ').capitalize()} {loan.item_id}"
        when = f"lent to {loan.borrower} was due back at {loan.due_at:%Y-%m-%d %H:%M}"
        description = _short(loan.description, MAX_TEXT - len(what) - len(when) - 4)  # the due time stays
        summary = _short(f"{what} ({description}) {when}")
        found.append(Condition(RuleName.ITEM_OVERDUE, overdue_key(loan.item_id), cfg.priority, summary,
                               (loan.loan_id,)))
    return frozenset(loan.loan_id for loan in due), tuple(found)


def settled(changes: Iterable[LoanChange], before: Loans, after: Loans) -> tuple[tuple[str, str], ...]:
    """The alarm keys the closed loans among `changes` settle, each with the note it is resolved with.

    An item back at the desk settles its `item-overdue`; the last item of a visit back settles the
    visit's `items-not-returned`.
    """
    found: list[tuple[str, str]] = []
    for change in changes:
        if not isinstance(change, LoanClosed):
            continue
        how = f" ({change.condition})" if change.condition else ""
        note = f"{change.item_id} {change.note if change.note == LENT_AGAIN else 'returned'}{how}"
        found.append((overdue_key(change.item_id), _short(f"{note}, by {change.by}")))
        loan = before.get(change.item_id)
        if loan is not None and loan.visit_id and not lent_to_visit(after, loan.visit_id):
            found.append((not_returned_key(loan.visit_id), f"every item of visit {loan.visit_id} is back"))
    return tuple(found)
