"""Polygons and boxes in relative frame coordinates (0..1): motion masks, zones, box conversion."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import cast

import cv2
import numpy as np
import numpy.typing as npt

from broker.schemas import Box

Point = tuple[float, float]
Mask = npt.NDArray[np.uint8]


@dataclass(slots=True, frozen=True)
class Polygon:
    """A polygon of at least three points, each (x, y) relative to the frame's width and height."""

    points: tuple[Point, ...]

    def __post_init__(self) -> None:
        """Check the point count and that every coordinate lies in 0..1."""
        if len(self.points) < 3:
            raise ValueError(f"a polygon needs at least 3 points, got {len(self.points)}")
        for x, y in self.points:
            if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
                raise ValueError(f"polygon point {(x, y)} is outside 0..1")

    @classmethod
    def of(cls, points: Iterable[Sequence[float]]) -> Polygon:
        """Build a polygon from any sequence of (x, y) pairs (as read from a config file)."""
        return cls(tuple((float(p[0]), float(p[1])) for p in points))

    def contains(self, x: float, y: float) -> bool:
        """True if the relative point (x, y) is inside the polygon or on its edge (ray casting)."""
        inside = False
        pts = self.points
        for (x1, y1), (x2, y2) in zip(pts, pts[1:] + pts[:1], strict=True):
            if (y1 > y) != (y2 > y):
                cross = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
                if abs(cross - x) < 1e-12:
                    return True
                if x < cross:
                    inside = not inside
        return inside

    def raster(self, width: int, height: int) -> Mask:
        """The polygon drawn as 255 on a zero `height` x `width` uint8 image."""
        image = np.zeros((height, width), np.uint8)
        pixels = np.array([(round(x * (width - 1)), round(y * (height - 1))) for x, y in self.points])
        cv2.fillPoly(image, [pixels.astype(np.int32)], 255)
        return image


@dataclass(slots=True, frozen=True)
class Zone:
    """A named area of the view; a box is in it when the box's bottom centre (its feet) is inside."""

    name: str
    polygon: Polygon

    def holds(self, box: Box) -> bool:
        """True if the bottom centre of `box` lies inside the zone."""
        return self.polygon.contains(box.x + box.w / 2, min(1.0, box.y + box.h))


def zones_of(box: Box, zones: Iterable[Zone]) -> list[str]:
    """The names of the zones that hold `box`, in the order given."""
    return [zone.name for zone in zones if zone.holds(box)]


def keep_mask(polygons: Iterable[Polygon], width: int, height: int) -> Mask | None:
    """255 where analysis looks, 0 under any of the mask `polygons`; None if there are none."""
    polygons = list(polygons)
    if not polygons:
        return None
    masked = np.zeros((height, width), np.uint8)
    for polygon in polygons:
        masked |= polygon.raster(width, height)
    return cast(Mask, cv2.bitwise_not(masked))


def relative_box(rect: tuple[float, float, float, float], width: int, height: int) -> Box:
    """A pixel rectangle (x, y, w, h) in a `width` x `height` image as a Box, clipped to the frame."""
    x, y, w, h = rect
    x0 = min(max(x / width, 0.0), 1.0)
    y0 = min(max(y / height, 0.0), 1.0)
    x1 = min(max((x + w) / width, 0.0), 1.0)
    y1 = min(max((y + h) / height, 0.0), 1.0)
    return Box(x=x0, y=y0, w=max(x1 - x0, 1e-6), h=max(y1 - y0, 1e-6))


def pixel_rect(box: Box, width: int, height: int) -> tuple[int, int, int, int]:
    """A Box as an integer (x, y, w, h) rectangle inside a `width` x `height` image."""
    x0 = max(0, int(box.x * width))
    y0 = max(0, int(box.y * height))
    x1 = min(width, max(x0 + 1, round((box.x + box.w) * width)))
    y1 = min(height, max(y0 + 1, round((box.y + box.h) * height)))
    return x0, y0, x1 - x0, y1 - y0


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (0 when they do not overlap)."""
    ix = max(0.0, min(a.x + a.w, b.x + b.w) - max(a.x, b.x))
    iy = max(0.0, min(a.y + a.h, b.y + b.h) - max(a.y, b.y))
    inter = ix * iy
    union = a.w * a.h + b.w * b.h - inter
    return inter / union if union > 0 else 0.0
