"""Pure decision rules with time injected: episodes with hysteresis, cool-downs, frame pacing."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Change(StrEnum):
    """What an update did to an episode."""

    STARTED = "started"
    ENDED = "ended"


@dataclass(slots=True)
class Episode:
    """A condition reported once per episode: on after `on_s` of evidence, off after `off_s` without.

    `update(seen, now)` returns `Change.STARTED` once when the condition has been seen
    continuously for `on_s` seconds, and `Change.ENDED` once when it has then been absent
    continuously for `off_s`; flicker shorter than either never changes the state.
    """

    on_s: float = 1.0
    off_s: float = 2.0
    active: bool = False
    _since: float | None = None

    def __post_init__(self) -> None:
        """Check the delays."""
        if self.on_s < 0 or self.off_s < 0:
            raise ValueError("episode delays must be >= 0")

    def update(self, seen: bool, now: float) -> Change | None:
        """Feed one observation at `now` (seconds); return the change it caused, if any."""
        if seen == self.active:  # evidence agrees with the state: any pending change is off
            self._since = None
            return None
        if self._since is None:
            self._since = now
        if now - self._since < (self.off_s if self.active else self.on_s):
            return None
        self.active = seen
        self._since = None
        return Change.STARTED if seen else Change.ENDED

    def reset(self) -> None:
        """Forget the state: inactive, nothing pending."""
        self.active = False
        self._since = None


@dataclass(slots=True)
class Cooldown:
    """Allow an action at most once per `period_s` for each key."""

    period_s: float
    _last: dict[str, float] | None = None

    def ready(self, key: str, now: float) -> bool:
        """True (and the key's clock restarted) if `key` last fired `period_s` or more ago."""
        if self._last is None:
            self._last = {}
        last = self._last.get(key)
        if last is not None and now - last < self.period_s:
            return False
        self._last[key] = now
        return True


@dataclass(slots=True)
class RateLimiter:
    """Pace analysis to at most `fps` frames per second of (injected) time."""

    fps: float
    _next: float | None = None

    def __post_init__(self) -> None:
        """Check the rate."""
        if self.fps <= 0:
            raise ValueError(f"fps must be > 0, got {self.fps}")

    def due(self, now: float) -> bool:
        """True if a frame at `now` should be analysed; the next one is due one period later."""
        if self._next is not None and now < self._next - 1e-6:  # tolerate float jitter
            return False
        period = 1.0 / self.fps
        # keep a steady cadence, but never try to catch up after a pause
        self._next = now + period if self._next is None or now - self._next > period else self._next + period
        return True
