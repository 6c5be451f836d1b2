"""Import examples: preview, column mapping, add or replace; the file is read off the UI thread."""

from __future__ import annotations

import asyncio
import logging
from html import escape
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QRadioButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from persona_studio.core.dataset import Example
from persona_studio.core.errors import UserFacingError
from persona_studio.core.importers import ImportResult
from persona_studio.core.importers.jsonl import examples_from_jsonl
from persona_studio.core.importers.tabular import (
    Table,
    examples_from_table,
    guess_mapping,
    read_table,
)
from persona_studio.gui.dialogs.lifetime import delete_when_idle
from persona_studio.gui.loop import spawn
from persona_studio.gui.theme import color

PREVIEW_ROWS = 20
READ_AFTER_PAINT_MS = 50  # ms after the dialog opens: the file is read once it has painted
MAPPED_ROLES = (
    ("question", "Question"),
    ("answer", "Answer"),
    ("status", "Status"),
    ("tags", "Tags"),
)

log = logging.getLogger(__name__)


class ImportDialog(QDialog):
    """A dataset file's preview, column mapping and add/replace choice; the file is read and
    parsed on a worker thread."""

    def __init__(self, path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("import_dialog")
        self.setWindowTitle(f"Import examples from {path.name}")
        self.resize(860, 560)
        self.path = path
        self.is_jsonl = path.suffix.lower() in (".jsonl", ".json")  # lines, or one JSON list
        self._table: Table | None = None
        self._result: ImportResult | None = None
        self._task: asyncio.Task[None] | None = None  # reading the file
        self._mapping: asyncio.Task[None] | None = None  # its rows made examples again
        delete_when_idle(self, lambda: (self._task, self._mapping))  # may hold a large table

        self.status = QLabel("Reading the file…", objectName="import_status", wordWrap=True)
        self.sheet = QComboBox(objectName="import_sheet")
        self.sheet.setAccessibleName("Sheet")
        self.sheet.activated.connect(lambda _i: self._load())
        self.mapping: dict[str, QComboBox] = {}
        form = QFormLayout()
        form.addRow("Sheet", self.sheet)
        for role, label in MAPPED_ROLES:
            combo = QComboBox(objectName=f"map_{role}")
            combo.setAccessibleName(f"Column for {label.lower()}")
            combo.activated.connect(lambda _i: self._remap())
            self.mapping[role] = combo
            form.addRow(f"{label} column", combo)
        self.keep_prompts = QCheckBox(
            "Keep each example's own system prompt", objectName="keep_prompts"
        )
        self.keep_prompts.setToolTip("Otherwise the persona's prompt is used for every example.")
        self.keep_prompts.setChecked(True)  # a file's own prompts are the creator's choice
        self.keep_prompts.toggled.connect(lambda _on: self._load())
        form.addRow(self.keep_prompts)
        self._form = form
        self.preview = QTableWidget(objectName="import_preview")
        self.preview.setAccessibleName("Preview")
        self.ready = QRadioButton(
            "Examples from this file are ready to train", objectName="import_ready"
        )
        self.ready.setToolTip(
            "Your own curated questions and answers: they are approved and train as they are. "
            "A row whose status column says otherwise keeps its status."
        )
        self.ready.setChecked(True)
        self.review = QRadioButton(
            "They need my review first (import them as drafts)", objectName="import_review"
        )
        readiness = QButtonGroup(self)
        readiness.addButton(self.ready)
        readiness.addButton(self.review)
        self.ready.toggled.connect(lambda _on: self._reread())
        self.add = QRadioButton("Add to the current examples", objectName="import_add")
        self.add.setChecked(True)
        self.replace = QRadioButton("Replace all current examples", objectName="import_replace")
        placement = QButtonGroup(self)
        placement.addButton(self.add)
        placement.addButton(self.replace)
        self.skipped = QLabel(objectName="import_skipped", wordWrap=True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.addButton("Import", QDialogButtonBox.ButtonRole.AcceptRole)
        self.ok.setObjectName("import_ok")
        self.ok.setEnabled(False)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addLayout(form)
        layout.addWidget(QLabel(f"Preview (first {PREVIEW_ROWS} examples):"))
        layout.addWidget(self.preview, 1)
        layout.addWidget(self.skipped)
        choices = QHBoxLayout()  # two separate questions, each in its own box
        for title, buttons in (
            ("Are these examples ready?", (self.ready, self.review)),
            ("Into the project", (self.add, self.replace)),
        ):
            box = QGroupBox(title)
            box_layout = QVBoxLayout(box)
            for button in buttons:
                box_layout.addWidget(button)
            choices.addWidget(box, 1)
        layout.addLayout(choices)
        layout.addWidget(self.buttons)
        form.setRowVisible(self.sheet, False)
        form.setRowVisible(self.keep_prompts, self.is_jsonl)
        for combo in self.mapping.values():
            form.setRowVisible(combo, not self.is_jsonl)
        # read once the dialog has painted: its first paint calls into Python for each widget,
        # and each call waited for the interpreter lock behind the reader's first import of
        # pandas (a 170–217 ms stall; 35 ms after it). Qt paints on its own timer, first.
        QTimer.singleShot(READ_AFTER_PAINT_MS, self, self._load)

    def _load(self) -> None:
        for task in (self._task, self._mapping):
            if task is not None:
                task.cancel()
        self._task = spawn(self._read())

    async def _read(self) -> None:
        self.ok.setEnabled(False)
        self.status.setText("Reading the file…")
        try:
            if self.is_jsonl:
                data = await asyncio.to_thread(self.path.read_bytes)
                result = await asyncio.to_thread(
                    examples_from_jsonl,
                    data,
                    f"import:{self.path.name}",
                    keep_system_prompts=self.keep_prompts.isChecked(),
                    default_status=self.default_status,
                )
                self._show_result(result)
                return
            sheet = self.sheet.currentText() or None
            self._table = await asyncio.to_thread(read_table, self.path, sheet)
        except (UserFacingError, OSError) as exc:
            message = (
                str(exc)
                if isinstance(exc, UserFacingError)
                else (f"Could not read {self.path.name}: {exc.strerror}.")
            )
            self.status.setText(
                f'<span style="color:{color("danger")}">{message}</span> Nothing was imported.'
            )
            return
        except Exception as exc:  # a reader's bug: say so; the dialog never hangs on "Reading…"
            log.exception("reading %s for import failed", self.path)
            self.status.setText(
                f'<span style="color:{color("danger")}">Something unexpected went wrong reading '
                f"{escape(self.path.name)} ({type(exc).__name__}).</span> Nothing was imported; "
                "please report it to us, with the file if you can."
            )
            return
        table = self._table
        if table.sheets and self.sheet.count() == 0:
            self.sheet.addItems(table.sheets)
            self._form.setRowVisible(self.sheet, len(table.sheets) > 1)
        guessed = guess_mapping(table.columns)
        for role, combo in self.mapping.items():
            combo.clear()
            combo.addItem("(none)", "")
            for column in table.columns:
                combo.addItem(column, column)
            combo.setCurrentIndex(max(0, combo.findData(guessed.get(role, ""))))
        await self._map()

    def _remap(self) -> None:
        """The rows made examples again, by the columns now chosen (in a worker thread)."""
        if self._mapping is not None:
            self._mapping.cancel()
        self.ok.setEnabled(False)  # till the examples match the columns chosen
        self._mapping = spawn(self._map())

    async def _map(self) -> None:
        """The table's rows made examples in a worker thread: 100,000 rows took 0.4–0.5 s,
        a stall of the whole window on the UI thread."""
        table = self._table
        if table is None:
            return
        mapping = {
            role: combo.currentData() for role, combo in self.mapping.items() if combo.currentData()
        }
        try:
            result = await asyncio.to_thread(
                examples_from_table,
                table,
                mapping,
                f"import:{self.path.name}",
                self.default_status,
            )
        except UserFacingError as exc:
            self._result = None
            self.ok.setEnabled(False)
            self.status.setText(str(exc))
            self._fill_preview([])
            return
        self._show_result(result)

    @property
    def default_status(self) -> str:
        """What a row with no status of its own becomes."""
        return "approved" if self.ready.isChecked() else "draft"

    def _reread(self) -> None:
        if self.is_jsonl:
            self._load()
        else:
            self._remap()

    def _show_result(self, result: ImportResult) -> None:
        self._result = result
        self._fill_preview(result.examples[:PREVIEW_ROWS])
        approved = sum(1 for e in result.examples if e.status == "approved")
        self.status.setText(
            f"<b>{len(result.examples):,} examples</b> to import: {approved:,} ready to "
            f"train, {len(result.examples) - approved:,} to review"
            + "".join(f"<br>{note}" for note in result.notes)
        )
        shown = "; ".join(f"row {row}: {why}" for row, why in result.skipped[:8])
        more = f" … and {len(result.skipped) - 8} more" if len(result.skipped) > 8 else ""
        self.skipped.setText(
            f"{len(result.skipped)} skipped — {shown}{more}"
            if result.skipped
            else "Nothing skipped."
        )
        self.ok.setEnabled(bool(result.examples))

    def _fill_preview(self, examples: list[Example]) -> None:
        self.preview.clear()
        self.preview.setColumnCount(4)
        self.preview.setHorizontalHeaderLabels(["Question", "Answer", "Status", "Tags"])
        self.preview.setRowCount(len(examples))
        for row, ex in enumerate(examples):
            turns = ex.turn_count // 2
            question = (f"[{turns} turns] " if turns > 1 else "") + ex.question
            status = ex.status.capitalize()  # the grid's word for it
            for column, text in enumerate((question, ex.answer, status, ", ".join(ex.tags))):
                self.preview.setItem(row, column, QTableWidgetItem(text.replace("\n", " ⏎ ")))
        self.preview.setColumnWidth(0, 300)
        self.preview.setColumnWidth(1, 360)

    def result_examples(self) -> list[Example]:
        return list(self._result.examples) if self._result else []
