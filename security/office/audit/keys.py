"""The site's audit key: `audit_key` reads DATA_DIR/secrets/audit.key, `ensure_audit_key` creates it.

The key is 32 random bytes in a file of mode 0600, made the first time the service or a command
needs it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from broker.config import ConfigError, Settings
from broker.private import private_dir

KEY_BYTES = 32


def audit_key_path(settings: Settings) -> Path:
    """Where the site's audit key lives: DATA_DIR/secrets/audit.key."""
    return settings.data_dir / "secrets" / "audit.key"


def read_key_file(path: Path) -> bytes:
    """The key in `path` (its raw bytes); refuse a missing or empty file."""
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"audit key file {path} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"cannot read audit key file {path}: {exc.strerror}") from None
    if not key:
        raise ConfigError(f"audit key file {path} is empty")
    return key


def audit_key(settings: Settings) -> bytes | None:
    """The site's audit key, or None when it was never created (an unkeyed chain)."""
    path = audit_key_path(settings)
    return read_key_file(path) if path.exists() else None


def ensure_audit_key(settings: Settings) -> bytes:
    """The site's audit key, created first (32 random bytes, mode 0600) if there is none yet.

    The key is written to a temporary file and hard-linked into place, so a process racing
    this one either wins or reads the complete key of the winner.
    """
    path = audit_key_path(settings)
    if path.exists():
        return read_key_file(path)
    private_dir(path.parent)
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(secrets.token_bytes(KEY_BYTES))
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    return read_key_file(path)
