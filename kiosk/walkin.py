"""The walk-in check-in flow as a pure state machine: `next_step(state, intent) -> state`.

welcome → name → company (optional) → visitor type → host → confirm → done.
No toolkit is imported here; a front end renders `WalkIn.step` and turns touches into intents.
Validation problems come back as data (`WalkIn.error`), never as exceptions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum

from broker.schemas import VisitorType

MAX_TEXT = 100
"""Longest name, company or host a visitor may type (the contract allows 200)."""


class Step(StrEnum):
    """One screen of the walk-in flow, in order."""

    WELCOME = "welcome"
    NAME = "name"
    COMPANY = "company"
    VISITOR_TYPE = "visitor_type"
    HOST = "host"
    CONFIRM = "confirm"
    DONE = "done"


class Problem(StrEnum):
    """Why the last intent did not move the flow on; the view-model words it."""

    NAME_REQUIRED = "name_required"
    HOST_REQUIRED = "host_required"
    TOO_LONG = "too_long"
    UNKNOWN_TYPE = "unknown_type"
    CHECK_IN_FAILED = "check_in_failed"


# intents: what the visitor (or the idle timer) did
@dataclass(slots=True, frozen=True)
class Start:
    """Touch on the welcome screen: begin a check-in."""


@dataclass(slots=True, frozen=True)
class Enter:
    """Text typed on a text step and submitted with Next."""

    text: str


@dataclass(slots=True, frozen=True)
class Choose:
    """One of several options picked (the visitor type)."""

    value: str


@dataclass(slots=True, frozen=True)
class Skip:
    """Leave an optional step empty."""


@dataclass(slots=True, frozen=True)
class Back:
    """Go to the previous step, keeping what was typed."""


@dataclass(slots=True, frozen=True)
class Confirm:
    """Accept the summary (on confirm) or finish (on done)."""


@dataclass(slots=True, frozen=True)
class Cancel:
    """Abandon the check-in; everything typed is forgotten."""


@dataclass(slots=True, frozen=True)
class Timeout:
    """Nobody touched the kiosk for a while; start over."""


Intent = Start | Enter | Choose | Skip | Back | Confirm | Cancel | Timeout
"""Everything that can move the flow."""


@dataclass(slots=True, frozen=True)
class WalkIn:
    """The state of one walk-in check-in; immutable, replaced on every step."""

    step: Step = Step.WELCOME
    name: str = ""
    company: str | None = None
    visitor_type: VisitorType | None = None
    host: str = ""
    error: Problem | None = None

    @property
    def complete(self) -> bool:
        """True once everything a check-in needs has been given."""
        return bool(self.name) and self.visitor_type is not None and bool(self.host)


INITIAL = WalkIn()
"""The welcome screen with every field empty."""

_PREVIOUS: dict[Step, Step] = {
    Step.NAME: Step.WELCOME,
    Step.COMPANY: Step.NAME,
    Step.VISITOR_TYPE: Step.COMPANY,
    Step.HOST: Step.VISITOR_TYPE,
    Step.CONFIRM: Step.HOST,
}

STEPS_WITH_PROGRESS: tuple[Step, ...] = (
    Step.NAME,
    Step.COMPANY,
    Step.VISITOR_TYPE,
    Step.HOST,
    Step.CONFIRM,
)
"""The steps a visitor works through, for an 'n of m' indicator."""

DEMO_SCRIPT: tuple[Intent, ...] = (
    Start(),
    Enter(""),
    Enter("Ada Lovelace"),
    Enter("Analytical Engines Ltd"),
    Choose("contractor"),
    Enter("Grace Hopper"),
    Confirm(),
)
"""A whole walk-in, including one refused (empty) name, for demos and screenshots."""


def next_step(state: WalkIn, intent: Intent) -> WalkIn:
    """The state after `intent`; an intent that makes no sense on this step changes nothing."""
    if isinstance(intent, Cancel | Timeout):
        return INITIAL
    if isinstance(intent, Back):
        return _back(state)
    return _ON_STEP[state.step](state, intent)


def with_problem(state: WalkIn, problem: Problem) -> WalkIn:
    """The same state showing `problem` (e.g. the check-in could not be sent)."""
    return replace(state, error=problem)


def clean(text: str) -> str:
    """Typed text as stored: surrounding blanks removed, inner runs of blanks made one space."""
    return " ".join(text.split())


def _back(state: WalkIn) -> WalkIn:
    previous = _PREVIOUS.get(state.step)
    if previous is None:
        return state
    return INITIAL if previous is Step.WELCOME else replace(state, step=previous, error=None)


def _on_welcome(state: WalkIn, intent: Intent) -> WalkIn:
    return replace(INITIAL, step=Step.NAME) if isinstance(intent, Start) else state


def _on_name(state: WalkIn, intent: Intent) -> WalkIn:
    if not isinstance(intent, Enter):
        return state
    name = clean(intent.text)
    if not name:
        return replace(state, name="", error=Problem.NAME_REQUIRED)
    if len(name) > MAX_TEXT:
        return replace(state, error=Problem.TOO_LONG)
    return replace(state, step=Step.COMPANY, name=name, error=None)


def _on_company(state: WalkIn, intent: Intent) -> WalkIn:
    if isinstance(intent, Skip):
        return replace(state, step=Step.VISITOR_TYPE, company=None, error=None)
    if not isinstance(intent, Enter):
        return state
    company = clean(intent.text)
    if len(company) > MAX_TEXT:
        return replace(state, error=Problem.TOO_LONG)
    return replace(state, step=Step.VISITOR_TYPE, company=company or None, error=None)


def _on_visitor_type(state: WalkIn, intent: Intent) -> WalkIn:
    if not isinstance(intent, Choose):
        return state
    try:
        chosen = VisitorType(intent.value)
    except ValueError:
        return replace(state, error=Problem.UNKNOWN_TYPE)
    return replace(state, step=Step.HOST, visitor_type=chosen, error=None)


def _on_host(state: WalkIn, intent: Intent) -> WalkIn:
    if not isinstance(intent, Enter):
        return state
    host = clean(intent.text)
    if not host:
        return replace(state, host="", error=Problem.HOST_REQUIRED)
    if len(host) > MAX_TEXT:
        return replace(state, error=Problem.TOO_LONG)
    return replace(state, step=Step.CONFIRM, host=host, error=None)


def _on_confirm(state: WalkIn, intent: Intent) -> WalkIn:
    if isinstance(intent, Confirm) and state.complete:
        return replace(state, step=Step.DONE, error=None)
    return state


def _on_done(state: WalkIn, intent: Intent) -> WalkIn:
    return INITIAL if isinstance(intent, Confirm | Start) else state


_ON_STEP: dict[Step, Callable[[WalkIn, Intent], WalkIn]] = {
    Step.WELCOME: _on_welcome,
    Step.NAME: _on_name,
    Step.COMPANY: _on_company,
    Step.VISITOR_TYPE: _on_visitor_type,
    Step.HOST: _on_host,
    Step.CONFIRM: _on_confirm,
    Step.DONE: _on_done,
}
