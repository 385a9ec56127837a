"""Person detection with OpenCV's HOG people detector, run only on padded motion regions."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from broker.schemas import Box
from devices.camera.frame import Frame, u8
from devices.camera.geometry import iou, pixel_rect, relative_box

log = logging.getLogger(__name__)

WINDOW = (64, 128)  # the default people detector's window: people smaller than this are missed


@dataclass(slots=True, frozen=True)
class PersonConfig:
    """Tuning of the people detector."""

    min_confidence: float = 0.4  # confidence = 1 - exp(-svm margin); 0.4 is a margin of about 0.5
    pad: float = 0.5  # each motion box grows by this fraction of its size on every side
    max_region_height: int = 320  # taller regions are scaled down to this many rows (CPU bound)
    max_regions: int = 3  # at most this many regions per frame, largest first
    scale: float = 1.05  # pyramid step of detectMultiScale
    stride: int = 8  # window stride in pixels


@dataclass(slots=True, frozen=True)
class Person:
    """One person found: a relative box and a confidence in 0..1."""

    box: Box
    confidence: float


def confidence(margin: float) -> float:
    """Map a HOG SVM margin (0 at the decision boundary) to 0..1."""
    return 1.0 - math.exp(-max(0.0, margin))


class PersonDetector:
    """Find people in the motion regions of a frame (never in the whole frame)."""

    def __init__(self, config: PersonConfig | None = None) -> None:
        """Load the default HOG people detector."""
        self.config = config or PersonConfig()
        self._hog = cv2.HOGDescriptor()
        self._hog.setSVMDetector(np.asarray(cv2.HOGDescriptor.getDefaultPeopleDetector(), np.float32))

    def regions(self, motion: Sequence[Box], width: int, height: int) -> list[tuple[int, int, int, int]]:
        """Padded pixel regions around motion boxes, grown to the detector's window, overlaps merged."""
        pad = self.config.pad
        rects: list[tuple[int, int, int, int]] = []
        for box in motion:
            x, y, w, h = pixel_rect(box, width, height)
            cx, cy = x + w / 2, y + h / 2
            w2 = max(w * (1 + 2 * pad), WINDOW[0] * 1.25) / 2
            h2 = max(h * (1 + 2 * pad), WINDOW[1] * 1.25) / 2
            rects.append(_clip((cx - w2, cy - h2, cx + w2, cy + h2), width, height))
        merged = True
        while merged:  # overlapping regions become one, so a person is never cut in two
            merged = False
            for i in range(len(rects)):
                for j in range(i + 1, len(rects)):
                    a, b = rects[i], rects[j]
                    if _overlap(a, b):
                        corners = (min(a[0], b[0]), min(a[1], b[1]),
                                   max(a[0] + a[2], b[0] + b[2]), max(a[1] + a[3], b[1] + b[3]))
                        rects[i] = _clip(corners, width, height)
                        del rects[j]
                        merged = True
                        break
                if merged:
                    break
        rects.sort(key=lambda r: r[2] * r[3], reverse=True)
        return rects[: self.config.max_regions]

    def detect(self, frame: Frame, motion: Sequence[Box]) -> list[Person]:
        """People inside the padded `motion` regions of `frame`, best first, duplicates removed."""
        cfg = self.config
        height, width = frame.shape[:2]
        found: list[Person] = []
        for x, y, w, h in self.regions(motion, width, height):
            if w < WINDOW[0] or h < WINDOW[1]:
                continue
            crop = frame[y : y + h, x : x + w]
            factor = min(1.0, cfg.max_region_height / h)
            if w * factor < WINDOW[0] or h * factor < WINDOW[1]:
                factor = max(WINDOW[0] / w, WINDOW[1] / h)
            if factor < 1.0:
                size = (round(w * factor), round(h * factor))
                crop = u8(cv2.resize(crop, size, interpolation=cv2.INTER_AREA))
            rects, weights = self._hog.detectMultiScale(
                crop, hitThreshold=0.0, winStride=(cfg.stride, cfg.stride), padding=(8, 8), scale=cfg.scale)
            for (rx, ry, rw, rh), weight in zip(rects, list(weights), strict=True):
                conf = confidence(float(weight))
                if conf >= cfg.min_confidence:
                    rect = (x + rx / factor, y + ry / factor, rw / factor, rh / factor)
                    box = relative_box(rect, width, height)
                    found.append(Person(box, conf))
        found.sort(key=lambda p: p.confidence, reverse=True)
        kept: list[Person] = []
        for person in found:
            if all(iou(person.box, other.box) < 0.3 for other in kept):
                kept.append(person)
        log.debug("%d people in %d motion boxes", len(kept), len(motion))
        return kept


Rect = tuple[int, int, int, int]


def _overlap(a: Rect, b: Rect) -> bool:
    """True if two (x, y, w, h) rectangles overlap."""
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _clip(corners: tuple[float, float, float, float], width: int, height: int) -> Rect:
    """A float (x0, y0, x1, y1) rectangle clipped to the image, as integer (x, y, w, h)."""
    x0, y0, x1, y1 = corners
    left, top = max(0, int(x0)), max(0, int(y0))
    right, bottom = min(width, math.ceil(x1)), min(height, math.ceil(y1))
    return left, top, max(0, right - left), max(0, bottom - top)
