"""Charts as inline SVG with their values readable as text (pure): bars, a heat-map, availability strips."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

BAR_W, BAR_GAP, CHART_H, LABEL_H, PAD = 28, 6, 120, 34, 16
CELL_W, CELL_H, LEFT_W, TOP_H = 26, 22, 46, 20
SCALE = ("#eef3fb", "#cfe0f7", "#9fc2ef", "#5f97dd", "#2a6cc4", "#174a91")
"""Light to dark: more arrivals, darker cells (readable in grey too)."""


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar: its label on the axis and its value."""

    label: str
    value: float


def bars_svg(bars: Sequence[Bar], title: str, unit: str = "") -> str:
    """A vertical bar chart; each bar carries a <title> with its value for screen readers and hovering.

    No bars, no chart: '' (the page says there is nothing instead).
    """
    if not bars:
        return ""
    top = max((b.value for b in bars), default=0) or 1
    width = PAD + len(bars) * (BAR_W + BAR_GAP) + BAR_GAP
    parts = [f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} '
             f'{CHART_H + LABEL_H}" width="{width}" height="{CHART_H + LABEL_H}">',
             f"<title>{escape(title)}</title>",
             f'<line x1="0" y1="{CHART_H}" x2="{width}" y2="{CHART_H}" stroke="#8a94a6" stroke-width="1"/>']
    for i, bar in enumerate(bars):
        height = round(bar.value / top * (CHART_H - 14), 1)
        x = PAD + BAR_GAP + i * (BAR_W + BAR_GAP)  # PAD: room for the first slanted label
        value = f"{bar.value:g}{unit}"
        middle = x + BAR_W / 2
        parts.append(f'<g><title>{escape(bar.label)}: {escape(value)}</title>'
                     f'<rect x="{x}" y="{CHART_H - height}" width="{BAR_W}" height="{height}" '
                     f'fill="#2a6cc4"/><text x="{middle}" y="{CHART_H - height - 3}" font-size="9" '
                     f'text-anchor="middle" fill="#1d2430">{escape(value) if bar.value else ""}</text>'
                     f'<text x="{x + BAR_W / 2}" y="{CHART_H + 12}" font-size="9" text-anchor="end" '
                     f'fill="#5b6575" transform="rotate(-45 {x + BAR_W / 2} {CHART_H + 12})">'
                     f"{escape(bar.label)}</text></g>")
    parts.append("</svg>")
    return "".join(parts)


def shade(value: int, top: int) -> str:
    """The cell colour for `value` of at most `top`: the palette's lightest for zero."""
    if value <= 0 or top <= 0:
        return SCALE[0]
    return SCALE[min(len(SCALE) - 1, 1 + (value * (len(SCALE) - 2)) // top)]


def heat_svg(rows: Sequence[Sequence[int]], row_labels: Sequence[str], title: str) -> str:
    """A heat-map of rows (weekdays) by 24 hours; each cell's <title> says its count."""
    top = max((v for row in rows for v in row), default=0)
    width = LEFT_W + 24 * CELL_W
    height = TOP_H + len(rows) * CELL_H
    parts = [f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}"><title>{escape(title)}</title>']
    parts += [f'<text x="{LEFT_W + h * CELL_W + CELL_W / 2}" y="{TOP_H - 6}" font-size="9" '
              f'text-anchor="middle" fill="#5b6575">{h:02d}</text>' for h in range(24)]
    for r, (label, row) in enumerate(zip(row_labels, rows, strict=True)):
        y = TOP_H + r * CELL_H
        parts.append(f'<text x="{LEFT_W - 6}" y="{y + CELL_H * 0.68}" font-size="11" text-anchor="end" '
                     f'fill="#1d2430">{escape(label)}</text>')
        for hour, value in enumerate(row):
            x = LEFT_W + hour * CELL_W
            ink = "#ffffff" if shade(value, top) in SCALE[3:] else "#1d2430"
            parts.append(f'<g><title>{escape(label)} {hour:02d}:00: {value}</title>'
                         f'<rect x="{x}" y="{y}" width="{CELL_W - 2}" height="{CELL_H - 2}" '
                         f'fill="{shade(value, top)}"/>'
                         + (f'<text x="{x + CELL_W / 2 - 1}" y="{y + CELL_H * 0.66}" font-size="9" '
                            f'text-anchor="middle" fill="{ink}">{value}</text>' if value else "")
                         + "</g>")
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True, slots=True)
class Cell:
    """One day of a strip: its label (the date) and the availability in per cent (None: nothing known)."""

    label: str
    percent: float | None


AVAILABILITY_SHADES = ((100.0, "#2e8b57"), (99.0, "#8cc084"), (95.0, "#e8c547"), (80.0, "#e8913a"),
                       (0.0, "#c8423b"))
"""Whole days online are green; darker warm colours for less; grey where nothing is known."""
UNKNOWN_SHADE = "#d5d9e0"
STRIP_W, STRIP_H, STRIP_LEFT = 18, 18, 150


def availability_shade(percent: float | None) -> str:
    """The cell colour of an availability: the first shade whose floor it reaches."""
    if percent is None:
        return UNKNOWN_SHADE
    return next(colour for floor, colour in AVAILABILITY_SHADES if percent >= floor)


def strips_svg(rows: Sequence[tuple[str, Sequence[Cell]]], title: str, unknown: str = "-") -> str:
    """One strip per row (a device), one cell per day coloured by availability; each <title> says it.

    No rows, no chart: ''. `unknown` is what a cell with nothing known says.
    """
    if not rows:
        return ""
    days = max(len(cells) for _label, cells in rows)
    width = STRIP_LEFT + days * STRIP_W
    height = len(rows) * STRIP_H
    parts = [f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}"><title>{escape(title)}</title>']
    for r, (label, cells) in enumerate(rows):
        y = r * STRIP_H
        parts.append(f'<text x="{STRIP_LEFT - 6}" y="{y + STRIP_H * 0.7}" font-size="11" text-anchor="end" '
                     f'fill="#1d2430">{escape(label)}</text>')
        for d, cell in enumerate(cells):
            value = unknown if cell.percent is None else f"{cell.percent:.1f} %"
            parts.append(f'<g><title>{escape(label)} {escape(cell.label)}: {escape(value)}</title>'
                         f'<rect x="{STRIP_LEFT + d * STRIP_W}" y="{y}" width="{STRIP_W - 2}" '
                         f'height="{STRIP_H - 2}" fill="{availability_shade(cell.percent)}"/></g>')
    parts.append("</svg>")
    return "".join(parts)
