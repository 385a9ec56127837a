"""The kiosk's languages: gettext catalogs, a `Translator` per language, and the catalog tools (pure).

Every text a visitor sees is an English message marked `N_("...")` (or `ngettext_noop`) in the
kiosk's modules. `python -m kiosk.i18n` extracts them into `locale/kiosk.pot` and compiles each
`locale/<lang>/LC_MESSAGES/kiosk.po` into its `.mo` (no Babel or msgfmt needed). English is the
messages themselves.
"""

from __future__ import annotations

import ast
import gettext
import logging
import struct
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)

DOMAIN = "kiosk"
LOCALE_DIR = Path(__file__).with_name("locale")
TEMPLATE = LOCALE_DIR / f"{DOMAIN}.pot"
LANGUAGES: tuple[str, ...] = ("en", "id", "pl")
"""Languages the kiosk offers, in the order of its buttons."""
DEFAULT_LANGUAGE = "en"
LANGUAGE_NAMES: dict[str, str] = {"en": "English", "id": "Bahasa Indonesia", "pl": "Polski"}
"""Each language's name in itself, as its button says it (never translated)."""
MARKERS: dict[str, int] = {"N_": 1, "_": 1, "gettext": 1, "ngettext": 2, "ngettext_noop": 2}
"""Functions whose first (or first two) string arguments are messages."""
_MO_MAGIC = 0x950412DE


def N_(message: str) -> str:  # noqa: N802 (the conventional gettext marker)
    """Mark `message` for the catalog; it is translated later, where it is shown."""
    return message


def ngettext_noop(singular: str, plural: str) -> tuple[str, str]:
    """Mark a counted message for the catalog; it is translated later with `ngettext`."""
    return singular, plural


def po_path(language: str) -> Path:
    """Where the catalog of `language` is kept."""
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


class Translator:
    """Translates the kiosk's messages into one language (English: the messages unchanged)."""

    def __init__(self, language: str) -> None:
        """Load the compiled catalog of `language`; a missing one falls back to English, logged."""
        self.language = language
        self._catalog: gettext.NullTranslations = gettext.NullTranslations()
        if language == "en":  # the messages are English
            return
        mo = po_path(language).with_suffix(".mo")
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


@lru_cache(maxsize=16)
def translator(language: str) -> Translator:
    """The (shared) translator of `language`."""
    return Translator(language)


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


def sources() -> list[Path]:
    """The kiosk's Python files whose messages go into the catalog."""
    return sorted(Path(__file__).parent.rglob("*.py"))


def build() -> list[Path]:
    """Write the template from the sources and compile every language's .po; the files written."""
    written = [TEMPLATE]
    header = "Project-Id-Version: gatehouse-kiosk\nContent-Type: text/plain; charset=UTF-8"
    TEMPLATE.write_text(format_po(extract(sources()), header), encoding="utf-8")
    for language in LANGUAGES:
        po = po_path(language)
        if po.exists():
            po.with_suffix(".mo").write_bytes(compile_mo(read_po(po.read_text(encoding="utf-8"))))
            written.append(po.with_suffix(".mo"))
    return written


if __name__ == "__main__":
    for done in build():
        sys.stdout.write(f"wrote {done}\n")
