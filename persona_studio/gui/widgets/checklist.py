"""The "Getting started" panel: a welcome on the demo, then seven steps that tick themselves
from the project's state; each step's button goes where it happens."""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from persona_studio.core.checklist import Step
from persona_studio.gui.theme import NOTICE_STYLE, color, style

GO_LABELS = {
    "describe": "Persona",
    "examples": "Add…",
    "approve": "Review",
    "check": "See the check",
    "train": "Train",
    "chat": "Chat",
    "publish": "Export…",
}


class ChecklistPanel(QWidget):
    """Shows `steps` as given; says nothing about how they are computed."""

    go = Signal(str, QWidget)  # a step's key and its button (menus open under it)
    make_own = Signal()  # the welcome's "Make my own character…"
    hide_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, objectName="checklist")
        self.welcome = QLabel(objectName="checklist_welcome", wordWrap=True)
        style(self.welcome, NOTICE_STYLE)
        self.chat_demo = QPushButton("Chat with her", objectName="checklist_chat_demo")
        self.chat_demo.clicked.connect(lambda: self.go.emit("chat", self.chat_demo))
        self.make_own_button = QPushButton(
            "Make my own character…", objectName="checklist_make_own"
        )
        self.make_own_button.clicked.connect(self.make_own)
        welcome_buttons = QHBoxLayout()
        welcome_buttons.addWidget(self.chat_demo)
        welcome_buttons.addWidget(self.make_own_button)
        welcome_buttons.addStretch(1)
        self._welcome_row = QWidget()
        welcome_layout = QVBoxLayout(self._welcome_row)
        welcome_layout.setContentsMargins(0, 0, 0, 0)
        welcome_layout.addWidget(self.welcome)
        welcome_layout.addLayout(welcome_buttons)

        self._welcome_row.hide()  # until a project says whether it is the demo
        # before the first steps (a large project is still being read): a line, not empty rows
        self.progress = QLabel("The steps show once the project is open.", wordWrap=True)
        self.progress.setObjectName("checklist_progress")
        self._steps = QWidget()
        self._steps.hide()
        grid = QGridLayout(self._steps)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setColumnStretch(1, 1)
        grid.setVerticalSpacing(2)
        self.marks: dict[str, QLabel] = {}
        self.titles: dict[str, QLabel] = {}
        self.notes: dict[str, QLabel] = {}
        self.buttons: dict[str, QPushButton] = {}
        for row, (key, label) in enumerate(GO_LABELS.items()):
            mark = QLabel(objectName=f"checklist_mark_{key}")
            title = QLabel(objectName=f"checklist_title_{key}", wordWrap=True)
            note = QLabel(objectName=f"checklist_note_{key}", wordWrap=True)
            note.setTextFormat(Qt.TextFormat.PlainText)  # names a model or the character
            style(note, "color: {muted};")
            button = QPushButton(label, objectName=f"checklist_go_{key}")
            button.clicked.connect(lambda _c=False, k=key, b=button: self.go.emit(k, b))
            grid.addWidget(mark, 2 * row, 0)
            grid.addWidget(title, 2 * row, 1)
            grid.addWidget(button, 2 * row, 2)
            grid.addWidget(note, 2 * row + 1, 1, 1, 2)
            self.marks[key], self.titles[key], self.notes[key] = mark, title, note
            self.buttons[key] = button
        hide = QPushButton("Hide this list", objectName="checklist_hide")
        hide.setToolTip("Help → Getting Started shows it again.")
        hide.clicked.connect(self.hide_requested)
        hide_row = QHBoxLayout()
        hide_row.addStretch(1)
        hide_row.addWidget(hide)
        layout = QVBoxLayout(self)
        layout.addWidget(self._welcome_row)
        layout.addWidget(self.progress)
        layout.addWidget(self._steps)
        layout.addStretch(1)
        layout.addLayout(hide_row)

    def show_steps(self, steps: list[Step], demo: str = "") -> None:
        """`demo`: the sample character's name while the demo project is open."""
        self._welcome_row.setVisible(bool(demo))
        if demo:
            self.welcome.setText(
                f"<b>Welcome!</b> This is {escape(demo)}, a sample character. Look around, "
                "chat with her, then make your own: the steps below show the way."
            )
        self._steps.show()
        done = sum(step.done for step in steps)
        self.progress.setText(f"<b>{done} of {len(steps)} steps done</b>")
        for number, step in enumerate(steps, 1):
            self.marks[step.key].setText(
                f"<span style='color:{color('success')}'>✔</span>" if step.done else "○"
            )
            self.titles[step.key].setText(
                f"{number}. {step.title}" if step.done else f"<b>{number}. {step.title}</b>"
            )
            self.notes[step.key].setText(step.note)
            self.marks[step.key].setAccessibleName("done" if step.done else "to do")
