"""The kiosk's own widgets: an on-screen keyboard, a signature pad and a camera picture.

They know nothing of the flow: the keyboard types into a `TextInput`, the pad hands each finished
finger stroke (points 0..1, y from the bottom) to `on_stroke`, the picture shows BGR frames or a
JPEG. Import only after Kivy's environment is set (see `kiosk.app`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from kivy.graphics import Color, Line, Rectangle
from kivy.graphics.texture import Texture
from kivy.properties import (
    BooleanProperty,
    ColorProperty,
    ListProperty,
    NumericProperty,
    ObjectProperty,
    StringProperty,
)
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.image import Image
from kivy.uix.widget import Widget

from devices.camera.frame import Frame, u8

log = logging.getLogger(__name__)

LETTER_ROWS = ("QWERTYUIOP", "ASDFGHJKL", "ZXCVBNM")
"""The letter keys, row by row (a backspace key ends the last row)."""
EXTRA_ROW = "ĄĆĘŁŃÓŚŹŻÉ"
"""Accented letters of Polish and Indonesian names, always shown (no long-press to discover)."""
MARKS = "-'.@"
"""Marks in names and e-mail addresses, beside the space bar."""
BACKSPACE = "\N{ERASE TO THE LEFT}"
SYMBOL_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
"""A font with the backspace sign (Kivy's Roboto has none); Roboto is used if it is missing."""
_CAPITAL_AFTER = " -'"


NORMAL = {"bg": (0.957, 0.965, 0.973, 1), "ink": (0.063, 0.094, 0.125, 1), "muted": (0.235, 0.275, 0.314, 1),
          "primary": (0.0, 0.278, 0.733, 1), "primary_down": (0.0, 0.2, 0.54, 1), "primary_ink": (1, 1, 1, 1),
          "paper": (1, 1, 1, 1), "paper_down": (0.86, 0.89, 0.92, 1), "error": (0.69, 0.0, 0.125, 1),
          "notice": (0.0, 0.278, 0.733, 1), "success": (0.106, 0.498, 0.231, 1),
          "line": (0.063, 0.094, 0.125, 1)}
"""Colours of the normal palette (dark text on light grey, WCAG AA and better)."""
HIGH_CONTRAST = {"bg": (0, 0, 0, 1), "ink": (1, 1, 1, 1), "muted": (0.92, 0.92, 0.92, 1),
                 "primary": (1.0, 0.85, 0.0, 1), "primary_down": (0.8, 0.68, 0.0, 1),
                 "primary_ink": (0, 0, 0, 1),
                 "paper": (0, 0, 0, 1), "paper_down": (0.25, 0.25, 0.25, 1), "error": (1.0, 0.55, 0.55, 1),
                 "notice": (0.55, 0.85, 1.0, 1), "success": (0.45, 1.0, 0.45, 1), "line": (1, 1, 1, 1)}
"""Colours of the large-text mode: white and yellow on black."""

class KioskButton(Button):  # type: ignore[misc]
    """A button of the kiosk; `shown` False takes it out of sight and out of reach."""

    shown = BooleanProperty(True)
    weight = NumericProperty(1.0)
    primary = BooleanProperty(False)


class ResultButton(KioskButton):
    """One row of a result list; a touch picks `key`."""

    key = StringProperty("")
    label = StringProperty("")
    detail = StringProperty("")


class ChoiceButton(KioskButton):
    """One visitor-type button; a touch chooses `value`."""

    value = StringProperty("")


class RatingButton(KioskButton):
    """One face of the feedback step (1 very unhappy .. 5 very happy); a touch rates the visit."""

    rating = NumericProperty(0)


class LanguageButton(KioskButton):
    """A language button; `code` like "pl"."""

    code = StringProperty("")


class KeyButton(Button):  # type: ignore[misc]
    """One key; `value` is what it types ("" for the space bar's label-less key)."""

    value = StringProperty("")


class OnScreenKeyboard(BoxLayout):  # type: ignore[misc]
    """Letter, accent and mark keys that type into `target`; dispatches `on_typed` after each key."""

    target = ObjectProperty(None, allownone=True)
    key_font_size = NumericProperty(24)
    __events__ = ("on_typed",)

    def __init__(self, **kwargs: Any) -> None:
        """Build the five rows of keys."""
        super().__init__(orientation="vertical", **kwargs)
        self.keys: dict[str, KeyButton] = {}
        for row in (*LETTER_ROWS, EXTRA_ROW):
            line = BoxLayout(orientation="horizontal", spacing=self.spacing)
            for letter in row:
                line.add_widget(self._key(letter, letter))
            if row == LETTER_ROWS[-1]:
                line.add_widget(self._key(BACKSPACE, "\b", wide=1.8, symbol=True))
            self.add_widget(line)
        last = BoxLayout(orientation="horizontal", spacing=self.spacing)
        for mark in MARKS:
            last.add_widget(self._key(mark, mark))
        last.add_widget(self._key("", " ", wide=6.0))
        self.add_widget(last)
        self.bind(spacing=self._respace)

    def _key(self, label: str, value: str, *, wide: float = 1.0, symbol: bool = False) -> KeyButton:
        key = KeyButton(text=label, value=value, size_hint_x=wide)
        if symbol and _has_font(SYMBOL_FONT):
            key.font_name = SYMBOL_FONT
        key.bind(on_release=lambda k: self.press(k.value))
        self.bind(key_font_size=key.setter("font_size"))
        self.keys[value] = key
        return key

    def _respace(self, _widget: Widget, spacing: Any) -> None:
        for line in self.children:
            line.spacing = spacing

    def press(self, value: str) -> None:
        """Type one key into `target`: letters start a word capitalised, the rest lower case."""
        field = self.target
        if field is None:
            return
        text: str = field.text
        if value == "\b":
            field.text = text[:-1]
        elif value == " ":
            if text and not text.endswith(" "):
                field.text = text + " "
        else:
            start = not text or text[-1] in _CAPITAL_AFTER
            field.text = text + (value.upper() if start else value.lower())
        self.dispatch("on_typed", value)

    def on_typed(self, value: str) -> None:
        """A key was typed (the screen keeps the kiosk awake)."""


class SignaturePad(Widget):  # type: ignore[misc]
    """A box to sign in with a finger; `strokes` (0..1, y up) are drawn, each new stroke dispatched."""

    strokes = ListProperty([])
    ink = ColorProperty((0, 0, 0, 1))
    paper = ColorProperty((1, 1, 1, 1))
    line_width = NumericProperty(3.0)
    __events__ = ("on_stroke",)

    def __init__(self, **kwargs: Any) -> None:
        """An empty pad."""
        super().__init__(**kwargs)
        self._live: list[tuple[float, float]] = []
        self.bind(pos=self._redraw, size=self._redraw, strokes=self._redraw, ink=self._redraw,
                  paper=self._redraw)

    def on_touch_down(self, touch: Any) -> bool:
        """Start a stroke inside the box."""
        if not self.collide_point(*touch.pos) or self.disabled:
            return bool(super().on_touch_down(touch))
        touch.grab(self)
        self._live = [self._relative(touch.x, touch.y)]
        self._redraw()
        return True

    def on_touch_move(self, touch: Any) -> bool:
        """Follow the finger (also outside the box: the points are clamped later)."""
        if touch.grab_current is not self:
            return bool(super().on_touch_move(touch))
        self._live.append(self._relative(touch.x, touch.y))
        self._redraw()
        return True

    def on_touch_up(self, touch: Any) -> bool:
        """End the stroke and hand it on."""
        if touch.grab_current is not self:
            return bool(super().on_touch_up(touch))
        touch.ungrab(self)
        self._live.append(self._relative(touch.x, touch.y))
        stroke, self._live = tuple(self._live), []
        self.dispatch("on_stroke", stroke)
        self._redraw()
        return True

    def on_stroke(self, stroke: Sequence[tuple[float, float]]) -> None:
        """A finger stroke ended (points 0..1, y from the bottom)."""

    def _relative(self, x: float, y: float) -> tuple[float, float]:
        return (x - self.x) / max(1.0, self.width), (y - self.y) / max(1.0, self.height)

    def _redraw(self, *_args: Any) -> None:
        self.canvas.clear()
        with self.canvas:
            Color(rgba=self.paper)
            Rectangle(pos=self.pos, size=self.size)
            Color(rgba=self.ink)
            Line(rectangle=(self.x + 1, self.y + 1, self.width - 2, self.height - 2), width=1.5)
            for stroke in (*self.strokes, self._live):
                points = [v for x, y in stroke for v in (self.x + x * self.width, self.y + y * self.height)]
                if len(points) >= 4:
                    Line(points=points, width=self.line_width, cap="round", joint="round")


class CameraPicture(Image):  # type: ignore[misc]
    """The live camera preview or the photo taken, from BGR frames or JPEG bytes."""

    def show_frame(self, frame: Frame | None) -> None:
        """Show one BGR frame (None: show nothing)."""
        if frame is None:
            self.texture = None
            return
        height, width = frame.shape[:2]
        texture = self.texture
        if texture is None or texture.size != (width, height):
            texture = Texture.create(size=(width, height), colorfmt="bgr")
            texture.flip_vertical()
        texture.blit_buffer(np.ascontiguousarray(frame).tobytes(), colorfmt="bgr", bufferfmt="ubyte")
        self.texture = texture
        self.canvas.ask_update()

    def show_jpeg(self, jpeg: bytes) -> None:
        """Show a JPEG picture (one that cannot be read shows nothing)."""
        frame = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        if frame is None:
            log.warning("the photo cannot be shown: not a readable JPEG")
        self.show_frame(None if frame is None else u8(frame))


def _has_font(path: str) -> bool:
    return Path(path).is_file()
