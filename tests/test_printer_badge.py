"""The badge layout: every label size renders a non-blank 1-bit image; long names fit; PNG preview."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw

from devices.printers import BROTHER_62, ESCPOS_58, ESCPOS_80, ZEBRA_4X2, Badge, LabelSize, head_image
from devices.printers.badge import fit_text, render_badge, save_preview

SIZES = [ZEBRA_4X2, BROTHER_62, ESCPOS_80, ESCPOS_58]


def photo() -> Image.Image:
    """A synthetic head-and-shoulders picture."""
    image = Image.new("RGB", (300, 400), (235, 235, 235))
    draw = ImageDraw.Draw(image)
    draw.ellipse((80, 60, 220, 220), fill=(150, 110, 90))
    draw.rectangle((50, 240, 250, 400), fill=(40, 60, 120))
    return image


def badge(name: str = "Ana Kowalska", photo_of: Image.Image | Path | str | None = "default") -> Badge:
    """A badge with every field filled (the synthetic photo unless another is given)."""
    picture = photo() if isinstance(photo_of, str) else photo_of
    return Badge(name, "v-7f3a", host="Budi Santoso", company="Acme Sp. z o.o.",
                 day=date(2026, 11, 22), photo=picture)


def black_share(image: Image.Image) -> float:
    """The share of black dots in a 1-bit image."""
    return 1 - float(np.asarray(image.convert("L"), dtype=np.float64).mean()) / 255


@pytest.mark.parametrize("size", SIZES, ids=lambda s: s.name)
def test_every_size_renders_a_plausible_badge(size: LabelSize) -> None:
    image = render_badge(badge(), size)
    assert image.mode == "1"
    assert image.size == (size.width, size.height)
    assert 0.1 < black_share(image) < 0.6
    assert head_image(image, size).size == size.head_size


@pytest.mark.parametrize("size", SIZES, ids=lambda s: s.name)
def test_the_qr_code_on_the_badge_decodes_to_the_visit(size: LabelSize) -> None:
    image = render_badge(Badge("Ana Kowalska", "v-7f3a", qr="GH-V-7f3a-2c91"), size)
    doubled = image.convert("L").resize((image.width * 2, image.height * 2), Image.Resampling.NEAREST)
    grey = np.asarray(doubled)
    text, _points, _ = cv2.QRCodeDetector().detectAndDecode(grey)
    assert text == "GH-V-7f3a-2c91"


def test_a_long_name_is_shrunk_and_wrapped_not_cut_while_it_fits() -> None:
    font, lines = fit_text("Maximilian Alexander von Hohenzollern", 400, max_lines=2, max_size=100,
                           min_size=20, bold=True)
    assert len(lines) == 2
    assert " ".join(lines) == "Maximilian Alexander von Hohenzollern"
    assert all(font.getlength(line) <= 400 for line in lines)


def test_a_name_too_long_for_any_size_ends_with_an_ellipsis() -> None:
    font, lines = fit_text("W" * 300, 200, max_lines=2, max_size=40, min_size=20, bold=True)
    assert len(lines) == 2
    assert lines[-1].endswith("…")
    assert all(font.getlength(line) <= 200 for line in lines)


def test_a_badge_without_photo_or_date_still_renders() -> None:
    image = render_badge(Badge("Li", "v-1"), ESCPOS_58)
    assert image.size == (ESCPOS_58.width, ESCPOS_58.height)
    assert black_share(image) > 0.05


def test_a_photo_file_is_read_from_disk(tmp_path: Path) -> None:
    path = tmp_path / "face.jpg"
    photo().save(path)
    with_file = render_badge(badge(photo_of=path), ZEBRA_4X2)
    without = render_badge(badge(photo_of=None), ZEBRA_4X2)
    assert black_share(with_file) > black_share(without)


def test_png_preview_is_written_with_the_label_size_and_dpi(tmp_path: Path) -> None:
    path = save_preview(badge("Maximilian Alexander von Hohenzollern-Sigmaringen"), ZEBRA_4X2,
                        tmp_path / "badge.png")
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size == (812, 406)
        assert round(image.info["dpi"][0]) == 203
        assert 0.1 < black_share(image) < 0.6
