"""Starting asyncio work from Qt code that may run before the app's asyncio loop does."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QTimer

RETRY_MS = 20


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
