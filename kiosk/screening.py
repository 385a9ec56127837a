"""Watchlist screening: fuzzy matching of a visitor's name against entries and aliases (pure).

Names are normalised (compatibility decomposition, accents and punctuation dropped, case folded,
spaces collapsed) and compared two ways with Jaro-Winkler: the tokens sorted and joined (so
"Zolc Lukasz" meets "Lukasz Zolc"), and token by token, each token of the shorter name paired
with its best partner in the longer one (so a middle name or a typo in one part costs little).
The best score over an entry's name and aliases decides: at or above the threshold is a match.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from broker.api_models import WatchlistName, read_list
from kiosk.ports import ScreenResult

log = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 0.88
"""Score at or above which a name matches a watchlist entry."""
_UNDECOMPOSED = str.maketrans({"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D", "ħ": "h",
                               "\u0131": "i", "ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE",
                               "þ": "th", "Þ": "TH"})  # \u0131: the Turkish dotless i
"""Letters that NFKD does not split into a base letter and an accent."""
_SIMILAR_LENGTH = 0.7
"""The prefix bonus is for names of similar length: a lone "John" must not match "John Smith"."""
_JOINERS = frozenset("'`\u2019\u02bc")  # ' ` and the typographic and modifier apostrophes
"""Apostrophes join the parts of a name ("O'Brien" is "obrien"); other punctuation separates."""


@dataclass(slots=True, frozen=True)
class WatchlistEntry:
    """One person (or organisation) on the site's watchlist, with the other names they use."""

    id: str
    name: str
    aliases: tuple[str, ...] = ()


def normalise(text: str) -> str:
    """`text` without accents, punctuation or case, single-spaced ("Żółć-Nowak" is "zolc nowak")."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_UNDECOMPOSED))
    out: list[str] = []
    for char in decomposed:
        if unicodedata.combining(char) or char in _JOINERS:
            continue
        out.append(char if char.isalnum() else " ")
    return " ".join("".join(out).casefold().split())


def jaro_winkler(a: str, b: str, *, prefix_scale: float = 0.1) -> float:
    """The Jaro-Winkler similarity of two strings, 0 (nothing alike) to 1 (equal)."""
    if a == b:
        return 1.0
    if not a or not b:
        return 0.0
    window = max(0, max(len(a), len(b)) // 2 - 1)
    used = [False] * len(b)
    matched_a: list[str] = []
    for i, char in enumerate(a):
        for j in range(max(0, i - window), min(len(b), i + window + 1)):
            if not used[j] and b[j] == char:
                used[j] = True
                matched_a.append(char)
                break
    matches = len(matched_a)
    if matches == 0:
        return 0.0
    matched_b = [char for char, hit in zip(b, used, strict=True) if hit]
    transpositions = sum(x != y for x, y in zip(matched_a, matched_b, strict=True)) / 2
    jaro = (matches / len(a) + matches / len(b) + (matches - transpositions) / matches) / 3
    if jaro <= 0.7:
        return jaro
    prefix = 0
    for x, y in zip(a[:4], b[:4], strict=False):
        if x != y:
            break
        prefix += 1
    return jaro + prefix * prefix_scale * (1 - jaro)


def name_score(a: str, b: str) -> float:
    """How alike two names are (0..1), whatever their order, accents or case."""
    tokens_a, tokens_b = normalise(a).split(), normalise(b).split()
    if not tokens_a or not tokens_b:
        return 0.0
    joined_a, joined_b = " ".join(sorted(tokens_a)), " ".join(sorted(tokens_b))
    similar_length = min(len(joined_a), len(joined_b)) >= _SIMILAR_LENGTH * max(len(joined_a), len(joined_b))
    whole = jaro_winkler(joined_a, joined_b, prefix_scale=0.1 if similar_length else 0.0)
    return max(whole, _token_score(tokens_a, tokens_b))


def _token_score(tokens_a: Sequence[str], tokens_b: Sequence[str]) -> float:
    """Each token of the shorter name paired with a different best token of the longer, averaged.

    A single-token name is not scored this way: "Jan" must not match every "Jan Something".
    """
    short, long = sorted((tokens_a, tokens_b), key=len)
    if len(short) < 2:
        return 0.0
    pairs = sorted(((jaro_winkler(s, t), i, j) for i, s in enumerate(short) for j, t in enumerate(long)),
                   reverse=True)
    taken_short: set[int] = set()
    taken_long: set[int] = set()
    total = 0.0
    for score, i, j in pairs:
        if i in taken_short or j in taken_long:
            continue
        taken_short.add(i)
        taken_long.add(j)
        total += score
    return total / len(short)


def screen(
    name: str, company: str | None, watchlist: Iterable[WatchlistEntry], *,
    threshold: float = DEFAULT_THRESHOLD, check_company: bool = False,
) -> ScreenResult:
    """Screen a visitor (and with `check_company`, their company) against `watchlist`.

    A match names the entry and its score; a clear result carries the best score seen (None when
    the watchlist is empty or the name has no letters).
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    candidates = [name] + ([company] if check_company and company else [])
    best_score: float | None = None
    best_entry: str | None = None
    for entry in watchlist:
        for listed in (entry.name, *entry.aliases):
            for candidate in candidates:
                score = name_score(candidate, listed)
                if best_score is None or score > best_score:
                    best_score, best_entry = score, entry.id
    if best_score is None or not normalise(name):
        return ScreenResult(result="clear", score=None, entry_id=None)
    score = round(best_score, 4)
    if best_score >= threshold:
        return ScreenResult(result="match", score=score, entry_id=best_entry)
    return ScreenResult(result="clear", score=score, entry_id=None)


def parse_watchlist(rows: object) -> list[WatchlistEntry]:
    """Watchlist entries from the API's JSON (a list of `WatchlistName`); ValueError if malformed."""
    try:
        names = read_list(WatchlistName, rows)
    except ValueError as exc:
        raise ValueError(f"the watchlist is malformed: {exc}") from None
    return [WatchlistEntry(str(row.id), row.name, tuple(row.aliases)) for row in names]


class CachedScreener:
    """A `Screener` over the cached watchlist: it screens offline; "error" only with no cache at all."""

    def __init__(
        self, watchlist: Callable[[], list[WatchlistEntry] | None], *,
        threshold: float = DEFAULT_THRESHOLD, check_company: bool = False,
    ) -> None:
        """Screen against what `watchlist()` returns (None: never fetched)."""
        if not 0 < threshold <= 1:
            raise ValueError(f"threshold must be in (0, 1], got {threshold}")
        self._watchlist = watchlist
        self.threshold = threshold
        self.check_company = check_company

    def screen(self, name: str, company: str | None) -> ScreenResult:
        """The screening result of one visitor."""
        try:
            entries = self._watchlist()
        except (OSError, ValueError) as exc:
            log.error("watchlist cannot be read: %s", exc)
            entries = None
        if entries is None:
            log.warning("no watchlist has ever been fetched: screening result is 'error'")
            return ScreenResult(result="error", score=None, entry_id=None)
        return screen(name, company, entries, threshold=self.threshold, check_company=self.check_company)
