"""Linking and syncing a Google Sheet from the window (real gspread, fake Sheets API)."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QLabel, QMessageBox, QPlainTextEdit, QPushButton

from persona_studio.core.demo import ensure_demo_project
from persona_studio.gui.dialogs.settings_dialog import SettingsDialog
from persona_studio.gui.dialogs.sheet_dialogs import ConflictDialog
from tests.conftest import wait_until
from tests.fakes.sheets_server import FakeSheets

KEY = "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"


@pytest.fixture
def fake(context) -> FakeSheets:
    sheets = FakeSheets()
    sheets.add_spreadsheet(KEY, {"Data": [["question", "answer"], ["From the sheet?", "Yes."]]})

    async def client():
        return sheets.http()

    context.sheets_client = client
    context.config.google.auth = "service_account"
    context.config.google.account_email = "bot@proj.iam.gserviceaccount.com"
    return sheets


def _window(make_window, context):
    window = make_window()
    window.open_project(ensure_demo_project(context.data_folder))
    return window


def test_link_and_sync_from_the_window(make_window, context, fake, qtbot, run_async) -> None:
    window = _window(make_window, context)
    assert window.sheet_label.text() == ""
    assert not window.sync_action.isEnabled() and not window.conflicts_action.isEnabled()
    dialog = window.link_sheet()
    qtbot.waitUntil(dialog.isVisible)
    assert "bot@proj.iam.gserviceaccount.com" in dialog.findChildren(QLabel)[0].text()
    assert not dialog.guide.isVisible()  # set up already: the guide is one click away
    dialog.address.setText(f"https://docs.google.com/spreadsheets/d/{KEY}/edit#gid=0")
    dialog.worksheet.setText("Data")
    dialog.accept()
    run_async(wait_until(lambda: window.sheet_label.text().startswith("Sheet: synced")))
    assert window.sync_action.isEnabled() and not window.conflicts_action.isEnabled()
    assert window.session.examples[-1].question == "From the sheet?"
    assert window.session.examples[-1].status == "approved"  # the creator's own sheet trains
    assert window.session.project.sync_value("sheet")["new_rows"] == "approved"
    assert len([r for r in fake.rows(KEY, "Data")[1:] if any(r)]) == 31
    window.session.replace_example_contents([_edited(window.session.examples[0])])
    assert window.sheet_label.text() == "Sheet: local changes to sync"
    window.sync_sheet()
    run_async(wait_until(lambda: window.sheet_label.text().startswith("Sheet: synced")))
    assert any("Edited here." in r for r in fake.rows(KEY, "Data"))


def test_the_sync_writes_the_file_in_a_worker_thread(make_window, context, fake, run_async) -> None:
    """Issue 21: a sync's snapshot holds every row's text (~60 MB of JSON at 100,000 examples):
    writing it stalled the window 1.1 s. The file is written in a worker thread; the rows taken
    from the sheet are in the window's examples afterwards, as before."""
    import threading

    window = _window(make_window, context)
    project = window.session.project
    writers: list[str] = []
    write = project.apply_sync

    def recorded(*args, **kwargs):
        writers.append(threading.current_thread().name)
        return write(*args, **kwargs)

    project.apply_sync = recorded
    window.sync_sheet({"key": KEY, "worksheet": "Data"})
    run_async(wait_until(lambda: window.sheet_label.text().startswith("Sheet: synced")))
    assert writers and threading.main_thread().name not in writers
    assert window.session.examples[-1].question == "From the sheet?"
    assert project.example(window.session.examples[-1].id) is not None
    assert len(project.sync_snapshot()) == 31


def _edited(example):
    import copy

    changed = copy.deepcopy(example)
    changed.messages[1]["content"] = "Edited here."
    return changed


def _conflict(make_window, context, fake, run_async):
    """A linked project whose first example was then changed differently on both sides."""
    window = _window(make_window, context)
    window.sync_sheet({"key": KEY, "worksheet": "Data"})
    run_async(wait_until(lambda: window.sheet_label.text().startswith("Sheet: synced")))
    first = window.session.examples[0]
    window.session.replace_example_contents([_edited(first)])
    row = next(r for r in fake.rows(KEY, "Data") if first.id in r)
    row[1] = "Edited in the sheet."
    window.sync_sheet()
    return window, first, row


def test_conflicts_are_shown_and_settled(make_window, context, fake, qtbot, run_async) -> None:
    window, first, row = _conflict(make_window, context, fake, run_async)
    run_async(wait_until(lambda: "conflict" in window.sheet_label.text()))
    dialog = window.findChild(ConflictDialog)
    qtbot.waitUntil(dialog.isVisible)
    mine = dialog.findChild(QPlainTextEdit, "mine_1").toPlainText()
    theirs = dialog.findChild(QPlainTextEdit, "theirs_1").toPlainText()
    assert "Edited here." in mine and "Edited in the sheet." in theirs
    dialog.findChild(QPushButton, "keep_theirs_1").click()
    dialog.reject()
    run_async(wait_until(lambda: window.sheet_label.text().startswith("Sheet: synced")))
    assert window.session.project.example(first.id).answer == "Edited in the sheet."
    assert row[1] == "Edited in the sheet."


def test_a_sync_error_is_explained(make_window, context, fake, qtbot, run_async) -> None:
    window = _window(make_window, context)
    fake.fail_next(403)
    window.sync_sheet({"key": KEY, "worksheet": "Data"})
    run_async(wait_until(lambda: "not synced" in window.sheet_label.text()))
    assert "Share the sheet with bot@proj" in window.sheet.last_error
    assert window.session.project.counts().examples == 30


def test_an_unexpected_sync_failure_is_said_and_the_next_sync_runs(
    make_window, context, fake, run_async, monkeypatch
) -> None:
    from persona_studio.gui import help as help_module
    from persona_studio.services import sheets

    window = _window(make_window, context)
    real = sheets.sync_project

    async def broken(*args, **kwargs):
        raise KeyError("values")  # a reply shape nobody expected

    monkeypatch.setattr(sheets, "sync_project", broken)
    window.sync_sheet({"key": KEY, "worksheet": "Data"})
    run_async(wait_until(lambda: "not synced" in window.sheet_label.text()))
    assert window.sheet_label.text() == "Sheet: not synced — something unexpected went wrong"
    said = window.findChild(QMessageBox, "error_message")  # the window's plain-words dialog
    assert said is not None and "(KeyError: 'values')" in said.text()
    assert "Report a Problem" in said.text()
    assert help_module.RECENT_ERRORS[-1][1] == "Sheet not synced"  # kept for the report
    said.close()
    monkeypatch.setattr(sheets, "sync_project", real)
    window.sync_sheet({"key": KEY, "worksheet": "Data"})  # not stuck: the next one runs
    run_async(wait_until(lambda: window.sheet_label.text().startswith("Sheet: synced")))


def test_link_creates_the_worksheet_and_schedules_automatic_syncs(
    make_window, context, fake, qtbot, run_async
) -> None:
    window = _window(make_window, context)
    dialog = window.link_sheet()
    dialog.address.setText(KEY)
    dialog.worksheet.setText("Persona data")
    dialog.every.setValue(5)
    dialog.accept()
    run_async(wait_until(lambda: window.sheet_label.text().startswith("Sheet: synced")))
    assert len(fake.rows(KEY, "Persona data")) == 31  # header + the demo's 30 examples
    assert window.sheet.timer.isActive() and window.sheet.timer.interval() == 5 * 60_000
    assert "create" not in window.sheet.link()  # a one-time choice, not stored

    path = window.session.project.path  # reopened: the link is shown and scheduled again
    window.session.close(force=True)
    window.session = None
    again = make_window()
    assert again._sheet is None
    again.open_project(path)
    assert again.sheet_label.text().startswith("Sheet: synced")
    assert again.sheet.timer.isActive() and again.sheet.timer.interval() == 5 * 60_000


def test_oauth_token_lives_in_the_keyring(
    context, keyring_backend, run_async, monkeypatch, isolated_home
) -> None:
    import json

    import gspread

    from persona_studio.gui.sheet_link import keyring_sheets_client
    from persona_studio.services.credentials import GOOGLE_OAUTH_CLIENT, GOOGLE_OAUTH_TOKEN

    seen = []

    class FakeClient:
        http_client = "http"

    def oauth_from_dict(credentials=None, authorized_user_info=None, **kwargs):
        seen.append(authorized_user_info)
        return FakeClient(), json.dumps({"token": "t", "refresh_token": "r-secret"})

    monkeypatch.setattr(gspread, "oauth_from_dict", oauth_from_dict)
    context.config.google.auth = "oauth"
    keyring_backend.secrets[("persona-studio", GOOGLE_OAUTH_CLIENT)] = json.dumps(
        {"installed": {"client_id": "abc"}}
    )
    make = keyring_sheets_client(context)
    assert run_async(make()) == "http"  # first time: the browser consent (flow) ran
    assert seen == [None]
    stored = keyring_backend.secrets[("persona-studio", GOOGLE_OAUTH_TOKEN)]
    assert json.loads(stored)["refresh_token"] == "r-secret"
    assert run_async(make()) == "http"  # then the saved token is used
    assert seen[1] == {"token": "t", "refresh_token": "r-secret"}
    for path in isolated_home.rglob("*"):  # never gspread's plain-text token file
        if path.is_file():
            assert b"r-secret" not in path.read_bytes(), path


def test_keep_mine_then_edit_opens_the_example(
    make_window, context, fake, qtbot, run_async
) -> None:
    window, first, row = _conflict(make_window, context, fake, run_async)
    run_async(wait_until(lambda: window.findChild(ConflictDialog) is not None))
    dialog = window.findChild(ConflictDialog)
    qtbot.waitUntil(dialog.isVisible)
    dialog.findChild(QPushButton, "edit_1").click()
    run_async(wait_until(lambda: window.sheet_label.text().startswith("Sheet: synced")))
    assert window.tabs.currentIndex() == 1
    assert window.dataset_tab._current_example().id == first.id
    assert row[1] == "Edited here."  # mine went to the sheet


def test_a_sheet_someone_else_fills_can_bring_its_rows_as_drafts(
    make_window, context, fake, qtbot, run_async
) -> None:
    window = _window(make_window, context)
    dialog = window.link_sheet()
    qtbot.waitUntil(dialog.isVisible)
    assert dialog.new_rows.currentData() == "approved"  # the default: the creator's own data
    dialog.new_rows.setCurrentIndex(dialog.new_rows.findData("draft"))
    dialog.address.setText(f"https://docs.google.com/spreadsheets/d/{KEY}/edit#gid=0")
    dialog.worksheet.setText("Data")
    dialog.accept()
    run_async(wait_until(lambda: window.sheet_label.text().startswith("Sheet: synced")))
    assert window.session.examples[-1].question == "From the sheet?"
    assert window.session.examples[-1].status == "draft"
    again = window.link_sheet()  # the choice is remembered with the link
    assert again.new_rows.currentData() == "draft"
    again.reject()


def test_without_a_google_account_the_link_dialog_guides_to_settings(
    make_window, context, qtbot
) -> None:
    from PySide6.QtWidgets import QDialogButtonBox

    window = _window(make_window, context)
    window.show()
    dialog = window.link_sheet()
    qtbot.waitUntil(dialog.isVisible)
    assert "Set up a Google account in Settings" in dialog.findChildren(QLabel)[0].text()
    assert dialog.guide.isVisible()
    for step in ("Google Sheets API", "Service account", "Desktop app", "Choose JSON file"):
        assert step in dialog.guide.text()
    ok = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok)
    assert not ok.isEnabled()
    dialog.open_settings.click()
    settings = window.findChild(SettingsDialog, "settings_dialog")
    qtbot.waitUntil(lambda: not dialog.isVisible())
    assert settings.tabs.currentWidget() is settings.google


def test_a_sync_changes_the_examples_in_memory_as_in_the_file(
    make_window, context, fake, run_async
) -> None:
    """A sync's rows land in the open examples as the file places them (changed ones in place,
    new ones last, deleted ones gone) without reading every example again; a sync that only
    changes rows is an edit to the views, not a new list."""
    window = _window(make_window, context)
    window.sync_sheet({"key": KEY, "worksheet": "Data"})
    run_async(wait_until(lambda: window.sheet_label.text().startswith("Sheet: synced")))
    session = window.session
    first, second = session.examples[0], session.examples[1]
    rows = fake.rows(KEY, "Data")
    next(r for r in rows if first.id in r)[1] = "Changed in the sheet."
    rows.remove(next(r for r in rows if second.id in r))
    rows.append(["Added in the sheet?", "Yes, there."] + [""] * (len(rows[0]) - 2))
    resets: list[int] = []
    edits: list[list[str]] = []
    session.examples_reset.connect(lambda: resets.append(1))
    session.examples_edited.connect(edits.append)
    reads: list[int] = []
    real = session.project.examples
    session.project.examples = lambda: reads.append(1) or real()  # type: ignore[method-assign]
    window.sync_sheet()
    run_async(wait_until(lambda: window.sheet_label.text().startswith("Sheet: synced")))
    assert reads == [] and resets == [1]  # rows came and went: one new list, not a file read
    stored = real()
    assert [(e.id, e.question, e.answer) for e in session.examples] == [
        (e.id, e.question, e.answer) for e in stored
    ]
    assert session.examples[0].answer == "Changed in the sheet." and second.id not in {
        e.id for e in session.examples
    }
    assert session.examples[-1].question == "Added in the sheet?"
    assert session._positions == session.project.example_positions()

    next(r for r in rows if first.id in r)[1] = "Changed again."
    before = session.examples
    window.sync_sheet()
    run_async(wait_until(lambda: edits and edits[-1] == [first.id]))
    assert resets == [1] and session.examples[0].answer == "Changed again." and reads == []
    # put in place as an edit is (in C): a new list (copy on write), and the ids and the
    # approved count kept for it are right
    assert session.examples is not before and before[0].answer == "Changed in the sheet."
    assert session.example_ids() == [e.id for e in session.examples]
    assert session.approved_count() == sum(e.status == "approved" for e in session.examples)
