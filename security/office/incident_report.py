"""An incident's printable report as PDF bytes: its head, its timeline as a table, its snapshots (pure).

fpdf2 draws it with DejaVu Sans, shipped in `fonts/` (Bitstream Vera licence, `fonts/LICENSE-DejaVu.txt`):
the PDF core fonts print Latin-1 only, and a Polish name (Łukasz) must print as typed. Only the glyphs a
report uses are embedded. A character the font lacks prints as U+FFFD (so a reader sees one was there);
control characters print as visible escapes, so a title cannot break the layout or forge a line.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from datetime import datetime, tzinfo
from pathlib import Path

from fpdf import FPDF, FontFace
from fpdf.fonts import TTFFont
from PIL import Image

from broker.safe_text import escape
from security.office.incident_timeline import EntryKind, Incident, SnapshotImage, TimelineEntry

log = logging.getLogger(__name__)

FONT_FILE = Path(__file__).with_name("fonts") / "DejaVuSans.ttf"
FONT = "dejavu"
MISSING = "\ufffd"
IMAGE_WIDTH = 150.0
"""The widest a snapshot prints (mm); the page's text width is 180 mm."""
IMAGE_HEIGHT = 110.0
"""The tallest a snapshot prints (mm): a portrait frame is narrowed to fit."""
TIMELINE_COLUMNS = (40.0, 24.0, 30.0, 86.0)
HEADING = FontFace(emphasis=None, fill_color=(225, 225, 225))
GREY = (90, 90, 90)


class _Report(FPDF):
    """A4 pages with the site and incident at the top and the generation time and page at the bottom."""

    def __init__(self, top: str, bottom: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.top, self.bottom = top, bottom
        self.add_font(FONT, fname=FONT_FILE)
        self.set_margins(15, 15, 15)
        self.set_auto_page_break(auto=True, margin=18)
        font = self.fonts[FONT]
        assert isinstance(font, TTFFont)  # added from FONT_FILE just above
        self._glyphs = frozenset(font.cmap)

    def text_for(self, value: str, *, lines: bool = False) -> str:
        """`value` printable: controls escaped (newlines kept if `lines`), glyphs the font lacks marked."""
        parts = value.split("\n") if lines else [value]
        shown = "\n".join(escape(part) for part in parts)
        return "".join(c if ord(c) in self._glyphs or c == "\n" else MISSING for c in shown)

    def header(self) -> None:
        """The site and the incident, small, on every page."""
        self.set_font(FONT, size=8)
        self.set_text_color(*GREY)
        self.cell(0, 5, self.top, new_x="LMARGIN", new_y="NEXT")
        self.set_text_color(0, 0, 0)
        self.ln(2)

    def footer(self) -> None:
        """When the report was made, and the page of how many."""
        self.set_y(-13)
        self.set_font(FONT, size=8)
        self.set_text_color(*GREY)
        self.cell(0, 5, f"{self.bottom}  ·  page {self.page_no()} of {{nb}}", align="C")
        self.set_text_color(0, 0, 0)


def local_time(value: datetime, tz: tzinfo) -> str:
    """`value` in the site's zone as 'YYYY-MM-DD HH:MM:SS +HH:MM'."""
    local = value.astimezone(tz)
    offset = local.strftime("%z")
    return local.strftime("%Y-%m-%d %H:%M:%S") + (f" {offset[:3]}:{offset[3:]}" if offset else "")


def _zone_name(tz: tzinfo, at: datetime) -> str:
    return str(getattr(tz, "key", None) or at.astimezone(tz).tzname() or "UTC")


def _head(pdf: _Report, incident: Incident, tz: tzinfo, site_name: str) -> None:
    pdf.set_font(FONT, size=16)
    pdf.multi_cell(0, 8, pdf.text_for(f"Incident {incident.id}: {incident.title}"),
                   new_x="LMARGIN", new_y="NEXT", align="L")
    pdf.ln(2)
    closed = (f"{local_time(incident.closed_at, tz)} by {incident.closed_by or ''}"
              if incident.closed_at is not None else "not yet")
    fields = (
        ("Site", site_name),
        ("Number", str(incident.number)),
        ("Category", incident.category.value.replace("_", " ")),
        ("State", incident.state),
        ("Opened", f"{local_time(incident.opened_at, tz)} by {incident.opened_by}"),
        ("Closed", closed),
        ("Outcome", incident.outcome or "none yet"),
    )
    pdf.set_font(FONT, size=10)
    with pdf.table(col_widths=(30, 150), first_row_as_headings=False, borders_layout="NONE",
                   text_align="LEFT", line_height=6) as table:
        for label, value in fields:
            row = table.row()
            row.cell(label)
            row.cell(pdf.text_for(value))
    pdf.ln(4)


def _timeline(pdf: _Report, entries: Sequence[TimelineEntry], tz: tzinfo) -> None:
    pdf.set_font(FONT, size=13)
    pdf.cell(0, 8, f"Timeline ({len(entries)})", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=8)
    with pdf.table(col_widths=TIMELINE_COLUMNS, headings_style=HEADING, text_align="LEFT", line_height=4.5,
                   repeat_headings=1) as table:
        heading = table.row()
        for title in ("Time", "What", "Who", "Details"):
            heading.cell(title)
        for entry in entries:
            row = table.row()
            alarm_step = entry.kind is EntryKind.ALARM and entry.step
            what = f"{entry.kind.value} {entry.step}" if alarm_step else entry.kind.value
            row.cell(local_time(entry.at, tz))
            row.cell(what)
            row.cell(pdf.text_for(entry.by))
            row.cell(pdf.text_for(entry.text, lines=True))
    pdf.ln(4)


def _image_size(jpeg: bytes) -> tuple[float, float]:
    """The printed (width, height) in mm of a JPEG; raise OSError or ValueError if it is not one."""
    with Image.open(io.BytesIO(jpeg)) as image:
        if image.format != "JPEG":
            raise ValueError(f"a {image.format or 'unknown'} image, not a JPEG")
        image.verify()
        width, height = image.size
    scale = min(IMAGE_WIDTH / width, IMAGE_HEIGHT / height)
    return width * scale, height * scale


def _snapshot(pdf: _Report, snap: SnapshotImage, tz: tzinfo) -> None:
    ref = snap.ref
    caption = f"camera {ref.camera or 'unknown'}, {local_time(ref.at, tz)}, event {ref.event_id}"
    problem = snap.problem
    size: tuple[float, float] | None = None
    if snap.jpeg is not None and problem is None:
        try:
            size = _image_size(snap.jpeg)
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            problem = f"the file is not a readable JPEG ({type(exc).__name__})"
            log.warning("snapshot %s of incident report not printed: %s", ref.event_id, problem)
    needed = 12 + (size[1] if size else 6)
    if pdf.get_y() + needed > pdf.page_break_trigger:
        pdf.add_page()
    pdf.set_font(FONT, size=9)
    pdf.multi_cell(0, 5, pdf.text_for(caption), new_x="LMARGIN", new_y="NEXT", align="L")
    if size is None or snap.jpeg is None:
        pdf.set_text_color(*GREY)
        pdf.multi_cell(0, 5, pdf.text_for(f"Image not available: {problem or 'no image'} ({ref.path})"),
                       new_x="LMARGIN", new_y="NEXT", align="L")
        pdf.set_text_color(0, 0, 0)
    else:
        width, height = size
        pdf.image(io.BytesIO(snap.jpeg), x=pdf.l_margin + (pdf.epw - width) / 2, w=width, h=height,
                  alt_text=caption)
    pdf.ln(4)


def incident_pdf(
    incident: Incident, timeline: Sequence[TimelineEntry], snapshots: Sequence[SnapshotImage], tz: tzinfo,
    site_name: str, *, generated_at: datetime,
) -> bytes:
    """The incident's report: head, timeline table, each snapshot with its caption; times in `tz`."""
    top = f"{site_name}  ·  incident report {incident.id}"
    bottom = f"Generated {local_time(generated_at, tz)} ({_zone_name(tz, generated_at)})"
    pdf = _Report(escape(top), bottom)
    pdf.set_title(pdf.text_for(f"Incident {incident.id}: {incident.title}"))
    pdf.set_creator("Gatehouse")
    pdf.set_creation_date(generated_at)
    pdf.add_page()
    _head(pdf, incident, tz, site_name)
    _timeline(pdf, timeline, tz)
    if snapshots:
        pdf.set_font(FONT, size=13)
        pdf.cell(0, 8, f"Snapshots ({len(snapshots)})", new_x="LMARGIN", new_y="NEXT")
        for snap in snapshots:
            _snapshot(pdf, snap, tz)
    return bytes(pdf.output())
