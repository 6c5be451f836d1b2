"""The Help menu's pages: the user guide, keyboard shortcuts, where files live, and the
problem report a creator can paste into an e-mail (versions and recent errors; no secrets)."""

from __future__ import annotations

import logging
import platform
import sys
from collections import deque
from datetime import datetime
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from persona_studio import APP_NAME, __version__
from persona_studio.core import app_log, crash_log
from persona_studio.resources_path import resource_path

if TYPE_CHECKING:
    from persona_studio.gui.main_window import MainWindow

log = logging.getLogger("persona_studio")
# what went wrong lately, for "Report a problem": (time, title, message and hint)
RECENT_ERRORS: deque[tuple[str, str, str]] = deque(maxlen=5)
WEB_SCHEMES = ("http", "https")


def remember_error(title: str, text: str) -> None:
    RECENT_ERRORS.append((datetime.now().strftime("%H:%M:%S"), title, text))


def report_text(window: MainWindow) -> str:
    """Versions, system, the recent errors and the session's last warnings: what helps
    whoever reads a problem report. Never a key, a token or the project's content (only its
    file name and size; a warning's line: `app_log.one_line`)."""
    from PySide6 import __version__ as pyside_version
    from PySide6.QtCore import qVersion

    lines = [
        f"{APP_NAME} {__version__}",
        f"System: {platform.platform()} ({platform.machine()})",
        f"Python {platform.python_version()}, Qt {qVersion()}, PySide6 {pyside_version}",
        "Frozen app" if getattr(sys, "frozen", False) else "Installed with pip",
    ]
    kinds = sorted({p.kind for p in window.context.config.profiles})
    lines.append(f"Provider profiles: {', '.join(kinds) if kinds else 'none'}")
    session = window.session
    if session is not None:  # never waiting for a worker that has the file (an export's read)
        with session.project.held(wait=False) as free:  # (counted there unless loaded)
            examples = session.example_counts()[0] if free or session.examples_loaded else None
        lines.append(
            f"Project: {session.project.path.name}, "
            + (f"{examples:,} examples, " if examples is not None else "")
            + f"{len(session.project.jobs())} training jobs"
        )
    lines.append("Recent errors:" if RECENT_ERRORS else "Recent errors: none")
    lines += [f"  {at} {title}: {text}" for at, title, text in RECENT_ERRORS]
    warnings = list(app_log.recent.lines)  # (the log file has more: Help → Where Are My Files)
    lines.append("Warnings this session:" if warnings else "Warnings this session: none")
    lines += [f"  {line}" for line in warnings]
    crash = crash_log.previous
    if crash is not None:
        lines.append(f"The session before this one closed unexpectedly (started {crash.started}):")
        lines += [f"  {line}" for line in crash.stack.splitlines()]
    return "\n".join(lines)


def crash_notice(window: MainWindow, crash: crash_log.Crash) -> QMessageBox:
    """Said at the start after a hard crash (`core.crash_log`): what was kept, and how to tell
    us. Not modal: the window is usable behind it."""
    box = QMessageBox(
        QMessageBox.Icon.Information,
        f"{APP_NAME} closed unexpectedly",
        f"{APP_NAME} closed unexpectedly last time. Sorry about that.",
        QMessageBox.StandardButton.Ok,
        window,
    )
    box.setObjectName("crash_notice")
    box.setInformativeText(
        "Every change the status bar called saved is in your project. What went wrong is kept "
        "for a problem report, with no key and none of your examples: copy it now, or later "
        "with Help → Report a Problem…, and paste it into a message to us."
    )
    box.setDetailedText(crash.stack)
    copy = box.addButton("Copy a Problem Report", QMessageBox.ButtonRole.ActionRole)
    copy.setObjectName("crash_copy_report")
    copy.clicked.connect(window.report_problem)
    box.setModal(False)
    box.show()
    return box


def copy_report(window: MainWindow) -> str:
    text = report_text(window)
    QGuiApplication.clipboard().setText(text)
    return text


class GuideDialog(QDialog):
    """The creator's guide, shipped with the app (Markdown with its pictures); web links open
    in the browser only when clicked."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, objectName="guide_dialog")
        self.setWindowTitle(f"{APP_NAME} guide")
        self.resize(820, 600)
        self.browser = QTextBrowser(objectName="guide_text")
        self.browser.setOpenLinks(False)
        self.browser.setSearchPaths([str(resource_path("guide"))])
        guide = resource_path("guide/guide.md").read_text(encoding="utf-8")
        self.browser.setMarkdown(guide)
        self.browser.anchorClicked.connect(self._open)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)

    def _open(self, url: QUrl) -> None:
        if url.scheme() in WEB_SCHEMES:
            QDesktopServices.openUrl(url)
        elif url.hasFragment():
            self.browser.scrollToAnchor(url.fragment())


SHORTCUTS = (
    ("Anywhere", "Ctrl+N", "New character"),
    ("Anywhere", "Ctrl+O", "Open a project"),
    ("Anywhere", "Ctrl+Alt+S", "Save a copy"),
    ("Anywhere", "Ctrl+Z / Ctrl+Shift+Z", "Undo / redo"),
    ("Anywhere", "Ctrl+Shift+S", "Sync with the Google Sheet"),
    ("Anywhere", "Ctrl+Shift+R", "Run the whole pipeline"),
    ("Dataset", "Ctrl+F", "Search the examples"),
    ("Dataset", "Enter / F2", "Edit a cell; Enter again saves it"),
    ("Dataset", "Shift+Enter", "A new line inside a cell"),
    ("Dataset", "Ctrl+Enter", "Approve the selected rows"),
    ("Dataset", "Ctrl+Shift+Enter", "Reject the selected rows"),
    ("Dataset", "Ctrl+D", "Duplicate the selected rows"),
    ("Dataset", "Ctrl+Up / Ctrl+Down", "Move an example up or down"),
    ("Dataset", "Delete", "Delete the selected rows"),
    ("Dataset", "Ctrl+C / Ctrl+V", "Copy or paste rows to or from a spreadsheet"),
    ("Chat", "Enter", "Send the message"),
    ("Chat", "Shift+Enter", "A new line in the message"),
)


def shortcuts_html() -> str:
    rows = "".join(
        f"<tr><td>{escape(where)}</td><td><b>{escape(keys)}</b></td><td>{escape(what)}</td></tr>"
        for where, keys, what in SHORTCUTS
    )
    note = "On a Mac, ⌘ stands for Ctrl." if sys.platform == "darwin" else ""
    return (
        f"<table cellspacing='0' cellpadding='4'><tr><th align='left'>Where</th>"
        f"<th align='left'>Keys</th><th align='left'>What</th></tr>{rows}</table><p>{note}</p>"
    )


class FilesDialog(QDialog):
    """Where a creator's things live, each with a button that shows it in the file manager."""

    def __init__(self, places: list[tuple[str, Path, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent, objectName="files_dialog")
        self.setWindowTitle("Where are my files?")
        grid = QGridLayout()
        self.buttons: list[QPushButton] = []
        for row, (title, path, about) in enumerate(places):
            label = QLabel(
                f"<b>{escape(title)}</b><br>{escape(about)}<br><code>{escape(str(path))}</code>",
                wordWrap=True,
            )
            label.setTextInteractionFlags(label.textInteractionFlags() | _selectable())
            show = QPushButton("Show", objectName=f"files_show_{row}")
            folder = path if path.is_dir() else path.parent
            show.setEnabled(folder.exists())
            show.clicked.connect(
                lambda _c=False, f=folder: QDesktopServices.openUrl(QUrl.fromLocalFile(str(f)))
            )
            grid.addWidget(label, row, 0)
            grid.addWidget(show, row, 1)
            self.buttons.append(show)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addWidget(buttons)


def _selectable() -> Any:
    from PySide6.QtCore import Qt

    return Qt.TextInteractionFlag.TextSelectableByMouse


def file_places(window: MainWindow) -> list[tuple[str, Path, str]]:
    from persona_studio.services.training.local import hub_cache

    places = []
    if window.session is not None:
        places.append(
            (
                "This character",
                window.session.project.path,
                "One file holds the persona, rules, examples, chats and training history. "
                "Copy it to back it up or move it to another computer.",
            )
        )
    places += [
        (
            "Settings",
            window.context.config_file,
            "Provider profiles and recent projects. Keys are not here: they stay in the "
            "system password store.",
        ),
        (
            "App data",
            window.context.data_folder,
            "The demo character, the models trained on this computer, and the app's log and "
            "crash record (persona-studio.log, crash.log) to send with a problem report.",
        ),
        (
            "Downloaded models",
            hub_cache(),
            "Open models downloaded to train on this computer (the Hugging Face cache, shared "
            "with other tools).",
        ),
    ]
    return places
