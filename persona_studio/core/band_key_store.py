"""The near-duplicate index's band keys of every text it has signed, kept on disk between runs
of the app (in the user's cache folder), so that the first check of a project opened again
does not sign its texts again: at 100,000 examples the worker's first check then takes
3.4–4.3 s instead of 5.7–5.9 s (at 1,000,000, 45 s instead of 71 s; `benchmarks/recheck.py`).

A text's entry is keyed by a hash of the text (`text_keys`: BLAKE2b, 16 bytes), so it is never
stale: an edited text is another text. The entries hold under one signing scheme (`scheme`,
given by the index): another scheme starts afresh, as does a store past `max_texts` entries.
The check's worker process is its only user; a second copy of the app shares the file (SQLite
in WAL mode: a write that finds the file busy is skipped, not waited for).

Nothing here may fail a check: a store that cannot be opened, read or written (damaged, a full
disk, a folder it may not write) is let go for the rest of the session, said once in the log,
and the index signs its texts as it did without one. A damaged file is made afresh when it is
opened (its count reads every entry): damage found in use waits for the next run."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path

log = logging.getLogger(__name__)

MAX_TEXTS = 2_000_000  # ~100 bytes each on disk: ~0.2 GB at most
KEY_SIZE = 16


def text_keys(texts: Iterable[str | tuple[str, str]]) -> list[bytes]:
    """The store's key for each text, or (question, answer) pair: the pair's question's
    length comes first, so no two pairs share their bytes."""
    import hashlib  # loads OpenSSL: only when duplicates are looked for

    blake2b = hashlib.blake2b

    def key(text: str | tuple[str, str]) -> bytes:
        if isinstance(text, str):
            data = b"s" + text.encode("utf-8", "surrogatepass")
        else:
            question = text[0].encode("utf-8", "surrogatepass")
            data = b"p" + len(question).to_bytes(8, "little") + question
            data += text[1].encode("utf-8", "surrogatepass")
        return blake2b(data, digest_size=KEY_SIZE).digest()

    return list(map(key, texts))


class BandKeyStore:
    """Band keys by text key, in an SQLite file opened at first use."""

    def __init__(
        self, path: Path, scheme: str, *, value_sizes: Iterable[int], max_texts: int = MAX_TEXTS
    ) -> None:
        self.path, self.scheme, self.max_texts = path, scheme, max_texts
        self.value_sizes = frozenset(value_sizes)  # what an entry may hold; others are ignored
        self._db: sqlite3.Connection | None = None
        self._count = 0
        self.broken = False

    @property
    def holds_any(self) -> bool:
        """Whether it holds any entry (else none need be looked up: the app's first run)."""
        return self._open() is not None and self._count > 0

    def look_up(self, keys: list[bytes]) -> dict[bytes, bytes]:
        """The entries held for these keys (those it holds, of a size an entry may have)."""
        db = self._open()
        if db is None or not keys or not self._count:
            return {}
        try:
            with _transaction(db, "BEGIN"):  # one, not one per key (autocommit: 10× slower)
                db.execute("DELETE FROM temp.wanted")
                db.executemany("INSERT OR IGNORE INTO temp.wanted VALUES (?)", zip(keys))
                # each key looked for in the store: left to choose, SQLite read the whole
                # store for each part instead (16 s for 1,000,000 keys, 3.7 s this way)
                found = db.execute(
                    "SELECT key, value FROM temp.wanted CROSS JOIN band_keys USING (key)"
                ).fetchall()
        except sqlite3.Error as exc:
            self._let_go(exc)
            return {}
        sizes = self.value_sizes
        return {key: value for key, value in found if len(value) in sizes}

    def keep(self, entries: list[tuple[bytes, bytes]]) -> None:
        """Hold these entries (those it holds already stay as they are)."""
        db = self._open()
        if db is None or not entries:
            return
        try:
            with _transaction(db, "BEGIN IMMEDIATE"):  # busy now, if another app writes
                if self._count + len(entries) > self.max_texts:
                    db.execute("DELETE FROM band_keys")  # full: it starts afresh
                    self._count = 0
                cursor = db.executemany("INSERT OR IGNORE INTO band_keys VALUES (?, ?)", entries)
                self._count += max(cursor.rowcount, 0)
        except sqlite3.Error as exc:
            if _busy(exc):
                return  # another copy of the app writes: these are kept another time
            self._let_go(exc)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _open(self) -> sqlite3.Connection | None:
        if self._db is not None or self.broken:
            return self._db
        for attempt in (1, 2):
            try:
                self._db = self._connect()
                return self._db
            except sqlite3.Error as exc:
                if _busy(exc):
                    return None  # another copy of the app writes: tried again next time
                if attempt == 1 and _damaged(exc):
                    log.warning("the duplicate search's store was damaged (%s): made afresh", exc)
                    self._remove()
                    continue
                self._let_go(exc)
                return None
            except OSError as exc:
                self._let_go(exc)
                return None
        return None

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=0, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # a cache: the last writes may go
            db.execute("PRAGMA temp_store=MEMORY")  # the keys looked up
            db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT)")
            db.execute(
                "CREATE TABLE IF NOT EXISTS band_keys "
                "(key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID"
            )
            db.execute("CREATE TEMP TABLE wanted (key BLOB PRIMARY KEY) WITHOUT ROWID")
            row = db.execute("SELECT value FROM meta WHERE name = 'scheme'").fetchone()
            if row is None or row[0] != self.scheme:  # new, or signed another way
                with _transaction(db, "BEGIN IMMEDIATE"):
                    db.execute("DELETE FROM band_keys")
                    db.execute("INSERT OR REPLACE INTO meta VALUES ('scheme', ?)", (self.scheme,))
            self._count = db.execute("SELECT COUNT(*) FROM band_keys").fetchone()[0]
        except BaseException:
            db.close()
            raise
        return db

    def _let_go(self, exc: BaseException) -> None:
        log.warning("the duplicate search's store is not used this session: %s", exc)
        self.broken = True
        self.close()

    def _remove(self) -> None:
        for leftover in (self.path, *_sidecars(self.path)):
            leftover.unlink(missing_ok=True)


@contextlib.contextmanager
def _transaction(db: sqlite3.Connection, begin: str) -> Iterator[None]:
    db.execute(begin)
    try:
        yield
    except BaseException:
        with contextlib.suppress(sqlite3.Error):  # (SQLite may have rolled it back itself)
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _busy(exc: sqlite3.Error) -> bool:
    return getattr(exc, "sqlite_errorname", "") in ("SQLITE_BUSY", "SQLITE_LOCKED")


def _damaged(exc: sqlite3.Error) -> bool:
    return getattr(exc, "sqlite_errorname", "") in ("SQLITE_NOTADB", "SQLITE_CORRUPT")


def _sidecars(path: Path) -> list[Path]:
    return [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm")]
