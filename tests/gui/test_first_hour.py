"""A creator's first hour, walked through the real window at 1366×768 with clicks: the welcome
and checklist, a new character from a template, a CSV import, approving, the check, a provider
profile, a blind side-by-side chat, and a card export.

Set FIRST_HOUR_SHOTS=FOLDER to keep a screenshot of each step (the README's come from a run
under Xvfb: `xvfb-run -s '-screen 0 1366x768x24' env QT_QPA_PLATFORM=xcb
FIRST_HOUR_SHOTS=docs/first-hour pytest tests/gui/test_first_hour.py`)."""

from __future__ import annotations

import faulthandler
import hashlib
import os
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMenu, QWidget
from pytestqt.exceptions import TimeoutError as WaitTimedOut

from persona_studio.gui.app import open_first_project
from persona_studio.gui.dialogs.settings_dialog import SettingsDialog
from persona_studio.gui.dialogs.template_dialog import TemplateDialog
from tests.conftest import wait_until
from tests.fakes.openai_server import FakeOpenAI

CSV = "question,answer\n" + "".join(
    f'"How do I open game {i}?","Start with the {name}: control the centre, develop your '
    f'pieces, castle early. Play it ten times before you learn a second one."\n'
    for i, name in enumerate(
        ["Italian", "London", "Ruy Lopez", "Queen's Gambit", "Caro-Kann", "Sicilian", "French",
         "Scandinavian", "English", "Slav", "Pirc", "Dutch", "King's Indian", "Grünfeld"]
    )
)  # fmt: skip


def _shooter(window: QWidget):
    folder = os.environ.get("FIRST_HOUR_SHOTS")

    def shoot(widget: QWidget | None, name: str) -> None:
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            (widget or window).grab().save(str(Path(folder) / f"{name}.png"))

    return shoot


def _why_not_checked(window: QWidget, since: float) -> str:
    """Where the readiness check stands, for a wait for its mark that timed out (it failed so
    three times in 40-odd full runs, never reproduced; the fourth time, this said why: the
    report said "too few", the imported rows' random ids having put 5 aside)."""
    from persona_studio.services import check_process

    runner, worker = window.session.started_preflight, check_process._shared
    lines = [f"waited {time.monotonic() - since:.1f} s for the check's mark"]
    if runner is None:
        lines.append("no readiness check started")
    else:
        report, task = runner.report, runner.task
        lines.append(
            f"check: running={runner.running} stale={runner.stale} "
            f"timer={runner._timer.isActive()} task={task!r} "
            f"report={None if report is None else [issue for _, issue in report.blocking]}"
        )
        lines.append(
            f"checklist: follows it={window._checklist_runner is runner} "
            f"refresh due={window._checklist_timer.isActive()}"
        )
    if worker is not None:
        process = worker._process
        lines.append(
            f"worker: pid={worker.pid} alive={process is not None and process.is_alive()} "
            f"busy={worker._lock.locked()} failures={worker.failures}"
        )
    with tempfile.TemporaryFile("w+") as threads:
        faulthandler.dump_traceback(threads, all_threads=True)
        threads.seek(0)
        stacks = threads.read().split("\n\n")
    lines += [stack for stack in stacks if "in run" not in stack.splitlines()[-1]]  # (idle)
    return "\n".join(lines)


def test_a_creators_first_hour(
    make_window, context, keyring_backend, tmp_path, qtbot, run_async, monkeypatch, counted_here
) -> None:
    # the imported rows' ids, fixed, so that every run keeps the same ones aside for the voice
    # check (with random ids, 5 or more of the 14 fell in its share in ~2 % of runs, leaving 9
    # to train on, and the check said "too few": the share now never leaves fewer than 10)
    from persona_studio.core.importers import tabular

    ids = [hashlib.md5(f"first hour {n}".encode()).hexdigest() for n in range(14)]
    monkeypatch.setattr(tabular, "new_ids", lambda count: ids[:count])
    window = make_window()
    open_first_project(window, None)
    window.resize(1366, 768)
    window.show()
    qtbot.waitExposed(window)
    shoot = _shooter(window)
    # 1. welcome on the demo, with the checklist
    qtbot.waitUntil(lambda: window._checklist_dock is not None and window.checklist.isVisible())
    panel = window.checklist
    assert "This is Coach Rhea, a sample character" in panel.welcome.text()
    shoot(None, "01-welcome")

    # 2. a new character from a template
    new_file = tmp_path / "Mia.persona"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(new_file), ""))
    qtbot.mouseClick(panel.make_own_button, Qt.MouseButton.LeftButton)
    templates = window.findChild(TemplateDialog)
    qtbot.waitUntil(templates.isVisible)
    qtbot.keyClicks(templates.name, "Mia")
    templates.list.setCurrentRow(0)
    shoot(templates, "02-template")
    templates.accept()
    assert window.session.project.path == new_file
    assert window.windowTitle().startswith("Mia — Mia.persona")
    qtbot.waitUntil(lambda: not panel.welcome.isVisible())
    description = window.persona_tab.findChild(QWidget, "persona_description")
    description.setFocus()
    qtbot.keyClicks(description, "A patient chess coach for adult beginners.")
    qtbot.waitUntil(lambda: panel.marks["describe"].accessibleName() == "done")
    shoot(None, "02-described")

    # 3. import a CSV from the checklist's "Add…"
    csv = tmp_path / "my answers.csv"
    csv.write_text(CSV, encoding="utf-8")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(csv), ""))
    qtbot.mouseClick(panel.buttons["examples"], Qt.MouseButton.LeftButton)
    menu = window.findChild(QMenu, "menu_add_examples")
    qtbot.waitUntil(menu.isVisible)
    next(a for a in menu.actions() if a.text().startswith("Import a file")).trigger()
    from persona_studio.gui.dialogs.import_dialog import ImportDialog

    importing = window.findChild(ImportDialog)
    qtbot.waitUntil(lambda: importing.ok.isEnabled())
    importing.review.setChecked(True)  # to approve them by hand below
    qtbot.waitUntil(lambda: importing.ok.isEnabled())  # its rows made drafts, in a worker
    shoot(importing, "03-import")
    qtbot.mouseClick(importing.ok, Qt.MouseButton.LeftButton)
    dataset = window.dataset_tab
    assert window.session.example_counts() == (14, 0)

    # 4. approve them, and the check says it is ready
    qtbot.mouseClick(panel.buttons["approve"], Qt.MouseButton.LeftButton)
    assert dataset.status_filter.currentData() == "draft"
    qtbot.mouseClick(dataset.approve_shown, Qt.MouseButton.LeftButton)
    assert window.session.example_counts() == (14, 14)
    dataset.status_filter.setCurrentIndex(0)
    since = time.monotonic()
    try:
        qtbot.waitUntil(lambda: panel.marks["check"].accessibleName() == "done", timeout=10_000)
    except WaitTimedOut:
        raise AssertionError(_why_not_checked(window, since)) from None
    shoot(None, "04-approved-and-checked")

    # 5. set up a provider profile from the Train tab's notice
    qtbot.mouseClick(panel.buttons["train"], Qt.MouseButton.LeftButton)
    train = window.train_tab
    qtbot.waitUntil(train.setup.isVisible)
    qtbot.mouseClick(train.setup.button, Qt.MouseButton.LeftButton)
    settings = window.findChild(SettingsDialog)
    with FakeOpenAI(api_key="sk-first-hour", models=("gpt-4.1-mini",)) as server:
        page = settings.providers
        page.findChild(QWidget, "add_profile").click()
        qtbot.keyClicks(page.name, "openrouter")
        page.kind.setCurrentIndex(page.kind.findData("openai-compatible"))
        qtbot.keyClicks(page.base_url, server.base_url)
        qtbot.keyClicks(page.chat_model, "gpt-4.1-mini")
        qtbot.keyClicks(page.api_key, "sk-first-hour")
        qtbot.mouseClick(page.test, Qt.MouseButton.LeftButton)
        run_async(wait_until(lambda: page.result.text().startswith("Connected")))
        shoot(settings, "05-profile")
        settings.close()
        assert train.profile.findData("openrouter") >= 0 and not train.setup.isVisible()

        # 6. chat side by side, blind: the offline engine against the model with the persona
        qtbot.mouseClick(panel.buttons["chat"], Qt.MouseButton.LeftButton)
        chat = window.chat_tab
        chat.pane_count.setValue(2)
        chat.panes[1].engine.setCurrentIndex(chat.panes[1].engine.findData("openrouter"))
        chat.blind.setChecked(True)
        qtbot.keyClicks(chat.input, "How do I open a game?")
        qtbot.mouseClick(chat.send, Qt.MouseButton.LeftButton)  # (the box's Enter: elsewhere)
        run_async(wait_until(lambda: all(p.messages and not p.busy for p in chat.panes)))
        assert all(not pane.engine.isVisible() for pane in chat.panes)
        assert chat.send.visibleRegion().isEmpty() is False
        shoot(None, "06-blind")
        best = chat.panes_row.itemAt(0).widget()
        qtbot.mouseClick(best.best, Qt.MouseButton.LeftButton)
        assert all(pane.engine.isVisible() for pane in chat.panes)
        qtbot.waitUntil(lambda: panel.marks["chat"].accessibleName() == "done")
        shoot(None, "07-revealed")

    # 7. export a card
    assert run_async(window.export_to("card-v2-png", tmp_path / "Mia.png"))
    qtbot.waitUntil(lambda: panel.marks["publish"].accessibleName() == "done")
    assert (tmp_path / "Mia.png").read_bytes().startswith(b"\x89PNG")
    done = [key for key, mark in panel.marks.items() if mark.accessibleName() == "done"]
    assert done == ["describe", "examples", "approve", "check", "chat", "publish"]
    shoot(None, "08-published")
    # every token counted in the hour was counted in the check's worker process: building an
    # encoding holds the window's interpreter lock ~55 ms, and keeps ~67 MB in it
    assert counted_here == []
