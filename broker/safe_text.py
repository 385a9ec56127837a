"""Text from outside made safe: escaped for a log line or a terminal, checked before it is stored (pure).

Whatever a caller, a device or a person typed may reach a log call or a terminal. `EscapingFormatter`
(installed by `gatehouse` on its log handlers) escapes control characters in every log message,
so a newline in an incident title cannot forge a line of the service log; `escape` does the same
for a line printed on a terminal. `text_fault` names what no database may store: NUL (PostgreSQL
refuses it) and lone surrogates (not UTF-8).
"""

from __future__ import annotations

import logging
import re

_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
"""C0 and C1 control characters, the Unicode line and paragraph separators, and lone surrogates."""
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _SHORT.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def escape(text: str) -> str:
    """`text` with every control character, line separator and lone surrogate as a visible escape."""
    return _CONTROLS.sub(_escaped, text)


def text_fault(text: str) -> str | None:
    """Why `text` cannot be stored (a NUL character, a lone surrogate), or None when it can."""
    if "\x00" in text:
        return "contains a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"contains a lone surrogate (U+{ord(text[exc.start]):04X}), not valid Unicode"
    return None


class EscapingFormatter(logging.Formatter):
    """A Formatter that escapes control characters in the message: one log record, one line.

    Only the message is escaped; a traceback added after it keeps its lines.
    """

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        """The formatted line, with the record's message escaped."""
        message = record.message
        record.message = escape(message)
        try:
            return super().formatMessage(record)
        finally:
            record.message = message
