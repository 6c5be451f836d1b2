"""What every part of the open project shares: the connection, its lock, and one transaction
helper that turns a refused commit (a full disk) into a plain `ProjectError`."""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from persona_studio.core.project.errors import ProjectError

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def json_text(value: object) -> str:
    """JSON for a column. Compact UTF-8 as a rule; where the value holds a lone surrogate (text
    pasted or imported from a broken source), `\\u` escapes instead: SQLite can store it, and it
    reads back exactly as it was. (`isascii` is O(1): plain text pays nothing.)"""
    text = json.dumps(value, ensure_ascii=False)
    if not text.isascii() and _LONE_SURROGATE.search(text):
        return json.dumps(value)
    return text


def plain_text(value: str | None) -> str | None:
    """A text column: a lone surrogate, which no file can store, becomes U+FFFD."""
    if value is None or value.isascii():
        return value
    return _LONE_SURROGATE.sub("\ufffd", value)


class Store:
    """The connection and its lock. Not thread-safe by itself: calls are serialised by the lock
    (services may read from a worker thread)."""

    def __init__(self, path: Path, db: sqlite3.Connection, *, read_only: bool = False) -> None:
        self.path = path
        self._db = db
        self.read_only = read_only  # opened read-only: every write is refused before SQLite
        # small tables' reads (jobs, chats' count, meta), kept until a write to them: the UI
        # thread reads them without waiting for the lock a worker holds through a long read
        # (exporting or loading 100,000 examples held it for 230–270 ms)
        self._small: dict[str, Any] = {}
        self._lock = threading.RLock()
        self.damaged_example_ids: list[str] = []  # rows the last examples() could not read
        # SQLite's damage check, when opening left it to run beside the first read of every
        # example (`Project.open_and_read`): until it has passed, nothing is written
        self._unchecked = False
        self._damage: str | None = None  # what it found

    def _check_now(self) -> None:
        """Run the damage check opening left for later, if it has not run; CorruptProjectError
        if the file is damaged (then, and ever after: nothing is written to it)."""
        if self._unchecked:
            with self._lock:
                if self._unchecked:
                    try:
                        found = [row[0] for row in self._db.execute("PRAGMA quick_check(5)")]
                    except sqlite3.DatabaseError as exc:
                        found = [str(exc)]
                    self._damage = None if found == ["ok"] else "; ".join(found[:2])
                    self._unchecked = False
        if self._damage is not None:
            from persona_studio.core.project.files import corrupt

            raise corrupt(self.path, self._damage)

    @contextlib.contextmanager
    def held(self, *, wait: bool = True) -> Iterator[bool]:
        """The file kept for this thread's calls meanwhile (the lock is re-entrant). With
        `wait=False`, only if no other thread has it now: a worker reading every example (an
        export) or copying the file holds it for seconds at 1,000,000 examples, and a write
        from the window's thread waited for it that long. False then, and nothing is held."""
        got = self._lock.acquire(blocking=wait)
        try:
            yield got
        finally:
            if got:
                self._lock.release()

    @contextlib.contextmanager
    def _transaction(self, *drops: str) -> Iterator[None]:
        """One write, all or nothing. Any refusal by the disk or SQLite (full, read-only, I/O
        error, locked) rolls back and becomes a `ProjectError`: callers never see a raw
        sqlite3 error, and what they were told is saved is on disk."""
        if self.read_only:
            from persona_studio.core.project.errors import ProjectReadOnlyError

            raise ProjectReadOnlyError(
                f"“{self.path.name}” is open read-only: nothing can be saved to it.",
                "File → Save a Copy… somewhere you can write, then open the copy to change it.",
            )
        self._check_now()
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise _refused(self.path, exc) from exc
            for key in drops:  # the kept reads this write changes (no reader can keep one now)
                self._small.pop(key, None)
            try:
                yield
                self._db.execute("COMMIT")
                for key in drops:  # read again now, under the lock: later readers never wait
                    self._small[key] = SMALL_READS[key](self._db)
            except BaseException as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise _refused(self.path, exc) from exc
                raise

    def keep_small_reads(self) -> None:
        """Make every small read now, so that the window's reads of them never wait for the
        lock behind a long read in a worker (at 100,000 examples, opening the Dataset tab
        stalled 234 ms on the list of jobs while the examples were being read)."""
        for key in SMALL_READS:
            self._remembered(key)

    def _remembered(self, key: str) -> Any:
        """A small table's read (`SMALL_READS`), made once under the lock, then kept; a write
        naming `key` in its transaction reads it again right after its commit, under the same
        lock, so a kept value is never older than a commit."""
        value = self._small.get(key, _UNREAD)
        if value is not _UNREAD:
            return value
        with self._lock:
            value = self._small[key] = SMALL_READS[key](self._db)
        return value


_UNREAD = object()
SMALL_READS: dict[str, Callable[[sqlite3.Connection], Any]] = {
    "jobs": lambda db: [
        dict(row) for row in db.execute("SELECT * FROM jobs ORDER BY created_at DESC")
    ],
    "chat_titles": lambda db: [
        (str(row["id"]), row["title"] if type(row["title"]) is str else "")
        for row in db.execute("SELECT id, title FROM chats ORDER BY updated_at DESC")
    ],
    "meta": lambda db: {row["key"]: row["value"] for row in db.execute("SELECT * FROM meta")},
    # the sheet link and when it last synced (the snapshot is `sync_rows`), so the window
    # reads the link while a sync writes in a worker
    "sync": lambda db: {row["key"]: row["value"] for row in db.execute("SELECT * FROM sync_state")},
}


def _refused(path: Path, exc: sqlite3.Error) -> ProjectError:
    text = str(exc)
    if "full" in text:
        hint = "Free some disk space; your edits are kept and saved as soon as it works."
    elif isinstance(exc, sqlite3.IntegrityError):
        hint = "Nothing was changed. This should not happen: please report it to us."
    elif "readonly" in text or "read-only" in text:
        hint = "The file or its folder cannot be written: save a copy somewhere you can write."
    else:
        hint = "Check the disk and the file; your edits are kept and saved as soon as it works."
    return ProjectError(f"Could not save to “{path.name}”: {text}.", hint)
