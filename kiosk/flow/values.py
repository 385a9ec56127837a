"""Small pure helpers of the kiosk flows: typed text, scanned codes, badge values, signature strokes."""

from __future__ import annotations

import itertools
import math
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MAX_TEXT = 100
"""Longest name, company or host a visitor may type (the contract allows 200)."""
BADGE_HEX_DIGITS = 16
"""A visitor badge's credential: this many uppercase hex digits (64 random bits)."""
MIN_STROKE_LENGTH = 0.15
"""A signature needs one stroke at least this long (in widths of the signature box)."""
MAX_SIGNATURE_POINTS = 4000
"""Points kept per signature (more strokes are ignored): the session stays small."""

Point = tuple[float, float]
Stroke = tuple[Point, ...]

_INVITATION = re.compile(r"GH1:([A-Za-z0-9._-]{1,64}):([A-Za-z0-9_-]{8,59})")
_BADGE = re.compile(rf"[0-9A-Fa-f]{{{BADGE_HEX_DIGITS}}}")


@dataclass(slots=True, frozen=True)
class InvitationCode:
    """A scanned invitation QR ("GH1:<visit_id>:<secret>"); `text` is the whole code."""

    text: str
    visit_id: str


@dataclass(slots=True, frozen=True)
class BadgeCode:
    """A scanned visitor badge QR: its credential in uppercase hex."""

    badge: str


def clean(text: str) -> str:
    """Typed text as stored: surrounding blanks removed, inner runs of blanks made one space."""
    return " ".join(text.split())


def parse_code(text: str) -> InvitationCode | BadgeCode | None:
    """What a scanned code is: an invitation, a visitor badge, or nothing the kiosk knows."""
    code = text.strip()
    if (found := _INVITATION.fullmatch(code)) is not None:
        return InvitationCode(code, found.group(1))
    if _BADGE.fullmatch(code):
        return BadgeCode(code.upper())
    return None


def new_badge_value() -> str:
    """A fresh visitor credential: 16 uppercase hex digits from `secrets` (the badge's QR)."""
    return secrets.token_hex(BADGE_HEX_DIGITS // 2).upper()


def clamp_stroke(points: Iterable[Point]) -> Stroke:
    """A finger's stroke as kept: every point clamped into 0..1."""
    return tuple((min(1.0, max(0.0, x)), min(1.0, max(0.0, y))) for x, y in points)


def stroke_length(stroke: Stroke) -> float:
    """The length of the line through the stroke's points."""
    return sum(math.dist(a, b) for a, b in itertools.pairwise(stroke))


def is_signed(strokes: Sequence[Stroke]) -> bool:
    """True when some stroke is long enough to count as a signature."""
    return any(stroke_length(s) >= MIN_STROKE_LENGTH for s in strokes)


def point_count(strokes: Sequence[Stroke]) -> int:
    """How many points the strokes hold together."""
    return sum(len(s) for s in strokes)
