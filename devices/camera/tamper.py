"""Tamper checks on a small grey frame: lens covered, blinded, defocused, camera moved.

Each check gives a raw suspicion per frame; an `Episode` per kind turns suspicions into one
start and one end per episode (time hysteresis), and defocus also has threshold hysteresis.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt

from broker.schemas import TamperKind
from devices.camera.decide import Change, Episode
from devices.camera.frame import Frame
from devices.camera.motion import shrink, to_grey

log = logging.getLogger(__name__)


@dataclass(slots=True, frozen=True)
class TamperConfig:
    """Tuning of the tamper checks; levels are grey values 0..255, times are seconds."""

    height: int = 180  # rows of the analysed frame
    dark_level: float = 20.0  # mean below this: covered, whatever the texture
    uniform_std: float = 8.0  # grey standard deviation below this: covered (no texture left)
    blind_level: float = 225.0  # mean above this: blinded
    saturated_fraction: float = 0.6  # or this fraction of pixels at 250 or more: blinded
    coarse_height: int = 100  # sharpness is also judged here: noise hides blur at the finer scale
    defocus_enter: float = 0.5  # sharpness below this fraction of its baseline (at either scale)
    defocus_exit: float = 0.7  # ... and back above this fraction at both: sharp again
    baseline_alpha: float = 0.02  # how fast the sharpness baseline follows a healthy view
    moved_fraction: float = 0.03  # background shift, as a fraction of the width, that is a move
    reference_s: float = 60.0  # a healthy view refreshes the reference this often
    moved_accept_s: float = 300.0  # a moved view becomes the new reference after this long
    warmup_frames: int = 5  # healthy frames learned before defocus and moves are judged
    on_s: float = 1.0  # a suspicion must last this long to start an episode
    off_s: float = 2.0  # ... and be gone this long to end it


@dataclass(slots=True, frozen=True)
class TamperState:
    """What one frame showed: raw suspicions, the active episodes, and the episode changes."""

    suspected: frozenset[TamperKind] = frozenset()
    active: frozenset[TamperKind] = frozenset()
    changes: tuple[tuple[TamperKind, Change], ...] = ()
    measures: dict[str, float] = field(default_factory=dict)


def sharpness(grey: Frame) -> float:
    """Laplacian variance over image variance: high for a focused view, independent of gain.

    A 3x3 blur first keeps sensor noise (which a defocused lens does not remove) out of it.
    """
    lap_std = cv2.meanStdDev(cv2.Laplacian(cv2.GaussianBlur(grey, (3, 3), 0), cv2.CV_32F))[1][0, 0]
    std = cv2.meanStdDev(grey)[1][0, 0]
    return float(lap_std**2 / (std**2 + 1.0))


class TamperDetector:
    """Watch one camera's view for interference; feed it every analysed frame with its time."""

    def __init__(self, config: TamperConfig | None = None) -> None:
        """Start with no baseline and no reference."""
        self.config = cfg = config or TamperConfig()
        self._episodes = {kind: Episode(cfg.on_s, cfg.off_s) for kind in TamperKind}
        self._baseline: list[float] | None = None
        self._reference: npt.NDArray[np.float32] | None = None
        self._window: npt.NDArray[np.float32] | None = None
        self._referenced_at = 0.0
        self._moved_since: float | None = None
        self._healthy = 0
        self._defocused = False

    def accept_view(self, now: float) -> None:
        """Take the next frame as the reference view (after a deliberate move of the camera)."""
        self._reference = None
        self._referenced_at = now

    def update(self, frame: Frame, now: float) -> TamperState:
        """Check one BGR or grey frame taken at `now`; return suspicions, episodes and changes."""
        cfg = self.config
        grey = shrink(to_grey(frame), cfg.height)
        mean_a, std_a = cv2.meanStdDev(grey)
        mean, std = float(mean_a[0, 0]), float(std_a[0, 0])
        saturated = float(np.count_nonzero(grey >= 250)) / grey.size
        measures = {"mean": mean, "std": std, "saturated": saturated}
        suspected: set[TamperKind] = set()
        if mean > cfg.blind_level or saturated > cfg.saturated_fraction:
            suspected.add(TamperKind.BLINDED)
        elif mean < cfg.dark_level or std < cfg.uniform_std:
            suspected.add(TamperKind.COVERED)
        else:
            suspected |= self._view_checks(grey, now, measures)
        judged = set(TamperKind) if not suspected & {TamperKind.BLINDED, TamperKind.COVERED} else {
            TamperKind.BLINDED, TamperKind.COVERED}  # a blank view says nothing of focus or aim
        changes = []
        for kind in sorted(judged):
            change = self._episodes[kind].update(kind in suspected, now)
            if change is not None:
                log.info("tamper %s %s", kind, change)
                changes.append((kind, change))
        active = frozenset(k for k, e in self._episodes.items() if e.active)
        return TamperState(frozenset(suspected), active, tuple(changes), measures)

    def _view_checks(self, grey: Frame, now: float, measures: dict[str, float]) -> set[TamperKind]:
        """Defocus and move checks on a view that is neither blank nor blinding."""
        cfg = self.config
        found: set[TamperKind] = set()
        sharp = [sharpness(grey), sharpness(shrink(grey, cfg.coarse_height))]
        measures["sharpness"] = sharp[0]
        if self._reference is None:
            self._take_reference(grey, now)
        if self._healthy < cfg.warmup_frames or self._baseline is None:
            self._healthy += 1
            self._baseline = sharp if self._baseline is None else [
                0.5 * (b + s) for b, s in zip(self._baseline, sharp, strict=True)]
            return found
        ratio = min(s / b if b > 0 else 1.0 for s, b in zip(sharp, self._baseline, strict=True))
        measures["sharpness_ratio"] = ratio
        self._defocused = ratio < (cfg.defocus_exit if self._defocused else cfg.defocus_enter)
        if self._defocused:
            found.add(TamperKind.DEFOCUSED)
        shift = self._shift(grey)
        measures["shift"] = shift
        if shift > cfg.moved_fraction * grey.shape[1]:
            self._moved_since = now if self._moved_since is None else self._moved_since
            if self._episodes[TamperKind.MOVED].active and now - self._moved_since >= cfg.moved_accept_s:
                log.warning("view moved for %.0f s: taking it as the new reference", now - self._moved_since)
                self._take_reference(grey, now)
            else:
                found.add(TamperKind.MOVED)
        else:
            self._moved_since = None
        if not found:
            alpha = cfg.baseline_alpha
            self._baseline = [b + alpha * (s - b) for b, s in zip(self._baseline, sharp, strict=True)]
            if now - self._referenced_at >= cfg.reference_s and not self._episodes[TamperKind.MOVED].active:
                self._take_reference(grey, now)
        return found

    def _take_reference(self, grey: Frame, now: float) -> None:
        """Remember `grey` as the view the camera should keep seeing."""
        if self._window is None or self._window.shape != grey.shape:
            window = cv2.createHanningWindow((grey.shape[1], grey.shape[0]), cv2.CV_32F)
            self._window = np.asarray(window, np.float32)
        self._reference = grey.astype(np.float32) * self._window
        self._referenced_at = now
        self._moved_since = None

    def _shift(self, grey: Frame) -> float:
        """How far (pixels) the background moved against the reference, by phase correlation."""
        if self._reference is None or self._window is None or self._reference.shape != grey.shape:
            return 0.0
        # windowed here: cv2.phaseCorrelate(a, b, window) multiplies a and b by the window in place
        (dx, dy), _response = cv2.phaseCorrelate(self._reference, grey.astype(np.float32) * self._window)
        return math.hypot(dx, dy)
