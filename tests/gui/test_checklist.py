"""The getting-started panel: a welcome on the demo, steps that tick themselves, buttons that
go where each step happens, and it can be hidden and brought back."""

from __future__ import annotations

from PySide6.QtWidgets import QMenu

from persona_studio.core.dataset import Example
from persona_studio.core.demo import ensure_demo_project
from persona_studio.core.persona import Persona
from persona_studio.core.project import Project


def test_the_demo_is_welcomed_and_steps_follow_the_project(
    make_window, context, tmp_path, qtbot, run_async
) -> None:
    window = make_window()
    window.open_project(ensure_demo_project(context.data_folder))
    window.show()
    qtbot.waitUntil(
        lambda: window._checklist_dock is not None and window._checklist_dock.isVisible()
    )
    panel = window.checklist
    assert "This is Coach Rhea, a sample character" in panel.welcome.text()
    assert panel.welcome.isVisible()
    assert window.checklist_action.isChecked()

    path = tmp_path / "ada.persona"
    Project.create(path, Persona(name="Ada")).close()
    assert window.open_project(path)
    assert not panel.welcome.isVisible()  # not the demo
    assert panel.progress.text() == "<b>0 of 7 steps done</b>"
    assert panel.marks["describe"].accessibleName() == "to do"

    window.session.set_persona_field("description", "A patient chess coach.")
    window.session.add_examples([Example.from_qa(f"Q{i}?", f"A{i}.") for i in range(16)])
    qtbot.waitUntil(lambda: panel.progress.text() == "<b>2 of 7 steps done</b>")
    assert panel.marks["examples"].accessibleName() == "done"
    assert panel.notes["examples"].text() == "16 examples."
    assert "0 examples approved" in panel.notes["approve"].text()

    panel.buttons["approve"].click()  # the drafts, to review
    assert window.tabs.currentWidget() is window._tab_pages["Dataset"]
    assert window.dataset_tab.status_filter.currentData() == "draft"
    window.dataset_tab.table.selectAll()
    window.dataset_tab.set_status("approved")
    qtbot.waitUntil(lambda: panel.marks["approve"].accessibleName() == "done")
    # the Dataset tab's own check ticks "ready"
    qtbot.waitUntil(lambda: panel.marks["check"].accessibleName() == "done", timeout=10_000)

    panel.buttons["examples"].click()
    menu = window.findChild(QMenu, "menu_add_examples")
    assert menu is not None and menu.isVisible()
    assert [a.text() for a in menu.actions()][:2] == [
        "Import a file (CSV, Excel, JSONL)…",
        "Link a Google Sheet…",
    ]
    menu.close()
    assert run_async(window.export_to("card-v2-json", tmp_path / "ada.json"))
    qtbot.waitUntil(lambda: panel.marks["publish"].accessibleName() == "done")
    assert window.session.project.meta("last_export")

    panel.findChild(type(panel.buttons["chat"]), "checklist_hide").click()
    assert not window._checklist_dock.isVisible() and not window.checklist_action.isChecked()
    window.close()
    again = make_window()
    again.open_project(path)
    again.show()
    qtbot.wait(50)
    assert again._checklist_dock is None  # hidden stays hidden, and costs nothing
    again.checklist_action.trigger()
    assert again._checklist_dock.isVisible()
    marks = again.checklist.marks
    for key in ("describe", "examples", "approve", "publish"):  # read from the file
        assert marks[key].accessibleName() == "done", key
    assert marks["train"].accessibleName() == "to do"


def test_a_shown_list_is_shown_again_after_a_restart(make_window, context, qtbot) -> None:
    window = make_window()
    window.open_project(ensure_demo_project(context.data_folder))
    window.show()
    qtbot.waitUntil(
        lambda: window._checklist_dock is not None and window._checklist_dock.isVisible()
    )
    window.close()  # closing hides the panel too: that is not the creator hiding it
    again = make_window()
    again.open_project(ensure_demo_project(context.data_folder))
    again.show()
    qtbot.waitUntil(lambda: again._checklist_dock is not None and again._checklist_dock.isVisible())


def test_before_a_project_is_open_the_panel_says_so_instead_of_empty_rows(
    make_window, context, qtbot
) -> None:
    """A large project opens in a worker: the panel comes in before it is read."""
    window = make_window()
    window.show()
    qtbot.waitUntil(
        lambda: window._checklist_dock is not None and window._checklist_dock.isVisible()
    )
    panel = window.checklist
    assert panel.progress.text() == "The steps show once the project is open."
    assert not panel.welcome.isVisibleTo(panel) and not panel.chat_demo.isVisibleTo(panel)
    assert not any(button.isVisibleTo(panel) for button in panel.buttons.values())

    window.open_project(ensure_demo_project(context.data_folder))
    qtbot.waitUntil(lambda: panel.progress.text().endswith(" of 7 steps done</b>"))
    assert panel.welcome.isVisibleTo(panel)
    assert all(button.isVisibleTo(panel) for button in panel.buttons.values())
