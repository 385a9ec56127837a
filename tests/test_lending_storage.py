"""Loans on SQLite and PostgreSQL: written by the back office from stored events in their transaction,
read back by the desk's queries, loaded again at start, and the table coming and going with 0009."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import inspect

from broker.events import Event, make_event
from broker.schemas import AlarmRaised, Data, ItemKind, ItemLent, ItemReturned, VisitorCheckedOut
from security.office.alarms import Loan, LoanClosed
from security.office.alarms.lending import LENT_AGAIN
from security.office.config import OfficeConfig
from security.office.runtime import OfficeRuntime
from security.storage import EventStore, insert_batch, open_store
from security.storage.alarm_store import list_alarms
from security.storage.engine import alembic_config, make_engine, normalize_url
from security.storage.loans import (
    LoanRecord,
    get_loan,
    loan_history,
    open_loans,
    overdue_loans,
    record_loans,
)

T0 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
CONFIG = OfficeConfig.from_document({})


@pytest.fixture
def store(db_url: str) -> Iterator[EventStore]:
    """A migrated store on SQLite and on PostgreSQL."""
    with open_store(db_url) as opened:
        yield opened


class Bus:
    """The bus as the runtime publishes to it: topics recorded, nothing sent."""

    def __init__(self) -> None:
        self.topics: list[str] = []

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        self.topics.append(topic)


class Desk:
    """A station's events stored as the service stores them (the batch and the back office's step on it
    in one transaction, then published), and the service's clock."""

    def __init__(self, store: EventStore) -> None:
        self.store, self.seq, self.own, self.bus = store, itertools.count(1), itertools.count(1), Bus()
        self.runtime = self.start()

    def start(self) -> OfficeRuntime:
        runtime = OfficeRuntime(self.store, CONFIG, site="hq", emit=self.emit)
        runtime.load(T0)
        return runtime

    def emit(self, event_type: str, data: Data) -> Event:
        return make_event("hq", "central", event_type, next(self.own), data)

    def send(self, event_type: str, data: Data, at: datetime) -> Event:
        n = next(self.seq)
        event = make_event("hq", "station-1", event_type, n, data, time=at, event_id=f"ev-{n}")
        with self.store.transaction() as conn:
            stored = insert_batch(conn, [event], at).stored
            self.runtime.on_batch(conn, stored, at)
        self.runtime.published(self.bus, at)  # type: ignore[arg-type]
        return event

    def tick(self, now: datetime) -> list[AlarmRaised]:
        fx = self.runtime.transact(lambda office: office.tick(now), now, self.bus)  # type: ignore[arg-type]
        return [e.data for e in fx.events if isinstance(e.data, AlarmRaised)]


def lend(desk: Desk, item: str, at: datetime, *, visit: str | None = None, person: str | None = None,
         due: datetime) -> Event:
    data = ItemLent(item_id=item, item_kind=ItemKind.SAFETY_GEAR, description=f"{item} for the site",
                    visit_id=visit, person_id=person, due_at=due, by="reception:dewi")
    return desk.send("item.lent", data, at)


def give_back(desk: Desk, item: str, at: datetime, condition: str | None = None) -> Event:
    data = ItemReturned.model_validate({"item_id": item, "by": "guard:joe", "condition": condition})
    return desk.send("item.returned", data, at)


def ids(loans: list[Loan]) -> list[str]:
    return [loan.item_id for loan in loans]


def test_the_desk_asks_what_is_out_for_whom_and_what_is_overdue(store: EventStore) -> None:
    desk = Desk(store)
    vest = lend(desk, "vest-1", T0, visit="v-1", due=T0 + 4 * HOUR)
    lend(desk, "helmet-1", T0, visit="v-1", due=T0 + 2 * HOUR)
    lend(desk, "lap-3", T0 + HOUR, person="e-9", due=T0 + 8 * HOUR)
    lend(desk, "key-2", T0 + HOUR, visit="v-2", due=T0 + 3 * HOUR)
    back = give_back(desk, "key-2", T0 + 2 * HOUR, "damaged")
    with store.engine.connect() as conn:
        assert ids(open_loans(conn)) == ["helmet-1", "vest-1", "lap-3"]  # soonest due first
        assert ids(open_loans(conn, visit_id="v-1")) == ["helmet-1", "vest-1"]
        assert ids(open_loans(conn, visit_id="v-2")) == []
        assert ids(open_loans(conn, person_id="e-9")) == ["lap-3"]
        assert ids(overdue_loans(conn, T0 + 2 * HOUR - timedelta(seconds=1))) == []
        assert ids(overdue_loans(conn, T0 + 2 * HOUR)) == ["helmet-1"]
        assert ids(overdue_loans(conn, T0 + 10 * HOUR)) == ["helmet-1", "vest-1", "lap-3"]
        assert open_loans(conn, visit_id="v-1")[1] == Loan(
            vest.id, "vest-1", "safety_gear", "vest-1 for the site", "v-1", None, T0 + 4 * HOUR, T0,
            "reception:dewi")
        assert [r.returned for r in loan_history(conn, "key-2")] == [
            LoanClosed("ev-4", "key-2", T0 + 2 * HOUR, "guard:joe", back.id, "damaged")]


def test_an_items_history_is_every_loan_newest_first(store: EventStore) -> None:
    desk = Desk(store)
    first = lend(desk, "key-2", T0, visit="v-1", due=T0 + HOUR)
    give_back(desk, "key-2", T0 + HOUR)
    second = lend(desk, "key-2", T0 + 2 * HOUR, person="e-1", due=T0 + 3 * HOUR)
    third = lend(desk, "key-2", T0 + 4 * HOUR, person="e-2", due=T0 + 5 * HOUR)  # no return recorded
    with store.engine.connect() as conn:
        history = loan_history(conn, "key-2")
        assert [(r.loan.loan_id, r.is_open) for r in history] == [
            (third.id, True), (second.id, False), (first.id, False)]
        closed = history[1].returned
        assert closed is not None
        assert (closed.returned_at, closed.note, closed.event_id) == (T0 + 4 * HOUR, LENT_AGAIN, third.id)
        assert len(loan_history(conn, "key-2", limit=1)) == 1
        assert loan_history(conn, "key-9") == []
        assert get_loan(conn, first.id) == history[2]
        assert get_loan(conn, "nothing") is None
        with pytest.raises(ValueError, match="limit must be 1 to 500"):
            loan_history(conn, "key-2", limit=0)


def test_a_loan_is_stored_once_and_its_first_return_stands(store: EventStore) -> None:
    loan = Loan("ev-1", "key-2", "key", "Key", "v-1", None, T0 + HOUR, T0, "reception:dewi")
    first = LoanClosed("ev-1", "key-2", T0 + HOUR, "guard:joe", "ev-2", "ok")
    with store.transaction() as conn:
        record_loans(conn, [loan, loan, first])
        record_loans(conn, [LoanClosed("ev-1", "key-2", T0 + 2 * HOUR, "guard:ann", "ev-3", "missing")])
    with store.engine.connect() as conn:
        assert loan_history(conn, "key-2") == [LoanRecord(loan, first)]


def test_a_restart_loads_open_loans_and_raises_what_fell_due_while_stopped(store: EventStore) -> None:
    desk = Desk(store)
    lend(desk, "vest-1", T0, visit="v-1", due=T0 + HOUR)
    lend(desk, "lap-3", T0, person="e-9", due=T0 + 2 * HOUR)
    assert [r.rule for r in desk.tick(T0 + HOUR)] == ["item-overdue"]
    desk.send("visitor.checked_out", VisitorCheckedOut(visit_id="v-1", method="staff"), T0 + HOUR)

    desk.runtime = desk.start()  # the service restarts
    assert set(desk.runtime.office.state.rules.loans) == {"vest-1", "lap-3"}
    raised = desk.tick(T0 + 3 * HOUR)
    assert [(r.rule, r.alarm_id) for r in raised] == [("item-overdue", "a-3")]  # the vest's a-1 stays open
    assert "person e-9" in raised[0].summary
    give_back(desk, "vest-1", T0 + 4 * HOUR, "ok")
    with store.engine.connect() as conn:
        alarms = {a.id: (a.rule, a.state) for a in list_alarms(conn)}
    assert alarms == {"a-1": ("item-overdue", "resolved"), "a-2": ("items-not-returned", "resolved"),
                      "a-3": ("item-overdue", "unacknowledged")}


def test_the_loans_table_comes_and_goes_with_0009(db_url: str) -> None:
    with open_store(db_url) as store:
        desk = Desk(store)
        lend(desk, "vest-1", T0, visit="v-1", due=T0 + HOUR)
        engine = make_engine(normalize_url(db_url))
        config = alembic_config()
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0008")
        assert "loans" not in inspect(engine).get_table_names()
        engine.dispose()
    with open_store(db_url) as again, again.engine.connect() as conn:
        assert open_loans(conn) == []  # back, empty: the events stay in the log
        assert again.count_events() == 1


def test_an_overdue_alarm_for_the_longest_loan_the_contract_allows_is_stored(store: EventStore) -> None:
    """PostgreSQL refuses a summary longer than the alarms table's 200 characters: it is cut to fit."""
    desk = Desk(store)
    data = ItemLent(item_id="i" * 64, item_kind=ItemKind.ACCESS_CARD, description="d" * 200,
                    person_id="p" * 64, due_at=T0 + HOUR, by="b" * 200, note="n" * 200)
    desk.send("item.lent", data, T0)
    assert [r.rule for r in desk.tick(T0 + HOUR)] == ["item-overdue"]
    with store.engine.connect() as conn:
        [alarm] = list_alarms(conn)
        [loan] = open_loans(conn, person_id="p" * 64)
    assert len(alarm.summary) <= 200
    assert (loan.description, loan.note, loan.lent_by) == ("d" * 200, "n" * 200, "b" * 200)
