"""Starting asyncio work from Qt code that may run before the app's asyncio loop does."""

from __future__ import annotations

import sys
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from PySide6.QtCore import QTimer

if TYPE_CHECKING:
    import asyncio

RETRY_MS = 20
T = TypeVar("T")


def when_loop_runs(callback: Callable[[], object]) -> None:
    """Call `callback` from the event loop once asyncio's loop is running there. At startup a
    tab can be built (and want a worker) before `run_app` has made the qasync loop: an
    `ensure_future` then would land on a loop that never runs."""
    import asyncio

    def attempt() -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            QTimer.singleShot(RETRY_MS, attempt)
            return
        callback()

    QTimer.singleShot(0, attempt)


def spawn(work: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
    """`work` as a task of the window's own: it says what goes wrong to the creator itself (a
    box, a line in the tab), so an exception that escapes it is a bug, reported as soon as the
    task ends, as a slot's is (`sys.excepthook`: the log with its traceback, and the problem
    report). Left to asyncio it would be logged only when Python collects the task, and never
    while an attribute keeps it (`self._task`); a test fails on it (pytest-qt's hook)."""
    import asyncio

    task = asyncio.ensure_future(work)
    task.add_done_callback(_report_escaped)
    return task


def _report_escaped(task: asyncio.Task[Any]) -> None:
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        sys.excepthook(type(error), error, error.__traceback__)
