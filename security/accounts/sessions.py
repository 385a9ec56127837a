"""Console sessions as rules (pure): tokens, idle and absolute lifetime, CSRF tokens, the cookie.

A session token is 256 random bits, given to the browser once in an HttpOnly cookie and stored
only as its SHA-256 (a token is as strong as a key, so a fast hash suffices; a stolen table holds
no usable session). A session ends at the first of: `idle` without a request, `absolute` after
login, logout, or its account being disabled or its password reset (storage revokes them).

CSRF: the synchronizer-token pattern, the token derived rather than stored. Each session keeps a
random `csrf_secret` server-side; the token put in every form is HMAC-SHA256(csrf_secret, session
token). The server recomputes it from the cookie it received and the secret it holds, so a form
is accepted only from the session it was made for, and neither the database alone (which has only
the token's hash) nor a stolen cookie alone (without the secret) yields it. A plain double-submit
cookie was not chosen: it trusts a cookie that a sibling host or a plain-HTTP hop can overwrite,
and the server keeps sessions anyway. The cookie is also SameSite=Lax, which stops cross-site
POSTs in today's browsers; the token is what the console relies on.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

PREFIX = "ghs_"
"""Every session token starts so (API bearer tokens start `gh_`), which secret scanners can match."""
MAX_TOKEN = 100
COOKIE = "gh_session"
"""The cookie's name over plain HTTP (a LAN without TLS)."""
SECURE_COOKIE = "__Host-gh_session"
"""The cookie's name over HTTPS: the browser then insists on Secure, Path=/ and no Domain."""
_CSRF_TAG = b"gatehouse-csrf/1\x00"


class SessionPolicyError(ValueError):
    """Session lifetimes that make no sense; the text says which."""


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """How long a session lives: `idle` without a request, `absolute` after login at most."""

    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=12)
    touch_every: timedelta = timedelta(minutes=1)
    """A request moves `last_seen` only when it is this old (one write a minute, not one a request)."""

    def __post_init__(self) -> None:
        """Refuse lifetimes out of order or out of bounds."""
        if not timedelta(minutes=1) <= self.idle <= self.absolute:
            raise SessionPolicyError("the idle timeout is at least a minute and at most the absolute one")
        if self.absolute > timedelta(days=30):
            raise SessionPolicyError("a session lives 30 days at most")
        if not timedelta(0) <= self.touch_every < self.idle:
            raise SessionPolicyError("touch_every must be shorter than the idle timeout")


class SessionState(StrEnum):
    """Where a stored session stands at a given moment."""

    LIVE = "live"
    IDLE = "idle"
    """Ended: no request for longer than the idle timeout."""
    EXPIRED = "expired"
    """Ended: older than its absolute lifetime."""
    REVOKED = "revoked"
    """Ended by logout, or by its account being disabled or its password reset."""


@dataclass(frozen=True, slots=True)
class SessionTimes:
    """The times of a stored session that its state depends on."""

    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class NewSession:
    """A session just made: the token for the cookie (never stored) and what storage keeps."""

    token: str
    token_hash: str
    csrf_secret: str
    times: SessionTimes


def token_hash(token: str) -> str:
    """The hex SHA-256 a session token is stored and looked up by."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def looks_like_token(text: str) -> bool:
    """Whether `text` has a session token's shape (checked before any lookup)."""
    return text.startswith(PREFIX) and len(text) <= MAX_TOKEN and text.isascii()


def new_session(policy: SessionPolicy, now: datetime) -> NewSession:
    """A fresh session from `now`: a new random token and CSRF secret."""
    token = PREFIX + secrets.token_urlsafe(32)
    times = SessionTimes(now, now, now + policy.absolute)
    return NewSession(token, token_hash(token), secrets.token_hex(32), times)


def state_of(times: SessionTimes, policy: SessionPolicy, now: datetime) -> SessionState:
    """The state of a session at `now` under `policy` (a shortened policy applies to old sessions too)."""
    if times.revoked_at is not None and times.revoked_at <= now:
        return SessionState.REVOKED
    if now >= min(times.expires_at, times.created_at + policy.absolute):
        return SessionState.EXPIRED
    if now - times.last_seen_at >= policy.idle:
        return SessionState.IDLE
    return SessionState.LIVE


def needs_touch(times: SessionTimes, policy: SessionPolicy, now: datetime) -> bool:
    """Whether a request at `now` should store a new `last_seen_at`."""
    return now - times.last_seen_at >= policy.touch_every


def csrf_token(token: str, csrf_secret: str) -> str:
    """The CSRF token of forms in the session whose cookie holds `token`."""
    mac = hmac.new(bytes.fromhex(csrf_secret), _CSRF_TAG + token.encode("utf-8"), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode("ascii")


def csrf_ok(token: str, csrf_secret: str, submitted: str | None) -> bool:
    """Whether a form's `submitted` CSRF token is the one of this session (constant-time)."""
    if not submitted or len(submitted) > MAX_TOKEN or not submitted.isascii():
        return False
    return hmac.compare_digest(csrf_token(token, csrf_secret).encode("ascii"), submitted.encode("ascii"))


def cookie_name(*, secure: bool) -> str:
    """The session cookie's name: `__Host-` prefixed over HTTPS."""
    return SECURE_COOKIE if secure else COOKIE


def set_cookie(token: str, *, secure: bool) -> str:
    """The Set-Cookie value giving the browser `token`: HttpOnly, SameSite=Lax, gone when it closes.

    No Max-Age: a shared reception PC forgets the session with the browser; the server enforces
    the idle and absolute limits whatever the browser keeps.
    """
    flags = "; Secure" if secure else ""
    return f"{cookie_name(secure=secure)}={token}; Path=/; HttpOnly; SameSite=Lax{flags}"


def clear_cookie(*, secure: bool) -> str:
    """The Set-Cookie value that makes the browser drop the session cookie (on logout)."""
    flags = "; Secure" if secure else ""
    return f"{cookie_name(secure=secure)}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax{flags}"
