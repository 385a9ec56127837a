"""What one screen shows, in the visitor's language: `render(session) -> View` (pure).

A `View` is everything a Kivy screen copies into its widgets; it is rebuilt after every change,
so a screen never computes or translates anything itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from kiosk.flow import machine as flow
from kiosk.flow import texts as t
from kiosk.flow.state import FINAL_STEPS, RATINGS, Outcome, Session, Step
from kiosk.flow.values import Stroke, is_signed
from kiosk.i18n import LANGUAGE_NAMES, LANGUAGES, Translator, translator
from kiosk.ports import Photo

HOST_SEARCH_FROM = 2
"""Letters typed before the directory is asked."""
PEOPLE_SEARCH_FROM = 3
"""Letters typed before past visitors or on-site visits are searched."""


@dataclass(slots=True, frozen=True)
class Row:
    """One line of a result list (hosts, past visitors, on-site visits); touch it with `pick(key)`."""

    key: str
    label: str
    detail: str


@dataclass(slots=True, frozen=True)
class View:
    """Everything the current screen shows; empty strings and tuples where a screen has nothing."""

    screen: str
    """The screen to show: a `Step` value."""
    language: str
    large_text: bool
    """Large text and high contrast, as the visitor asked."""
    title: str
    prompt: str
    error: str
    """What was wrong with the last touch."""
    notice: str
    """A friendly note for this screen (a code not found, no camera...)."""
    message: str
    """The longer text of the done and invitation screens."""
    progress: str
    """'Step n of m' while checking in."""
    can_back: bool
    """Back and Cancel are shown."""
    field_text: str
    """What the text box holds when the screen opens (so Back shows what was typed)."""
    host_free_text: bool
    """The directory is unreachable: the host's name is typed in full and Next touched."""
    results: tuple[Row, ...]
    no_results: str
    """'No one found' after a search long enough found nothing."""
    countdown: int | None
    """3, 2, 1 while counting down, 0 while the picture is taken."""
    capture_requested: bool
    """The camera should take the picture now (then call `photo_taken`)."""
    photo: Photo | None
    agreement_text: str
    strokes: tuple[Stroke, ...]
    """The signature so far (0..1, y from the bottom), to draw it."""
    can_accept: bool
    summary: tuple[tuple[str, str], ...]
    """(label, value) rows of the summary, invitation and check-out screens."""
    buttons: Mapping[t.Button, str] = field(default_factory=dict)
    """The text of every button."""
    visitor_types: tuple[t.Choice, ...] = ()
    """The visitor-type buttons, translated."""
    languages: tuple[tuple[str, str], ...] = tuple((code, LANGUAGE_NAMES[code]) for code in LANGUAGES)
    """(code, the language's name in itself) of every language button."""
    ratings: tuple[tuple[int, str], ...] = ()
    """(rating, its word) of the feedback step's five faces, very unhappy first; empty elsewhere."""
    comment_hint: str = ""
    """The feedback step's comment box hint; empty elsewhere."""


def render(s: Session, *, agreement_text: str = "") -> View:
    """The view of session `s`; `agreement_text` is the agreement the adapter gave (agreement step)."""
    tr = translator(s.language)
    g = tr.gettext
    photo_step = s.step is Step.PHOTO
    return View(
        screen=s.step.value, language=s.language, large_text=s.large_text, title=g(t.TITLES[s.step][0]),
        prompt=_prompt(s, tr), error=g(t.PROBLEMS[s.error]) if s.error else "",
        notice=g(t.NOTICES[s.notice]) if s.notice else "", message=_message(s, tr),
        progress=_progress(s, tr), can_back=s.step not in (Step.WELCOME, Step.FEEDBACK, *FINAL_STEPS),
        field_text=_field_text(s), host_free_text=s.directory_down, results=_results(s, tr),
        no_results=_no_results(s, tr), countdown=s.countdown if photo_step else None,
        capture_requested=photo_step and s.countdown == 0, photo=s.photo,
        agreement_text=agreement_text if s.step is Step.AGREEMENT else "", strokes=s.strokes,
        can_accept=is_signed(s.strokes), summary=_summary(s, tr),
        buttons={button: g(text) for button, text in t.BUTTONS.items()},
        visitor_types=tuple(t.Choice(c.value, g(c.label), g(c.hint)) for c in t.VISITOR_TYPES),
        ratings=tuple((r, g(t.RATING_LABELS[r])) for r in RATINGS) if s.step is Step.FEEDBACK else (),
        comment_hint=g(t.COMMENT_HINT) if s.step is Step.FEEDBACK else "",
    )  # fmt: skip


def closes_in(language: str, seconds: int) -> str:
    """'This screen closes in n seconds', in `language`."""
    return translator(language).ngettext(*t.CLOSES_IN, seconds) % {"n": seconds}


def _prompt(s: Session, tr: Translator) -> str:
    if s.step is Step.HOST and s.directory_down:
        return tr.gettext(t.HOST_FREE_TEXT)
    if s.step is Step.PHOTO and s.photo is not None:
        return tr.gettext(t.PHOTO_TAKEN)
    if s.step is Step.PHOTO and s.countdown == 0:
        return tr.gettext(t.PHOTO_SMILE)
    return tr.gettext(t.TITLES[s.step][1])


def _message(s: Session, tr: Translator) -> str:
    if s.step is Step.INVITATION:
        return tr.gettext(t.HOST_WILL_BE_TOLD)
    if s.step is not Step.DONE:
        return ""
    if s.outcome is Outcome.PRINTED:
        return tr.gettext(t.PRINTED if s.host_id else t.PRINTED_NO_HOST_ID)
    return tr.gettext(t.PRINT_FAILED)


def _progress(s: Session, tr: Translator) -> str:
    steps = flow.progress_steps(s)
    if s.step not in steps:
        return ""
    return tr.gettext(t.PROGRESS) % {"n": steps.index(s.step) + 1, "total": len(steps)}


def _field_text(s: Session) -> str:
    values = {Step.NAME: s.name, Step.COMPANY: s.company or "", Step.HOST: s.host_query}
    values |= {Step.RETURNING: s.query, Step.CHECK_OUT: s.query}
    return values.get(s.step, "")


def _results(s: Session, tr: Translator) -> tuple[Row, ...]:
    if s.step is Step.HOST:
        return tuple(Row(h.id, h.name, h.department or "") for h in s.hosts)
    if s.step is Step.RETURNING:
        last = tr.gettext(t.LAST_VISIT)
        rows = []
        for p in s.past:
            when = last % {"date": p.last_visit_date.isoformat()}
            detail = f"{p.masked_company} · {when}" if p.masked_company else when
            rows.append(Row(p.token, p.masked_name, detail))
        return tuple(rows)
    if s.step is Step.CHECK_OUT:
        return tuple(Row(v.visit_id, v.masked_name, "") for v in s.on_site)
    return ()


def _no_results(s: Session, tr: Translator) -> str:
    searched: dict[Step, tuple[str, int, int]] = {
        Step.HOST: (s.host_query, len(s.hosts), HOST_SEARCH_FROM),
        Step.RETURNING: (s.query, len(s.past), PEOPLE_SEARCH_FROM),
        Step.CHECK_OUT: (s.query, len(s.on_site), PEOPLE_SEARCH_FROM),
    }
    query, found, least = searched.get(s.step, ("", 0, 1))
    empty = len(query) >= least and not found and not s.directory_down
    return tr.gettext(t.NO_RESULTS) if empty else ""


def _summary(s: Session, tr: Translator) -> tuple[tuple[str, str], ...]:
    f, g = t.FIELDS, tr.gettext
    if s.step is Step.CHECK_OUT_CONFIRM and s.leaving is not None:
        return ((g(f[t.Field.NAME]), s.leaving.masked_name),)
    if s.step not in (Step.SUMMARY, Step.INVITATION):
        return ()
    kind = next((g(c.label) for c in t.VISITOR_TYPES if c.value == s.visitor_type), "")
    name, company = s.name, s.company or "-"
    if s.returning is not None:  # the entry picked may be someone else's: keep it masked
        name, company = s.returning.masked_name, s.returning.masked_company or "-"
    rows = [(f[t.Field.NAME], name), (f[t.Field.COMPANY], company), (f[t.Field.HOST], s.host_name)]
    rows.append((f[t.Field.VISITOR_TYPE], kind))
    if s.step is Step.INVITATION and s.invitation is not None:
        rows.append((f[t.Field.EXPECTED], s.invitation.expected_at.strftime("%H:%M")))
    elif s.camera:
        rows.append((f[t.Field.PHOTO], g(t.PHOTO_YES if s.photo else t.PHOTO_NO)))
    return tuple((g(label), value) for label, value in rows)
