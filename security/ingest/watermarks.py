"""Per-stream delivery watermarks and seq-gap detection for the central service (pure).

A stream is what one `seq` counter numbers: the service keys them by (source, incarnation), so a
device that starts over with a new outbox starts a new watermark at 0 instead of colliding with
its old one.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


@dataclass(slots=True, frozen=True)
class Gap(Generic[K]):
    """Seqs `first`..`last` of `source` are missing while later ones are stored."""

    source: K
    first: int
    last: int


@dataclass(slots=True)
class _Source:
    mark: int = 0
    above: set[int] = field(default_factory=set)
    gap_seen_at: float | None = None
    reported: int = 0  # the `first` of the gap last reported, so each gap is reported once


class Watermarks(Generic[K]):
    """Tracks, per stream, the highest seq stored with no gap below it, and gaps that linger."""

    def __init__(self, marks: dict[K, int] | None = None) -> None:
        """Start from stored watermarks (stream -> seq)."""
        self._sources: dict[K, _Source] = {s: _Source(mark=m) for s, m in (marks or {}).items()}

    def __contains__(self, source: object) -> bool:
        return source in self._sources

    def get(self, source: K) -> int:
        """The watermark of `source` (0 when nothing is known)."""
        state = self._sources.get(source)
        return state.mark if state else 0

    def marks(self) -> dict[K, int]:
        """Every source's watermark."""
        return {source: state.mark for source, state in self._sources.items()}

    def restore(self, source: K, stored_above: Iterable[int]) -> None:
        """Fold seqs already stored above the watermark (after a restart)."""
        self._sources.setdefault(source, _Source())
        for seq in stored_above:
            self._add(source, seq, now=None)

    def add(self, source: K, seqs: Iterable[int], now: float) -> bool:
        """Record stored seqs of `source`; return True when its watermark advanced."""
        before = self.get(source)
        for seq in seqs:
            self._add(source, seq, now)
        return self.get(source) > before

    def _add(self, source: K, seq: int, now: float | None) -> None:
        state = self._sources.setdefault(source, _Source())
        if seq <= state.mark:
            return
        if seq != state.mark + 1:
            state.above.add(seq)
            if state.gap_seen_at is None:
                state.gap_seen_at = now
            return
        state.mark = seq
        while state.mark + 1 in state.above:
            state.mark += 1
            state.above.discard(state.mark)
        # the gap below moved or closed: a remaining one starts its own clock
        state.gap_seen_at = now if state.above else None

    def overdue(self, now: float, timeout: float) -> list[Gap[K]]:
        """Gaps open longer than `timeout` seconds and not reported before; each is returned once."""
        found: list[Gap[K]] = []
        for source, state in self._sources.items():
            if not state.above:
                continue
            if state.gap_seen_at is None:
                state.gap_seen_at = now
                continue
            first = state.mark + 1
            if now - state.gap_seen_at >= timeout and state.reported != first:
                state.reported = first
                found.append(Gap(source, first, min(state.above) - 1))
        return found
