"""The kiosk's offline cache: JSON files written atomically, and its own record of today's visits.

What the central service said last (hosts, upcoming invitations, the watchlist) is kept so that
check-ins go on when it cannot be reached. The files hold personal data: the folder and the
files are private to the kiosk's user (0700 / 0600).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import os
import re
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from broker.private import private_dir
from broker.schemas import VisitorType
from broker.seal import unseal
from kiosk.ports import Host, Invitation
from kiosk.screening import normalise

log = logging.getLogger(__name__)
_NAME = re.compile(r"[a-z0-9-]{1,64}")
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
OWN_VISITS = "own-visits"
"""The cache file of the visits this kiosk checked in today."""


class JsonCache:
    """Named JSON documents in a folder; a reader never sees half a file."""

    def __init__(self, folder: Path) -> None:
        """Use `folder` (created private if missing)."""
        self.folder = folder
        private_dir(folder)
        self._lock = threading.Lock()

    def path(self, name: str) -> Path:
        """The file holding `name`."""
        if not _NAME.fullmatch(name):
            raise ValueError(f"cache name must be [a-z0-9-]{{1,64}}, got {name!r}")
        return self.folder / f"{name}.json"

    def write(self, name: str, value: object) -> None:
        """Store `value` as `name`: written to a temporary file, synced, then renamed over the old."""
        target = self.path(name)
        data = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        with self._lock:
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=self.folder)
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
                Path(tmp).replace(target)
            except BaseException:
                with contextlib.suppress(OSError):
                    Path(tmp).unlink()
                raise

    def read(self, name: str) -> Any:
        """The value stored as `name`, or None if there is none (a damaged file is logged and ignored)."""
        try:
            text = self.path(name).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.error("cache file %s cannot be read: %s", self.path(name), exc)
            return None
        try:
            return json.loads(text)
        except ValueError as exc:
            log.error("cache file %s is damaged, ignored: %s", self.path(name), exc)
            return None


@dataclass(slots=True, frozen=True)
class OwnVisit:
    """A visit this kiosk checked in today: what check-out needs offline, nothing more."""

    visit_id: str
    badge: str
    name: str


class OwnVisits:
    """The visits this kiosk checked in today, kept in the cache so check-out works offline.

    Visits of an earlier day are dropped (and their names with them) when the day changes.
    """

    def __init__(self, cache: JsonCache, *, today: Callable[[], date] = date.today) -> None:
        """Keep the record in `cache`; `today` is the kiosk's local date."""
        self._cache = cache
        self._today = today
        self._lock = threading.Lock()

    def remember(self, visit_id: str, badge: str, name: str) -> None:
        """Record a check-in (a visit id seen again replaces its older record)."""
        with self._lock:
            visits = [v for v in self._load() if v.visit_id != visit_id]
            visits.append(OwnVisit(visit_id, badge, name))
            self._save(visits)

    def forget(self, visit_id: str) -> None:
        """Drop a visit that checked out."""
        with self._lock:
            visits = self._load()
            kept = [v for v in visits if v.visit_id != visit_id]
            if len(kept) != len(visits):
                self._save(kept)

    def find_by_badge(self, badge: str) -> OwnVisit | None:
        """Today's visit that was given `badge`, if this kiosk checked it in."""
        with self._lock:
            wanted = badge.strip().upper()
            found = (v for v in reversed(self._load()) if wanted in (v.badge.upper(), v.visit_id.upper()))
            return next(found, None)

    def search(self, text: str, limit: int) -> list[OwnVisit]:
        """Today's visits whose name holds `text` (accents and case ignored), newest first."""
        wanted = normalise(text)
        with self._lock:
            return [v for v in reversed(self._load()) if wanted in normalise(v.name)][:limit]

    def all(self) -> list[OwnVisit]:
        """Today's visits, oldest first."""
        with self._lock:
            return self._load()

    def _load(self) -> list[OwnVisit]:
        """Today's records from the cache (none if the file is from another day or damaged)."""
        doc = self._cache.read(OWN_VISITS)
        if not isinstance(doc, dict) or doc.get("day") != self._today().isoformat():
            return []
        visits: list[OwnVisit] = []
        for row in doc.get("visits", []):
            try:
                visits.append(OwnVisit(str(row["visit_id"]), str(row["badge"]), str(row["name"])))
            except (KeyError, TypeError):
                log.warning("own visit record %r is damaged, ignored", row)
        return visits

    def _save(self, visits: list[OwnVisit]) -> None:
        """Write today's records."""
        doc = {"day": self._today().isoformat(), "visits": [asdict(v) for v in visits]}
        self._cache.write(OWN_VISITS, doc)


def search_hosts(hosts: list[Host], prefix: str, limit: int) -> list[Host]:
    """Hosts whose name, or a word of it, starts with `prefix` (accents and case ignored)."""
    wanted = normalise(prefix)
    found: list[Host] = []
    for host in hosts if wanted else []:
        words = normalise(host.name).split()
        if any(" ".join(words[i:]).startswith(wanted) for i in range(len(words))):
            found.append(host)
            if len(found) == limit:
                break
    return found


def find_invitation(rows: list[dict[str, Any]], code: str, now: datetime) -> Invitation | None:
    """The cached invitation with `code` usable at `now`; every hash is compared, in constant time."""
    digest = code_digest(code)
    found: dict[str, Any] | None = None
    for row in rows:
        if hmac.compare_digest(digest, str(row.get("code_sha256", ""))) and found is None:
            found = row
    if found is None:
        return None
    start, end = parse_time(found.get("valid_from")), parse_time(found.get("valid_until"))
    if (start is not None and now < start) or (end is not None and now >= end):  # as the service
        log.info("cached invitation %s is not usable now", found.get("visit_id"))
        return None
    return invitation_from_json(_unsealed(found, code))


def _unsealed(row: dict[str, Any], code: str) -> dict[str, Any]:
    """A cached invitation with the full name and company sealed under its code (masked when it fails)."""
    if not isinstance(row.get("sealed"), str):
        return row
    try:
        details = unseal(code, row["sealed"])
    except ValueError as exc:
        log.error("cached invitation %s: its sealed details do not open (%s); masked name kept",
                  row.get("visit_id"), exc)
        return row
    return {**row, "visitor_name": details.get("visitor_name") or row.get("visitor_name"),
            "company": details.get("company")}


def json_rows(doc: Any) -> list[dict[str, Any]]:
    """A JSON list of objects; ValueError if it is not one."""
    if not isinstance(doc, list) or not all(isinstance(row, dict) for row in doc):
        raise ValueError("expected a JSON list of objects")
    return doc


def text_field(doc: Mapping[str, Any], *keys: str) -> str | None:
    """An optional text field of a JSON object, under the first of `keys` present."""
    value = next((doc[k] for k in keys if doc.get(k) is not None), None)
    return None if value is None or value == "" else str(value)


def parse_time(value: object) -> datetime | None:
    """An ISO 8601 time (taken as UTC without a zone), or None."""
    if not isinstance(value, str) or not value:
        return None
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def host_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """A host of the API as cached."""
    return {"id": str(row["id"]), "name": str(row["name"]), "department": text_field(row, "department")}


def host_from_json(row: Mapping[str, Any]) -> Host:
    """A host from the API or the cache; KeyError if malformed."""
    return Host(id=str(row["id"]), name=str(row["name"]), department=text_field(row, "department"))


def invitation_from_json(doc: Any) -> Invitation:
    """An invitation from the API or the cache; ValueError, KeyError or TypeError if malformed."""
    expected = parse_time(doc["expected_at"])
    if expected is None:
        raise ValueError("invitation without expected_at")
    return Invitation(
        visit_id=str(doc["visit_id"]), visitor_name=str(doc["visitor_name"]),
        company=text_field(doc, "company"), host_id=str(doc["host_id"]),
        host_name=str(doc.get("host_name") or ""),
        visitor_type=VisitorType(doc.get("visitor_type") or VisitorType.GUEST),
        email=text_field(doc, "email"), expected_at=expected)


def cacheable_invitation(row: Mapping[str, Any]) -> dict[str, Any]:
    """An upcoming invitation as cached: the API gives its code only as a SHA-256 hash, kept as is.

    ValueError, KeyError or TypeError if malformed (no `code_sha256` of 64 hex digits); a plain
    `code` or an e-mail the API might still send is not kept.
    """
    invitation_from_json(row)  # refuse a malformed one now, not when a visitor is waiting
    digest = row["code_sha256"]
    if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
        raise ValueError(f"invitation {row.get('visit_id')!r}: code_sha256 is not a SHA-256 in hex")
    doc = {k: v for k, v in row.items() if k not in ("code", "email")}
    doc["code_sha256"] = digest.lower()
    return doc


def without_invitation(rows: list[dict[str, Any]], visit_id: str) -> list[dict[str, Any]]:
    """The cached invitations but the one of `visit_id` (used at this kiosk: not to be used again)."""
    return [row for row in rows if str(row.get("visit_id")) != visit_id]


def code_digest(code: str) -> str:
    """The hash an invitation code is cached and compared as."""
    return hashlib.sha256(code.strip().encode("utf-8")).hexdigest()
