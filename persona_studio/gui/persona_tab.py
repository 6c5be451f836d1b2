"""Persona tab: who the character is, and the system prompt composed from it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtGui import QFont, QUndoStack
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from persona_studio.gui.project_session import ProjectSession
from persona_studio.gui.undo import SetPersonaField


def _split_commas(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _split_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


# field name, label, widget kind, text → value, value → text, placeholder
_FIELDS: tuple[tuple[str, str, str, Callable[[str], Any], Callable[[Any], str], str], ...] = (
    ("name", "Name", "line", str, str, "e.g. Coach Rhea"),
    (
        "description",
        "Short description",
        "text",
        str,
        str,
        "One or two sentences: who is this character and whom do they help?",
    ),
    (
        "traits",
        "Personality traits",
        "line",
        _split_commas,
        ", ".join,
        "Comma-separated, e.g. encouraging, practical, honest",
    ),
    ("greeting", "Greeting", "text", str, str, "The first thing the character says in a chat"),
    (
        "background",
        "Background facts",
        "text",
        str,
        str,
        "What the character knows about itself: history, expertise, beliefs",
    ),
    ("style_do", "Always…", "text", _split_lines, "\n".join, "One rule per line"),
    ("style_dont", "Never…", "text", _split_lines, "\n".join, "One rule per line"),
)


class PersonaTab(QWidget):
    def __init__(self, undo_stack: QUndoStack, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._undo = undo_stack
        self._session: ProjectSession | None = None
        self._widgets: dict[str, QLineEdit | QPlainTextEdit] = {}
        self._updating = False

        form_box = QGroupBox("Who is your character?")
        form = QFormLayout(form_box)
        for name, label, kind, parse, _fmt, placeholder in _FIELDS:
            widget: QLineEdit | QPlainTextEdit
            if kind == "line":
                widget = QLineEdit()
                widget.textEdited.connect(lambda text, n=name, p=parse: self._edited(n, p(text)))
            else:
                widget = QPlainTextEdit()
                widget.setTabChangesFocus(True)
                widget.setFixedHeight(64)
                widget.textChanged.connect(
                    lambda n=name, p=parse, w=widget: self._edited(n, p(w.toPlainText()))
                )
            widget.setPlaceholderText(placeholder)
            widget.setObjectName(f"persona_{name}")
            widget.setAccessibleName(label)
            self._widgets[name] = widget
            form.addRow(label, widget)

        preview_box = QGroupBox("System prompt (composed from the fields)")
        self.prompt_preview = QPlainTextEdit(readOnly=True, objectName="system_prompt_preview")
        self.prompt_preview.setAccessibleName("System prompt preview")
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        self.prompt_preview.setFont(mono)
        self.prompt_size = QLabel(objectName="system_prompt_size")
        preview_layout = QVBoxLayout(preview_box)
        preview_layout.addWidget(self.prompt_preview)
        preview_layout.addWidget(self.prompt_size)

        layout = QHBoxLayout(self)
        layout.addWidget(form_box, 3)
        layout.addWidget(preview_box, 2)

    def set_session(self, session: ProjectSession) -> None:
        self._session = session
        session.persona_changed.connect(self._show_field)
        for name in self._widgets:
            self._show_field(name)

    def _label(self, field: str) -> str:
        return next(label for name, label, *_ in _FIELDS if name == field)

    def _edited(self, field: str, value: Any) -> None:
        if self._updating or self._session is None:
            return
        old = getattr(self._session.persona, field)
        if old != value:
            self._undo.push(SetPersonaField(self._session, field, old, value, self._label(field)))

    def _show_field(self, field: str) -> None:
        """Session → widget. Skips widgets already showing the value (the one being typed in)."""
        assert self._session is not None
        widget = self._widgets.get(field)
        if widget is not None:
            fmt = next(f for name, _l, _k, _p, f, _ph in _FIELDS if name == field)
            text = fmt(getattr(self._session.persona, field))
            parse = next(p for name, _l, _k, p, _f, _ph in _FIELDS if name == field)
            current = widget.text() if isinstance(widget, QLineEdit) else widget.toPlainText()
            if parse(current) != parse(text):
                self._updating = True
                try:
                    if isinstance(widget, QLineEdit):
                        widget.setText(text)
                    else:
                        widget.setPlainText(text)
                finally:
                    self._updating = False
        self._refresh_prompt()

    def _refresh_prompt(self) -> None:
        assert self._session is not None
        prompt = self._session.persona.system_prompt()
        self.prompt_preview.setPlainText(prompt)
        words = len(prompt.split())
        self.prompt_size.setText(f"{len(prompt):,} characters · {words:,} words")
