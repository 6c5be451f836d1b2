"""Plain-language message boxes for errors that have a next step."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

from persona_studio.core.errors import UserFacingError


def show_error(parent: QWidget | None, title: str, error: UserFacingError) -> None:
    box = QMessageBox(
        QMessageBox.Icon.Warning, title, error.message, QMessageBox.StandardButton.Ok, parent
    )
    box.setObjectName("error_message")
    if error.hint:
        box.setInformativeText(error.hint)
    box.open()  # window-modal and non-blocking: the event loop (and autosave) keeps running
