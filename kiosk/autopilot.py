"""Play a walk-in script through the kiosk's real widgets, and save PNGs of its screens.

The autopilot touches buttons with synthetic touches dispatched through the window (so a
covered or hidden button is a failure, as it would be for a person) and types into the
text boxes; it never calls the flow or the view-model directly.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kivy.base import EventLoop
from kivy.clock import Clock
from kivy.input.motionevent import MotionEvent
from kivy.uix.widget import Widget

from kiosk import walkin
from kiosk.walkin import Intent

log = logging.getLogger(__name__)

_touch_ids = itertools.count(1)


class ScriptError(RuntimeError):
    """A scripted step could not be played on the screen the kiosk was showing."""


class _Touch(MotionEvent):  # type: ignore[misc]
    """A finger put down and lifted at one point of the window."""

    def __init__(self, x: float, y: float) -> None:
        win = EventLoop.window
        args = {"x": x / max(1.0, win.width - 1.0), "y": y / max(1.0, win.height - 1.0)}
        super().__init__("autopilot", next(_touch_ids), args, is_touch=True, type_id="touch")
        self.profile = ["pos"]

    def depack(self, args: dict[str, float]) -> None:
        """Take the relative position from `args`."""
        self.sx, self.sy = args["x"], args["y"]
        super().depack(args)


def tap(widget: Widget, what: str) -> None:
    """Touch the middle of `widget` through the window; fail if it did not get the touch."""
    if widget.disabled or widget.opacity == 0 or widget.get_root_window() is None:
        raise ScriptError(f"cannot touch {what}: it is hidden or disabled")
    hits: list[bool] = []
    uid = widget.fbind("on_release", lambda *_: hits.append(True))
    x, y = widget.to_window(*widget.center)
    touch = _Touch(x, y)
    try:
        EventLoop.post_dispatch_input("begin", touch)
        EventLoop.post_dispatch_input("end", touch)
    finally:
        widget.unbind_uid("on_release", uid)
    if not hits:
        raise ScriptError(f"a touch at ({x:.0f}, {y:.0f}) did not reach {what}")


def _shoot(root: Widget, directory: Path, number: int, screen: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{number:02d}-{screen}.png"
    root.export_to_png(str(path))
    log.info("saved %s", path)
    return path


class Autopilot:
    """Plays intents on the kiosk's widgets one by one, then stops the app."""

    SETTLE_TIMEOUT = 5.0

    def __init__(
        self,
        app: Any,
        script: Sequence[Intent],
        *,
        screenshot_dir: Path | None = None,
        step_delay: float = 0.3,
    ) -> None:
        """`app` is a KioskApp; a PNG of each screen goes to `screenshot_dir` if given."""
        for intent in script:
            if isinstance(intent, walkin.Timeout):
                raise ScriptError("Timeout cannot be played on the screen; use the view-model")
        self._app = app
        self._script = list(script)
        self._dir = screenshot_dir
        self._delay = max(0.05, step_delay)
        self._next = 0
        self._waited = 0.0
        self._frame_mark = 0
        self._typed = False
        self.shots: list[Path] = []
        """The PNGs saved, in order."""
        self.failure: BaseException | None = None
        """What stopped the script early, if anything."""

    def begin(self) -> None:
        """Start playing once the app runs."""
        Clock.schedule_once(self._step, self._delay)

    def _step(self, _dt: float) -> None:
        try:
            if not self._settled():
                self._waited += 0.05
                if self._waited > self.SETTLE_TIMEOUT:
                    raise ScriptError("the screen did not settle (transition or layout)")
                Clock.schedule_once(self._step, 0.05)
                return
            self._waited = 0.0
            screen = self._app.manager.current_screen
            pending = self._script[self._next] if self._next < len(self._script) else None
            if isinstance(pending, walkin.Enter) and not self._typed:
                self._type(pending.text, screen)  # typed text shows in the screenshot
                self._typed = True
                self._frame_mark = Clock.frames_displayed
                Clock.schedule_once(self._step, 0.05)
                return
            self._typed = False
            if self._dir is not None:
                number = len(self.shots) + 1
                self.shots.append(_shoot(self._app.root, self._dir, number, screen.name))
            if self._next >= len(self._script):
                self._app.stop()
                return
            intent = self._script[self._next]
            self._next += 1
            log.info("autopilot: %s on %s", intent, screen.name)
            self._play(intent, screen)
            self._frame_mark = Clock.frames_displayed
            Clock.schedule_once(self._step, self._delay)
        except Exception as exc:
            log.exception("autopilot stopped")
            self.failure = exc
            self._app.stop()

    def _settled(self) -> bool:
        """No transition running, and two frames drawn since the last touch (layout done)."""
        if self._app.manager.transition.is_active:
            return False
        return bool(Clock.frames_displayed >= self._frame_mark + 2)

    def _play(self, intent: Intent, screen: Any) -> None:
        ids = screen.ids
        where = f"screen {screen.name!r}"
        match intent:
            case walkin.Start():
                tap(self._need(ids, "start", intent, where), "Check in")
            case walkin.Enter():
                tap(self._need(ids, "next", intent, where), "Next")
            case walkin.Choose(value=value):
                options = self._need(ids, "options", intent, where).children
                button = next((b for b in options if getattr(b, "value", None) == value), None)
                if button is None:
                    raise ScriptError(f"no option {value!r} on {where}")
                tap(button, f"option {value!r}")
            case walkin.Skip():
                tap(self._need(ids, "skip", intent, where), "Skip")
            case walkin.Back():
                tap(self._need(ids, "back", intent, where), "Back")
            case walkin.Confirm():
                button = ids.get("confirm") or ids.get("finish")
                if button is None:
                    raise ScriptError(f"nothing to confirm on {where}")
                tap(button, "Check in" if "confirm" in ids else "Done")
            case walkin.Cancel():
                tap(self._app.root.ids.cancel, "Cancel")

    def _type(self, text: str, screen: Any) -> None:
        field = self._need(screen.ids, "field", walkin.Enter(text), f"screen {screen.name!r}")
        field.text = ""
        field.insert_text(text)

    @staticmethod
    def _need(ids: Any, name: str, intent: Intent, where: str) -> Any:
        widget = ids.get(name)
        if widget is None:
            raise ScriptError(f"{intent} cannot be played on {where}")
        return widget


class ScreenRecorder:
    """Saves a PNG of each screen the kiosk shows while a person uses it."""

    def __init__(self, app: Any, screenshot_dir: Path) -> None:
        """`app` is a KioskApp; PNGs go to `screenshot_dir` as NN-<screen>.png."""
        self._app = app
        self._dir = screenshot_dir
        self._mark = 0
        self.shots: list[Path] = []
        """The PNGs saved, in order."""

    def begin(self) -> None:
        """Save the first screen and follow every screen change."""
        self._app.manager.transition.bind(on_complete=lambda *_: self._later())
        self._later()

    def _later(self) -> None:
        self._mark = Clock.frames_displayed
        Clock.schedule_once(self._save, 0.05)

    def _save(self, _dt: float) -> None:
        busy = self._app.manager.transition.is_active
        if busy or Clock.frames_displayed < self._mark + 2:  # let the layout finish first
            Clock.schedule_once(self._save, 0.05)
            return
        name = self._app.manager.current
        self.shots.append(_shoot(self._app.root, self._dir, len(self.shots) + 1, name))
