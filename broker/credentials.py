"""The one store of MQTT principals: who may connect, in which role, with which password."""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from broker import topics
from broker.private import make_private_dirs

logger = logging.getLogger(__name__)

FILE_VERSION = 1
PASSWORD_BYTES = 32  # 256 random bits: no hash cost is needed to protect them


class CredentialError(ValueError):
    """A credential store or principal that cannot be used; the text says why."""


class Role(StrEnum):
    """What a principal is, which decides its ACL."""

    SERVICE = "service"
    STATION = "station"
    KIOSK = "kiosk"
    DEVICE = "device"


@dataclass(slots=True, frozen=True)
class Principal:
    """One MQTT identity: its user name is also its device name in topics."""

    name: str
    role: Role
    password: str = field(repr=False)


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

    def ensure(self, name: str, role: Role) -> Principal:
        """The principal `name`, created with a fresh random password if it is new."""
        check_principal_name(name)
        role = Role(role)
        with self._locked():
            found = self._load()
            existing = found.get(name)
            if existing is not None:
                if existing.role is not role:
                    raise CredentialError(
                        f"principal {name!r} already exists as {existing.role}, not {role}"
                    )
                return existing
            principal = Principal(name, role, secrets.token_urlsafe(PASSWORD_BYTES))
            found[name] = principal
            self._save(found)
        logger.info("created MQTT principal %s (%s) in %s", name, role, self.path)
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
            logger.warning("credential file %s had mode %o; setting it to 600", self.path, mode)
            self.path.chmod(0o600)
        try:
            doc = json.loads(text)
            found = {
                name: Principal(check_principal_name(name), Role(entry["role"]), entry["password"])
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
                p.name: {"role": str(p.role), "password": p.password}
                for p in sorted(found.values(), key=lambda p: p.name)
            },
        }
        write_private_file(self.path, json.dumps(doc, indent=2) + "\n")


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
