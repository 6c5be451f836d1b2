"""The project file's tables, one migration per schema version (append, never edit one shipped)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable


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


def _schema_v4(db: sqlite3.Connection) -> None:
    """Counting approved examples reads an index, not every row: the getting-started list
    and the status bar ask often (127 ms a count at 20,000 examples without it, 1 ms with)."""
    db.execute("CREATE INDEX examples_by_status ON examples(status)")


def _schema_v5(db: sqlite3.Connection) -> None:
    """The sheet sync's snapshot (every row as both sides last agreed on it) as one row per
    example, not one JSON value: a sync writes the rows that changed, not every row's text
    again (~60 MB at 100,000 examples, held the window 1.1 s), and reads them in pieces."""
    import json

    db.execute("CREATE TABLE sync_rows (id TEXT PRIMARY KEY, row TEXT NOT NULL)")
    found = db.execute("SELECT value FROM sync_state WHERE key = 'snapshot'").fetchone()
    try:  # a damaged snapshot must not keep the project from opening: the next sync merges
        snapshot = json.loads(found[0]) if found else {}  # afresh, asking about differences
    except (TypeError, ValueError):
        snapshot = {}
    if isinstance(snapshot, dict):
        db.executemany(
            "INSERT INTO sync_rows (id, row) VALUES (?, ?)",
            ((str(key), json.dumps(row)) for key, row in snapshot.items()),
        )
    db.execute("DELETE FROM sync_state WHERE key = 'snapshot'")


Migration = Callable[[sqlite3.Connection], None]
# MIGRATIONS[i] takes a file from schema version i to i + 1. Append, never edit a shipped one.
MIGRATIONS: tuple[Migration, ...] = (_schema_v1, _schema_v2, _schema_v3, _schema_v4, _schema_v5)


def schema_version(migrations: tuple[Migration, ...] = MIGRATIONS) -> int:
    return len(migrations)


def apply_migrations(db: sqlite3.Connection, start: int, migrations: tuple[Migration, ...]) -> None:
    for version in range(start, len(migrations)):
        db.execute("BEGIN IMMEDIATE")
        try:
            migrations[version](db)
            db.execute(f"PRAGMA user_version = {version + 1}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
