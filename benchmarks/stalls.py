"""What the UI benchmarks share: a private home, the qasync loop, and the stall meter (a 5 ms
Qt timer; a stall is how much later than due each tick runs)."""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Any

TICK_MS = 5


def private_home(prefix: str) -> Path:
    """Settings and data in a fresh folder: a benchmark never reads or changes the user's."""
    home = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ["XDG_CONFIG_HOME"] = str(home / "config")
    os.environ["XDG_DATA_HOME"] = str(home / "data")
    return home


def qt_loop() -> Any:
    """The application and its qasync loop, set as asyncio's, as the app runs them."""
    import qasync
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    return loop


class StallMeter:
    """`start`, let the loop run, `stop`: `stalls` holds each tick's lateness in ms."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.stalls: list[float] = []
        self._last = time.perf_counter()
        self._timer = QTimer(interval=TICK_MS)
        self._timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.stalls.append(max(0.0, (now - self._last) * 1000 - TICK_MS))
        self._last = now

    def start(self) -> None:
        self.stalls.clear()
        self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> list[float]:
        self._timer.stop()
        return self.stalls
