"""A finger signature as a compact SVG path (pure); whether it counts is `kiosk.flow.values.is_signed`.

Strokes come from the signature pad as lists of (x, y) points, each 0..1 of the pad's width and
height. The path uses absolute coordinates rounded to 3 decimals in a 1 x 1 view box
(`viewBox="0 0 1 1"`); a path longer than the contract allows is simplified with
Ramer-Douglas-Peucker at growing tolerances until it fits.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

from kiosk.flow.values import Point

log = logging.getLogger(__name__)

MAX_PATH_CHARS = 60_000
"""The longest signature `visitor.agreed` carries."""
Stroke = Sequence[Point]
_TOLERANCES = (0.001, 0.002, 0.004, 0.008, 0.016, 0.032)


def svg_path(strokes: Sequence[Stroke], max_chars: int = MAX_PATH_CHARS, *, y_up: bool = False) -> str:
    """The strokes as one SVG path ("M.1 .2L.3 .4 ..."), at most `max_chars` characters long.

    SVG's y grows downwards; with `y_up` (Kivy's coordinates) y is turned over first.
    """
    if max_chars < 1:
        raise ValueError(f"max_chars must be positive, got {max_chars}")
    if y_up:
        strokes = [[(x, 1.0 - y) for x, y in stroke] for stroke in strokes]
    clean = [s for s in (_clean(stroke) for stroke in strokes) if s]
    path = _path(clean)
    for tolerance in _TOLERANCES:
        if len(path) <= max_chars:
            return path
        path = _path([simplify(stroke, tolerance) for stroke in clean])
    if len(path) <= max_chars:
        return path
    kept: list[str] = []
    size = 0
    simplest = [simplify(stroke, _TOLERANCES[-1]) for stroke in clean]
    for stroke in simplest:
        part = _path([stroke])
        if size + len(part) > max_chars:
            break
        kept.append(part)
        size += len(part)
    log.warning("signature too long even simplified: kept %d of %d strokes", len(kept), len(clean))
    return "".join(kept)


def simplify(points: Sequence[Point], tolerance: float) -> list[Point]:
    """Ramer-Douglas-Peucker: drop points closer than `tolerance` to the line they lie on."""
    if len(points) < 3:
        return list(points)
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    pending = [(0, len(points) - 1)]
    while pending:
        first, last = pending.pop()
        farthest, distance = 0, -1.0
        for i in range(first + 1, last):
            d = _segment_distance(points[i], points[first], points[last])
            if d > distance:
                farthest, distance = i, d
        if distance > tolerance:
            keep[farthest] = True
            pending += [(first, farthest), (farthest, last)]
    return [p for p, kept in zip(points, keep, strict=True) if kept]


def _segment_distance(p: Point, a: Point, b: Point) -> float:
    """The distance from `p` to the segment from `a` to `b`."""
    (px, py), (ax, ay), (bx, by) = p, a, b
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    if length2 == 0:
        return math.dist(p, a)
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / length2))
    return math.dist(p, (ax + t * dx, ay + t * dy))


def _clean(stroke: Stroke) -> list[Point]:
    """The stroke's finite points clamped to 0..1, rounded, without repeats."""
    points: list[Point] = []
    for x, y in stroke:
        if not (math.isfinite(x) and math.isfinite(y)):
            continue
        point = (round(min(1.0, max(0.0, x)), 3), round(min(1.0, max(0.0, y)), 3))
        if not points or points[-1] != point:
            points.append(point)
    return points


def _path(strokes: Sequence[Sequence[Point]]) -> str:
    """Absolute moveto/lineto commands for `strokes`; a one-point stroke is a dot."""
    parts: list[str] = []
    for stroke in strokes:
        first, rest = stroke[0], stroke[1:] or [stroke[0]]
        parts.append(f"M{_pair(first)}L" + " ".join(_pair(p) for p in rest))
    return "".join(parts)


def _pair(point: Point) -> str:
    """One coordinate pair, e.g. ".125 1"."""
    return f"{_number(point[0])} {_number(point[1])}"


def _number(value: float) -> str:
    """A coordinate with at most 3 decimals, no trailing zeros and no leading zero."""
    text = f"{value:.3f}".rstrip("0").rstrip(".") or "0"
    return text[1:] if text.startswith("0.") else text
