"""The directory's write side on SQLite and PostgreSQL: changes, refusals, versions, audit and CSV import."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import Engine, func, select

from security.office.access import (
    AccessRight,
    Credential,
    CredentialFormat,
    Person,
    PersonKind,
    WeeklySchedule,
)
from security.office.audit import verify
from security.storage import EventStore, open_store
from security.storage.audit_log import read_chain
from security.storage.directory import directory_version, load_directory
from security.storage.models import table
from security.storage.people import (
    Change,
    DuplicateError,
    NotFoundError,
    PeopleError,
    add_credential,
    add_person,
    get_person,
    grant_right,
    import_employees,
    list_people,
    list_rights,
    remove_person,
    revoke_credentials,
    revoke_right,
    set_door_group,
    update_person,
)

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
KEY = b"site-secret-for-tests"
EM = CredentialFormat.EM4100


@pytest.fixture
def store(db_url: str) -> Iterator[EventStore]:
    """A migrated store on SQLite or PostgreSQL."""
    with open_store(db_url) as opened:
        yield opened


def at(minutes: int = 0, actor: str = "cli:test") -> Change:
    """A keyed change `minutes` after T0."""
    return Change(actor, T0 + timedelta(minutes=minutes), KEY)


def version(engine: Engine) -> int:
    with engine.connect() as conn:
        return directory_version(conn)


def audit_actions(engine: Engine) -> list[tuple[str, str, str]]:
    """(actor, action, subject) of every audit record; the chain must verify with the key."""
    with engine.connect() as conn:
        records = list(read_chain(conn))
    assert verify(records, key=KEY).ok
    return [(r.actor, r.action, r.subject) for r in records]


def test_people_and_badges_are_added_changed_and_removed(store: EventStore) -> None:
    """Each change moves the version once and leaves one audit record; removal takes the badges along."""
    engine = store.engine
    v0 = version(engine)
    add_person(engine, Person("e-1", "Ann Lee", groups=frozenset({"staff"})), at(0, "cli:maria"))
    add_credential(engine, Credential(" 0a:1b:2c:3d:4e ", EM, "e-1"), at(1))
    update_person(engine, Person("e-1", "Ann Lee-Smith", email="ann@example.org"), at(2))
    assert version(engine) == v0 + 3
    view = get_person(engine, "e-1")
    assert view.person.name == "Ann Lee-Smith"
    assert view.person.groups == frozenset()
    assert [c.value for c in view.credentials] == ["0A1B2C3D4E"]
    assert remove_person(engine, "e-1", at(3)) == 1
    with engine.connect() as conn:
        assert load_directory(conn).credentials == ()
        assert conn.scalar(select(func.count()).select_from(table("credentials"))) == 0
    assert audit_actions(engine) == [
        ("cli:maria", "person.added", "person:e-1"),
        ("cli:test", "credential.added", "person:e-1"),
        ("cli:test", "person.updated", "person:e-1"),
        ("cli:test", "person.removed", "person:e-1"),
    ]


def test_audit_details_never_hold_a_full_badge_number(store: EventStore) -> None:
    """The audit trail shows only the last 4 digits of a badge."""
    add_person(store.engine, Person("e-1", "Ann"), at())
    add_credential(store.engine, Credential("0A1B2C3D4E", EM, "e-1"), at(1))
    revoke_credentials(store.engine, "e-1", at(2))
    with store.engine.connect() as conn:
        text = repr([r.details for r in read_chain(conn)])
    assert "3D4E" in text
    assert "0A1B2C3D4E" not in text


def test_refusals_change_nothing(store: EventStore) -> None:
    """A duplicate person, a badge held by someone else, or an unknown person: refused, no version move."""
    engine = store.engine
    add_person(engine, Person("e-1", "Ann"), at())
    add_person(engine, Person("e-2", "Bob"), at())
    add_credential(engine, Credential("0A1B2C3D4E", EM, "e-1"), at())
    before = (version(engine), len(audit_actions(engine)))
    with pytest.raises(DuplicateError, match="already exists"):
        add_person(engine, Person("e-1", "Other"), at())
    with pytest.raises(DuplicateError, match=r"held by person 'e-1'"):
        add_credential(engine, Credential("0a1b2c3d4e", EM, "e-2"), at())
    with pytest.raises(DuplicateError, match="Wiegand reader could not tell"):
        add_credential(engine, Credential("2C3D4E", CredentialFormat.WIEGAND26, "e-2"), at())
    with pytest.raises(DuplicateError, match="this person"):
        add_credential(engine, Credential("0A1B2C3D4E", EM, "e-1"), at())
    with pytest.raises(NotFoundError, match="no person 'e-9'"):
        add_credential(engine, Credential("0000000001", EM, "e-9"), at())
    with pytest.raises(NotFoundError):
        update_person(engine, Person("e-9", "Nobody"), at())
    with pytest.raises(NotFoundError):
        revoke_credentials(engine, "e-2", at())
    assert (version(engine), len(audit_actions(engine))) == before


def test_a_revoked_or_expired_badge_may_be_issued_again(store: EventStore) -> None:
    """Only live badges block a value: after revocation (or expiry) another person may get it."""
    engine = store.engine
    for pid in ("e-1", "e-2", "e-3"):
        add_person(engine, Person(pid, pid.upper()), at())
    add_credential(engine, Credential("0A1B2C3D4E", EM, "e-1"), at())
    add_credential(engine, Credential("0000000009", EM, "e-1", valid_until=T0 + timedelta(minutes=5)), at())
    assert revoke_credentials(engine, "e-1", at(1), "0a1b2c3d4e") == 1
    with pytest.raises(NotFoundError, match="no unrevoked badge 0A1B2C3D4E"):
        revoke_credentials(engine, "e-1", at(2), "0A1B2C3D4E")
    add_credential(engine, Credential("0A1B2C3D4E", EM, "e-2"), at(2))
    add_credential(engine, Credential("0000000009", EM, "e-3"), at(10))
    with engine.connect() as conn:
        directory = load_directory(conn)
    by_person = {(c.person_id, c.value): c for c in directory.credentials}
    assert by_person[("e-1", "0A1B2C3D4E")].revoked_at == T0 + timedelta(minutes=1)
    assert by_person[("e-2", "0A1B2C3D4E")].revoked_at is None


def test_revoking_all_badges_of_a_person(store: EventStore) -> None:
    """Without a value every unrevoked badge goes, at the change's time."""
    add_person(store.engine, Person("e-1", "Ann"), at())
    add_credential(store.engine, Credential("0A1B2C3D4E", EM, "e-1"), at())
    add_credential(store.engine, Credential("ABCDEF", CredentialFormat.QR, "e-1"), at())
    assert revoke_credentials(store.engine, "e-1", at(5)) == 2
    view = get_person(store.engine, "e-1")
    assert {c.revoked_at for c in view.credentials} == {T0 + timedelta(minutes=5)}


def test_door_groups_and_rights(store: EventStore) -> None:
    """Rights need an existing door group (and person); they load into the directory and can be revoked."""
    engine = store.engine
    add_person(engine, Person("e-1", "Ann", groups=frozenset({"staff"})), at())
    schedule = WeeklySchedule.weekdays(time(7), time(19), "Europe/Warsaw")
    with pytest.raises(NotFoundError, match="no door group 'lobby'"):
        grant_right(engine, AccessRight("lobby", schedule, group="staff"), at())
    with pytest.raises(PeopleError, match="at least one door"):
        set_door_group(engine, "lobby", [], at())
    set_door_group(engine, "lobby", ["main-door", "side-door", "main-door"], at())
    with pytest.raises(NotFoundError, match="no person 'e-9'"):
        grant_right(engine, AccessRight("lobby", schedule, person_id="e-9"), at())
    right_id = grant_right(engine, AccessRight("lobby", schedule, group="staff"), at())
    assert list_rights(engine) == [(right_id, AccessRight("lobby", schedule, group="staff"))]
    with engine.connect() as conn:
        directory = load_directory(conn)
    person = directory.person("e-1")
    assert person is not None
    assert directory.doors_of("lobby") == {"main-door", "side-door"}
    assert directory.rights_at(person, "side-door")[0].schedule == schedule
    assert get_person(engine, "e-1").rights == ((right_id, AccessRight("lobby", schedule, group="staff")),)
    revoke_right(engine, right_id, at())
    with pytest.raises(NotFoundError):
        revoke_right(engine, right_id, at())
    assert list_rights(engine) == []
    actions = [a for _, a, _ in audit_actions(engine)]
    assert actions[-3:] == ["door_group.set", "right.granted", "right.revoked"]


CSV = """employee_id,name,email,badge,badge_format,valid_from,valid_until,groups
e-10,Budi Santoso,budi@example.org,0A0000000A,em4100,2026-11-01,,staff;it
e-11,,nobody@example.org,,,,,
e-12,Citra,,0B0000000B,em4100,,2026-12-31,staff
e-13,Dewi,,ZZZ,em4100,,,
e-14,Eko,,0C0000000C,,,,staff
"""


def test_csv_import_keeps_good_rows_and_reports_bad_ones(store: EventStore) -> None:
    """Good rows go in, each bad row is reported with its row number; a badge held by someone else fails."""
    engine = store.engine
    add_person(engine, Person("e-1", "Ann"), at())
    add_credential(engine, Credential("0C0000000C", EM, "e-1"), at())
    v0 = version(engine)
    report = import_employees(engine, CSV, at(1, "api:hr"), tz="Asia/Jakarta")
    assert report.added == ("e-10", "e-12")
    assert report.credentials == 2
    assert [(e.row, e.reason.split(":")[0]) for e in report.errors] == [
        (3, "employee_id and name are required"), (5, "bad badge"), (6, "e-14")]
    assert "held by person 'e-1'" in report.errors[2].reason
    assert version(engine) == v0 + 1
    people = {v.person.id: v for v in list_people(engine)}
    assert set(people) == {"e-1", "e-10", "e-12"}
    assert people["e-10"].person.groups == {"staff", "it"}
    assert people["e-10"].credentials[0].valid_from == datetime(2026, 10, 31, 17, 0, tzinfo=UTC)
    assert people["e-12"].credentials[0].valid_until == datetime(2026, 12, 31, 17, 0, tzinfo=UTC)
    assert audit_actions(engine)[-1] == ("api:hr", "people.imported", "people:csv")


def test_csv_import_again_updates_people_and_keeps_their_badges(store: EventStore) -> None:
    """Re-importing the same list updates names and adds no second copy of a badge already held."""
    engine = store.engine
    import_employees(engine, "employee_id,name,badge\ne-1,Ann,0A0000000A\n", at())
    report = import_employees(engine, "employee_id,name,badge\ne-1,Ann Lee,0A0000000A\ne-2,Bob,\n", at(1))
    assert (report.added, report.updated, report.credentials, report.errors) == (("e-2",), ("e-1",), 0, ())
    view = get_person(engine, "e-1")
    assert view.person.name == "Ann Lee"
    assert len(view.credentials) == 1


def test_csv_import_refuses_a_visitor_id(store: EventStore) -> None:
    """A row whose id is a visitor's is an error; the visitor is left alone."""
    add_person(store.engine, Person("v-1", "Guest", PersonKind.VISITOR), at())
    report = import_employees(store.engine, "employee_id,name\nv-1,Guest Employee\n", at())
    assert [(e.row, e.reason) for e in report.errors] == [(2, "v-1: is a visitor, not an employee")]
    assert get_person(store.engine, "v-1").person.kind is PersonKind.VISITOR


def test_csv_dry_run_writes_nothing(store: EventStore) -> None:
    """A dry run reports what would happen and leaves people, version and audit log untouched."""
    engine = store.engine
    before = (version(engine), len(audit_actions(engine)))
    report = import_employees(engine, CSV, at(), dry_run=True)
    assert report.dry_run
    assert report.added == ("e-10", "e-12", "e-14")
    assert len(report.errors) == 2
    assert list_people(engine) == []
    assert (version(engine), len(audit_actions(engine))) == before


def test_csv_import_with_only_bad_rows_writes_nothing(store: EventStore) -> None:
    """No good row: no version move and no audit record."""
    before = version(store.engine)
    report = import_employees(store.engine, "name\nAnn\n", at())
    assert [e.row for e in report.errors] == [1]
    assert version(store.engine) == before
    assert audit_actions(store.engine) == []


def test_csv_import_refuses_an_unknown_time_zone(store: EventStore) -> None:
    """The zone is checked before anything is read."""
    with pytest.raises(PeopleError, match="unknown time zone"):
        import_employees(store.engine, CSV, at(), tz="Mars/Olympus")
