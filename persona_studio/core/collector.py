"""The cyclic garbage collector, paused while many objects without cycles are made (examples
loaded from the file, a check's report read back): it can only waste time on them, and each of
its full passes holds the interpreter lock beside the window."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

FREEZE_FROM = 5_000  # examples: from here a load's objects are frozen out of the collector's sight
# (from 20,000 before: at 6,000 the first Dataset tab stalled 170–260 ms, 36–45 ms since)
_pauses = 0  # loads under way (they may overlap, in two threads)
_enabled_before = False  # the collector's state before the first of them
_pauses_lock = threading.Lock()


@contextmanager
def collector_paused(*, freeze: bool = False) -> Iterator[None]:
    """No cyclic garbage collection while many objects are made, then those objects frozen out
    of its sight. Examples hold no cycles, so the collector can only waste time on them: while
    100,000 of them load it ran full passes that took a quarter to a third of the load (1.30 →
    0.81–1.06 s), each pass holding the interpreter lock beside the window. With `freeze`, every
    object alive then is moved out of the collector's sight (a later full pass would otherwise
    walk them all again): they are still freed when no longer used (reference counting), and
    the app freezes its start-up objects the same way."""
    global _pauses, _enabled_before
    with _pauses_lock:
        if not _pauses:
            _enabled_before = gc.isenabled()
        _pauses += 1
        gc.disable()
    try:
        yield
    finally:
        with _pauses_lock:
            _pauses -= 1
            if freeze:
                gc.freeze()
            if not _pauses and _enabled_before:
                gc.enable()


RELEASE_SLICE = 2_048  # items freed at a time by `release`


def release(items: list[Any] | dict[Any, Any]) -> None:
    """Empty a large list (or dict) a slice at a time. What only it holds is freed slice by
    slice, and the interpreter can hand its lock to the window between two slices: dropping
    100,000 examples read in a worker freed ~1 million objects in one go, holding the lock for
    about 0.1 s beside the window."""
    if isinstance(items, dict):
        while items:
            for _ in range(min(RELEASE_SLICE, len(items))):
                items.popitem()
        return
    while items:
        del items[-RELEASE_SLICE:]
