"""The banner shown while the character's fine-tuned model is one OpenAI retires (14 January
2027), with "Keep its voice…": the generate dialog's rescue source asks it the approved
questions and keeps its answers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from persona_studio.core.trainers import retirement, retirement_note
from persona_studio.gui.theme import style


class RetirementBanner(QFrame):
    keep_voice = Signal()
    today: Callable[[], date] = staticmethod(date.today)  # tests set the day

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, objectName="retirement_banner")
        style(self, "background: {notice_bg}; color: {notice_fg}; border-radius: 4px;")
        self.text = QLabel(wordWrap=True, objectName="retirement_text")
        self.button = QPushButton("Keep its voice…", objectName="keep_voice")
        self.button.setToolTip(
            "Ask the old model your questions and keep its answers in this project "
            "(the price is shown before anything is sent)."
        )
        self.button.clicked.connect(self.keep_voice)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)  # on the 4 px grid, as every notice
        layout.addWidget(self.text, 1)
        layout.addWidget(self.button)
        self.hide()

    def show_for(self, model: str) -> None:
        note = retirement_note(model, self.today())
        self.text.setText(note)
        ends = retirement(model)
        self.button.setVisible(ends is not None and ends >= self.today())  # it still answers
        self.setVisible(bool(note))
