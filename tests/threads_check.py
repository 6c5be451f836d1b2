"""Whether PySide's lazy names are made off the main thread. PySide makes its types and enums
lazily, and not safely from two threads: a thread that made one while the window made another
crashed the app (CONTRIBUTING, "No PySide name in a thread"). `install` notes each of PySide's
enums made off the main thread (made through the enum module's functional API, naming no
module: pyarrow's, made so as pandas loads in an import's thread, name theirs) and each first
import of a module of Qt's or of the window's (whose imports make PySide's types) there.

The test session installs it (`conftest.py`: each test fails that made one); a launched app's
start installs it too (`tests/gui/test_startup.py`), where first imports happen as they do for
a creator."""

from __future__ import annotations

import enum
import sys
import threading
from typing import Any

MADE: list[str] = []  # what was made off the main thread, and in which thread
QT_MODULES = ("PySide6", "shiboken6", "qasync", "pyqtgraph", "persona_studio.gui")
_create_enum = enum.EnumType._create_


def _in_a_thread(what: str) -> None:
    if threading.current_thread() is not threading.main_thread():
        MADE.append(f"{what} in {threading.current_thread().name}")


def _enum_made(cls: Any, name: str, *args: Any, **kwargs: Any) -> Any:
    made = _create_enum(cls, name, *args, **kwargs)
    if made.__module__ == "enum" or made.__module__.startswith(QT_MODULES):
        _in_a_thread(f"enum {name}")
    return made


class _QtImportWatch:
    """A finder that finds nothing: it notes a Qt or window module's first import."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name.startswith(QT_MODULES):
            _in_a_thread(f"import {name}")


def install() -> None:
    if enum.EnumType._create_ is not _enum_made:
        enum.EnumType._create_ = _enum_made
        sys.meta_path.insert(0, _QtImportWatch())
