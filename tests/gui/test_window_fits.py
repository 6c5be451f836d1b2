"""The window fits a laptop screen: no tab, pane count or dialog asks for more than 1280×720
(or 1366×768), and Send stays on screen."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QSize
from PySide6.QtWidgets import QWidget

from persona_studio.core.demo import ensure_demo_project
from tests.gui.conftest import minimum_size

TITLE_AND_TASKBAR = 60  # what a desktop takes from the screen's height around the window


def _fits(widget: QWidget, screen: QSize) -> bool:
    hint = minimum_size(widget)
    return hint.width() <= screen.width() and hint.height() <= screen.height()


@pytest.mark.parametrize("width,height", [(1280, 720), (1366, 768)])
def test_every_tab_fits_a_laptop_screen(make_window, context, qtbot, width, height) -> None:
    screen = QSize(width, height - TITLE_AND_TASKBAR)
    window = make_window()
    assert window.open_project(ensure_demo_project(context.data_folder))
    window.resize(screen)
    window.show()
    qtbot.waitExposed(window)
    window._show_checklist(True)  # with the getting-started panel beside the tabs
    for index in range(window.tabs.count()):
        window.tabs.setCurrentIndex(index)
        assert _fits(window, screen), (window.tabs.tabText(index), window.minimumSizeHint())

    # a first project's Dataset tab: nothing approved yet, which the review row says at length
    window.tabs.setCurrentIndex(1)
    dataset = window.dataset_tab
    dataset.table.selectAll()
    dataset.set_status("draft")
    dataset.table.clearSelection()
    assert dataset.selection_label.text().startswith("0 approved: select rows")
    assert _fits(window, screen), window.minimumSizeHint()

    # the Train tab's job row at its widest: a trained job whose deploy failed (Deploy again)
    from persona_studio.core.records import JobRecord

    failed = "Deploying failed: The provider answered with an error (503) to the deployment."
    window.session.project.save_job(
        JobRecord(
            "ftjob-wide",
            "nebius",
            "meta-llama/Meta-Llama-3.1-8B-Instruct",
            "succeeded",
            events=[{"id": "e1", "level": "error", "message": failed}],
        )
    )
    window.tabs.setCurrentIndex(2)
    window.train_tab._fill_history(select="ftjob-wide")
    window.train_tab.show_job("ftjob-wide")
    assert window.train_tab.redeploy.isVisibleTo(window.train_tab)
    assert _fits(window, screen), window.minimumSizeHint()
    # a job trained on this computer: Take it elsewhere beside; the progress bar's words fit
    model = context.data_folder / "local-job" / "model"
    model.mkdir(parents=True)
    (model / "config.json").write_text("{}")
    window.session.project.save_job(
        JobRecord("local-wide", "local", "Qwen/Qwen2.5-0.5B-Instruct", "succeeded", str(model))
    )
    window.train_tab._fill_history(select="local-wide")
    window.train_tab.show_job("local-wide")
    assert window.train_tab.take.isVisibleTo(window.train_tab)
    assert _fits(window, screen), window.minimumSizeHint()
    window.resize(screen)
    qtbot.wait(50)
    bar = window.train_tab.progress
    assert bar.fontMetrics().horizontalAdvance(bar.text()) < bar.contentsRect().width(), bar.text()

    # the most a creator can ask of the Chat tab: three panes, a long conversation
    window.tabs.setCurrentIndex(3)
    chat = window.chat_tab
    chat.pane_count.setValue(3)
    chat.blind.setChecked(True)
    for pane in chat.panes:
        pane.meta.setText("gpt-4.1-mini · 1,234 tokens · 2.3 s · " * 4)
    assert _fits(window, screen), window.minimumSizeHint()
    window.resize(screen)
    qtbot.wait(50)
    send = chat.send
    corner = send.mapTo(window, QPoint(send.width(), send.height()))
    assert send.isVisible() and not send.visibleRegion().isEmpty()
    assert corner.x() <= window.width() and corner.y() <= window.height()

    # "Try a message" with a prompt longer than the screen scrolls inside its box
    window.tabs.setCurrentIndex(0)
    persona = window.persona_tab
    persona.side_tabs.setCurrentIndex(1)
    rules = persona.rules_editor
    rules.try_input.setText("A long question about knees and shoes " * 40)
    window.session.set_persona_field("background", "A long background line.\n" * 200)
    assert _fits(window, screen), window.minimumSizeHint()


def test_every_dialog_fits_a_laptop_screen(make_window, context, qtbot, tmp_path) -> None:
    screen = QSize(1280, 720 - TITLE_AND_TASKBAR)
    window = make_window()
    assert window.open_project(ensure_demo_project(context.data_folder))
    window.show()
    check = window.check_voice()
    dialogs = [window.open_settings(), window.run_pipeline(), check, check.open_test_set()]
    dialogs.append(window.generate_examples())
    dialogs.append(window.link_sheet())
    from persona_studio.gui.dialogs.template_dialog import TemplateDialog

    dialogs.append(TemplateDialog(window, ask_name=True))
    csv = tmp_path / "qa.csv"
    csv.write_text("question,answer\n" + "How?,Like this.\n" * 50, encoding="utf-8")
    dialogs.append(window.dataset_tab.open_import(csv))
    for dialog in dialogs:
        assert dialog is not None
        assert _fits(dialog, screen), (type(dialog).__name__, dialog.minimumSizeHint())
        dialog.close()


def test_a_read_only_project_fits_with_its_banner(make_window, context, qtbot, monkeypatch) -> None:
    """The read-only banner sits above the tabs: every tab, and three chat panes, still fit."""
    from tests.core.test_read_only_project import make_read_only

    screen = QSize(1280, 720 - TITLE_AND_TASKBAR)
    demo = ensure_demo_project(context.data_folder)
    make_read_only(demo, monkeypatch)
    window = make_window()
    assert window.open_project(demo) and window.read_only
    window.resize(screen)
    window.show()
    qtbot.waitExposed(window)
    window._show_checklist(True)
    for index in range(window.tabs.count()):
        window.tabs.setCurrentIndex(index)
        assert _fits(window, screen), (window.tabs.tabText(index), window.minimumSizeHint())
    window.chat_tab.pane_count.setValue(3)
    assert _fits(window, screen), window.minimumSizeHint()
    assert window.check_voice() is None  # the check keeps its runs: refused, read-only
