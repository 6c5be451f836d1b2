"""A read-only project's window: everything can be read, searched, chatted with and exported;
nothing offers an edit. The session refuses writes too (`ProjectReadOnlyError`), so an edit a
widget still let through is said to be unsaved, never shown as saved.

`make_read_only` turns a built tab into a view: text fields read-only, choices disabled, buttons
that change things hidden, grids not editable, their menus and shortcuts off. A widget with the
`LIVE` property set (a search box, a filter) stays as it is."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSlider,
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QLineEdit,
    QPlainTextEdit,
    QRadioButton,
    QScrollBar,
    QTabBar,
    QTextEdit,
    QWidget,
)

LIVE = "live_when_read_only"  # a widget that only reads (search, filters): left as it is

BANNER = (
    "Read-only: “{name}” is in a file or folder that cannot be written. You can read it, search "
    "it, chat with it and export it; nothing you do here is saved (chats included). To change "
    "it, save a copy somewhere you can write and open the copy."
)


def live(widget: QWidget) -> QWidget:
    """Mark `widget` as one that only reads: a read-only window leaves it working."""
    widget.setProperty(LIVE, True)
    return widget


def _is_live(widget: QWidget) -> bool:
    current: QWidget | None = widget
    while current is not None:
        if current.property(LIVE):
            return True
        current = current.parentWidget()
    return False


def make_read_only(root: QWidget) -> None:
    """Turn `root` and everything in it into a view (idempotent: safe to call again after
    widgets were added)."""
    for widget in [root, *root.findChildren(QWidget)]:
        if _is_live(widget):
            continue
        if isinstance(widget, QLineEdit | QPlainTextEdit | QTextEdit | QAbstractSpinBox):
            widget.setReadOnly(True)
        elif isinstance(widget, QCheckBox | QRadioButton | QComboBox):
            widget.setEnabled(False)
        elif isinstance(widget, QAbstractButton):
            if not isinstance(widget.parentWidget(), QTabBar):  # a tab bar's scroll arrows
                widget.hide()
        elif isinstance(widget, QAbstractSlider) and not isinstance(widget, QScrollBar):
            widget.setEnabled(False)
        elif isinstance(widget, QAbstractItemView):
            widget.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
            widget.setDragDropMode(QAbstractItemView.DragDropMode.NoDragDrop)
            widget.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
        widget.setAcceptDrops(False)
    for action in root.findChildren(QAction):
        action.setEnabled(False)
