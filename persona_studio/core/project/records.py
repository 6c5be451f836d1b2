"""Records kept beside the examples: fine-tuning jobs, resumable runs, test conversations and
the Sheets sync state — typed on the way out (`core.records`), JSON in their `data` column."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from persona_studio.core.dataset import now_iso
from persona_studio.core.project.store import Store, json_text

if TYPE_CHECKING:  # imported where used: opening a project (the app's start) reads no record
    from persona_studio.core.records import ChatRecord, ChatTarget, JobRecord, RunRecord
    from persona_studio.core.test_set import Trained


class RecordsStore(Store):
    """Jobs, runs, chats and sync state. Written by the services that own them (jobs: only
    `services/training/jobs.py`)."""

    # ---- fine-tuning jobs ----------------------------------------------------------------

    def jobs(self) -> list[JobRecord]:
        """Every job, newest first."""
        from persona_studio.core.records import JobRecord

        rows = self._remembered("jobs")  # new records each call: callers may change them
        return [JobRecord.from_row({**row, "data": _data(row["data"])}) for row in rows]

    def job(self, job_id: str) -> JobRecord | None:
        """One job, from the kept list as `jobs` is: the Train tab reads its shown job at each
        of a training's updates, and waited for the lock while an export read the file."""
        from persona_studio.core.records import JobRecord

        for row in self._remembered("jobs"):
            if row["id"] == job_id:
                return JobRecord.from_row({**row, "data": _data(row["data"])})
        return None

    def chat_target(self, model: str) -> ChatTarget | None:
        """Where the job that trained `model` registered it (the newest such job; `model` is
        the fine-tuned model's name or the deployment it answers under)."""
        if not model:
            return None
        for record in sorted(self.jobs(), key=lambda r: r.updated_at, reverse=True):
            if record.chat_target is not None and model in (
                record.chat_model,
                record.fine_tuned_model,
            ):
                return record.chat_target
        return None

    def trained_on(self, model: str) -> Trained | None:
        """Which examples the job that trained `model` put in its files (the newest such job;
        None: it did not keep them, e.g. it ran before the app kept them, or no job did)."""
        from persona_studio.core.test_set import Trained

        if not model:
            return None
        for record in sorted(self.jobs(), key=lambda r: r.updated_at, reverse=True):
            if model in (record.chat_model, record.fine_tuned_model):
                return Trained.read(record.trained)
        return None

    def save_job(self, record: JobRecord) -> JobRecord:
        """Insert or update a job's record (it survives restarts: followers reattach). The
        profile, base model and creation time of a known job never change. Returns the record
        with its times as stored."""
        row = _job_row(record, now_iso())
        with self._transaction("jobs"):
            self._db.execute(
                "INSERT INTO jobs(id, profile, base_model, status, fine_tuned_model, data, "
                "created_at, updated_at) VALUES (:id, :profile, :base_model, :status, "
                ":fine_tuned_model, :data, :created_at, :updated_at) ON CONFLICT(id) DO "
                "UPDATE SET status = excluded.status, fine_tuned_model = excluded.fine_tuned_model,"
                " data = excluded.data, updated_at = excluded.updated_at",
                row,
            )
            created = self._db.execute(
                "SELECT created_at FROM jobs WHERE id = ?", (record.id,)
            ).fetchone()[0]
        record.created_at, record.updated_at = created, row["updated_at"]
        return record

    def save_job_ahead(self, record: JobRecord) -> tuple[JobRecord, Callable[[], object]]:
        """`save_job` in two halves: the record, its times set as `save_job` sets them, read
        from now on by `jobs` and `job` (the window's), and the write, for the caller to make
        in its turn (the window's session: never on its thread while a worker has the file).
        The next write of the jobs reads them from the file again."""
        import dataclasses

        row = _job_row(record, now_iso())
        record.created_at, record.updated_at = row["created_at"], row["updated_at"]
        rows = [kept for kept in self._remembered("jobs") if kept["id"] != record.id]
        rows.append(row)
        rows.sort(key=lambda kept: kept["created_at"], reverse=True)  # (as the read orders)
        self._small["jobs"] = rows
        return record, functools.partial(self.save_job, dataclasses.replace(record))

    # ---- resumable runs ------------------------------------------------------------------

    def runs(self, kind: str) -> list[RunRecord]:
        """Records of resumable runs of one kind ("pipeline"), newest first."""
        from persona_studio.core.records import RunRecord

        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM runs WHERE kind = ? ORDER BY created_at DESC, rowid DESC", (kind,)
            ).fetchall()
        return [RunRecord.from_row({**dict(row), "data": _data(row["data"])}) for row in rows]

    def save_run(self, run_id: str, kind: str, status: str, data: dict[str, Any]) -> None:
        now = now_iso()
        with self._transaction():
            self._db.execute(
                "INSERT INTO runs(id, kind, status, data, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET status = excluded.status,"
                " data = excluded.data, updated_at = excluded.updated_at",
                (run_id, kind, status, json_text(data), now, now),
            )

    # ---- test conversations --------------------------------------------------------------

    def chats(self) -> list[ChatRecord]:
        """Saved test conversations, newest first."""
        from persona_studio.core.records import ChatRecord

        with self._lock:
            rows = self._db.execute(
                "SELECT id, title, data, created_at, updated_at FROM chats ORDER BY updated_at DESC"
            ).fetchall()
        return [ChatRecord.from_row({**dict(row), "data": _data(row["data"])}) for row in rows]

    def chat(self, chat_id: str) -> ChatRecord | None:
        from persona_studio.core.records import ChatRecord

        with self._lock:
            row = self._db.execute(
                "SELECT id, title, data, created_at, updated_at FROM chats WHERE id = ?", (chat_id,)
            ).fetchone()
        return ChatRecord.from_row({**dict(row), "data": _data(row["data"])}) if row else None

    def chat_titles(self) -> list[tuple[str, str]]:
        """(id, title) of each saved conversation, newest first: the list, without reading
        their messages (100 long conversations took ~0.25 s to read whole). Kept, as the
        other small reads: the Chat tab's first showing waited 0.5 s for the lock while an
        export read 100,000 examples."""
        return list(self._remembered("chat_titles"))

    def save_chat(self, record: ChatRecord) -> None:
        now = now_iso()
        with self._transaction("chat_titles"):
            self._db.execute(
                "INSERT INTO chats(id, title, data, created_at, updated_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET title = excluded.title, data = excluded.data, "
                "updated_at = excluded.updated_at",
                (record.id, record.title, json_text(record.data()), record.created_at or now, now),
            )

    def delete_chat(self, chat_id: str) -> None:
        with self._transaction("chat_titles"):
            self._db.execute("DELETE FROM chats WHERE id = ?", (chat_id,))

    # ---- sync state ----------------------------------------------------------------------

    def sync_value(self, key: str, default: Any = None) -> Any:
        """A small value of the sheet link's (kept: it never waits for a sync writing in a
        worker); the snapshot is `sync_snapshot`. `default` where it is missing, damaged or, a
        default given, of another kind (the link is `sheet_link`)."""
        text = self._remembered("sync").get(key)
        try:
            value = json.loads(text) if text is not None else default
        except (ValueError, TypeError, RecursionError):  # damaged: as if never written
            return default
        # (of another kind than `default`'s: as damaged)
        return default if default is not None and type(value) is not type(default) else value

    def sheet_link(self) -> dict[str, Any]:
        """The linked sheet, {"key", "worksheet", …} ({} when none, or its record is damaged)."""
        link = self.sync_value("sheet", {})
        if type(link.get("key")) is not str or not link["key"]:
            return {}
        if type(link.get("worksheet", "")) is not str:
            link.pop("worksheet")
        return link

    def sync_snapshot(self) -> dict[str, Any]:
        """Every row as both sides last agreed on it (for a worker thread at scale: each row
        is decoded on its own, so the GIL is never held long). A damaged row is left out: the
        next sync sees that example as new on both sides, so a difference between them is a
        conflict for the creator to settle, never a guess."""
        with self._lock:
            found = self._db.execute("SELECT id, row FROM sync_rows").fetchall()
        snapshot: dict[str, Any] = {}
        for row_id, text in found:
            row = _json_object(text)
            if row is not None:
                snapshot[row_id] = row
        return snapshot

    def set_sync_value(self, key: str, value: Any) -> None:
        with self._transaction("sync"):
            self._db.execute(
                "INSERT OR REPLACE INTO sync_state(key, value) VALUES (?, ?)",
                (key, json_text(value)),
            )


def _job_row(record: JobRecord, now: str) -> dict[str, Any]:
    """A job's row as `save_job` writes it (a new job's creation time: now)."""
    return {
        "id": record.id,
        "profile": record.profile,
        "base_model": record.base_model,
        "status": record.status,
        "fine_tuned_model": record.fine_tuned_model,
        "data": json_text(record.data()),
        "created_at": record.created_at or now,
        "updated_at": now,
    }


def _data(text: object) -> dict[str, Any]:
    """A record's `data` column: `{}` where it is not a JSON object (damaged, or written by
    hand). The record is read without it; its row stays as it is until the record is saved."""
    return _json_object(text) or {}


def _json_object(text: object) -> dict[str, Any] | None:
    """A JSON object read from the file, or None if the text is not one (damaged)."""
    try:
        value = json.loads(text) if isinstance(text, str) else None
    except (ValueError, RecursionError):  # (nested past the decoder's limit)
        return None
    return value if isinstance(value, dict) else None
