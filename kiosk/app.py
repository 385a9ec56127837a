"""The walk-in kiosk's Kivy front end: one thin screen per step over `KioskViewModel`.

The screens only copy what the view-model says into widgets and call its methods; the look
is in `screens.kv`. `run_kiosk` is the one entry point: interactive, or playing a script
through the real widgets and saving a PNG of every screen (see `kiosk.autopilot`).
Import this module only after Kivy's environment is set (`KIVY_NO_ARGS=1`, and
`SDL_VIDEODRIVER=offscreen` without a display): importing it opens the window.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.factory import Factory
from kivy.lang import Builder
from kivy.metrics import dp, sp
from kivy.properties import BooleanProperty, NumericProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.screenmanager import Screen, ScreenManager, SlideTransition
from kivy.utils import escape_markup

from kiosk.autopilot import Autopilot, ScreenRecorder
from kiosk.viewmodel import KioskViewModel
from kiosk.walkin import Intent, Step

log = logging.getLogger(__name__)

KV_FILE = Path(__file__).with_name("screens.kv")
"""The kiosk's layout and styles."""
PORTRAIT = (1080, 1920)
"""Window size of a portrait kiosk screen (21.5-inch totem)."""
LANDSCAPE = (1280, 800)
"""Window size of a landscape 10-inch tablet."""
BACKGROUND = (0.957, 0.965, 0.973, 1)

_ORDER = list(Step)


def fit_scale(height: float) -> float:
    """The size factor for a window `height` pixels tall: 1 from 1100 px up, at least 0.6."""
    return max(0.6, min(1.0, height / 1100))


class StepScreen(Screen):  # type: ignore[misc]
    """Base of every kiosk screen: heading, prompt and error text from the view-model."""

    title = StringProperty("")
    prompt = StringProperty("")
    error = StringProperty("")

    def load(self, vm: KioskViewModel) -> None:
        """Called once when the flow arrives on this screen."""

    def show(self, vm: KioskViewModel) -> None:
        """Called after every change of the view-model while this screen is current."""
        self.title = vm.title
        self.prompt = vm.prompt
        self.error = vm.error


class WelcomeScreen(StepScreen):
    """The idle screen with one big Check in button."""


class TextStepScreen(StepScreen):
    """A step that asks for one line of text (name, company, host)."""

    optional = BooleanProperty(False)

    def load(self, vm: KioskViewModel) -> None:
        """Fill the box with what was typed before (when coming Back)."""
        self.ids.field.text = vm.field_text

    def show(self, vm: KioskViewModel) -> None:
        """Show the texts; after a refused entry, put the keyboard focus back in the box."""
        super().show(vm)
        if vm.error:
            self.ids.field.focus = True

    def submit(self) -> None:
        """Next (or Enter on a keyboard): hand the text to the view-model."""
        App.get_running_app().vm.enter(self.ids.field.text)


class ChoiceButton(Button):  # type: ignore[misc]
    """A big two-line option button that sends `value` when touched."""

    value = StringProperty("")


class ChoiceScreen(StepScreen):
    """The visitor-type step: one button per option."""

    def load(self, vm: KioskViewModel) -> None:
        """Build the option buttons once."""
        grid = self.ids.options
        if grid.children:
            return
        for choice in vm.choices:
            text = f"[b]{escape_markup(choice.label)}[/b]\n[size=28sp]{escape_markup(choice.hint)}[/size]"
            button = ChoiceButton(value=choice.value, text=text)
            button.bind(on_release=lambda b: App.get_running_app().vm.choose(b.value))
            grid.add_widget(button)


class ConfirmScreen(StepScreen):
    """The summary to check before checking in."""

    def show(self, vm: KioskViewModel) -> None:
        """Rebuild the summary table."""
        super().show(vm)
        rows = self.ids.rows
        rows.clear_widgets()
        scale = App.get_running_app().scale
        for label, value in vm.summary:
            rows.add_widget(Factory.Prompt(text=label, size_hint_x=None, width=dp(240) * scale))
            rows.add_widget(Factory.KioskText(text=value, font_size=sp(40) * scale, bold=True))


class DoneScreen(StepScreen):
    """Checked in: thank the visitor and show the visit number."""

    message = StringProperty("")
    detail = StringProperty("")

    def show(self, vm: KioskViewModel) -> None:
        """Show the thank-you text of the visit just sent."""
        super().show(vm)
        visit = vm.last_visit
        self.message = vm.done_text
        self.detail = f"Your visit number is {visit.visit_id}" if visit else ""


class KioskRoot(BoxLayout):  # type: ignore[misc]
    """The window's content: the top bar and the screen manager (see screens.kv)."""


class KioskApp(App):  # type: ignore[misc]
    """The walk-in kiosk; `vm` is the view-model every screen reads and calls."""

    site_name = StringProperty("Reception")
    progress = StringProperty("")
    can_cancel = BooleanProperty(False)
    scale = NumericProperty(1.0)
    """Factor on every size in screens.kv: 1 on a tall screen, down to 0.6 on a short one."""

    def __init__(
        self,
        viewmodel: KioskViewModel,
        *,
        site_name: str = "Reception",
        size: tuple[int, int] | None = PORTRAIT,
        **kwargs: Any,
    ) -> None:
        """`size` sets the window size in pixels; None leaves Kivy's configuration alone."""
        super().__init__(**kwargs)
        self.vm = viewmodel
        self.site_name = site_name
        self.title = f"Gatehouse kiosk - {site_name}"
        self._size = size
        self._manager: ScreenManager | None = None
        self._unlisten: Any = None

    def build(self) -> KioskRoot:
        """Load the layout, add one screen per step and follow the view-model."""
        if self._size is not None:
            Window.size = self._size
        Window.clearcolor = BACKGROUND
        Window.bind(size=self._fit)
        self._fit(Window, Window.size)
        if str(KV_FILE) not in Builder.files:
            Builder.load_file(str(KV_FILE))
        root = KioskRoot()
        manager = root.ids.sm
        manager.transition = SlideTransition(duration=0.2)
        for screen in (
            WelcomeScreen(name=Step.WELCOME.value),
            TextStepScreen(name=Step.NAME.value),
            TextStepScreen(name=Step.COMPANY.value, optional=True),
            ChoiceScreen(name=Step.VISITOR_TYPE.value),
            TextStepScreen(name=Step.HOST.value),
            ConfirmScreen(name=Step.CONFIRM.value),
            DoneScreen(name=Step.DONE.value),
        ):
            manager.add_widget(screen)
        self._manager = manager
        self._unlisten = self.vm.listen(self.refresh)
        self.refresh()
        Clock.schedule_interval(self._tick, 1.0)
        log.info("kiosk %r ready, window %dx%d", self.site_name, *Window.size)
        return root

    @property
    def manager(self) -> ScreenManager:
        """The screen manager (after build)."""
        if self._manager is None:
            raise RuntimeError("the kiosk app is not built yet")
        return self._manager

    def refresh(self) -> None:
        """Bring the screens in line with the view-model."""
        manager, vm = self.manager, self.vm
        screen = manager.get_screen(vm.screen)
        if manager.current != vm.screen:
            forward = _ORDER.index(Step(vm.screen)) > _ORDER.index(Step(manager.current))
            going_home = vm.screen == Step.WELCOME.value
            manager.transition.direction = "left" if forward and not going_home else "right"
            screen.load(vm)
            manager.current = vm.screen
        screen.show(vm)
        self.progress = vm.progress
        self.can_cancel = vm.screen not in (Step.WELCOME.value, Step.DONE.value)

    def on_stop(self) -> None:
        """Stop following the view-model."""
        if self._unlisten is not None:
            self._unlisten()
            self._unlisten = None

    def _fit(self, _window: Any, size: tuple[int, int]) -> None:
        self.scale = fit_scale(size[1])

    def _tick(self, _dt: float) -> None:
        self.vm.tick()


def run_kiosk(
    viewmodel: KioskViewModel,
    *,
    script: Sequence[Intent] | None = None,
    screenshot_dir: Path | None = None,
    step_delay: float = 0.3,
    size: tuple[int, int] | None = PORTRAIT,
    site_name: str = "Reception",
) -> None:
    """Run the kiosk until its window closes, or until `script` has been played.

    With `script`, each intent is played on the real widgets (a touch on the button, text
    typed into the box), `step_delay` seconds apart, then the app stops; a script that
    cannot be played raises `kiosk.autopilot.ScriptError`. With `screenshot_dir`, a PNG of
    every screen shown is saved there as `NN-<screen>.png`.
    """
    app = KioskApp(viewmodel, size=size, site_name=site_name)
    pilot: Autopilot | None = None
    if script is not None:
        pilot = Autopilot(app, script, screenshot_dir=screenshot_dir, step_delay=step_delay)
        app.bind(on_start=lambda _app: pilot.begin())
    elif screenshot_dir is not None:
        recorder = ScreenRecorder(app, screenshot_dir)
        app.bind(on_start=lambda _app: recorder.begin())
    app.run()
    if pilot is not None and pilot.failure is not None:
        raise pilot.failure
