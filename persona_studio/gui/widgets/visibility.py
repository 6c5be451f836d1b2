"""Whether a widget is on its window's current page (its tab is the current one), asked without
reaching for the window itself."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget


def shown_in_window(widget: QWidget) -> bool:
    """True when no ancestor below the window hides it (the window itself may not be shown
    yet: a tab is still "the one on screen" then)."""
    current: QWidget | None = widget
    while current is not None and not current.isWindow():
        if current.isHidden():
            return False
        current = current.parentWidget()
    return True
