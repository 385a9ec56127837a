"""The one store of MQTT principals: who may connect, of which kind, with which password.

File version 2 writes `kind`; version 1 files (`role`) stay readable. Their `device` role is the
`device` kind: a device whose kind is unknown, believed only about device-generic events
(`device.fault`) until `ensure` is called with its real kind (the device runner, the demo and
`gatehouse simulate` do, from the site file's device type), which upgrades it in place.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from broker import topics
from broker.kinds import Kind
from broker.private import make_private_dirs

log = logging.getLogger(__name__)

FILE_VERSION = 2
DEVICE_KINDS = frozenset({Kind.READER, Kind.DOOR, Kind.CAMERA, Kind.SCANNER, Kind.PRINTER})
"""The kinds a legacy `device` principal may be upgraded to."""
CREDENTIALS_FILE = "credentials.json"
"""The credential store's file name in an installation's data folder."""
PASSWORD_BYTES = 32  # 256 random bits: no hash cost is needed to protect them


class CredentialError(ValueError):
    """A credential store or principal that cannot be used; the text says why."""


Role = Kind
"""The old name of a principal's kind (kept: `Role.DEVICE` and friends still read well)."""


@dataclass(slots=True, frozen=True)
class Principal:
    """One MQTT identity: its user name is also its device name in topics; `role` is its kind."""

    name: str
    role: Kind
    password: str = field(repr=False)

    @property
    def kind(self) -> Kind:
        """What this principal is (reader, door, ..., station, service)."""
        return self.role


def check_principal_name(name: str) -> str:
    """Return `name` if it follows the device-name rule and is not reserved, else raise."""
    try:
        return topics.check_device(name)
    except topics.TopicError as exc:
        raise CredentialError(f"principal name: {exc}") from None


class CredentialStore:
    """Principals kept in a JSON file readable by its owner only (mode 0600)."""

    def __init__(self, path: Path | str) -> None:
        """Use the store at `path`; it is read, or created empty, on first use."""
        self.path = Path(path)

    def ensure(self, name: str, role: Kind) -> Principal:
        """The principal `name`, created with a fresh random password if it is new.

        A legacy `device` principal asked for as a reader, door, camera, scanner or printer is
        upgraded to that kind (same password); asked for as `device`, a known device kind is kept.
        """
        check_principal_name(name)
        role = Kind(role)
        with self._locked():
            found = self._load()
            existing = found.get(name)
            if existing is not None:
                if existing.role is role or (role is Kind.DEVICE and existing.role in DEVICE_KINDS):
                    return existing
                if existing.role is Kind.DEVICE and role in DEVICE_KINDS:
                    upgraded = Principal(name, role, existing.password)
                    found[name] = upgraded
                    self._save(found)
                    log.warning("MQTT principal %s is now a %s (was a device of unknown kind): "
                                "regenerate the broker's ACL or restart the embedded broker", name, role)
                    return upgraded
                raise CredentialError(
                    f"principal {name!r} already exists as {existing.role}, not {role}"
                )
            principal = Principal(name, role, secrets.token_urlsafe(PASSWORD_BYTES))
            found[name] = principal
            self._save(found)
        log.info("created MQTT principal %s (%s) in %s", name, role, self.path)
        return principal

    def get(self, name: str) -> Principal | None:
        """The principal `name`, or None if the store does not know it."""
        return self._load().get(name)

    def principals(self) -> list[Principal]:
        """Every principal, sorted by name."""
        return sorted(self._load().values(), key=lambda p: p.name)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold an exclusive lock so two processes never create the same principal twice."""
        make_private_dirs(self.path.parent)
        lock = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _load(self) -> dict[str, Principal]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        mode = self.path.stat().st_mode & 0o777
        if mode & 0o077:
            log.warning("credential file %s had mode %o; setting it to 600", self.path, mode)
            self.path.chmod(0o600)
        try:
            doc = json.loads(text)
            found = {
                name: Principal(check_principal_name(name), Kind(entry.get("kind", entry.get("role"))),
                                entry["password"])
                for name, entry in doc["principals"].items()
            }
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CredentialError(f"credential file {self.path} is not valid: {exc}") from None
        for principal in found.values():
            if not isinstance(principal.password, str) or not principal.password:
                raise CredentialError(f"credential file {self.path}: {principal.name} has no password")
        return found

    def _save(self, found: dict[str, Principal]) -> None:
        doc: dict[str, Any] = {
            "version": FILE_VERSION,
            "principals": {
                p.name: {"kind": str(p.role), "password": p.password}
                for p in sorted(found.values(), key=lambda p: p.name)
            },
        }
        write_private_file(self.path, json.dumps(doc, indent=2) + "\n")


class KindLookup:
    """The kind of each principal, read from a credential store and read again when the file changes.

    The file is looked at again at most once every `recheck_s` seconds, so a principal added or
    upgraded while the service runs is learnt without a restart. A file that became unreadable
    leaves the kinds last read in place (and is logged once).
    """

    def __init__(self, store: CredentialStore, *, recheck_s: float = 1.0) -> None:
        """Look kinds up in `store`."""
        self._store, self._recheck_s = store, recheck_s
        self._kinds: dict[str, Kind] = {}
        self._stamp: tuple[int, int, int] | None = None
        self._checked = -1e9

    def __call__(self, name: str) -> Kind | None:
        """The kind of principal `name`, or None if the store does not know it."""
        now = time.monotonic()
        if now - self._checked >= self._recheck_s:
            self._checked = now
            self._reload()
        return self._kinds.get(name)

    def _reload(self) -> None:
        try:
            st = self._store.path.stat()
        except FileNotFoundError:
            self._kinds, self._stamp = {}, None
            return
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return
        try:
            self._kinds = {p.name: p.role for p in self._store.principals()}
        except CredentialError as exc:
            log.error("keeping the principals' kinds read before: %s", exc)
        self._stamp = stamp


class PrincipalsOfKind:
    """The names of the principals of one kind, for `name in ...`, answered by a live KindLookup."""

    def __init__(self, kinds: KindLookup, kind: Kind) -> None:
        """Principals of `kind`, as `kinds` knows them at each question."""
        self._kinds, self._kind = kinds, kind

    def __contains__(self, name: object) -> bool:
        """True if `name` is a principal of this kind."""
        return isinstance(name, str) and self._kinds(name) is self._kind


def write_private_file(path: Path, text: str) -> None:
    """Atomically replace `path` with `text`, readable and writable by its owner only."""
    make_private_dirs(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    tmp.chmod(0o600)
    tmp.replace(path)
