"""Failed API authentication, throttled and logged per client address (pure: a clock, no HTTP).

Each address has a bucket of BURST attempts that refills one every REFILL_S seconds; a failed
authentication takes one. An address whose bucket is empty gets 429 with Retry-After, and its
token is not even checked, so guessing is at most 10 a minute. IPv6 addresses count per /64 (one
host usually holds a whole /64). Failures are logged once a minute per address, with a count.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from broker.safe_text import escape

log = logging.getLogger(__name__)

BURST = 10
"""Failed attempts an address may make at once."""
REFILL_S = 6.0
"""Seconds for one more attempt to come back (10 a minute)."""
LOG_EVERY_S = 60.0
"""An address's failures are logged at most this often, with a count."""
MAX_ADDRESSES = 10_000
"""Addresses remembered at most; a full bucket carries no state and goes first."""


def client_key(address: str) -> str:
    """The key an address is throttled by: IPv4 as is, IPv6 by its /64 (an IPv4-mapped one as IPv4)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


@dataclass(slots=True)
class _Address:
    tokens: float
    at: float
    failures: int = 0
    refused: int = 0
    logged_at: float | None = None
    last_reason: str = ""


class AuthThrottle:
    """Per-address buckets of authentication attempts; thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, logger: logging.Logger = log) -> None:
        """Count with `clock` (seconds) and log to `logger`."""
        self._clock, self._log = clock, logger
        self._lock = threading.Lock()
        self._seen: dict[str, _Address] = {}
        self._swept = -math.inf

    def retry_after(self, address: str) -> int:
        """0 when `address` may try to authenticate now, else the whole seconds until it may."""
        key = client_key(address)
        with self._lock:
            now = self._clock()
            self._flush(now)
            entry = self._seen.get(key)
            if entry is None:
                return 0
            self._refill(entry, now)
            if entry.tokens >= 1:
                return 0
            entry.refused += 1
            return max(1, math.ceil((1 - entry.tokens) * REFILL_S))

    def failed(self, address: str, reason: str) -> None:
        """Count a failed authentication from `address`; log it if this address was not logged lately."""
        key = client_key(address)
        with self._lock:
            now = self._clock()
            entry = self._seen.get(key)
            if entry is None:
                self._make_room()
                entry = self._seen[key] = _Address(float(BURST), now)
            self._refill(entry, now)
            entry.tokens = max(0.0, entry.tokens - 1)
            entry.failures += 1
            entry.last_reason = reason
            if entry.logged_at is None or now - entry.logged_at >= LOG_EVERY_S:
                self._report(key, entry, now)

    def flush(self) -> None:
        """Log every address's failures not logged yet (at shutdown)."""
        with self._lock:
            for key, entry in self._seen.items():
                if entry.failures or entry.refused:
                    self._report(key, entry, self._clock())

    def _flush(self, now: float) -> None:
        """Log the counts of addresses whose minute is over, and forget full buckets with nothing to say."""
        if now - self._swept < 1.0:
            return
        self._swept = now
        for key, entry in list(self._seen.items()):
            if entry.logged_at is not None and now - entry.logged_at >= LOG_EVERY_S:
                if entry.failures or entry.refused:
                    self._report(key, entry, now)
                else:
                    self._refill(entry, now)
                    if entry.tokens >= BURST:
                        del self._seen[key]

    def _report(self, key: str, entry: _Address, now: float) -> None:
        throttled = f"; {entry.refused} more refused unchecked (429)" if entry.refused else ""
        self._log.warning("API authentication failed %d time(s) from %s%s; last: %s",
                          entry.failures, key, throttled, escape(entry.last_reason))
        entry.failures = entry.refused = 0
        entry.logged_at = now

    @staticmethod
    def _refill(entry: _Address, now: float) -> None:
        entry.tokens = min(float(BURST), entry.tokens + max(0.0, now - entry.at) / REFILL_S)
        entry.at = now

    def _make_room(self) -> None:
        """Drop the oldest remembered address when MAX_ADDRESSES are remembered."""
        if len(self._seen) >= MAX_ADDRESSES:
            oldest = min(self._seen, key=lambda k: self._seen[k].at)
            del self._seen[oldest]
