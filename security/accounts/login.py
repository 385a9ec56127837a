"""Logging in and out, and the session behind each console request: throttled, timed, audited.

`LoginDesk.authenticate` answers a `Session` or a `Refused` with its reason. A name with no
account costs the same Argon2 check as a wrong password (against a dummy hash), and both get the
same refusal, so neither the answer nor its time tells which names exist. A disabled account is
named as such only to someone who gave its right password. Every checked attempt is audited
(`login.succeeded` with the new session's id, `login.failed` with why); an attempt refused by the
throttle is not checked, is logged (once when the throttle starts) and is not audited, so a flood
cannot fill the audit chain.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine

from broker.safe_text import escape
from security.accounts.passwords import Passwords
from security.accounts.roles import Account, Permission, Visit
from security.accounts.sessions import (
    SessionPolicy,
    SessionState,
    SessionTimes,
    csrf_ok,
    csrf_token,
    looks_like_token,
    needs_touch,
    new_session,
    state_of,
    token_hash,
)
from security.accounts.throttle import LoginThrottle
from security.accounts.users import NAME, account_of
from security.storage import accounts as store
from security.storage.people import Change, NotFoundError

log = logging.getLogger(__name__)


class Refusal(StrEnum):
    """Why a login was refused."""

    BAD_CREDENTIALS = "bad_credentials"
    """No such account, or the wrong password: the two are never told apart."""
    DISABLED = "disabled"
    """The right password for a disabled account."""
    THROTTLED = "throttled"
    """Too many failures lately for this account or from this address; nothing was checked."""


@dataclass(frozen=True, slots=True)
class Refused:
    """A refused login: why, and for THROTTLED the seconds to wait."""

    reason: Refusal
    retry_after: int = 0


@dataclass(frozen=True, slots=True)
class Session:
    """A live console session: whose, its CSRF token, and until when it lasts at most."""

    id: int
    account: Account
    csrf_token: str
    expires_at: datetime
    token: str | None = None
    """The session token for the cookie: set only in the answer to a login, never stored."""


class LoginDesk:
    """Logins, sessions and logouts of people's accounts, on one store."""

    def __init__(self, engine: Engine, *, passwords: Passwords | None = None,
                 throttle: LoginThrottle | None = None, policy: SessionPolicy | None = None,
                 audit_key: bytes | None = None) -> None:
        """Work on `engine` with these password settings, throttle, session lifetimes and audit key."""
        self._engine = engine
        self._passwords = passwords or Passwords()
        self._passwords.prepare()
        self._throttle = throttle or LoginThrottle()
        self.policy = policy or SessionPolicy()
        self._key = audit_key

    def authenticate(self, name: str, password: str, now: datetime, source: str) -> Session | Refused:
        """Check a login from the address `source`; a new session, or why not."""
        wanted, source = _text(name.strip().lower()[:80]), _text(source[:100])
        wait = self._throttle.retry_after(wanted, source)
        if wait:
            return Refused(Refusal.THROTTLED, wait)
        found = store.login_secret(self._engine, wanted) if NAME.fullmatch(wanted) else None
        if found is None:
            self._passwords.check_dummy(password)
            return self._failed(wanted, source, now, "unknown_user")
        record, stored = found
        checked = self._passwords.check(password, stored)
        if not checked.ok:
            return self._failed(wanted, source, now, "wrong_password")
        if record.disabled:
            self._audit_failure(wanted, source, now, "disabled")
            return Refused(Refusal.DISABLED)
        fresh = new_session(self.policy, now)
        values = store.SessionValues(fresh.token_hash, fresh.csrf_secret, source, now, fresh.times.expires_at)
        change = Change(f"user:{record.name}", now, self._key)
        try:
            session_id = store.start_session(self._engine, record.id, values, change, rehash=checked.new_hash)
        except NotFoundError:  # disabled between the check and now
            return Refused(Refusal.DISABLED)
        log.info("%s logged in from %s (session %d)", record.name, escape(source), session_id)
        return Session(session_id, account_of(record), csrf_token(fresh.token, fresh.csrf_secret),
                       fresh.times.expires_at, fresh.token)

    def _failed(self, name: str, source: str, now: datetime, reason: str) -> Refused:
        if self._throttle.failed(name, source):
            log.warning("logins throttled for %r or from %s after repeated failures",
                        escape(name), escape(source))
        self._audit_failure(name, source, now, reason)
        return Refused(Refusal.BAD_CREDENTIALS)

    def _audit_failure(self, name: str, source: str, now: datetime, reason: str) -> None:
        subject = f"user:{name}" if NAME.fullmatch(name) else "user:?"
        details: dict[str, Any] = {"reason": reason, "source": source[:100]}
        if subject == "user:?":
            details["name"] = name[:64]
        change = Change(f"anonymous@{source[:100]}", now, self._key)
        store.audit(self._engine, change, "login.failed", subject, details)

    def session(self, token: str, now: datetime) -> Session | None:
        """The live session whose cookie holds `token` (its idle timer restarted), or None."""
        found = self._live(token, now)
        return None if found is None else found[1]

    def check_csrf(self, token: str, submitted: str | None, now: datetime) -> Session | None:
        """The live session of `token` if `submitted` is the CSRF token of its forms; None otherwise."""
        found = self._live(token, now)
        if found is None or not csrf_ok(token, found[0].csrf_secret, submitted):
            return None
        return found[1]

    def _live(self, token: str, now: datetime) -> tuple[store.SessionRecord, Session] | None:
        if not looks_like_token(token):
            return None
        found = store.find_session(self._engine, token_hash(token))
        if found is None or found.user.disabled:
            return None
        times = SessionTimes(found.created_at, found.last_seen_at, found.expires_at, found.revoked_at)
        if state_of(times, self.policy, now) is not SessionState.LIVE:
            return None
        if needs_touch(times, self.policy, now):
            store.touch_session(self._engine, found.id, now)
        csrf = csrf_token(token, found.csrf_secret)
        return found, Session(found.id, account_of(found.user), csrf, found.expires_at)

    def logout(self, token: str, now: datetime) -> bool:
        """End the session whose cookie holds `token` (audited); whether one was open."""
        if not looks_like_token(token):
            return False
        found = store.find_session(self._engine, token_hash(token))
        if found is None:
            return False
        change = Change(f"user:{found.user.name}", now, self._key)
        return store.end_session(self._engine, found.id, change, f"user:{found.user.name}")

    def open_personal_record(self, session: Session, visit_id: str, visit: Visit, today: date,
                             now: datetime) -> bool:
        """Whether `session`'s account may see this visit's personal record; when it may, the view is audited.

        The console shows a record only after this said yes, so no record is shown unaudited.
        """
        account = session.account
        if not account.sees_personal_data(visit, today):
            log.info("%s (%s) may not see the personal record of visit %s", account.name, account.role,
                     escape(visit_id))
            return False
        store.audit(self._engine, Change(f"user:{account.name}", now, self._key), "personal_data.viewed",
                    f"visit:{visit_id}", {"session": session.id, "role": str(account.role)})
        return True

    def export(self, session: Session, what: str, now: datetime, *, count: int | None = None,
               query: str = "") -> bool:
        """Whether `session`'s account may export; when it may, the export of `what` is audited.

        What is exported is still only what the account may view (the caller filters it first);
        `query` names the filters, `count` the records when known before the export streams.
        """
        if not session.account.may(Permission.EXPORT):
            return False
        details: dict[str, Any] = {"session": session.id}
        if count is not None:
            details["records"] = count
        if query:
            details["query"] = query[:500]
        store.audit(self._engine, Change(f"user:{session.account.name}", now, self._key), "export", what,
                    details)
        return True


def _text(value: str) -> str:
    """`value` storable as UTF-8 (a lone surrogate from a badly decoded request becomes `?`)."""
    return value.encode("utf-8", "replace").decode("utf-8")
