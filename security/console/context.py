"""What the console's pages read from and write to: the log, the site's zone, the feed, the login desk."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from security.accounts.login import LoginDesk
from security.accounts.roles import Visit
from security.console.auth import Viewer
from security.console.live import LiveFeed
from security.office.alarms.guidance import AlarmGuidance
from security.office.incidents import IncidentDesk
from security.office.invitations import InvitationDesk
from security.storage import EventStore
from security.storage.people import Change, record_change


@dataclass
class Console:
    """The console's collaborators, handed in by the site."""

    store: EventStore
    site: str
    tz: ZoneInfo
    feed: LiveFeed
    desk: LoginDesk
    clock: Callable[[], datetime]
    cursor_key: bytes
    """Seals the pages' cursors (a site secret, so a page's next link survives a restart)."""
    incidents: IncidentDesk
    snapshots: Path
    """The folder snapshot files are read from (only from inside it)."""
    data_dir: Path
    audit_key: bytes | None = None
    invitations: InvitationDesk | None = None
    """The site's invitation desk (None: the Invitations page is not served)."""
    alarm_guidance: AlarmGuidance = field(default_factory=AlarmGuidance)
    """The procedure per rule and cameras per door or zone an alarm's page shows."""

    def today(self) -> date:
        """The site's local date now."""
        return self.clock().astimezone(self.tz).date()

    def exporting(self, viewer: Viewer, what: str, query: str) -> bool:
        """Whether `viewer` may export; if so the export is audited (before it streams)."""
        return self.desk.export(viewer.session, what, self.clock(), query=query)

    def opening(self, viewer: Viewer, visit_id: str, visit: Visit) -> bool:
        """Whether `viewer` may see this visit's personal record; if so the view is audited."""
        return self.desk.open_personal_record(viewer.session, visit_id, visit, self.today(), self.clock())

    def change(self, viewer: Viewer) -> Change:
        """The audit context of a change `viewer` makes now (people, rights, the watchlist)."""
        return Change(f"user:{viewer.name}", self.clock(), self.audit_key)

    def audit(self, viewer: Viewer, action: str, subject: str, details: Mapping[str, Any]) -> None:
        """Record another of `viewer`'s actions (a verification of the chain) in the audit chain."""
        with self.store.engine.begin() as conn:
            record_change(conn, self.change(viewer), action, subject, details)
