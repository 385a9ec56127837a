"""Built-in adapters for a kiosk with no central service: the demo, screenshots and benchmarks.

A small employee directory ("Grace Hopper" and a few more), a one-name watchlist, one
invitation and one returning visitor, the visits this kiosk checked in, a synthetic camera, and a
printer that draws each badge as a PNG (`devices.printers.badge`) instead of printing it.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
from PIL import Image

from broker.masking import mask_name
from broker.private import private_dir, private_file
from broker.schemas import VisitorType
from devices.camera.frame import Frame
from devices.camera.synthetic import camera_frame, draw_person, textured_scene
from devices.printers.badge import ZEBRA_4X2, Badge, save_preview
from kiosk.camera import encode_photo
from kiosk.config import FileAgreements, KioskConfig
from kiosk.ports import (
    BadgeRequest,
    Host,
    Invitation,
    OnSiteVisit,
    PastVisitor,
    Ports,
    PrintResult,
    ScreenResult,
    VisitorDetails,
)
from kiosk.screening import normalise

log = logging.getLogger(__name__)

HOSTS = (
    Host("e-1001", "Grace Hopper", "Research"),
    Host("e-1002", "Greta Wiśniewska", "Finance"),
    Host("e-1003", "Budi Santoso", "Facilities"),
    Host("e-1004", "Łucja Żak", "Reception"),
    Host("e-1005", "Alan Turing", "Research"),
)
"""The demo's employees."""
INVITATION_CODE = "GH1:DEMO-INVITE-1:demo-secret-0001"
"""The QR code of the demo's one invitation (Ana Kowalska, visiting Grace Hopper)."""
ON_SITE_BADGE = "0A1B2C3D4E5F6071"
"""The badge of the demo's visitor already on site (Jan Kowalski), for check-out."""


class DemoDirectory:
    """`HostDirectory` over `HOSTS`: a word of the name starts with the prefix (accents ignored)."""

    def search(self, prefix: str) -> list[Host]:
        """The hosts a prefix finds."""
        wanted = normalise(prefix)
        if not wanted:
            return []
        return [h for h in HOSTS if any(w.startswith(wanted) for w in normalise(h.name).split())]


WATCHLIST = ("Eve Mallory",)
"""The demo watchlist's one name (the screenshot tour uses it to show the neutral 'seat' screen)."""


class DemoScreener:
    """`Screener` of the demo watchlist: exact names only (the real one matches fuzzily)."""

    def screen(self, name: str, company: str | None) -> ScreenResult:
        """A match for a listed name, else clear."""
        if normalise(name) in {normalise(n) for n in WATCHLIST}:
            return ScreenResult("match", 1.0, "demo-1")
        return ScreenResult("clear", 0.0)


class DemoInvitations:
    """`Invitations`: the one demo invitation, expected an hour from now."""

    def find(self, code: str) -> Invitation | None:
        """The demo invitation for its code."""
        if code.strip() != INVITATION_CODE:
            return None
        return Invitation(
            visit_id="DEMO-INVITE-1", visitor_name="Ana Kowalska", company="Acme Sp. z o.o.",
            host_id="e-1001", host_name="Grace Hopper", visitor_type=VisitorType.CONTRACTOR,
            email="ana@example.org", expected_at=datetime.now(UTC).replace(second=0, microsecond=0)
            + timedelta(hours=1),
        )  # fmt: skip


_ANA_TOKEN = "demo-ana"  # noqa: S105 (a search result's token, no secret)


class DemoVisitors:
    """`Visitors`: one returning visitor."""

    _DETAILS = VisitorDetails("Ana Kowalska", "Acme Sp. z o.o.", "ana@example.org")

    def search(self, text: str) -> list[PastVisitor]:
        """Ana, when the text is in her name or e-mail."""
        details = self._DETAILS
        if normalise(text) not in normalise(f"{details.name} {details.email}"):
            return []
        return [PastVisitor(_ANA_TOKEN, mask_name(details.name), mask_name(details.company or ""),
                            date.today() - timedelta(days=21))]

    def details(self, token: str) -> VisitorDetails | None:
        """Ana's details."""
        return self._DETAILS if token == _ANA_TOKEN else None


@dataclass(slots=True, frozen=True)
class _OnSite:
    visit_id: str
    badge: str
    name: str


class DemoVisits:
    """`Visits`: Jan Kowalski, and the visits this kiosk checked in (`remember` / `forget`)."""

    def __init__(self) -> None:
        """Jan Kowalski is on site."""
        self._lock = threading.Lock()
        self._visits = [_OnSite("DEMO-ONSITE-1", ON_SITE_BADGE, "Jan Kowalski")]

    def remember(self, visit_id: str, badge: str, name: str) -> None:
        """Record a check-in made here."""
        with self._lock:
            self._visits = [v for v in self._visits if v.visit_id != visit_id]
            self._visits.append(_OnSite(visit_id, badge, name))

    def forget(self, visit_id: str) -> None:
        """Drop a visit that checked out."""
        with self._lock:
            self._visits = [v for v in self._visits if v.visit_id != visit_id]

    def forget_invitation(self, visit_id: str) -> None:
        """Nothing to drop: the demo keeps no cache of invitations (its one is always valid)."""

    def find_by_badge(self, badge: str) -> OnSiteVisit | None:
        """The visit holding `badge`."""
        with self._lock:
            found = next((v for v in self._visits if v.badge == badge.strip().upper()), None)
        return OnSiteVisit(found.visit_id, mask_name(found.name)) if found else None

    def search(self, text: str) -> list[OnSiteVisit]:
        """Visits whose visitor's name holds `text`, masked."""
        wanted = normalise(text)
        with self._lock:
            return [OnSiteVisit(v.visit_id, mask_name(v.name)) for v in self._visits
                    if wanted and wanted in normalise(v.name)]


class PreviewPrinter:
    """`BadgePrinter` that draws each badge as `<folder>/badge-<visit id>.png` (as a Zebra 4x2 prints it)."""

    def __init__(self, folder: Path | None) -> None:
        """Draw into `folder` (None: lay out only)."""
        self.folder = folder
        self.printed: list[BadgeRequest] = []
        self.sent_at: list[float] = []
        """`time.perf_counter()` when each badge was handed over (benchmarks)."""

    def print(self, badge: BadgeRequest) -> PrintResult:
        """Lay out the badge and save its picture."""
        self.sent_at.append(time.perf_counter())
        self.printed.append(badge)
        photo = Image.open(io.BytesIO(badge.photo)) if badge.photo else None
        layout = Badge(visitor_name=badge.visitor_name, visit_id=badge.visit_id, host=badge.host_name,
                       company=badge.company or "", day=badge.valid_until.date(), photo=photo,
                       qr=badge.badge)
        if self.folder is not None:
            private_dir(self.folder)
            path = save_preview(layout, ZEBRA_4X2, private_file(self.folder / f"badge-{badge.visit_id}.png"))
            log.info("badge of visit %s drawn as %s", badge.visit_id, path)
        return PrintResult(ok=True)


class SyntheticCamera:
    """A camera on a drawn room with a person in it: `preview()` frames and `snapshot()` JPEGs."""

    available = True

    def __init__(self, width: int = 480, height: int = 360) -> None:
        """Draw the room once."""
        self._scene = textured_scene(width, height)
        draw_person(self._scene, width / 2, height * 0.12, height * 1.4, shade=55.0)
        self._rng = np.random.default_rng(5)

    def preview(self) -> Frame:
        """The next frame (sensor noise changes)."""
        return camera_frame(self._scene, self._rng, 4.0)

    def snapshot(self) -> tuple[bytes, int, int]:
        """A JPEG snapshot (bytes, width, height)."""
        return encode_photo(self.preview())


@dataclass(slots=True)
class DemoSite:
    """The demo adapters in one piece."""

    ports: Ports
    visits: DemoVisits
    printer: PreviewPrinter
    camera: SyntheticCamera


def demo_site(badge_folder: Path | None = None) -> DemoSite:
    """Every demo adapter; badges are drawn into `badge_folder` if given."""
    visits, printer = DemoVisits(), PreviewPrinter(badge_folder)
    ports = Ports(
        directory=DemoDirectory(), agreements=FileAgreements(KioskConfig()), screener=DemoScreener(),
        printer=printer, invitations=DemoInvitations(), visitors=DemoVisitors(), visits=visits,
    )  # fmt: skip
    return DemoSite(ports, visits, printer, SyntheticCamera())
