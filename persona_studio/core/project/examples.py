"""The examples table: load, add, edit, reorder, delete — each SQL statement written once."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterable
from operator import itemgetter
from typing import Any

from persona_studio.core.collector import FREEZE_FROM, collector_paused
from persona_studio.core.dataset import (
    STATUSES,
    Example,
    fast_json,
    now_iso,
    plain_messages_json,
)
from persona_studio.core.project.errors import ProjectError
from persona_studio.core.project.store import Store, json_text, plain_text

_COLUMNS = "messages, status, tags, rating, source, system_prompt, updated_at"
_INSERT = f"INSERT INTO examples(id, position, {_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
_UPDATE = (
    "UPDATE examples SET messages = ?, status = ?, tags = ?, rating = ?, source = ?, "
    "system_prompt = ?, updated_at = ? WHERE id = ?"
)
_DELETE = "DELETE FROM examples WHERE id = ?"
_LAST_POSITION = "SELECT MAX(position) FROM examples"
_IN_ORDER = f"SELECT id, {_COLUMNS}, position FROM examples ORDER BY position"


class ExamplesStore(Store):
    """Examples in their order. Every change commits before it returns."""

    def examples(self, progress: Callable[[float], None] | None = None) -> list[Example]:
        """All examples in order (100k load in about 0.6–0.8 s: plain tuples, no Row).
        A row that cannot be read (damaged) is left out, left untouched in the file, and its id
        kept in `damaged_example_ids` so the window can say so. `progress` is told the share
        read (0 to 1) as it goes, in this thread (~5 s at 1,000,000: an export's first part);
        an exception it raises stops the read there."""
        return self._examples(None, progress)

    def examples_and_positions(self) -> tuple[list[Example], dict[str, float]]:
        """`examples()`, and every example's position (the damaged ones' too) keyed by the
        examples' own id strings, from the same read: a second query took ~3.9 s at 1,000,000
        examples, and its ids were a second copy (~8 MB at 100,000)."""
        positions: dict[str, float] = {}
        return self._examples(positions), positions

    def _examples(
        self,
        positions: dict[str, float] | None,
        progress: Callable[[float], None] | None = None,
    ) -> list[Example]:
        with collector_paused():  # the rows come as tuples the collector would walk, too
            if progress is None:
                rows = self._rows_in_order("")
            else:  # the rows fetched, then made examples: half the time each at 1,000,000
                told = progress
                rows = self._rows_told(lambda share: told(share / 2))
                progress = _from_half(told)
            # a damage check left for later runs now, while the rows become examples: SQLite
            # lets go of Python's lock meanwhile (~1 s at 1,000,000 examples, off the wait)
            checking = self._checking() if self._unchecked else None
            with collector_paused(freeze=len(rows) >= FREEZE_FROM):
                self.damaged_example_ids = []
                examples = _examples_of(rows, self.damaged_example_ids, positions, progress)
            if checking is not None:
                checking.join()
            self._check_now()  # raises for a damaged file
            return examples

    def _checking(self) -> threading.Thread:
        def check() -> None:
            with contextlib.suppress(ProjectError):  # said by the reader's own `_check_now`
                self._check_now()

        thread = threading.Thread(target=check, name="project-check", daemon=True)
        thread.start()
        return thread

    def first_examples(self, limit: int) -> list[Example]:
        """The first `limit` examples in order, read through the position index (~1 ms at
        1,000,000): what the grid shows while all of them are read. A damaged row is left out
        here; the whole read reports it."""
        return _examples_of(self._rows_in_order(" LIMIT ?", limit), [])

    def _rows_told(self, progress: Callable[[float], None]) -> list[tuple[Any, ...]]:
        """`_rows_in_order`, fetched `_FETCHED_AT_ONCE` rows at a time, each time told."""
        with self._lock:
            total = self._db.execute("SELECT COUNT(*) FROM examples").fetchone()[0] or 1
            cursor = self._db.cursor()
            cursor.row_factory = None
            cursor.execute(_IN_ORDER)
            rows: list[tuple[Any, ...]] = []
            while part := cursor.fetchmany(_FETCHED_AT_ONCE):
                rows += part
                progress(min(1.0, len(rows) / total))
            return rows

    def _rows_in_order(self, tail: str, *params: Any) -> list[tuple[Any, ...]]:
        """The examples' rows in order, as plain tuples (no Row: 100,000 read faster)."""
        with self._lock:
            cursor = self._db.cursor()
            cursor.row_factory = None
            return cursor.execute(_IN_ORDER + tail, params).fetchall()

    def example(self, example_id: str) -> Example | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM examples WHERE id = ?", (example_id,)).fetchone()
        return _example_from_row(row) if row else None

    def add_examples(self, examples: Iterable[Example]) -> None:
        """Append examples after the last one, in one transaction."""
        with self._transaction():
            self._insert_examples(examples, self._next_position())

    def example_positions(self) -> dict[str, float]:
        with self._lock:
            return {row[0]: row[1] for row in self._db.execute("SELECT id, position FROM examples")}

    def insert_examples_at(self, placed: Iterable[tuple[float, Example]]) -> None:
        """Put examples back where they were (undoing a delete), in one transaction."""
        with self._transaction():
            self._db.executemany(
                _INSERT, ((ex.id, position, *_example_values(ex)) for position, ex in placed)
            )

    def set_example_positions(self, positions: dict[str, float]) -> None:
        """Reorder: give examples new positions, in one transaction."""
        with self._transaction():
            self._db.executemany(
                "UPDATE examples SET position = ? WHERE id = ?",
                [(position, i) for i, position in positions.items()],
            )

    def update_examples(self, examples: Iterable[Example], *, stamp: bool = True) -> None:
        """Save edited examples in one transaction. `stamp`: each is stamped with the time of
        this write (its `updated_at` set); else each is saved with the time it holds, which
        whoever made it set (the window's editors: their examples are shared with the undo
        stack, where nothing may change them)."""
        with self._transaction():
            # each row's values made as SQLite asks for it (see `_insert_examples`)
            self._db.executemany(_UPDATE, (_update_values(ex, stamp) for ex in examples))

    def replace_examples(self, examples: Iterable[Example]) -> None:
        """All examples at once (an import that replaces), in one transaction."""
        with self._transaction():
            self._db.execute("DELETE FROM examples")
            self._insert_examples(examples, 0.0)

    def update_example(self, example: Example) -> None:
        with self._transaction():
            if self._update_example(example) == 0:
                raise KeyError(example.id)

    def delete_examples(self, ids: Iterable[str]) -> int:
        with self._transaction():
            # each row's 1-tuple made by `zip` as SQLite asks for it (see `_insert_examples`)
            cursor = self._db.executemany(_DELETE, zip(ids))
            return cursor.rowcount

    def apply_sync(
        self,
        upserts: Iterable[Example],
        deletes: Iterable[str],
        snapshot_changes: dict[str, Any],
        link: dict[str, Any],
        *,
        new_snapshot: bool = False,
    ) -> None:
        """A finished Sheets sync, in one transaction: rows taken from the sheet, rows deleted
        there, and the snapshot's rows that changed (row id → the agreed row, or None: no
        longer in it; `new_snapshot`: the old one is dropped first, a new sheet was linked), so
        a crash cannot leave them out of step. Safe in a worker thread, where the GUI's sync
        writes; the JSON is made before the lock is taken."""
        upserts = list(upserts)
        agreed = [(key, json_text(row)) for key, row in snapshot_changes.items() if row is not None]
        dropped = [(key,) for key, row in snapshot_changes.items() if row is None]
        values = [("sheet", json_text(link))]
        with self._transaction("sync"):
            if new_snapshot:
                self._db.execute("DELETE FROM sync_rows")
            self._db.executemany("DELETE FROM sync_rows WHERE id = ?", dropped)
            self._db.executemany("INSERT OR REPLACE INTO sync_rows (id, row) VALUES (?, ?)", agreed)
            existing = (
                {row[0] for row in self._db.execute("SELECT id FROM examples")} if upserts else ()
            )
            position = self._next_position()
            for example in upserts:
                if example.id in existing:
                    self._update_example(example)
                else:
                    self._insert_examples([example], position)
                    position += 1.0
            self._db.executemany(_DELETE, [(i,) for i in deletes])
            self._db.executemany(
                "INSERT OR REPLACE INTO sync_state(key, value) VALUES (?, ?)", values
            )

    # ---- inside a transaction ------------------------------------------------------------

    def _next_position(self) -> float:
        last = self._db.execute(_LAST_POSITION).fetchone()[0]
        return (last if last is not None else -1.0) + 1.0

    def _update_example(self, example: Example) -> int:
        return self._db.execute(_UPDATE, _update_values(example, True)).rowcount

    def _insert_examples(self, examples: Iterable[Example], first_position: float) -> None:
        # each row's values made as SQLite asks for it, not a list of all of them first:
        # SQLite lets go of Python's lock at each row, so a write in a worker thread lets the
        # window's paint run between two rows. With the list made first, the window waited
        # for the lock 5 ms at a time, per cell: importing 100,000 stalled it ~1.1 s.
        self._db.executemany(
            _INSERT,
            (
                (ex.id, first_position + offset, *_example_values(ex))
                for offset, ex in enumerate(examples)
            ),
        )


# what reading a damaged row raises (json nests by recursion: "[[[[…" past its limit)
_DAMAGED = (ValueError, TypeError, RecursionError)
_STATUSES = {status: status for status in STATUSES}  # each row's status, one string each
_TAG_SETS_KEPT = 4096  # tags texts remembered while reading, decoded (a project has few)
_TIMES_KEPT = 65_536  # times of change remembered while reading, to share (see _examples_of)
_SLICE = 4_096  # rows made examples at a time: their tuples are freed before the next slice
_FETCHED_AT_ONCE = 16_384  # rows fetched between two words of progress
_ID, _POSITION = itemgetter(0), itemgetter(8)


def _from_half(progress: Callable[[float], None]) -> Callable[[float], None]:
    return lambda share: progress(0.5 + share / 2)


def _examples_of(
    rows: list[tuple[Any, ...]],
    damaged: list[str],
    positions: dict[str, float] | None = None,
    progress: Callable[[float], None] | None = None,
) -> list[Example]:
    """The rows' examples; the id of each row that cannot be read goes to `damaged`, and every
    row's position to `positions` (keyed by the id strings the examples hold). One loop
    with its lookups bound once, and each tags text decoded once (a project has few sets of
    tags): reading 1,000,000 examples took 7.1 s, 5.9–6.2 s now (2.7–3 s of it SQLite's).
    The positions are taken a slice at a time, in C: all at once, that one call held the
    interpreter's lock 0.48 s at 1,000,000 rows, the window (opening the file in a worker
    thread) frozen for it.

    Memory, at 1,000,000 examples: `rows` is emptied a slice at a time as it is read, so each
    slice's tuples and the texts only they held (status, tags) are freed before the next
    slice's examples are made, which reuse that memory: freed once all were made, those
    ~240 MB stayed in the process, held by Python's allocator for objects to come. And the
    examples saved together share one text of their time of change (~80 MB). `progress` is told
    the share made before each slice."""
    examples: list[Example] = []
    append, status_of = examples.append, _STATUSES.get
    tags_seen: dict[str, list[str]] = {"[]": []}
    times: dict[str, str] = {}
    nones: list[Any] = [None] * _SLICE
    for start in range(0, len(rows), _SLICE):
        if progress is not None:
            progress(start / len(rows))
        chunk = rows[start : start + _SLICE]  # (the last slice's tuples are freed here)
        rows[start : start + _SLICE] = nones if len(chunk) == _SLICE else nones[: len(chunk)]
        if positions is not None:
            positions.update(zip(map(_ID, chunk), map(_POSITION, chunk), strict=True))
        for row in chunk:
            try:
                id_, messages, status, tags, rating, source, system_prompt, updated_at, _ = row
                known = tags_seen.get(tags)
                if known is None:
                    known = _tags_of(tags)
                    if len(tags_seen) < _TAG_SETS_KEPT:
                        tags_seen[tags] = known
                when = times.get(updated_at)
                if when is None:
                    when = updated_at
                    if len(times) < _TIMES_KEPT:
                        times[when] = when
                append(
                    Example(
                        # the text itself, decoded when used, where that cannot fail: checked
                        messages if plain_messages_json(messages) else _json_list(messages),
                        id_,
                        status_of(status, status),
                        known.copy(),  # each its own list, as the file gave each its own
                        rating,
                        source,
                        system_prompt,
                        when,
                    )
                )
            except _DAMAGED:
                damaged.append(str(row[0]))
    return examples


def _json_list(text: str) -> list[Any]:
    """A column that holds a list (messages, tags), decoded with json, exactly: where orjson
    would not (a number past 64 bits, NaN, a lone surrogate) or did not give plain texts.
    ValueError: not a list (a damaged row)."""
    loaded = json.loads(text)
    if not isinstance(loaded, list):
        raise ValueError("not a list")
    return loaded


def _tags_of(text: str) -> list[Any]:
    """A row's tags: with orjson when they are texts, as they nearly always are, each one
    shared between the examples that have it; else `_json_list`."""
    tags = fast_json(text)
    if type(tags) is list and all(type(tag) is str for tag in tags):
        return list(map(sys.intern, tags))
    return _json_list(text)


def _example_values(ex: Example) -> tuple[Any, ...]:
    held = ex.messages_json()
    return (
        held if held is not None else json_text(ex.read_messages()),  # (a folded one stays)
        ex.status,
        json_text(ex.tags),
        ex.rating,
        plain_text(ex.source),
        plain_text(ex.system_prompt),
        ex.updated_at,
    )


def _update_values(example: Example, stamp: bool) -> tuple[Any, ...]:
    if stamp:
        example.updated_at = now_iso()
    return (*_example_values(example), example.id)


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
