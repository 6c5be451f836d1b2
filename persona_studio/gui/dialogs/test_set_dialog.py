"""The voice check's questions, for the creator to read and shape: the examples kept aside (never
trained), the ones the creator pinned ("it must always answer this well"), and the rule probes
made from the persona. Add a question with your own answer, edit one, pin or unpin it; every
change is one undo step on the window's stack, as the Dataset tab's are.

A view of `core.test_set` and `core.probes`: which examples are in the set is decided there."""

from __future__ import annotations

import dataclasses
from typing import Any

from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from persona_studio.core.dataset import Example, now_iso
from persona_studio.core.test_set import PIN_TAG, split_test_set
from persona_studio.gui.dialogs.lifetime import delete_when_idle
from persona_studio.gui.project_session import ProjectSession

PINNED, RANDOM = "Pinned by you", "Picked at random"


class TestSetDialog(QDialog):
    def __init__(
        self, session: ProjectSession, parent: QWidget | None = None, undo_stack: Any = None
    ) -> None:
        super().__init__(parent, objectName="test_set_dialog")
        delete_when_idle(self, lambda: ())
        self.setWindowTitle("The voice check's questions")
        self.session, self.undo_stack = session, undo_stack
        self.shown: list[Example] = []
        self.intro = QLabel(objectName="test_set_intro", wordWrap=True)
        self.table = QTableWidget(0, 3, objectName="test_set_table")
        self.table.setHorizontalHeaderLabels(["Question", "Your answer", "Why it is here"])
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.setAccessibleName("Questions kept aside")
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.cellDoubleClicked.connect(lambda *_: self.edit_selected())
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

    def refresh(self, *_: object) -> None:
        from persona_studio.core.probes import probes
        from persona_studio.core.words import counted
        from persona_studio.services.voice_check import MIN_TEST_SET

        selected = self.selected()
        share = self.session.project.test_share
        _kept, test = split_test_set(self.session.examples, share)
        self.shown = [e for e in test if e.question and e.answer]
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
        self.intro.setText(text)
        self.table.setRowCount(len(self.shown))
        for row, example in enumerate(self.shown):
            why = PINNED if PIN_TAG in example.tags else RANDOM
            for column, text in enumerate((example.question, example.answer, why)):
                item = QTableWidgetItem(" ".join(text.split())[:300])
                item.setToolTip(text[:2000])
                self.table.setItem(row, column, item)
        if selected is not None:
            rows = [i for i, e in enumerate(self.shown) if e.id == selected.id]
            if rows:
                self.table.selectRow(rows[0])
        self.probes.clear()
        self.probes.addItems([p.question for p in probes(self.session.persona)])
        self._update_buttons()

    def selected(self) -> Example | None:
        rows = {index.row() for index in self.table.selectedIndexes()}
        row = min(rows) if rows else -1
        return self.shown[row] if 0 <= row < len(self.shown) else None

    def select(self, example_id: str) -> None:
        for row, example in enumerate(self.shown):
            if example.id == example_id:
                self.table.selectRow(row)

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
        self._replace(chosen, tags=tags, label="Unpin a question" if pinned else "Pin a question")
        still = any(e.id == chosen.id for e in self.shown)
        self.message.setText(
            ("Unpinned." + ("" if still else " It is no longer in the check: training may use it."))
            if pinned
            else "Pinned: every check asks it."
        )

    def _replace(self, before: Example, *, label: str, **changes: Any) -> None:
        from persona_studio.gui.undo import EditExamples

        after = dataclasses.replace(before, **changes, updated_at=now_iso())
        self._push(EditExamples(self.session, [before], [after], label))


ADD_HINT = (
    "Ask what your character must always answer well, and write the answer as you would give "
    "it. It joins your examples approved and pinned to the voice check; no training sees it."
)
EDIT_HINT = "The check compares every model's reply with your answer here."
