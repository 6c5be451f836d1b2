"""The `.persona` project file: one SQLite database per character.

The file is opened in WAL mode with an exclusive lock held for as long as it is open, so a second
window (or process) is refused instead of writing over the first one, and a crashed or killed app
leaves no stale lock behind (the OS drops it with the process). Every method that changes data
commits before it returns: what the caller was told is saved is on disk.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import struct
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from persona_studio.core.dataset import Example, now_iso
from persona_studio.core.errors import UserFacingError
from persona_studio.core.persona import Persona
from persona_studio.core.rules import Rule

SUFFIX = ".persona"
# PRAGMA application_id: tells our files from any other SQLite database ("PSTU").
APPLICATION_ID = 0x50535455
_SQLITE_MAGIC = b"SQLite format 3\x00"


class ProjectError(UserFacingError):
    """A project file could not be opened, created or written."""


class ProjectNotFoundError(ProjectError):
    pass


class NotAProjectError(ProjectError):
    pass


class NewerVersionError(ProjectError):
    pass


class CorruptProjectError(ProjectError):
    pass


class ProjectLockedError(ProjectError):
    pass


def _execute_script(db: sqlite3.Connection, script: str) -> None:
    """Run DDL statement by statement (executescript would commit the open transaction)."""
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def _schema_v1(db: sqlite3.Connection) -> None:
    _execute_script(
        db,
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE persona (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE assets (name TEXT PRIMARY KEY, mime TEXT NOT NULL, data BLOB NOT NULL);
        CREATE TABLE examples (
            id TEXT PRIMARY KEY,
            position REAL NOT NULL,
            messages TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'draft'
                CHECK (status IN ('draft', 'approved', 'rejected')),
            tags TEXT NOT NULL DEFAULT '[]',
            rating INTEGER,
            source TEXT NOT NULL DEFAULT '',
            system_prompt TEXT,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX examples_by_position ON examples(position);
        CREATE TABLE rules (
            id TEXT PRIMARY KEY,
            position REAL NOT NULL,
            enabled INTEGER NOT NULL DEFAULT 1,
            name TEXT NOT NULL DEFAULT '',
            trigger TEXT NOT NULL,
            action TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE jobs (
            id TEXT PRIMARY KEY,
            profile TEXT NOT NULL,
            base_model TEXT NOT NULL,
            status TEXT NOT NULL,
            fine_tuned_model TEXT,
            data TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE chats (
            id TEXT PRIMARY KEY,
            title TEXT NOT NULL,
            data TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE sync_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        """,
    )


def _schema_v2(db: sqlite3.Connection) -> None:
    """Rules keep what a Character Card lorebook entry had beyond trigger and action."""
    db.execute("ALTER TABLE rules ADD COLUMN extras TEXT NOT NULL DEFAULT '{}'")


def _schema_v3(db: sqlite3.Connection) -> None:
    """Runs of long, resumable work (the pipeline): what each step did and produced."""
    _execute_script(
        db,
        """
        CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            status TEXT NOT NULL,
            data TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX runs_by_kind ON runs(kind, created_at);
        """,
    )


Migration = Callable[[sqlite3.Connection], None]
# MIGRATIONS[i] takes a file from schema version i to i + 1. Append, never edit a shipped one.
MIGRATIONS: tuple[Migration, ...] = (_schema_v1, _schema_v2, _schema_v3)


def schema_version(migrations: tuple[Migration, ...] = MIGRATIONS) -> int:
    return len(migrations)


@dataclass(frozen=True)
class ProjectCounts:
    examples: int
    approved: int
    rules: int
    jobs: int
    chats: int


def _read_header(path: Path) -> tuple[int, int]:
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


def _check_identity(path: Path, version: int, application_id: int, latest: int) -> None:
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


def _corrupt(path: Path, detail: str = "") -> CorruptProjectError:
    return CorruptProjectError(
        f"“{path.name}” is damaged and cannot be opened{': ' + detail if detail else ''}.",
        "The file was not changed. Open a copy you saved earlier, or the backup next to it.",
    )


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(
        f"file:{path}?mode=rw",
        uri=True,
        isolation_level=None,  # we open transactions ourselves
        timeout=0.1,
        check_same_thread=False,  # services may read from a worker thread; _lock serialises
    )
    db.row_factory = sqlite3.Row
    return db


def _apply_migrations(
    db: sqlite3.Connection, start: int, migrations: tuple[Migration, ...]
) -> None:
    for version in range(start, len(migrations)):
        db.execute("BEGIN IMMEDIATE")
        try:
            migrations[version](db)
            db.execute(f"PRAGMA user_version = {version + 1}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise


def _atomic_sqlite_file(dest: Path, fill: Callable[[sqlite3.Connection], None]) -> None:
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


class Project:
    """An open `.persona` file. Not thread-safe by itself: calls are serialised by a lock."""

    def __init__(self, path: Path, db: sqlite3.Connection) -> None:
        self.path = path
        self._db = db
        self._lock = threading.RLock()

    # ---- opening and creating -------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        persona: Persona | None = None,
        *,
        examples: Iterable[Example] = (),
        rules: Iterable[Rule] = (),
        avatar_png: bytes | None = None,
        overwrite: bool = False,
    ) -> Project:
        """Create a new project file (atomically: it appears complete or not at all) and open it."""
        path = Path(path)
        if path.exists() and not overwrite:
            raise ProjectError(
                f"“{path.name}” already exists.",
                "Choose another name, or open the existing project.",
            )
        if not path.parent.is_dir():
            raise ProjectError(
                f"The folder “{path.parent}” does not exist.", "Choose another folder."
            )
        persona = persona or Persona()
        examples, rules = list(examples), list(rules)

        def fill(db: sqlite3.Connection) -> None:
            db.execute("PRAGMA journal_mode = WAL")
            db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            _apply_migrations(db, 0, MIGRATIONS)
            fresh = cls(path, db)
            with fresh._transaction():
                db.executemany(
                    "INSERT INTO meta(key, value) VALUES (?, ?)",
                    [("created_at", now_iso()), ("created_with", _app_version())],
                )
                fresh._write_persona(persona)
                fresh._insert_examples(examples, 0.0)
                for position, rule in enumerate(rules):
                    fresh._insert_rule(rule, float(position))
                if avatar_png is not None:
                    db.execute(
                        "INSERT INTO assets(name, mime, data) VALUES ('avatar', ?, ?)",
                        ("image/png", avatar_png),
                    )

        try:
            _atomic_sqlite_file(path, fill)
        except OSError as exc:
            raise ProjectError(
                f"Could not create “{path.name}”: {exc.strerror}.",
                "Choose a folder you can write to.",
            ) from exc
        return cls.open(path)

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], *, migrations: tuple[Migration, ...] = MIGRATIONS
    ) -> Project:
        """Open a project. A file that is not ours, newer, damaged or already open is refused
        before anything is written to it."""
        path = Path(path).absolute()
        latest = len(migrations)
        version, application_id = _read_header(path)
        _check_identity(path, version, application_id, latest)
        try:
            db = _connect(path)
        except sqlite3.Error as exc:
            raise ProjectError(
                f"Could not open “{path.name}”: {exc}.",
                "Check that the file and its folder can be written.",
            ) from exc
        try:
            db.execute("PRAGMA locking_mode = EXCLUSIVE")
            try:
                db.execute("BEGIN EXCLUSIVE")  # takes the lock, kept until close
                db.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                if "readonly" in str(exc):
                    raise ProjectError(
                        f"“{path.name}” is read-only.",
                        "Copy it to a folder you can write to, then open the copy.",
                    ) from None
                if "locked" in str(exc) or "busy" in str(exc):
                    raise ProjectLockedError(
                        f"“{path.name}” is already open in Persona Studio.",
                        "Switch to the window that has it open, or close it there first.",
                    ) from None
                raise
            check = [row[0] for row in db.execute("PRAGMA quick_check(5)")]
            if check != ["ok"]:
                raise _corrupt(path, "; ".join(check[:2]))
            version = db.execute("PRAGMA user_version").fetchone()[0]
            application_id = db.execute("PRAGMA application_id").fetchone()[0]
            _check_identity(path, version, application_id, latest)
            if version < latest:
                _backup_before_migration(db, path, version)
                _apply_migrations(db, version, migrations)
            db.execute("PRAGMA journal_mode = WAL")
            db.execute(
                "PRAGMA synchronous = NORMAL"
            )  # WAL + NORMAL: a commit survives an app crash
        except sqlite3.DatabaseError as exc:
            db.close()
            raise _corrupt(path, str(exc)) from exc
        except BaseException:
            db.close()
            raise
        return cls(path, db)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def save_copy(self, dest: str | os.PathLike[str]) -> Path:
        """Write a complete, unlocked copy of this project to `dest` (atomically)."""
        dest = Path(dest)
        if dest.resolve() == self.path.resolve():
            raise ProjectError("A copy cannot replace the project itself.", "Choose another name.")

        def fill(db: sqlite3.Connection) -> None:
            with self._lock:
                self._db.backup(db)
            db.execute("PRAGMA journal_mode = WAL")

        try:
            _atomic_sqlite_file(dest, fill)
        except OSError as exc:
            raise ProjectError(
                f"Could not save a copy to “{dest}”: {exc.strerror}.",
                "Choose a folder you can write to.",
            ) from exc
        return dest

    # ---- persona -------------------------------------------------------------------------

    def persona(self) -> Persona:
        with self._lock:
            rows = self._db.execute("SELECT key, value FROM persona").fetchall()
        return Persona.from_dict({row["key"]: json.loads(row["value"]) for row in rows})

    def save_persona(self, persona: Persona) -> None:
        with self._transaction():
            self._write_persona(persona)

    def set_persona_fields(self, **fields: Any) -> None:
        """Save some fields of the persona, leaving the others as they are."""
        unknown = set(fields) - set(Persona.field_names())
        if unknown:
            raise ValueError(f"unknown persona fields: {sorted(unknown)}")
        with self._transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO persona(key, value) VALUES (?, ?)",
                [(key, json.dumps(value, ensure_ascii=False)) for key, value in fields.items()],
            )

    def _write_persona(self, persona: Persona) -> None:
        self._db.execute("DELETE FROM persona")
        self._db.executemany(
            "INSERT INTO persona(key, value) VALUES (?, ?)",
            [(k, json.dumps(v, ensure_ascii=False)) for k, v in persona.to_dict().items()],
        )

    def avatar(self) -> tuple[bytes, str] | None:
        with self._lock:
            row = self._db.execute("SELECT data, mime FROM assets WHERE name = 'avatar'").fetchone()
        return (bytes(row["data"]), row["mime"]) if row else None

    def set_avatar(self, data: bytes | None, mime: str = "image/png") -> None:
        with self._transaction():
            if data is None:
                self._db.execute("DELETE FROM assets WHERE name = 'avatar'")
            else:
                self._db.execute(
                    "INSERT OR REPLACE INTO assets(name, mime, data) VALUES ('avatar', ?, ?)",
                    (mime, data),
                )

    # ---- examples ------------------------------------------------------------------------

    def examples(self) -> list[Example]:
        """All examples in order (100k load in about half a second: plain tuples, no Row)."""
        with self._lock:
            cursor = self._db.cursor()
            cursor.row_factory = None
            rows = cursor.execute(
                "SELECT id, messages, status, tags, rating, source, system_prompt, updated_at "
                "FROM examples ORDER BY position"
            ).fetchall()
        loads = json.loads
        return [
            Example(
                messages=loads(messages),
                id=id_,
                status=status,
                tags=[] if tags == "[]" else loads(tags),
                rating=rating,
                source=source,
                system_prompt=system_prompt,
                updated_at=updated_at,
            )
            for id_, messages, status, tags, rating, source, system_prompt, updated_at in rows
        ]

    def example(self, example_id: str) -> Example | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM examples WHERE id = ?", (example_id,)).fetchone()
        return _example_from_row(row) if row else None

    def add_examples(self, examples: Iterable[Example]) -> None:
        """Append examples after the last one, in one transaction."""
        with self._transaction():
            last = self._db.execute("SELECT MAX(position) FROM examples").fetchone()[0]
            self._insert_examples(examples, (last if last is not None else -1.0) + 1.0)

    def example_positions(self) -> dict[str, float]:
        with self._lock:
            return {row[0]: row[1] for row in self._db.execute("SELECT id, position FROM examples")}

    def insert_examples_at(self, placed: Iterable[tuple[float, Example]]) -> None:
        """Put examples back where they were (undoing a delete), in one transaction."""
        with self._transaction():
            self._db.executemany(
                "INSERT INTO examples(id, position, messages, status, tags, rating, source, "
                "system_prompt, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(ex.id, position, *_example_values(ex)) for position, ex in placed],
            )

    def set_example_positions(self, positions: dict[str, float]) -> None:
        """Reorder: give examples new positions, in one transaction."""
        with self._transaction():
            self._db.executemany(
                "UPDATE examples SET position = ? WHERE id = ?",
                [(position, i) for i, position in positions.items()],
            )

    def update_examples(self, examples: Iterable[Example]) -> None:
        """Save edited examples in one transaction."""
        with self._transaction():
            for example in examples:
                example.updated_at = now_iso()
                self._db.execute(
                    "UPDATE examples SET messages = ?, status = ?, tags = ?, rating = ?, "
                    "source = ?, system_prompt = ?, updated_at = ? WHERE id = ?",
                    (*_example_values(example), example.id),
                )

    def replace_examples(self, examples: Iterable[Example]) -> None:
        """All examples at once (an import that replaces), in one transaction."""
        with self._transaction():
            self._db.execute("DELETE FROM examples")
            self._insert_examples(examples, 0.0)

    def update_example(self, example: Example) -> None:
        example.updated_at = now_iso()
        with self._transaction():
            cursor = self._db.execute(
                "UPDATE examples SET messages = ?, status = ?, tags = ?, rating = ?, source = ?, "
                "system_prompt = ?, updated_at = ? WHERE id = ?",
                (*_example_values(example), example.id),
            )
            if cursor.rowcount == 0:
                raise KeyError(example.id)

    def delete_examples(self, ids: Iterable[str]) -> int:
        with self._transaction():
            cursor = self._db.executemany("DELETE FROM examples WHERE id = ?", [(i,) for i in ids])
            return cursor.rowcount

    def _insert_examples(self, examples: Iterable[Example], first_position: float) -> None:
        self._db.executemany(
            "INSERT INTO examples(id, position, messages, status, tags, rating, source, "
            "system_prompt, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (ex.id, first_position + offset, *_example_values(ex))
                for offset, ex in enumerate(examples)
            ],
        )

    # ---- rules ---------------------------------------------------------------------------

    def rules(self) -> list[Rule]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM rules ORDER BY position").fetchall()
        return [
            Rule(
                id=row["id"],
                name=row["name"],
                enabled=bool(row["enabled"]),
                trigger=json.loads(row["trigger"]),
                action=json.loads(row["action"]),
                extras=json.loads(row["extras"]),
            )
            for row in rows
        ]

    def replace_rules(self, rules: Iterable[Rule]) -> None:
        """Store the whole ordered rule list (rules are few; order is the list's order)."""
        with self._transaction():
            self._db.execute("DELETE FROM rules")
            for position, rule in enumerate(rules):
                self._insert_rule(rule, float(position))

    def replace_character(
        self, persona: Persona, rules: Iterable[Rule], avatar_png: bytes | None
    ) -> None:
        """Persona, rules and avatar together, in one transaction (a card import)."""
        with self._transaction():
            self._write_persona(persona)
            self._db.execute("DELETE FROM rules")
            for position, rule in enumerate(rules):
                self._insert_rule(rule, float(position))
            if avatar_png is not None:
                self._db.execute(
                    "INSERT OR REPLACE INTO assets(name, mime, data) VALUES ('avatar', ?, ?)",
                    ("image/png", avatar_png),
                )

    def _insert_rule(self, rule: Rule, position: float) -> None:
        self._db.execute(
            "INSERT INTO rules(id, position, enabled, name, trigger, action, extras, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                rule.id,
                position,
                int(rule.enabled),
                rule.name,
                json.dumps(rule.trigger, ensure_ascii=False),
                json.dumps(rule.action, ensure_ascii=False),
                json.dumps(rule.extras, ensure_ascii=False),
                now_iso(),
            ),
        )

    # ---- jobs, chats, sync state ---------------------------------------------------------

    def jobs(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM jobs ORDER BY created_at DESC").fetchall()
        return [{**dict(row), "data": json.loads(row["data"])} for row in rows]

    def save_job(
        self,
        job_id: str,
        *,
        profile: str,
        base_model: str,
        status: str,
        fine_tuned_model: str | None,
        data: dict[str, Any],
    ) -> None:
        """Insert or update a fine-tuning job's record (survives restarts: monitors reattach)."""
        now = now_iso()
        with self._transaction():
            self._db.execute(
                "INSERT INTO jobs(id, profile, base_model, status, fine_tuned_model, data, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO "
                "UPDATE SET status = excluded.status, fine_tuned_model = excluded.fine_tuned_model,"
                " data = excluded.data, updated_at = excluded.updated_at",
                (
                    job_id,
                    profile,
                    base_model,
                    status,
                    fine_tuned_model,
                    json.dumps(data, ensure_ascii=False),
                    now,
                    now,
                ),
            )

    def job(self, job_id: str) -> dict[str, Any] | None:
        return next((j for j in self.jobs() if j["id"] == job_id), None)

    def runs(self, kind: str) -> list[dict[str, Any]]:
        """Records of resumable runs of one kind ("pipeline"), newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM runs WHERE kind = ? ORDER BY created_at DESC, rowid DESC", (kind,)
            ).fetchall()
        return [{**dict(row), "data": json.loads(row["data"])} for row in rows]

    def save_run(self, run_id: str, kind: str, status: str, data: dict[str, Any]) -> None:
        now = now_iso()
        with self._transaction():
            self._db.execute(
                "INSERT INTO runs(id, kind, status, data, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET status = excluded.status,"
                " data = excluded.data, updated_at = excluded.updated_at",
                (run_id, kind, status, json.dumps(data, ensure_ascii=False), now, now),
            )

    def apply_sync(
        self,
        upserts: Iterable[Example],
        deletes: Iterable[str],
        snapshot: dict[str, Any],
        link: dict[str, Any],
    ) -> None:
        """A finished Sheets sync, in one transaction: rows taken from the sheet, rows deleted
        there, and the new snapshot (so a crash cannot leave them out of step)."""
        upserts = list(upserts)
        with self._transaction():
            existing = {row[0] for row in self._db.execute("SELECT id FROM examples")}
            last = self._db.execute("SELECT MAX(position) FROM examples").fetchone()[0]
            position = (last if last is not None else -1.0) + 1.0
            for example in upserts:
                if example.id in existing:
                    example.updated_at = now_iso()
                    self._db.execute(
                        "UPDATE examples SET messages = ?, status = ?, tags = ?, rating = ?, "
                        "source = ?, system_prompt = ?, updated_at = ? WHERE id = ?",
                        (*_example_values(example), example.id),
                    )
                else:
                    self._insert_examples([example], position)
                    position += 1.0
            self._db.executemany("DELETE FROM examples WHERE id = ?", [(i,) for i in deletes])
            for key, value in (("snapshot", snapshot), ("sheet", link)):
                self._db.execute(
                    "INSERT OR REPLACE INTO sync_state(key, value) VALUES (?, ?)",
                    (key, json.dumps(value, ensure_ascii=False)),
                )

    def chats(self) -> list[dict[str, Any]]:
        """Saved test conversations, newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, title, data, created_at, updated_at FROM chats ORDER BY updated_at DESC"
            ).fetchall()
        return [{**dict(row), "data": json.loads(row["data"])} for row in rows]

    def save_chat(self, chat_id: str, title: str, data: dict[str, Any]) -> None:
        now = now_iso()
        with self._transaction():
            self._db.execute(
                "INSERT INTO chats(id, title, data, created_at, updated_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET title = excluded.title, data = excluded.data, "
                "updated_at = excluded.updated_at",
                (chat_id, title, json.dumps(data, ensure_ascii=False), now, now),
            )

    def delete_chat(self, chat_id: str) -> None:
        with self._transaction():
            self._db.execute("DELETE FROM chats WHERE id = ?", (chat_id,))

    def sync_value(self, key: str, default: Any = None) -> Any:
        with self._lock:
            row = self._db.execute("SELECT value FROM sync_state WHERE key = ?", (key,)).fetchone()
        return json.loads(row["value"]) if row else default

    def set_sync_value(self, key: str, value: Any) -> None:
        with self._transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO sync_state(key, value) VALUES (?, ?)",
                (key, json.dumps(value, ensure_ascii=False)),
            )

    def counts(self) -> ProjectCounts:
        with self._lock:
            one = lambda sql: self._db.execute(sql).fetchone()[0]  # noqa: E731
            return ProjectCounts(
                examples=one("SELECT COUNT(*) FROM examples"),
                approved=one("SELECT COUNT(*) FROM examples WHERE status = 'approved'"),
                rules=one("SELECT COUNT(*) FROM rules"),
                jobs=one("SELECT COUNT(*) FROM jobs"),
                chats=one("SELECT COUNT(*) FROM chats"),
            )

    def meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row["value"] if row else None

    # ---- plumbing ------------------------------------------------------------------------

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


def _example_values(ex: Example) -> tuple[Any, ...]:
    return (
        json.dumps(ex.messages, ensure_ascii=False),
        ex.status,
        json.dumps(ex.tags, ensure_ascii=False),
        ex.rating,
        ex.source,
        ex.system_prompt,
        ex.updated_at,
    )


def _example_from_row(row: sqlite3.Row) -> Example:
    return Example(
        id=row["id"],
        messages=json.loads(row["messages"]),
        status=row["status"],
        tags=json.loads(row["tags"]),
        rating=row["rating"],
        source=row["source"],
        system_prompt=row["system_prompt"],
        updated_at=row["updated_at"],
    )


def _backup_before_migration(db: sqlite3.Connection, path: Path, version: int) -> Path:
    """Keep the file as it was before a migration, beside it, so an upgrade can be undone."""
    backup = path.with_name(f"{path.name}.v{version}.bak")

    def fill(copy: sqlite3.Connection) -> None:
        db.backup(copy)

    _atomic_sqlite_file(backup, fill)
    return backup


def _app_version() -> str:
    from persona_studio import __version__

    return f"Persona Studio {__version__}"
