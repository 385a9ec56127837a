"""`gatehouse events`: the stored event log as an aligned table or as CloudEvents JSON lines."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import TextIO

from broker import topics
from broker.config import Settings
from broker.events import Event, to_dict
from security.storage import StorageError, open_store

log = logging.getLogger(__name__)

DATA_WIDTH = 80
_RELATIVE = re.compile(r"^(\d+)\s*(s|m|min|h|d|w)(?:\s+ago)?$")
_UNITS = {"s": "seconds", "m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_PREFIX = f"{topics.ROOT}/"


def parse_when(text: str, *, now: datetime | None = None, tz: tzinfo | None = None) -> datetime:
    """An aware UTC time from a span back from now, a named day, or an ISO date or time.

    Accepted: '15m', '2h', '1d', '1w' (optionally followed by 'ago'), 'now', 'today',
    'yesterday', '2026-11-22', '2026-11-22T08:15[:02][+01:00]', '08:15' (today). A time without
    a zone is in `tz` (default: local). Raise ValueError saying what is accepted.
    """
    now = (now or datetime.now(UTC)).astimezone(tz)
    value = text.strip().lower()
    if match := _RELATIVE.match(value):
        amount, unit = int(match.group(1)), _UNITS[match.group(2)]
        return (now - timedelta(**{unit: amount})).astimezone(UTC)
    midnight = datetime.combine(now.date(), time(), now.tzinfo)
    named = {"now": now, "today": midnight, "yesterday": midnight - timedelta(days=1)}
    if value in named:
        return named[value].astimezone(UTC)
    when = _iso(text.strip(), now)
    if when is None:
        raise ValueError(
            f"{text!r} is not a time: give an ISO date or time such as 2026-11-22, "
            "2026-11-22T08:15 or 08:15, or a span back from now such as 15m, 2h, 1d or 1w"
        )
    if when.tzinfo is None:
        when = when.replace(tzinfo=now.tzinfo)
    return when.astimezone(UTC)


def _iso(text: str, now: datetime) -> datetime | None:
    """Parse an ISO date, date-time, or time of today; None if it is none of them."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    try:
        return datetime.combine(date.fromisoformat(text), time())
    except ValueError:
        pass
    if ":" not in text:  # a bare '15' is more likely meant as minutes than as 15:00
        return None
    try:
        clock = time.fromisoformat(text)
    except ValueError:
        return None
    return datetime.combine(now.date(), clock.replace(tzinfo=None), clock.tzinfo)


def resolve_source(text: str, site: str) -> str:
    """A full source from 'device' (on `site`), 'site/device' or 'gatehouse/site/device'."""
    parts = text.strip().strip("/").split("/")
    if parts[0] == topics.ROOT:
        parts = parts[1:]
    if len(parts) == 1:
        parts = [site, *parts]
    if len(parts) != 2:
        raise ValueError(f"source {text!r} must be 'device', 'site/device' or 'gatehouse/site/device'")
    try:
        return topics.source(parts[0], parts[1])
    except topics.TopicError as exc:
        raise ValueError(str(exc)) from None


def compact_data(event: Event, width: int = DATA_WIDTH) -> str:
    """`data` as `key=value` pairs on one line, cut to `width` characters."""
    pairs = []
    for key, value in event.data.model_dump(mode="json", exclude_none=True).items():
        plain = isinstance(value, str) and value and not re.search(r"[\s\"=]", value)
        shown = value if plain else json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        pairs.append(f"{key}={shown}")
    line = " ".join(pairs)
    return line if len(line) <= width else line[: width - 1] + "…"


def display_time(value: datetime, tz: tzinfo | None = None) -> str:
    """`value` for people, in `tz` (default: local), as 'YYYY-MM-DD HH:MM:SS.mmm+HH:MM'."""
    local = value.astimezone(tz)
    return local.strftime("%Y-%m-%d %H:%M:%S.") + f"{local.microsecond // 1000:03d}" + _offset(local)


def _offset(value: datetime) -> str:
    text = value.strftime("%z")
    return f"{text[:3]}:{text[3:]}" if text else ""


def format_table(events: Sequence[Event], tz: tzinfo | None = None) -> list[str]:
    """Aligned lines: a header, then time, source, seq, type and compact data of each event."""
    rows = [
        (
            display_time(e.time, tz),
            e.source.removeprefix(_PREFIX),
            str(e.seq),
            e.type,
            compact_data(e),
        )
        for e in events
    ]
    header = ("TIME", "SOURCE", "SEQ", "TYPE", "DATA")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    lines = []
    for row in [header, *rows]:
        cells = [
            row[0].ljust(widths[0]),
            row[1].ljust(widths[1]),
            row[2].rjust(widths[2]),
            row[3].ljust(widths[3]),
            row[4],
        ]
        lines.append("  ".join(cells).rstrip())
    return lines


def json_line(event: Event) -> str:
    """One CloudEvents document on one line."""
    return json.dumps(to_dict(event), separators=(",", ":"), ensure_ascii=False)


def _when(
    option: str, value: str | datetime | None, now: datetime | None, tz: tzinfo | None
) -> datetime | None:
    """A command-line time, or None; raise ValueError naming the option."""
    if value is None or isinstance(value, datetime):
        return value if value is None or value.tzinfo else value.replace(tzinfo=tz).astimezone(UTC)
    try:
        return parse_when(value, now=now, tz=tz)
    except ValueError as exc:
        raise ValueError(f"{option}: {exc}") from None


def list_events(
    settings: Settings,
    *,
    types: Sequence[str] | None = None,
    source: str | None = None,
    since: str | datetime | None = None,
    until: str | datetime | None = None,
    limit: int | None = 100,
    as_json: bool = False,
    out: TextIO,
    err: TextIO | None = None,
    now: datetime | None = None,
    tz: tzinfo | None = None,
) -> int:
    """Print the newest `limit` matching events, oldest first; return the exit status (0, 1, 2).

    Types ending in '.' match a family ('door.'). `since` is inclusive, `until` exclusive.
    """
    err = err or sys.stderr
    try:
        since_at = _when("--since", since, now, tz)
        until_at = _when("--until", until, now, tz)
        sources = [resolve_source(source, settings.site)] if source else []
        if limit is not None and limit < 1:
            raise ValueError(f"--limit must be at least 1, got {limit}")
    except ValueError as exc:
        print(f"gatehouse events: {exc}", file=err)
        return 2
    try:
        with open_store(settings.db_url(), migrate=False) as store:
            found = store.query_events(
                types=list(types or ()),
                sources=sources,
                since=since_at,
                until=until_at,
                limit=limit,
                newest_first=True,
            )
    except StorageError as exc:
        print(f"gatehouse events: {exc}", file=err)
        return 1
    found.reverse()
    log.debug("listing %d event(s)", len(found))
    if as_json:
        out.writelines(json_line(e) + "\n" for e in found)
    elif found:
        out.writelines(line + "\n" for line in format_table(found, tz))
    else:
        print("no events match", file=err)
    return 0
