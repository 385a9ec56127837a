"""Synthetic camera videos with known ground truth, drawn with numpy and OpenCV (for tests and demos)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from broker.schemas import Box, TamperKind
from devices.camera.frame import Frame, u8
from devices.camera.geometry import Polygon, relative_box

log = logging.getLogger(__name__)

FloatImage = npt.NDArray[np.float32]
SCENARIOS = ("static", "lights", "motion", "covered", "blinded", "defocused", "moved", "person")


@dataclass(slots=True, frozen=True)
class Truth:
    """Ground truth of a synthetic video: which frames show motion, tamper or a person (and where)."""

    motion: frozenset[int] = frozenset()
    tamper: TamperKind | None = None
    tamper_frames: frozenset[int] = frozenset()
    people: dict[int, Box] = field(default_factory=dict)


@dataclass(slots=True, frozen=True)
class Scenario:
    """A named synthetic video: size, rate, frame count, a frame renderer and its ground truth."""

    name: str
    width: int
    height: int
    fps: float
    count: int
    render: Callable[[int], Frame]
    truth: Truth

    def frames(self) -> Iterator[Frame]:
        """Every frame, in order."""
        return (self.render(i) for i in range(self.count))

    def write(self, path: Path) -> Path:
        """Write the video as MJPG in an .avi file; return `path`."""
        fourcc = cv2.VideoWriter.fourcc(*"MJPG")
        writer = cv2.VideoWriter(str(path), fourcc, self.fps, (self.width, self.height))
        if not writer.isOpened():
            raise OSError(f"cannot write video {path}")
        try:
            for frame in self.frames():
                writer.write(frame)
        finally:
            writer.release()
        return path


def textured_scene(width: int, height: int, seed: int = 7) -> FloatImage:
    """A static grey 'room': shaded walls, furniture-like rectangles and smooth texture, as floats."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(90, 160, width, dtype=np.float32)[None, :].repeat(height, axis=0)
    scene = ramp + cv2.GaussianBlur(rng.normal(0, 40, (height, width)).astype(np.float32), (0, 0), 4)
    for _ in range(14):
        x, y = int(rng.integers(0, width - 40)), int(rng.integers(0, height - 40))
        w, h = int(rng.integers(20, width // 4)), int(rng.integers(20, height // 3))
        cv2.rectangle(scene, (x, y), (x + w, y + h), float(rng.integers(50, 210)), -1)
    cv2.line(scene, (0, int(height * 0.7)), (width, int(height * 0.65)), 60.0, 3)
    return scene


def draw_person(image: FloatImage | Frame, cx: float, top: float, tall: float, shade: float = 40.0) -> Box:
    """Draw a standing person silhouette `tall` pixels high; return its relative bounding box."""
    s = tall / 180.0

    def pts(*xy: tuple[float, float]) -> npt.NDArray[np.int32]:
        """Silhouette coordinates (a 180-unit tall figure) in pixels."""
        return np.array([(round(cx + x * s), round(top + y * s)) for x, y in xy], np.int32)

    cv2.ellipse(image, (round(cx), round(top + 14 * s)), (round(11 * s), round(14 * s)), 0, 0, 360, shade, -1)
    parts = [
        pts((-5, 26), (5, 26), (5, 34), (-5, 34)),  # neck
        pts((-22, 34), (22, 34), (18, 100), (-18, 100)),  # torso
        pts((-22, 34), (-30, 40), (-30, 95), (-23, 95), (-20, 45)),  # arms
        pts((22, 34), (30, 40), (30, 95), (23, 95), (20, 45)),
        pts((-18, 100), (-1, 100), (-4, 178), (-16, 178)),  # legs
        pts((1, 100), (18, 100), (16, 178), (4, 178)),
    ]
    cv2.fillPoly(image, parts, shade)
    height, width = image.shape[:2]
    return relative_box((cx - 30 * s, top, 60 * s, 178 * s), width, height)


def camera_frame(scene: FloatImage, rng: np.random.Generator, noise: float) -> Frame:
    """A float grey scene as a camera gives it: sensor noise added, clipped, 3-channel uint8."""
    grey = np.clip(scene + rng.normal(0, noise, scene.shape).astype(np.float32), 0, 255).astype(np.uint8)
    return u8(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR))


def scenario(
    name: str, *, width: int = 640, height: int = 360, fps: float = 5.0, noise: float = 5.0
) -> Scenario:
    """The synthetic video called `name` (one of SCENARIOS) with its ground truth."""
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
    margin = 40
    big = textured_scene(width + 2 * margin, height + 2 * margin)
    base = big[margin : margin + height, margin : margin + width].copy()
    count, start, end = (150, 0, 0) if name in ("static", "lights") else (100, 40, 80)
    side = height // 6
    people: dict[int, Box] = {}

    def render(i: int) -> Frame:
        """Frame `i` of the scenario; a fixed seed per frame makes renders repeatable."""
        rng = np.random.default_rng(1000 + i)
        scene = base * (1.0 - 0.3 * i / count)  # slow light ramp: 30% darker over the clip
        if name == "lights" and i >= 75:
            scene = base * 0.55 + 10  # the lights switched: a whole-frame change
        elif name == "motion" and start <= i < end:
            x = round((width - side) * (i - start) / (end - start - 1))
            scene = scene.copy()
            cv2.rectangle(scene, (x, height // 2), (x + side, height // 2 + side), 25.0, -1)
        elif name == "covered" and i >= start:
            scene = np.full_like(base, 14.0)
        elif name == "blinded" and i >= start:
            scene = np.minimum(base * 0.2 + 245, 255.0)
        elif name == "defocused" and i >= start:
            scene = np.asarray(cv2.GaussianBlur(scene, (0, 0), 5), np.float32)
        elif name == "moved" and i >= start:
            dx, dy = 28, 10
            shifted = big[margin + dy : margin + dy + height, margin + dx : margin + dx + width]
            scene = shifted * (1.0 - 0.3 * i / count)
        elif name == "person" and 20 <= i < end:
            scene = scene.copy()
            tall = height * 0.6
            cx = 50 + (width - 100) * (i - 20) / (end - 20 - 1)
            draw_person(scene, cx, height * 0.3, tall)
        return camera_frame(scene, rng, noise)

    truth = Truth()
    if name == "motion":
        truth = Truth(motion=frozenset(range(start, end)))
    elif name == "person":
        for i in range(20, end):
            cx = 50 + (width - 100) * (i - 20) / (end - 20 - 1)
            people[i] = draw_person(np.zeros((height, width), np.float32), cx, height * 0.3, height * 0.6)
        truth = Truth(motion=frozenset(range(20, end)), people=people)
    elif name in ("covered", "blinded", "defocused", "moved"):
        truth = Truth(tamper=TamperKind(name), tamper_frames=frozenset(range(start, count)))
    return Scenario(name, width, height, fps, count, render, truth)


PERSON_ZONE = Polygon(((0.5, 0.6), (1.0, 0.6), (1.0, 1.0), (0.5, 1.0)))  # the right half of the floor
