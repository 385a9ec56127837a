"""Gettext catalogs by hand (pure but for reading files): extract, read and write .po, compile .mo, translate.

The kiosk and the console keep their messages in English, marked `N_("...")` in Python or
`_("...")` in templates; each has its own domain and locale folder and uses these tools (no Babel
or msgfmt needed).
"""

from __future__ import annotations

import ast
import gettext
import logging
import re
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

MARKERS: dict[str, int] = {"N_": 1, "_": 1, "gettext": 1, "ngettext": 2, "ngettext_noop": 2}
"""Functions whose first (or first two) string arguments are messages."""
_MO_MAGIC = 0x950412DE
_TEMPLATE_MARK = re.compile(r"""\b_\(\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")\s*\)""")


class Translator:
    """Translates one domain's messages into one language (English: the messages unchanged)."""

    def __init__(self, mo: Path | None, language: str) -> None:
        """Load the compiled catalog `mo`; None (English) or a missing file gives the messages unchanged."""
        self.language = language
        self._catalog: gettext.NullTranslations = gettext.NullTranslations()
        if mo is None:
            return
        try:
            with mo.open("rb") as file:
                self._catalog = gettext.GNUTranslations(file)
        except OSError:
            log.warning("no catalog for language %r at %s; showing English", language, mo)

    def gettext(self, message: str) -> str:
        """`message` in this language."""
        return self._catalog.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """The form of a counted message that fits `n` in this language."""
        return self._catalog.ngettext(singular, plural, n)


@dataclass(slots=True, frozen=True)
class Entry:
    """One catalog entry: a message (with its plural) and its translations."""

    msgid: str
    msgid_plural: str | None = None
    msgstr: tuple[str, ...] = ("",)
    fuzzy: bool = False


def extract(paths: Iterable[Path]) -> list[Entry]:
    """Every marked message in the Python files `paths`, in order of first use, untranslated."""
    seen: dict[tuple[str, str | None], Entry] = {}
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
        for call in sorted(calls, key=lambda c: (c.lineno, c.col_offset)):
            func = call.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            count = MARKERS.get(name, 0)
            args = call.args[:count]
            if not count or len(args) < count:
                continue
            texts = [a.value for a in args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            if len(texts) != count:
                continue
            plural = texts[1] if count == 2 else None
            msgstr = ("", "") if plural else ("",)
            seen.setdefault((texts[0], plural), Entry(texts[0], plural, msgstr))
    return list(seen.values())


def _unquote(text: str) -> str:
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        raise ValueError(f"expected a quoted string, got {text!r}")
    out, chars = [], iter(text[1:-1])
    escapes = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
    for char in chars:
        if char == "\\":
            nxt = next(chars, "")
            if nxt not in escapes:
                raise ValueError(f"unknown escape \\{nxt} in {text!r}")
            out.append(escapes[nxt])
        else:
            out.append(char)
    return "".join(out)


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t").replace("\n", "\\n")
    return f'"{escaped}"'


def read_po(text: str) -> list[Entry]:
    """The entries of a .po file's text (the header is the entry with msgid "")."""
    entries: list[Entry] = []
    fields: dict[str, str] = {}
    key = ""
    fuzzy = marked_fuzzy = False  # the entry being read; the comments before the next one

    def flush() -> None:
        if "msgid" in fields:
            plural = fields.get("msgid_plural")
            if plural is None:
                msgstr: tuple[str, ...] = (fields.get("msgstr", ""),)
            else:
                msgstr = tuple(fields[k] for k in sorted(f for f in fields if f.startswith("msgstr[")))
            entries.append(Entry(fields["msgid"], plural, msgstr, fuzzy))
        fields.clear()

    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        try:
            if not line:
                continue
            if line.startswith("#"):
                marked_fuzzy = marked_fuzzy or (line.startswith("#,") and "fuzzy" in line)
                continue
            if line.startswith('"'):
                fields[key] += _unquote(line)
                continue
            key, _, rest = line.partition(" ")
            if key == "msgid":
                flush()
                fuzzy, marked_fuzzy = marked_fuzzy, False
            elif key != "msgid_plural" and not key.startswith("msgstr"):
                raise ValueError(f"unknown keyword {key!r}")
            fields[key] = _unquote(rest.strip())
        except (ValueError, KeyError) as exc:
            raise ValueError(f"line {number}: {exc}") from None
    flush()
    return entries


def format_po(entries: Sequence[Entry], header: str) -> str:
    """A .po file's text: `header` as the first entry's translation, then `entries`."""
    lines = ['msgid ""', 'msgstr ""', *(_quote(h + "\n") for h in header.splitlines()), ""]
    for entry in entries:
        if entry.fuzzy:
            lines.append("#, fuzzy")
        lines.append(f"msgid {_quote(entry.msgid)}")
        if entry.msgid_plural is None:
            lines.append(f"msgstr {_quote(entry.msgstr[0])}")
        else:
            lines.append(f"msgid_plural {_quote(entry.msgid_plural)}")
            lines.extend(f"msgstr[{i}] {_quote(s)}" for i, s in enumerate(entry.msgstr))
        lines.append("")
    return "\n".join(lines)


def compile_mo(entries: Sequence[Entry]) -> bytes:
    """A GNU .mo file of the translated, non-fuzzy `entries` (the header included)."""
    pairs: dict[bytes, bytes] = {}
    for e in entries:
        if e.fuzzy or not all(e.msgstr):
            continue
        original = e.msgid if e.msgid_plural is None else f"{e.msgid}\0{e.msgid_plural}"
        pairs[original.encode()] = "\0".join(e.msgstr).encode()
    keys = sorted(pairs)
    count = len(keys)
    originals_at = 7 * 4
    translations_at = originals_at + 8 * count
    data_at = translations_at + 8 * count
    originals: list[tuple[int, int]] = []
    translations: list[tuple[int, int]] = []
    blob = b""
    for key in keys:
        originals.append((len(key), data_at + len(blob)))
        blob += key + b"\0"
    for key in keys:
        translations.append((len(pairs[key]), data_at + len(blob)))
        blob += pairs[key] + b"\0"
    head = struct.pack("<7I", _MO_MAGIC, 0, count, originals_at, translations_at, 0, data_at)
    table = b"".join(struct.pack("<2I", *pair) for pair in originals + translations)
    return head + table + blob


def extract_templates(paths: Iterable[Path]) -> list[Entry]:
    """Every `_("...")` message in the template files `paths`, in order of first use, untranslated."""
    seen: dict[str, Entry] = {}
    for path in paths:
        for match in _TEMPLATE_MARK.finditer(path.read_text(encoding="utf-8")):
            text = match.group(1) if match.group(1) is not None else match.group(2)
            message = text.replace("\\'", "'").replace('\\"', '"')
            seen.setdefault(message, Entry(message))
    return list(seen.values())
