"""Suppress the repeats a reader sends while a credential stays in its field (pure)."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

KeyT = TypeVar("KeyT", bound=Hashable)


class Debouncer(Generic[KeyT]):
    """Pass the first read of a key; suppress repeats until it was absent for `hold_s` seconds.

    Every read, passed or suppressed, refreshes the key's last-seen time, so a tag held at
    the reader for a minute yields one read, and is read again only after it was taken away
    for at least `hold_s`. Keys are tracked independently. Time is an argument (a monotonic
    clock in production, plain numbers in tests); nothing here sleeps.
    """

    def __init__(self, hold_s: float) -> None:
        """Create a debouncer with a hold time in seconds (0 passes every read)."""
        if hold_s < 0:
            raise ValueError(f"hold_s must be >= 0 seconds, got {hold_s!r}")
        self._hold_s = hold_s
        self._last_seen: dict[KeyT, float] = {}

    @property
    def hold_s(self) -> float:
        """How long a key must be absent before it passes again."""
        return self._hold_s

    @property
    def tracking(self) -> int:
        """How many keys are still within their hold time."""
        return len(self._last_seen)

    def accept(self, key: KeyT, now: float) -> bool:
        """Record a read of `key` at time `now`; True if it should be passed on."""
        self._forget_older_than(now)
        last = self._last_seen.get(key)
        self._last_seen[key] = now if last is None else max(last, now)
        return last is None

    def forget(self, key: KeyT) -> None:
        """Forget `key`, so its next read passes (used when passing it on failed)."""
        self._last_seen.pop(key, None)

    def _forget_older_than(self, now: float) -> None:
        """Drop keys absent for at least `hold_s`; keeps memory bounded by the keys in hold."""
        stale = [k for k, seen in self._last_seen.items() if now - seen >= self._hold_s]
        for key in stale:
            del self._last_seen[key]
