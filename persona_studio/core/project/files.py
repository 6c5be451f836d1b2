"""The file itself: telling our files from others by their header, connecting with the lock
settings, and writing whole databases atomically (create, save a copy, the pre-upgrade backup)."""

from __future__ import annotations

import os
import re
import sqlite3
import struct
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from persona_studio.core.project.errors import (
    CorruptProjectError,
    NewerVersionError,
    NotAProjectError,
    ProjectError,
    ProjectNotFoundError,
)

SUFFIX = ".persona"
# PRAGMA application_id: tells our files from any other SQLite database ("PSTU").
APPLICATION_ID = 0x50535455
_SQLITE_MAGIC = b"SQLite format 3\x00"


def read_header(path: Path) -> tuple[int, int]:
    """(user_version, application_id) read from the file's header, without opening SQLite."""
    try:
        with path.open("rb") as fh:
            header = fh.read(100)
    except FileNotFoundError:
        raise ProjectNotFoundError(
            f"“{path}” does not exist.", "Check the path, or create a new project."
        ) from None
    except IsADirectoryError:
        raise NotAProjectError(
            f"“{path}” is a folder, not a project file.", "Choose a .persona file."
        ) from None
    except PermissionError:
        raise ProjectError(
            f"You are not allowed to read “{path}”.", "Check the file's permissions."
        ) from None
    if len(header) < 100 or not header.startswith(_SQLITE_MAGIC):
        raise NotAProjectError(
            f"“{path.name}” is not a Persona Studio project.",
            "Choose a .persona file, or use Import to bring in cards, CSV or JSONL files.",
        )
    (user_version,) = struct.unpack(">I", header[60:64])
    (application_id,) = struct.unpack(">I", header[68:72])
    return user_version, application_id


def check_identity(path: Path, version: int, application_id: int, latest: int) -> None:
    if application_id != APPLICATION_ID:
        raise NotAProjectError(
            f"“{path.name}” is a database, but not a Persona Studio project.",
            "Choose a .persona file made by Persona Studio.",
        )
    if version > latest:
        raise NewerVersionError(
            f"“{path.name}” was saved by a newer Persona Studio (file version {version}, "
            f"this app reads up to {latest}).",
            "Update Persona Studio to open it. The file was not changed.",
        )


def corrupt(path: Path, detail: str = "") -> CorruptProjectError:
    backups = sorted(path.parent.glob(f"{path.name}.v*.bak"))
    where = (
        f"or the backup next to it ({backups[-1].name})"
        if backups
        else "or the copy Persona Studio saves before each upgrade, if you have one"
    )
    return CorruptProjectError(
        f"“{path.name}” is damaged and cannot be opened{': ' + detail if detail else ''}.",
        f"The file was not changed. Open a copy you saved earlier, {where}.",
    )


class PreOpenCopy:
    """The file and its write-ahead log as they were before opening. SQLite replays and
    checkpoints the `-wal` into the file when a connection opens and closes; for a file that
    is then refused (damaged, newer) that rewrite must not stay: `restore` puts both back byte
    for byte. Only made when a `-wal` is present (after a crash), so a normal open copies
    nothing."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.saved: list[tuple[Path, Path]] = []
        wal = Path(f"{path}-wal")
        if not wal.exists() or wal.stat().st_size == 0:
            return
        import shutil

        for original in (path, wal):
            aside = original.with_name(f".{original.name}.before-open")
            shutil.copy2(original, aside)
            self.saved.append((original, aside))

    def restore(self) -> None:
        for original, aside in self.saved:
            os.replace(aside, original)
        if self.saved:
            Path(f"{self.path}-shm").unlink(missing_ok=True)  # rebuilt from the -wal on open
        self.saved = []

    def discard(self) -> None:
        for _original, aside in self.saved:
            aside.unlink(missing_ok=True)
        self.saved = []


def writable(path: Path) -> bool:
    """Whether the file can be opened for writing and its folder can take the -wal beside it
    (checked without writing a byte: a read-only file, folder or disk says no)."""
    import errno

    try:
        os.close(os.open(path, os.O_RDWR))
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return False
        raise
    return os.access(path.parent, os.W_OK)


def connect(path: Path, mode: str = "rw") -> sqlite3.Connection:
    """A connection to the project file: "rw" (never creates it), "ro", or "immutable" (read
    without locks or the -wal, for a file nothing can write)."""
    query = "immutable=1" if mode == "immutable" else f"mode={mode}"
    db = sqlite3.connect(
        f"file:{quote(str(path))}?{query}",  # quoted: "#" or "?" in a name is part of it
        uri=True,
        isolation_level=None,  # we open transactions ourselves
        timeout=0.1,
        check_same_thread=False,  # services may read from a worker thread; _lock serialises
    )
    db.row_factory = sqlite3.Row
    return db


def atomic_sqlite_file(dest: Path, fill: Callable[[sqlite3.Connection], None]) -> None:
    """Write a complete database to a temp file beside `dest`, then move it into place."""
    import tempfile  # here: opening a project (the common start) writes no new file

    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        db = sqlite3.connect(tmp, isolation_level=None)
        try:
            fill(db)
        finally:
            db.close()  # closing checkpoints the WAL: the main file is complete on its own
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def backup_before_migration(db: sqlite3.Connection, path: Path, version: int) -> Path:
    """Keep the file as it was before a migration, beside it, so an upgrade can be undone."""
    backup = path.with_name(f"{path.name}.v{version}.bak")

    def fill(copy: sqlite3.Connection) -> None:
        db.backup(copy)

    atomic_sqlite_file(backup, fill)
    return backup


def app_version() -> str:
    from persona_studio import __version__

    return f"Persona Studio {__version__}"


def file_stem(name: str) -> str:
    """A file name from a character's name, safe on every OS: no folders (`../x`), no
    reserved characters, no leading or trailing dots and spaces."""
    stem = re.sub(r'[<>:"/\\|?*\x00-\x1f]+', "", name).strip(" .")
    return stem[:80] or "character"


def free_project_path(folder: Path, name: str, taken: Path | None = None) -> Path:
    """`folder/NAME.persona`, or `NAME (2).persona`… when that exists or is `taken` (the
    project open in this window): a suggestion never points at a file in use."""
    stem = file_stem(name)
    candidate = folder / f"{stem}{SUFFIX}"
    counter = 2
    while candidate.exists() or (taken is not None and candidate.absolute() == taken.absolute()):
        candidate = folder / f"{stem} ({counter}){SUFFIX}"
        counter += 1
    return candidate
