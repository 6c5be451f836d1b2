"""The Help menu: the guide with its pictures, shortcuts, where files are, a problem report
that helps and holds no secret."""

from __future__ import annotations

import logging
import re
from collections import deque

from PySide6.QtGui import QGuiApplication, QTextDocument
from PySide6.QtWidgets import QLabel, QMessageBox, QPushButton

from persona_studio import __version__
from persona_studio.core import app_log
from persona_studio.core.demo import ensure_demo_project
from persona_studio.core.errors import UserFacingError
from persona_studio.gui.dialogs.messages import show_error
from persona_studio.resources_path import resource_path
from tests.conftest import file_taken
from tests.fakes.openai_server import FakeOpenAI
from tests.gui.conftest import add_provider


def test_the_guide_follows_the_steps_and_shows_its_pictures(make_window, context) -> None:
    window = make_window()
    window.open_project(ensure_demo_project(context.data_folder))
    dialog = window.show_guide()
    text = dialog.browser.toPlainText()
    for step in ("1. Describe your character", "5. Train a model", "7. Publish it"):
        assert step in text
    guide = resource_path("guide/guide.md").read_text(encoding="utf-8")
    pictures = re.findall(r"!\[[^]]*\]\(([^)]+)\)", guide)
    assert pictures
    for picture in pictures:  # shipped with the app and loaded from there only
        assert resource_path(f"guide/{picture}").is_file(), picture
        kind = QTextDocument.ResourceType.ImageResource
        image = dialog.browser.document().resource(kind, picture)
        assert image is not None and not image.isNull(), picture


def test_shortcuts_and_where_files_are(make_window, context) -> None:
    window = make_window()
    window.open_project(ensure_demo_project(context.data_folder))
    shortcuts = window.show_shortcuts()
    assert "Ctrl+Enter" in shortcuts.text() and "Approve the selected rows" in shortcuts.text()
    files = window.show_files()
    assert files.buttons[0].isEnabled()  # the project's folder exists
    texts = [label.text() for label in files.findChildren(QLabel)]
    assert any(str(window.session.project.path) in t for t in texts)
    assert any("password store" in t for t in texts)


def test_report_a_problem_copies_versions_and_errors_never_a_key(
    make_window, context, keyring_backend, monkeypatch
) -> None:
    window = make_window()
    window.open_project(ensure_demo_project(context.data_folder))
    with FakeOpenAI(api_key="sk-very-secret-123") as server:
        add_provider(context, keyring_backend, "together-work", server)
    show_error(window, "Could not sync", UserFacingError("The sheet is gone.", "Link it again."))
    monkeypatch.setattr(app_log.recent, "lines", deque(maxlen=app_log.RECENT_AT_MOST))
    # (and not among the records kept for a log file opened later: a later test's file had it)
    monkeypatch.setattr(app_log.recent, "early", [])
    box = window.report_problem()
    assert "Warnings this session: none" in box.detailedText()
    logging.getLogger().addHandler(app_log.recent)
    try:
        logging.getLogger("persona_studio.services.check_process").warning(
            "the check's worker process stopped (exit code -9); a new one starts"
        )
    finally:
        logging.getLogger().removeHandler(app_log.recent)
    examples = len(window.session.examples)  # (read, as the Dataset tab reads them)
    with file_taken(window.session.project):  # (an export's read, say: the report never waits)
        box = window.report_problem()
    copied = QGuiApplication.clipboard().text()
    assert f", {examples} examples, 0 training jobs" in copied
    assert isinstance(box, QMessageBox) and box.detailedText() == copied
    assert f"Persona Studio {__version__}" in copied and "Python" in copied
    assert "Could not sync: The sheet is gone. Link it again." in copied
    assert re.search(
        r"Warnings this session:\n  \d\d:\d\d:\d\d WARNING persona_studio.services.check_process: "
        r"the check's worker process stopped \(exit code -9\)",
        copied,
    )
    assert "openai-compatible" in copied  # the kinds of profile, not their keys
    assert "sk-very-secret-123" not in copied and "Coach Rhea" not in copied.split("Project")[0]


def test_after_a_hard_crash_the_notice_and_the_report_say_what_happened(
    make_window, context, monkeypatch
) -> None:
    from persona_studio.core import crash_log
    from persona_studio.gui.help import crash_notice

    window = make_window()
    window.open_project(ensure_demo_project(context.data_folder))
    crash = crash_log.Crash("2026-12-07 06:20:01", 'Fatal Python error: Aborted\n  File "…/x.py"')
    monkeypatch.setattr(crash_log, "previous", crash)
    box = crash_notice(window, crash)
    assert box.isVisible() and not box.isModal()  # the window is usable behind it
    assert "closed unexpectedly" in box.text() and "Report a Problem" in box.informativeText()
    assert box.detailedText() == crash.stack
    box.findChild(QPushButton, "crash_copy_report").click()
    assert not box.isVisible()
    copied = QGuiApplication.clipboard().text()
    assert "closed unexpectedly (started 2026-12-07 06:20:01)" in copied
    assert '  File "…/x.py"' in copied
