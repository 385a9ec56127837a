"""What the kiosk's screens show and the calls they make, with no toolkit imported.

`KioskViewModel` owns the walk-in flow state, words it for the screens, publishes the
check-in through an injected callable and resets itself after a period of no activity.
Time and visit ids are injected so tests drive it like a function.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from broker.schemas import VisitorCheckedIn, VisitorType
from kiosk import walkin
from kiosk.walkin import Intent, Problem, Step, WalkIn

log = logging.getLogger(__name__)

IDLE_TIMEOUT = 30.0
"""Seconds without a touch after which a half-finished check-in is wiped."""
DONE_TIMEOUT = 10.0
"""Seconds the 'you are checked in' screen stays before the kiosk is ready again."""

_ID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U


def new_visit_id() -> str:
    """A short random visit id, 10 characters of Crockford base32 (50 bits)."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(10))


@dataclass(slots=True, frozen=True)
class Choice:
    """One button of a choice step: the value sent back, its label and a hint line."""

    value: str
    label: str
    hint: str


VISITOR_TYPES: tuple[Choice, ...] = (
    Choice(VisitorType.GUEST, "Guest", "Here for a meeting"),
    Choice(VisitorType.CONTRACTOR, "Contractor", "Here to work on site"),
    Choice(VisitorType.DELIVERY, "Delivery", "Dropping off or collecting"),
    Choice(VisitorType.INTERVIEW, "Interview", "Here for a job interview"),
)
"""The visitor-type buttons, in the order they are shown."""

_TEXTS: dict[Step, tuple[str, str]] = {
    Step.WELCOME: ("Welcome", "Touch Check in to register your visit"),
    Step.NAME: ("What is your name?", "Your first and last name"),
    Step.COMPANY: ("Which company are you with?", "Leave empty or touch Skip if none"),
    Step.VISITOR_TYPE: ("Why are you visiting?", "Choose the one that fits best"),
    Step.HOST: ("Who are you visiting?", "The name of the person expecting you"),
    Step.CONFIRM: ("Is this right?", "Check your details, then touch Check in"),
    Step.DONE: ("Thank you", "You are checked in"),
}

_PROBLEMS: dict[Problem, str] = {
    Problem.NAME_REQUIRED: "Please type your name",
    Problem.HOST_REQUIRED: "Please type the name of the person you are visiting",
    Problem.TOO_LONG: f"That is too long: at most {walkin.MAX_TEXT} characters",
    Problem.UNKNOWN_TYPE: "Please choose one of the options",
    Problem.CHECK_IN_FAILED: "Sorry, that did not work. Please try again or ask at the desk",
}


class KioskViewModel:
    """The walk-in kiosk's state and texts; screens read its properties and call its methods."""

    def __init__(
        self,
        check_in: Callable[[VisitorCheckedIn], None],
        *,
        clock: Callable[[], float] = time.monotonic,
        new_id: Callable[[], str] = new_visit_id,
        idle_timeout: float = IDLE_TIMEOUT,
        done_timeout: float = DONE_TIMEOUT,
    ) -> None:
        """Publish finished check-ins through `check_in`; `clock` is monotonic seconds."""
        if idle_timeout <= 0 or done_timeout <= 0:
            raise ValueError("idle_timeout and done_timeout must be > 0 seconds")
        self._check_in = check_in
        self._clock = clock
        self._new_id = new_id
        self._idle_timeout = idle_timeout
        self._done_timeout = done_timeout
        self._state = walkin.INITIAL
        self._last_visit: VisitorCheckedIn | None = None
        self._last_activity = clock()
        self._listeners: list[Callable[[], None]] = []

    # what the screens read
    @property
    def state(self) -> WalkIn:
        """The current flow state."""
        return self._state

    @property
    def screen(self) -> str:
        """The name of the screen to show (the step's value)."""
        return self._state.step.value

    @property
    def title(self) -> str:
        """The big heading of the current screen."""
        return _TEXTS[self._state.step][0]

    @property
    def prompt(self) -> str:
        """The line under the heading."""
        return _TEXTS[self._state.step][1]

    @property
    def error(self) -> str:
        """What went wrong with the last touch, or an empty string."""
        return _PROBLEMS[self._state.error] if self._state.error else ""

    @property
    def progress(self) -> str:
        """'Step n of m' on the steps a visitor works through, else empty."""
        steps = walkin.STEPS_WITH_PROGRESS
        if self._state.step not in steps:
            return ""
        return f"Step {steps.index(self._state.step) + 1} of {len(steps)}"

    @property
    def field_text(self) -> str:
        """What the current text step's box should hold (so Back shows what was typed)."""
        match self._state.step:
            case Step.NAME:
                return self._state.name
            case Step.COMPANY:
                return self._state.company or ""
            case Step.HOST:
                return self._state.host
        return ""

    @property
    def choices(self) -> tuple[Choice, ...]:
        """The options of the visitor-type step."""
        return VISITOR_TYPES

    @property
    def summary(self) -> tuple[tuple[str, str], ...]:
        """(label, value) rows for the confirm screen."""
        s = self._state
        kind = next((c.label for c in VISITOR_TYPES if c.value == s.visitor_type), "")
        return (
            ("Name", s.name),
            ("Company", s.company or "-"),
            ("Visiting as", kind),
            ("Host", s.host),
        )

    @property
    def done_text(self) -> str:
        """The message of the done screen."""
        visit = self._last_visit
        if visit is None:
            return ""
        first = visit.visitor_name.split()[0]
        host = visit.host_name or "your host"
        return f"Welcome, {first}. Please take a seat; we are letting {host} know you are here."

    @property
    def last_visit(self) -> VisitorCheckedIn | None:
        """The check-in just sent, while the done screen shows; None otherwise."""
        return self._last_visit

    # what the screens call
    def listen(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback` after every change; returns a function that stops it."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback)

    def start(self) -> None:
        """The welcome screen was touched."""
        self.dispatch(walkin.Start())

    def enter(self, text: str) -> None:
        """Next was touched on a text step with `text` in the box."""
        self.dispatch(walkin.Enter(text))

    def choose(self, value: str) -> None:
        """An option button was touched."""
        self.dispatch(walkin.Choose(value))

    def skip(self) -> None:
        """Skip was touched on an optional step."""
        self.dispatch(walkin.Skip())

    def back(self) -> None:
        """Back was touched."""
        self.dispatch(walkin.Back())

    def confirm(self) -> None:
        """Check in (on confirm) or Done (on done) was touched."""
        self.dispatch(walkin.Confirm())

    def cancel(self) -> None:
        """Cancel was touched: forget everything."""
        self.dispatch(walkin.Cancel())

    def touch(self) -> None:
        """Any activity that is no intent (typing) keeps the idle timer from firing."""
        self._last_activity = self._clock()

    def tick(self) -> bool:
        """Call about once a second: start over after the idle timeout; True if it did."""
        if self._state.step is Step.WELCOME:
            return False
        limit = self._done_timeout if self._state.step is Step.DONE else self._idle_timeout
        if self._clock() - self._last_activity < limit:
            return False
        log.info("kiosk idle for %.0f s on %s; starting over", limit, self._state.step.value)
        self.dispatch(walkin.Timeout())
        return True

    def dispatch(self, intent: Intent) -> None:
        """Apply one intent; on the final confirmation, publish the check-in."""
        self._last_activity = self._clock()
        before = self._state
        after = walkin.next_step(before, intent)
        if before.step is Step.CONFIRM and after.step is Step.DONE:
            after = self._publish(before, after)
        if after.step is Step.WELCOME:
            self._last_visit = None
        self._state = after
        if after != before:
            for listener in list(self._listeners):
                listener()

    def _publish(self, before: WalkIn, after: WalkIn) -> WalkIn:
        visit_id = self._new_id()
        try:
            if after.visitor_type is None:  # the flow does not let this happen
                raise ValueError("no visitor type")
            visit = VisitorCheckedIn(
                visit_id=visit_id,
                visitor_name=after.name,
                visitor_type=after.visitor_type,
                company=after.company,
                host_name=after.host,
            )
            self._check_in(visit)
        except Exception:
            log.exception("check-in %s could not be sent", visit_id)
            return walkin.with_problem(before, Problem.CHECK_IN_FAILED)
        log.info("visitor checked in: visit %s", visit_id)
        self._last_visit = visit
        return after
