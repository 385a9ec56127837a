"""The console's languages: English, Indonesian and Polish catalogs, chosen by cookie or the browser.

Templates mark texts `_("...")`; Python modules mark them `N_("...")`. `python -m security.console.i18n`
extracts both into `locale/console.pot` and compiles each `locale/<lang>/LC_MESSAGES/console.po`.
"""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path

from broker.catalogs import Translator, compile_mo, extract, extract_templates, format_po, read_po

DOMAIN = "console"
HERE = Path(__file__).parent
LOCALE_DIR = HERE / "locale"
LANGUAGES: tuple[tuple[str, str], ...] = (("en", "English"), ("id", "Bahasa Indonesia"), ("pl", "Polski"))
"""Languages offered, each named in itself."""
DEFAULT = "en"


def N_(message: str) -> str:  # noqa: N802 (the conventional gettext marker)
    """Mark `message` for the catalog; it is translated where it is shown."""
    return message


def po_path(language: str) -> Path:
    """Where the catalog of `language` is kept."""
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@lru_cache(maxsize=8)
def translator(language: str) -> Translator:
    """The shared translator of `language` (English: the messages themselves)."""
    known = dict(LANGUAGES)
    code = language if language in known else DEFAULT
    return Translator(None if code == DEFAULT else po_path(code).with_suffix(".mo"), code)


def negotiate(chosen: str | None, accept_language: str | None) -> str:
    """The language to show: the one chosen at login, else the browser's first we have, else English."""
    known = dict(LANGUAGES)
    if chosen in known:
        return str(chosen)
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "")[:512].split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        ranked.append((-quality, position, tag.strip().lower().split("-")[0]))
    for _quality, _position, code in sorted(ranked):
        if code in known:
            return code
    return DEFAULT


def build() -> list[Path]:
    """Write the template from the templates and modules, compile every language's .po; the files written."""
    template = LOCALE_DIR / f"{DOMAIN}.pot"
    entries = extract_templates(sorted((HERE / "templates").glob("*.html")))
    seen = {e.msgid for e in entries}
    entries += [e for e in extract(sorted(HERE.rglob("*.py"))) if e.msgid not in seen]
    template.parent.mkdir(parents=True, exist_ok=True)
    template.write_text(format_po(entries, "Project-Id-Version: gatehouse-console\n"
                                           "Content-Type: text/plain; charset=UTF-8"), encoding="utf-8")
    written = [template]
    for language, _name in LANGUAGES:
        po = po_path(language)
        if po.exists():
            po.with_suffix(".mo").write_bytes(compile_mo(read_po(po.read_text(encoding="utf-8"))))
            written.append(po.with_suffix(".mo"))
    return written


if __name__ == "__main__":
    for done in build():
        sys.stdout.write(f"wrote {done}\n")
