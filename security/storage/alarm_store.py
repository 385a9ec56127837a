"""Alarms in the database: every transition saved, and the alarm book rebuilt from the open ones."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects import postgresql, sqlite

from broker.schemas import Priority
from security.office.alarms import Alarm, AlarmBook, AlarmState, BookConfig, Transition
from security.storage import office_models  # noqa: F401  (registers the tables)
from security.storage.models import table

ALARMS = table("alarms")
OPEN = (AlarmState.UNACKNOWLEDGED, AlarmState.ACKNOWLEDGED, AlarmState.SHELVED)


def alarm_number(alarm_id: str) -> int:
    """The running number at the end of an alarm id such as `a-17`."""
    return int(alarm_id.rsplit("-", 1)[-1])


def _values(alarm: Alarm, now: datetime) -> dict[str, Any]:
    return {
        "id": alarm.id, "number": alarm_number(alarm.id), "rule": alarm.rule, "key": alarm.key,
        "priority": str(alarm.priority), "summary": alarm.summary, "state": str(alarm.state),
        "count": alarm.count, "silent": alarm.silent, "raised_at": alarm.raised_at,
        "last_seen": alarm.last_seen, "updated_at": now, "shelved_until": alarm.shelved_until,
        "before_shelve": str(alarm.before_shelve) if alarm.before_shelve else None,
        "escalation_level": alarm.escalation_level, "cause": list(alarm.cause),
        "history": [
            {"action": t.action, "by": t.by, "at": t.at.isoformat(), **({"note": t.note} if t.note else {}),
             **({"until": t.until.isoformat()} if t.until else {})}
            for t in alarm.history
        ],
    }


def save_alarms(conn: Connection, alarms: Iterable[Alarm], now: datetime) -> None:
    """Insert or update each alarm's row inside the caller's transaction."""
    rows = {a.id: _values(a, now) for a in alarms}  # the last state of each alarm wins
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(ALARMS)
    fixed = ("id", "number", "raised_at")
    keep = {c.name: stmt.excluded[c.name] for c in ALARMS.columns if c.name not in fixed}
    conn.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=keep), list(rows.values()))


def alarm_from_row(row: Any) -> Alarm:
    """The alarm a row holds."""
    history = tuple(
        Transition(h["action"], h["by"], datetime.fromisoformat(h["at"]), h.get("note"),
                   datetime.fromisoformat(h["until"]) if h.get("until") else None)
        for h in row.history
    )
    return Alarm(
        id=row.id, rule=row.rule, key=row.key, priority=Priority(row.priority), summary=row.summary,
        cause=tuple(row.cause), silent=row.silent, raised_at=row.raised_at, state=AlarmState(row.state),
        count=row.count, last_seen=row.last_seen, shelved_until=row.shelved_until,
        before_shelve=AlarmState(row.before_shelve) if row.before_shelve else None,
        escalation_level=row.escalation_level, history=history,
    )


def load_book(conn: Connection, config: BookConfig) -> AlarmBook:
    """The alarm book as stored: every open alarm, and the next alarm number."""
    rows = conn.execute(select(ALARMS).where(ALARMS.c.state.in_([str(s) for s in OPEN]))).all()
    alarms: Mapping[str, Alarm] = MappingProxyType({r.id: alarm_from_row(r) for r in rows})
    keys = MappingProxyType({a.key: a.id for a in alarms.values()})
    top = conn.execute(select(func.max(ALARMS.c.number))).scalar()
    return AlarmBook(config=config, alarms=alarms, open_keys=keys, next_number=int(top or 0) + 1)


def list_alarms(
    conn: Connection, *, open_only: bool = False, since: datetime | None = None, limit: int = 500
) -> list[Alarm]:
    """Alarms newest first: all, or only open ones, optionally raised since a time."""
    query = select(ALARMS).order_by(ALARMS.c.number.desc()).limit(limit)
    if open_only:
        query = query.where(ALARMS.c.state.in_([str(s) for s in OPEN]))
    if since is not None:
        query = query.where(ALARMS.c.raised_at >= since)
    return [alarm_from_row(r) for r in conn.execute(query).all()]


def get_alarm(conn: Connection, alarm_id: str) -> Alarm | None:
    """One alarm by id."""
    row = conn.execute(select(ALARMS).where(ALARMS.c.id == alarm_id)).one_or_none()
    return alarm_from_row(row) if row is not None else None
