"""Google Sheets in the window: link a sheet, sync on demand, show the state, settle conflicts."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from persona_studio.core.errors import UserFacingError
from persona_studio.core.sheet_sync import Conflict, row_to_example
from persona_studio.gui.context import AppContext
from persona_studio.gui.project_session import ProjectSession

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


class LinkDialog(QDialog):
    def __init__(self, account: str, link: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sheet_link_dialog")
        self.setWindowTitle("Link a Google Sheet")
        self.address = QLineEdit(
            objectName="sheet_address", placeholderText="https://docs.google.com/spreadsheets/d/…"
        )
        self.address.setAccessibleName("Sheet address")
        if link.get("key"):
            self.address.setText(f"https://docs.google.com/spreadsheets/d/{link['key']}")
        self.worksheet = QLineEdit(link.get("worksheet") or "Sheet1", objectName="sheet_tab")
        self.worksheet.setAccessibleName("Worksheet")
        self.create = QCheckBox(
            "Create this worksheet if the spreadsheet has none of that name",
            objectName="sheet_create",
            checked=True,
        )
        self.every = QSpinBox(
            objectName="sheet_every",
            minimum=0,
            maximum=240,
            value=int(link.get("every_minutes") or 0),
            suffix=" min",
        )
        self.every.setSpecialValueText("never (sync by hand)")
        self.every.setAccessibleName("Sync automatically every")
        form = QFormLayout()
        form.addRow("Sheet address", self.address)
        form.addRow("Worksheet (tab)", self.worksheet)
        form.addRow("", self.create)
        form.addRow("Sync automatically every", self.every)
        if account == "oauth":
            share = (
                "Syncs as <b>your own Google account</b> (you approve access in the browser "
                "the first time): use a sheet you can edit."
            )
        elif account:
            share = (
                f"Syncs as the service account <b>{account}</b>: share the sheet with it as "
                "Editor first."
            )
        else:
            share = "Set up a Google account in Settings → Google Sheets first."
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(
            QLabel(
                share + " Columns: question, answer (any capitalisation); "
                "id, status and tags are added.",
                wordWrap=True,
            )
        )
        layout.addLayout(form)
        layout.addWidget(buttons)


class ConflictDialog(QDialog):
    """Both versions side by side; each conflict kept as mine, as theirs, or as edited."""

    def __init__(self, conflicts: list[Conflict], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("conflict_dialog")
        self.setWindowTitle("Changed in both places")
        self.resize(900, 520)
        self.choices: dict[str, dict[str, str] | None] = {}
        self.to_edit: str | None = None  # an example to open in the Dataset tab afterwards
        inner = QWidget()
        grid = QGridLayout(inner)
        grid.addWidget(QLabel("<b>In the app</b>"), 0, 0)
        grid.addWidget(QLabel("<b>In the sheet</b>"), 0, 1)
        self._editors: dict[str, QPlainTextEdit] = {}
        for row, conflict in enumerate(conflicts, start=1):
            mine, theirs = conflict.mine, conflict.theirs
            grid.addWidget(self._side(mine, f"mine_{row}"), 2 * row - 1, 0)
            grid.addWidget(self._side(theirs, f"theirs_{row}"), 2 * row - 1, 1)
            keep_mine = QPushButton("Keep mine", objectName=f"keep_mine_{row}")
            keep_theirs = QPushButton("Keep theirs", objectName=f"keep_theirs_{row}")
            keep_mine.clicked.connect(lambda _c=False, c=conflict: self._choose(c.id, c.mine))
            keep_theirs.clicked.connect(lambda _c=False, c=conflict: self._choose(c.id, c.theirs))
            edit = QPushButton("Keep mine, then edit it…", objectName=f"edit_{row}")
            edit.setToolTip("Keeps this app's version and opens it in the Dataset tab.")
            edit.clicked.connect(lambda _c=False, c=conflict: self._edit(c))
            mine_buttons = QHBoxLayout()
            mine_buttons.addWidget(keep_mine)
            mine_buttons.addWidget(edit)
            grid.addLayout(mine_buttons, 2 * row, 0)
            grid.addWidget(keep_theirs, 2 * row, 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(inner)
        self.status = QLabel(
            f"{len(conflicts)} example(s) were changed differently here and "
            "in the sheet. Choose which version to keep; the other is "
            "replaced on the next sync.",
            wordWrap=True,
        )
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(scroll, 1)
        layout.addWidget(buttons)

    def _side(self, row: dict[str, str] | None, name: str) -> QWidget:
        text = (
            "(deleted)"
            if row is None
            else f"Q: {row['question']}\nA: {row['answer']}\nstatus: {row['status']}"
            f"  tags: {row['tags']}"
        )
        view = QPlainTextEdit(text, objectName=name, readOnly=True)
        view.setMaximumHeight(110)
        return view

    def _edit(self, conflict: Conflict) -> None:
        self._choose(conflict.id, conflict.mine if conflict.mine is not None else conflict.theirs)
        self.to_edit = conflict.id
        self.accept()

    def _choose(self, row_id: str, row: dict[str, str] | None) -> None:
        self.choices[row_id] = row
        self.status.setText(
            f"{len(self.choices)} decided. Close when done: the choices are applied and synced."
        )


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
        return dict(self.session.project.sync_value("sheet") or {}) if self.session else {}

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
            synced = self.session.project.sync_value("synced_at") if self.session else None
            self.state_changed.emit(f"Sheet: synced {synced}" if synced else "Sheet: linked")

    def sync(self, link: dict[str, Any] | None = None) -> asyncio.Task[None] | None:
        if self.session is None or (self.task is not None and not self.task.done()):
            return self.task
        import asyncio  # not at import: this module loads before the window's first paint

        self.task = asyncio.ensure_future(self._sync(link or self.link()))
        return self.task

    async def _sync(self, link: dict[str, Any]) -> None:
        try:
            await self.sync_now(link)
        except UserFacingError as exc:
            self.last_error = str(exc)
            self.state_changed.emit(f"Sheet: not synced — {exc.message}")

    async def sync_now(self, link: dict[str, Any]) -> SyncResult:
        """One sync, saved through the session (views refresh); errors are raised."""
        from persona_studio.services.sheets import sync_project

        assert self.session is not None
        if not link.get("key"):
            raise UserFacingError(
                "This project is not linked to a Google Sheet yet.",
                "Link one first (Sheet → Link a Google Sheet…).",
            )
        session = self.session
        self.state_changed.emit("Sheet: syncing…")
        client = await self.client_factory()
        result = await sync_project(
            client,
            session.project,
            link,
            list(session.examples),
            account=self.context.config.google.account_email,
            apply=session.apply_sync,
        )
        self._schedule()
        self.last_conflicts, self.last_error = result.plan.conflicts, ""
        if result.plan.conflicts:
            self.state_changed.emit(f"Sheet: {len(result.plan.conflicts)} conflict(s) to settle")
        else:
            self._show_state()
        return result

    def settle(self, choices: dict[str, dict[str, str] | None]) -> None:
        """Apply the user's choices so the next sync carries them to the other side."""
        assert self.session is not None
        snapshot = dict(self.session.project.sync_value("snapshot") or {})
        by_conflict = {c.id: c for c in self.last_conflicts}
        upserts, deletes = [], []
        for row_id, row in choices.items():
            conflict = by_conflict.get(row_id)
            if conflict is None:
                continue
            if row is conflict.theirs:  # theirs: take it here, and count it as agreed
                if row is None:
                    deletes.append(row_id)
                    snapshot.pop(row_id, None)
                else:
                    upserts.append(row_to_example(row))
                    snapshot[row_id] = row
            elif conflict.theirs is not None:  # mine: the sheet's version becomes the base
                snapshot[row_id] = conflict.theirs
            else:
                snapshot.pop(row_id, None)  # mine, and the sheet deleted it: add it again
        self.session.apply_sync(upserts, deletes, snapshot, self.link())
        self.sync()
