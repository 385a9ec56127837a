"""People's accounts, the pure parts: the role table, scopes, password policy, sessions, throttling."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pwdlib.hashers.argon2 import Argon2Hasher

from security.accounts.config import AccountsSection
from security.accounts.passwords import MAX_LENGTH, PasswordRejectedError, Passwords, check_policy, normalise
from security.accounts.roles import (
    ROLES,
    Account,
    Grant,
    Permission,
    Role,
    RoleError,
    Scope,
    Visit,
    parse_grants,
)
from security.accounts.sessions import (
    SessionPolicy,
    SessionPolicyError,
    SessionState,
    SessionTimes,
    clear_cookie,
    csrf_ok,
    csrf_token,
    looks_like_token,
    needs_touch,
    new_session,
    set_cookie,
    state_of,
    token_hash,
)
from security.accounts.throttle import Bucket, LoginThrottle, source_key

P = Permission
T0 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
TODAY = date(2026, 12, 5)
CHEAP = Argon2Hasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
"""Real Argon2id with small parameters, so the tests spend little CPU on hashing."""

# the policy, written out again as the matrix a reviewer reads: a change to ROLES must change this too
EXPECTED = {
    Role.HOST: {P.VIEW_VISITS, P.MANAGE_VISITS, P.VIEW_PERSONAL_DATA},
    Role.RECEPTION: {P.VIEW_VISITS, P.MANAGE_VISITS, P.VIEW_PERSONAL_DATA, P.VIEW_ONSITE, P.VIEW_WATCHLIST,
                     P.VIEW_PEOPLE},
    Role.GUARD: {P.VIEW_VISITS, P.VIEW_ONSITE, P.VIEW_WATCHLIST, P.VIEW_PEOPLE, P.VIEW_ALARMS,
                 P.HANDLE_ALARMS, P.VIEW_INCIDENTS, P.MANAGE_INCIDENTS, P.DOOR_CONTROL, P.VIEW_EVENTS},
    Role.MANAGER: {P.VIEW_VISITS, P.MANAGE_VISITS, P.VIEW_PERSONAL_DATA, P.VIEW_ONSITE, P.VIEW_WATCHLIST,
                   P.MANAGE_WATCHLIST, P.VIEW_PEOPLE, P.MANAGE_PEOPLE, P.VIEW_ALARMS, P.HANDLE_ALARMS,
                   P.VIEW_INCIDENTS, P.MANAGE_INCIDENTS, P.CLOSE_INCIDENTS, P.DOOR_CONTROL, P.VIEW_EVENTS,
                   P.VIEW_AUDIT, P.VERIFY_AUDIT},
    Role.AUDITOR: {P.VIEW_VISITS, P.VIEW_WATCHLIST, P.VIEW_PEOPLE, P.VIEW_ALARMS, P.VIEW_INCIDENTS,
                   P.VIEW_EVENTS, P.VIEW_AUDIT, P.VERIFY_AUDIT},
    Role.ADMIN: {P.MANAGE_USERS, P.MANAGE_TOKENS, P.MANAGE_SETTINGS, P.VIEW_AUDIT, P.VERIFY_AUDIT},
}


@pytest.mark.parametrize("role", list(Role))
def test_each_role_holds_exactly_its_permissions(role: Role) -> None:
    """The table gives each role what the matrix above says, and no role gets export or delete by itself."""
    assert Account("a", role).permissions == EXPECTED[role]
    assert not {P.EXPORT, P.DELETE} & ROLES[role].permissions


def test_the_table_keeps_its_promises() -> None:
    """Personal data iff a personal scope; only admins manage accounts; auditors only read."""
    for role, spec in ROLES.items():
        assert (P.VIEW_PERSONAL_DATA in spec.permissions) == (spec.personal is not Scope.NONE), role
        assert (P.MANAGE_USERS in spec.permissions) == (role is Role.ADMIN), role
        assert (P.VIEW_VISITS in spec.permissions) == (spec.visits is not Scope.NONE), role
    reading = {p for p in Permission if p.value.startswith(("view_", "verify_"))}
    assert ROLES[Role.AUDITOR].permissions <= reading


def test_grants_only_where_the_table_allows() -> None:
    """Managers may hold both grants, auditors export only, everyone else none; unknown grants are refused."""
    manager = Account("m", Role.MANAGER, frozenset(Grant))
    assert {P.EXPORT, P.DELETE} <= manager.permissions
    assert Account("a", Role.AUDITOR, frozenset({Grant.EXPORT})).may(P.EXPORT)
    with pytest.raises(RoleError, match="auditor role may not hold delete"):
        Account("a", Role.AUDITOR, frozenset({Grant.DELETE}))
    for role in (Role.HOST, Role.RECEPTION, Role.GUARD, Role.ADMIN):
        with pytest.raises(RoleError, match="it may hold: none"):
            parse_grants(role, ["export"])
    with pytest.raises(RoleError, match="a grant is one of export, delete"):
        parse_grants(Role.MANAGER, ["everything"])


def test_scopes_decide_whose_visitor_details_are_shown() -> None:
    """Hosts see their own visitors, reception today's and those on site, managers all, guards none."""
    mine = Visit(host_id="e-1", day=date(2026, 11, 1))
    theirs_today = Visit(host_id="e-2", day=TODAY)
    old_still_in = Visit(host_id="e-2", day=date(2026, 12, 4), on_site=True)
    host = Account("h", Role.HOST, person_id="e-1")
    assert host.sees_personal_data(mine, TODAY)
    assert not host.sees_personal_data(theirs_today, TODAY)
    assert not host.sees_visit(theirs_today, TODAY)
    nobody = Account("h2", Role.HOST)  # no directory person: the host of no visit
    assert not nobody.sees_personal_data(Visit(None, TODAY), TODAY)
    reception = Account("r", Role.RECEPTION)
    assert reception.sees_personal_data(theirs_today, TODAY)
    assert reception.sees_personal_data(old_still_in, TODAY)
    assert not reception.sees_personal_data(mine, TODAY)
    assert reception.sees_visit(mine, TODAY)
    guard = Account("g", Role.GUARD)
    assert guard.sees_visit(theirs_today, TODAY)
    assert not guard.sees_visit(mine, TODAY)
    assert not guard.sees_personal_data(theirs_today, TODAY)
    assert Account("m", Role.MANAGER).sees_personal_data(mine, TODAY)
    for role in (Role.AUDITOR, Role.ADMIN):
        assert not Account("x", role).sees_personal_data(theirs_today, TODAY)
    assert not Account("x", Role.ADMIN).sees_visit(theirs_today, TODAY)


# passwords


@pytest.mark.parametrize(("password", "message"), [
    ("short pass", "at least 12"),
    ("x" * (MAX_LENGTH + 1), "at most 256"),
    ("maria.lopez1", "the account's name"),
    ("MARIA.LOPEZ1", "the account's name"),
    ("a" * 20, "one character repeated"),
    ("twelve chars\nand a newline", "control characters"),
])
def test_the_policy_refuses(password: str, message: str) -> None:
    """Too short, too long, the name itself, one repeated character, control characters."""
    with pytest.raises(PasswordRejectedError, match=message):
        check_policy(password, "maria.lopez1")


def test_the_policy_accepts_any_long_enough_text() -> None:
    """No composition rules: lower-case words, spaces and any script pass; NFKC applies before counting."""
    for good in ("correct horse battery staple", "zażółć gęślą jaźń", "пароль пароль",
                 "xy" * (MAX_LENGTH // 2)):
        assert check_policy(good, "maria") == normalise(good)
    fullwidth = "".join(chr(ord(c) + 0xFEE0) if c != " " else c for c in "fullwidth pass")
    assert check_policy(fullwidth, "maria") == "fullwidth pass"


def test_hash_check_and_rehash_when_parameters_move() -> None:
    """The right password matches; a wrong one, a mangled hash, another scheme never; old hashes renew."""
    old = Passwords(CHEAP)
    stored = old.hash("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert old.check("correct horse battery", stored).ok
    assert old.check("correct horse battery", stored).new_hash is None
    assert not old.check("correct horse batterY", stored).ok
    assert not old.check("correct horse battery", stored[:-4] + "AAAA").ok
    assert not old.check("correct horse battery", "$2b$12$notargon").ok
    assert not old.check("x" * 5000, stored).ok
    newer = Passwords(Argon2Hasher(time_cost=2, memory_cost=8 * 1024, parallelism=1))
    checked = newer.check("correct horse battery", stored)
    assert checked.ok
    assert checked.new_hash is not None
    assert "t=2" in checked.new_hash
    assert newer.check("correct horse battery", checked.new_hash).new_hash is None  # renewed once only
    assert newer.check("wrong horse battery", stored).new_hash is None


def test_the_same_password_typed_differently_is_the_same() -> None:
    """A composed and a decomposed accent verify against each other (NFKC on both sides)."""
    passwords = Passwords(CHEAP)
    stored = passwords.hash("Cafe\u0301 au lait, merci")
    assert passwords.check("Caf\u00e9 au lait, merci", stored).ok


def test_dummy_check_runs_a_real_argon2_verification() -> None:
    """The check for an unknown name hashes once, then reuses that hash (same cost as a real check)."""
    passwords = Passwords(CHEAP)
    passwords.check_dummy("anything at all")
    first = passwords._dummy()
    passwords.check_dummy("x" * 10_000)
    assert passwords._dummy() == first
    assert first.startswith("$argon2id$v=19$m=8192,t=1,p=1$")


# sessions


def test_session_lifetimes() -> None:
    """Live until idle for 30 minutes or 12 hours old or revoked; a shorter policy applies to old sessions."""
    policy = SessionPolicy()
    fresh = new_session(policy, T0)
    assert fresh.token.startswith("ghs_")
    assert fresh.token_hash == token_hash(fresh.token) != fresh.token
    assert fresh.times == SessionTimes(T0, T0, T0 + timedelta(hours=12))
    times = fresh.times
    assert state_of(times, policy, T0 + timedelta(minutes=29)) is SessionState.LIVE
    assert state_of(times, policy, T0 + timedelta(minutes=30)) is SessionState.IDLE
    busy = SessionTimes(T0, T0 + timedelta(hours=11, minutes=59), T0 + timedelta(hours=12))
    assert state_of(busy, policy, T0 + timedelta(hours=11, minutes=59, seconds=59)) is SessionState.LIVE
    assert state_of(busy, policy, T0 + timedelta(hours=12)) is SessionState.EXPIRED
    shorter = SessionPolicy(idle=timedelta(minutes=10), absolute=timedelta(hours=1))
    assert state_of(busy, shorter, T0 + timedelta(hours=11, minutes=59, seconds=30)) is SessionState.EXPIRED
    revoked = SessionTimes(T0, T0, T0 + timedelta(hours=12), T0 + timedelta(minutes=5))
    assert state_of(revoked, policy, T0 + timedelta(minutes=4)) is SessionState.LIVE
    assert state_of(revoked, policy, T0 + timedelta(minutes=5)) is SessionState.REVOKED
    assert not needs_touch(times, policy, T0 + timedelta(seconds=59))
    assert needs_touch(times, policy, T0 + timedelta(minutes=1))


def test_session_policies_out_of_order_are_refused() -> None:
    """Idle longer than absolute, under a minute, or sessions over 30 days make no sense."""
    hour = timedelta(hours=1)
    for idle, absolute in ((2 * hour, hour), (timedelta(seconds=30), hour), (hour, timedelta(days=31))):
        with pytest.raises(SessionPolicyError):
            SessionPolicy(idle=idle, absolute=absolute)


def test_csrf_tokens_belong_to_one_session() -> None:
    """The token of one session's forms fails in another, and without the secret it cannot be made."""
    one, two = new_session(SessionPolicy(), T0), new_session(SessionPolicy(), T0)
    token = csrf_token(one.token, one.csrf_secret)
    assert csrf_ok(one.token, one.csrf_secret, token)
    assert not csrf_ok(two.token, two.csrf_secret, token)
    assert not csrf_ok(one.token, two.csrf_secret, token)  # the cookie alone is not enough
    assert not csrf_ok(one.token, one.csrf_secret, None)
    assert not csrf_ok(one.token, one.csrf_secret, "")
    assert not csrf_ok(one.token, one.csrf_secret, token[:-1] + ("A" if token[-1] != "A" else "B"))
    assert not csrf_ok(one.token, one.csrf_secret, "é" * 43)
    assert token != one.csrf_secret
    assert one.token not in token


def test_cookie_and_token_shape() -> None:
    """HttpOnly and SameSite always; Secure and the __Host- name over HTTPS; no lifetime in the browser."""
    assert set_cookie("ghs_x", secure=False) == "gh_session=ghs_x; Path=/; HttpOnly; SameSite=Lax"
    secure = "__Host-gh_session=ghs_x; Path=/; HttpOnly; SameSite=Lax; Secure"
    assert set_cookie("ghs_x", secure=True) == secure
    assert "Max-Age=0" in clear_cookie(secure=True)
    assert looks_like_token("ghs_abc")
    assert not looks_like_token("gh_abc")
    assert not looks_like_token("ghs_" + "a" * 200)


# throttling


class Clock:
    """A settable clock in seconds."""

    def __init__(self) -> None:
        """Start at 1000 s."""
        self.now = 1000.0

    def __call__(self) -> float:
        """The current time."""
        return self.now


def test_five_failures_throttle_an_account_from_every_address() -> None:
    """The sixth failure on one name waits a minute, from any address; other names are not affected."""
    clock = Clock()
    throttle = LoginThrottle(clock)
    for n in range(5):
        assert throttle.retry_after("maria", f"10.0.0.{n}") == 0
        assert throttle.failed("Maria", f"10.0.0.{n}") is (n == 4)
    assert throttle.retry_after("maria", "10.0.9.9") == 60
    assert throttle.retry_after("john", "10.0.9.9") == 0
    clock.now += 59
    assert throttle.retry_after("maria", "10.0.9.9") == 1
    clock.now += 1
    assert throttle.retry_after("maria", "10.0.9.9") == 0


def test_ten_failures_throttle_an_address_across_names() -> None:
    """One address trying ten names waits 6 s; its /64 counts as one for IPv6."""
    clock = Clock()
    throttle = LoginThrottle(clock)
    for n in range(10):
        throttle.failed(f"user{n}", f"2001:db8::{n + 1}")
    assert throttle.retry_after("someone", "2001:db8::ffff") == 6
    assert throttle.retry_after("someone", "2001:db8:0:1::1") == 0
    assert source_key("::ffff:10.1.2.3") == "10.1.2.3"
    assert source_key("not an address") == "not an address"


def test_throttle_remembers_a_bounded_number_of_keys() -> None:
    """Past max_keys the key that failed longest ago is forgotten first."""
    clock = Clock()
    throttle = LoginThrottle(clock, account=Bucket(1, 60.0), source=Bucket(100, 1.0), max_keys=3)
    for name in ("a", "b", "c", "d"):
        throttle.failed(name, "10.0.0.1")
        clock.now += 1
    assert throttle.retry_after("a", "10.0.0.2") == 0  # forgotten
    assert throttle.retry_after("d", "10.0.0.2") > 0
    assert len(throttle._accounts) == 3


def test_the_accounts_section_sets_lifetimes_and_limits() -> None:
    """`[accounts]` values reach the session policy and the throttle; the defaults are the rules' own."""
    assert AccountsSection().policy() == SessionPolicy()
    section = AccountsSection(session_idle_minutes=10, session_hours=2, failures_per_account=2,
                              account_refill_s=30)
    assert section.policy() == SessionPolicy(idle=timedelta(minutes=10), absolute=timedelta(hours=2))
    clock = Clock()
    throttle = section.throttle(clock)
    throttle.failed("maria", "10.0.0.1")
    assert throttle.retry_after("maria", "10.0.0.2") == 0
    throttle.failed("maria", "10.0.0.1")
    assert throttle.retry_after("maria", "10.0.0.2") == 30
