"""QR decoding for the kiosk: the text of a QR code held up to a camera, if any."""

from __future__ import annotations

import logging
from typing import Any

import cv2

from devices.camera.frame import Frame

log = logging.getLogger(__name__)


class QrReader:
    """Decode QR codes in frames with OpenCV (about 30 ms per frame).

    The classic QRCodeDetector misses about one generated invitation code in a hundred; the
    ArUco-based detector (OpenCV 4.8+) reads those. A frame where one finds nothing is left to the
    other on the next frame (a code held up stays for many frames, so the cost stays one detector
    per frame); a code found but not read is handed to the other at once.
    """

    def __init__(self) -> None:
        """Create the detectors once; they are reused for every frame."""
        self._detectors: list[Any] = [cv2.QRCodeDetector()]
        if hasattr(cv2, "QRCodeDetectorAruco"):
            self._detectors.append(cv2.QRCodeDetectorAruco())
        self._turn = 0

    def read(self, frame: Frame) -> str | None:
        """The text of the QR code in `frame`, or None if there is none or it cannot be decoded."""
        count = len(self._detectors)
        for step in range(count):
            detector = self._detectors[(self._turn + step) % count]
            try:
                text, points, _ = detector.detectAndDecode(frame)
            except cv2.error as exc:  # degenerate frames (tiny, odd shapes) make OpenCV raise
                log.debug("QR detection failed: %s", exc)
                return None
            if text:
                return str(text)
            if points is None:
                break  # nothing found: the other detector looks at the next frame
        self._turn = (self._turn + 1) % count
        return None
