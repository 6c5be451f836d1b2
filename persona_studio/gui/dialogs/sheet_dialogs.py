"""The Google Sheets dialogs: link a sheet, settle conflicts side by side."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
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

from persona_studio.core.sheet_sync import Conflict
from persona_studio.core.words import counted
from persona_studio.gui.dialogs.lifetime import delete_when_idle

GUIDE = """<p><b>Once, in the Google Cloud console</b> (console.cloud.google.com):</p>
<ol>
<li>At the top, pick a project or choose <i>New project</i>.</li>
<li><i>APIs &amp; Services → Library</i>: search for and <i>Enable</i> the
<b>Google Sheets API</b>, then the <b>Google Drive API</b>.</li>
</ol>
<p><b>Either a service account</b> (works for any sheet you share with it):</p>
<ol start="3">
<li><i>APIs &amp; Services → Credentials → Create credentials → Service account</i>; give it a
name and press <i>Done</i>.</li>
<li>Click the new account, open the <i>Keys</i> tab, <i>Add key → Create new key → JSON</i>.
A file downloads: keep it private.</li>
<li>Here: <i>Settings → Google Sheets → Service account → Choose JSON file…</i>, then share
your sheet (its <i>Share</i> button) with the e-mail address shown there, as <i>Editor</i>.</li>
</ol>
<p><b>Or your own Google account</b>:</p>
<ol start="3">
<li><i>Google Auth Platform → Audience</i> (older consoles: <i>OAuth consent screen</i>):
<i>External</i>, and add your own address under <i>Test users</i>.</li>
<li><i>Clients → Create client</i> (or <i>Credentials → Create credentials → OAuth client
ID</i>), application type <b>Desktop app</b>, <i>Create</i>, then <i>Download JSON</i>.</li>
<li>Here: <i>Settings → Google Sheets → My Google account → Choose JSON file…</i>; the first sync
asks you to approve access in your browser.</li>
</ol>"""


class LinkDialog(QDialog):
    """The sheet's address and how syncing behaves; with a step-by-step guide to the Google
    setup, open at once while no Google account is set up."""

    settings_requested = Signal()  # "Open Settings → Google Sheets"

    def __init__(self, account: str, link: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        delete_when_idle(self, lambda: ())
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
        self.new_rows = QComboBox(objectName="sheet_new_rows")
        self.new_rows.setAccessibleName("Rows from the sheet")
        self.new_rows.addItem("are ready to train (approved)", "approved")
        self.new_rows.addItem("need my review first (drafts)", "draft")
        self.new_rows.setCurrentIndex(max(0, self.new_rows.findData(link.get("new_rows"))))
        self.new_rows.setToolTip(
            "For rows the sheet gives no status: your own questions and answers train as they "
            "are; choose review when someone else fills the sheet. A status column wins."
        )
        form = QFormLayout()
        form.addRow("Sheet address", self.address)
        form.addRow("Worksheet (tab)", self.worksheet)
        form.addRow("", self.create)
        form.addRow("Sync automatically every", self.every)
        form.addRow("New rows from the sheet", self.new_rows)
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
        self.guide_toggle = QPushButton(
            "How do I set up Google for syncing?", objectName="sheet_guide_toggle", checkable=True
        )
        self.guide = QLabel(GUIDE, objectName="sheet_guide", wordWrap=True)
        self.guide.setTextFormat(Qt.TextFormat.RichText)
        self.guide.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        guide_scroll = QScrollArea(widgetResizable=True, objectName="sheet_guide_scroll")
        guide_scroll.setWidget(self.guide)
        guide_scroll.setMinimumHeight(200)
        self.open_settings = QPushButton(
            "Open Settings → Google Sheets", objectName="sheet_open_settings"
        )
        self.open_settings.clicked.connect(self.settings_requested)
        self.guide_toggle.toggled.connect(guide_scroll.setVisible)
        self.guide_toggle.setChecked(not account)
        guide_scroll.setVisible(not account)
        help_row = QHBoxLayout()
        help_row.addWidget(self.guide_toggle)
        help_row.addWidget(self.open_settings)
        help_row.addStretch(1)
        ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText("Link and sync")
        ok.setEnabled(bool(account))  # no Google account: nothing could sync yet
        layout = QVBoxLayout(self)
        layout.addWidget(
            QLabel(
                share + " Columns: question, answer (any capitalisation); "
                "id, status and tags are added.",
                wordWrap=True,
            )
        )
        layout.addLayout(help_row)
        layout.addWidget(guide_scroll, 1)
        layout.addLayout(form)
        layout.addWidget(buttons)


class ConflictDialog(QDialog):
    """Both versions side by side; each conflict kept as mine, as theirs, or as edited."""

    def __init__(self, conflicts: list[Conflict], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        delete_when_idle(self, lambda: ())
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
            f"{counted(len(conflicts), 'example was', 'examples were')} changed differently "
            "here and in the sheet. Choose which version to keep; the other is "
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
