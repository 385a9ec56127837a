"""Private files: the data folder and everything in it belong to the service's user alone.

Folders are 0700 and files 0600 whatever the umask. Every place that creates a folder or a file
under the data folder (databases, outboxes, logs, snapshots, photos, credentials) goes through
`private_dir` or `private_file`. A SQLite database made by `private_file` before SQLite opens it
keeps its -wal and -shm private too: SQLite gives them the database file's mode.
"""

from __future__ import annotations

import os
from pathlib import Path

DIR_MODE = 0o700
"""A private folder: its owner only may list, enter and change it."""
FILE_MODE = 0o600
"""A private file: its owner only may read and write it."""


def make_private_dirs(folder: Path) -> None:
    """Create `folder` and its missing parents, each 0700; folders that exist are left as they are."""
    missing: list[Path] = []
    while not os.path.lexists(folder) and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for created in reversed(missing):
        try:
            created.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue  # made meanwhile by another thread or process: its creator made it private
        created.chmod(DIR_MODE)  # mkdir's mode passes through the umask


def private_dir(path: Path) -> Path:
    """`path` as a private folder (0700): created with its missing parents (also 0700), or tightened.

    Give it folders that belong to Gatehouse (the data folder, its logs, snapshots, outboxes):
    an existing `path` is made 0700; existing parents are left alone.
    """
    make_private_dirs(path)
    if not path.is_dir():
        raise NotADirectoryError(f"{path} is not a folder")
    path.chmod(DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """`path` as a private file (0600): created empty if missing (missing folders 0700), else tightened.

    Open it afterwards as usual: `open(path, "wb")` truncates it but keeps its mode. Returns `path`.
    """
    make_private_dirs(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return path
