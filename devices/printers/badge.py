"""One visitor badge layout, rendered to a 1-bit image for any label size (pure).

The same layout feeds every printer (Zebra, ESC/POS, Brother QL) and the PNG preview, so what
the desk sees on screen is what the printer prints, dot for dot.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

import qrcode  # type: ignore[import-untyped]
from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

log = logging.getLogger(__name__)

_FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
_BLACK, _WHITE = 0, 255
Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@dataclass(slots=True, frozen=True)
class LabelSize:
    """A label as the visitor reads it (`width` x `height` dots) and how it meets the print head.

    `rotate` is 90 when the label runs along the feed (Brother endless tape): the layout is turned
    before encoding so that its height lies across the head.
    """

    name: str
    width: int
    height: int
    dpi: int
    rotate: int = 0

    def __post_init__(self) -> None:
        """Refuse sizes no layout fits."""
        if self.width < 200 or self.height < 120 or self.dpi < 100 or self.rotate not in (0, 90):
            raise ValueError(f"label size {self.name!r} is not usable: {self}")

    @property
    def head_size(self) -> tuple[int, int]:
        """The image size as the print head sees it (dots across the head, dots along the feed)."""
        return (self.height, self.width) if self.rotate else (self.width, self.height)


ZEBRA_4X2 = LabelSize("zebra-4x2in", 812, 406, 203)
"""A 4 x 2 inch Zebra label at 203 dpi."""
BROTHER_62 = LabelSize("brother-62mm", 1181, 696, 300, rotate=90)
"""62 mm Brother endless tape (696 printable dots at 300 dpi), cut at 100 mm."""
ESCPOS_80 = LabelSize("escpos-80mm", 576, 360, 203)
"""80 mm receipt paper (576 printable dots at 203 dpi), 45 mm long."""
ESCPOS_58 = LabelSize("escpos-58mm", 384, 240, 203)
"""58 mm receipt paper (384 printable dots at 203 dpi), 30 mm long."""


@dataclass(slots=True, frozen=True)
class Badge:
    """What a visitor badge shows; `qr` defaults to the visit id."""

    visitor_name: str
    visit_id: str
    host: str = ""
    company: str = ""
    day: date | None = None
    photo: Image.Image | Path | None = None
    qr: str = ""

    @property
    def qr_payload(self) -> str:
        """The text the QR code carries."""
        return self.qr or self.visit_id


def visit_badge(
    *,
    visitor_name: str,
    visit_id: str,
    host: str = "",
    company: str | None = "",
    qr: str = "",
    day: date | datetime | None = None,
    photo: Image.Image | Path | bytes | None = None,
) -> Badge:
    """The badge of one visit, as both the printer agent and the kiosk print it.

    `day` may be the last moment the badge is valid (printed as its date in the local time zone);
    `photo` may be JPEG (or PNG) bytes: a photo that cannot be read is left off, with a warning.
    """
    if isinstance(day, datetime):
        day = (day.astimezone() if day.tzinfo else day).date()
    return Badge(visitor_name=visitor_name, visit_id=visit_id, host=host, company=company or "", day=day,
                 photo=_read_photo(photo) if isinstance(photo, bytes) else photo, qr=qr)


def _read_photo(data: bytes) -> Image.Image | None:
    """The photo in `data`, or None (a photo that cannot be read is left off the badge)."""
    if not data:
        return None
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            return image.copy()
    except (UnidentifiedImageError, OSError) as exc:
        log.warning("badge photo cannot be read, printed without it: %s", exc)
        return None


def render_badge(badge: Badge, size: LabelSize) -> Image.Image:
    """The badge as the visitor reads it: a mode "1" image of `size.width` x `size.height`."""
    width, height = size.width, size.height
    canvas = Image.new("L", (width, height), _WHITE)
    draw = ImageDraw.Draw(canvas)
    draw.fontmode = "1"  # no anti-aliasing: text stays crisp after the 1-bit conversion
    margin = max(4, height // 25)
    bar = height // 6
    draw.rectangle((0, 0, width, bar), fill=_BLACK)
    bar_font = _font(int(bar * 0.62), bold=True)
    _text_v_centered(draw, (margin, 0, bar), "VISITOR", bar_font, _WHITE)
    if badge.day is not None:
        day_text = badge.day.strftime("%d %b %Y")
        day_font = _font(int(bar * 0.45), bold=False)
        x = width - margin - int(draw.textlength(day_text, font=day_font))
        _text_v_centered(draw, (x, 0, bar), day_text, day_font, _WHITE)

    top, bottom = bar + margin, height - margin
    body = bottom - top
    left = margin
    if badge.photo is not None:
        photo_w = min(body * 3 // 4, width // 5)
        canvas.paste(_photo(badge.photo, (photo_w, body)), (left, top))
        draw.rectangle((left, top, left + photo_w - 1, bottom - 1), outline=_BLACK, width=2)
        left += photo_w + margin
    qr_side = min(body, width * 7 // 25)
    qr_img = _qr(badge.qr_payload, qr_side)
    canvas.paste(qr_img, (width - margin - qr_img.width, top + (body - qr_img.height) // 2))
    right = width - margin - qr_side - margin
    _draw_text_column(draw, badge, (left, top, right, bottom))
    return canvas.convert("1", dither=Image.Dither.FLOYDSTEINBERG)


def head_image(badge_image: Image.Image, size: LabelSize) -> Image.Image:
    """Turn a rendered badge so that it lies on the print head as `size` says."""
    return badge_image.rotate(90, expand=True) if size.rotate else badge_image


def save_preview(badge: Badge, size: LabelSize, path: Path) -> Path:
    """Write the badge as a PNG preview at `path` (with the label's dpi) and return the path."""
    render_badge(badge, size).save(path, format="PNG", dpi=(size.dpi, size.dpi))
    return path


def _draw_text_column(draw: ImageDraw.ImageDraw, badge: Badge, box: tuple[int, int, int, int]) -> None:
    """Name (large, shrunk and wrapped to fit two lines), then company, host and visit id."""
    left, top, right, bottom = box
    col_w = max(1, right - left)
    body = bottom - top
    small = max(10, body // 9)
    name_font, name_lines = fit_text(badge.visitor_name, col_w, max_lines=2,
                                     max_size=max(12, body // 4), min_size=max(9, small * 4 // 5), bold=True)
    y = top
    for line in name_lines:
        draw.text((left, y), line, font=name_font, fill=_BLACK)
        y += _line_height(name_font)
    y += small // 2
    details = [badge.company, f"Host: {badge.host}" if badge.host else "", f"Visit {badge.visit_id}"]
    for text in (t for t in details if t):
        font, lines = fit_text(text, col_w, max_lines=1, max_size=small, min_size=max(8, small * 2 // 3),
                               bold=False)
        if y + _line_height(font) > bottom:
            log.debug("badge text %r does not fit; left out", text)
            break
        draw.text((left, y), lines[0], font=font, fill=_BLACK)
        y += _line_height(font)


def fit_text(
    text: str, width: int, *, max_lines: int, max_size: int, min_size: int, bold: bool
) -> tuple[Font, list[str]]:
    """The largest font (from `max_size` down to `min_size`) that wraps `text` into `max_lines`.

    Words are wrapped whole when they fit a line and broken otherwise; at `min_size` a text that
    still does not fit is cut with an ellipsis.
    """
    text = " ".join(text.split()) or "-"
    size = max_size
    while True:
        font = _font(size, bold=bold)
        lines = _wrap(text, font, width)
        if len(lines) <= max_lines:
            return font, lines
        if size <= min_size:
            kept = lines[:max_lines]
            kept[-1] = _ellipsize(kept[-1] + " " + " ".join(lines[max_lines:]), font, width)
            return font, kept
        size = max(min_size, int(size * 0.9))


def _wrap(text: str, font: Font, width: int) -> list[str]:
    """Greedy word wrap; a word wider than a line is broken between characters."""
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if font.getlength(candidate) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = ""
        for char in word:
            if font.getlength(current + char) > width and current:
                lines.append(current)
                current = ""
            current += char
    lines.append(current)
    return lines


def _ellipsize(text: str, font: Font, width: int) -> str:
    """`text` cut to fit `width` with a trailing ellipsis."""
    if font.getlength(text) <= width:
        return text
    while text and font.getlength(text + "…") > width:
        text = text[:-1]
    return text.rstrip() + "…"


def _text_v_centered(
    draw: ImageDraw.ImageDraw, where: tuple[int, int, int], text: str, font: Font, fill: int
) -> None:
    """Draw `text` at x, vertically centred between y0 and y1."""
    x, y0, y1 = where
    _l, t, _r, b = draw.textbbox((0, 0), text, font=font)
    draw.text((x, y0 + (y1 - y0 - (b - t)) // 2 - t), text, font=font, fill=fill)


def _line_height(font: Font) -> int:
    """The distance between two lines of `font`."""
    _l, top, _r, bottom = font.getbbox("Ag")
    return int((bottom - top) * 1.2) + 1


@lru_cache(maxsize=128)
def _font(size: int, *, bold: bool) -> Font:
    """DejaVu Sans when the system has it, else Pillow's bundled font, at `size` pixels."""
    path = _FONT_DIR / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")
    if path.exists():
        return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size)


def _photo(photo: Image.Image | Path, box: tuple[int, int]) -> Image.Image:
    """The photo cropped to fill `box`, in grey with stretched contrast (dithered later)."""
    with Image.open(photo) if isinstance(photo, Path) else _borrow(photo) as source:
        grey = ImageOps.grayscale(source.convert("RGB"))
    return ImageOps.autocontrast(ImageOps.fit(grey, box, Image.Resampling.LANCZOS), cutoff=1)


def _borrow(image: Image.Image) -> Image.Image:
    """A copy a `with` block may close without closing the caller's image."""
    return image.copy()


def _qr(payload: str, side: int) -> Image.Image:
    """The QR code of `payload` scaled by a whole number of dots per module to fit `side`."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=1, border=2)
    code.add_data(payload)
    code.make(fit=True)
    matrix = code.get_matrix()
    modules = len(matrix)
    scale = max(1, side // modules)
    image = Image.new("L", (modules, modules), _WHITE)
    image.putdata([_BLACK if dark else _WHITE for row in matrix for dark in row])
    return image.resize((modules * scale, modules * scale), Image.Resampling.NEAREST)
