"""Text from outside: escaped for logs and terminals, and what no database stores (broker.safe_text)."""

from __future__ import annotations

import io
import logging

import pytest

from broker.safe_text import escape, text_fault
from gatehouse.cli import log_handler


@pytest.mark.parametrize(("text", "shown"), [
    ("Door forced", "Door forced"),
    ("Łódź café", "Łódź café"),
    ("a\nb\r\tc", "a\\nb\\r\\tc"),
    ("\x1b[2J\x00\x7f", "\\x1b[2J\\x00\\x7f"),
    ("\x85 \u2028 \u2029", "\\x85 \\u2028 \\u2029"),
    ("bad \ud800 byte \udcff", "bad \\ud800 byte \\udcff"),
])
def test_escape_shows_every_control_character(text: str, shown: str) -> None:
    """Controls, line separators and lone surrogates become visible escapes; other text is kept."""
    assert escape(text) == shown


def test_text_fault_names_nul_and_lone_surrogates() -> None:
    """NUL (PostgreSQL refuses it) and lone surrogates (not UTF-8) cannot be stored; the rest can."""
    assert text_fault("line\nbreak \x1b and Łódź") is None
    assert text_fault("a\x00b") == "contains a NUL character"
    assert text_fault("x\ud800") == "contains a lone surrogate (U+D800), not valid Unicode"


def test_the_service_log_keeps_one_record_on_one_line() -> None:
    """Through gatehouse's own handler, a message with a newline cannot forge a second line, while a
    traceback keeps its lines."""
    out = io.StringIO()
    logger = logging.getLogger("tests.safe_text")
    logger.addHandler(handler := log_handler(out))
    logger.propagate = False
    try:
        logger.warning("incident %s opened: %s", "i-1", "Fire\n10:00:00 INFO security: all clear \ud800")
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("failed on %r", "x\ny")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    lines = out.getvalue().splitlines()
    forged = "Fire\\n10:00:00 INFO security: all clear \\ud800"
    assert lines[0].endswith(f"tests.safe_text: incident i-1 opened: {forged}")
    assert lines[1].endswith("tests.safe_text: failed on 'x\\ny'")
    assert lines[2] == "Traceback (most recent call last):"
    assert lines[-1] == "ValueError: boom"
    assert not any(line.startswith("10:00:00 INFO") for line in lines)
