"""The site's watchlist: people to know about when they check in; each change audited, removals dated."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert, select, update

from security.storage import office_models  # noqa: F401  (registers the tables)
from security.storage.engine import writing
from security.storage.models import table
from security.storage.people import Change, NotFoundError, PeopleError, new_id, record_change

WATCHLIST = table("watchlist")
MAX_NAME = 200
MAX_REASON = 500
MAX_ALIASES = 20


@dataclass(frozen=True, slots=True)
class WatchEntry:
    """One watchlist entry: the name, its aliases, why, who added it and when; removed_at when taken off."""

    id: int
    name: str
    aliases: tuple[str, ...]
    reason: str | None
    added_by: str
    added_at: datetime
    removed_at: datetime | None = None


def _entry(row: Any) -> WatchEntry:
    return WatchEntry(int(row.id), row.name, tuple(row.aliases or ()), row.reason, row.added_by, row.added_at,
                      row.removed_at)


def _clean(name: str, what: str) -> str:
    text = " ".join(name.split())
    if not text or len(text) > MAX_NAME:
        raise PeopleError(f"{what}: 1 to {MAX_NAME} characters")
    return text


def add_entry(
    engine: Engine, name: str, change: Change, *, aliases: Sequence[str] = (), reason: str | None = None
) -> WatchEntry:
    """Put a person on the watchlist; PeopleError for an empty or overlong name, alias or reason."""
    clean = _clean(name, "name")
    names = [_clean(a, "alias") for a in aliases]
    unique = tuple(dict.fromkeys(a for a in names if a.casefold() != clean.casefold()))
    if len(unique) > MAX_ALIASES:
        raise PeopleError(f"aliases: at most {MAX_ALIASES}")
    why = " ".join(reason.split()) if reason else None
    if why is not None and len(why) > MAX_REASON:
        raise PeopleError(f"reason: at most {MAX_REASON} characters")
    with writing(engine) as conn:
        result = conn.execute(insert(WATCHLIST).values(
            name=clean, aliases=list(unique), reason=why or None, added_by=change.actor, added_at=change.now,
            removed_at=None))
        entry_id = new_id(result)
        record_change(conn, change, "watchlist.added", f"watchlist:{entry_id}", {"aliases": len(unique)})
    return WatchEntry(entry_id, clean, unique, why or None, change.actor, change.now)


def remove_entry(engine: Engine, entry_id: int, change: Change) -> WatchEntry:
    """Take an active entry off the watchlist; NotFoundError when there is no active entry with that id."""
    with writing(engine) as conn:
        row = conn.execute(select(WATCHLIST).where(WATCHLIST.c.id == entry_id)).one_or_none()
        if row is None or row.removed_at is not None:
            raise NotFoundError(f"no watchlist entry {entry_id}")
        conn.execute(update(WATCHLIST).where(WATCHLIST.c.id == entry_id).values(removed_at=change.now))
        record_change(conn, change, "watchlist.removed", f"watchlist:{entry_id}", {})
    entry = _entry(row)
    return WatchEntry(entry.id, entry.name, entry.aliases, entry.reason, entry.added_by, entry.added_at,
                      change.now)


def list_entries(engine: Engine, *, removed: bool = False) -> list[WatchEntry]:
    """Active entries (with `removed`, taken-off ones too), oldest first."""
    query = select(WATCHLIST).order_by(WATCHLIST.c.id)
    if not removed:
        query = query.where(WATCHLIST.c.removed_at.is_(None))
    with engine.connect() as conn:
        return [_entry(r) for r in conn.execute(query).all()]
