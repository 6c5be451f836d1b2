"""Plain-language message boxes for errors that have a next step."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QMessageBox, QWidget

from persona_studio.core.errors import UserFacingError


def show_error(parent: QWidget | None, title: str, error: UserFacingError) -> None:
    from persona_studio.gui.help import remember_error  # for Help → Report a Problem

    remember_error(title, str(error))
    box = QMessageBox(
        QMessageBox.Icon.Warning, title, error.message, QMessageBox.StandardButton.Ok, parent
    )
    box.setObjectName("error_message")
    if error.hint:
        box.setInformativeText(error.hint)
    box.open()  # window-modal and non-blocking: the event loop (and autosave) keeps running


def write_file(parent: QWidget | None, path: Path, data: bytes) -> bool:
    """Write atomically; a failure is shown with a next step. Returns whether it worked."""
    from persona_studio.core.config import atomic_write_bytes

    try:
        atomic_write_bytes(path, data)
    except OSError as exc:
        show_write_error(parent, path, exc)
        return False
    return True


def show_write_error(parent: QWidget | None, path: Path, exc: OSError) -> None:
    show_error(
        parent,
        "Could not export",
        UserFacingError(
            f"Could not write “{path.name}”: {exc.strerror}.", "Choose another folder."
        ),
    )
