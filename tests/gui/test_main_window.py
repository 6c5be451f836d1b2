"""The main window as a user meets it: demo on first launch, editing, undo, files, errors."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QWidget,
)

from persona_studio.core.dataset import Example
from persona_studio.core.demo import DEMO_FILENAME, ensure_demo_project
from persona_studio.core.persona import Persona
from persona_studio.core.project import Project
from persona_studio.gui.app import _load_settings, open_first_project
from persona_studio.gui.project_session import AUTOSAVE_DELAY_MS


def _stored_persona(path: Path) -> Persona:
    """Read the file the way a second process would (a byte copy, so the lock is not in the way)."""
    copy = path.with_name("peek.persona")
    copy.write_bytes(path.read_bytes())
    wal = Path(f"{path}-wal")
    if wal.exists():
        Path(f"{copy}-wal").write_bytes(wal.read_bytes())
    with Project.open(copy) as project:
        persona = project.persona()
    for leftover in copy.parent.glob("peek.persona*"):
        leftover.unlink()
    return persona


def test_first_launch_opens_an_editable_copy_of_the_demo(make_window, context, qtbot) -> None:
    window = make_window()
    open_first_project(window, None)
    window.show()
    qtbot.waitExposed(window)
    assert [window.tabs.tabText(i) for i in range(window.tabs.count())] == [
        "Persona",
        "Dataset",
        "Train",
        "Chat",
    ]
    assert window.session is not None
    assert window.session.project.path == context.data_folder / DEMO_FILENAME
    assert window.windowTitle().startswith("Coach Rhea")
    assert window.dataset_tab.model.rowCount() == 30
    assert window.dataset_tab.shown_label.text() == "30 examples"
    assert "Hi, I'm Rhea" in window.chat_tab.panes[0].greeting
    assert window.save_label.text() == "All changes saved"
    assert context.config.recent_projects == [str(context.data_folder / DEMO_FILENAME)]
    menus = [a.text() for a in window.menuBar().actions()]
    assert menus == ["&File", "&Edit", "S&heet", "&Train", "&Settings", "&Help"]


def test_typing_autosaves_within_a_second_and_undo_restores(make_window, qtbot, tmp_path) -> None:
    path = tmp_path / "ada.persona"
    Project.create(path, Persona(name="Ada")).close()
    window = make_window()
    assert window.open_project(path)
    name = window.persona_tab.findChild(QLineEdit, "persona_name")
    name.setFocus()
    name.end(False)
    qtbot.keyClicks(name, " Lovelace")
    assert window.save_label.text() == "Saving…"
    assert window.windowTitle().startswith("Ada Lovelace")
    assert "You are Ada Lovelace." in window.persona_tab.prompt_preview.toPlainText()
    qtbot.waitUntil(
        lambda: window.save_label.text() == "All changes saved", timeout=AUTOSAVE_DELAY_MS + 600
    )
    assert _stored_persona(path).name == "Ada Lovelace"

    greeting = window.persona_tab.findChild(QPlainTextEdit, "persona_greeting")
    qtbot.keyClicks(greeting, "Hello there")
    assert window.undo_stack.count() == 2  # typing in one field merges into one step
    window.undo_stack.undo()
    assert greeting.toPlainText() == ""
    window.undo_stack.undo()
    assert name.text() == "Ada"
    window.undo_stack.redo()
    assert name.text() == "Ada Lovelace"
    window.session.flush()
    assert _stored_persona(path).name == "Ada Lovelace"
    assert _stored_persona(path).greeting == ""


def test_close_saves_pending_edits_and_remembers_geometry(
    make_window, context, tmp_path, qtbot
) -> None:
    path = tmp_path / "x.persona"
    Project.create(path, Persona(name="X")).close()
    window = make_window()
    window.open_project(path)
    window.show()
    window.resize(700, 520)
    window.tabs.setCurrentIndex(2)
    window.persona_tab.findChild(QLineEdit, "persona_name").setFocus()
    qtbot.keyClicks(window.persona_tab.findChild(QLineEdit, "persona_name"), "YZ")
    size = window.size()
    window.close()  # before the autosave timer fired
    with Project.open(path) as project:
        assert project.persona().name == "XYZ"
    again = make_window()
    assert again.size() == size
    assert again.tabs.currentIndex() == 2
    open_first_project(again, None)  # the last project, not the demo
    assert again.session.project.path == path


def test_opening_a_bad_file_keeps_the_current_project(make_window, tmp_path, qtbot) -> None:
    good = tmp_path / "good.persona"
    Project.create(good, Persona(name="Good")).close()
    bad = tmp_path / "bad.persona"
    bad.write_text("not a project")
    window = make_window()
    window.open_project(good)
    assert not window.open_project(bad)
    box = window.findChild(QMessageBox, "error_message")
    qtbot.waitUntil(box.isVisible)
    assert "not a Persona Studio project" in box.text()
    assert "Choose a .persona file" in box.informativeText()
    assert window.session.project.path == good
    assert bad.read_text() == "not a project"


def test_same_project_in_a_second_window_is_refused(make_window, tmp_path, qtbot) -> None:
    path = tmp_path / "shared.persona"
    Project.create(path, Persona(name="Shared")).close()
    first, second = make_window(), make_window()
    assert first.open_project(path)
    assert not second.open_project(path)
    box = second.findChild(QMessageBox, "error_message")
    qtbot.waitUntil(box.isVisible)
    assert "already open" in box.text()
    assert second.session is None and not second.tabs.isEnabled()


def test_new_project_and_save_a_copy(make_window, run_async, qtbot, tmp_path) -> None:
    window = make_window()
    window.create_project(tmp_path / "Nova", "Nova")
    assert window.session.project.path == tmp_path / "Nova.persona"
    assert window.persona_tab.findChild(QLineEdit, "persona_name").text() == "Nova"
    window.session.set_persona_field("description", "Unsaved yet")
    saving = window.save_copy_to(tmp_path / "Nova backup")
    assert "Saving a copy" in window.statusBar().currentMessage()  # in the background
    assert run_async(saving)
    assert "Saved a copy" in window.statusBar().currentMessage()
    with Project.open(tmp_path / "Nova backup.persona") as copy:
        assert copy.persona().description == "Unsaved yet"
    assert not run_async(window.save_copy_to(window.session.project.path))
    box = window.findChild(QMessageBox, "error_message")
    qtbot.waitUntil(box.isVisible)
    assert "cannot replace the project itself" in box.text()
    assert "Saved" not in window.statusBar().currentMessage()


def test_open_recent_menu_lists_other_projects(make_window, tmp_path) -> None:
    paths = []
    for name in ("one", "two"):
        paths.append(tmp_path / f"{name}.persona")
        Project.create(paths[-1], Persona(name=name)).close()
    window = make_window()
    for path in paths:
        window.open_project(path)
    window.recent_menu.aboutToShow.emit()
    actions = window.recent_menu.actions()
    assert [a.text() for a in actions] == ["one.persona"]
    actions[0].trigger()
    assert window.session.project.path == paths[0]


def test_unreadable_settings_are_moved_aside_not_lost(isolated_home) -> None:
    from persona_studio.core.config import config_path

    config_path().parent.mkdir(parents=True, exist_ok=True)
    config_path().write_text("profiles = [[[")
    config, warning = _load_settings()
    assert config.profiles == [] and "starting with defaults" in warning
    kept = list(config_path().parent.glob("settings.toml.unreadable-*"))
    assert len(kept) == 1 and kept[0].read_text() == "profiles = [[["


def test_every_tab_and_field_has_an_accessible_name(make_window, tmp_path) -> None:
    window = make_window()
    window.create_project(tmp_path / "a.persona", "A")
    for widget in window.findChildren(QLineEdit) + window.findChildren(QPlainTextEdit):
        if widget.isVisibleTo(window) and widget.objectName():
            assert widget.accessibleName(), widget.objectName()
    assert window.tabs.widget(0).accessibleName() == "Persona tab"


def test_menu_actions_get_platform_shortcuts(make_window) -> None:
    from PySide6.QtGui import QAction, QKeySequence

    window = make_window()  # the fixture attaches shortcuts, as the app does after first paint
    shortcuts = {a.objectName(): a.shortcut() for a in window.findChildren(QAction)}
    assert shortcuts["action_new"] == QKeySequence(QKeySequence.StandardKey.New)
    assert shortcuts["action_undo"] == QKeySequence(QKeySequence.StandardKey.Undo)
    assert shortcuts["action_save_copy"] == QKeySequence("Ctrl+Alt+S")
    assert shortcuts["action_sync"] == QKeySequence("Ctrl+Shift+S")
    window.attach_shortcuts()  # idempotent
    assert window.findChild(QAction, "action_new").shortcut() == shortcuts["action_new"]


def test_dropping_a_spreadsheet_opens_the_import_dialog_on_it(
    make_window, context, tmp_path, qtbot
) -> None:
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent

    window = make_window()
    window.open_project(ensure_demo_project(context.data_folder))
    sheet = tmp_path / "answers.csv"
    sheet.write_text("question,answer\nHow long should I rest?,Two days.\n", "utf-8")
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(sheet)), QUrl.fromLocalFile(str(tmp_path / "x.exe"))])
    action, buttons, mods = (
        Qt.DropAction.CopyAction,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    enter = QDragEnterEvent(QPointF(10, 10).toPoint(), action, data, buttons, mods)
    window.dragEnterEvent(enter)
    assert enter.isAccepted()
    window.dropEvent(QDropEvent(QPointF(10, 10), action, data, buttons, mods))
    dialog = window.findChild(QWidget, "import_dialog")
    assert dialog is not None and dialog.path == sheet
    assert window.tabs.currentIndex() == 1
    other = QMimeData()
    other.setUrls([QUrl.fromLocalFile(str(tmp_path / "notes.exe"))])
    refused = QDragEnterEvent(QPointF(10, 10).toPoint(), action, other, buttons, mods)
    refused.ignore()
    window.dragEnterEvent(refused)
    assert not refused.isAccepted()


def _card(name: str):
    from persona_studio.core.cards import read_card
    from tests.fakes.cards import foreign_v2_card

    raw = foreign_v2_card()
    raw["data"]["name"] = name
    import json

    return read_card(json.dumps(raw).encode("utf-8"))


def test_importing_a_card_never_replaces_the_open_project(make_window, tmp_path, qtbot) -> None:
    path = tmp_path / "Rhea.persona"
    Project.create(path, Persona(name="Rhea")).close()
    window = make_window()
    window.open_project(path)
    window.session.set_persona_field("description", "typed before the import")
    window.session.flush()
    before = path.read_bytes()

    assert not window.import_card(_card("Rhea"), path)  # "Yes, replace" on the open file
    box = window.findChild(QMessageBox, "error_message")
    qtbot.waitUntil(box.isVisible)
    assert "open in this window" in box.text() and "Nothing was changed" in box.informativeText()
    assert window.session.project.path == path
    window.session.set_persona_field("description", "typed after")  # still saving for real
    assert window.session.flush()
    with _reopen(window, path) as project:  # the file is whole and has every edit
        assert project.persona().description == "typed after"
        assert project.persona().name == "Rhea"
    assert len(before) > 0


def _reopen(window, path: Path) -> Project:
    """Close the window's project and open the file again from disk."""
    assert window.session.close()
    window.session = None
    return Project.open(path)


def test_importing_a_card_over_a_project_open_elsewhere_is_refused(
    make_window, tmp_path, qtbot
) -> None:
    busy = tmp_path / "Busy.persona"
    Project.create(busy, Persona(name="Busy")).close()
    other = make_window()
    other.open_project(busy)
    window = make_window()
    assert not window.import_card(_card("Seraphina"), busy)
    box = window.findChild(QMessageBox, "error_message")
    qtbot.waitUntil(box.isVisible)
    assert "open in another Persona Studio window" in box.text()
    assert other.session.project.persona().name == "Busy"


def test_a_card_replaces_another_file_whole_and_suggestions_skip_the_open_one(
    make_window, tmp_path
) -> None:
    from persona_studio.core.project.files import free_project_path

    old = tmp_path / "Old.persona"
    Project.create(old, Persona(name="Old")).close()
    window = make_window()
    assert window.import_card(_card("Seraphina"), old)  # the creator chose to replace it
    assert window.session.project.path == old.absolute()
    assert window.session.persona.name == "Seraphina"
    open_path = window.session.project.path
    suggestion = free_project_path(tmp_path, "Old", taken=open_path)
    assert suggestion != open_path and suggestion.name == "Old (2).persona"


def test_a_dropped_card_named_like_a_path_stays_in_the_folder(tmp_path: Path) -> None:
    from persona_studio.core.project.files import free_project_path

    for name in ("../../escape", "/etc/passwd", "a/b\\c", "..."):
        path = free_project_path(tmp_path, name)
        assert path.parent == tmp_path, name


def test_titles_name_the_file_and_a_new_character_starts_at_the_top(
    make_window, tmp_path, qtbot
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for folder in ("a", "b"):
        Project.create(tmp_path / folder / "coach.persona", Persona(name="Coach")).close()
    first, second = make_window(), make_window()
    assert first.open_project(tmp_path / "a" / "coach.persona")
    assert first.windowTitle() == "Coach — coach.persona — Persona Studio"
    assert second.open_project(tmp_path / "b" / "coach.persona")
    assert first.windowTitle() != second.windowTitle()
    assert str(tmp_path / "b") in second.windowTitle()

    first.show()
    scroll = first.persona_tab.fields_scroll
    first.resize(900, 500)
    qtbot.waitUntil(lambda: scroll.verticalScrollBar().maximum() > 0)
    scroll.verticalScrollBar().setValue(scroll.verticalScrollBar().maximum())
    first.create_project(tmp_path / "new.persona", "New one")
    assert scroll.verticalScrollBar().value() == 0


def test_an_edited_profile_keeps_its_place(context) -> None:
    from persona_studio.core.config import ProviderProfile

    for name in ("first", "second", "third"):
        context.config.upsert_profile(ProviderProfile(name=name, kind="together"))
    context.config.upsert_profile(ProviderProfile(name="first", kind="fireworks", account="me"))
    assert [p.name for p in context.config.profiles] == ["first", "second", "third"]
    assert context.config.profiles[0].kind == "fireworks"


def test_a_large_project_opens_in_a_worker_thread(
    make_window, run_async, qtbot, tmp_path, monkeypatch
) -> None:
    import threading

    from persona_studio.gui import main_window
    from tests.conftest import wait_until

    monkeypatch.setattr(main_window, "OPEN_IN_WORKER_FROM", 0)  # every file is "large"
    first, big = tmp_path / "first.persona", tmp_path / "big.persona"
    Project.create(first, Persona(name="First")).close()
    Project.create(big, Persona(name="Big")).close()
    with Project.open(first) as project:
        project.add_examples([Example.from_qa(f"Q{i}?", f"A{i}.") for i in range(3)])
    on_the_ui_thread: list[bool] = []
    opener = Project.open_and_read

    def spy(cls, path):
        on_the_ui_thread.append(threading.current_thread() is threading.main_thread())
        return opener(path)

    monkeypatch.setattr(Project, "open_and_read", classmethod(spy))
    window = make_window()
    opened = lambda: window._opening is None  # noqa: E731

    assert window.open_project(first)  # started
    assert "Opening first.persona" in window.statusBar().currentMessage()
    notice = window.findChild(QLabel, "opening_notice")  # no project yet: said where tabs are
    assert notice.isVisibleTo(window) and "Opening first.persona…" in notice.text()
    assert not window.tabs.isVisibleTo(window)
    busy = window.findChild(QProgressBar, "opening_bar")
    assert busy.isVisibleTo(window) and busy.maximum() == 0  # busy, for as long as it takes
    assert not window.open_project(big)  # one at a time
    assert "Still opening first.persona" in window.statusBar().currentMessage()
    run_async(wait_until(opened))
    assert window.session.project.path == first and on_the_ui_thread == [False]
    assert not busy.isVisibleTo(window) and window.statusBar().currentMessage() == ""
    assert not notice.isVisibleTo(window) and window.tabs.isVisibleTo(window)
    # its examples were read in the worker too: the session holds them, nothing reads again
    assert window.session.examples_loaded and not window.session.loading
    assert [ex.question for ex in window.session.examples] == ["Q0?", "Q1?", "Q2?"]

    bad = tmp_path / "bad.persona"
    bad.write_bytes(b"not a project" * 10)
    assert window.open_project(bad)
    assert not notice.isVisibleTo(window)  # the open project stays in view meanwhile
    run_async(wait_until(opened))
    box = window.findChild(QMessageBox, "error_message")
    qtbot.waitUntil(box.isVisible)
    assert "not a Persona Studio project" in box.text()
    assert window.session.project.path == first  # the current project stays open
    box.close()

    # damaged where the read does not go: found by the check that runs beside the read
    from tests.conftest import damage_an_index

    damaged = tmp_path / "damaged.persona"
    with Project.create(damaged, Persona(name="Damaged")) as project:
        project.add_examples([Example.from_qa(f"Q{i}?", f"A{i}.") for i in range(2_000)])
    damage_an_index(damaged)
    assert window.open_project(damaged)
    run_async(wait_until(opened))
    shown = lambda: [b for b in window.findChildren(QMessageBox, "error_message") if b.isVisible()]  # noqa: E731
    qtbot.waitUntil(lambda: bool(shown()))
    box = shown()[0]
    assert "is damaged and cannot be opened" in box.text()
    assert window.session.project.path == first  # the current project stays open
    box.close()

    assert window.open_project(big)
    window.close()  # closed while the worker opens it
    run_async(wait_until(opened))
    with Project.open(big) as again:  # the window let go of it
        assert again.persona().name == "Big"
