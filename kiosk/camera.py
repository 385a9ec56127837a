"""The kiosk's camera: a live preview for the photo screen, a small JPEG snapshot, QR reading.

A thread reads the camera (a device index, a stream URL or a video file, which loops) and keeps
the latest frame, so `preview()` and `snapshot()` answer at once and the UI never waits on the
camera. A missing or lost camera is reported once; meanwhile `available` is False and the
check-in flow skips the photo step. A live camera is reopened in the background.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable

import cv2

from devices.camera.capture import (
    CameraNotFoundError,
    Capture,
    FrameSource,
    Source,
    describe,
    open_capture,
    parse_source,
)
from devices.camera.frame import Frame, u8
from devices.camera.qr import QrReader
from devices.serial_port import Backoff
from kiosk.ports import Photo

log = logging.getLogger(__name__)

MAX_WIDTH = 480
"""Widest photo sent in `visitor.photo`, in pixels."""
MAX_JPEG_BYTES = 60_000
"""Largest photo sent: well under the contract's 180,000 base64 characters (135,000 bytes)."""
_DEVICE_PATH = re.compile(r"^/dev/video(\d+)$")
_QUALITIES = (85, 75, 65, 55, 45, 35, 25)


class KioskCamera:
    """The kiosk's camera, read in a thread; `preview()` and `snapshot()` never block on it."""

    def __init__(
        self,
        source: Source,
        *,
        fps: float = 15.0,
        stale_s: float = 2.0,
        max_width: int = MAX_WIDTH,
        max_bytes: int = MAX_JPEG_BYTES,
        backoff: Backoff | None = None,
        opener: Callable[[Source], Capture] = open_capture,
    ) -> None:
        """Prepare; the camera is opened by `start()`. `/dev/videoN` is taken as device index N."""
        if isinstance(source, str) and (device := _DEVICE_PATH.match(source.strip())):
            source = int(device.group(1))
        if max_width < 16 or max_bytes < 2_000 or fps <= 0 or stale_s <= 0:
            raise ValueError("camera needs max_width >= 16, max_bytes >= 2000, fps > 0 and stale_s > 0")
        self._source, self._opener = source, opener
        self._backoff = backoff or Backoff(initial=1.0, maximum=30.0)
        self.name = describe(parse_source(source))
        self._fps, self._stale_s = fps, stale_s
        self._max_width, self._max_bytes = max_width, max_bytes
        self._lock = threading.Lock()
        self._latest: Frame | None = None
        self._latest_at = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failed = False

    @property
    def available(self) -> bool:
        """True while the camera delivers frames (one within the last `stale_s` seconds)."""
        with self._lock:
            return self._latest is not None and time.monotonic() - self._latest_at <= self._stale_s

    def wait_available(self, timeout: float) -> bool:
        """Block up to `timeout` seconds for the first frame; True if the camera is available."""
        deadline = time.monotonic() + timeout
        while not self.available:
            if self._failed or time.monotonic() >= deadline or self._stop.wait(0.02):
                return self.available
        return True

    def start(self) -> None:
        """Start reading the camera in a thread."""
        if self._thread is not None:
            raise RuntimeError(f"{self.name} already started")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="kiosk-camera", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop reading and release the camera; safe to call twice."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(5.0)
        with self._lock:
            self._latest = None

    def preview(self) -> Frame | None:
        """The latest frame (BGR) for the screen, or None when the camera is unavailable."""
        with self._lock:
            if self._latest is None or time.monotonic() - self._latest_at > self._stale_s:
                return None
            return self._latest

    def snapshot(self) -> tuple[bytes, int, int] | None:
        """The latest frame as (JPEG bytes, width, height), at most `max_width` wide; None if unavailable."""
        frame = self.preview()
        return None if frame is None else encode_photo(frame, self._max_width, self._max_bytes)

    def photo(self) -> Photo | None:
        """The snapshot as the check-in flow keeps it, or None if the camera is unavailable."""
        snap = self.snapshot()
        return None if snap is None else Photo(jpeg=snap[0], width=snap[1], height=snap[2])

    def _run(self) -> None:
        """Reader thread: keep the latest frame; loop a video file; stop on a missing file."""
        period = 1.0 / self._fps
        while not self._stop.is_set():
            frames = self._new_frames()  # a file starts again from its first frame and its own clock
            count = 0
            try:
                for _when, frame in frames.frames(self._stop):
                    count += 1
                    with self._lock:
                        self._latest, self._latest_at = frame, time.monotonic()
                    if not frames.live and self._stop.wait(period):  # a file plays at `fps`
                        return
            except (CameraNotFoundError, cv2.error) as exc:
                self._failed = True
                log.warning("%s; the photo step is skipped", exc)
                return
            if count == 0 and not self._stop.is_set():
                self._failed = True
                log.warning("%s gave no frame; the photo step is skipped", self.name)
                return

    def _new_frames(self) -> FrameSource:
        """A frame source on the camera, paced at `fps`, telling `_connection` of a lost camera."""
        return FrameSource(self._source, fps=self._fps, backoff=self._backoff, on_connection=self._connection,
                           opener=self._opener)

    def _connection(self, connected: bool, _detail: str) -> None:
        """A live camera lost (FrameSource logged it once): forget its last frame."""
        if not connected:
            with self._lock:
                self._latest = None


def encode_photo(
    frame: Frame, max_width: int = MAX_WIDTH, max_bytes: int = MAX_JPEG_BYTES
) -> tuple[bytes, int, int]:
    """`frame` scaled down to at most `max_width` wide and JPEG-encoded in at most `max_bytes`."""
    height, width = frame.shape[:2]
    if width > max_width:
        height, width = max(1, round(height * max_width / width)), max_width
        frame = u8(cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA))
    data = b""
    for quality in _QUALITIES:
        ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise ValueError(f"cannot encode a {frame.shape} frame as JPEG")
        data = jpeg.tobytes()
        if len(data) <= max_bytes:
            return data, width, height
    while len(data) > max_bytes and width > 16:  # still too big at the lowest quality: shrink
        height, width = max(1, height * 3 // 4), width * 3 // 4
        frame = u8(cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA))
        ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, _QUALITIES[-1]])
        data = jpeg.tobytes()
    return data, width, height


_READERS = threading.local()


def read_qr(frame: Frame) -> str | None:
    """The text of a QR code held up to the camera in `frame`, if any (about 30 ms)."""
    reader: QrReader | None = getattr(_READERS, "reader", None)
    if reader is None:
        reader = _READERS.reader = QrReader()
    return reader.read(frame)
