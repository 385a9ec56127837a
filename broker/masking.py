"""Names as a stranger may see them (pure): the kiosk's lists, the API's, the console's for masked roles."""

from __future__ import annotations


def _mask_word(word: str, keep: int) -> str:
    return word[:keep] + "*" * max(len(word) - keep, 0)


def mask_name(name: str) -> str:
    """A name as a stranger may see it: the first letter of each word (`Ana Lopez`: `A** L****`)."""
    return " ".join(_mask_word(w, 1) for w in name.split())


def mask_company(company: str | None) -> str | None:
    """A company as a stranger may see it: 3 letters of the first word, 1 of the others."""
    if not company:
        return None
    words = company.split()
    return " ".join(_mask_word(w, 3 if i == 0 else 1) for i, w in enumerate(words))
