"""Finger signatures: compact SVG paths, simplification to the contract's limit, signed or not."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from broker.schemas import VisitorAgreed
from kiosk.signature import MAX_PATH_CHARS, simplify, svg_path

_PAIR = re.compile(r"(\d*\.?\d+) (\d*\.?\d+)")


def points_of(path: str) -> list[tuple[float, float]]:
    """Every coordinate pair of a path, parsed back."""
    return [(float(x), float(y)) for x, y in _PAIR.findall(path)]


@pytest.mark.parametrize(("strokes", "expected"), [
    ([[(0.1, 0.2), (0.3, 0.45)]], "M.1 .2L.3 .45"),
    ([[(0.12345, 0.98765), (1.0, 0.0)]], "M.123 .988L1 0"),
    ([[(-0.5, 1.7), (0.5, 0.5)]], "M0 1L.5 .5"),                      # clamped into the pad
    ([[(0.5, 0.5)]], "M.5 .5L.5 .5"),                                  # a dot
    ([[(0.1, 0.1), (0.1, 0.1), (0.2, 0.2)], [(0.7, 0.8), (0.9, 0.9)]], "M.1 .1L.2 .2M.7 .8L.9 .9"),
    ([[(math.nan, 0.2), (0.3, 0.4), (0.5, math.inf)]], "M.3 .4L.3 .4"),  # broken points dropped
    ([[], [(0.25, 0.75), (0.5, 0.5)]], "M.25 .75L.5 .5"),
    ([], ""),
])
def test_svg_path(strokes: list[list[tuple[float, float]]], expected: str) -> None:
    assert svg_path(strokes) == expected


def test_y_up_turns_kivy_coordinates_over() -> None:
    assert svg_path([[(0.1, 0.9), (0.2, 0.25)]], y_up=True) == "M.1 .1L.2 .75"


def test_a_long_signature_is_simplified_to_fit() -> None:
    # 20 strokes of 2,000 points each: wavy lines, far over 60,000 characters unsimplified
    def wave(x: float, s: int) -> float:
        return 0.1 + 0.04 * s + 0.015 * math.sin(x * 50)

    strokes = [[(i / 2000, wave(i / 2000, s)) for i in range(2000)] for s in range(20)]
    raw = svg_path(strokes, max_chars=10**9)
    assert len(raw) > MAX_PATH_CHARS
    path = svg_path(strokes)
    assert len(path) <= MAX_PATH_CHARS
    assert VisitorAgreed(visit_id="V1", agreement="guest-1", language="en", signature=path).signature == path
    parts = path.split("M")[1:]
    assert len(parts) == 20  # every stroke kept
    for s, part in enumerate(parts):
        kept = points_of(part)
        assert kept[0] == (0.0, round(wave(0.0, s), 3))
        assert kept[-1][0] == pytest.approx(1999 / 2000, abs=0.001)
        xs, ys = zip(*kept, strict=True)
        drawn = [float(np.interp(i / 2000, xs, ys)) for i in range(2000)]
        assert max(abs(y - wave(i / 2000, s)) for i, y in enumerate(drawn)) < 0.005  # still the same line


def test_as_last_resort_whole_strokes_are_left_out() -> None:
    strokes = [[(0.1 * (i % 10), 0.1), (0.1 * (i % 10), 0.9)] for i in range(50)]
    path = svg_path(strokes, max_chars=100)
    assert 0 < len(path) <= 100
    assert path.startswith("M0 .1L0 .9M.1 .1L.1 .9")
    with pytest.raises(ValueError, match="max_chars"):
        svg_path(strokes, max_chars=0)


def test_simplify_keeps_corners_and_drops_points_on_a_line() -> None:
    line = [(i / 10, i / 10) for i in range(11)]
    assert simplify(line, 0.001) == [(0.0, 0.0), (1.0, 1.0)]
    corner = [(0.0, 0.0), (0.25, 0.0), (0.5, 0.0), (0.5, 0.25), (0.5, 0.5)]
    assert simplify(corner, 0.01) == [(0.0, 0.0), (0.5, 0.0), (0.5, 0.5)]
    assert simplify([(0.0, 0.0), (1.0, 1.0)], 0.5) == [(0.0, 0.0), (1.0, 1.0)]
