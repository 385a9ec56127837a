"""Watchlist screening: normalisation, Jaro-Winkler, and the match decisions, table-driven."""

from __future__ import annotations

import pytest

from kiosk.ports import ScreenResult
from kiosk.screening import (
    DEFAULT_THRESHOLD,
    CachedScreener,
    WatchlistEntry,
    jaro_winkler,
    name_score,
    normalise,
    parse_watchlist,
    screen,
)

WATCHLIST = [
    WatchlistEntry("1", "Lukasz Zolc"),
    WatchlistEntry("2", "John Smith", aliases=("Johnny Smithers", "J. Smyth")),
    WatchlistEntry("3", "Siti Rahmawati"),
    WatchlistEntry("4", "Tim Banks"),
    WatchlistEntry("5", "Globex Holdings"),
]


@pytest.mark.parametrize(("text", "expected"), [
    ("Łukasz  Żółć", "lukasz zolc"),
    ("  O'Brien-Smith, Jr. ", "obrien smith jr"),
    ("ÆSIR Øresund Straße", "aesir oresund strasse"),
    ("\uff2a\uff2f\uff28\uff2e", "john"),  # full-width JOHN, as some keyboards type it
    ("...", ""),
])
def test_normalise(text: str, expected: str) -> None:
    assert normalise(text) == expected


@pytest.mark.parametrize(("a", "b", "expected"), [
    ("martha", "marhta", 0.9611),  # the textbook examples
    ("dwayne", "duane", 0.84),
    ("dixon", "dicksonx", 0.8133),
    ("abc", "abc", 1.0),
    ("abc", "xyz", 0.0),
    ("", "abc", 0.0),
])
def test_jaro_winkler_textbook_values(a: str, b: str, expected: float) -> None:
    assert jaro_winkler(a, b) == pytest.approx(expected, abs=1e-4)
    assert jaro_winkler(b, a) == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize(("name", "company", "result", "entry"), [
    ("Lukasz Zolc", None, "match", "1"),            # exact
    ("Łukasz Żółć", None, "match", "1"),            # accents
    ("ZOLC, Łukasz", None, "match", "1"),           # swapped order, case, punctuation
    ("Jon Smith", None, "match", "2"),              # one typo
    ("Johnny Smithers", None, "match", "2"),        # an alias
    ("Siti Nur Rahmawati", None, "match", "3"),     # a middle name
    ("Tom Hanks", None, "clear", None),             # near miss of "Tim Banks"
    ("John", None, "clear", None),                  # a first name alone is not "John Smith"
    ("Maria Garcia", None, "clear", None),          # nobody like her
    ("Ana Lopez", "Globex Holdings", "clear", None),  # company not screened unless asked
])
def test_screen(name: str, company: str | None, result: str, entry: str | None) -> None:
    found = screen(name, company, WATCHLIST)
    assert (found.result, found.entry_id) == (result, entry)
    assert found.score is not None
    assert (found.score >= DEFAULT_THRESHOLD) == (result == "match")


def test_near_miss_is_close_but_under_the_threshold() -> None:
    score = name_score("Tom Hanks", "Tim Banks")
    assert 0.8 < score < DEFAULT_THRESHOLD


def test_the_threshold_decides() -> None:
    assert screen("Tom Hanks", None, WATCHLIST, threshold=0.8).result == "match"
    assert screen("Jon Smith", None, WATCHLIST, threshold=0.99).result == "clear"
    with pytest.raises(ValueError, match="threshold"):
        screen("Jon Smith", None, WATCHLIST, threshold=0)


def test_company_screened_when_asked() -> None:
    found = screen("Ana Lopez", "GLOBEX holdings", WATCHLIST, check_company=True)
    assert (found.result, found.entry_id, found.score) == ("match", "5", 1.0)


def test_empty_watchlist_and_empty_name_are_clear() -> None:
    assert screen("John Smith", None, []) == ScreenResult(result="clear", score=None, entry_id=None)
    assert screen("  ", None, WATCHLIST) == ScreenResult(result="clear", score=None, entry_id=None)


def test_cached_screener_without_a_cache_says_error_and_with_one_screens() -> None:
    cached: list[list[WatchlistEntry] | None] = [None]
    screener = CachedScreener(lambda: cached[0], threshold=0.9)
    assert screener.screen("Lukasz Zolc", None) == ScreenResult(result="error")
    cached[0] = []
    assert screener.screen("Lukasz Zolc", None).result == "clear"
    cached[0] = WATCHLIST
    assert screener.screen("Łukasz Żółć", "Acme").entry_id == "1"


def test_parse_watchlist() -> None:
    rows = [{"id": 7, "name": "Jan Kowalski", "aliases": ["Janek K"]}, {"id": "8", "name": "X Y"}]
    assert parse_watchlist(rows) == [WatchlistEntry("7", "Jan Kowalski", ("Janek K",)),
                                     WatchlistEntry("8", "X Y", ())]
    for bad in ({"id": 1}, [{"name": "no id"}], [{"id": 1, "name": "A", "aliases": [3]}], ["text"]):
        with pytest.raises(ValueError, match="watchlist"):
            parse_watchlist(bad)
