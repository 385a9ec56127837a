"""OpenCV capture: open a device index, a stream URL or a file, pace frames, reconnect, write snapshots."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Protocol

import cv2
from cv2.typing import MatLike

from broker.private import private_dir, private_file
from broker.schemas import Box
from devices.camera.decide import RateLimiter
from devices.camera.frame import Frame, u8
from devices.camera.geometry import pixel_rect
from devices.serial_port import Backoff

log = logging.getLogger(__name__)

Source = int | str
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]*@")
OPEN_TIMEOUT_MS = 5000


class CameraNotFoundError(OSError):
    """A camera that cannot be opened; the text names it (device, stream or file) and why."""


class Capture(Protocol):
    """The part of cv2.VideoCapture the frame source uses (a fake in tests)."""

    def grab(self) -> bool:
        """Take the next frame without decoding it."""
        ...

    def retrieve(self) -> tuple[bool, MatLike]:
        """Decode the frame taken by the last grab."""
        ...

    def get(self, prop_id: int) -> float:
        """A capture property (frame rate, position)."""
        ...

    def release(self) -> None:
        """Close the camera."""
        ...


def parse_source(spec: Source) -> Source:
    """A config value as a capture source: '0' or 0 is a device index, anything else a URL or path."""
    if isinstance(spec, int):
        return spec
    text = spec.strip()
    return int(text) if text.isdigit() else text


def describe(source: Source) -> str:
    """A printable name of `source`, with any URL credentials removed."""
    if isinstance(source, int):
        return f"camera device {source} (/dev/video{source})"
    if _URL.match(source):
        return f"camera stream {_CREDENTIALS.sub('***@', source)}"
    return f"camera file {source}"


def is_live(source: Source) -> bool:
    """True for devices and streams (which can drop), False for files (which end)."""
    return isinstance(source, int) or bool(_URL.match(source))


def open_capture(source: Source) -> Capture:
    """Open `source` with cv2.VideoCapture; raise CameraNotFoundError naming it if it cannot be opened."""
    if isinstance(source, int):
        capture = cv2.VideoCapture(source)
    elif _URL.match(source):
        capture = cv2.VideoCapture(source, cv2.CAP_FFMPEG, [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, OPEN_TIMEOUT_MS, cv2.CAP_PROP_READ_TIMEOUT_MSEC, OPEN_TIMEOUT_MS])
    elif not Path(source).is_file():
        raise CameraNotFoundError(f"{describe(source)} does not exist")
    else:
        capture = cv2.VideoCapture(source)
    if not capture.isOpened():
        capture.release()
        raise CameraNotFoundError(f"{describe(source)} cannot be opened")
    return capture


class FrameSource:
    """Frames of one camera at most `fps` per second, with timestamps; a live source reconnects.

    A lost or unopenable live camera is retried with `backoff`; `on_connection(False, reason)`
    is called once when it is lost and `on_connection(True, name)` once when it is back. A file
    ends the iteration at its end and is timed by its own frame rate, so tests are repeatable; a
    file that is missing or unreadable is reported to `on_connection(False, reason)` and raises.
    """

    def __init__(
        self,
        source: Source,
        *,
        fps: float = 5.0,
        live: bool | None = None,
        backoff: Backoff | None = None,
        on_connection: Callable[[bool, str], None] | None = None,
        opener: Callable[[Source], Capture] = open_capture,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Remember the settings; nothing is opened until iteration (or `open()`)."""
        self.source = parse_source(source)
        self.name = describe(self.source)
        self.live = is_live(self.source) if live is None else live
        self._limiter = RateLimiter(fps)
        self._backoff = backoff or Backoff(initial=0.5, maximum=30.0)
        self.on_connection = on_connection
        self._opener = opener
        self._clock = clock
        self._capture: Capture | None = None
        self.connected = False
        self._reported_lost = False

    def open(self) -> None:
        """Open the camera now; raise CameraNotFoundError naming it if that fails.

        A file that is missing or cannot be opened is reported to `on_connection(False, reason)`
        once (a live camera is reported by the reconnect loop instead, which retries it).
        """
        try:
            self._capture = self._opener(self.source)
        except CameraNotFoundError as exc:
            if not self.live and not self._reported_lost:
                self._reported_lost = True
                self._notify(False, str(exc))
            raise
        self.connected = True
        self._backoff.reset()
        if self._reported_lost:
            self._reported_lost = False
            log.info("%s is back", self.name)
            self._notify(True, self.name)

    def close(self) -> None:
        """Release the camera if it is open."""
        if self._capture is not None:
            self._capture.release()
            self._capture = None
        self.connected = False

    def frames(self, stop: threading.Event) -> Iterator[tuple[float, Frame]]:
        """Yield (time, frame) pairs until `stop` is set (or a file ends); always releases the camera."""
        try:
            yield from self._frames(stop)
        finally:
            self.close()

    def _frames(self, stop: threading.Event) -> Iterator[tuple[float, Frame]]:
        """The body of `frames`."""
        index = 0
        while not stop.is_set():
            if self._capture is None and not self._reopen(stop):
                continue
            assert self._capture is not None
            if not self._capture.grab():
                if not self.live:
                    log.info("%s ended after %d frames", self.name, index)
                    return
                self.close()
                self._lost("no frame received")
                continue
            now = self._clock() if self.live else index / (self._capture.get(cv2.CAP_PROP_FPS) or 25.0)
            index += 1
            if not self._limiter.due(now):
                continue
            ok, frame = self._capture.retrieve()
            if ok and frame is not None:
                yield now, u8(frame)

    def _reopen(self, stop: threading.Event) -> bool:
        """Try to (re)open the camera once, after the backoff delay if it failed before."""
        try:
            self.open()
        except CameraNotFoundError as exc:
            if not self.live:
                raise
            self._lost(str(exc))
            stop.wait(self._backoff.next_delay())
            return False
        return True

    def _lost(self, reason: str) -> None:
        """Report the camera lost once per outage."""
        if self._reported_lost:
            log.debug("%s still unavailable: %s", self.name, reason)
            return
        self._reported_lost = True
        log.warning("%s lost: %s; reconnecting", self.name, reason)
        self._notify(False, reason)

    def _notify(self, connected: bool, detail: str) -> None:
        """Call `on_connection`, never letting its failure stop the capture loop."""
        if self.on_connection is None:
            return
        try:
            self.on_connection(connected, detail)
        except Exception:
            log.exception("connection callback failed for %s", self.name)


class SnapshotWriter:
    """Write JPEG snapshots of events into a folder (atomically: a reader never sees half a file)."""

    def __init__(self, folder: Path, *, quality: int = 85) -> None:
        """Create `folder` if needed; `quality` is the JPEG quality 1..100."""
        if not 1 <= quality <= 100:
            raise ValueError(f"JPEG quality must be 1..100, got {quality}")
        self.folder = folder
        self.quality = quality
        private_dir(folder)

    def write(self, name: str, frame: Frame, boxes: Sequence[Box] = ()) -> Path:
        """Encode `frame` (with `boxes` outlined) as `<name>.jpg` in the folder; return its path."""
        if boxes:
            frame = frame.copy()
            height, width = frame.shape[:2]
            for box in boxes:
                x, y, w, h = pixel_rect(box, width, height)
                cv2.rectangle(frame, (x, y), (x + w - 1, y + h - 1), (0, 0, 255), 2)
        ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:
            raise OSError(f"cannot encode a {frame.shape} frame as JPEG")
        path = self.folder / f"{name}.jpg"
        partial = path.with_suffix(".jpg.part")
        private_file(partial).write_bytes(jpeg.tobytes())
        partial.replace(path)
        return path
