"""The kiosk's Kivy front end: one thin screen per `Step` over `KioskViewModel`.

Screens copy `vm.view` into widgets and call one view-model method per touch; the look is in
`screens.kv` and every word comes from the view. `KioskApp.post_code` may be called from any
thread (the scanner's, the camera's QR reader), and `on_ui_thread` from the workers (the printer's
reports for `vm.print_finished`, the look-ups' and the records' answers, see `kiosk.work`): they
are where other threads' results move onto the UI thread, which never waits on the network or disk. A
0.2 s timer calls `vm.tick()` (countdowns, idle reset) and polls the discreet staff-only online
dot. Import only after Kivy's environment is set (`KIVY_NO_ARGS=1`, and
`SDL_VIDEODRIVER=offscreen` without a display): importing Kivy widgets opens the window.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.factory import Factory
from kivy.lang import Builder
from kivy.metrics import mm, sp
from kivy.properties import (
    BooleanProperty,
    ColorProperty,
    DictProperty,
    ListProperty,
    NumericProperty,
    ObjectProperty,
    StringProperty,
)
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.screenmanager import NoTransition, Screen, ScreenManager
from kivy.utils import escape_markup

from devices.camera.frame import Frame
from kiosk.flow.state import SCANNING_STEPS, Step
from kiosk.flow.view import View
from kiosk.viewmodel import KioskViewModel
from kiosk.widgets import (
    HIGH_CONTRAST,
    NORMAL,
    CameraPicture,
    ChoiceButton,
    KeyButton,
    LanguageButton,
    OnScreenKeyboard,
    RatingButton,
    ResultButton,
    SignaturePad,
)

log = logging.getLogger(__name__)

KV_FILE = Path(__file__).with_name("screens.kv")
PORTRAIT = (1080, 1920)
"""Window size of a portrait kiosk (21.5-inch totem)."""
LANDSCAPE = (1280, 800)
"""Window size of a landscape 10-inch tablet."""
TOUCH_TARGET_MM = 12
"""The smallest touch target, in millimetres at the screen's density."""
LARGE_TEXT = 1.4
"""Font factor of the large-text mode."""
TICK_S = 0.2
"""How often `vm.tick()` runs."""
PREVIEW_FPS = 15

SCREEN_KINDS: dict[Step, str] = {
    Step.WELCOME: "WelcomeScreen", Step.SCAN: "ScanScreen", Step.NAME: "TextScreen",
    Step.COMPANY: "TextScreen", Step.HOST: "SearchScreen", Step.RETURNING: "SearchScreen",
    Step.CHECK_OUT: "SearchScreen", Step.VISITOR_TYPE: "ChoiceScreen", Step.PHOTO: "PhotoScreen",
    Step.AGREEMENT: "AgreementScreen", Step.SUMMARY: "SummaryScreen", Step.INVITATION: "SummaryScreen",
    Step.CHECK_OUT_CONFIRM: "SummaryScreen", Step.FEEDBACK: "FeedbackScreen", Step.DONE: "FinalScreen",
    Step.SEAT: "FinalScreen",
    Step.GOODBYE: "FinalScreen",
}  # fmt: skip
"""Which screen class shows each step."""


class CameraFeed(Protocol):
    """The kiosk camera as the screens use it (`kiosk.camera.KioskCamera`, or the demo's)."""

    def preview(self) -> Frame | None:
        """The latest frame (BGR), or None."""
        ...

    def snapshot(self) -> tuple[bytes, int, int] | None:
        """(JPEG, width, height) of the latest frame, or None."""
        ...

    @property
    def available(self) -> bool:
        """The camera gives pictures."""
        ...


def fit_scale(width: float, height: float) -> float:
    """The layout factor of a window: 1 on a 1080x1100 area and larger, down to 0.6."""
    return max(0.6, min(1.0, height / 1100, width / 800))


class StepFooter(BoxLayout):  # type: ignore[misc]
    """The footer of a step: Back and Cancel of `screen`, then the step's own buttons (screens.kv)."""

    screen = ObjectProperty(None, allownone=True, rebind=True)


class StepScreen(Screen):  # type: ignore[misc]
    """Base of every screen: the texts every step has, copied from the view."""

    title = StringProperty("")
    prompt = StringProperty("")
    error = StringProperty("")
    notice = StringProperty("")
    progress = StringProperty("")
    message = StringProperty("")
    can_back = BooleanProperty(False)
    b = DictProperty({})
    """Every button's text, by `kiosk.flow.texts.Button` value."""

    def enter(self, view: View) -> None:
        """The flow arrived on this screen (fill the boxes)."""

    def show(self, view: View) -> None:
        """Copy the view into the widgets (after every change while this screen shows)."""
        self.title, self.prompt, self.error, self.notice = view.title, view.prompt, view.error, view.notice
        self.progress, self.message, self.can_back = view.progress, view.message, view.can_back
        buttons = {str(k): v for k, v in view.buttons.items()}
        if buttons != self.b:
            self.b = buttons


class WelcomeScreen(StepScreen):
    """Languages, the large-text switch and the four starts."""

    language = StringProperty("")
    languages = ListProperty([])

    def show(self, view: View) -> None:
        """Also the language buttons."""
        super().show(view)
        self.language = view.language
        if self.languages != list(view.languages):
            self.languages = list(view.languages)
            row = self.ids.languages
            row.clear_widgets()
            for code, name in view.languages:
                button = LanguageButton(text=name, code=code)
                button.bind(on_release=lambda btn: App.get_running_app().vm.choose_language(btn.code))
                row.add_widget(button)
        for button in self.ids.languages.children:
            button.primary = button.code == view.language


class ScanScreen(StepScreen):
    """Hold the invitation's QR code to the scanner."""


class TextScreen(StepScreen):
    """Name or company: a box, the on-screen keyboard, Next (and Skip for the company)."""

    optional = BooleanProperty(False)

    def enter(self, view: View) -> None:
        """Show what was typed before (after Back)."""
        self.ids.field.text = view.field_text
        self.optional = view.screen == Step.COMPANY.value

    def typed(self) -> None:
        """A key was typed."""
        App.get_running_app().vm.keep_awake()

    def submit(self) -> None:
        """Next: hand the text over."""
        App.get_running_app().vm.enter(self.ids.field.text)


class SearchScreen(StepScreen):
    """Host, returning visitor or check-out: a search box, the results and the keyboard."""

    no_results = StringProperty("")
    free_text = BooleanProperty(False)
    _loading = False

    def enter(self, view: View) -> None:
        """Put back the text searched before, without searching again."""
        self._loading = True
        try:
            self.ids.field.text = view.field_text
        finally:
            self._loading = False

    def show(self, view: View) -> None:
        """Also the result rows."""
        super().show(view)
        self.no_results, self.free_text = view.no_results, view.host_free_text
        rows = self.ids.results
        shown = [(r.key, r.label, r.detail) for r in view.results]
        if [(w.key, w.label, w.detail) for w in reversed(rows.children)] == shown:
            return
        rows.clear_widgets()
        for key, label, detail in shown:
            row = ResultButton(key=key, label=label, detail=detail, text=_two_lines(label, detail))
            row.bind(on_release=lambda r: App.get_running_app().vm.pick(r.key))
            rows.add_widget(row)

    def typed(self, text: str) -> None:
        """The box changed: search (not while the box is being filled from the view)."""
        if not self._loading and self.manager is not None and self.manager.current == self.name:
            App.get_running_app().vm.search(text)

    def submit(self) -> None:
        """Next (only while the host's name is typed in full)."""
        App.get_running_app().vm.enter(self.ids.field.text)


class ChoiceScreen(StepScreen):
    """The visitor types, one big button each."""

    def show(self, view: View) -> None:
        """Build (or re-word) the choice buttons."""
        super().show(view)
        grid = self.ids.choices
        texts = [(c.value.value, _two_lines(c.label, c.hint)) for c in view.visitor_types]
        if [(w.value, w.text) for w in reversed(grid.children)] == texts:
            return
        grid.clear_widgets()
        for value, text in texts:
            button = ChoiceButton(value=value, text=text)
            button.bind(on_release=lambda btn: App.get_running_app().vm.choose(btn.value))
            grid.add_widget(button)


class PhotoScreen(StepScreen):
    """The live preview with the countdown over it, then the photo with Retake / Use photo."""

    countdown = StringProperty("")
    taken = BooleanProperty(False)
    _photo: bytes | None = None

    def show(self, view: View) -> None:
        """Countdown digits, or the photo taken."""
        super().show(view)
        self.countdown = str(view.countdown) if view.countdown else ""
        self.taken = view.photo is not None
        jpeg = view.photo.jpeg if view.photo is not None else None
        if jpeg is not None and jpeg is not self._photo:
            self.ids.picture.show_jpeg(jpeg)
        self._photo = jpeg

    def preview(self, frame: Frame | None) -> None:
        """One camera frame while counting down."""
        if not self.taken:
            self.ids.picture.show_frame(frame)


class AgreementScreen(StepScreen):
    """The agreement's text, the signature pad, Clear and Accept."""

    agreement = StringProperty("")
    can_accept = BooleanProperty(False)

    def show(self, view: View) -> None:
        """Text, strokes drawn, Accept enabled once signed."""
        super().show(view)
        if self.agreement != view.agreement_text:
            self.agreement = view.agreement_text
            self.ids.scroll.scroll_y = 1
        self.ids.pad.strokes = list(view.strokes)
        self.can_accept = view.can_accept


class FeedbackScreen(StepScreen):
    """After a check-out: five faces (one touch rates), an optional comment box, Skip."""

    comment_hint = StringProperty("")

    def enter(self, view: View) -> None:
        """A new visitor's box starts empty."""
        self.ids.field.text = ""

    def show(self, view: View) -> None:
        """Also the faces and their words."""
        super().show(view)
        self.comment_hint = view.comment_hint
        row = self.ids.faces
        if [(w.rating, w.text) for w in reversed(row.children)] == list(view.ratings):
            return
        row.clear_widgets()
        for rating, word in view.ratings:
            button = RatingButton(rating=rating, text=word)
            button.bind(on_release=lambda btn: self.rate(int(btn.rating)))
            row.add_widget(button)

    def typed(self) -> None:
        """A key was typed in the comment box."""
        App.get_running_app().vm.keep_awake()

    def rate(self, rating: int) -> None:
        """A face: the rating with whatever the comment box holds."""
        App.get_running_app().vm.rate(rating, self.ids.field.text)


class SummaryScreen(StepScreen):
    """Label / value rows to confirm (summary, invitation, check-out)."""

    step = StringProperty("")
    _rows: tuple[tuple[str, str], ...] = ()

    def show(self, view: View) -> None:
        """Also the rows."""
        super().show(view)
        self.step = view.screen
        if view.summary == self._rows:
            return
        self._rows = view.summary
        table = self.ids.table
        table.clear_widgets()
        for label, value in view.summary:
            table.add_widget(Factory.Prompt(text=label, size_hint_x=0.38))
            table.add_widget(Factory.KioskText(text=value, bold=True, size_hint_x=0.62))


class FinalScreen(StepScreen):
    """Done, seat or goodbye: closes by itself."""

    closes_in = StringProperty("")
    step = StringProperty("")

    def show(self, view: View) -> None:
        """Also the count-down line."""
        super().show(view)
        self.step = view.screen
        self.closes_in = App.get_running_app().vm.closes_in


class KioskRoot(FloatLayout):  # type: ignore[misc]
    """The window's content: the screens and the staff-only online dot (see screens.kv)."""


class KioskApp(App):  # type: ignore[misc]
    """The kiosk window over `vm`; feed scanned codes with `post_code` from any thread."""

    scale = NumericProperty(1.0)
    """Layout factor: 1 on a tall portrait screen, down to 0.6 on a small one."""
    fs = NumericProperty(1.0)
    """Font factor: `scale`, times 1.4 in large-text mode."""
    target = NumericProperty(0.0)
    """The smallest touch target in pixels (12 mm at the screen's density)."""
    landscape = BooleanProperty(False)
    large_text = BooleanProperty(False)
    offline = BooleanProperty(False)
    """Staff only: the broker or the central service cannot be reached."""
    bg = ColorProperty(NORMAL["bg"])
    ink = ColorProperty(NORMAL["ink"])
    muted = ColorProperty(NORMAL["muted"])
    primary = ColorProperty(NORMAL["primary"])
    primary_down = ColorProperty(NORMAL["primary_down"])
    primary_ink = ColorProperty(NORMAL["primary_ink"])
    paper = ColorProperty(NORMAL["paper"])
    paper_down = ColorProperty(NORMAL["paper_down"])
    error = ColorProperty(NORMAL["error"])
    notice = ColorProperty(NORMAL["notice"])
    success = ColorProperty(NORMAL["success"])
    line = ColorProperty(NORMAL["line"])

    def __init__(
        self,
        viewmodel: KioskViewModel,
        *,
        camera: CameraFeed | None = None,
        online: Callable[[], bool] | None = None,
        size: tuple[int, int] | None = PORTRAIT,
        **kwargs: Any,
    ) -> None:
        """`online` tells whether the kiosk reaches the site; `size` in pixels (None: Kivy's)."""
        super().__init__(**kwargs)
        self.vm = viewmodel
        self.title = "Gatehouse kiosk"
        self._camera = camera
        self._online = online
        self._size = size
        self._codes: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._wake = Clock.create_trigger(self._take_codes)
        self._capturing = False
        self.scanning = False
        """The screen shown takes QR codes (read from other threads: a plain attribute)."""
        self._manager: ScreenManager | None = None
        self._unlisten: Callable[[], None] | None = None
        self.screen_changed: list[Callable[[str], None]] = []
        """Called with the new screen's name after each screen change (benchmarks, recorders)."""

    def build(self) -> KioskRoot:
        """Load the layout, add one screen per step and follow the view-model."""
        if self._size is not None:
            Window.size = self._size
        Window.bind(size=self._fit)
        self._fit(Window, Window.size)
        if str(KV_FILE) not in Builder.files:
            Builder.load_file(str(KV_FILE))
        root = KioskRoot()
        manager: ScreenManager = root.ids.sm
        manager.transition = NoTransition()
        classes = {cls.__name__: cls for cls in (WelcomeScreen, ScanScreen, TextScreen, SearchScreen,
                                                  ChoiceScreen, PhotoScreen, AgreementScreen, SummaryScreen,
                                                  FeedbackScreen, FinalScreen)}
        for step, kind in SCREEN_KINDS.items():
            manager.add_widget(classes[kind](name=step.value))
        self._manager = manager
        self._unlisten = self.vm.listen(self.refresh)
        self.refresh()
        Clock.schedule_interval(self._tick, TICK_S)
        Clock.schedule_interval(self._preview, 1 / PREVIEW_FPS)
        log.info("kiosk ready, window %dx%d", *Window.size)
        return root

    @property
    def manager(self) -> ScreenManager:
        """The screen manager (after build)."""
        if self._manager is None:
            raise RuntimeError("the kiosk app is not built yet")
        return self._manager

    def post_code(self, code: str) -> None:
        """A QR code was read (any thread): handed to the view-model on the UI thread."""
        self._codes.put(code)
        self._wake()

    def refresh(self) -> None:
        """Bring the window in line with the view-model (called after every change)."""
        view, manager = self.vm.view, self.manager
        if view.large_text != self.large_text:
            self.large_text = view.large_text
            self._apply_palette()
        screen: StepScreen = manager.get_screen(view.screen)
        if manager.current != view.screen:
            screen.enter(view)
            manager.current = view.screen
            for listener in list(self.screen_changed):
                listener(view.screen)
        screen.show(view)
        self.scanning = Step(view.screen) in SCANNING_STEPS
        if view.capture_requested and not self._capturing:
            self._capturing = True
            Clock.schedule_once(self._capture)

    def on_stop(self) -> None:
        """Stop following the view-model."""
        if self._unlisten is not None:
            self._unlisten()
            self._unlisten = None

    def _take_codes(self, _dt: float) -> None:
        while True:
            try:
                code = self._codes.get_nowait()
            except queue.Empty:
                return
            self.vm.scanned(code)

    def _capture(self, _dt: float) -> None:
        self._capturing = False
        if not self.vm.view.capture_requested:
            return
        snap = self._camera.snapshot() if self._camera is not None else None
        if snap is None:
            self.vm.camera_failed()
        else:
            self.vm.photo_taken(*snap)

    def _tick(self, _dt: float) -> None:
        self.vm.tick()
        if self._online is not None:
            self.offline = not self._online()
        camera = self._camera is not None and self._camera.available
        if self.manager.current == Step.WELCOME.value and self.vm.session.camera != camera:
            log.info("camera %s; the photo step is %s", *(("back", "on") if camera else ("gone", "skipped")))
            self.vm.set_camera_available(camera)

    def _preview(self, _dt: float) -> None:
        if self._camera is None or self.manager.current != Step.PHOTO.value:
            return
        screen = self.manager.current_screen
        if isinstance(screen, PhotoScreen) and not screen.taken:
            screen.preview(self._camera.preview())

    def _fit(self, _window: Any, size: tuple[int, int]) -> None:
        self.scale = fit_scale(*size)
        self.landscape = size[0] > size[1]
        self.target = mm(TOUCH_TARGET_MM)
        self.fs = self.scale * (LARGE_TEXT if self.large_text else 1.0)

    def _apply_palette(self) -> None:
        for name, colour in (HIGH_CONTRAST if self.large_text else NORMAL).items():
            setattr(self, name, colour)
        self.fs = self.scale * (LARGE_TEXT if self.large_text else 1.0)


def on_ui_thread(call: Callable[[], object]) -> None:
    """Run `call` on Kivy's thread at its next frame; safe from any thread (Kivy's clock is)."""
    Clock.schedule_once(lambda _dt: call())


def _two_lines(label: str, detail: str) -> str:
    """A bold line and a smaller one under it, as button markup (the detail at 75 %)."""
    text = f"[b]{escape_markup(label)}[/b]"
    if not detail:
        return text
    small = round(sp(26) * App.get_running_app().fs)
    return f"{text}\n[size={small}]{escape_markup(detail)}[/size]"


__all__ = ["LANDSCAPE", "PORTRAIT", "CameraPicture", "KeyButton", "KioskApp", "OnScreenKeyboard",
           "SignaturePad", "fit_scale", "on_ui_thread"]
