"""Shared helpers of the camera tests: a recording emitter and precision/recall."""

from __future__ import annotations

import threading
from collections.abc import Collection

from broker.events import Event, make_event
from broker.schemas import Data


class RecordingEmitter:
    """A stand-in for broker.bus.EventSource that records what it was asked to emit."""

    def __init__(self) -> None:
        """Start with no calls."""
        self.calls: list[tuple[str, Data]] = []
        self._lock = threading.Lock()

    def emit(self, event_type: str, data: Data) -> Event:
        """Record the call and return the event a real source would have stored."""
        with self._lock:
            self.calls.append((event_type, data))
            seq = len(self.calls)
        return make_event("lobby", "cam-1", event_type, seq, data)

    def types(self) -> list[str]:
        """The event types emitted, in order."""
        with self._lock:
            return [t for t, _ in self.calls]


def precision_recall(predicted: Collection[int], truth: Collection[int]) -> tuple[float, float]:
    """Per-frame precision and recall; an empty prediction has precision 1, an empty truth recall 1."""
    hits = len(set(predicted) & set(truth))
    precision = hits / len(predicted) if predicted else 1.0
    recall = hits / len(truth) if truth else 1.0
    return precision, recall
