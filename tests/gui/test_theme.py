"""Dark mode: when the OS asks for it and the style did not follow, the app still turns dark,
and our own colours switch to their readable dark variants."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from persona_studio.core.demo import ensure_demo_project
from persona_studio.gui import theme
from persona_studio.gui.app import make_application
from persona_studio.gui.theme import follow_color_scheme


def test_dark_scheme_turns_the_app_and_our_colours_dark(make_window, context) -> None:
    follower = follow_color_scheme(make_application([]))
    assert not theme.is_dark()  # the offscreen platform starts light
    try:
        follower.apply(Qt.ColorScheme.Dark)
        assert theme.is_dark() and QApplication.style().name().lower() == "fusion"
        assert theme.color("danger") == theme.DARK["danger"]
        window = make_window()
        window.open_project(ensure_demo_project(context.data_folder))
        window.tabs.setCurrentIndex(3)
        pane = window.chat_tab.panes[0]
        assert theme.DARK["muted"] in pane.transcript.toHtml()  # the greeting
        window.tabs.setCurrentIndex(2)
        assert theme.DARK["notice_bg"] in window.train_tab.deadline.styleSheet()
    finally:
        follower.apply(Qt.ColorScheme.Light)
    assert not theme.is_dark() and theme.color("danger") == theme.LIGHT["danger"]
    assert not follower.forced


def test_our_colours_are_filled_in_again_only_when_dark_and_light_swap(
    make_window, context, monkeypatch
) -> None:
    """Each start asks the OS for its scheme once, after the first paint: filling every
    widget's colours in again then (157 widgets, ~9 ms) was for nothing unless dark and light
    swapped."""
    follower = follow_color_scheme(make_application([]))
    window = make_window()
    window.open_project(ensure_demo_project(context.data_folder))
    window.tabs.setCurrentIndex(2)
    deadline = window.train_tab.deadline  # made light, before any change
    calls: list[int] = []
    real = theme.restyle_all
    monkeypatch.setattr(theme, "restyle_all", lambda: calls.append(1) or real())
    follower.apply(Qt.ColorScheme.Light)  # as at a start
    assert calls == [] and theme.LIGHT["notice_bg"] in deadline.styleSheet()
    try:
        follower.apply(Qt.ColorScheme.Dark)
        assert calls == [1] and theme.DARK["notice_bg"] in deadline.styleSheet()
        follower.apply(Qt.ColorScheme.Dark)
        assert calls == [1]
    finally:
        follower.apply(Qt.ColorScheme.Light)
    assert calls == [1, 1] and theme.LIGHT["notice_bg"] in deadline.styleSheet()


def test_light_scheme_leaves_a_light_style_alone() -> None:
    follower = follow_color_scheme(make_application([]))
    style = QApplication.style().name()
    follower.apply(Qt.ColorScheme.Light)
    assert QApplication.style().name() == style and not theme.is_dark()


def test_one_accent_for_selections_and_links(qapp) -> None:
    from PySide6.QtGui import QPalette

    from persona_studio.gui.theme import LIGHT, accented, icon

    palette = accented(QPalette())
    assert palette.color(QPalette.ColorRole.Highlight).name() == LIGHT["highlight"]
    assert palette.color(QPalette.ColorRole.Link).name() == LIGHT["accent"]
    for name in ("open", "play", "stop", "save", "send"):
        assert not icon(name).isNull(), name
