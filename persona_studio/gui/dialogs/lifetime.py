"""Dialogs that run background work are deleted once closed *and* idle."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QDialog

if TYPE_CHECKING:
    import asyncio


def delete_when_idle(dialog: QDialog, tasks: Callable[[], Iterable[asyncio.Future | None]]) -> None:
    """When `dialog` finishes, delete it as soon as none of `tasks()` is running: a task being
    cancelled still lands in the dialog's callbacks, which must find it alive."""

    def check(*_: object) -> None:
        from shiboken6 import isValid

        if not isValid(dialog):  # its window closed meanwhile, and took it
            return
        busy = [task for task in tasks() if task is not None and not task.done()]
        if busy:
            busy[0].add_done_callback(check)
        else:
            dialog.deleteLater()

    dialog.finished.connect(check)
