"""A project that cannot be written opens read-only in the window: a banner says so and offers a
copy; the tabs can be read and searched, the Chat tab chats; nothing offers an edit, nothing is
saved, the file is not touched; the copy opens editable."""

from __future__ import annotations

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QAbstractItemView, QLineEdit, QPlainTextEdit

from persona_studio.core.demo import ensure_demo_project
from persona_studio.gui.main_window import WRITING_ACTIONS
from tests.conftest import wait_until
from tests.core.test_read_only_project import digest, make_read_only


def test_a_read_only_project_is_a_view_with_a_way_out(
    make_window, context, run_async, qtbot, monkeypatch, tmp_path
) -> None:
    demo = ensure_demo_project(context.data_folder)
    make_read_only(demo, monkeypatch)
    before = digest(demo)
    window = make_window()
    window.resize(1366, 768)
    window.show()
    assert window.open_project(demo)  # not refused, and not called damaged
    assert window.read_only and window._read_only_bar.isVisible()
    assert window.read_only_notice.text().startswith(f"Read-only: “{demo.name}” is in a file")
    assert window.read_only_copy.isVisible()
    assert window.save_label.text() == "Read-only: nothing is saved"
    assert window.windowTitle() == f"Coach Rhea — {demo.name} (read-only) — Persona Studio"
    for name in WRITING_ACTIONS:
        assert not window.findChild(QAction, name).isEnabled(), name

    # the persona reads, and typing changes nothing
    window.tabs.setCurrentIndex(0)
    name = window.persona_tab.findChild(QLineEdit, "persona_name")
    assert name.isReadOnly()
    qtbot.keyClicks(name, "X")
    assert window.session.persona.name == "Coach Rhea" and name.text() == "Coach Rhea"
    assert all(w.isReadOnly() for w in window.persona_tab.findChildren(QPlainTextEdit))

    # the dataset: searched, not edited
    window.tabs.setCurrentIndex(1)
    dataset = window.dataset_tab
    run_async(wait_until(lambda: dataset.model.rowCount() > 0))
    total = dataset.model.rowCount()
    assert dataset.table.editTriggers() == QAbstractItemView.EditTrigger.NoEditTriggers
    assert not dataset.add_button.isVisible() and not dataset.import_button.isVisible()
    assert not dataset.search.isReadOnly() and dataset.status_filter.isEnabled()
    dataset.search.setText("shoes")
    dataset._apply_filters()
    assert 0 < dataset.model.rowCount() < total

    # the Chat tab chats; the conversation is not kept, no reply is added
    window.tabs.setCurrentIndex(3)
    chat = window.chat_tab
    assert not chat.panes[0].keep.isVisible() and not chat.delete.isVisible()
    chat.send_message("which running shoes should I buy")
    run_async(wait_until(lambda: not chat.panes[0].busy and len(chat.panes[0].messages) >= 2))
    assert chat.panes[0].messages[-1]["content"].startswith("Choose shoes")
    assert window.session.project.chats() == []

    # what would change it is refused with a next step, never half done
    csv = tmp_path / "more.csv"
    csv.write_text("question,answer\nq,a\n")
    assert window.open_dropped(csv) is None
    assert "read-only" in window.statusBar().currentMessage()
    assert window.generate_examples() is None and window.run_pipeline() is None
    assert not window.session.unsaved
    assert digest(demo) == before  # not a byte, not even the time

    # the way out: a copy somewhere writable opens in its place, every tab editable again
    copy = tmp_path / "mine.persona"
    assert run_async(window.copy_and_open(copy))
    assert not window.read_only and not window._read_only_bar.isVisible()
    assert window.save_label.text() == "All changes saved"
    window.tabs.setCurrentIndex(0)
    name = window.persona_tab.findChild(QLineEdit, "persona_name")
    assert not name.isReadOnly()
    window.tabs.setCurrentIndex(1)
    assert window.dataset_tab.add_button.isVisible()
    assert window.findChild(QAction, "action_generate").isEnabled()
    window.session.set_persona_field("name", "Rhea, mine")
    assert window.session.flush()
    assert digest(demo) == before
