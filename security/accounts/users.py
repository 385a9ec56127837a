"""Adding and changing people's accounts: names, roles and passwords checked, then stored and audited."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from security.accounts.passwords import Passwords, check_policy
from security.accounts.roles import Account, Grant, Role, RoleError, parse_grants, parse_role
from security.storage import accounts as store
from security.storage.people import Change, PeopleError

NAME = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}")
"""An account name: lower-case letters, digits and `._@-`, 1-64 characters (an e-mail address fits)."""


class AccountNameError(PeopleError):
    """A name that cannot be an account's; the text says why."""


def account_name(text: str) -> str:
    """`text` as an account name (case-insensitive, kept in lower case); AccountNameError if not one."""
    name = text.strip().lower()
    if not NAME.fullmatch(name):
        raise AccountNameError(
            f"a user name is 1-64 characters: letters, digits and . _ @ - (starting with a letter or digit), "
            f"got {text[:80]!r}")
    return name


@dataclass(frozen=True, slots=True)
class AccountInfo:
    """An account with what `user list` shows: disabled or not, created, password changed, last login."""

    account: Account
    disabled: bool
    created_at: datetime
    password_changed_at: datetime
    last_login_at: datetime | None


def account_of(record: store.UserRecord) -> Account:
    """The rules' view of a stored account."""
    role = parse_role(record.role)
    return Account(record.name, role, parse_grants(role, record.grants), record.person_id)


def info_of(record: store.UserRecord) -> AccountInfo:
    """A stored account as `user list` shows it."""
    return AccountInfo(account_of(record), record.disabled, record.created_at, record.password_changed_at,
                       record.last_login_at)


def add_user(
    engine: Engine, name: str, role: str, password: str, change: Change, *, grants: Iterable[str] = (),
    person_id: str | None = None, passwords: Passwords | None = None,
) -> AccountInfo:
    """Add an account after checking its name, role, grants and password; audited as `user.added`."""
    account = new_account(name, role, grants, person_id)
    digest = (passwords or Passwords()).hash(check_policy(password, account.name))
    new = store.NewUser(account.name, account.role.value, tuple(sorted(account.grants)), person_id, digest)
    return info_of(store.add_user(engine, new, change))


def new_account(name: str, role: str, grants: Iterable[str] = (), person_id: str | None = None) -> Account:
    """The account these settings describe, checked as `add_user` checks them (before any password)."""
    checked = account_name(name)
    parsed = parse_role(role)
    if person_id is not None and not person_id.strip():
        raise PeopleError("a person id may not be empty")
    _check_host(parsed, person_id)
    return Account(checked, parsed, parse_grants(parsed, grants), person_id)


def reset_password(
    engine: Engine, name: str, password: str, change: Change, *, passwords: Passwords | None = None,
) -> int:
    """Give an account a new password and end its sessions; return how many were live."""
    checked = account_name(name)
    text = check_policy(password, checked)
    return store.set_password(engine, checked, (passwords or Passwords()).hash(text), change)


def set_disabled(engine: Engine, name: str, disabled: bool, change: Change) -> int:
    """Disable (ending its sessions) or enable an account; return how many sessions ended."""
    return store.set_disabled(engine, account_name(name), disabled, change)


def change_role(engine: Engine, name: str, role: str, grants: Iterable[str], change: Change) -> int:
    """Give an account another role and grants and end its sessions; return how many were live."""
    parsed = parse_role(role)
    granted: frozenset[Grant] = parse_grants(parsed, grants)
    checked = account_name(name)
    _check_host(parsed, store.get_user(engine, checked).person_id)
    return store.set_role(engine, checked, parsed.value, sorted(granted), change)


def _check_host(role: Role, person_id: str | None) -> None:
    """A host's account names its person in the directory: their visits are the ones it sees."""
    if role is Role.HOST and person_id is None:
        raise RoleError("a host's account names its person in the directory (--person ID)")


def get_account(engine: Engine, name: str) -> AccountInfo:
    """One account by name; NotFoundError when there is none."""
    return info_of(store.get_user(engine, account_name(name)))


def list_accounts(engine: Engine) -> list[AccountInfo]:
    """Every account, by name."""
    return [info_of(r) for r in store.list_users(engine)]

