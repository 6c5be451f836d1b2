"""What every part of the open project shares: the connection, its lock, and one transaction
helper that turns a refused commit (a full disk) into a plain `ProjectError`."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from persona_studio.core.project.errors import ProjectError


class Store:
    """The connection and its lock. Not thread-safe by itself: calls are serialised by the lock
    (services may read from a worker thread)."""

    def __init__(self, path: Path, db: sqlite3.Connection) -> None:
        self.path = path
        self._db = db
        self._lock = threading.RLock()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            try:
                self._db.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                self._db.execute("ROLLBACK")
                raise ProjectError(
                    f"Could not save to “{self.path.name}”: {exc}.",
                    "Check free disk space, then try again.",
                ) from exc
