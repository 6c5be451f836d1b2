"""Light and dark: follow the OS colour scheme, and name the few colours we add to Qt's palette.

Qt follows the OS scheme by itself where its platform style can (Windows 11, macOS, GNOME and
KDE with their platform themes). Where the OS says "dark" but the style kept a light palette
(a bare X11 session, a missing platform theme), we switch to Fusion, which draws dark. Our own
colours (errors, warnings, success, the notice banner) come from here in a light and a dark
variant, so text stays readable on either (GitHub Primer's values, chosen for contrast).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPalette
from PySide6.QtWidgets import QApplication, QWidget

if TYPE_CHECKING:
    from PySide6.QtCore import Qt

LIGHT = {
    "danger": "#cf222e",
    "success": "#1a7f37",
    "attention": "#9a6700",
    "muted": "#6e7781",
    "done": "#8250df",
    "accent": "#0969da",
    "validation": "#bf3989",
    "notice_bg": "#fff8c5",
    "notice_fg": "#4d2d00",
    "reply_bg": "#f3f5f8",  # the block a model's reply sits in, apart from the app's own text
    "highlight": "#0969da",  # the one accent: selections, focus, links (white text on it)
}
DARK = {
    "danger": "#ff7b72",
    "success": "#3fb950",
    "attention": "#d29922",
    "muted": "#8b949e",
    "done": "#a371f7",
    "accent": "#58a6ff",
    "validation": "#f778ba",
    "notice_bg": "#3b2300",
    "notice_fg": "#f2cc60",
    "reply_bg": "#1c2128",
    "highlight": "#1f6feb",
}


# every notice banner alike: the notice colours, padding on the 4 px grid, rounded corners
NOTICE_STYLE = "background: {notice_bg}; color: {notice_fg}; padding: 4px 8px; border-radius: 4px;"


def is_dark() -> bool:
    """Whether the window background is dark (whatever made it so)."""
    window = QGuiApplication.palette().color(QPalette.ColorRole.Window)
    return window.lightness() < 128


def color(name: str) -> str:
    return (DARK if is_dark() else LIGHT)[name]


def qcolor(name: str) -> QColor:
    return QColor(color(name))


def style(widget: QWidget, template: str) -> None:
    """Give `widget` a style sheet naming our colours ("color: {danger};"), kept in step with
    the scheme: `restyle_all` fills it in again when the scheme changes."""
    widget.setProperty("theme_style", template)
    widget.setStyleSheet(template.format(**(DARK if is_dark() else LIGHT)))


def restyle_all() -> None:
    colours = DARK if is_dark() else LIGHT
    for widget in QApplication.allWidgets():
        template = widget.property("theme_style")
        if template:
            widget.setStyleSheet(template.format(**colours))


def accented(palette: QPalette) -> QPalette:
    """One accent colour for selections and links, light or dark, on whatever style draws the
    rest (the native look stays; only its accent is ours, the same on every desktop)."""
    colours = DARK if is_dark() else LIGHT
    palette.setColor(QPalette.ColorRole.Highlight, QColor(colours["highlight"]))
    palette.setColor(QPalette.ColorRole.HighlightedText, QColor("#ffffff"))
    palette.setColor(QPalette.ColorRole.Link, QColor(colours["accent"]))
    return palette


def icon(name: str) -> QIcon:
    """A standard icon of the platform's style for a main action ("open", "play", "stop",
    "save", "send", "sync", "help", "add")."""
    from PySide6.QtWidgets import QStyle

    pixmaps = {
        "open": QStyle.StandardPixmap.SP_DialogOpenButton,
        "play": QStyle.StandardPixmap.SP_MediaPlay,
        "stop": QStyle.StandardPixmap.SP_MediaStop,
        "save": QStyle.StandardPixmap.SP_DialogSaveButton,
        "send": QStyle.StandardPixmap.SP_ArrowForward,
        "sync": QStyle.StandardPixmap.SP_BrowserReload,
        "help": QStyle.StandardPixmap.SP_DialogHelpButton,
        "add": QStyle.StandardPixmap.SP_FileIcon,
        "check": QStyle.StandardPixmap.SP_DialogApplyButton,
    }
    return QApplication.style().standardIcon(pixmaps[name])


def dark_palette() -> QPalette:
    palette = QPalette()
    roles = {
        QPalette.ColorRole.Window: "#1f2328",
        QPalette.ColorRole.WindowText: "#e6edf3",
        QPalette.ColorRole.Base: "#161b22",
        QPalette.ColorRole.AlternateBase: "#21262d",
        QPalette.ColorRole.Text: "#e6edf3",
        QPalette.ColorRole.Button: "#2d333b",
        QPalette.ColorRole.ButtonText: "#e6edf3",
        QPalette.ColorRole.BrightText: "#ffffff",
        QPalette.ColorRole.Highlight: "#1f6feb",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.ToolTipBase: "#2d333b",
        QPalette.ColorRole.ToolTipText: "#e6edf3",
        QPalette.ColorRole.PlaceholderText: "#8b949e",
        QPalette.ColorRole.Link: "#58a6ff",
        QPalette.ColorRole.Mid: "#484f58",
        QPalette.ColorRole.Dark: "#0d1117",
        QPalette.ColorRole.Light: "#484f58",
    }
    for role, value in roles.items():
        palette.setColor(role, QColor(value))
    for role in (
        QPalette.ColorRole.WindowText,
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
    ):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6e7681"))
    return palette


class ColorSchemeFollower:
    """Keeps the app's palette in step with the OS scheme (also when it changes later).

    Made right after the first paint: asking Qt for the scheme builds PySide's whole `Qt` enum
    namespace (12 ms). Where Qt's own style follows the OS (most desktops), the first frame is
    already right; only the Fusion fallback comes a frame later."""

    def __init__(self, app: QApplication) -> None:
        self.app = app
        self.original_style = app.style().name()
        self.forced = False
        self.styled_dark = is_dark()  # what the widgets made so far filled their colours for
        app.styleHints().colorSchemeChanged.connect(self.apply)
        self.apply(app.styleHints().colorScheme())

    def apply(self, scheme: Qt.ColorScheme) -> None:
        from PySide6.QtCore import Qt

        wants_dark = scheme == Qt.ColorScheme.Dark
        if wants_dark and not is_dark():
            self.app.setStyle("Fusion")
            self.app.setPalette(dark_palette())
            self.forced = True
        elif not wants_dark and self.forced:
            if self.original_style:
                self.app.setStyle(self.original_style)
            self.app.setPalette(self.app.style().standardPalette())
            self.forced = False
        self.app.setPalette(accented(self.app.palette()))
        if (dark := is_dark()) != self.styled_dark:  # (at every start the same: ~9 ms)
            restyle_all()  # our colours; rich text re-renders on its widget's PaletteChange
            self.styled_dark = dark


def follow_color_scheme(app: QApplication) -> ColorSchemeFollower:
    """The app's follower (made once)."""
    if not hasattr(app, "color_scheme"):
        app.color_scheme = ColorSchemeFollower(app)  # type: ignore[attr-defined]
    return app.color_scheme  # type: ignore[attr-defined]
