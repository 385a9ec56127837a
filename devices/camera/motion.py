"""Cheap motion detection as Frigate does it: a small blurred grey frame against a running average."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from broker.schemas import Box
from devices.camera.frame import Frame, u8
from devices.camera.geometry import Mask, Polygon, keep_mask, relative_box

log = logging.getLogger(__name__)

@dataclass(slots=True, frozen=True)
class MotionConfig:
    """Tuning of the motion detector; the defaults suit 5 analysed frames per second."""

    height: int = 100  # rows of the analysed frame (the width keeps the aspect ratio)
    alpha: float = 0.02  # weight of each new frame in the running average
    threshold: int = 30  # grey-level difference that counts as changed
    min_area: float = 0.0015  # smallest motion box, as a fraction of the frame
    whole_frame: float = 0.6  # changed fraction above which the view is recalibrated
    global_shift: float = 25.0  # mean grey-level jump that is a lighting change, not motion
    calibration_frames: int = 5  # frames learned (and never reported) after a (re)start


@dataclass(slots=True, frozen=True)
class Motion:
    """What one frame showed: motion boxes (relative), the changed fraction, and whether it recalibrated."""

    boxes: tuple[Box, ...] = ()
    score: float = 0.0
    recalibrated: bool = False

    @property
    def seen(self) -> bool:
        """True if there is at least one motion box."""
        return bool(self.boxes)


def to_grey(frame: Frame) -> Frame:
    """A single-channel view of a BGR (or already grey) frame."""
    if frame.ndim == 2:
        return frame
    return u8(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))


def shrink(grey: Frame, height: int) -> Frame:
    """`grey` resized to `height` rows, keeping the aspect ratio (area averaging tames noise)."""
    rows, cols = grey.shape[:2]
    width = max(1, round(cols * height / rows))
    return u8(cv2.resize(grey, (width, height), interpolation=cv2.INTER_AREA))


class MotionDetector:
    """Find moving areas in successive frames of one camera; masked areas are never reported."""

    def __init__(self, config: MotionConfig | None = None, *, masks: Sequence[Polygon] = ()) -> None:
        """Start uncalibrated; `masks` are relative polygons to ignore (a clock, a tree, a road)."""
        self.config = config or MotionConfig()
        self._masks = tuple(masks)
        self._keep: Mask | None = None
        self._average: npt.NDArray[np.float32] | None = None
        self._learning = 0
        self._kernel = np.ones((3, 3), np.uint8)

    def recalibrate(self) -> None:
        """Forget the background: the next frames are learned, not compared."""
        self._average = None

    def prepare(self, frame: Frame) -> Frame:
        """The small blurred grey frame the detector compares (shared with the tamper checks)."""
        small = shrink(to_grey(frame), self.config.height)
        return u8(cv2.GaussianBlur(small, (3, 3), 0))

    def detect(self, frame: Frame) -> Motion:
        """Compare one BGR or grey frame with the running average and return its motion."""
        return self.detect_small(self.prepare(frame))

    def detect_small(self, small: Frame) -> Motion:
        """Like `detect`, for a frame already passed through `prepare`."""
        cfg = self.config
        if self._average is None or self._average.shape != small.shape:
            self._start(small)
            return Motion(recalibrated=True)
        delta = cv2.absdiff(small, cv2.convertScaleAbs(self._average))
        changed = u8(cv2.threshold(delta, cfg.threshold, 255, cv2.THRESH_BINARY)[1])
        if self._keep is not None:
            changed = u8(cv2.bitwise_and(changed, self._keep))
        score = float(cv2.countNonZero(changed)) / changed.size
        shift = abs(float(small.mean()) - float(self._average.mean()))
        if score > cfg.whole_frame or shift > cfg.global_shift:
            log.debug("whole-frame change (%.0f%% changed, mean moved %.0f): recalibrating",
                      100 * score, shift)
            self._start(small)
            return Motion(score=min(score, 1.0), recalibrated=True)
        cv2.accumulateWeighted(small, self._average, cfg.alpha)
        if self._learning > 0:
            self._learning -= 1
            return Motion()
        return Motion(self._boxes(changed), min(score, 1.0))

    def _start(self, small: Frame) -> None:
        """Take `small` as the background and learn for a few frames."""
        rows, cols = small.shape[:2]
        self._average = small.astype(np.float32)
        self._learning = self.config.calibration_frames
        if self._keep is None or self._keep.shape != small.shape:
            self._keep = keep_mask(self._masks, cols, rows)

    def _boxes(self, changed: Frame) -> tuple[Box, ...]:
        """Bounding boxes of the changed areas big enough to count, largest first."""
        rows, cols = changed.shape[:2]
        dilated = cv2.dilate(changed, self._kernel, iterations=2)
        contours = cv2.findContours(dilated, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[0]
        min_area = self.config.min_area * rows * cols
        rects = [tuple(map(float, cv2.boundingRect(c))) for c in contours if cv2.contourArea(c) >= min_area]
        rects.sort(key=lambda r: r[2] * r[3], reverse=True)
        return tuple(relative_box((x, y, w, h), cols, rows) for x, y, w, h in rects)
