"""Failed logins, throttled per account and per source address (pure: a clock, no I/O).

Two sets of token buckets. Per account: 5 failures at once, then one more a minute, wherever
they come from, so a password is guessed at most about 1,400 times a day however many addresses
try it. Per source address: 10 at once, then one every 6 seconds, so one address cannot try many
accounts quickly either. An attempt is refused unchecked while either bucket is empty. Names with
no account are throttled the same way, so throttling tells nothing about which names exist.

An attacker can keep one account's bucket empty and its owner out, but only while they keep
failing, which every attempt's audit record shows; the owner is let in a minute after they stop.

Why not `security.api.throttle.AuthThrottle`: it sits in a layer above this one (the API), counts
per address only, and logs as the API; its `client_key` rule (IPv6 by /64) is repeated here.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Bucket:
    """A bucket's size (failures allowed at once) and the seconds one failure takes to come back."""

    burst: int
    refill_s: float


PER_ACCOUNT = Bucket(burst=5, refill_s=60.0)
PER_SOURCE = Bucket(burst=10, refill_s=6.0)
MAX_KEYS = 10_000
"""Keys remembered per set at most; the one seen longest ago goes first."""


def source_key(address: str) -> str:
    """The key an address is throttled by: IPv4 as is, IPv6 by its /64 (an IPv4-mapped one as IPv4)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address[:100]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class Limiter:
    """Token buckets by key; not thread-safe by itself (LoginThrottle locks)."""

    def __init__(self, bucket: Bucket, max_keys: int = MAX_KEYS) -> None:
        """Buckets of the size and refill of `bucket`, for at most `max_keys` keys."""
        self._bucket, self._max = bucket, max_keys
        self._seen: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def _tokens(self, key: str, now: float) -> float:
        tokens, at = self._seen.get(key, (float(self._bucket.burst), now))
        return min(float(self._bucket.burst), tokens + max(0.0, now - at) / self._bucket.refill_s)

    def retry_after(self, key: str, now: float) -> int:
        """0 when `key` may try now, else the whole seconds until it may."""
        tokens = self._tokens(key, now)
        return 0 if tokens >= 1 else max(1, math.ceil(round((1 - tokens) * self._bucket.refill_s, 6)))

    def failed(self, key: str, now: float) -> bool:
        """Take one token from `key`'s bucket; whether that emptied it."""
        tokens = max(0.0, self._tokens(key, now) - 1)
        self._seen.pop(key, None)
        if len(self._seen) >= self._max:
            del self._seen[next(iter(self._seen))]  # re-inserted on each failure: the first is the oldest
        self._seen[key] = (tokens, now)
        return tokens < 1

    def __len__(self) -> int:
        """How many keys are remembered."""
        return len(self._seen)


class LoginThrottle:
    """Failed logins per account name and per source address; thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, *, account: Bucket = PER_ACCOUNT,
                 source: Bucket = PER_SOURCE, max_keys: int = MAX_KEYS) -> None:
        """Count with `clock` (seconds) in buckets of these sizes."""
        self._clock = clock
        self._lock = threading.Lock()
        self._accounts = Limiter(account, max_keys)
        self._sources = Limiter(source, max_keys)

    def retry_after(self, name: str, source: str) -> int:
        """0 when `name` may be tried from `source` now, else the whole seconds to wait."""
        with self._lock:
            now = self._clock()
            return max(self._accounts.retry_after(name.casefold(), now),
                       self._sources.retry_after(source_key(source), now))

    def failed(self, name: str, source: str) -> bool:
        """Count a failed login for `name` from `source`; whether either is throttled from now on."""
        with self._lock:
            now = self._clock()
            account = self._accounts.failed(name.casefold(), now)
            address = self._sources.failed(source_key(source), now)
            return account or address
