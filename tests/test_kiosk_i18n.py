"""The kiosk's catalogs: complete, up to date, compiled, and used by every screen."""

from __future__ import annotations

import gettext
import io
import re
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from broker.schemas import VisitorType
from kiosk.flow import INITIAL
from kiosk.flow import texts as flow_texts
from kiosk.flow.state import Mode, Outcome, Problem, Session, Step
from kiosk.flow.view import render
from kiosk.i18n import (
    LANGUAGES,
    TEMPLATE,
    Entry,
    Translator,
    compile_mo,
    extract,
    format_po,
    po_path,
    read_po,
    sources,
)
from kiosk.ports import Host, Invitation, OnSiteVisit, PastVisitor, Photo

TRANSLATED = [language for language in LANGUAGES if language != "en"]
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def _messages(entries: list[Entry]) -> dict[tuple[str, str | None], Entry]:
    return {(e.msgid, e.msgid_plural): e for e in entries if e.msgid}


def _catalog(language: str) -> list[Entry]:
    return read_po(po_path(language).read_text(encoding="utf-8"))


def test_the_template_holds_exactly_the_marked_messages() -> None:
    marked = _messages(extract(sources()))
    assert len(marked) > 80
    assert _messages(read_po(TEMPLATE.read_text(encoding="utf-8"))) == marked, "run: python -m kiosk.i18n"


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, tuple):
        return [s for v in value for s in _strings(v)]
    if isinstance(value, flow_texts.Choice):
        return [value.label, value.hint]
    return []


def test_every_word_the_view_model_shows_is_in_the_catalog() -> None:
    shown = {
        s
        for name, value in vars(flow_texts).items()
        if name.isupper() and not name.startswith("_")
        for s in _strings(value)
    }
    template = {e.msgid for e in read_po(TEMPLATE.read_text(encoding="utf-8"))}
    template |= {e.msgid_plural for e in read_po(TEMPLATE.read_text(encoding="utf-8")) if e.msgid_plural}
    assert len(shown) > 80
    assert shown <= template, shown - template


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_message_is_translated_with_the_same_placeholders(language: str) -> None:
    entries = _catalog(language)
    header = next(e for e in entries if not e.msgid).msgstr[0]
    plurals = int(re.search(r"nplurals=(\d+)", header).group(1))  # type: ignore[union-attr]
    assert f"Language: {language}" in header
    catalog = _messages(entries)
    assert catalog.keys() == _messages(extract(sources())).keys()
    for entry in catalog.values():
        assert not entry.fuzzy, entry.msgid
        assert all(s.strip() for s in entry.msgstr), entry.msgid
        assert len(entry.msgstr) == (1 if entry.msgid_plural is None else plurals), entry.msgid
        for translation in entry.msgstr:
            assert sorted(PLACEHOLDER.findall(translation)) == sorted(PLACEHOLDER.findall(entry.msgid)), (
                entry.msgid
            )
        assert entry.msgstr[0] != entry.msgid, f"{entry.msgid!r} is not translated into {language}"


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_compiled_catalogs_are_up_to_date_and_readable_by_gettext(language: str) -> None:
    entries = _catalog(language)
    compiled = compile_mo(entries)
    assert po_path(language).with_suffix(".mo").read_bytes() == compiled, "run: python -m kiosk.i18n"
    catalog = gettext.GNUTranslations(io.BytesIO(compiled))
    for entry in _messages(entries).values():
        if entry.msgid_plural is None:
            assert catalog.gettext(entry.msgid) == entry.msgstr[0]
        else:
            assert catalog.ngettext(entry.msgid, entry.msgid_plural, 1) == entry.msgstr[0]


@pytest.mark.parametrize(
    ("language", "counts"),
    [
        ("en", {1: "1 second", 2: "2 seconds", 5: "5 seconds"}),
        ("id", {1: "1 detik", 2: "2 detik", 5: "5 detik"}),
        ("pl", {1: "1 sekundę", 2: "2 sekundy", 5: "5 sekund", 22: "22 sekundy", 12: "12 sekund"}),
    ],
)
def test_plural_forms_follow_each_language(language: str, counts: dict[int, str]) -> None:
    singular, plural = flow_texts.CLOSES_IN
    translator = Translator(language)
    for n, ending in counts.items():
        assert translator.ngettext(singular, plural, n).endswith(ending.replace(str(n), "%(n)d"))


def test_po_files_round_trip_with_escapes_and_plurals() -> None:
    entries = [
        Entry('Say "hi"\\now', None, ("Powiedz „hej”\nteraz\t!",)),
        Entry("%(n)d file", "%(n)d files", ("%(n)d plik", "%(n)d pliki", "%(n)d plików"), fuzzy=True),
    ]
    text = format_po(entries, "Language: pl\nContent-Type: text/plain; charset=UTF-8")
    assert read_po(text)[1:] == entries
    with pytest.raises(ValueError, match="line 2"):
        read_po('msgid "a"\nmsgstr "b\\q"\n')


def test_fuzzy_and_empty_translations_stay_out_of_the_compiled_catalog() -> None:
    header = Entry("", None, ("Content-Type: text/plain; charset=UTF-8\n",))
    compiled = compile_mo([header, Entry("Yes", None, ("Tak",)), Entry("No", None, ("",)),
                           Entry("Maybe", None, ("Może",), fuzzy=True)])  # fmt: skip
    catalog = gettext.GNUTranslations(io.BytesIO(compiled))
    assert [catalog.gettext(m) for m in ("Yes", "No", "Maybe")] == ["Tak", "No", "Maybe"]


def test_a_language_without_a_catalog_shows_english(caplog: pytest.LogCaptureFixture) -> None:
    assert Translator("fr").gettext("Welcome") == "Welcome"
    assert "no catalog" in caplog.text


INVITE = Invitation(
    "v-1", "Ana", None, "e-1", "Budi", VisitorType.GUEST, None, datetime(2026, 1, 1, tzinfo=UTC)
)
WALK = replace(INITIAL, mode=Mode.WALK_IN, name="Ada", host_name="Budi", visitor_type=VisitorType.GUEST)
SCREENS: list[Session] = [
    INITIAL,
    replace(INITIAL, step=Step.SCAN, mode=Mode.INVITED),
    replace(WALK, step=Step.NAME, error=Problem.NAME_REQUIRED),
    replace(WALK, step=Step.COMPANY, error=Problem.TOO_LONG),
    replace(WALK, step=Step.HOST, host_query="zz", hosts=(), error=Problem.PICK_HOST),
    replace(WALK, step=Step.HOST, host_query="zz", directory_down=True),
    replace(WALK, step=Step.HOST, host_query="bu", hosts=(Host("e-1", "Budi"),)),
    replace(WALK, step=Step.VISITOR_TYPE, error=Problem.UNKNOWN_TYPE),
    replace(WALK, step=Step.PHOTO, countdown=3),
    replace(WALK, step=Step.PHOTO, countdown=0),
    replace(WALK, step=Step.PHOTO, photo=Photo(b"x", 1, 1)),
    replace(WALK, step=Step.AGREEMENT, error=Problem.NOT_SIGNED),
    replace(WALK, step=Step.SUMMARY, agreement="guest-v1", error=Problem.FAILED),
    replace(INITIAL, step=Step.INVITATION, mode=Mode.INVITED, invitation=INVITE, name="Ana", host_name="Budi",
            visitor_type=VisitorType.GUEST),
    replace(INITIAL, step=Step.RETURNING, mode=Mode.RETURNING, query="ana",
            past=(PastVisitor("t", "A**", None, date(2026, 1, 1)),)),
    replace(INITIAL, step=Step.CHECK_OUT, mode=Mode.CHECK_OUT, query="zzz"),
    replace(INITIAL, step=Step.CHECK_OUT_CONFIRM, mode=Mode.CHECK_OUT, leaving=OnSiteVisit("v", "A**")),
    replace(WALK, step=Step.DONE, outcome=Outcome.PRINTED, host_id="e-1"),
    replace(WALK, step=Step.DONE, outcome=Outcome.PRINT_FAILED),
    replace(WALK, step=Step.SEAT, outcome=Outcome.REFERRED),
    replace(INITIAL, step=Step.GOODBYE, mode=Mode.CHECK_OUT),
]  # fmt: skip


def _words(session: Session) -> list[str]:
    view = render(session, agreement_text="")
    texts = [view.title, view.prompt, view.error, view.notice, view.message, view.progress, view.no_results]
    texts += [label for label, _ in view.summary] + [row.detail for row in view.results]
    texts += (
        list(view.buttons.values())
        + [c.label for c in view.visitor_types]
        + [c.hint for c in view.visitor_types]
    )
    return [t for t in texts if t]


@pytest.mark.parametrize("language", TRANSLATED)
@pytest.mark.parametrize("session", SCREENS, ids=[f"{s.step.value}-{n}" for n, s in enumerate(SCREENS)])
def test_every_screen_is_translated(language: str, session: Session) -> None:
    english = _words(session)
    translated = _words(replace(session, language=language))
    assert len(english) == len(translated) > 0
    assert [e for e, t in zip(english, translated, strict=True) if e == t] == []
