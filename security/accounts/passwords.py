"""People's passwords: the policy a new one must meet, and Argon2id hashing with rehash on login.

The policy follows NIST SP 800-63B (section 5.1.1.2, and 3.1.1.2 of revision 4): at least 12
characters, at most 256, not the account's own name, not one character repeated. There are no
composition rules (a digit, a capital, a symbol) and no periodic expiry: NIST found that people
answer them predictably (`Password1!`, `...2!` the next quarter), which adds little strength and
makes passwords harder to remember; length is what resists guessing. A password is changed when
it may be known to someone else (`gatehouse user reset`). Text is compared and hashed after
Unicode NFKC normalisation, so the same password typed on two keyboards is the same password.
Missing, for a site without internet: the check against a list of breached passwords.
"""

from __future__ import annotations

import secrets
import unicodedata
from dataclasses import dataclass

from pwdlib import PasswordHash
from pwdlib.exceptions import PwdlibError
from pwdlib.hashers.argon2 import Argon2Hasher

MIN_LENGTH = 12
"""Shortest password accepted, in characters."""
MAX_LENGTH = 256
"""Longest password accepted: long enough for any passphrase, short enough to bound the work."""


class PasswordRejectedError(ValueError):
    """A new password that breaks the policy; the text says which rule."""


def normalise(password: str) -> str:
    """The password as compared and hashed: Unicode NFKC."""
    return unicodedata.normalize("NFKC", password)


def check_policy(password: str, name: str) -> str:
    """The normalised password if it meets the policy for the account `name`; PasswordRejectedError if not."""
    text = normalise(password)
    if len(text) < MIN_LENGTH:
        raise PasswordRejectedError(f"a password needs at least {MIN_LENGTH} characters, not {len(text)}")
    if len(text) > MAX_LENGTH:
        raise PasswordRejectedError(f"a password has at most {MAX_LENGTH} characters, not {len(text)}")
    if any(unicodedata.category(ch) == "Cc" for ch in text):
        raise PasswordRejectedError("a password may not hold control characters (a pasted newline or tab?)")
    if text.casefold() == normalise(name).casefold():
        raise PasswordRejectedError("a password may not be the account's name")
    if len(set(text)) == 1:
        raise PasswordRejectedError("a password may not be one character repeated")
    return text


@dataclass(frozen=True, slots=True)
class Checked:
    """The outcome of checking a password: whether it matched, and a new hash to store if it should be."""

    ok: bool
    new_hash: str | None = None


DEFAULT_HASHER = Argon2Hasher()
"""Argon2id at argon2-cffi's defaults (t=3, 64 MiB, p=4: RFC 9106's second recommended option)."""


class Passwords:
    """Hashing and checking with one Argon2id configuration (a hash made with another is upgraded)."""

    def __init__(self, hasher: Argon2Hasher = DEFAULT_HASHER) -> None:
        """Hash new passwords with `hasher`."""
        self._hash = PasswordHash((hasher,))
        self._dummy_hash: str | None = None

    def hash(self, password: str) -> str:
        """The encoded Argon2id hash of a (normalised) password."""
        return self._hash.hash(normalise(password))

    def check(self, password: str, stored: str) -> Checked:
        """Whether `password` matches `stored`; with a fresh hash when `stored` used older parameters.

        A stored hash that cannot be read (edited, or of another scheme) never matches.
        """
        if len(password) > 4 * MAX_LENGTH:
            self.check_dummy(password[:MAX_LENGTH])  # take the same time
            return Checked(False)
        try:
            ok, updated = self._hash.verify_and_update(normalise(password), stored)
        except PwdlibError:
            return Checked(False)
        return Checked(ok, updated if ok else None)

    def check_dummy(self, password: str) -> None:
        """Spend the time a real check takes, for a name with no account (its answer is always no)."""
        self._hash.verify(normalise(password[: 4 * MAX_LENGTH]), self._dummy())

    def prepare(self) -> None:
        """Make the dummy hash now, so that not even the first unknown name costs more than a check."""
        self._dummy()

    def _dummy(self) -> str:
        """A hash of a random password with this configuration, made on first use."""
        if self._dummy_hash is None:
            self._dummy_hash = self._hash.hash(secrets.token_urlsafe(24))
        return self._dummy_hash
