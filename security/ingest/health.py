"""Pure pieces of the central service's ingest: its counters, its health, the clock-skew watch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Stats:
    """Counters of what the service has done since it started."""

    received: int = 0
    stored: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    statuses: int = 0
    batches: int = 0
    gaps: int = 0
    resets: int = 0
    restarts: int = 0
    offline: set[str] = field(default_factory=set)


class SkewWatch:
    """Which sources' clocks are further from ours than the limit; each change is said once."""

    def __init__(self, limit_s: float) -> None:
        """Watch for clocks more than `limit_s` seconds away, either way."""
        self.limit_s = limit_s
        self.skewed: set[str] = set()

    def observe(self, source: str, skew_s: float) -> bool | None:
        """True when `source` just went past the limit, False when it just came back, else None."""
        over = abs(skew_s) > self.limit_s
        if over == (source in self.skewed):
            return None
        if over:
            self.skewed.add(source)
        else:
            self.skewed.discard(source)
        return over


@dataclass(slots=True, frozen=True)
class IngestHealth:
    """Whether ingest runs and stores, how long ago it last stored a batch, what waits in its inbox."""

    running: bool
    storing: bool
    last_batch_age_s: float | None
    inbox: int
    restarts: int

    @property
    def ok(self) -> bool:
        """Ingest runs and the store takes its batches."""
        return self.running and self.storing

    @property
    def problem(self) -> str | None:
        """What is wrong, in a few words (None when nothing is)."""
        if not self.running:
            return "ingest is not running"
        if not self.storing:
            return "events cannot be stored"
        return None

    def to_json(self) -> dict[str, Any]:
        """The JSON of /api/health's `ingest` member."""
        age = None if self.last_batch_age_s is None else round(self.last_batch_age_s, 3)
        return {"running": self.running, "storing": self.storing, "last_batch_age_s": age,
                "inbox": self.inbox, "restarts": self.restarts}
