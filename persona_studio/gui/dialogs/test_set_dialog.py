"""The voice check's questions, for the creator to read and shape: the examples kept aside (never
trained), the ones the creator pinned ("it must always answer this well"), and the rule probes
made from the persona. Add a question with your own answer, edit one, pin or unpin it; every
change is one undo step on the window's stack, as the Dataset tab's are.

A view of `core.test_set` and `core.probes`: which examples are in the set is decided there.
The set is read in a thread, and shown by a model that makes a cell's text when it is painted:
at 100,000 examples (~8,000 questions kept aside) filling a table widget's items froze the
window 0.4 s as it opened, and 34 s at a pin (each item set again into a full table)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from persona_studio.core.dataset import Example, now_iso
from persona_studio.core.test_set import PIN_TAG, cut_for, in_test_set
from persona_studio.gui.dialogs.lifetime import delete_when_idle
from persona_studio.gui.loop import spawn
from persona_studio.gui.project_session import ProjectSession

PINNED, RANDOM = "Pinned by you", "Picked at random"
SEEN = " · your fine-tuned model trained on it"  # before it was kept aside
HEADERS = ("Question", "Your answer", "Why it is here")
Index = QModelIndex | QPersistentModelIndex


def questions_kept_aside(examples: Sequence[Example], share: float) -> list[Example]:
    """The examples the voice check asks (kept aside, with a question and an answer), in the
    dataset's order. Seconds of hashing ids at 1,000,000: call it in a thread."""
    cut = cut_for(examples, share)
    return [e for e in examples if in_test_set(e, cut) and e.question and e.answer]


class QuestionsModel(QAbstractTableModel):
    """The test set's questions; a cell's text is made when the view asks for it."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[Example] = []
        self.seen: set[str] = set()  # the ids the fine-tuned model trained on

    def set_rows(self, rows: list[Example], seen: set[str]) -> None:
        self.beginResetModel()
        self.rows, self.seen = rows, seen
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or role not in (
            Qt.ItemDataRole.DisplayRole,
            Qt.ItemDataRole.ToolTipRole,
        ):
            return None
        example = self.rows[index.row()]
        if index.column() == 2:
            text = PINNED if PIN_TAG in example.tags else RANDOM
            text += SEEN if example.id in self.seen else ""
        else:
            text = example.question if index.column() == 0 else example.answer
        if role == Qt.ItemDataRole.ToolTipRole:
            return text[:2000]
        return " ".join(text[:2000].split())[:300]


class TestSetDialog(QDialog):
    def __init__(
        self, session: ProjectSession, parent: QWidget | None = None, undo_stack: Any = None
    ) -> None:
        super().__init__(parent, objectName="test_set_dialog")
        delete_when_idle(self, lambda: (self.reading,))
        self.setWindowTitle("The voice check's questions")
        self.session, self.undo_stack = session, undo_stack
        self.shown: list[Example] = []
        self.reading: asyncio.Task[None] | None = None  # the set, read in a thread
        self._wanted: str | None = None  # an example to select once it is shown
        self.intro = QLabel(objectName="test_set_intro", wordWrap=True)
        self.model = QuestionsModel()
        self.table = QTableView(objectName="test_set_table")
        self.table.setModel(self.model)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        header.setResizeContentsPrecision(0)  # the rows shown: two texts, whatever the count
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAccessibleName("Questions kept aside")
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)
        self.table.doubleClicked.connect(lambda *_: self.edit_selected())
        self.add = QPushButton("Add a question…", objectName="test_set_add")
        self.add.setToolTip(
            "A question and your own answer: it joins the dataset approved and pinned, so every "
            "check asks it and no training sees it."
        )
        self.add.clicked.connect(self.add_question)
        self.edit = QPushButton("Edit…", objectName="test_set_edit")
        self.edit.clicked.connect(self.edit_selected)
        self.pin = QPushButton("Pin", objectName="test_set_pin")
        self.pin.clicked.connect(self.toggle_pin)
        self.message = QLabel(objectName="test_set_message", wordWrap=True)
        self.probes = QListWidget(objectName="test_set_probes")
        self.probes.setAccessibleName("Rule probes")
        self.probes.setMaximumHeight(120)
        close = QPushButton("Close", objectName="test_set_close")
        close.clicked.connect(self.accept)
        buttons = QHBoxLayout()
        for button in (self.add, self.edit, self.pin):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        layout.addWidget(
            QLabel(
                "Rule probes, made from your persona's topics to avoid and “Never…” list (they "
                "follow the persona when you change it):",
                wordWrap=True,
            )
        )
        layout.addWidget(self.probes)
        self.resize(860, 560)
        session.examples_reset.connect(self.refresh)
        session.examples_edited.connect(self.refresh)
        session.persona_changed.connect(self.refresh)
        self.refresh()

    # ---- showing -------------------------------------------------------------------------

    def refresh(self, *_: object) -> asyncio.Task[None]:
        """Read the set again (in a thread), then show it: after any change of the examples,
        the share or the persona."""
        if self.reading is not None:
            self.reading.cancel()
        if not self.model.rows:
            self.intro.setText("Reading the questions kept aside…")
        self.reading = spawn(self._refresh())
        return self.reading

    async def _refresh(self) -> None:
        from persona_studio.core.probes import probes
        from persona_studio.core.words import counted
        from persona_studio.services.voice_check import MIN_TEST_SET

        project, model = self.session.project, self.session.persona.fine_tuned_model
        share = project.test_share
        examples = list(self.session.examples)

        def read() -> tuple[list[Example], set[str]]:
            shown = questions_kept_aside(examples, share)
            trained = project.trained_on(model)  # (None: not known, or no model yet)
            return shown, {e.id for e in shown if trained is not None and e.id in trained}

        shown, seen = await asyncio.to_thread(read)
        if not isValid(self):  # its window closed meanwhile, and took it
            return
        selected = self.selected()
        wanted = self._wanted or (selected.id if selected is not None else None)
        self.shown = shown
        self.model.set_rows(shown, seen)
        pinned = sum(1 for e in self.shown if PIN_TAG in e.tags)
        text = (
            f"The voice check asks {'this' if len(self.shown) == 1 else 'these'} "
            f"{counted(len(self.shown), 'question')}. No training ever sees them, so the check "
            "hears what a model learnt, not what it memorised. "
            f"{pinned} pinned by you; {len(self.shown) - pinned} picked at random "
            f"({100 * share:.0f} % of your approved examples: Train tab → Advanced)."
        )
        if len(self.shown) < MIN_TEST_SET:
            text += (
                f" With fewer than {MIN_TEST_SET}, the check asks questions training has seen "
                "too: add or pin a few."
            )
        if seen:
            text += (
                f" Your fine-tuned model ({model}) trained on {len(seen)} of them, before they "
                "were kept aside: the check asks it only the others. A new fine-tune leaves "
                "them all out."
            )
        self.intro.setText(text)
        if wanted is not None:
            self.select(wanted)
        self._wanted = None  # (one that left the set is not selected when it comes back)
        self.probes.clear()
        self.probes.addItems([p.question for p in probes(self.session.persona)])
        self._update_buttons()

    def selected(self) -> Example | None:
        rows = {index.row() for index in self.table.selectionModel().selectedRows()}
        row = min(rows) if rows else -1
        return self.shown[row] if 0 <= row < len(self.shown) else None

    def select(self, example_id: str) -> None:
        """Select it, or once the set read under way shows it."""
        self._wanted = example_id
        for row, example in enumerate(self.shown):
            if example.id == example_id:
                self.table.selectRow(row)
                self.table.scrollTo(self.model.index(row, 0))
                self._wanted = None
                return

    def _update_buttons(self) -> None:
        chosen = self.selected()
        self.edit.setEnabled(chosen is not None)
        self.pin.setEnabled(chosen is not None)
        pinned = chosen is not None and PIN_TAG in chosen.tags
        self.pin.setText("Unpin" if pinned else "Pin")
        self.pin.setToolTip(
            "Unpinned, it stays in the check only if it was picked at random."
            if pinned
            else "Pinned, it stays in the check whatever the share under Train → Advanced."
        )

    # ---- changing ------------------------------------------------------------------------

    def _push(self, command: Any) -> None:
        if self.undo_stack is not None:
            self.undo_stack.push(command)
        else:
            command.redo()

    def add_question(self) -> QDialog:
        from persona_studio.gui.chat_tab import AddExampleDialog

        dialog = AddExampleDialog(
            "", "", self, title="Add a question to the voice check", hint=ADD_HINT
        )
        dialog.accepted.connect(
            lambda: self._added(dialog.question.toPlainText(), dialog.answer.toPlainText())
        )
        dialog.open()
        return dialog

    def _added(self, question: str, answer: str) -> None:
        from persona_studio.gui.undo import AddExamples

        if not question.strip() or not answer.strip():
            self.message.setText("A question needs your answer too: nothing was added.")
            return
        example = Example.from_qa(
            question.strip(),
            answer.strip(),
            status="approved",
            tags=[PIN_TAG],
            source="voice check",
        )
        self._push(AddExamples(self.session, [example], "Add a question to the voice check"))
        self.select(example.id)
        self.message.setText("Added, approved and pinned: every check asks it now.")

    def edit_selected(self) -> QDialog | None:
        from persona_studio.gui.chat_tab import AddExampleDialog

        chosen = self.selected()
        if chosen is None:
            return None
        if chosen.turn_count != 2:
            self.message.setText("That one is a conversation: edit it in the Dataset tab.")
            return None
        dialog = AddExampleDialog(
            chosen.question, chosen.answer, self, title="Edit the question", hint=EDIT_HINT
        )
        dialog.accepted.connect(
            lambda: self._edited(chosen, dialog.question.toPlainText(), dialog.answer.toPlainText())
        )
        dialog.open()
        return dialog

    def _edited(self, before: Example, question: str, answer: str) -> None:
        if not question.strip() or not answer.strip():
            self.message.setText("The question and your answer cannot be empty: nothing changed.")
            return
        messages = [dict(m) for m in before.messages]
        for message, text in zip(
            (m for m in messages if m.get("role") in ("user", "assistant")),
            (question.strip(), answer.strip()),
            strict=False,
        ):
            message["content"] = text
        self._replace(before, messages=messages, label="Edit a voice-check question")
        self.message.setText("Saved. The next check asks the question as it reads now.")

    def toggle_pin(self) -> None:
        chosen = self.selected()
        if chosen is None:
            return
        pinned = PIN_TAG in chosen.tags
        tags = [t for t in chosen.tags if t != PIN_TAG] if pinned else [*chosen.tags, PIN_TAG]
        after = self._replace(
            chosen, tags=tags, label="Unpin a question" if pinned else "Pin a question"
        )
        # (a pass that stops at the 10th example trained: ~µs for most datasets)
        still = in_test_set(after, cut_for(self.session.examples, self.session.project.test_share))
        self.message.setText(
            ("Unpinned." + ("" if still else " It is no longer in the check: training may use it."))
            if pinned
            else "Pinned: every check asks it."
        )

    def _replace(self, before: Example, *, label: str, **changes: Any) -> Example:
        from persona_studio.gui.undo import EditExamples

        after = dataclasses.replace(before, **changes, updated_at=now_iso())
        self._push(EditExamples(self.session, [before], [after], label))
        self.select(after.id)  # it stays selected once the set is read again
        return after


ADD_HINT = (
    "Ask what your character must always answer well, and write the answer as you would give "
    "it. It joins your examples approved and pinned to the voice check; no training sees it."
)
EDIT_HINT = "The check compares every model's reply with your answer here."
