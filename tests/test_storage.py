"""The event log stores each event once, keeps clashes as dead letters, and reads back what it stored.

Every test that takes `db_url` runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, inspect, select, text

from broker.events import Event, encode, make_event
from broker.messages import State, Status
from broker.schemas import BadgeRead, DoorChange, HostNotified
from security.storage import (
    BatchResult,
    EventStore,
    Rejected,
    StorageError,
    insert_batch,
    open_store,
    put_handed_on,
    put_watermarks,
)
from security.storage.engine import (
    alembic_config,
    current_revision,
    head_revision,
    make_engine,
    normalize_url,
)
from security.storage.models import Base, table

T0 = datetime(2026, 11, 22, 8, 15, 2, 113456, tzinfo=UTC)
READER = "gatehouse/lobby/reader-1"


def badge(
    seq: int,
    *,
    device: str = "reader-1",
    event_id: str | None = None,
    at: datetime | None = None,
    credential: str = "0A1B",
) -> Event:
    """A badge.read event of `device` at lobby."""
    return make_event(
        "lobby",
        device,
        "badge.read",
        seq,
        BadgeRead(credential=credential, reader=1),
        time=at or T0 + timedelta(seconds=seq),
        event_id=event_id,
    )


@pytest.fixture
def store(db_url: str) -> Iterator[EventStore]:
    """A migrated, empty store (closed at teardown)."""
    with open_store(db_url) as opened:
        yield opened


def test_a_log_from_before_incarnations_upgrades_with_its_events_as_incarnation_none(db_url: str) -> None:
    """0003 -> 0004 keeps every event and watermark, as incarnation '', and the new key works."""
    engine = make_engine(normalize_url(db_url))
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0003")
        conn.execute(text(
            "INSERT INTO events (event_id, source, seq, type, time, received_at, site, device, data) "
            "VALUES ('e-1', :source, 1, 'badge.read', :t, :t, 'lobby', 'reader-1', :data)"),
            {"source": READER, "t": T0.replace(tzinfo=None), "data": '{"credential": "0A", "reader": 1}'})
        conn.execute(text("INSERT INTO watermarks (source, seq) VALUES (:source, 1)"), {"source": READER})
    engine.dispose()
    with open_store(db_url) as store:
        assert store.load_watermarks() == {(READER, ""): 1}
        (old,) = store.query_events()
        assert (old.id, old.incarnation, old.seq) == ("e-1", "", 1)
        again = make_event("lobby", "reader-1", "badge.read", 1, BadgeRead(credential="0B", reader=1),
                           incarnation="b1e2")
        assert store.store_batch([again], T0).stored == (again,)  # seq 1 of a new incarnation is free
        assert store.stored_seqs_above(READER, 0, "b1e2") == [1]


def ids(events: tuple[Event, ...] | list[Event]) -> list[str]:
    """The ids of `events`, in order."""
    return [e.id for e in events]


# schema and start-up


def test_migration_builds_the_models_and_is_a_no_op_the_second_time(db_url: str) -> None:
    with open_store(db_url) as first:
        first.store_batch([badge(1)], T0)
        engine = first.engine
        assert current_revision(engine) == head_revision() == "0009"
        assert {"events", "dead_letters", "device_status", "device_status_changes", "watermarks",
                "handed_on"} <= set(
            inspect(engine).get_table_names()
        )
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    with open_store(db_url) as again:  # upgrading an up-to-date log changes nothing
        assert current_revision(again.engine) == "0009"
        assert again.count_events() == 1


def test_the_handed_on_table_comes_and_goes_with_its_migration(db_url: str) -> None:
    """0005 down drops handed_on (the only thing it added) and up brings it back, empty."""
    with open_store(db_url) as store:
        store.store_batch([badge(1)], T0)
        assert store.resume_handing_on((READER, "")) == 1
        engine = make_engine(normalize_url(db_url))
        config = alembic_config()
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0004")
        assert "handed_on" not in inspect(engine).get_table_names()
        engine.dispose()
    with open_store(db_url) as again:
        assert again.count_events() == 1
        assert again.resume_handing_on((READER, "")) == 1  # recorded anew from the log's end


def test_the_status_history_starts_from_each_last_status_and_goes_with_its_migration(db_url: str) -> None:
    """0008 down drops device_status_changes; up makes it again, one row per source's last status."""
    with open_store(db_url) as store:
        store.set_status(READER, Status("online", kind="reader"), T0)
        store.set_status(READER, Status("offline", kind="reader", detail="lost"), T0 + timedelta(hours=1))
        store.set_status("gatehouse/lobby/kiosk-1", Status("online", kind="kiosk"), T0 + timedelta(hours=2))
        assert _changes(store.engine) == [
            (READER, "online", "reader", None, T0),
            (READER, "offline", "reader", "lost", T0 + timedelta(hours=1)),
            ("gatehouse/lobby/kiosk-1", "online", "kiosk", None, T0 + timedelta(hours=2))]
        engine = make_engine(normalize_url(db_url))
        config = alembic_config()
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0007")
        assert "device_status_changes" not in inspect(engine).get_table_names()
        engine.dispose()
    with open_store(db_url) as again:
        assert _changes(again.engine) == [
            (READER, "offline", "reader", "lost", T0 + timedelta(hours=1)),
            ("gatehouse/lobby/kiosk-1", "online", "kiosk", None, T0 + timedelta(hours=2))]
        assert not again.set_status(READER, Status("offline", kind="reader"), T0 + timedelta(hours=3))


def _changes(engine: Engine) -> list[tuple[Any, ...]]:
    """The stored status changes, oldest first."""
    changes = table("device_status_changes")
    query = select(changes.c.source, changes.c.state, changes.c.kind, changes.c.detail, changes.c.at)
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(query.order_by(changes.c.at, changes.c.id))]


def test_sqlite_runs_in_wal_mode_with_its_folder_created(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "log.db"
    with open_store(f"sqlite:///{path}") as store, store.engine.connect() as conn:
        assert path.exists()
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1  # freed content zeroed


def test_postgresql_urls_use_psycopg_3() -> None:
    assert normalize_url("postgresql://u:p@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgres://u@h:5433/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgresql+psycopg://h/db").drivername == "postgresql+psycopg"
    assert normalize_url("sqlite:///x.db").drivername == "sqlite"


def test_read_only_open_neither_creates_nor_migrates(tmp_path: Path) -> None:
    path = tmp_path / "none.db"
    with pytest.raises(StorageError, match="no event log"):
        open_store(f"sqlite:///{path}", migrate=False)
    assert not path.exists()
    make_engine(f"sqlite:///{path}").dispose()
    with make_engine(f"sqlite:///{path}").connect() as conn:
        conn.execute(text("CREATE TABLE unrelated (x INTEGER)"))
        conn.commit()
    with pytest.raises(StorageError, match="schema none"):
        open_store(f"sqlite:///{path}", migrate=False)


def test_an_unreachable_database_is_a_storage_error_without_the_password() -> None:
    with pytest.raises(StorageError) as caught:
        open_store("postgresql://gate:s3cret-pw@127.0.0.1:1/nowhere")
    assert "s3cret-pw" not in str(caught.value)
    assert "127.0.0.1" in str(caught.value)


# idempotent batches


def test_the_same_batch_twice_is_stored_once(store: EventStore) -> None:
    batch = [badge(seq) for seq in range(1, 6)]
    first = store.store_batch(batch, T0)
    second = store.store_batch(batch, T0)
    assert ids(first.stored) == ids(batch)
    assert not first.duplicates
    assert not first.conflicts
    assert ids(second.duplicates) == ids(batch)
    assert not second.stored
    assert not second.conflicts
    assert store.count_events() == 5
    assert store.list_dead_letters() == []


def test_a_taken_seq_becomes_a_dead_letter(store: EventStore) -> None:
    original = badge(3)
    store.store_batch([original], T0)
    impostor, fourth = badge(3, credential="FFFF"), badge(4)
    result = store.store_batch([fourth, impostor], T0)
    assert ids(result.stored) == [fourth.id]
    [conflict] = result.conflicts
    assert conflict.event == impostor
    assert conflict.existing_id == original.id
    assert f"seq 3 of {READER} is already taken by event {original.id}" in conflict.reason
    [letter] = store.list_dead_letters()
    assert letter.topic == f"{READER}/event/badge.read"
    assert letter.source == READER
    assert letter.reason == conflict.reason
    assert letter.payload == encode(impostor)  # the event as it travels on the wire
    assert [e.id for e in store.query_events(sources=[READER])][:1] == [original.id]


def test_duplicates_and_clashes_inside_one_batch(store: EventStore) -> None:
    a, b = badge(1), badge(2)
    rival = badge(1, credential="BEEF")  # another event claiming seq 1
    result = store.store_batch([a, b, a, rival, b], T0)
    assert ids(result.stored) == [a.id, b.id]
    assert ids(result.duplicates) == [a.id, b.id]
    assert [c.event.id for c in result.conflicts] == [rival.id]
    assert result.conflicts[0].existing_id == a.id
    assert store.count_events() == 2
    assert len(store.list_dead_letters()) == 1


def test_the_first_claim_in_a_batch_wins_a_seq(store: EventStore) -> None:
    a, rival = badge(1), badge(1, credential="BEEF")
    result = store.store_batch([rival, a], T0)
    assert ids(result.stored) == [rival.id]
    assert [c.event.id for c in result.conflicts] == [a.id]


def test_an_id_reused_for_another_seq_is_a_conflict(store: EventStore) -> None:
    store.store_batch([badge(1, event_id="same-id")], T0)
    result = store.store_batch([badge(2, event_id="same-id")], T0)
    [conflict] = result.conflicts
    assert conflict.existing_id is None  # seq 2 is still free
    assert "event id same-id is already stored as seq 1" in conflict.reason
    assert result.occupied() == {}
    assert store.stored_seqs_above(READER, 0) == [1]


def test_values_the_database_cannot_hold_become_dead_letters(store: EventStore) -> None:
    huge = badge(2**70, at=T0)
    nul = make_event(
        "lobby",
        "kiosk-1",
        "host.notified",
        1,
        HostNotified(visit_id="v1", host_id="h1", channel="email", ok=False, detail="a\x00b"),
    )
    good = badge(1)
    result = store.store_batch([huge, nul, good], T0)
    assert good in result.stored
    refused = {c.event.id: c for c in result.conflicts}
    assert "the database refused" in refused[huge.id].reason
    if store.engine.dialect.name == "postgresql":  # PostgreSQL text cannot hold NUL; SQLite can
        assert nul.id in refused
    else:
        assert nul in result.stored
    assert {d.reason for d in store.list_dead_letters()} == {c.reason for c in result.conflicts}


def test_a_refused_batch_in_the_middle_of_a_transaction_keeps_what_came_before(store: EventStore) -> None:
    """insert_batch runs inside a caller's transaction (the service's): a value the database refuses
    is undone alone and the batch stored carefully, without losing the transaction's earlier work."""
    first, good, huge = badge(1), badge(2), badge(2**70, at=T0)
    with store.transaction() as conn:
        put_watermarks(conn, {READER: 1})
        assert insert_batch(conn, [first], T0).stored == (first,)
        result = insert_batch(conn, [good, huge], T0)
        put_watermarks(conn, {READER: 2})
    assert result.stored == (good,)
    assert [c.event.id for c in result.conflicts] == [huge.id]
    assert store.stored_seqs_above(READER, 0) == [1, 2]
    assert store.load_watermarks() == {(READER, ""): 2}


def test_occupied_counts_everything_that_holds_a_seq() -> None:
    a, b = badge(1), badge(2, device="reader-2")
    result = BatchResult(stored=(a,), duplicates=(b,))
    assert result.occupied() == {(READER, ""): {1}, ("gatehouse/lobby/reader-2", ""): {2}}


@settings(max_examples=40, deadline=None, database=None)
@given(
    st.lists(st.tuples(st.integers(0, 5), st.integers(1, 4), st.integers(1, 3)), max_size=25),
    st.integers(1, 6),
)
def test_outcomes_match_a_simple_model(draws: list[tuple[int, int, int]], size: int) -> None:
    """Event ids and seqs drawn from small pools collide often; every outcome follows the rules."""
    events = [badge(seq, event_id=f"id-{n}", credential=f"{c:04X}") for n, seq, c in draws]
    by_id: dict[str, int] = {}
    by_seq: dict[int, str] = {}
    expected: list[str] = []
    for e in events:
        if e.id in by_id:
            expected.append("duplicate" if by_id[e.id] == e.seq else "conflict")
        elif e.seq in by_seq:
            expected.append("conflict")
        else:
            by_id[e.id], by_seq[e.seq] = e.seq, e.id
            expected.append("stored")
    with open_store("sqlite://") as store:
        got: list[str] = []
        for start in range(0, len(events), size):
            result = store.store_batch(events[start : start + size], T0)
            outcome = {id(e): "stored" for e in result.stored}
            outcome |= {id(e): "duplicate" for e in result.duplicates}
            outcome |= {id(c.event): "conflict" for c in result.conflicts}
            got += [outcome[id(e)] for e in events[start : start + size]]
        assert got == expected
        assert sorted(store.stored_seqs_above(READER, 0)) == sorted(by_seq)
        assert len(store.list_dead_letters(limit=100)) == expected.count("conflict")


# watermarks, status, own seqs


def test_watermarks_round_trip_and_never_move_back(store: EventStore) -> None:
    assert store.load_watermarks() == {}
    store.save_watermarks({READER: 5, "gatehouse/lobby/kiosk-1": 2})
    store.save_watermarks({READER: 3})
    store.save_watermarks({"gatehouse/lobby/kiosk-1": 9})
    store.save_watermarks({(READER, "b1e2"): 1})
    kiosk = ("gatehouse/lobby/kiosk-1", "")
    assert store.load_watermarks() == {(READER, ""): 5, kiosk: 9, (READER, "b1e2"): 1}
    assert store.current_incarnations()[READER] == "b1e2"  # the one that moved last


def test_watermarks_commit_with_their_batch(store: EventStore) -> None:
    def marks(result: BatchResult) -> dict[tuple[str, str], int]:
        return {s: max(seqs) for s, seqs in result.occupied().items()}

    with store.transaction() as conn:
        put_watermarks(conn, marks(insert_batch(conn, [badge(1), badge(2)], T0)))
    assert store.load_watermarks() == {(READER, ""): 2}

    def broken(_: BatchResult) -> dict[str, int]:
        raise RuntimeError("service crashed mid-batch")

    with pytest.raises(RuntimeError), store.transaction() as conn:
        put_watermarks(conn, broken(insert_batch(conn, [badge(3)], T0)))
    assert store.count_events() == 2  # the whole batch rolled back
    with store.transaction() as conn:
        insert_batch(conn, [badge(3)], T0)
        put_watermarks(conn, {READER: 3})
    assert store.load_watermarks() == {(READER, ""): 3}


def test_handing_on_resumes_where_it_was_left_and_never_moves_back(store: EventStore) -> None:
    """A stream never handed on starts at its newest stored seq, recorded; the position commits with its
    transaction, never moves backwards, and is kept per incarnation."""
    store.store_batch([badge(1), badge(2)], T0)
    assert store.resume_handing_on((READER, "")) == 2  # history is not handed on
    store.store_batch([badge(3)], T0)
    assert store.resume_handing_on((READER, "")) == 2  # the recorded position, not the new end
    def fail_after(conn: Connection) -> None:
        put_handed_on(conn, (READER, ""), 3)
        raise RuntimeError("the back office failed")

    with pytest.raises(RuntimeError), store.transaction() as conn:
        fail_after(conn)
    assert store.resume_handing_on((READER, "")) == 2
    with store.transaction() as conn:
        put_handed_on(conn, (READER, ""), 3)
        put_handed_on(conn, (READER, ""), 1)
    assert store.resume_handing_on((READER, "")) == 3
    assert store.resume_handing_on((READER, "b1e2")) == 0


def test_stored_as_is_finds_only_events_held_with_the_same_source_incarnation_and_seq(
    store: EventStore,
) -> None:
    kept = badge(1)
    store.store_batch([kept], T0)
    same_id_other_seq = badge(2, event_id=kept.id)
    other_incarnation = make_event("lobby", "reader-1", "badge.read", 1, kept.data, event_id=kept.id,
                                   incarnation="b1e2")
    assert store.stored_as_is([same_id_other_seq, other_incarnation, badge(3)]) == set()
    assert store.stored_as_is([kept, badge(3)]) == {kept.id}
    assert store.stored_as_is([]) == set()


def test_status_is_replaced_per_source(store: EventStore) -> None:
    since = datetime(2026, 11, 22, 7, 0, tzinfo=timezone(timedelta(hours=1)))
    store.set_status(READER, Status("online", kind="reader", since=since), T0)
    store.set_status("gatehouse/lobby/kiosk-1", Status("online", kind="kiosk"), T0)
    store.set_status(READER, Status("offline", kind="reader", detail="lost"), T0 + timedelta(1))
    states = store.list_status()
    assert [s.source for s in states] == ["gatehouse/lobby/kiosk-1", READER]
    reader = states[1]
    assert reader.status == Status("offline", kind="reader", since=None, detail="lost")
    assert reader.updated_at == T0 + timedelta(1)
    assert reader.updated_at.tzinfo is not None
    store.set_status(READER, Status("online", kind="reader", since=since), T0)
    assert store.list_status()[1].status.since == since


def test_a_status_joins_the_history_only_when_its_state_changes(store: EventStore) -> None:
    """The first status and each change of state add a row; the same state again (a retained status
    heard after a reconnect, a new detail or kind) only replaces the last status."""
    steps: list[tuple[State, str]] = [("online", "first"), ("online", "again"), ("offline", "lost"),
                                      ("offline", "still"), ("online", "back")]
    told = [store.set_status(READER, Status(state, kind="reader", detail=detail), T0 + timedelta(minutes=i))
            for i, (state, detail) in enumerate(steps)]
    assert told == [True, False, True, False, True]
    assert _changes(store.engine) == [
        (READER, "online", "reader", "first", T0),
        (READER, "offline", "reader", "lost", T0 + timedelta(minutes=2)),
        (READER, "online", "reader", "back", T0 + timedelta(minutes=4))]
    assert store.list_status()[0].status.detail == "back"


def test_stored_seqs_and_the_next_own_seq(store: EventStore) -> None:
    assert store.next_own_seq(READER) == 1
    store.store_batch([badge(seq) for seq in (1, 2, 5, 7)] + [badge(9, device="other")], T0)
    assert store.stored_seqs_above(READER, 2) == [5, 7]
    assert store.stored_seqs_above(READER, 7) == []
    assert store.next_own_seq(READER) == 8


def test_dead_letters_are_kept_verbatim(store: EventStore) -> None:
    store.add_dead_letters(
        [
            ("gatehouse/x/y/event/a.b", b"\x00\xffnot json", "payload is not JSON", None),
            Rejected("bad/topic", b"{}", "topic has no meaning", "gatehouse/x/y"),
        ],
        T0,
    )
    newest, oldest = store.list_dead_letters()
    assert oldest.topic == "gatehouse/x/y/event/a.b"
    assert (oldest.payload, oldest.source) == (b"\x00\xffnot json", None)
    assert (newest.reason, newest.source) == ("topic has no meaning", "gatehouse/x/y")
    assert newest.received_at == T0
    assert len(store.list_dead_letters(limit=1)) == 1


# reading back


def test_times_come_back_time_zone_aware_and_exact(store: EventStore) -> None:
    local = datetime(2026, 11, 22, 9, 15, 2, 654321, tzinfo=timezone(timedelta(hours=-5)))
    event = badge(1, at=local)
    store.store_batch([event], datetime(2026, 11, 22, 14, 15, 3, tzinfo=timezone(timedelta(hours=2))))
    [back] = store.query_events()
    assert back == event
    assert back.time.tzinfo == UTC
    assert back.time == local
    assert store.query_events(since=local) == [event]
    assert store.query_events(until=local) == []


def test_naive_times_are_refused(store: EventStore) -> None:
    with pytest.raises(ValueError, match="time-zone aware"):
        store.store_batch([badge(1)], datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="time-zone aware"):
        store.query_events(since=datetime(2026, 1, 1))


def test_query_filters(store: EventStore) -> None:
    reads = [badge(seq) for seq in range(1, 5)]
    door = make_event("lobby", "door-1", "door.opened", 1, DoorChange(door="main"), time=T0)
    held = make_event("lobby", "door-1", "door.held_open", 2, DoorChange(door="main"), time=T0)
    other = badge(1, device="reader-2", at=T0 + timedelta(minutes=5))
    store.store_batch([*reads, door, held, other], T0)
    assert store.count_events() == 7
    assert ids(store.query_events(types=["badge.read"], sources=[READER])) == ids(reads)
    assert ids(store.query_events(types=["door."])) == [door.id, held.id]
    two = store.query_events(types=["door.held_open", "badge.read"], sources=[other.source])
    assert ids(two) == [other.id]
    window = store.query_events(since=T0 + timedelta(seconds=2), until=T0 + timedelta(seconds=4))
    assert ids(window) == ids(reads[1:3])
    assert ids(store.query_events(limit=2, newest_first=True)) == [other.id, reads[3].id]
    assert ids(store.query_events(limit=2)) == [door.id, held.id]
    assert len(store.query_events(limit=None)) == 7
    assert store.query_events(types=["door"]) == []  # a family needs its trailing dot


def test_the_store_works_from_another_thread(sqlite_url: str) -> None:
    with open_store(sqlite_url) as store:
        event = badge(1)
        results: list[BatchResult] = []
        worker = threading.Thread(target=lambda: results.append(store.store_batch([event], T0)))
        worker.start()
        worker.join(10)
        assert results[0].stored == (event,)
        assert store.query_events() == [event]
