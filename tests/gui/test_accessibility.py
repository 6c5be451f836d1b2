"""Screen readers: every control a user can reach has a name (its own, or from its label)."""

from __future__ import annotations

from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSlider,
    QAbstractSpinBox,
    QComboBox,
    QHeaderView,
    QLineEdit,
    QPlainTextEdit,
    QScrollBar,
    QTabBar,
    QTextEdit,
    QWidget,
)

from persona_studio.core.demo import ensure_demo_project

CONTROLS = (
    QAbstractButton,
    QLineEdit,
    QTextEdit,
    QPlainTextEdit,
    QComboBox,
    QAbstractSpinBox,
    QAbstractItemView,
    QAbstractSlider,
)


def _qt_internal(widget: QWidget) -> bool:
    """Parts Qt builds and names itself: scroll bars, headers, a combo box's popup list, the
    tab bar's scroll arrows, a line edit's clear button."""
    if isinstance(widget, QScrollBar | QHeaderView) or widget.objectName().startswith("qt_"):
        return True
    if isinstance(widget.parent(), QTabBar | QLineEdit | QAbstractSpinBox):
        return True
    parent = widget.parent()
    while parent is not None:
        if isinstance(parent, QComboBox):
            return True
        parent = parent.parent()
    return False


def unnamed(top: QWidget) -> list[str]:
    missing = []
    for widget in top.findChildren(QWidget):
        if not isinstance(widget, CONTROLS) or _qt_internal(widget):
            continue
        interface = QAccessible.queryAccessibleInterface(widget)
        if not (interface and interface.text(QAccessible.Text.Name).strip()):
            missing.append(f"{type(widget).__name__} {widget.objectName()!r}")
    return missing


def test_every_control_has_an_accessible_name(make_window, context, qtbot) -> None:
    window = make_window()
    window.open_project(ensure_demo_project(context.data_folder))
    window.show()
    for index in range(window.tabs.count()):
        window.tabs.setCurrentIndex(index)
    window.persona_tab.side_tabs.setCurrentIndex(1)  # the rules editor
    window.dataset_tab.table.selectRow(0)  # the conversation panel
    dialogs = [
        window.open_settings(),
        window.run_pipeline(),
        window.link_sheet(),
        window.generate_examples(),
    ]
    checked = sum(len(top.findChildren(QWidget)) for top in [window, *dialogs])
    assert checked > 300  # the walk really covers the window
    for top in [window, *dialogs]:
        assert unnamed(top) == [], type(top).__name__
