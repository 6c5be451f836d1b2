"""Plain-language message boxes for errors that have a next step."""

from __future__ import annotations

from collections.abc import Callable
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


async def ask(
    parent: QWidget,
    title: str,
    text: str,
    go: str,
    *,
    name: str,
    shown: Callable[[QMessageBox], None] = lambda _box: None,
) -> bool:
    """A yes-or-Cancel question (the yes button says `go`), awaited without a nested event
    loop: the window keeps painting while it waits. `shown` gets the box (tests answer it)."""
    import asyncio

    from shiboken6 import isValid

    answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
    box = QMessageBox(
        QMessageBox.Icon.Question, title, text, QMessageBox.StandardButton.Cancel, parent
    )
    box.setObjectName(name)
    yes = box.addButton(go, QMessageBox.ButtonRole.AcceptRole)

    def answered(value: bool) -> None:
        if not answer.done():
            answer.set_result(value)

    box.buttonClicked.connect(lambda button: answered(button is yes))
    box.finished.connect(lambda _r: answered(False))
    shown(box)
    box.open()
    try:
        return await answer
    finally:
        if isValid(box):  # not when the parent went first
            box.close()
