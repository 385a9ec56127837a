"""People's accounts on SQLite and PostgreSQL: changes and logins audited, throttled, sessions revoked."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import Engine, inspect, select, update

from security.accounts.login import LoginDesk, Refusal, Refused, Session
from security.accounts.passwords import PasswordRejectedError, Passwords
from security.accounts.roles import Grant, Role, RoleError, Visit
from security.accounts.sessions import SessionPolicy, token_hash
from security.accounts.throttle import LoginThrottle
from security.accounts.users import (
    AccountNameError,
    add_user,
    change_role,
    list_accounts,
    reset_password,
    set_disabled,
)
from security.office.access import Person, PersonKind
from security.office.audit import SealedRecord, verify
from security.storage import open_store
from security.storage.accounts import SESSIONS, USERS
from security.storage.audit_log import read_chain
from security.storage.engine import alembic_config, current_revision, head_revision, upgrade
from security.storage.people import Change, DuplicateError, NotFoundError, PeopleError, add_person

T0 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
KEY = b"k" * 32
CHEAP = Passwords(Argon2Hasher(time_cost=1, memory_cost=8 * 1024, parallelism=1))
PASSWORD = "correct horse battery"


class Clock:
    """A settable monotonic clock for the throttle."""

    def __init__(self) -> None:
        """Start at 0."""
        self.now = 0.0

    def __call__(self) -> float:
        """The current time in seconds."""
        return self.now


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A migrated, empty store's engine."""
    with open_store(db_url) as store:
        yield store.engine


def change(minutes: float = 0, actor: str = "cli:root") -> Change:
    """A change by `actor` at T0 + minutes, sealed with KEY."""
    return Change(actor, T0 + timedelta(minutes=minutes), KEY)


def chain(engine: Engine) -> list[SealedRecord]:
    """Every audit record, after checking the chain verifies."""
    with engine.connect() as conn:
        records = list(read_chain(conn))
    assert verify(records, key=KEY).ok
    return records


def desk(engine: Engine, clock: Clock | None = None) -> LoginDesk:
    """A login desk with cheap hashing and a settable throttle clock."""
    return LoginDesk(engine, passwords=CHEAP, throttle=LoginThrottle(clock or Clock()), audit_key=KEY)


def test_account_changes_are_stored_and_audited(engine: Engine) -> None:
    """Add, role change, disable, enable and reset each leave one verifying audit record; no hash in them."""
    info = add_user(engine, "Maria.Lopez", "manager", PASSWORD, change(), grants=["export"], passwords=CHEAP)
    assert (info.account.name, info.account.role, info.account.grants) == (
        "maria.lopez", Role.MANAGER, frozenset({Grant.EXPORT}))
    assert not info.disabled
    assert info.last_login_at is None
    add_person(engine, Person("e-7", "Joe Host", PersonKind.EMPLOYEE), change(1))
    add_user(engine, "joe", "host", "another long password", change(1), person_id="e-7", passwords=CHEAP)
    assert change_role(engine, "maria.lopez", "auditor", [], change(2)) == 0
    assert set_disabled(engine, "joe", True, change(3)) == 0
    assert set_disabled(engine, "joe", False, change(4)) == 0
    assert reset_password(engine, "joe", "a brand new passphrase", change(5), passwords=CHEAP) == 0
    listed = {i.account.name: i for i in list_accounts(engine)}
    assert listed["maria.lopez"].account.role is Role.AUDITOR
    assert listed["joe"].account.person_id == "e-7"
    assert listed["joe"].password_changed_at == T0 + timedelta(minutes=5)
    records = chain(engine)
    assert [(r.action, r.subject) for r in records] == [
        ("user.added", "user:maria.lopez"), ("person.added", "person:e-7"), ("user.added", "user:joe"),
        ("user.role_changed", "user:maria.lopez"), ("user.disabled", "user:joe"),
        ("user.enabled", "user:joe"), ("user.password_reset", "user:joe"),
    ]
    assert records[0].details == {"role": "manager", "grants": ["export"], "person_id": None}
    assert records[3].details["was_role"] == "manager"
    assert all("argon2" not in str(r.details) for r in records)
    with engine.connect() as conn:
        stored = conn.execute(select(USERS.c.password_hash).where(USERS.c.name == "joe")).scalar_one()
    assert stored.startswith("$argon2id$")
    assert "brand new" not in stored


def test_account_changes_that_cannot_be_made(engine: Engine) -> None:
    """Duplicates, unknown names, bad names, roles, grants and passwords are refused and leave no record."""
    add_user(engine, "maria", "guard", PASSWORD, change(), passwords=CHEAP)
    cases: list[tuple[type[Exception], str, Callable[[], object]]] = [
        (DuplicateError, "already exists", lambda: add_user(engine, "MARIA", "guard", PASSWORD, change(),
                                                              passwords=CHEAP)),
        (AccountNameError, "user name", lambda: add_user(engine, "ma ria", "guard", PASSWORD, change())),
        (RoleError, "role must be one of", lambda: add_user(engine, "x", "root", PASSWORD, change())),
        (RoleError, "guard role may not hold export",
         lambda: add_user(engine, "x", "guard", PASSWORD, change(), grants=["export"])),
        (PasswordRejectedError, "at least 12", lambda: add_user(engine, "x", "guard", "short", change())),
        (PasswordRejectedError, "account's name",
         lambda: reset_password(engine, "maria.lopez.hq", "Maria.Lopez.HQ", change())),
        (NotFoundError, "no person 'e-404' in the directory",
         lambda: add_user(engine, "host", "host", PASSWORD, change(), person_id="e-404", passwords=CHEAP)),
        (NotFoundError, "no user 'nobody'", lambda: set_disabled(engine, "nobody", True, change())),
        (PeopleError, "already enabled", lambda: set_disabled(engine, "maria", False, change())),
        (PeopleError, "already has role guard", lambda: change_role(engine, "maria", "guard", [], change())),
    ]
    for error, message, call in cases:
        with pytest.raises(error, match=message):
            call()
    assert [r.action for r in chain(engine)] == ["user.added"]


def test_login_makes_a_session_and_audits_it(engine: Engine) -> None:
    """A good login gives a session whose cookie token is stored only hashed; the lookup finds it."""
    add_user(engine, "maria", "reception", PASSWORD, change(), passwords=CHEAP)
    logins = desk(engine)
    session = logins.authenticate(" Maria ", PASSWORD, T0, "10.0.0.5")
    assert isinstance(session, Session)
    assert session.token is not None
    assert session.account.role is Role.RECEPTION
    assert session.expires_at == T0 + timedelta(hours=12)
    with engine.connect() as conn:
        row = conn.execute(select(SESSIONS)).one()
    assert row.token_hash == token_hash(session.token) != session.token
    found = logins.session(session.token, T0 + timedelta(minutes=10))
    assert found is not None
    assert (found.id, found.account, found.csrf_token, found.token) == (
        session.id, session.account, session.csrf_token, None)
    assert logins.check_csrf(session.token, session.csrf_token, T0 + timedelta(minutes=11)) is not None
    assert logins.check_csrf(session.token, "forged", T0 + timedelta(minutes=11)) is None
    assert logins.session("ghs_unknown", T0) is None
    assert logins.session("not a token", T0) is None
    last = chain(engine)[-1]
    assert (last.actor, last.action, last.subject) == ("user:maria", "login.succeeded", "user:maria")
    assert last.details == {"source": "10.0.0.5", "session": session.id, "rehashed": False}
    assert list_accounts(engine)[0].last_login_at == T0


def test_sessions_end_when_idle_expired_or_logged_out(engine: Engine) -> None:
    """Idle 30 minutes ends a session (a request within that moves it on); logout ends it and is audited."""
    add_user(engine, "maria", "guard", PASSWORD, change(), passwords=CHEAP)
    logins = desk(engine)
    session = logins.authenticate("maria", PASSWORD, T0, "10.0.0.5")
    assert isinstance(session, Session)
    assert session.token is not None
    token = session.token
    assert logins.session(token, T0 + timedelta(minutes=29)) is not None  # moves last_seen on
    assert logins.session(token, T0 + timedelta(minutes=58)) is not None
    assert logins.session(token, T0 + timedelta(minutes=89)) is None  # idle since 09:58
    again = logins.authenticate("maria", PASSWORD, T0, "10.0.0.5")
    assert isinstance(again, Session)
    assert again.token is not None
    assert logins.logout(again.token, T0 + timedelta(minutes=1))
    assert not logins.logout(again.token, T0 + timedelta(minutes=2))
    assert logins.session(again.token, T0 + timedelta(minutes=2)) is None
    assert chain(engine)[-1].action == "logout"


def test_disable_reset_and_role_change_end_sessions(engine: Engine) -> None:
    """Each of the three revokes every live session of the account at once."""
    add_user(engine, "maria", "manager", PASSWORD, change(), passwords=CHEAP)
    logins = desk(engine)

    def log_in() -> str:
        session = logins.authenticate("maria", PASSWORD, T0 + timedelta(minutes=1), "10.0.0.5")
        assert isinstance(session, Session)
        assert session.token is not None
        return session.token

    tokens = [log_in(), log_in()]
    assert set_disabled(engine, "maria", True, change(2)) == 2
    assert all(logins.session(t, T0 + timedelta(minutes=3)) is None for t in tokens)
    assert logins.authenticate("maria", PASSWORD, T0 + timedelta(minutes=3), "10.0.0.5") == Refused(
        Refusal.DISABLED)
    set_disabled(engine, "maria", False, change(4))
    token = log_in()
    assert reset_password(engine, "maria", "the new passphrase", change(5), passwords=CHEAP) == 1
    assert logins.session(token, T0 + timedelta(minutes=6)) is None
    old = logins.authenticate("maria", PASSWORD, T0 + timedelta(minutes=6), "10.0.0.5")
    assert old == Refused(Refusal.BAD_CREDENTIALS)
    new = logins.authenticate("maria", "the new passphrase", T0 + timedelta(minutes=6), "10.0.0.5")
    assert isinstance(new, Session)
    assert change_role(engine, "maria", "guard", [], change(7)) == 1
    assert new.token is not None
    assert logins.session(new.token, T0 + timedelta(minutes=8)) is None
    assert chain(engine)


def test_failed_logins_are_audited_alike_and_throttled(engine: Engine) -> None:
    """Unknown name and wrong password are refused alike; after 5 the account waits, unchecked, unaudited."""
    add_user(engine, "maria", "guard", PASSWORD, change(), passwords=CHEAP)
    clock = Clock()
    logins = desk(engine, clock)
    assert logins.authenticate("nobody", PASSWORD, T0, "10.0.0.9") == Refused(Refusal.BAD_CREDENTIALS)
    assert logins.authenticate("bad name!", PASSWORD, T0, "10.0.0.9") == Refused(Refusal.BAD_CREDENTIALS)
    assert logins.authenticate("x\udcff", PASSWORD, T0, "10.0.0.9\udcff") == Refused(Refusal.BAD_CREDENTIALS)
    for n in range(5):
        assert logins.authenticate("maria", f"wrong guess {n:04}", T0, f"10.0.1.{n}") == Refused(
            Refusal.BAD_CREDENTIALS)
    throttled = logins.authenticate("maria", PASSWORD, T0, "10.0.2.1")
    assert throttled == Refused(Refusal.THROTTLED, 60)
    failures = [r for r in chain(engine) if r.action == "login.failed"]
    assert [(r.subject, r.details["reason"]) for r in failures] == [
        ("user:nobody", "unknown_user"), ("user:?", "unknown_user"), ("user:?", "unknown_user"),
        *[("user:maria", "wrong_password")] * 5]
    assert failures[1].details["name"] == "bad name!"
    assert failures[2].details == {"reason": "unknown_user", "source": "10.0.0.9?", "name": "x?"}
    assert failures[3].actor == "anonymous@10.0.1.0"
    clock.now += 60
    assert isinstance(logins.authenticate("maria", PASSWORD, T0, "10.0.2.1"), Session)


def test_an_old_hash_is_renewed_at_login(engine: Engine) -> None:
    """A password hashed with older parameters is hashed again at the next good login (noted in the audit)."""
    add_user(engine, "maria", "guard", PASSWORD, change(), passwords=CHEAP)
    stronger = Passwords(Argon2Hasher(time_cost=2, memory_cost=8 * 1024, parallelism=1))
    logins = LoginDesk(engine, passwords=stronger, throttle=LoginThrottle(Clock()), audit_key=KEY)
    assert isinstance(logins.authenticate("maria", PASSWORD, T0, "10.0.0.5"), Session)
    with engine.connect() as conn:
        stored = conn.execute(select(USERS.c.password_hash)).scalar_one()
    assert ",t=2," in stored
    assert chain(engine)[-1].details["rehashed"] is True
    assert isinstance(logins.authenticate("maria", PASSWORD, T0, "10.0.0.5"), Session)
    assert chain(engine)[-1].details["rehashed"] is False


def test_personal_records_and_exports_are_gated_and_audited(engine: Engine) -> None:
    """A record opens only for a role whose scope covers it, each opening audited; so is an export."""
    add_person(engine, Person("e-1", "Hanna Host", PersonKind.EMPLOYEE), change())
    add_user(engine, "hanna", "host", PASSWORD, change(), person_id="e-1", passwords=CHEAP)
    add_user(engine, "maria", "manager", PASSWORD, change(), grants=["export"], passwords=CHEAP)
    add_user(engine, "greg", "guard", PASSWORD, change(), passwords=CHEAP)
    logins = desk(engine)
    sessions: dict[str, Session] = {}
    for name in ("hanna", "maria", "greg"):
        session = logins.authenticate(name, PASSWORD, T0, "10.0.0.5")
        assert isinstance(session, Session)
        sessions[name] = session
    today = T0.date()
    hers, other = Visit("e-1", today), Visit("e-2", today)
    assert logins.open_personal_record(sessions["hanna"], "v-1", hers, today, T0)
    assert not logins.open_personal_record(sessions["hanna"], "v-2", other, today, T0)
    assert not logins.open_personal_record(sessions["greg"], "v-1", hers, today, T0)
    assert logins.open_personal_record(sessions["maria"], "v-2", other, today, T0)
    assert logins.export(sessions["maria"], "visits", T0, count=12)
    assert not logins.export(sessions["greg"], "visits", T0, count=12)
    records = [r for r in chain(engine) if r.action in ("personal_data.viewed", "export")]
    assert [(r.actor, r.action, r.subject) for r in records] == [
        ("user:hanna", "personal_data.viewed", "visit:v-1"),
        ("user:maria", "personal_data.viewed", "visit:v-2"),
        ("user:maria", "export", "visits")]
    assert records[2].details == {"session": sessions["maria"].id, "records": 12}


def test_a_host_account_names_its_person(engine: Engine) -> None:
    """Without a directory person a host would see no visit: such an account is refused."""
    with pytest.raises(RoleError, match="names its person"):
        add_user(engine, "hanna", "host", PASSWORD, change(), passwords=CHEAP)
    add_user(engine, "greg", "guard", PASSWORD, change(), passwords=CHEAP)
    with pytest.raises(RoleError, match="names its person"):
        change_role(engine, "greg", "host", [], change())


def test_ended_sessions_are_purged_at_the_next_login(engine: Engine) -> None:
    """Logged-out and expired sessions of an account go when it logs in again; live ones stay."""
    add_user(engine, "maria", "guard", PASSWORD, change(), passwords=CHEAP)
    logins = desk(engine)
    first = logins.authenticate("maria", PASSWORD, T0, "10.0.0.5")
    second = logins.authenticate("maria", PASSWORD, T0, "10.0.0.5")
    assert isinstance(first, Session)
    assert isinstance(second, Session)
    assert first.token is not None
    logins.logout(first.token, T0 + timedelta(minutes=1))
    logins.authenticate("maria", PASSWORD, T0 + timedelta(minutes=2), "10.0.0.5")
    with engine.connect() as conn:
        left = {r.id for r in conn.execute(select(SESSIONS.c.id)).all()}
    assert first.id not in left
    assert second.id in left
    assert len(left) == 2


def test_a_session_policy_change_applies_to_open_sessions(engine: Engine) -> None:
    """Shortening the absolute lifetime ends sessions older than it, whatever they were given."""
    add_user(engine, "maria", "guard", PASSWORD, change(), passwords=CHEAP)
    session = desk(engine).authenticate("maria", PASSWORD, T0, "10.0.0.5")
    assert isinstance(session, Session)
    assert session.token is not None
    short = LoginDesk(engine, passwords=CHEAP, throttle=LoginThrottle(Clock()), audit_key=KEY,
                      policy=SessionPolicy(idle=timedelta(minutes=5), absolute=timedelta(minutes=20)))
    with engine.begin() as conn:  # a busy session: seen a minute ago
        conn.execute(update(SESSIONS).values(last_seen_at=T0 + timedelta(minutes=20)))
    assert short.session(session.token, T0 + timedelta(minutes=21)) is None
    assert desk(engine).session(session.token, T0 + timedelta(minutes=21)) is not None


def test_the_accounts_migration_goes_down_and_up_again(engine: Engine) -> None:
    """Downgrading below 0006 drops the two tables (accounts and all); upgrading makes them empty again."""
    add_user(engine, "maria", "guard", PASSWORD, change(), passwords=CHEAP)
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0005")  # to just before the accounts
    assert current_revision(engine) != head_revision()
    assert not {"users", "user_sessions"} & set(inspect(engine).get_table_names())
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert list_accounts(engine) == []
