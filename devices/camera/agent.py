"""The camera agent: frames from a FrameSource, analysed, emitted as camera.* events with snapshots."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path

from broker.events import Event
from broker.schemas import Box, CameraMotion, CameraPerson, CameraSnapshot, Data, DeviceFault
from devices.agent import Emitter
from devices.camera.analysis import Analysis, CameraAnalyzer
from devices.camera.capture import CameraNotFoundError, FrameSource, SnapshotWriter
from devices.camera.frame import Frame

log = logging.getLogger(__name__)

SNAPSHOT_EVENTS = frozenset({"camera.motion", "camera.person", "camera.tamper"})


class CameraAgent:
    """Analyse one camera and emit camera.motion / person / tamper, a snapshot each, and faults.

    `process(frame, now)` is the whole per-frame behaviour and needs no capture; `start()` runs
    it on the frames of `source` in a thread. A lost camera, and a camera file that is missing or
    cannot be opened, is one `device.fault` (camera_lost, naming it) and, when it is back, one with
    `cleared=True`. Events are emitted on the capture thread.
    """

    def __init__(
        self,
        analyzer: CameraAnalyzer,
        emitter: Emitter,
        *,
        source: FrameSource | None = None,
        snapshots: SnapshotWriter | None = None,
    ) -> None:
        """Wire the analyzer to `emitter`; with no `snapshots` folder no JPEG is written."""
        self.analyzer = analyzer
        self.camera = analyzer.camera
        self._emitter = emitter
        self._snapshots = snapshots
        self.source = source
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.frames = 0
        self.last: Analysis | None = None  # the latest frame's analysis (for tests and status)
        if source is not None and source.on_connection is None:
            source.on_connection = self.on_connection

    def process(self, frame: Frame, now: float) -> list[Event]:
        """Analyse one frame taken at `now`; emit (and return) its events and their snapshots."""
        self.frames += 1
        analysis = self.last = self.analyzer.analyse(frame, now)
        emitted: list[Event] = []
        for event_type, data in analysis.events:
            event = self._emit(event_type, data)
            if event is None:
                continue
            emitted.append(event)
            if self._snapshots is not None and event_type in SNAPSHOT_EVENTS:
                snap = self._snapshot(event, frame, _boxes(data, analysis))
                if snap is not None:
                    emitted.append(snap)
        return emitted

    def on_connection(self, connected: bool, detail: str) -> None:
        """Emit the camera_lost fault when the camera is lost, and its clearing when it is back."""
        self._emit("device.fault", DeviceFault(fault="camera_lost", detail=detail[:200], cleared=connected))

    def start(self, *, require_camera: bool = False) -> None:
        """Start analysing in a thread; with `require_camera`, a camera that cannot open raises now."""
        if self.source is None:
            raise RuntimeError(f"camera {self.camera} has no frame source")
        if require_camera:
            self.source.open()  # raises CameraNotFoundError naming the camera
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name=f"camera-{self.camera}", daemon=True)
        self._thread.start()

    def run(self) -> None:
        """Analyse frames until stopped or the source (a file) ends; blocks."""
        assert self.source is not None
        try:
            for now, frame in self.source.frames(self._stop):
                try:
                    self.process(frame, now)
                except Exception:  # one bad frame must not stop the camera
                    log.exception("analysis of a frame from camera %s failed", self.camera)
        except CameraNotFoundError as exc:  # a file source that is missing: nothing to retry
            log.error("camera %s stopped: %s", self.camera, exc)  # one line, no traceback
        except Exception:  # the capture itself broke (e.g. cv2.error): say so rather than vanish
            log.exception("camera %s stopped: its capture failed", self.camera)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the analysis thread and release the camera."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end (a file source ends by itself); True if it has."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def _emit(self, event_type: str, data: Data) -> Event | None:
        """Emit one event; a failing emitter is logged, never raised into the capture loop."""
        try:
            return self._emitter.emit(event_type, data)
        except Exception:
            log.exception("cannot emit %s from camera %s", event_type, self.camera)
            return None

    def _snapshot(self, event: Event, frame: Frame, boxes: Sequence[Box]) -> Event | None:
        """Write the JPEG for `event` and emit camera.snapshot pointing at it."""
        assert self._snapshots is not None
        try:
            path = self._snapshots.write(f"{self.camera}-{event.seq:06d}-{event.id}", frame, boxes)
        except OSError:
            log.exception("cannot write the snapshot of %s", event.id)
            return None
        return self._emit("camera.snapshot", CameraSnapshot(
            camera=self.camera, path=_short(path), for_event=event.id))


def _boxes(data: Data, analysis: Analysis) -> Sequence[Box]:
    """The boxes worth outlining in the snapshot of an event."""
    if isinstance(data, CameraMotion):
        return data.boxes
    if isinstance(data, CameraPerson):
        return (data.box,)
    return [p.box for p in analysis.people]


def _short(path: Path) -> str:
    """The path as event text (at most 200 characters: the folder is dropped if it must be)."""
    text = str(path)
    return text if len(text) <= 200 else path.name[-200:]
