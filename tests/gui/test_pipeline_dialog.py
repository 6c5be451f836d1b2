"""Run pipeline from the window: the steps drawn live, stop and resume, then chat with it."""

from __future__ import annotations

import pytest
import shiboken6

from persona_studio.core.demo import ensure_demo_project
from persona_studio.core.project import Project
from tests.conftest import wait_until
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.sheets_server import FakeSheets
from tests.gui.conftest import add_provider

MODEL = "gpt-4.1-mini-2025-04-14"
KEY = "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"


@pytest.fixture
def server(context, keyring_backend):
    with FakeOpenAI(api_key="sk-ft", models=(MODEL,)) as fake:
        fake.total_steps = 3
        add_provider(
            context, keyring_backend, "gateway", fake, finetune_model=MODEL, chat_model=MODEL
        )
        yield fake


@pytest.fixture
def sheets(context) -> FakeSheets:
    fake = FakeSheets()
    fake.add_spreadsheet(KEY, {"Data": [["question", "answer"], ["From the sheet?", "Yes."]]})

    async def client():
        return fake.http()

    context.sheets_client = client
    context.config.google.auth = "service_account"
    return fake


def _dialog(make_window, context, tmp_path, *, accept_warnings: bool = True):
    path = ensure_demo_project(context.data_folder)
    with Project.open(path) as project:
        project.set_sync_value("sheet", {"key": KEY, "worksheet": "Data"})
    window = make_window()
    window.open_project(path)
    window.tabs.setCurrentIndex(2)
    tab = window.train_tab
    tab.profile.setCurrentIndex(tab.profile.findData("gateway"))
    tab.suffix.setText("rhea")
    window.session.jobs.poll = 0.01
    dialog = window.run_pipeline()
    dialog.folder.setText(str(tmp_path / "published"))
    if accept_warnings:  # the demo has one ("23 approved examples to train on: 50 to 100…")

        async def accept(lines: list[str]) -> bool:
            return True

        dialog.confirm_warnings = accept
    return window, dialog


def test_warnings_are_listed_and_confirmed_before_training(
    make_window, context, server, sheets, tmp_path, run_async, qtbot, counted_here
) -> None:
    _window, dialog = _dialog(make_window, context, tmp_path, accept_warnings=False)
    dialog.use_sheet.setChecked(False)
    dialog.start.click()
    run_async(wait_until(lambda: dialog.warnings_box is not None))
    box = dialog.warnings_box
    qtbot.waitUntil(box.isVisible)
    assert "50 to 100 usually give clearly better results" in box.text()
    assert "waiting for you" in dialog.run.step("validate").detail
    # checked in the check's worker process, as the tabs check: in a thread of the window,
    # a check of 100,000 examples held its interpreter lock for long stretches
    assert counted_here == []
    box.button(box.StandardButton.Cancel).click()
    run_async(wait_until(lambda: not dialog.running))
    assert dialog.run.status == "failed" and not server.jobs  # nothing was uploaded
    assert "look at the warnings" in dialog.summary.text()

    dialog.warnings_box = None
    dialog.resume.click()
    run_async(wait_until(lambda: dialog.warnings_box is not None))
    next(b for b in dialog.warnings_box.buttons() if b.text() == "Train anyway").click()
    run_async(wait_until(lambda: bool(server.jobs)))
    assert "1 warning accepted" in dialog.run.step("validate").detail
    dialog.cancel()
    run_async(wait_until(lambda: not dialog.running))


def _states(dialog) -> list[str]:
    return [dialog.steps.topLevelItem(i).text(1) for i in range(dialog.steps.topLevelItemCount())]


def test_stop_while_training_then_resume_and_chat(
    make_window, context, server, sheets, tmp_path, run_async, qtbot
) -> None:
    window, dialog = _dialog(make_window, context, tmp_path)
    qtbot.waitUntil(dialog.isVisible)
    assert (
        "gpt-4.1-mini" in dialog.settings_label.text() and "gateway" in dialog.settings_label.text()
    )
    assert dialog.use_sheet.isChecked() and dialog.use_sheet.isEnabled()
    assert dialog.start.text() == "Start" and not dialog.resume.isVisibleTo(dialog)

    dialog.start.click()
    run_async(
        wait_until(lambda: dialog.run is not None and dialog.run.step("wait").status == "running")
    )
    assert _states(dialog)[:5] == ["✔ Done"] * 5
    (job_id,) = server.jobs
    jobs = window.session.jobs
    assert jobs.following(job_id) and jobs.pollers() == 1  # one poller per job
    assert "1 taken from the sheet" in dialog.steps.topLevelItem(0).text(2)
    assert dialog.stop.isVisibleTo(dialog) and not dialog.start.isEnabled()
    assert not dialog.folder.isEnabled()  # the run's settings are fixed while it runs

    dialog.stop.click()
    run_async(wait_until(lambda: not dialog.running and dialog.run.status == "cancelled"))
    assert _states(dialog)[5] == "■ Stopped"
    assert "resume" in dialog.summary.text()
    assert dialog.resume.isVisibleTo(dialog) and dialog.start.text() == "Start over"
    assert server.jobs[job_id]["status"] != "cancelled"  # still going at the provider
    assert jobs.following(job_id) and jobs.pollers() == 1  # the window keeps an eye on it

    server.auto_advance = True
    dialog.folder.setText(str(tmp_path / "chosen"))  # a resume writes where the field says
    dialog.resume.click()
    run_async(wait_until(lambda: dialog.run.step("wait").status in ("running", "done")))
    assert jobs.pollers() <= 1  # the run follows the same poller
    run_async(
        wait_until(lambda: not dialog.running and dialog.run.status == "succeeded", timeout=20)
    )
    assert _states(dialog)[:8] == ["✔ Done"] * 8 and len(_states(dialog)) == 9
    assert len(server.jobs) == 1
    model = f"ft:{MODEL}:fake-org:rhea:abc123"
    assert window.session.persona.fine_tuned_model == model
    assert dialog.progress.value() == 100
    assert dialog.chart.isVisibleTo(dialog) and dialog.chart.points()[0] == 3  # the loss curve
    assert (tmp_path / "published" / "Coach Rhea train.jsonl").is_file()  # before the stop
    assert (tmp_path / "chosen" / "Coach Rhea plugin.json").is_file()  # after it
    assert dialog.show_files.isVisibleTo(dialog)
    assert window.train_tab.history.topLevelItem(0).text(3) == model  # the Train tab knows

    assert dialog.chat.isVisibleTo(dialog)
    dialog.chat.click()
    assert window.tabs.currentIndex() == 3
    first, second = window.chat_tab.panes[:2]
    assert (first.engine.currentData(), first.mode.currentData(), first.model.text()) == (
        "gateway",
        "finetuned",
        model,
    )
    assert (second.mode.currentData(), second.model.text()) == ("persona", MODEL)


def test_a_failure_is_shown_in_plain_words_and_reopening_offers_resume(
    make_window, context, server, sheets, tmp_path, run_async, qtbot
) -> None:
    window, dialog = _dialog(make_window, context, tmp_path)
    server.fail_next(401, "Incorrect API key provided", type_="invalid_request_error")
    dialog.start.click()
    run_async(wait_until(lambda: not dialog.running and dialog.run.status == "failed"))
    assert _states(dialog)[3] == "✖ Failed"
    assert "refused the API key" in dialog.summary.text()
    assert "Settings" in dialog.steps.topLevelItem(3).text(2)
    dialog.close()
    again = window.run_pipeline()
    assert again.run is not None and again.run.status == "failed"
    assert again.resume.isVisibleTo(again) and _states(again)[3] == "✖ Failed"
    assert again.folder.text() == str(tmp_path / "published")  # where a resume writes


def test_a_folder_typed_as_a_name_is_beside_the_project(
    make_window, context, server, sheets, tmp_path, run_async, monkeypatch
) -> None:
    """A name typed alone in the folder field went where the app was started from (a folder
    a creator never sees); it is beside the project, and the field says where."""
    started_in = tmp_path / "started-in"
    started_in.mkdir()
    monkeypatch.chdir(started_in)
    window, dialog = _dialog(make_window, context, tmp_path)
    dialog.folder.setText(" My exports ")
    server.fail_next(401, "Incorrect API key provided", type_="invalid_request_error")
    dialog.start.click()  # the files are written, then the upload fails
    run_async(wait_until(lambda: not dialog.running and dialog.run.status == "failed"))
    beside = window.session.project.path.parent / "My exports"
    assert dialog.folder.text() == str(beside) == dialog.run.options.out_dir
    assert (beside / "Coach Rhea train.jsonl").is_file() and not any(started_in.iterdir())


def test_closing_while_running_asks_first(
    make_window, context, server, sheets, tmp_path, run_async, qtbot
) -> None:
    _window, dialog = _dialog(make_window, context, tmp_path)
    qtbot.waitUntil(dialog.isVisible)
    dialog.start.click()
    run_async(wait_until(lambda: dialog.run.step("wait").status == "running"))
    dialog.reject()  # Escape
    assert dialog.isVisible()
    box = dialog.confirm_box
    qtbot.waitUntil(box.isVisible)
    next(b for b in box.buttons() if b.text() == "Stop and close").click()
    assert not dialog.isVisible()
    run_async(wait_until(lambda: dialog.run.status == "cancelled"))
    run_async(wait_until(lambda: not shiboken6.isValid(dialog)))  # deleted once idle


def test_close_and_escape_close_an_idle_pipeline(
    make_window, context, server, sheets, tmp_path, qtbot
) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QPushButton

    _window, dialog = _dialog(make_window, context, tmp_path)
    qtbot.waitUntil(dialog.isVisible)
    qtbot.mouseClick(dialog.findChild(QPushButton, "pipeline_close"), Qt.MouseButton.LeftButton)
    assert not dialog.isVisible()
    again = _window.run_pipeline()
    qtbot.waitUntil(again.isVisible)
    qtbot.keyClick(again, Qt.Key.Key_Escape)
    assert not again.isVisible()
