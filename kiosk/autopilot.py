"""Play a visitor through the kiosk's real widgets with simulated touches, and save PNGs of screens.

A script is a generator run by `Pilot` on the Kivy clock: between two steps the pilot waits until
two frames were drawn (the layout settled), or until what the step waits for (`Until`) is true.
Touches go through the window (`WindowTouch`, a MotionEvent posted to Kivy's event loop), so a
hidden, covered or disabled button is a failure, as it would be for a person; typing is done on
the on-screen keyboard's keys.
The visitor scripts never call the view-model; the screenshot tour (`kiosk.tour`) does.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kivy.base import EventLoop
from kivy.clock import Clock
from kivy.input.motionevent import MotionEvent
from kivy.uix.widget import Widget

from broker.private import private_dir

log = logging.getLogger(__name__)

SETTLE_FRAMES = 2
"""Frames drawn after a step before the next one (the layout has settled)."""


class ScriptError(RuntimeError):
    """A scripted step could not be played on the screen the kiosk showed."""


@dataclass(slots=True, frozen=True)
class Until:
    """Yielded by a script: wait until `ready()` is true (at most `timeout` seconds)."""

    ready: Callable[[], bool]
    what: str
    timeout: float = 10.0


Script = Iterator[Until | None]
"""A script: each `yield` lets the screen settle (None) or waits for something (`Until`)."""


class WindowTouch(MotionEvent):  # type: ignore[misc]  # Kivy has no type hints
    """One finger on the window, posted to Kivy's event loop as a real touch would be.

    The shape of `kivy.tests.common.UnitTestTouch`, which cannot be used outside the tests:
    that module imports pytest, a dev extra.
    """

    _next_id = 0

    def __init__(self, x: float, y: float) -> None:
        """A touch at window coordinates (`x`, `y`), not yet down."""
        WindowTouch._next_id += 1
        super().__init__("autopilot", WindowTouch._next_id, self._ratio(x, y), is_touch=True, type_id="touch")
        self.profile = ["pos"]

    @staticmethod
    def _ratio(x: float, y: float) -> dict[str, float]:
        window = EventLoop.window
        return {"x": x / (window.width - 1.0), "y": y / (window.height - 1.0)}

    def depack(self, args: dict[str, float]) -> None:
        """Take the position as a fraction of the window."""
        self.sx = args["x"]
        self.sy = args["y"]
        super().depack(args)

    def touch_down(self) -> None:
        """Put the finger down."""
        EventLoop.post_dispatch_input("begin", self)

    def touch_move(self, x: float, y: float) -> None:
        """Slide the finger to window coordinates (`x`, `y`)."""
        self.move(self._ratio(x, y))
        EventLoop.post_dispatch_input("update", self)

    def touch_up(self) -> None:
        """Lift the finger."""
        EventLoop.post_dispatch_input("end", self)


def tap(widget: Widget, what: str) -> None:
    """Touch the middle of `widget` through the window; fail if it was not reached."""
    if widget.disabled or widget.opacity == 0 or widget.get_root_window() is None:
        raise ScriptError(f"cannot touch {what}: it is hidden or disabled")
    hits: list[bool] = []
    uid = widget.fbind("on_release", lambda *_a: hits.append(True))
    x, y = widget.to_window(*widget.center)
    touch = WindowTouch(x, y)
    try:
        touch.touch_down()
        touch.touch_up()
    finally:
        widget.unbind_uid("on_release", uid)
    if not hits:
        raise ScriptError(f"a touch at ({x:.0f}, {y:.0f}) did not reach {what}")


def type_text(keyboard: Any, text: str) -> None:
    """Type `text` on an `OnScreenKeyboard`, one key touch per character."""
    for char in text:
        value = " " if char == " " else char.upper()
        key = keyboard.keys.get(value)
        if key is None:
            raise ScriptError(f"the on-screen keyboard has no key for {char!r}")
        tap(key, f"key {value!r}")


SIGNATURE = ((0.1, 0.45), (0.25, 0.7), (0.4, 0.3), (0.55, 0.65), (0.7, 0.35), (0.9, 0.55))
"""A finger stroke long enough to count as a signature (0..1 of the pad, y up)."""


def sign(pad: Widget, strokes: tuple[tuple[tuple[float, float], ...], ...] = (SIGNATURE,)) -> None:
    """Draw finger strokes (points 0..1 of the pad, y up) on a `SignaturePad` through the window."""
    for stroke in strokes:
        points = [pad.to_window(pad.x + x * pad.width, pad.y + y * pad.height) for x, y in stroke]
        touch = WindowTouch(*points[0])
        touch.touch_down()
        for x, y in points[1:]:
            touch.touch_move(x, y)
        touch.touch_up()


class Shooter:
    """Saves `NN-<name>.png` files of the window's content into a folder, numbered in order."""

    def __init__(
        self, root: Widget, folder: Path | None, *, on_shot: Callable[[Path], object] | None = None
    ) -> None:
        """Save `root` into `folder` (None: save nothing); call `on_shot` with each file saved."""
        self._root = root
        self.folder = folder
        self._on_shot = on_shot
        self.shots: list[Path] = []

    def __call__(self, name: str) -> Path | None:
        """Save the next picture as `NN-<name>.png`."""
        if self.folder is None:
            return None
        private_dir(self.folder)  # screens show visitors' names and photos
        path = self.folder / f"{len(self.shots) + 1:02d}-{name}.png"
        self._root.export_to_png(str(path))
        self.shots.append(path)
        log.info("saved %s", path)
        if self._on_shot is not None:
            self._on_shot(path)
        return path


class Pilot:
    """Runs a script on the Kivy clock, then stops the app; `failure` holds what stopped it early."""

    POLL_S = 0.02

    def __init__(self, app: Any, script: Script | None = None, *, step_delay: float = 0.0) -> None:
        """`app` is a KioskApp; `step_delay` seconds pass between steps (to watch it)."""
        self._app = app
        self._script: Script = script if script is not None else iter(())
        self._delay = step_delay
        self._waiting: Until | None = None
        self._deadline = 0.0
        self._mark = 0
        self.failure: BaseException | None = None
        self.finished = False

    def begin(self, script: Script | None = None) -> None:
        """Start once the app runs (with `script`, if it could only be made then)."""
        if script is not None:
            self._script = script
        self._mark = Clock.frames_displayed
        Clock.schedule_once(self._step, self.POLL_S)

    def _step(self, _dt: float) -> None:
        try:
            if Clock.frames_displayed < self._mark + SETTLE_FRAMES:
                Clock.schedule_once(self._step, self.POLL_S)
                return
            if self._waiting is not None:
                if not self._waiting.ready():
                    if time.monotonic() > self._deadline:
                        raise ScriptError(f"gave up waiting for {self._waiting.what} "
                                          f"(screen {self._app.manager.current!r})")
                    Clock.schedule_once(self._step, self.POLL_S)
                    return
                self._waiting = None
                self._mark = Clock.frames_displayed  # let what it waited for be drawn
                Clock.schedule_once(self._step, self.POLL_S)
                return
            try:
                wait = next(self._script)
            except StopIteration:
                self.finished = True
                self._app.stop()
                return
            if wait is not None:
                self._waiting, self._deadline = wait, time.monotonic() + wait.timeout
            self._mark = Clock.frames_displayed
            Clock.schedule_once(self._step, self._delay if wait is None else self.POLL_S)
        except Exception as exc:
            log.exception("autopilot stopped")
            self.failure = exc
            self._app.stop()


def on_screen(app: Any, name: str, timeout: float = 10.0) -> Until:
    """Wait until the kiosk shows screen `name`."""
    return Until(lambda: app.manager.current == name, f"screen {name!r}", timeout)


def screen_ids(app: Any, name: str) -> Any:
    """The ids of screen `name`."""
    return app.manager.get_screen(name).ids


def result_row(app: Any, screen: str, label: str) -> Widget:
    """The result row of `screen` whose label is `label`."""
    rows = screen_ids(app, screen).results.children
    found = next((row for row in rows if row.label == label), None)
    if found is None:
        raise ScriptError(f"no result {label!r} on screen {screen!r}: {[r.label for r in rows]}")
    return found


def walk_in(app: Any, shoot: Shooter, *, name: str = "Ada Lovelace", company: str = "Analytical Engines",
            host_prefix: str = "Gr", host: str = "Grace Hopper", visitor_type: str = "contractor") -> Script:
    """A first-time visitor checks in: Check in, name, company, host, type, photo, signature, confirm."""
    yield on_screen(app, "welcome")
    shoot("welcome")
    tap(screen_ids(app, "welcome").walk_in, "Check in")
    yield on_screen(app, "name")
    ids = screen_ids(app, "name")
    type_text(ids.keyboard, name)
    yield None
    shoot("name")
    tap(ids.next, "Next")
    yield on_screen(app, "company")
    ids = screen_ids(app, "company")
    type_text(ids.keyboard, company)
    yield None
    shoot("company")
    tap(ids.next, "Next")
    yield on_screen(app, "host")
    type_text(screen_ids(app, "host").keyboard, host_prefix)
    yield Until(lambda: bool(screen_ids(app, "host").results.children), "hosts found")
    shoot("host")
    tap(result_row(app, "host", host), host)
    yield on_screen(app, "visitor_type")
    shoot("visitor_type")
    choices = screen_ids(app, "visitor_type").choices.children
    choice = next((b for b in choices if b.value == visitor_type), None)
    if choice is None:
        raise ScriptError(f"no visitor type {visitor_type!r}")
    tap(choice, visitor_type)
    yield Until(lambda: app.manager.current == "agreement" or app.vm.view.photo is not None,
                "the photo (or no camera)", 15)
    if app.manager.current == "photo":
        yield None
        shoot("photo")
        tap(screen_ids(app, "photo").use_photo, "Use photo")
    yield on_screen(app, "agreement")
    sign(screen_ids(app, "agreement").pad)
    yield Until(lambda: not screen_ids(app, "agreement").accept.disabled, "Accept enabled")
    shoot("agreement")
    tap(screen_ids(app, "agreement").accept, "Accept")
    yield on_screen(app, "summary")
    shoot("summary")
    tap(screen_ids(app, "summary").confirm, "Check in")
    yield on_screen(app, "done", 20)
    shoot("done")


def invited(app: Any, shoot: Shooter, *, scan_timeout: float = 30.0) -> Script:
    """An invited visitor: the QR code is read (by a device), then Confirm and Done."""
    yield Until(lambda: app.manager.current in ("welcome", "invitation"), "the welcome screen")
    shoot(app.manager.current)  # the code may have been read already
    yield on_screen(app, "invitation", scan_timeout)
    shoot("invitation")
    tap(screen_ids(app, "invitation").confirm, "Confirm")
    yield on_screen(app, "done", 20)
    shoot("done")
    tap(screen_ids(app, "done").done, "Done")
    yield on_screen(app, "welcome")


class ManualClock:
    """Monotonic seconds that move only when told (the tour's photo countdown needs no waiting)."""

    def __init__(self) -> None:
        """Start at 1000 s."""
        self.now = 1000.0

    def __call__(self) -> float:
        """The time."""
        return self.now


def tour(app: Any, clock: ManualClock, folder: Path, languages: tuple[str, ...], large: str,
         *, on_shot: Callable[[Path], object] | None = None) -> Script:
    """Every screen in every language (and in large text for `large`): `folder/<lang>/NN-<step>.png`.

    Drives the view-model directly (it is no visitor): the app must run on the demo adapters
    (`kiosk.demo_ports`) and a view-model on `clock`. `on_shot` is called after each picture.
    """
    for label, language in (*((code, code) for code in languages), (f"{large}-large", large)):
        shoot = Shooter(app.root, folder / label, on_shot=on_shot)
        page = _Tour(app, clock, shoot, language, label.endswith("-large"))
        for part in (page.walk_in, page.invitation, page.returning_and_check_out, page.seat, page.notice):
            yield from part()
    clock.now += 60
    app.vm.tick()  # idle: back to a fresh welcome screen in the default language
    yield None


class _Tour:
    """The screenshot tour's parts for one language."""

    def __init__(self, app: Any, clock: ManualClock, shoot: Shooter, language: str, large: bool) -> None:
        self.app, self.vm, self.clock, self.shoot = app, app.vm, clock, shoot
        self.language, self.large = language, large

    def begin(self) -> None:
        """On a fresh welcome screen: choose the language (and large text)."""
        self.vm.choose_language(self.language)
        if self.large and not self.vm.view.large_text:
            self.vm.toggle_large_text()

    def type_in(self, screen: str, text: str) -> None:
        """Put `text` in the box of `screen` (as if typed)."""
        screen_ids(self.app, screen).field.text = text

    def countdown(self) -> Until:
        """Run the photo countdown; wait for the picture."""
        for _second in range(3):
            self.clock.now += 1
            self.vm.tick()
        return Until(lambda: self.vm.view.photo is not None, "the photo")

    def walk_in(self) -> Script:
        """Welcome, scan, and a walk-in from name to done (an error shown on the name step)."""
        vm, shoot = self.vm, self.shoot
        self.begin()
        yield None
        shoot("welcome")
        vm.start("invited")
        yield None
        shoot("scan")
        vm.cancel()
        vm.start("walk_in")
        vm.enter("")  # the error line shows too
        self.type_in("name", "Ada Lovelace")
        yield None
        shoot("name")
        vm.enter("Ada Lovelace")
        self.type_in("company", "Analytical Engines")
        yield None
        shoot("company")
        vm.enter("Analytical Engines")
        self.type_in("host", "Gr")
        yield Until(lambda: bool(vm.view.results), "hosts found")
        shoot("host")
        vm.pick("e-1001")
        yield None
        shoot("visitor_type")
        vm.choose("contractor")
        yield Until(lambda: self.app.manager.current_screen.ids.picture.texture is not None, "a preview")
        shoot("photo")
        yield self.countdown()
        shoot("photo")
        vm.use_photo()
        vm.add_stroke(SIGNATURE)
        yield None
        shoot("agreement")
        vm.accept()
        yield None
        shoot("summary")
        vm.confirm()
        yield None
        shoot("done")
        vm.done()

    def invitation(self) -> Script:
        """The invitation scanned, confirmed."""
        self.begin()
        self.vm.scanned("GH1:DEMO-INVITE-1:demo-secret-0001")
        yield None
        self.shoot("invitation")
        self.vm.confirm()
        self.vm.done()

    def returning_and_check_out(self) -> Script:
        """The returning visitor's search; a check-out by name, a comment and a face, to goodbye."""
        vm, shoot = self.vm, self.shoot
        self.begin()
        vm.start("returning")
        self.type_in("returning", "Ana")
        yield Until(lambda: bool(vm.view.results), "past visitors found")
        shoot("returning")
        vm.cancel()
        vm.start("check_out")
        self.type_in("check_out", "Jan")
        yield Until(lambda: bool(vm.view.results), "visits found")
        shoot("check_out")
        vm.pick(vm.view.results[0].key)
        yield None
        shoot("check_out_confirm")
        vm.confirm()
        yield on_screen(self.app, "feedback")
        self.type_in("feedback", "Ok")
        yield None
        shoot("feedback")
        faces = screen_ids(self.app, "feedback").faces.children
        tap(next(face for face in faces if face.rating == 4), "the fourth face")
        yield on_screen(self.app, "goodbye")
        shoot("goodbye")
        vm.done()

    def seat(self) -> Script:
        """A walk-in the watchlist matches: the neutral seat screen."""
        vm = self.vm
        self.begin()
        vm.start("walk_in")
        vm.enter("Eve Mallory")
        vm.skip()
        vm.search("Gr")
        vm.pick("e-1001")
        vm.choose("guest")
        yield self.countdown()
        vm.use_photo()
        vm.add_stroke(SIGNATURE)
        vm.accept()
        vm.confirm()
        yield None
        self.shoot("seat")
        vm.done()

    def notice(self) -> Script:
        """An unknown invitation: the welcome screen's notice."""
        self.begin()
        self.vm.scanned("GH1:UNKNOWN-1:not-an-invitation")
        yield None
        self.shoot("welcome")
        self.vm.cancel()
