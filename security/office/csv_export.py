"""CSV lines for the console's exports, safe to open in a spreadsheet (pure).

Text that a spreadsheet would read as a formula (a cell beginning with = + - @, a tab or a
carriage return) gets a leading apostrophe, as OWASP advises against CSV injection: a visitor
who types `=HYPERLINK(...)` as their company name stays text in the manager's spreadsheet.
Numbers stay numbers (a negative number is not text and is not prefixed).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What a spreadsheet may take as the start of a formula."""


def safe_text(text: str) -> str:
    """`text` with an apostrophe in front when a spreadsheet could read it as a formula."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def cell(value: object, tz: tzinfo = UTC) -> str:
    """One value as CSV cell text: times in `tz` (ISO 8601), durations in seconds, booleans as words."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):  # a number, negative or not, is never a formula
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"a time without a zone cannot be exported: {value.isoformat()}")
        return value.astimezone(tz).isoformat()
    if isinstance(value, timedelta):
        return f"{value.total_seconds():g}"
    return value.isoformat() if isinstance(value, date) else safe_text(str(value))


def csv_line(values: Sequence[object], tz: tzinfo = UTC) -> str:
    """One CSV record (ending in CRLF) of `values`, each made a safe cell."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow([cell(v, tz) for v in values])
    return out.getvalue()


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[object]], tz: tzinfo = UTC) -> Iterator[str]:
    """The header line, then one line per row, produced as they are asked for (for a streamed reply)."""
    yield csv_line(header, tz)
    for row in rows:
        yield csv_line(row, tz)
