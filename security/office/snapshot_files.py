"""Snapshot JPEGs read for an incident's report, only from inside the site's snapshot folder.

A `camera.snapshot` event names its file with a path the camera chose: it is the edge's word, not a
place to read from. A path is read only when, with every link followed, it is a regular file inside
the snapshot folder, at most `MAX_JPEG` bytes, that starts as a JPEG does. Anything else is a reason
printed in the report in place of the image, never an error that stops the report.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from security.office.incident_timeline import SnapshotImage, SnapshotRef

log = logging.getLogger(__name__)

MAX_JPEG = 8 * 1024 * 1024
JPEG_START = b"\xff\xd8\xff"


def snapshot_folder(data_dir: Path) -> Path:
    """Where cameras on this machine write snapshots by default: DATA_DIR/snapshots (one folder a camera)."""
    return data_dir / "snapshots"


def _locate(path: str, root: Path, base: Path) -> Path | str:
    """The real path of a snapshot's file inside `root`, or why there is none."""
    if not path:
        return "no file was recorded"
    candidate = Path(path)
    candidate = candidate if candidate.is_absolute() else base / candidate
    try:
        real = candidate.resolve(strict=True)
    except (OSError, RuntimeError):
        return "the file is not there"
    return real if real.is_relative_to(root) else f"the file is outside the snapshot folder {root}"


def _content(real: Path) -> bytes | str:
    """The JPEG in a file, or why it cannot be used."""
    try:
        if not real.is_file():
            return "not a regular file"
        with real.open("rb") as file:
            jpeg = file.read(MAX_JPEG + 1)
    except OSError as exc:
        return f"the file cannot be read ({exc.strerror or exc})"
    if len(jpeg) > MAX_JPEG:
        return f"the file is larger than {MAX_JPEG // (1024 * 1024)} MiB"
    return jpeg if jpeg.startswith(JPEG_START) else "the file is not a JPEG"


def _read(ref: SnapshotRef, root: Path, base: Path) -> SnapshotImage:
    real = _locate(ref.path, root, base)
    found = real if isinstance(real, str) else _content(real)
    return SnapshotImage(ref, found) if isinstance(found, bytes) else SnapshotImage(ref, None, found)


def load_snapshots(refs: Sequence[SnapshotRef], folder: Path, *, base: Path) -> tuple[SnapshotImage, ...]:
    """Each snapshot's JPEG from inside `folder`, or why not; a relative path is taken from `base`."""
    root = folder.resolve()
    loaded = tuple(_read(ref, root, base) for ref in refs)
    for image in loaded:
        if image.problem is not None:
            log.warning("snapshot %s (%s) not shown: %s", image.ref.event_id, image.ref.path, image.problem)
    return loaded
