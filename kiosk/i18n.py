"""The kiosk's languages: its gettext domain, a `Translator` per language, and its catalog build.

Every text a visitor sees is an English message marked `N_("...")` (or `ngettext_noop`) in the
kiosk's modules. `python -m kiosk.i18n` extracts them into `locale/kiosk.pot` and compiles each
`locale/<lang>/LC_MESSAGES/kiosk.po` into its `.mo` with `broker/catalogs.py`'s tools. English is
the messages themselves.
"""

from __future__ import annotations

import logging
import sys
from functools import lru_cache
from pathlib import Path

from broker import catalogs
from broker.catalogs import (
    MARKERS,
    Entry,
    compile_mo,
    extract,
    format_po,
    read_po,
)

log = logging.getLogger(__name__)

DOMAIN = "kiosk"
LOCALE_DIR = Path(__file__).with_name("locale")
TEMPLATE = LOCALE_DIR / f"{DOMAIN}.pot"
LANGUAGES: tuple[str, ...] = ("en", "id", "pl")
"""Languages the kiosk offers, in the order of its buttons."""
DEFAULT_LANGUAGE = "en"
LANGUAGE_NAMES: dict[str, str] = {"en": "English", "id": "Bahasa Indonesia", "pl": "Polski"}
"""Each language's name in itself, as its button says it (never translated)."""
__all__ = ["MARKERS", "Entry", "Translator", "build", "compile_mo", "extract", "format_po", "read_po",
           "translator"]


def N_(message: str) -> str:  # noqa: N802 (the conventional gettext marker)
    """Mark `message` for the catalog; it is translated later, where it is shown."""
    return message


def ngettext_noop(singular: str, plural: str) -> tuple[str, str]:
    """Mark a counted message for the catalog; it is translated later with `ngettext`."""
    return singular, plural


def po_path(language: str) -> Path:
    """Where the catalog of `language` is kept."""
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


class Translator(catalogs.Translator):
    """Translates the kiosk's messages into one language (English: the messages unchanged)."""

    def __init__(self, language: str) -> None:
        """Load the compiled catalog of `language`; a missing one falls back to English, logged."""
        super().__init__(None if language == "en" else po_path(language).with_suffix(".mo"), language)


@lru_cache(maxsize=16)
def translator(language: str) -> Translator:
    """The (shared) translator of `language`."""
    return Translator(language)


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
