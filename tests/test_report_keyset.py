"""The console lists' cursors and limits: signed, bound to their filters, refused when edited."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from security.storage.reports.keyset import (
    MAX_PAGE,
    CursorError,
    Page,
    Position,
    ReportError,
    TimeRange,
    decode_cursor,
    encode_cursor,
    page_size,
    walk,
)

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
KEY = b"k" * 32


def test_a_cursor_round_trips_for_its_scope() -> None:
    """What was encoded comes back, with or without the caller's key."""
    position = Position(T0 + timedelta(microseconds=7), 42)
    assert decode_cursor(encode_cursor(position, "visits|x", KEY), "visits|x", KEY) == position
    assert decode_cursor(encode_cursor(position, "s"), "s") == position


def _body(cursor: str) -> list[object]:
    text = cursor.split(".", maxsplit=1)[0]
    loaded: list[object] = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    return loaded


def test_an_edited_cursor_is_refused() -> None:
    """A changed id, another scope or key, garbage, or an over-long cursor: CursorError."""
    cursor = encode_cursor(Position(T0, 42), "visits|a", KEY)
    at, _ = _body(cursor)
    forged = base64.urlsafe_b64encode(json.dumps([at, 41]).encode()).decode().rstrip("=")
    bad = [f"{forged}.{cursor.split('.')[1]}", cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB"),
           "", "nodot", "a.b.c", "!!!.???", "x" * 300 + "." + "y", cursor + "."]
    for text in bad:
        with pytest.raises(CursorError):
            decode_cursor(text, "visits|a", KEY)
    with pytest.raises(CursorError, match="these filters"):
        decode_cursor(cursor, "visits|b", KEY)
    with pytest.raises(CursorError):
        decode_cursor(cursor, "visits|a", b"other")
    with pytest.raises(ValueError, match="empty"):
        encode_cursor(Position(T0, 1), "visits|a", b"")


def test_ranges_and_page_sizes_are_bounded() -> None:
    """At most 366 days, start before end, aware times; 1 to MAX_PAGE rows."""
    assert TimeRange(T0, T0 + timedelta(days=366)).end == T0 + timedelta(days=366)
    for start, end in ((T0, T0 + timedelta(days=366, seconds=1)), (T0, T0), (T0, T0 - timedelta(1)),
                       (T0.replace(tzinfo=None), T0 + timedelta(1))):
        with pytest.raises(ReportError):
            TimeRange(start, end)
    assert page_size(MAX_PAGE) == MAX_PAGE
    for limit in (0, -1, MAX_PAGE + 1, True):
        with pytest.raises(ReportError):
            page_size(limit)


def test_walk_follows_cursors_to_the_last_page() -> None:
    """Every row of every page, in order, and nothing after a page with no cursor."""
    pages = {None: Page((1, 2), "p2"), "p2": Page((3,), "p3"), "p3": Page((), None)}
    assert list(walk(lambda cursor: pages[cursor])) == [1, 2, 3]
