"""The selected example in full: every turn, per-reply training weight, own system prompt."""

from __future__ import annotations

import copy

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from persona_studio.core.dataset import Example

EDIT_DELAY_MS = 400


class ConversationEditor(QWidget):
    """Every turn of the selected example, per-reply weight and its own system prompt; edits
    go out as `edited(before, after)`."""

    edited = Signal(object, object)  # before, after

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._example: Example | None = None
        self._turns: list[tuple[QPlainTextEdit, QCheckBox | None]] = []
        self._timer = QTimer(self, singleShot=True, interval=EDIT_DELAY_MS)
        self._timer.timeout.connect(self.commit)
        self.title = QLabel("Select an example to see the whole conversation.", wordWrap=True)
        self.turns_box = QVBoxLayout()
        inner = QWidget()
        inner.setLayout(self.turns_box)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(inner)
        self.add_turn = QPushButton("Add a turn", objectName="add_turn")
        self.add_turn.setToolTip("Adds a user message and a reply: for multi-turn examples.")
        self.add_turn.clicked.connect(self._add_turn)
        self.remove_turn = QPushButton("Remove last turn", objectName="remove_turn")
        self.remove_turn.clicked.connect(self._remove_turn)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_turn)
        buttons.addWidget(self.remove_turn)
        buttons.addStretch(1)
        prompt_box = QGroupBox("System prompt")
        self.own_prompt = QCheckBox(
            "This example uses its own system prompt", objectName="own_prompt"
        )
        self.own_prompt.toggled.connect(self._own_prompt_toggled)
        self.prompt = QPlainTextEdit(objectName="example_system_prompt")
        self.prompt.setAccessibleName("Example system prompt")
        self.prompt.setPlaceholderText("Otherwise the persona's prompt is used.")
        self.prompt.setFixedHeight(70)
        self.prompt.textChanged.connect(self._changed)
        prompt_layout = QVBoxLayout(prompt_box)
        prompt_layout.addWidget(self.own_prompt)
        prompt_layout.addWidget(self.prompt)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(scroll, 1)
        layout.addLayout(buttons)
        layout.addWidget(prompt_box)
        self._filling = False
        self.show_example(None)

    def show_example(self, example: Example | None) -> None:
        """Show a fresh copy; pending typing for the previous example is saved first."""
        if self._timer.isActive():
            self.commit()
        self._example = copy.deepcopy(example) if example else None
        self._filling = True
        try:
            while self.turns_box.count():
                item = self.turns_box.takeAt(0)
                if item.widget():
                    item.widget().deleteLater()
            self._turns = []
            enabled = example is not None
            for widget in (self.add_turn, self.remove_turn, self.own_prompt, self.prompt):
                widget.setEnabled(enabled)
            if example is None:
                self.title.setText("Select an example to see the whole conversation.")
                self.prompt.clear()
                return
            turns = [m for m in example.messages if m.get("role") in ("user", "assistant")]
            self.title.setText(
                f"Example with {len(turns) // 2 or 1} turn"
                f"{'s' if len(turns) > 2 else ''} · {example.status} · "
                f"source: {example.source or 'typed'}"
            )
            for message in turns:
                self._add_message_widget(message)
            self.remove_turn.setEnabled(len(turns) > 2)
            self.own_prompt.setChecked(example.system_prompt is not None)
            self.prompt.setPlainText(example.system_prompt or "")
            self.prompt.setEnabled(example.system_prompt is not None)
        finally:
            self._filling = False

    def _add_message_widget(self, message: dict) -> None:
        role = message.get("role")
        label = QLabel("User says" if role == "user" else "Character replies")
        text = QPlainTextEdit(message.get("content", ""))
        text.setAccessibleName(label.text())
        text.setObjectName(f"turn_{len(self._turns)}")
        text.setTabChangesFocus(True)
        text.setMinimumHeight(60)
        text.textChanged.connect(self._changed)
        weight: QCheckBox | None = None
        self.turns_box.addWidget(label)
        self.turns_box.addWidget(text)
        if role == "assistant":
            weight = QCheckBox("Learn from this reply", objectName=f"weight_{len(self._turns)}")
            weight.setToolTip("Untick to keep this reply as context without training on it.")
            weight.setChecked(message.get("weight", 1) != 0)
            weight.toggled.connect(self._changed)
            self.turns_box.addWidget(weight)
        self._turns.append((text, weight))

    def _changed(self, *_: object) -> None:
        if not self._filling and self._example is not None:
            self._timer.start()

    def _own_prompt_toggled(self, on: bool) -> None:
        self.prompt.setEnabled(on)
        self._changed()

    def current(self) -> Example | None:
        if self._example is None:
            return None
        after = copy.deepcopy(self._example)
        turns = [m for m in after.messages if m.get("role") in ("user", "assistant")]
        messages = []
        for message, (text, weight) in zip(turns, self._turns, strict=False):
            updated = {**message, "content": text.toPlainText()}
            if weight is not None:
                if weight.isChecked():
                    updated.pop("weight", None)
                else:
                    updated["weight"] = 0
            messages.append(updated)
        after.messages = messages
        after.system_prompt = self.prompt.toPlainText() if self.own_prompt.isChecked() else None
        return after

    def commit(self) -> None:
        self._timer.stop()
        after = self.current()
        if after is not None and self._example is not None and after != self._example:
            before, self._example = self._example, copy.deepcopy(after)
            self.edited.emit(before, after)

    def _add_turn(self) -> None:
        after = self.current()
        if after is None:
            return
        after.messages += [{"role": "user", "content": ""}, {"role": "assistant", "content": ""}]
        before = self._example
        self._example = None
        self.edited.emit(before, after)

    def _remove_turn(self) -> None:
        after = self.current()
        if after is None or after.turn_count <= 2:
            return
        after.messages = after.messages[:-2]
        before = self._example
        self._example = None
        self.edited.emit(before, after)
