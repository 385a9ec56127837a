"""Keyset pagination for the console's lists: a bounded time range, page sizes, and signed cursors.

A list is ordered newest first by (time, id). A page's cursor names its last row's (time, id);
the next page holds the rows strictly before it, so rows added meanwhile never shift a page and
rows with the same time are neither repeated nor skipped. The cursor is opaque to the client:
base64url JSON plus an HMAC-SHA256 over it and the list's scope (the page and its filters), so a
cursor edited by hand, or one issued for other filters, is refused with CursorError.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Connection, Row, Select, and_, or_

MAX_RANGE = timedelta(days=366)
"""The longest time range a list or report may cover."""
MAX_PAGE = 500
"""The most rows one page may hold."""
DEFAULT_PAGE = 50
MAX_CURSOR = 256
"""A longer cursor is refused before it is decoded."""
T = TypeVar("T")
_PROCESS_KEY = secrets.token_bytes(32)
"""Signs cursors when the caller gives no key: cursors then hold only within this process."""


class ReportError(ValueError):
    """A list or report asked for something it cannot give; the text says why."""


class CursorError(ReportError):
    """A cursor that was not issued by this list with these filters (edited, truncated or foreign)."""


@dataclass(frozen=True, slots=True)
class TimeRange:
    """A half-open range [start, end) of aware times, at most MAX_RANGE long."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        """Refuse naive times, an empty or reversed range, and one longer than MAX_RANGE."""
        for name in ("start", "end"):
            moment = getattr(self, name)
            if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
                raise ReportError(f"the range's {name} must be a time-zone aware time")
        if self.start >= self.end:
            raise ReportError("the range must start before it ends")
        if self.end - self.start > MAX_RANGE:
            raise ReportError(f"a range may cover at most {MAX_RANGE.days} days")

    def tag(self) -> str:
        """The range as text, for a cursor's scope."""
        return f"{self.start.astimezone(UTC).isoformat()}/{self.end.astimezone(UTC).isoformat()}"


@dataclass(frozen=True, slots=True)
class Position:
    """Where a page ended: the last row's time and id."""

    at: datetime
    id: int


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of rows, newest first, and the cursor of the next page (None on the last one)."""

    rows: tuple[T, ...]
    next_cursor: str | None


def page_size(limit: int) -> int:
    """`limit` checked: 1 to MAX_PAGE rows."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise ReportError(f"a page holds 1 to {MAX_PAGE} rows, not {limit!r}")
    return limit


def _mac(key: bytes | None, scope: str, body: bytes) -> bytes:
    if key is not None and not key:
        raise ValueError("a cursor key must not be empty; pass None for this process's own")
    secret = _PROCESS_KEY if key is None else key
    return hmac.new(secret, scope.encode() + b"\x00" + body, hashlib.sha256).digest()[:16]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_cursor(position: Position, scope: str, key: bytes | None = None) -> str:
    """The opaque cursor of `position` for the list `scope` (signed with `key`, or the process's)."""
    body = json.dumps([position.at.astimezone(UTC).isoformat(), position.id], separators=(",", ":")).encode()
    return f"{_b64(body)}.{_b64(_mac(key, scope, body))}"


def decode_cursor(cursor: str, scope: str, key: bytes | None = None) -> Position:
    """The position in `cursor`; CursorError unless this list with this scope issued it."""
    if not isinstance(cursor, str) or not 0 < len(cursor) <= MAX_CURSOR or cursor.count(".") != 1:
        raise CursorError("not a cursor of this list")
    body_text, mac_text = cursor.split(".")
    try:
        body, mac = _unb64(body_text), _unb64(mac_text)
    except (binascii.Error, ValueError):
        raise CursorError("not a cursor of this list") from None
    if not hmac.compare_digest(mac, _mac(key, scope, body)):
        raise CursorError("this cursor was not issued for this list and these filters")
    try:
        at_text, row_id = json.loads(body)
        at = datetime.fromisoformat(at_text)
    except (ValueError, TypeError) as exc:  # signed yet unreadable: only a changed format gets here
        raise CursorError(f"unreadable cursor: {exc}") from None
    if at.tzinfo is None or isinstance(row_id, bool) or not isinstance(row_id, int):
        raise CursorError("unreadable cursor")
    return Position(at, row_id)


def scope_of(page: str, time_range: TimeRange, filters: object) -> str:
    """The scope a cursor is bound to: the page, the range and the filters (a frozen dataclass's repr)."""
    return f"{page}|{time_range.tag()}|{filters!r}"


def before(
    time_col: ColumnElement[Any], id_col: ColumnElement[Any], position: Position
) -> ColumnElement[bool]:
    """Rows strictly before `position` in (time, id) descending order; an index on time serves it."""
    return and_(time_col <= position.at, or_(time_col < position.at, id_col < position.id))


def next_cursor(
    positions: list[Position], limit: int, scope: str, key: bytes | None
) -> str | None:
    """The cursor after the last of `limit + 1` fetched rows' positions, or None when no row is left."""
    if len(positions) <= limit:
        return None
    return encode_cursor(positions[limit - 1], scope, key)


def walk(fetch: Callable[[str | None], Page[T]]) -> Iterator[T]:
    """Every row of a list, page by page through its cursors (an export sees what the pages show)."""
    cursor: str | None = None
    while True:
        page = fetch(cursor)
        yield from page.rows
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def fetch_page(
    conn: Connection, query: Select[Any], keys: tuple[ColumnElement[Any], ColumnElement[Any]], *,
    scope: str, cursor: str | None, limit: int, key: bytes | None,
) -> tuple[list[Row[Any]], str | None]:
    """Up to `limit` rows of `query` after `cursor`, newest first by `keys` (time, id), and the next cursor.

    One more row than asked is fetched to know whether another page follows.
    """
    limit = page_size(limit)
    time_col, id_col = keys
    if cursor is not None:
        query = query.where(before(time_col, id_col, decode_cursor(cursor, scope, key)))
    rows = list(conn.execute(query.order_by(time_col.desc(), id_col.desc()).limit(limit + 1)).all())
    positions = [Position(r._mapping[time_col], int(r._mapping[id_col])) for r in rows]
    return rows[:limit], next_cursor(positions, limit, scope, key)
