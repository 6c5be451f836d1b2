"""What the UI benchmarks share: a private home, the qasync loop, the stall meter (a 5 ms
Qt timer; a stall is how much later than due each tick runs), and the whole app's memory."""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TICK_MS = 5


def private_home(prefix: str) -> Path:
    """Settings and data in a fresh folder: a benchmark never reads or changes the user's."""
    home = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, home, ignore_errors=True)  # (100,000 examples: ~0.4 GB)
    os.environ["XDG_CONFIG_HOME"] = str(home / "config")
    os.environ["XDG_DATA_HOME"] = str(home / "data")
    os.environ["XDG_CACHE_HOME"] = str(home / "cache")
    return home


def qt_loop() -> Any:
    """The application and its qasync loop, set as asyncio's, as the app runs them."""
    import qasync

    from persona_studio.gui.app import make_application

    app = make_application([])
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


class StallSampler:
    """Where the UI thread is while it stalls: a thread looks at the main thread's stack every
    few milliseconds, and whenever the meter's timer is more than `late_ms` overdue it counts
    that stack (the innermost frames of our own code, and the frame it is in). `top()` gives
    the most seen, each with the milliseconds it accounts for. A stack in a lock or in
    `select` while a worker runs is the GIL's or the lock's doing, not the code shown: then
    `beside()` says what the other threads were doing meanwhile (those not waiting in
    `threading`, `queue`, `selectors` or a pipe), as the same figures. Twice a stall that said
    "not our code" was a worker holding the interpreter lock through the window's paint."""

    def __init__(self, meter: StallMeter, late_ms: float = 30.0, every_ms: float = 2.0) -> None:
        import threading

        self.meter, self.late_ms, self.every = meter, late_ms, every_ms / 1000
        self.counts: dict[str, int] = {}
        self.beside_counts: dict[str, int] = {}
        self._main = threading.main_thread().ident
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> StallSampler:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self._thread.join()

    def reset(self) -> None:
        self.counts, self.beside_counts = {}, {}

    def _run(self) -> None:
        import sys
        import threading

        while not self._stop.wait(self.every):
            if not self.meter._timer.isActive():
                continue
            overdue = (time.perf_counter() - self.meter._last) * 1000 - TICK_MS
            if overdue < self.late_ms:
                continue
            frames = sys._current_frames()
            frame = frames.get(self._main or 0)
            if frame is not None:
                key = _where(frame)
                self.counts[key] = self.counts.get(key, 0) + 1
            names = {thread.ident: thread.name for thread in threading.enumerate()}
            for ident, other in frames.items():
                if ident in (self._main, threading.get_ident()):
                    continue
                if Path(other.f_code.co_filename).name in _WAITING_IN:
                    continue
                key = f"{names.get(ident, ident)}: {_where(other)}"
                self.beside_counts[key] = self.beside_counts.get(key, 0) + 1
            # a frame kept past its function's return keeps its locals: freed here later,
            # 100,000 rows at a time, they stalled the window the sampler watches
            frames = frame = other = None

    def top(self, n: int = 3) -> list[tuple[str, float]]:
        return self._ranked(self.counts, n)

    def beside(self, n: int = 2) -> list[tuple[str, float]]:
        return self._ranked(self.beside_counts, n)

    def _ranked(self, counts: dict[str, int], n: int) -> list[tuple[str, float]]:
        ranked = sorted(counts.items(), key=lambda item: -item[1])[:n]
        return [(where, count * self.every * 1000) for where, count in ranked]


# a thread whose innermost frame is in one of these files is waiting, not working
_WAITING_IN = {"threading.py", "queue.py", "selectors.py", "connection.py"}


def _where(frame: Any) -> str:
    """The innermost frame, and the innermost three of persona_studio's own."""
    inner = f"{Path(frame.f_code.co_filename).name}:{frame.f_lineno} {frame.f_code.co_name}"
    ours: list[str] = []
    while frame is not None and len(ours) < 3:
        name = frame.f_code.co_filename
        if "persona_studio" in name:
            ours.append(f"{Path(name).name}:{frame.f_lineno} {frame.f_code.co_name}")
        frame = frame.f_back
    return " < ".join(ours or ["(not our code)"]) + f"  [in {inner}]"


class AppMemory:
    """The whole app's peak memory: this process's and those it started (the check's worker,
    its helper) added up at each moment, as resident memory (RSS) and as proportional memory
    (PSS: a page shared by n processes counts 1/n in each, so the libraries and the Python
    binary the processes share count once). Sampled every 50 ms by a process of its own
    reading /proc, so that sampling takes nothing of this process's interpreter lock; but the
    kernel walks a process's pages to answer, which slows one that grows meanwhile (opening
    1,000,000 examples: 4.5-5.4 s alone, 6.4-7.0 s sampled), so start it after such a step.
    Linux only: elsewhere `peaks` is None."""

    def __init__(self) -> None:
        self._sampler: subprocess.Popen[str] | None = None

    def start(self) -> AppMemory:
        if Path("/proc/self/smaps_rollup").exists():
            self._sampler = subprocess.Popen(
                [sys.executable, "-c", _SAMPLER, str(os.getpid())],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        return self

    def peaks(self) -> tuple[float, float] | None:
        """The highest sums seen so far, RSS and PSS, in MB."""
        if self._sampler is None or self._sampler.stdin is None or self._sampler.stdout is None:
            return None
        self._sampler.stdin.write("peaks\n")
        self._sampler.stdin.flush()
        rss, pss = map(float, self._sampler.stdout.readline().split())
        return rss, pss

    def close(self) -> None:
        if self._sampler is not None:
            self._sampler.communicate()
            self._sampler = None


_SAMPLER = """
import os, select, sys
root = int(sys.argv[1])
def tree(pid):
    found = [pid]
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as children:
            for child in children.read().split():
                found += tree(int(child))
    return found
def kb(pid):
    sizes = {}
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        for line in rollup:
            name, _, rest = line.partition(":")
            if name in ("Rss", "Pss"):
                sizes[name] = int(rest.split()[0])
    return sizes.get("Rss", 0), sizes.get("Pss", 0)
high = [0, 0]
while True:
    try:
        sizes = [kb(pid) for pid in tree(root) if pid != os.getpid()]
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        sizes = []  # a process ended as it was read: the next sample
    if sizes:
        high = [max(high[0], sum(s[0] for s in sizes)), max(high[1], sum(s[1] for s in sizes))]
    if select.select([sys.stdin], [], [], 0.05)[0]:
        if not sys.stdin.readline():
            break
        print(high[0] / 1024, high[1] / 1024, flush=True)
"""
