"""The Qt skin: widgets that await services and show core objects through models."""

from __future__ import annotations

import os
import sys

import PySide6  # noqa: F401 - its import hook comes with it


def _spare_pyside_reading_sources() -> None:
    """Once loaded, PySide reads the source of each module an `import` statement names (once a
    module), looking for "PySide6": a module that names it may choose `__feature__`s (snake
    case, true properties), one that does not is left out of that switching. This app chooses
    none (a test), so either answer means the same; telling PySide them first spares ~50
    reads before the first paint (~5 ms) and ~20 more as the tabs load. The dict is PySide's
    own (`shibokensupport.feature`, where its `set_selection` writes); if a later PySide
    keeps none, nothing is done and it reads, as before."""
    known = getattr(sys.modules.get("shibokensupport.feature"), "pyside_feature_dict", None)
    if not isinstance(known, dict):
        return
    package = os.path.dirname(os.path.dirname(__file__))
    for folder, folders, files in os.walk(package):
        folders[:] = [name for name in folders if not name.startswith(("_", "."))]
        within = os.path.relpath(folder, os.path.dirname(package)).replace(os.sep, ".")
        answer = 0 if within.startswith(__name__) else -1  # only the Qt skin names PySide
        for file in files:
            if file.endswith(".py"):
                known.setdefault(
                    within if file == "__init__.py" else f"{within}.{file[:-3]}", answer
                )
    for name in list(sys.modules):  # loaded before PySide: Python's own, the core's
        known.setdefault(name, -1)  # -1: "ignore this module", PySide's answer for these


_spare_pyside_reading_sources()
