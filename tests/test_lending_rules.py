"""Lending's rules with plain values and a clock we set: overdue items, check-outs with items still out,
and returns that settle the alarms, through the rules and through the back office's engine."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Literal

import pytest

from broker.events import Event, make_event
from broker.schemas import (
    AlarmAction,
    AlarmRaised,
    Data,
    ItemKind,
    ItemLent,
    ItemReturned,
    Priority,
    VisitorCheckedOut,
)
from security.office.alarms import (
    AlarmState,
    Condition,
    ItemOverdueConfig,
    ItemsNotReturnedConfig,
    Loan,
    LoanClosed,
    RuleName,
    RulesConfig,
    RuleState,
    evaluate,
    tick,
)
from security.office.alarms.lending import LENT_AGAIN
from security.office.config import OfficeConfig
from security.office.engine import BackOffice, Effects

T0 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
DUE = T0 + timedelta(hours=2)
CONFIG = RulesConfig()


def lent(item: str = "key-17", *, visit: str | None = "v-1", person: str | None = None,
         due: datetime = DUE) -> ItemLent:
    return ItemLent(item_id=item, item_kind=ItemKind.KEY, description="Server room key", visit_id=visit,
                    person_id=person, due_at=due, by="reception:dewi")


ReturnCondition = Literal["ok", "damaged", "missing"]


def returned(item: str = "key-17", condition: ReturnCondition | None = None) -> ItemReturned:
    return ItemReturned(item_id=item, by="reception:dewi", condition=condition)


class Desk:
    """Events of one station, numbered, at times we say."""

    def __init__(self) -> None:
        self.seq = itertools.count(1)

    def ev(self, event_type: str, data: Data, at: datetime = T0) -> Event:
        n = next(self.seq)
        return make_event("hq", "station-1", event_type, n, data, time=at, event_id=f"e-{n}")


def feed(state: RuleState, *events: Event) -> tuple[RuleState, tuple[Condition, ...]]:
    found: tuple[Condition, ...] = ()
    for event in events:
        state, conditions = evaluate(event, state, CONFIG)
        found += conditions
    return state, found


# the rules
def test_an_item_past_its_due_time_raises_item_overdue_once() -> None:
    desk = Desk()
    state, found = feed(RuleState(), desk.ev("item.lent", lent()))
    assert found == ()
    assert state.loans["key-17"] == Loan("e-1", "key-17", "key", "Server room key", "v-1", None, DUE, T0,
                                         "reception:dewi")
    state, early = tick(DUE - timedelta(seconds=1), state, CONFIG)
    assert early == ()
    state, due = tick(DUE, state, CONFIG)
    assert [(c.rule, c.key, c.priority, c.cause) for c in due] == [
        (RuleName.ITEM_OVERDUE, "item-overdue:key-17", Priority.MEDIUM, ("e-1",))]
    assert "lent to visit v-1 was due back at 2026-12-05 11:00" in due[0].summary
    _, again = tick(DUE + timedelta(hours=1), state, CONFIG)
    assert again == ()


def test_the_grace_and_priority_come_from_the_settings() -> None:
    config = RulesConfig(item_overdue=ItemOverdueConfig(priority=Priority.HIGH, grace_s=600))
    state, _ = feed(RuleState(), Desk().ev("item.lent", lent(person="e-9", visit=None)))
    _, within = tick(DUE + timedelta(seconds=599), state, config)
    _, past = tick(DUE + timedelta(seconds=600), state, config)
    assert within == ()
    assert [(c.priority, "person e-9" in c.summary) for c in past] == [(Priority.HIGH, True)]
    off = RulesConfig(item_overdue=ItemOverdueConfig(enabled=False))
    assert tick(DUE + timedelta(days=1), state, off)[1] == ()


def test_a_returned_item_is_never_overdue_and_lending_it_again_counts_anew() -> None:
    desk = Desk()
    state, _ = feed(RuleState(), desk.ev("item.lent", lent()))
    state, _ = tick(DUE, state, CONFIG)
    assert state.reported_overdue == {"e-1"}
    state, _ = feed(state, desk.ev("item.returned", returned(), DUE + timedelta(minutes=5)))
    assert state.loans == {}
    assert state.reported_overdue == frozenset()
    assert tick(DUE + timedelta(days=1), state, CONFIG)[1] == ()
    later = DUE + timedelta(days=1)
    state, _ = feed(state, desk.ev("item.lent", lent(due=later + timedelta(hours=1)), later))
    _, found = tick(later + timedelta(hours=1), state, CONFIG)
    assert [c.cause for c in found] == [("e-3",)]


def test_checking_out_with_items_still_lent_raises_items_not_returned() -> None:
    desk = Desk()
    state, _ = feed(RuleState(), desk.ev("item.lent", lent("key-17")), desk.ev("item.lent", lent("vest-2")),
                    desk.ev("item.lent", lent("lap-1", visit="v-2")))
    state, found = feed(state, desk.ev("visitor.checked_out", VisitorCheckedOut(visit_id="v-1", method="qr")))
    assert len(found) == 1
    condition = found[0]
    assert (condition.rule, condition.key, condition.cause) == (
        RuleName.ITEMS_NOT_RETURNED, "items-not-returned:v-1", ("e-4", "e-1", "e-2"))
    assert condition.summary == (
        "Visit v-1 checked out with 2 item(s) not returned: key key-17, key vest-2")
    assert set(state.loans) == {"key-17", "vest-2", "lap-1"}  # still out: the desk must get them back


def test_checking_out_with_nothing_lent_or_the_rule_off_raises_nothing() -> None:
    desk = Desk()
    state, _ = feed(RuleState(), desk.ev("item.lent", lent()), desk.ev("item.returned", returned()))
    out = desk.ev("visitor.checked_out", VisitorCheckedOut(visit_id="v-1", method="qr"))
    assert feed(state, out)[1] == ()
    state, _ = feed(RuleState(), desk.ev("item.lent", lent()))
    off = RulesConfig(items_not_returned=ItemsNotReturnedConfig(enabled=False))
    assert evaluate(out, state, off)[1] == ()


# the engine: alarms raised and settled, loans recorded
class Office:
    """A back office whose own events are numbered like the service's."""

    def __init__(self, doc: dict[str, object] | None = None) -> None:
        own = itertools.count(1)
        self.office = BackOffice(OfficeConfig.from_document(doc or {}),
                                 lambda t, d: make_event("hq", "central", t, next(own), d))
        self.desk = Desk()

    def send(self, event_type: str, data: Data, at: datetime = T0) -> Effects:
        return self.office.on_event(self.desk.ev(event_type, data, at), at)


def raised(fx: Effects) -> list[AlarmRaised]:
    return [e.data for e in fx.events if isinstance(e.data, AlarmRaised)]


def resolved(fx: Effects) -> list[AlarmAction]:
    return [e.data for e in fx.events if e.type == "alarm.resolved" and isinstance(e.data, AlarmAction)]


def test_the_engine_raises_item_overdue_and_the_return_resolves_it() -> None:
    site = Office()
    fx = site.send("item.lent", lent())
    loan = Loan("e-1", "key-17", "key", "Server room key", "v-1", None, DUE, T0, "reception:dewi")
    assert fx.loans == [loan]
    assert not fx.stored_nothing
    overdue = site.office.tick(DUE + timedelta(seconds=1))
    assert [(r.alarm_id, r.rule) for r in raised(overdue)] == [("a-1", "item-overdue")]
    assert raised(site.office.tick(DUE + timedelta(hours=1))) == []  # one per item (escalated, not raised)
    back = site.send("item.returned", returned("key-17", "damaged"), DUE + timedelta(hours=2))
    assert back.loans == [LoanClosed("e-1", "key-17", DUE + timedelta(hours=2), "reception:dewi", "e-2",
                                     "damaged")]
    assert [(r.alarm_id, r.by, r.note) for r in resolved(back)] == [
        ("a-1", "system", "key-17 returned (damaged), by reception:dewi")]
    alarm = site.office.state.book.get("a-1")
    assert alarm is not None
    assert alarm.state == AlarmState.RESOLVED
    assert back.alarms["a-1"].state == AlarmState.RESOLVED


def test_the_engine_raises_items_not_returned_at_check_out_and_the_last_return_resolves_it() -> None:
    site = Office({"alarms": {"rules": {"items-not-returned": {"priority": "high"}}}})
    site.send("item.lent", lent("key-17"))
    site.send("item.lent", lent("vest-2"))
    out = site.send("visitor.checked_out", VisitorCheckedOut(visit_id="v-1", method="staff"))
    assert [(r.rule, r.priority) for r in raised(out)] == [("items-not-returned", Priority.HIGH)]
    assert resolved(site.send("item.returned", returned("key-17"))) == []  # the vest is still out
    last = site.send("item.returned", returned("vest-2"))
    assert [(r.alarm_id, r.note) for r in resolved(last)] == [("a-1", "every item of visit v-1 is back")]


def test_lending_an_item_still_out_closes_its_loan_and_resolves_its_overdue_alarm() -> None:
    site = Office()
    site.send("item.lent", lent())
    site.office.tick(DUE)
    later = DUE + timedelta(hours=1)
    fx = site.send("item.lent", lent(person="e-9", visit=None, due=later + timedelta(hours=8)), later)
    assert [type(c) for c in fx.loans] == [LoanClosed, Loan]
    closed = fx.loans[0]
    assert isinstance(closed, LoanClosed)
    assert (closed.loan_id, closed.event_id, closed.note) == ("e-1", "e-2", LENT_AGAIN)
    assert [r.alarm_id for r in resolved(fx)] == ["a-1"]
    assert site.office.state.rules.loans["key-17"].person_id == "e-9"


def test_a_return_of_an_item_not_out_changes_nothing() -> None:
    site = Office()
    fx = site.send("item.returned", returned("key-99"))
    assert fx.loans == []
    assert fx.events == []


@pytest.mark.parametrize("open_alarm", [True, False])
def test_loans_learnt_at_start_are_not_reported_again_while_their_alarm_is_open(open_alarm: bool) -> None:
    first = Office()
    first.send("item.lent", lent())
    first.office.tick(DUE)
    book = first.office.state.book
    if not open_alarm:
        book = Office().office.state.book  # the alarm was resolved by hand: not in the loaded book
    again = Office()
    again.office.restore(type(again.office.state)(book=book))
    again.office.learn_loans(first.office.state.rules.loans.values())
    fx = again.office.tick(DUE + timedelta(minutes=1))
    assert [r.rule for r in raised(fx)] == ([] if open_alarm else ["item-overdue"])


def test_summaries_and_notes_stay_within_the_contracts_200_characters() -> None:
    desk, long, items = Desk(), "x" * 200, [f"item-{n:02d}-{'y' * 50}" for n in range(5)]
    events = [desk.ev("item.lent", ItemLent(item_id=item, item_kind=ItemKind.SAFETY_GEAR, description=long,
                                            visit_id="v" * 64, due_at=DUE, by="b" * 200))
              for item in items]
    state, _ = feed(RuleState(), *events)
    _, overdue = tick(DUE, state, CONFIG)
    _, out = feed(state, desk.ev("visitor.checked_out", VisitorCheckedOut(visit_id="v" * 64, method="qr")))
    summaries = [c.summary for c in (*overdue, *out)]
    assert len(summaries) == 6
    assert all(len(s) <= 200 for s in summaries)
    assert all(s.endswith(f"was due back at {DUE:%Y-%m-%d %H:%M}") for s in summaries[:5])
    site = Office()
    site.office.on_event(events[0], T0)
    site.office.tick(DUE)
    returned_ = ItemReturned(item_id=items[0], by="b" * 200, condition="missing")
    back = site.office.on_event(desk.ev("item.returned", returned_), DUE)
    assert [len(r.note or "") <= 200 for r in resolved(back)] == [True]
