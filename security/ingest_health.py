"""What the central service says about its ingest, for /api/health (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
