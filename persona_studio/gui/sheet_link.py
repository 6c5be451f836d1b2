"""Google Sheets in the window: sync on demand or on a timer, show the state, apply the choices
made in the conflict dialog (the dialogs are in dialogs/sheet_dialogs.py: this module loads
before the first paint and stays light)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Signal

from persona_studio.core.errors import UserFacingError
from persona_studio.core.sheet_sync import Conflict, row_to_example
from persona_studio.core.words import counted
from persona_studio.gui.context import AppContext
from persona_studio.gui.loop import spawn
from persona_studio.gui.project_session import ProjectSession

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    import asyncio

    from persona_studio.services.sheets import SyncResult


def keyring_sheets_client(context: AppContext) -> Callable[[], Any]:
    """A factory for gspread's client from the account in the keyring (built when needed)."""

    async def make() -> Any:
        import asyncio

        from persona_studio.services import sheets
        from persona_studio.services.credentials import (
            GOOGLE_OAUTH_CLIENT,
            GOOGLE_OAUTH_TOKEN,
            GOOGLE_SERVICE_ACCOUNT,
        )

        store, auth = context.store, context.config.google.auth
        if auth == "service_account":
            secret = await store.get(GOOGLE_SERVICE_ACCOUNT)
            if secret:
                return await asyncio.to_thread(sheets.service_account_client, secret)
        elif auth == "oauth":
            client_json = await store.get(GOOGLE_OAUTH_CLIENT)
            if client_json:
                token = await store.get(GOOGLE_OAUTH_TOKEN)
                http, new_token = await asyncio.to_thread(sheets.oauth_client, client_json, token)
                if new_token != token:
                    await store.set(GOOGLE_OAUTH_TOKEN, new_token)
                return http
        raise UserFacingError(
            "No Google account is set up for Sheets.",
            "Open Settings → Google Sheets and choose the JSON file of a "
            "service account or of an OAuth client.",
        )

    return make


class SheetLink(QObject):
    """Owns syncing for the open project; the status bar badge listens to `state_changed`."""

    state_changed = Signal(str)

    def __init__(
        self,
        context: AppContext,
        client_factory: Callable[[], Any] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.context = context
        self.client_factory = client_factory or keyring_sheets_client(context)
        self.session: ProjectSession | None = None
        self.task: asyncio.Task[None] | None = None
        self.last_conflicts: list[Conflict] = []
        self.last_error = ""
        self.timer = QTimer(self)  # automatic syncs, when the link asks for them
        self.timer.timeout.connect(lambda: self.sync())

    def set_session(self, session: ProjectSession) -> None:
        self.session = session
        self.last_conflicts, self.last_error = [], ""
        session.examples_edited.connect(lambda _ids: self._pending())
        self._schedule()
        self._show_state()

    def _schedule(self) -> None:
        minutes = int(self.link().get("every_minutes") or 0)
        if minutes:
            self.timer.start(minutes * 60_000)
        else:
            self.timer.stop()

    def link(self) -> dict[str, Any]:
        return self.session.project.sheet_link() if self.session else {}

    def _pending(self) -> None:
        if self.link():
            self.state_changed.emit("Sheet: local changes to sync")

    def _show_state(self, text: str = "") -> None:
        link = self.link()
        if not link:
            self.state_changed.emit("")
        elif text:
            self.state_changed.emit(text)
        else:
            synced = self.session.project.sync_value("synced_at", "") if self.session else ""
            self.state_changed.emit(f"Sheet: synced {synced}" if synced else "Sheet: linked")

    def sync(self, link: dict[str, Any] | None = None) -> asyncio.Task[None] | None:
        if self.session is None or (self.task is not None and not self.task.done()):
            return self.task

        self.task = spawn(self._sync(link or self.link()))
        return self.task

    async def _sync(self, link: dict[str, Any]) -> None:
        try:
            await self.sync_now(link)
        except UserFacingError as exc:
            self.last_error = str(exc)
            self.state_changed.emit(f"Sheet: not synced — {exc.message}")
        except Exception as exc:  # a bug, or a failure no one has phrased yet: never "syncing…"
            log.exception("the sheet sync failed")
            self.last_error = (  # the window shows it, and keeps it for a problem report
                f"Something unexpected went wrong while syncing ({type(exc).__name__}: {exc}). "
                "Choose Sheet → Sync with the Sheet to try again; if it happens again, Help → "
                "Report a Problem… copies what helps us fix it."
            )
            self.state_changed.emit("Sheet: not synced — something unexpected went wrong")

    async def sync_now(self, link: dict[str, Any]) -> SyncResult:
        """One sync, saved through the session (views refresh); errors are raised."""
        import asyncio
        import importlib

        assert self.session is not None
        if not link.get("key"):
            raise UserFacingError(
                "This project is not linked to a Google Sheet yet.",
                "Link one first (Sheet → Link a Google Sheet…).",
            )
        session = self.session
        self.state_changed.emit("Sheet: syncing…")
        # gspread and the sync load in a worker thread: ~0.2 s of imports, not the UI's
        sheets = await asyncio.to_thread(importlib.import_module, "persona_studio.services.sheets")
        client = await self.client_factory()
        examples = await session.load_examples()  # in a worker when not loaded yet (1.2 s)
        result = await sheets.sync_project(
            client,
            session.project,
            link,
            list(examples),
            account=self.context.config.google.account_email,
            apply=session.apply_sync_in_worker,
        )
        self._schedule()
        self.last_conflicts, self.last_error = result.plan.conflicts, ""
        if result.plan.conflicts:
            conflicts = counted(len(result.plan.conflicts), "conflict")
            self.state_changed.emit(f"Sheet: {conflicts} to settle")
        elif result.notes:  # synced, with something to know (an example too long for a cell…)
            synced = session.project.sync_value("synced_at", "")
            self.state_changed.emit(f"Sheet: synced {synced} — {' '.join(result.notes)}")
        else:
            self._show_state()
        return result

    def settle(self, choices: dict[str, dict[str, str] | None]) -> None:
        """Apply the user's choices so the next sync carries them to the other side."""
        assert self.session is not None
        agreed: dict[str, Any] = {}  # the snapshot's rows that change (None: out of it)
        by_conflict = {c.id: c for c in self.last_conflicts}
        upserts, deletes = [], []
        link = self.link()
        for row_id, row in choices.items():
            conflict = by_conflict.get(row_id)
            if conflict is None:
                continue
            if row is conflict.theirs:  # theirs: take it here, and count it as agreed
                if row is None:
                    deletes.append(row_id)
                    agreed[row_id] = None
                else:
                    base = next((e for e in self.session.examples if e.id == row_id), None)
                    upserts.append(row_to_example(row, base, link.get("new_rows", "approved")))
                    agreed[row_id] = row
            elif conflict.theirs is not None:  # mine: the sheet's version becomes the base
                agreed[row_id] = conflict.theirs
            else:
                agreed[row_id] = None  # mine, and the sheet deleted it: add it again
        self.session.apply_sync(upserts, deletes, agreed, self.link())
        self.sync()
