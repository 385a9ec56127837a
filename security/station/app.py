"""The guard station's Kivy window: the alarm queue, the live feed and the devices table.

`StationApp.post_event`, `post_status` and `post_alarm` may be called from any thread (the bus
adapter's): they queue the message and wake the Kivy main thread, which alone touches the
view-model and the widgets. This is the one place bus callbacks move onto the UI thread.
A guard's button press becomes an `alarm.requested` handed to `on_request` (the station's outbox);
the alarm itself changes only when the central service's retained state does.
Import this module only after Kivy's environment is set (`KIVY_NO_ARGS=1`, and
`SDL_VIDEODRIVER=offscreen` without a display): importing Kivy widgets opens the window.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from pathlib import Path
from typing import Any

from kivy.app import App
from kivy.clock import Clock
from kivy.core.image import Image as CoreImage
from kivy.core.window import Window
from kivy.lang import Builder
from kivy.metrics import dp
from kivy.properties import (
    BooleanProperty,
    ColorProperty,
    NumericProperty,
    StringProperty,
)
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout

from broker.events import Event
from broker.messages import AlarmStatus, Status
from broker.private import private_dir
from broker.schemas import AlarmRequested
from security.station.viewmodel import StationViewModel
from security.station.visits import Photo, VisitorDetails

log = logging.getLogger(__name__)

KV_FILE = Path(__file__).with_name("station.kv")
"""The station's layout and colours."""
SIZE = (1280, 800)
"""Default window size in pixels."""
SCREENSHOT_NAME = "station.png"
"""The file `run_station` saves in its screenshot folder."""

SHELVE_FOR = 15
"""Minutes the Shelve button shelves an alarm for."""
PHOTO_HEIGHT = 160
"""Height of the visitor photo in the alarm details, in dp; its width follows the photo's shape."""
PHOTO_WIDTHS = (90, 214)
"""The narrowest and the widest the visitor photo is drawn, in dp."""
PLACEHOLDER_WIDTH = 120
"""Width of the frame that says why a visitor alarm has no photo, in dp."""


@dataclass(slots=True, frozen=True)
class _AlarmUpdate:
    alarm_id: str
    status: AlarmStatus | None


_Message = Event | tuple[str, Status] | _AlarmUpdate
RequestSink = Callable[[AlarmRequested], object]
"""Where a guard's request goes: the station's outbox (`link.source.emit('alarm.requested', ...)`)."""


class FeedRow(BoxLayout):  # type: ignore[misc]
    """One line of the live feed (a RecycleView row)."""

    time = StringProperty("")
    device = StringProperty("")
    type = StringProperty("")
    summary = StringProperty("")
    severity = StringProperty("normal")
    index = NumericProperty(0)
    ink = ColorProperty((1, 1, 1, 1))


class DeviceRowView(BoxLayout):  # type: ignore[misc]
    """One device of the devices table (a RecycleView row)."""

    device = StringProperty("")
    kind = StringProperty("")
    online = BooleanProperty(False)
    detail_line = StringProperty("")
    index = NumericProperty(0)


class AlarmRowView(ButtonBehavior, BoxLayout):  # type: ignore[misc]
    """One open alarm of the queue (a RecycleView row); a tap selects it."""

    alarm_id = StringProperty("")
    priority = StringProperty("low")
    priority_label = StringProperty("")
    summary = StringProperty("")
    count = StringProperty("")
    status_line = StringProperty("")
    age = StringProperty("")
    silent = StringProperty("")
    selected = BooleanProperty(False)
    index = NumericProperty(0)


class StationRoot(BoxLayout):  # type: ignore[misc]
    """The window's content (see station.kv)."""


class StationApp(App):  # type: ignore[misc]
    """The guard station window; feed it with `post_event` / `post_status` / `post_alarm` from any thread."""

    headline = StringProperty("")
    clock = StringProperty("")
    site = StringProperty("")
    operator = StringProperty("")
    alarm_header = StringProperty("")
    alarm_count = NumericProperty(0)
    alarm_title = StringProperty("")
    alarm_facts = StringProperty("")
    alarm_history = StringProperty("")
    alarm_error = StringProperty("")
    selected_state = StringProperty("")
    visitor_name = StringProperty("")
    visitor_company = StringProperty("")
    visitor_match = StringProperty("")
    photo_note = StringProperty("")
    photo_shown = BooleanProperty(False)
    photo_width = NumericProperty(0)

    def __init__(
        self,
        viewmodel: StationViewModel,
        *,
        site: str = "",
        size: tuple[int, int] | None = SIZE,
        operator: str = "guard",
        on_request: RequestSink | None = None,
        **kwargs: Any,
    ) -> None:
        """`size` sets the window size in pixels (None: Kivy's configuration); requests go to `on_request`."""
        super().__init__(**kwargs)
        self.vm = viewmodel
        self.site = site
        self.operator = operator
        self._on_request = on_request
        self._alarm_data: list[dict[str, Any]] | None = None
        self._photo: Photo | None = None
        self.title = "Gatehouse guard station" + (f" - {site}" if site else "")
        self._size = size
        self._inbox: queue.SimpleQueue[_Message] = queue.SimpleQueue()
        self._wake = Clock.create_trigger(self._drain)
        self._drawn = -1
        self.refreshed_frame = 0
        """Clock.frames_displayed at the last redraw of the lists."""

    # thread-safe entry points for the bus adapter
    def post_event(self, event: Event) -> None:
        """Queue an event for the feed; safe to call from any thread."""
        self._inbox.put(event)
        self._wake()

    def post_status(self, device: str, status: Status) -> None:
        """Queue a device's status for the table; safe to call from any thread."""
        self._inbox.put((device, status))
        self._wake()

    def post_alarm(self, alarm_id: str, status: AlarmStatus | None) -> None:
        """Queue an alarm's retained state (None: cleared) for the queue; safe to call from any thread."""
        self._inbox.put(_AlarmUpdate(alarm_id, status))
        self._wake()

    # main thread only
    def select_alarm(self, alarm_id: str) -> None:
        """Select an alarm of the queue (a tap on its row)."""
        try:
            self.vm.alarms.select(alarm_id)
        except ValueError as exc:  # it was cleared between the draw and the tap
            self.alarm_error = str(exc)
        else:
            self.alarm_error = ""
        self.refresh_alarms()

    def request_alarm(self, action: str) -> AlarmRequested | None:
        """Ask the central service to act on the selected alarm; a refusal shows on the error line."""
        note_input = self.root.ids.alarm_note if self.root is not None else None
        minutes = SHELVE_FOR if action == "shelve" else None
        try:
            request = self.vm.alarms.request(
                action, self.operator, note=note_input.text if note_input else None, shelve_minutes=minutes
            )
        except ValueError as exc:
            self._show_error(str(exc))
            return None
        problem = self._send(request)
        if problem is not None:
            self.vm.alarms.forget_request(request.alarm_id)  # nothing went out: nothing is pending
            self._show_error(problem)
            return None
        if note_input is not None:
            note_input.text = ""
        self._show_error("")
        return request

    def _send(self, request: AlarmRequested) -> str | None:
        if self._on_request is None:
            return "this station is not connected: requests cannot be sent"
        try:
            self._on_request(request)
        except Exception as exc:  # the outbox refused it (disk full, closed): say so, keep running
            log.exception("could not send %s of %s", request.action, request.alarm_id)
            return f"could not send the request: {exc}"
        return None

    def _show_error(self, text: str) -> None:
        self.alarm_error = text
        self.refresh_alarms()

    def build(self) -> StationRoot:
        """Load the layout and show what the view-model holds."""
        if self._size is not None:
            Window.size = self._size
        if str(KV_FILE) not in Builder.files:
            Builder.load_file(str(KV_FILE))
        root = StationRoot()
        self._update_clock(0)
        Clock.schedule_interval(self._update_clock, 1.0)
        Clock.schedule_once(lambda _dt: self.refresh())
        return root

    def refresh(self) -> None:
        """Copy the view-model into the lists and the alarm panel, if it changed since the last time."""
        if self.root is None:
            return
        self.refresh_alarms()
        if self._drawn == self.vm.version:
            return
        self._drawn = self.vm.version
        self.root.ids.feed.data = [
            {
                "time": line.time,
                "device": line.device,
                "type": line.type,
                "summary": line.summary,
                "severity": line.severity.value,
                "index": i,
            }
            for i, line in enumerate(self.vm.feed)
        ]
        self.root.ids.devices.data = [
            {
                "device": row.device,
                "kind": row.kind,
                "online": row.online,
                "detail_line": _detail_line(row.state, row.since, row.detail, row.last_event),
                "index": i,
            }
            for i, row in enumerate(self.vm.devices)
        ]
        self.headline = self.vm.headline
        self.refreshed_frame = Clock.frames_displayed

    def refresh_alarms(self) -> None:
        """Copy the alarm queue and the selected alarm's details into the panel, if they changed."""
        if self.root is None:
            return
        alarms = self.vm.alarms
        selected = alarms.selected
        data = [
            {
                "alarm_id": row.alarm_id,
                "priority": row.priority,
                "priority_label": row.priority.upper(),
                "summary": row.summary,
                "count": row.count,
                "status_line": row.status_line,
                "age": row.age,
                "silent": row.silent,
                "selected": row.alarm_id == selected,
                "index": i,
            }
            for i, row in enumerate(alarms.rows)
        ]
        details = alarms.details()
        row = alarms.row(selected) if selected else None
        self.alarm_header = alarms.header
        self.alarm_count = len(data)
        self.alarm_title = details.title if details else "Tap an alarm to act on it"
        self.alarm_facts = details.facts if details else ""
        self.alarm_history = "\n".join(details.history) if details else ""
        self.selected_state = row.state if row else ""
        self._show_visitor(self.vm.selected_visitor())
        if data != self._alarm_data:
            self._alarm_data = data
            self.root.ids.alarms.data = data
            self.refreshed_frame = Clock.frames_displayed

    def _show_visitor(self, visitor: VisitorDetails | None) -> None:
        """Show the visitor behind the selected alarm: name, match and photo (or why there is none)."""
        self.visitor_name = visitor.who if visitor else ""
        self.visitor_company = (visitor.company or "") if visitor else ""
        self.visitor_match = visitor.match if visitor else ""
        photo = visitor.photo if visitor else None
        note = visitor.photo_note if visitor else ""
        if photo is not self._photo:
            self._photo = photo
            self.root.ids.visitor_photo.texture = self._texture(photo)
        texture = self.root.ids.visitor_photo.texture
        if photo is not None and texture is None:
            note = "the photo could not be shown"
        self.photo_shown = photo is not None and texture is not None
        self.photo_note = "" if self.photo_shown else note
        low, high = PHOTO_WIDTHS
        if self.photo_shown:
            width, height = texture.size
            self.photo_width = dp(min(max(PHOTO_HEIGHT * width / max(height, 1), low), high))
        else:
            self.photo_width = dp(PLACEHOLDER_WIDTH) if visitor else 0

    @staticmethod
    def _texture(photo: Photo | None) -> Any:
        if photo is None:
            return None
        try:
            return CoreImage(BytesIO(photo.jpeg), ext="jpg").texture
        except Exception:  # a photo Kivy cannot decode must not stop the station
            log.exception("could not decode a visitor photo of %d bytes", len(photo.jpeg))
            return None

    @property
    def settled(self) -> bool:
        """True when nothing is queued and the last redraw has been on screen for two frames."""
        queued = not self._inbox.empty()
        return not queued and Clock.frames_displayed >= self.refreshed_frame + 2

    def _drain(self, _dt: float) -> None:
        applied = 0
        while True:
            try:
                message = self._inbox.get_nowait()
            except queue.Empty:
                break
            try:
                if isinstance(message, Event):
                    self.vm.on_event(message)
                elif isinstance(message, _AlarmUpdate):
                    self.vm.alarms.on_alarm(message.alarm_id, message.status)
                else:
                    self.vm.on_status(*message)
            except Exception:  # one bad message must not stop the station
                log.exception("could not show %r", message)
            applied += 1
        if applied:
            self.refresh()

    def _update_clock(self, _dt: float) -> None:
        self.clock = datetime.now().astimezone().strftime("%H:%M:%S")
        self.refresh_alarms()  # ages and pending marks move on with the clock


def _detail_line(state: str, since: str, detail: str, last_event: str) -> str:
    parts = [f"{state} since {since}" if since else state]
    if detail:
        parts.append(detail)
    if last_event:
        parts.append(f"last event {last_event}")
    return "  ·  ".join(parts)


def run_station(
    station: StationApp | StationViewModel,
    *,
    run_for: float | None = None,
    screenshot_dir: Path | None = None,
    site: str = "",
    size: tuple[int, int] | None = SIZE,
) -> StationApp:
    """Run the guard station until its window closes, or for `run_for` seconds.

    Give a ready `StationApp` to wire `post_event` / `post_status` to the bus before it
    runs (messages posted early wait for the loop); a view-model is wrapped in a new app.
    With `screenshot_dir`, `station.png` is saved there just before the window closes.
    """
    app = station if isinstance(station, StationApp) else StationApp(station, site=site, size=size)
    if run_for is not None:
        finish = _Finisher(app, screenshot_dir)
        app.bind(on_start=lambda _app: Clock.schedule_once(finish.step, run_for))
    elif screenshot_dir is not None:
        app.bind(on_stop=lambda _app: _save(app, screenshot_dir))
    app.run()
    return app


class _Finisher:
    """Waits for queued messages to be drawn, saves the screenshot, stops the app."""

    def __init__(self, app: StationApp, screenshot_dir: Path | None) -> None:
        self._app = app
        self._dir = screenshot_dir
        self._tries = 0

    def step(self, _dt: float) -> None:
        app = self._app
        if not app.settled and self._tries < 40:
            self._tries += 1
            Clock.schedule_once(self.step, 0.05)
            return
        if self._dir is not None:
            _save(app, self._dir)
        app.stop()


def _save(app: StationApp, directory: Path) -> None:
    private_dir(directory)  # the station shows visitors' names and photos
    path = directory / SCREENSHOT_NAME
    app.root.export_to_png(str(path))
    log.info("saved %s", path)
