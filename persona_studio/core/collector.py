"""The cyclic garbage collector, paused while many objects without cycles are made (examples
loaded from the file, a check's report read back): it can only waste time on them, and each of
its full passes holds the interpreter lock beside the window."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")

FREEZE_FROM = 5_000  # examples: from here a load's objects are frozen out of the collector's sight
# (from 20,000 before: at 6,000 the first Dataset tab stalled 170–260 ms, 36–45 ms since)
_pauses = 0  # loads under way (they may overlap, in two threads)
_enabled_before = False  # the collector's state before the first of them
_pauses_lock = threading.Lock()
_start_paused = False  # the app's start, until its window is shown


@contextmanager
def collector_paused(*, freeze: bool = False) -> Iterator[None]:
    """No cyclic garbage collection while many objects are made, then those objects frozen out
    of its sight. Examples hold no cycles, so the collector can only waste time on them: while
    100,000 of them load it ran full passes that took a quarter to a third of the load (1.30 →
    0.81–1.06 s), each pass holding the interpreter lock beside the window. With `freeze`, every
    object alive then is moved out of the collector's sight (a later full pass would otherwise
    walk them all again): they are still freed when no longer used (reference counting), and
    the app freezes its start-up objects the same way."""
    _pause()
    try:
        yield
    finally:
        _resume(freeze=freeze)


@contextmanager
def first_import_paused(name: str) -> Iterator[None]:
    """Around the import of the library `name` (and what its first use imports): the first
    time, with the collector paused, and what it made frozen after (it lives as long as the
    app). In a thread, the `openai` SDK's first import (~0.5 s) set off full passes over its
    new objects, each holding the interpreter lock 18–30 ms beside the window: the first
    generation run at 500 examples stalled it 43–61 ms. (pandas' first import, tried the
    same way: no difference measured.)"""
    import sys

    if name in sys.modules:
        yield
        return
    with collector_paused(freeze=True):
        yield


def _pause() -> None:
    global _pauses, _enabled_before
    with _pauses_lock:
        if not _pauses:
            _enabled_before = gc.isenabled()
        _pauses += 1
        gc.disable()


def _resume(*, freeze: bool) -> None:
    global _pauses
    with _pauses_lock:
        _pauses -= 1
        if freeze:
            gc.freeze()
        if not _pauses and _enabled_before:
            gc.enable()


def pause_for_startup() -> None:
    """No collection from the app's first import until its window is shown
    (`end_startup_pause`): what starting makes lives as long as the app, and 40-odd passes
    over it were ~8 ms of the time to the first paint. A load under way then keeps its own
    pause."""
    global _start_paused
    if not _start_paused:
        _start_paused = True
        _pause()


def end_startup_pause() -> None:
    """End `pause_for_startup`'s pause, if any."""
    global _start_paused
    if _start_paused:
        _start_paused = False
        _resume(freeze=False)


RELEASE_SLICE = 512  # items freed at a time by `release`
RELEASE_PAUSE_S = 0.0005  # a pause between two slices: the window takes the lock meanwhile
KEPT_WAITING_S = 0.001  # a slice kept waiting longer than this: another thread wanted the lock
GIVE_WAY_S = 0.01  # then the pause: the window's work (a click's, a paint) goes on alone

_window = False  # a window shares this process's interpreter lock (`share_with_window`)


def share_with_window() -> None:
    """The app calls this as it makes its window: from then on, long passes in worker threads
    pause between two slices (`Pacer`). On the command line nothing waits: no pause."""
    global _window
    _window = True


class Pacer:
    """Paces a long pass of Python in a worker thread: at each `pause`, between two slices of
    its work, the thread lets the interpreter lock go for a moment; and for longer
    (`GIVE_WAY_S`) if during the slice it was kept waiting, that is if its wall time exceeded
    its own CPU time: then the window (or another thread) wanted the lock. With the lock
    handed to and fro every 0.5 ms (the switch interval), the window's work took twice as long
    beside such a pass: at 100,000 examples, "Accept all" of 5,000 candidates while the
    Generate dialog learnt the dataset's texts stalled it 118–185 ms, its undo 172–287 ms."""

    def __init__(self) -> None:
        self._wall, self._cpu = time.perf_counter(), time.thread_time()
        # (on the window's own thread, a pause would only stall it)
        self._paced = threading.current_thread() is not threading.main_thread()

    def pause(self) -> None:
        if not (_window and self._paced):
            return
        kept_waiting = (time.perf_counter() - self._wall) - (time.thread_time() - self._cpu)
        time.sleep(GIVE_WAY_S if kept_waiting > KEPT_WAITING_S else RELEASE_PAUSE_S)
        self._wall, self._cpu = time.perf_counter(), time.thread_time()


def release(items: list[Any] | dict[Any, Any]) -> None:
    """Empty a large list (or dict) a slice at a time, in a worker thread. What only it holds
    is freed slice by slice, paced (`Pacer`): dropping 100,000 examples read in a worker freed
    ~1 million objects in one go, holding the lock ~0.1 s beside the window. Without the
    pause, the lock went to the window only when it had waited 5 ms (`sys.getswitchinterval`),
    at each of a paint's calls into Python: freeing a 100,000-row sheet sync's rows in slices
    of 2,048 still stalled it ~190 ms, ~70 ms now. The pauses add ~0.1 s to freeing 100,000
    rows, in that thread."""
    pacer = Pacer()
    if isinstance(items, dict):
        while items:
            for _ in range(min(RELEASE_SLICE, len(items))):
                items.popitem()
            pacer.pause()
        return
    while items:
        del items[-RELEASE_SLICE:]
        pacer.pause()


PAUSE_EVERY = 128  # items of a long pass in a worker thread between two pauses


def with_pauses(items: Iterable[T], every: int = PAUSE_EVERY) -> Iterator[T]:
    """`items`, paced (`Pacer`): a pause after every `every` of them. A pass of Python over
    100,000 examples in a worker thread (seconds) otherwise keeps the window's every call into
    Python waiting its turn for the lock. At 100,000 examples, undoing an "Accept all" of 5,000
    candidates while the Generate dialog learnt the dataset's texts stalled the window ~0.7 s;
    a pin in the voice check's questions while the chat's index was built, 1.1–1.3 s (148 ms
    with only the 0.5 ms switch interval, 80–84 ms with pauses)."""
    pacer = Pacer()
    for n, item in enumerate(items, 1):
        yield item
        if not n % every:
            pacer.pause()
