"""An incident's PDF report, read back with pypdf: its head, timeline, Polish text, snapshots and pages."""

from __future__ import annotations

import io
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from pypdf import PdfReader
from pypdf.generic import DictionaryObject

from broker.events import make_event
from broker.schemas import CameraSnapshot, Category
from gatehouse.cli import main
from security.office.incident_report import incident_pdf
from security.office.incident_timeline import (
    Incident,
    IncidentItem,
    ItemKind,
    SnapshotImage,
    SnapshotRef,
    build_timeline,
)
from security.storage import open_store

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
WARSAW = ZoneInfo("Europe/Warsaw")
POLISH = "Zażółć gęślą jaźń: Łukasz Śliwiński widział sprawcę"


def jpeg(colour: tuple[int, int, int], size: tuple[int, int] = (320, 240)) -> bytes:
    """A small JPEG of one colour."""
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG")
    return out.getvalue()


def read(pdf: bytes) -> tuple[PdfReader, str]:
    """The parsed PDF and the text of all its pages."""
    reader = PdfReader(io.BytesIO(pdf))
    return reader, "\n".join(page.extract_text() for page in reader.pages)


def resources(reader: PdfReader, page: int, kind: str) -> DictionaryObject:
    """The `kind` resources (`/XObject`, `/Font`) of one page (empty when it has none)."""
    found = cast(DictionaryObject, reader.pages[page]["/Resources"].get_object()).get(kind)
    return cast(DictionaryObject, found.get_object()) if found is not None else DictionaryObject()


def images(reader: PdfReader) -> list[str]:
    """The filters of the distinct image XObjects the pages draw."""
    found: dict[int, str] = {}
    for page in range(len(reader.pages)):
        for ref in resources(reader, page, "/XObject").values():
            obj = ref.get_object()
            if obj["/Subtype"] == "/Image":
                found[ref.idnum] = str(obj["/Filter"])
    return list(found.values())


def incident(title: str = "Drzwi wyważone w magazynie", items: tuple[IncidentItem, ...] = ()) -> Incident:
    """A closed safety incident with a Polish note and whatever `items` adds."""
    note = IncidentItem(ItemKind.NOTE, None, POLISH, "guard:łucja", T0 + timedelta(minutes=5))
    return Incident("i-7", 7, title, "closed", "guard:maria", T0, "manager:ana", T0 + timedelta(hours=2),
                    "Zamek wymieniony", (note, *items), Category.SAFETY)


def snapshot(event_id: str, minute: int, image: bytes | None, problem: str | None = None) -> SnapshotImage:
    """A snapshot of camera cam-1 at T0 plus `minute`."""
    ref = SnapshotRef(event_id, "cam-1", f"snapshots/cam-1/{event_id}.jpg", T0 + timedelta(minutes=minute))
    return SnapshotImage(ref, image, problem)


def test_the_report_holds_its_head_timeline_polish_note_and_snapshots() -> None:
    """Head, timeline and captions print (Polish letters too, times in the site's zone); JPEGs embedded."""
    found = build_timeline(incident(), {}, {})
    shots = [snapshot("ev-a", 1, jpeg((200, 30, 30))), snapshot("ev-b", 2, jpeg((30, 30, 200), (240, 320))),
             snapshot("ev-c", 3, None, "the file is not there")]
    pdf = incident_pdf(found.incident, found.entries, shots, WARSAW, "hq",
                       generated_at=T0 + timedelta(days=1))
    reader, text = read(pdf)
    assert pdf.startswith(b"%PDF-")
    assert "Incident i-7: Drzwi wyważone w magazynie" in text
    assert "Category safety" in text
    assert "Opened 2026-11-23 10:00:00 +01:00 by guard:maria" in text
    assert "Closed 2026-11-23 12:00:00 +01:00 by manager:ana" in text
    assert "Outcome Zamek wymieniony" in text
    assert POLISH in text
    assert "guard:łucja" in text
    assert "camera cam-1, 2026-11-23 10:01:00 +01:00, event ev-a" in text
    assert "Image not available: the file is not there (snapshots/cam-1/ev-c.jpg)" in text
    assert images(reader) == ["/DCTDecode", "/DCTDecode"]  # the JPEGs as they are, not re-encoded
    pages = len(reader.pages)
    assert f"page 1 of {pages}" in reader.pages[0].extract_text()
    assert f"page {pages} of {pages}" in reader.pages[-1].extract_text()
    assert "Generated 2026-11-24 10:00:00 +01:00 (Europe/Warsaw)" in reader.pages[-1].extract_text()
    fonts = resources(reader, 0, "/Font").values()
    assert any("DejaVu" in str(f.get_object()["/BaseFont"]) for f in fonts)


def test_a_long_timeline_runs_over_pages_and_bad_text_or_images_cannot_break_the_report() -> None:
    """Control characters print escaped, a glyph the font lacks prints as U+FFFD, a broken JPEG is named."""
    notes = tuple(IncidentItem(ItemKind.NOTE, None, f"Runde {n}: alles ruhig", "guard:jan",
                               T0 + timedelta(minutes=10 + n)) for n in range(120))
    found = build_timeline(incident("Forged\n12:00 all clear\x1b[2J 中", notes), {}, {})
    broken = snapshot("ev-x", 4, b"\xff\xd8\xff" + b"not really a jpeg")
    pdf = incident_pdf(found.incident, found.entries, [broken], UTC, "hq", generated_at=T0)
    reader, text = read(pdf)
    assert len(reader.pages) > 2
    assert "Forged\\n12:00 all clear\\x1b[2J \ufffd" in text
    assert "Runde 119: alles ruhig" in text
    assert all("Time What Who Details" in page.extract_text() for page in reader.pages[:2])  # headings repeat
    assert "Image not available: the file is not a readable JPEG" in text
    assert images(reader) == []


def test_gatehouse_incident_report_writes_a_private_pdf_with_the_snapshot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`incident report i-1 --out` after open, attach and note through the CLI; an unknown id is exit 1."""
    data = tmp_path / "data"
    shot = data / "snapshots" / "cam-1" / "a.jpg"
    shot.parent.mkdir(parents=True)
    shot.write_bytes(jpeg((10, 160, 10)))
    event = make_event("demo", "cam-1", "camera.snapshot", 1,
                       CameraSnapshot(camera="cam-1", path="snapshots/cam-1/a.jpg"), event_id="ev-snap")
    with open_store(f"sqlite:///{data / 'gatehouse.db'}") as store:
        assert len(store.store_batch([event], T0).stored) == 1
    base = ["--data-dir", str(data), "incident"]
    assert main([*base, "open", "Wózek w przejściu", "--category", "safety", "--as", "guard:łucja"]) == 0
    assert main([*base, "attach", "i-1", "--snapshot", "ev-snap"]) == 0
    assert main([*base, "note", "i-1", POLISH]) == 0
    out = tmp_path / "reports" / "i-1.pdf"
    assert main([*base, "report", "i-1", "--out", str(out)]) == 0
    assert f"wrote the report of i-1 to {out}" in capsys.readouterr().out
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    reader, text = read(out.read_bytes())
    assert "Incident i-1: Wózek w przejściu" in text
    assert "Category safety" in text
    assert POLISH in text
    assert len(images(reader)) == 1
    elsewhere = tmp_path / "other-snapshots"
    elsewhere.mkdir()
    assert main([*base, "report", "i-1", "--out", str(out), "--snapshots", str(elsewhere)]) == 0
    reader, text = read(out.read_bytes())
    assert images(reader) == []
    assert "outside the snapshot folder" in text
    assert main([*base, "report", "i-9", "--out", str(tmp_path / "none.pdf")]) == 1
    assert "no incident i-9" in capsys.readouterr().err
    assert main([*base, "report", "i-1", "--out", str(shot / "under-a-file.pdf")]) == 1
    assert f"cannot write {shot / 'under-a-file.pdf'}" in capsys.readouterr().err
    assert not (tmp_path / "none.pdf").exists()
