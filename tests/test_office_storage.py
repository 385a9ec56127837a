"""The back office's tables on SQLite and PostgreSQL: directory, alarms and the audit chain."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import func, insert, select, update

from broker.events import make_event
from broker.schemas import Priority
from security.office.access import CredentialFormat, PersonKind, WeeklySchedule
from security.office.alarms import (
    Acknowledge,
    ActionRejected,
    AlarmBook,
    AlarmState,
    BookConfig,
    Condition,
    Output,
    RuleName,
    Shelve,
)
from security.office.audit import AuditRecord, ProblemKind, verify
from security.office.config import OfficeConfig
from security.office.engine import BackOffice, Effects
from security.office.runtime import OfficeRuntime
from security.storage import open_store
from security.storage.alarm_store import list_alarms, load_book, save_alarms
from security.storage.audit_log import append_audit, chain_head, read_chain
from security.storage.directory import (
    bump_version,
    directory_version,
    load_directory,
    schedule_from_json,
    schedule_to_json,
)
from security.storage.engine import writing
from security.storage.models import table

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def test_schedule_round_trips_through_json() -> None:
    """A weekly schedule comes back equal from its stored form."""
    schedule = WeeklySchedule.weekdays(time(7, 30), time(22, 0), "Asia/Jakarta")
    assert schedule_from_json(schedule_to_json(schedule)) == schedule
    assert schedule_from_json(schedule_to_json(WeeklySchedule.all_hours())).always


def test_directory_loads_people_credentials_and_rights(db_url: str) -> None:
    """Rows written to the tables come back as one Directory; the version moves on a bump."""
    with open_store(db_url) as store, store.engine.begin() as conn:
        conn.execute(insert(table("people")), [{
            "id": "e-1", "name": "Budi Santoso", "kind": "employee", "groups": ["staff"],
            "email": "budi@example.org", "created_at": T0, "updated_at": T0}])
        conn.execute(insert(table("credentials")), [{
            "value": "0a1b2c3d4e", "format": "em4100", "person_id": "e-1", "valid_from": T0,
            "valid_until": None, "revoked_at": None, "created_at": T0}])
        conn.execute(insert(table("door_groups")), [{"name": "lobby", "doors": ["main-door"]}])
        conn.execute(insert(table("access_rights")), [{
            "door_group": "lobby", "person_id": None, "group": "staff",
            "schedule": schedule_to_json(WeeklySchedule.all_hours("UTC"))}])
        before = directory_version(conn)
        bump_version(conn, T0)
        assert directory_version(conn) == before + 1
        directory = load_directory(conn)
    person = directory.person("e-1")
    assert person is not None
    assert person.kind is PersonKind.EMPLOYEE
    assert person.groups == {"staff"}
    assert directory.credentials[0].format is CredentialFormat.EM4100
    assert directory.credentials[0].value == "0A1B2C3D4E"
    assert directory.credentials[0].valid_from == T0
    assert directory.rights_at(person, "main-door")


def test_alarms_are_saved_and_the_book_is_rebuilt(db_url: str) -> None:
    """Open alarms come back into a book with their history; resolved ones stay listed only."""
    book = AlarmBook(BookConfig())
    outputs: list[Output] = []
    for n, rule in enumerate((RuleName.DOOR_FORCED, RuleName.CAMERA_TAMPER)):
        condition = Condition(rule, f"{rule}:x", Priority.HIGH, f"alarm {n}", (f"ev-{n}",))
        book, out = book.apply(condition, T0 + timedelta(seconds=n))
        outputs += out
    book, out = book.apply(Acknowledge("a-1", "guard:maria", "on it"), T0 + timedelta(minutes=1))
    outputs += out
    book, out = book.apply(Shelve("a-2", "guard:jan", T0 + timedelta(hours=1)), T0 + timedelta(minutes=2))
    outputs += out
    with open_store(db_url) as store:
        with store.engine.begin() as conn:
            save_alarms(conn, [o.alarm for o in outputs if not isinstance(o, ActionRejected)], T0)
        with store.engine.connect() as conn:
            rebuilt = load_book(conn, BookConfig())
        assert rebuilt.alarms == book.alarms
        assert rebuilt.open_keys == book.open_keys
        assert rebuilt.next_number == 3
        first = rebuilt.get("a-1")
        assert first is not None
        assert first.state is AlarmState.ACKNOWLEDGED
        assert [t.action for t in first.history] == ["raised", "acknowledged"]
        shelved = rebuilt.get("a-2")
        assert shelved is not None
        assert shelved.history[-1].until == T0 + timedelta(hours=1)  # kept as stored
        with store.engine.connect() as conn:
            assert [a.id for a in list_alarms(conn)] == ["a-2", "a-1"]


def test_audit_chain_in_the_database_detects_edits_deletes_and_reorders(db_url: str) -> None:
    """Appends chain across calls; an edited, a deleted and a swapped row are each found by verify."""
    key = b"site-secret"
    records = [AuditRecord(T0 + timedelta(seconds=i), "manager:joe", "person.added", f"person:e-{i}",
                           {"n": i}) for i in range(6)]
    audit = table("audit_log")
    with open_store(db_url) as store:
        with store.engine.begin() as conn:
            append_audit(conn, records[:3], key=key)
        with store.engine.begin() as conn:
            append_audit(conn, records[3:], key=key)
        with store.engine.connect() as conn:
            assert chain_head(conn).seq == 6
            assert verify(read_chain(conn, batch=4), key=key).ok
        with store.engine.begin() as conn:
            conn.execute(update(audit).where(audit.c.seq == 2).values(actor="manager:eve"))
            conn.execute(audit.delete().where(audit.c.seq == 4))
            # swap the contents of 5 and 6 (a reorder that keeps the sequence numbers)
            rows = {r.seq: r for r in conn.execute(audit.select().where(audit.c.seq.in_([5, 6]))).all()}
            for seq, other in ((5, 6), (6, 5)):
                src = rows[other]
                conn.execute(update(audit).where(audit.c.seq == seq).values(
                    time=src.time, actor=src.actor, action=src.action, subject=src.subject,
                    details=src.details, prev_hash=src.prev_hash, hash=src.hash))
        with store.engine.connect() as conn:
            report = verify(read_chain(conn), key=key, expected=chain_head(conn))
    kinds = {(p.seq, p.kind) for p in report.problems}
    assert not report.ok
    assert (2, ProblemKind.EDITED) in kinds
    assert any(seq in (4, 5) and kind is ProblemKind.MISSING for seq, kind in kinds), kinds
    assert any(seq in (5, 6) for seq, _ in kinds)


def test_read_then_write_transactions_do_not_fail_while_another_connection_writes(sqlite_url: str) -> None:
    """`writing()` takes SQLite's write lock at BEGIN: a stale read snapshot never refuses the write."""
    stop = threading.Event()
    with open_store(sqlite_url) as store:
        version = table("directory_version")

        def busy_writer() -> None:
            while not stop.is_set():
                with store.engine.begin() as conn:
                    bump_version(conn, T0)

        writer = threading.Thread(target=busy_writer)
        writer.start()
        try:
            for _ in range(50):
                with writing(store.engine) as conn:
                    conn.execute(select(func.count()).select_from(version)).scalar_one()  # read first
                    bump_version(conn, T0)  # then write
        finally:
            stop.set()
            writer.join()
        with store.engine.connect() as conn:
            assert directory_version(conn) >= 50


def test_after_a_rolled_back_transaction_the_directory_is_loaded_again(sqlite_url: str) -> None:
    """A directory refreshed in a transaction that then failed is not kept stale: the next refresh reloads."""
    seqs = iter(range(1, 1000))
    with open_store(sqlite_url) as store:
        runtime = OfficeRuntime(store, OfficeConfig(), site="hq",
                                emit=lambda t, d: make_event("hq", "central", t, next(seqs), d))
        runtime.load(T0)
        with store.engine.begin() as conn:
            conn.execute(insert(table("people")), [{
                "id": "e-1", "name": "Budi", "kind": "employee", "groups": [], "email": None,
                "created_at": T0, "updated_at": T0}])
            bump_version(conn, T0)
        with store.engine.begin() as conn:
            runtime.refresh_directory(conn)  # loads e-1 ...
        runtime.rolled_back()  # ... but that transaction failed: back to the committed state
        assert runtime.office.directory().person("e-1") is None
        with store.engine.begin() as conn:
            runtime.refresh_directory(conn)
        assert runtime.office.directory().person("e-1") is not None


def test_a_step_the_back_office_cannot_take_is_skipped_and_the_batch_goes_on(sqlite_url: str) -> None:
    """A failing step in the back office's logic is logged and skipped; the state is as before it."""
    def broken(_office: BackOffice) -> Effects:
        raise RuntimeError("a bug in a rule")

    seqs = iter(range(1, 1000))
    with open_store(sqlite_url) as store:
        runtime = OfficeRuntime(store, OfficeConfig(), site="hq",
                                emit=lambda t, d: make_event("hq", "central", t, next(seqs), d))
        runtime.load(T0)
        before = runtime.office.state
        with store.engine.begin() as conn:
            runtime.step(conn, broken, T0)
        assert runtime.office.state is before
