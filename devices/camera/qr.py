"""QR decoding for the kiosk: the text of a QR code held up to a camera, if any."""

from __future__ import annotations

import logging

import cv2

from devices.camera.motion import Frame

_LOG = logging.getLogger(__name__)


class QrReader:
    """Decode QR codes in frames with OpenCV's QRCodeDetector (about 30 ms per frame)."""

    def __init__(self) -> None:
        """Create the detector once; it is reused for every frame."""
        self._detector = cv2.QRCodeDetector()

    def read(self, frame: Frame) -> str | None:
        """The text of the QR code in `frame`, or None if there is none or it cannot be decoded."""
        try:
            text, points, _ = self._detector.detectAndDecode(frame)
        except cv2.error as exc:  # degenerate frames (tiny, odd shapes) make OpenCV raise
            _LOG.debug("QR detection failed: %s", exc)
            return None
        if points is None or not text:
            return None
        return str(text)
