"""One batch off the bus sorted out (no I/O): events to store, statuses, dead letters, seqs to let pass."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from broker import topics
from broker.events import ContractError, Event, ShapeError, decode
from broker.kinds import refusal
from broker.messages import Status
from security.storage.records import Rejected, Stream

Letter = Rejected
"""A dead letter: topic, payload, reason, source (if known); see Rejected."""
MAX_REASON = 1000


@dataclass(slots=True)
class Work:
    """One batch sorted out: events to store, dead letters, statuses, and seqs to let pass."""

    own: list[Event]
    dead: list[Letter]
    statuses: dict[str, Status]
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    events: list[Event] = field(default_factory=list)
    poisoned: dict[Stream, set[int]] = field(default_factory=dict)
    kind_of: Callable[[str], str | None] | None = None
    reserved: frozenset[str] = frozenset()
    """The sources the service writes itself (its own, the console's): on the bus, only its echoes."""
    claims: list[tuple[Event, str, bytes]] = field(default_factory=list)
    """Events off the bus of a reserved source, held until `refuse_claims` tells echoes from the rest."""
    raw: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    raw_status: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    skew: dict[str, tuple[datetime, datetime, float]] = field(default_factory=dict)
    """Per source, the last event's device time, receive time and their difference in seconds."""

    def classify(self, topic: str, payload: bytes) -> None:
        """Sort one message into events, statuses or dead letters; nothing about it may raise."""
        try:
            parsed = topics.parse(topic)
            if parsed.kind is topics.Kind.STATUS:
                source = topics.source(parsed.site, parsed.device)
                self.statuses[source] = Status.decode(payload)
                self.raw_status[source] = (topic, payload)
            else:
                event = decode(payload, topic, received_at=self.now)
                if event.source in self.reserved:
                    self.claims.append((event, topic, payload))
                    return
                device = event.device
                why = None if self.kind_of is None else refusal(self.kind_of(device), device, event.type)
                if why is not None:  # a principal is believed only about what its kind is for
                    raise ContractError(why, source=event.source, seq=event.seq,
                                        incarnation=event.incarnation)
                self.take(event, topic, payload)
        except (ContractError, topics.TopicError) as exc:
            self.reject(topic, payload, str(exc), whole=not isinstance(exc, ShapeError))
            if isinstance(exc, ContractError) and exc.source is not None and exc.seq is not None:
                self.poisoned.setdefault((exc.source, exc.incarnation), set()).add(exc.seq)
        except Exception as exc:  # anything unexpected about one message: it alone is a dead letter
            self.reject(topic, payload, f"{type(exc).__name__}: {exc}")

    def take(self, event: Event, topic: str, payload: bytes) -> None:
        """Keep a decoded event to store, with its bytes and how far its clock is from ours."""
        self.events.append(event)
        self.raw[event.id] = (topic, payload)
        self.skew[event.source] = (event.time, self.now, (event.time - self.now).total_seconds())

    def refuse_claims(self, echoes: set[str]) -> None:
        """Drop the claims whose id is in `echoes` (what the service published of its log, come back);
        every other is a dead letter: no one else may speak for the service's own devices."""
        for event, topic, payload in self.claims:
            if event.id not in echoes:
                self.reject(topic, payload, f"{event.device} is the central service's own device: its events "
                                            "are made by the service, not taken from the bus")
        self.claims = []

    def reject(self, topic: str, payload: bytes, reason: str, *, whole: bool = True) -> None:
        """Keep one message as a dead letter (only its first bytes unless `whole`)."""
        self.dead.append(Rejected(topic, payload, reason[:MAX_REASON], _source_of(topic), whole))


def _source_of(topic: str) -> str | None:
    parts = topic.split("/")
    return "/".join(parts[:3]) if len(parts) >= 3 and parts[0] == topics.ROOT else None
