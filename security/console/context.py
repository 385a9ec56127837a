"""What the console's pages read from and write to: the log, the site's zone, the feed, sessions, audit."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from security.console.auth import Sessions, Viewer
from security.console.live import LiveFeed
from security.storage import EventStore
from security.storage.people import Change, record_change


@dataclass
class Console:
    """The console's collaborators, handed in by the site."""

    store: EventStore
    tz: ZoneInfo
    feed: LiveFeed
    sessions: Sessions
    clock: Callable[[], datetime]
    cursor_key: bytes
    """Seals the pages' cursors (any random bytes; a restart only ends the pages' next links)."""
    audit_key: bytes | None = None

    def audit(self, viewer: Viewer, action: str, subject: str, details: Mapping[str, Any]) -> None:
        """Record what `viewer` did (an export, a view of a personal record) in the audit chain."""
        with self.store.engine.begin() as conn:
            record_change(conn, Change(viewer.name, self.clock(), self.audit_key), action, subject, details)
