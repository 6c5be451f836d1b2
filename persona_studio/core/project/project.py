"""The `.persona` project file: one SQLite database per character.

The file is opened in WAL mode with an exclusive lock held for as long as it is open, so a second
window (or process) is refused instead of writing over the first one, and a crashed or killed app
leaves no stale lock behind (the OS drops it with the process). Every method that changes data
commits before it returns: what the caller was told is saved is on disk.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from persona_studio.core.dataset import Example, now_iso
from persona_studio.core.persona import Persona
from persona_studio.core.project.errors import (
    ProjectError,
    ProjectLockedError,
    ProjectReadOnlyError,
)
from persona_studio.core.project.examples import ExamplesStore
from persona_studio.core.project.files import (
    APPLICATION_ID,
    PreOpenCopy,
    app_version,
    atomic_sqlite_file,
    backup_before_migration,
    check_identity,
    connect,
    corrupt,
    read_header,
    writable,
)
from persona_studio.core.project.records import RecordsStore
from persona_studio.core.project.schema import MIGRATIONS, Migration, apply_migrations
from persona_studio.core.project.store import json_text
from persona_studio.core.rules import Rule

COPY_PAGES = 1_024  # pages (4 KB each) a copy takes between two words of progress


@dataclass(frozen=True)
class ProjectCounts:
    examples: int
    approved: int
    rules: int
    jobs: int
    chats: int


class Project(ExamplesStore, RecordsStore):
    """An open `.persona` file: the persona, its avatar and rules here; examples and records
    from the stores it is made of. Calls are serialised by one lock."""

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
            apply_migrations(db, 0, MIGRATIONS)
            fresh = cls(path, db)
            with fresh._transaction():
                db.executemany(
                    "INSERT INTO meta(key, value) VALUES (?, ?)",
                    [("created_at", now_iso()), ("created_with", app_version())],
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
            atomic_sqlite_file(path, fill)
        except (OSError, sqlite3.Error) as exc:  # a full disk fails inside SQLite
            reason = exc.strerror if isinstance(exc, OSError) else str(exc)
            raise ProjectError(
                f"Could not create “{path.name}”: {reason}.",
                "Choose a folder you can write to, with free space. Nothing was written.",
            ) from exc
        return cls.open(path)

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        migrations: tuple[Migration, ...] = MIGRATIONS,
        read_only: bool = False,
        _check_later: bool = False,
    ) -> Project:
        """Open a project. A file that is not ours, newer, damaged or already open is refused
        before anything is written to it. A file that cannot be written is refused with
        `ProjectReadOnlyError`; `read_only=True` opens it for reading, and writes nothing.
        (`_check_later`: for `open_and_read` alone.)"""
        path = Path(path).absolute()
        latest = len(migrations)
        version, application_id = read_header(path)
        check_identity(path, version, application_id, latest)
        if read_only:
            return cls._open_read_only(path, version, latest)
        if not writable(path):
            raise ProjectReadOnlyError(
                f"“{path.name}” is read-only: the file or its folder cannot be written.",
                "Open it read-only to read, chat and export, or copy it to a folder you can "
                "write to and open the copy.",
            )
        try:
            guard = PreOpenCopy(path)  # a crash left a -wal: keep both as they are first
        except OSError as exc:
            raise ProjectError(
                f"“{path.name}” needs recovering after a crash, and there is no room to keep a "
                f"copy of it first ({exc.strerror}).",
                "Free some disk space, then open it again. The file was not changed.",
            ) from exc
        try:
            # after a crash (a -wal kept aside) the check cannot wait: a refusal restores both
            later = _check_later and not guard.saved
            project = cls._connect_and_check(path, latest, migrations, check_later=later)
        except ProjectLockedError:
            guard.discard()  # another window has it: this one wrote nothing
            raise
        except BaseException:
            guard.restore()  # refused: the file and its -wal go back exactly as they were
            raise
        guard.discard()
        return project

    @classmethod
    def _connect_and_check(
        cls, path: Path, latest: int, migrations: tuple[Migration, ...], *, check_later: bool
    ) -> Project:
        try:
            db = connect(path)
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
                    raise ProjectReadOnlyError(
                        f"“{path.name}” is read-only: the file or its folder cannot be written.",
                        "Open it read-only to read, chat and export, or copy it to a folder "
                        "you can write to and open the copy.",
                    ) from None
                if "locked" in str(exc) or "busy" in str(exc):
                    raise ProjectLockedError(
                        f"“{path.name}” is already open in Persona Studio.",
                        "Switch to the window that has it open, or close it there first.",
                    ) from None
                raise
            version = db.execute("PRAGMA user_version").fetchone()[0]
            # else checked now: before a migration, or a switch to WAL, writes to the file
            check_later = (
                check_later
                and version == latest
                and db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            )
            if not check_later:
                check = [row[0] for row in db.execute("PRAGMA quick_check(5)")]
                if check != ["ok"]:
                    raise corrupt(path, "; ".join(check[:2]))
            application_id = db.execute("PRAGMA application_id").fetchone()[0]
            check_identity(path, version, application_id, latest)
            if version < latest:
                backup_before_migration(db, path, version)
                apply_migrations(db, version, migrations)
            db.execute("PRAGMA journal_mode = WAL")
            db.execute(
                "PRAGMA synchronous = NORMAL"
            )  # WAL + NORMAL: a commit survives an app crash
        except sqlite3.DatabaseError as exc:
            db.close()
            raise corrupt(path, str(exc)) from exc
        except BaseException:
            db.close()
            raise
        project = cls(path, db)
        project._unchecked = check_later
        return project

    @classmethod
    def open_for_reading(cls, path: str | os.PathLike[str]) -> Project:
        """Open to read: as usual where the file can be written (a crash's -wal recovered),
        read-only where it cannot."""
        try:
            return cls.open(path)
        except ProjectReadOnlyError:
            return cls.open(path, read_only=True)

    @classmethod
    def open_and_read(
        cls, path: str | os.PathLike[str]
    ) -> tuple[Project, list[Example], dict[str, float]]:
        """`open_for_reading`, with every example and its position read: for a large file,
        in a worker thread. SQLite's damage check reads the whole file (~1 s at 1,000,000
        examples); here it runs while the rows read become examples, not before them. A
        damaged file is refused all the same, and closed unchanged: until the check has
        passed nothing is written to it, and nothing else has it."""
        try:
            project = cls.open(path, _check_later=True)
        except ProjectReadOnlyError:
            project = cls.open(path, read_only=True)
        try:
            examples, positions = project.examples_and_positions()
        except sqlite3.DatabaseError as exc:  # a damaged page met by the read itself
            project.close()
            raise corrupt(project.path, str(exc)) from exc
        except BaseException:
            project.close()
            raise
        return project, examples, positions

    @classmethod
    def _open_read_only(cls, path: Path, version: int, latest: int) -> Project:
        """Read-only: SQLite's read-only mode (it reads a -wal a crash left); where even that
        needs a write (no -shm beside it, in a folder that cannot be written), the file is read
        as immutable, which is only right when no -wal holds part of it."""
        if version < latest:
            raise ProjectReadOnlyError(
                f"“{path.name}” was made by an earlier version and cannot be written, so it "
                "cannot be updated to open here.",
                "Copy it to a folder you can write to, then open the copy.",
            )
        wal = path.with_name(path.name + "-wal")
        for mode in ("ro", "immutable"):
            if mode == "immutable" and wal.exists() and wal.stat().st_size:
                raise ProjectReadOnlyError(
                    f"“{path.name}” needs recovering after a crash, and its folder cannot be "
                    "written.",
                    f"Copy “{path.name}” and “{wal.name}” together to a folder you can write "
                    "to, then open the copy.",
                )
            try:
                db = connect(path, mode)
            except sqlite3.OperationalError:
                continue  # read-only mode cannot read it here (no -shm, no folder to make one)
            try:
                check = [row[0] for row in db.execute("PRAGMA quick_check(5)")]
            except sqlite3.OperationalError:
                db.close()
                continue  # the same, found at the first read
            except sqlite3.DatabaseError as exc:
                db.close()
                raise corrupt(path, str(exc)) from exc
            if check != ["ok"]:
                db.close()
                raise corrupt(path, "; ".join(check[:2]))
            return cls(path, db, read_only=True)
        raise ProjectReadOnlyError(
            f"Could not read “{path.name}” where it is.", "Copy it to a folder you can write to."
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def save_copy(
        self, dest: str | os.PathLike[str], progress: Callable[[float], None] | None = None
    ) -> Path:
        """Write a complete, unlocked copy of this project to `dest` (atomically). `progress`
        is told the share copied, `COPY_PAGES` pages at a time (a project of 1,000,000 examples
        is ~760 MB: seconds here, a minute to a slow USB stick); an exception it raises stops
        the copy there, and nothing is left at `dest`."""
        dest = Path(dest)
        if dest.resolve() == self.path.resolve():
            raise ProjectError("A copy cannot replace the project itself.", "Choose another name.")

        def told(_status: int, remaining: int, total: int) -> None:
            assert progress is not None
            progress(1 - remaining / total if total else 1.0)

        def fill(db: sqlite3.Connection) -> None:
            with self._lock:
                if progress is None:
                    self._db.backup(db)
                else:
                    self._db.backup(db, pages=COPY_PAGES, progress=told)
            db.execute("PRAGMA journal_mode = WAL")

        try:
            atomic_sqlite_file(dest, fill)
        except (OSError, sqlite3.Error) as exc:  # a full disk fails inside SQLite
            raise ProjectError(
                f"Could not save a copy to “{dest}”: "
                f"{exc.strerror if isinstance(exc, OSError) else exc}.",
                "Choose a folder you can write to.",
            ) from exc
        return dest

    # ---- persona -------------------------------------------------------------------------

    def persona(self) -> Persona:
        with self._lock:
            rows = self._db.execute("SELECT key, value FROM persona").fetchall()
        # a value that is not JSON (damaged, or written by hand) reads as the field's default
        return Persona.from_dict(
            {row["key"]: value for row in rows if (value := _decoded(row["value"])) is not _BAD}
        )

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
                [(key, json_text(value)) for key, value in fields.items()],
            )

    def _write_persona(self, persona: Persona) -> None:
        self._db.execute("DELETE FROM persona")
        self._db.executemany(
            "INSERT INTO persona(key, value) VALUES (?, ?)",
            [(k, json_text(v)) for k, v in persona.to_dict().items()],
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

    # ---- rules ---------------------------------------------------------------------------

    def rules(self) -> list[Rule]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM rules ORDER BY position").fetchall()
        # a part that is not a JSON object reads as empty: the rule shows as one to fix
        # ("Unknown trigger"), and is skipped in a chat until it is
        return [
            Rule(
                id=str(row["id"]),
                name=row["name"] if type(row["name"]) is str else "",
                enabled=bool(row["enabled"]),
                trigger=_object(row["trigger"]),
                action=_object(row["action"]),
                extras=_object(row["extras"]),
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
                json_text(rule.trigger),
                json_text(rule.action),
                json_text(rule.extras),
                now_iso(),
            ),
        )

    # ---- counts ------------------------------------------------------------------------

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

    def example_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM examples").fetchone()[0])

    def chat_count(self) -> int:
        """How many conversations are saved (their kept titles counted)."""
        return len(self._remembered("chat_titles"))

    def meta(self, key: str) -> str | None:
        table: dict[str, str] = self._remembered("meta")
        return table.get(key)

    def set_meta(self, key: str, value: str) -> None:
        with self._transaction("meta"):
            self._db.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    @property
    def test_share(self) -> float:
        """The share of approved examples kept aside for the voice check (never trained)."""
        from persona_studio.core.test_set import META_KEY, share_from_meta

        return share_from_meta(self.meta(META_KEY))

    def set_test_share(self, share: float) -> None:
        from persona_studio.core.test_set import META_KEY, share_from_meta

        self.set_meta(META_KEY, repr(share_from_meta(str(share))))


_BAD = object()  # (what `_decoded` gives for a text that is not JSON)


def _decoded(text: object) -> Any:
    """A JSON value read from the file, or `_BAD` where it is not one (damaged)."""
    try:
        return json.loads(text) if isinstance(text, str) else _BAD
    except (ValueError, RecursionError):
        return _BAD


def _object(text: object) -> dict[str, Any]:
    value = _decoded(text)
    return value if isinstance(value, dict) else {}
