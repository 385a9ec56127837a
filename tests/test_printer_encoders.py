"""Golden structure of each encoder's bytes: ZPL, ESC/POS and Brother QL raster, read back."""

from __future__ import annotations

import re

import pytest
from PIL import Image, ImageChops, ImageDraw

from devices.printers import BROTHER_62, ESCPOS_80, ZEBRA_4X2, Badge, brother_ql, escpos_printer, zebra
from devices.printers.brother import INVALIDATE, RasterError, read_raster
from devices.printers.simulators import SimulatedBrotherQl, SimulatedEscPos, SimulatedZebra
from devices.printers.zpl import (
    ZplError,
    compress_rows,
    decode_graphic,
    decompress_rows,
    encode_zpl,
    image_rows,
)

BADGE = Badge("Ana Kowalska", "v-7f3a", host="Budi Santoso", company="Acme")


def pattern(width: int, height: int) -> Image.Image:
    """A small 1-bit test image with runs, blank rows, full rows and repeated rows."""
    image = Image.new("1", (width, height), 1)
    draw = ImageDraw.Draw(image)
    draw.rectangle((3, 2, width - 5, 4), fill=0)
    draw.line((0, height - 1, width, height - 1), fill=0)
    draw.ellipse((5, 5, width // 2, height - 3), outline=0)
    return image


def test_zpl_label_frames_a_graphic_field_of_the_right_size() -> None:
    image = pattern(100, 40)  # 100 dots: 13 bytes a row, the last one padded
    label = encode_zpl(image, compress=False).decode("ascii")
    assert label.startswith("^XA")
    assert label.rstrip().endswith("^XZ")
    assert "^PW100" in label
    assert "^LL40" in label
    assert "^PQ1" in label
    found = re.search(r"\^GFA,(\d+),(\d+),(\d+),([0-9A-F]+)\^FS", label)
    assert found is not None
    assert found.group(1) == found.group(2) == str(13 * 40)
    assert found.group(3) == "13"
    assert len(found.group(4)) == 2 * 13 * 40


def test_zpl_golden_bytes_of_a_tiny_label() -> None:
    image = Image.new("1", (16, 2), 1)
    image.putpixel((0, 0), 0)  # one black dot, top left
    assert encode_zpl(image, compress=False) == (
        b"^XA\n^PW16\n^LL2\n^LH0,0\n^FO0,0^GFA,4,4,2,80000000^FS\n^PQ1\n^XZ\n"
    )
    assert encode_zpl(image) == b"^XA\n^PW16\n^LL2\n^LH0,0\n^FO0,0^GFA,4,4,2,8,,^FS\n^PQ1\n^XZ\n"


@pytest.mark.parametrize(("rows", "text"), [
    ([b"\x00\x00"], ","),
    ([b"\xff\xff"], "!"),
    ([b"\x12\x34", b"\x12\x34"], "1234:"),
    ([b"\xaa" * 30], "iA"),  # 60 x A: "i" is 60
    ([b"\x0f\xff"], "0!"),
    ([b"\x10\x00"], "1,"),
])
def test_zpl_compression_table(rows: list[bytes], text: str) -> None:
    assert compress_rows(rows) == text
    assert decompress_rows(text, len(rows[0])) == rows


def test_zpl_compressed_badge_round_trips_and_is_much_smaller() -> None:
    image = zebra().job(BADGE)
    plain, packed = encode_zpl(decode_graphic(image), compress=False), image
    assert len(packed) * 4 < len(plain)
    back = decode_graphic(packed).crop((0, 0, ZEBRA_4X2.width, ZEBRA_4X2.height))
    _, rows = image_rows(decode_graphic(packed))
    assert len(rows) == ZEBRA_4X2.height
    original = decode_graphic(encode_zpl(back, compress=False))
    same = original.crop((0, 0, *back.size)).convert("L")
    assert ImageChops.difference(back.convert("L"), same).getbbox() is None


def test_zpl_bad_graphic_data_is_a_named_error() -> None:
    with pytest.raises(ZplError):
        decompress_rows("12Q", 2)
    with pytest.raises(ZplError):
        decode_graphic(b"^XA^GFA,5,5,2,FFFF^FS^XZ")


def test_zebra_simulator_keeps_the_label_exactly() -> None:
    printer = SimulatedZebra()
    job = zebra().job(BADGE)
    for i in range(0, len(job), 1000):  # split across writes, as a serial line delivers it
        printer.feed(job[i : i + 1000])
    assert printer.labels == [job.strip()]


def test_escpos_job_initialises_prints_a_raster_and_cuts() -> None:
    job = escpos_printer().job(BADGE)
    assert job.startswith(b"\x1b@")
    width_bytes = ESCPOS_80.width // 8
    header = b"\x1dv0\x00" + width_bytes.to_bytes(2, "little") + ESCPOS_80.height.to_bytes(2, "little")
    assert job[2:10] == header
    assert job.endswith(b"\x1dV\x00")
    printer = SimulatedEscPos()
    assert printer.feed(job) == b""
    assert printer.images == [(ESCPOS_80.width, ESCPOS_80.height)]
    assert printer.cuts == 1
    assert printer.inits == 1


def test_brother_job_has_the_preamble_and_one_raster_line_per_dot_row() -> None:
    job = brother_ql().job(BADGE)
    assert job.startswith(b"\x1bia\x01" + INVALIDATE)  # switch to raster, then 400 zeros (QL-800)
    assert job[4 + len(INVALIDATE) : 6 + len(INVALIDATE)] == b"\x1b@"  # initialise
    assert job.endswith(b"\x1a")
    parsed, used = read_raster(job)
    assert used == len(job)
    assert parsed.initialised
    assert parsed.cut
    assert len(parsed.pages) == 1
    lines = parsed.pages[0]
    assert len(lines) == BROTHER_62.head_size[1]  # 1181 lines of 100 mm at 300 dpi
    assert {len(line) for line in lines} == {90}  # QL-800: 720 dots a line
    assert any(any(line) for line in lines)


def test_brother_simulator_reads_a_job_split_anywhere() -> None:
    job = brother_ql().job(BADGE)
    printer = SimulatedBrotherQl()
    answers = b"".join(printer.feed(job[i : i + 777]) for i in range(0, len(job), 777))
    assert len(printer.pages) == 1
    assert len(printer.pages[0]) == BROTHER_62.head_size[1]
    assert len(answers) == 32  # brother_ql's job asks for the status once


def test_unknown_raster_command_is_a_named_error() -> None:
    with pytest.raises(RasterError):
        read_raster(b"\x1b@\x99\x99\x99")
