"""The Dataset tab as a creator uses it: grid edits, undo, filters, paste, preflight, import."""

from __future__ import annotations

import asyncio
import copy
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelection, QItemSelectionModel, QPoint, Qt
from PySide6.QtGui import QGuiApplication

from persona_studio.core.dataset import Example
from persona_studio.core.persona import Persona
from persona_studio.core.project import Project
from persona_studio.gui.models.examples_model import COL_ANSWER, COL_QUESTION, COL_STATUS
from tests.conftest import threads_calling, wait_until


def _tab(make_window, tmp_path: Path, examples: list[Example]):
    path = tmp_path / "d.persona"
    Project.create(
        path, Persona(name="D", style_dont=["Promise weight-loss results"]), examples=examples
    ).close()
    window = make_window()
    assert window.open_project(path)
    window.tabs.setCurrentIndex(1)
    return window, window.dataset_tab


def _stored(window) -> list[Example]:
    return window.session.project.examples()


def test_edit_cells_and_undo(make_window, tmp_path) -> None:
    window, tab = _tab(make_window, tmp_path, [Example.from_qa("Q1", "A1")])
    model = tab.model
    assert model.setData(model.index(0, COL_ANSWER), "A1 edited")
    assert model.setData(model.index(0, COL_STATUS), "approved")
    assert not model.setData(model.index(0, COL_STATUS), "maybe")  # not a status
    stored = _stored(window)[0]
    assert (stored.answer, stored.status) == ("A1 edited", "approved")
    assert model.data(model.index(0, COL_STATUS)) == "Approved"
    window.undo_stack.undo()
    window.undo_stack.undo()
    assert _stored(window)[0].answer == "A1" and _stored(window)[0].status == "draft"
    assert model.data(model.index(0, COL_ANSWER)) == "A1"


def test_the_selected_rows_are_read_without_asking_every_cell(make_window, tmp_path) -> None:
    """Issue 21: `selectedRows()` asked the model for each selected cell's flags, a call into
    Python each (~1,500 to delete 100 rows, ~700,000 to delete all of 100,000)."""
    window, tab = _tab(make_window, tmp_path, [Example.from_qa(f"Q{i}", f"A{i}") for i in range(9)])
    for row in (1, 2, 3, 7):
        tab.table.selectionModel().select(
            tab.model.index(row, 0),
            QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows,
        )
    asked: list[int] = []
    flags = type(tab.model).flags
    tab.model.flags = lambda index: asked.append(index.row()) or flags(tab.model, index)
    tab.delete_selected()
    assert [e.question for e in _stored(window)] == ["Q0", "Q4", "Q5", "Q6", "Q8"]
    assert asked == []
    tab.table.selectAll()
    assert tab._selected_rows() == range(5) and asked == []  # one range: a slice of the view
    assert tab._selected_examples() == tab.model.examples_at([0, 1, 2, 3, 4])
    tab.table.clearSelection()
    for top, bottom in ((3, 3), (0, 0), (1, 3), (2, 2)):  # out of order, overlapping
        tab.table.selectionModel().select(
            QItemSelection(tab.model.index(top, 0), tab.model.index(bottom, 0)),
            QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows,
        )
    assert tab._selected_rows() == [0, 1, 2, 3] and asked == []
    # the ids, from the session's list of them: the same as the selected examples' own
    assert tab._selected_ids() == [e.id for e in tab._selected_examples()]
    tab.model.sort(0, Qt.SortOrder.DescendingOrder)  # shown in another order
    tab.table.selectAll()
    assert tab._selected_ids() == [e.id for e in tab._selected_examples()]
    assert [
        window.session.examples[window.session.example_ids().index(i)].question
        for i in tab._selected_ids()
    ] == ["Q8", "Q6", "Q5", "Q4", "Q0"]
    assert tab.model.ids_at(range(5), list(window.session.examples), ["x"] * 5) is None


def test_every_row_selected_asks_the_model_only_for_the_cells_painted(
    make_window, tmp_path, qtbot, run_async
) -> None:
    """Issue 21: with every row selected, the grid's header asked whether each column was
    wholly selected at each paint: each row's flags, a call into Python each (700,000 for
    100,000 examples, a 3.5–3.9 s freeze after Ctrl+A)."""
    rows = 3_000
    window, tab = _tab(
        make_window, tmp_path, [Example.from_qa(f"Q{i}", f"A{i}") for i in range(rows)]
    )
    window.show()
    qtbot.waitExposed(window)
    run_async(wait_until(lambda: tab.model.rowCount() == rows and tab.table.isEnabled()))
    asked: list[int] = []
    flags = type(tab.model).flags
    tab.model.flags = lambda index: asked.append(index.row()) or flags(tab.model, index)
    tab.table.selectAll()
    tab.table.horizontalHeader().repaint()
    tab.table.viewport().repaint()
    assert tab._selected_rows() == range(rows)
    assert len(asked) < rows  # the cells on screen at most, not every row's


def test_keyboard_approve_duplicate_delete_and_undo(make_window, tmp_path, qtbot) -> None:
    window, tab = _tab(make_window, tmp_path, [Example.from_qa(f"Q{i}", f"A{i}") for i in range(5)])
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    tab.table.setFocus()
    qtbot.waitUntil(tab.table.hasFocus)
    tab.table.selectRow(1)
    qtbot.keyClick(tab.table, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert _stored(window)[1].status == "approved"
    qtbot.keyClick(tab.table, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    stored = _stored(window)
    assert len(stored) == 6 and stored[-1].question == "Q1" and stored[-1].status == "draft"
    tab.table.clearSelection()
    tab.table.selectRow(0)
    qtbot.keyClick(tab.table, Qt.Key.Key_Delete)
    assert [e.question for e in _stored(window)] == ["Q1", "Q2", "Q3", "Q4", "Q1"]
    window.undo_stack.undo()  # the deleted row comes back in its place
    assert [e.question for e in _stored(window)][:2] == ["Q0", "Q1"]
    assert tab.model.example(0).question == "Q0"


def test_search_filters_and_sort(make_window, tmp_path, qtbot) -> None:
    examples = [
        Example.from_qa("How fast?", "Easy pace", status="approved", tags=["pace"]),
        Example.from_qa("Shoes?", "Comfort first"),
        Example.from_qa("Knee PAIN?", "See a physio", status="rejected"),
    ]
    _window, tab = _tab(make_window, tmp_path, examples)
    qtbot.keyClicks(tab.search, "pain")
    qtbot.waitUntil(lambda: tab.model.shown == 1)
    assert tab.model.example(0).question == "Knee PAIN?"
    assert tab.shown_label.text() == "Showing 1 of 3 examples"
    tab.search.clear()
    tab.status_filter.setCurrentIndex(tab.status_filter.findData("approved"))
    assert tab.model.shown == 1 and tab.model.example(0).tags == ["pace"]
    tab.status_filter.setCurrentIndex(0)
    tab.tag_filter.showPopup()  # the tags are read when the list is opened
    tab.tag_filter.hidePopup()
    tab.tag_filter.setCurrentIndex(tab.tag_filter.findData("pace"))
    assert tab.model.shown == 1
    tab.tag_filter.setCurrentIndex(0)
    # a tag added by an edit is in the list when the list is next opened
    window = _window
    tagged = copy.deepcopy(window.session.examples[1])
    tagged.tags = ["gear"]
    window.session.replace_example_contents([tagged])
    tab.tag_filter.showPopup()
    assert tab.tag_filter.findData("gear") > 0 and tab.tag_filter.findData("pace") > 0
    tab.tag_filter.hidePopup()
    tab.table.sortByColumn(COL_QUESTION, Qt.SortOrder.AscendingOrder)
    assert [tab.model.example(r).question for r in range(3)] == [
        "How fast?",
        "Knee PAIN?",
        "Shoes?",
    ]


@pytest.mark.parametrize("large", [False, True])
def test_a_sort_keeps_the_same_examples_selected(
    make_window, tmp_path, qtbot, monkeypatch, large
) -> None:
    """A header click moves the rows, not the selection: the examples selected (and the one
    shown in the detail pane) stay so, wherever they go, so a Delete after a sort deletes what
    the creator picked."""
    from persona_studio.gui.models import examples_model

    monkeypatch.setattr(examples_model, "ORDER_IN_PARTS_FROM", 3 if large else 10**9)
    questions = ["Shoes?", "How fast?", "Knee pain?", "Hills?", "Rest days?"]
    _window, tab = _tab(make_window, tmp_path, [Example.from_qa(q, "A.") for q in questions])
    tab.select_examples([tab.model.example(0).id, tab.model.example(2).id])  # shoes, knee
    tab.table.sortByColumn(COL_QUESTION, Qt.SortOrder.AscendingOrder)
    qtbot.waitUntil(lambda: not tab.model.sort_pending)
    assert [tab.model.example(r).question for r in range(5)] == sorted(questions)
    assert sorted(ex.question for ex in tab._selected_examples()) == ["Knee pain?", "Shoes?"]
    assert tab._current_example().question == "Shoes?"
    tab.table.selectAll()  # every row: they stay so
    tab.table.setCurrentIndex(tab.model.index(3, 1))  # (a current row alone moves the selection)
    tab.table.selectAll()
    current = tab._current_example().question
    tab.table.sortByColumn(COL_QUESTION, Qt.SortOrder.DescendingOrder)
    qtbot.waitUntil(lambda: not tab.model.sort_pending)
    assert len(tab._selected_examples()) == 5 and tab._current_example().question == current


def test_a_large_projects_sort_reads_its_column_a_part_at_a_time(
    make_window, tmp_path, qtbot, monkeypatch
) -> None:
    """Issue 21: a header click on 100,000 examples held the UI thread 150–230 ms; read in a
    worker thread, scrolling meanwhile stalled 330–450 ms (each repaint's call into Python
    waited for the interpreter's lock). On a large project the rows stay as they are, the
    count line says it sorts, and the column's order is read on the UI thread a part at a
    time, the window's turn between (its numpy sort in a worker thread); the rows then show
    sorted, and the next click on that column sorts at once."""
    from PySide6.QtCore import QTimer

    from persona_studio.gui import dataset_tab
    from persona_studio.gui.models import column_order, examples_model
    from persona_studio.gui.models.column_order import ColumnOrder
    from persona_studio.gui.models.examples_model import OrderRead

    monkeypatch.setattr(examples_model, "ORDER_IN_PARTS_FROM", 3)
    monkeypatch.setattr(column_order, "READ_PART", 1)
    monkeypatch.setattr(dataset_tab, "ORDER_TURN_S", 0.0)  # the window's turn after each part
    events: list[str] = []  # each part read, and each of the window's turns
    reading = ColumnOrder.reading.__func__

    def in_parts(*args, **kwargs):
        steps = reading(*args, **kwargs)
        events.append("read")
        while True:
            try:
                next(steps)
            except StopIteration as done:
                return done.value
            events.append(f"part in {threading.current_thread().name}")
            yield

    monkeypatch.setattr(ColumnOrder, "reading", classmethod(in_parts))
    ordered_in = threads_calling(monkeypatch, OrderRead, "ordered")
    turns = QTimer(interval=0)
    turns.timeout.connect(lambda: events and events[-1] != "turn" and events.append("turn"))
    turns.start()
    main = threading.main_thread().name
    questions = ["Shoes?", "How fast?", "Knee pain?", "Hills?"]
    _window, tab = _tab(make_window, tmp_path, [Example.from_qa(q, "A.") for q in questions])
    tab.table.sortByColumn(COL_QUESTION, Qt.SortOrder.AscendingOrder)
    assert [tab.model.example(r).question for r in range(4)] == questions  # as they were
    assert tab.shown_label.text() == "Sorting 4 examples…"
    qtbot.waitUntil(lambda: not tab.model.sort_pending)
    assert [tab.model.example(r).question for r in range(4)] == sorted(questions)
    parts = [event for event in events if event.startswith("part")]
    assert len(parts) > 4 and set(parts) == {f"part in {main}"}
    between = events[events.index(parts[0]) : len(events) - events[::-1].index(parts[-1])]
    assert between.count("turn") >= len(parts) - 1  # the window's turn after each
    assert ordered_in and main not in ordered_in
    qtbot.waitUntil(lambda: tab.shown_label.text() == "4 examples")
    tab.table.sortByColumn(COL_QUESTION, Qt.SortOrder.DescendingOrder)
    assert [tab.model.example(r).question for r in range(4)] == sorted(questions, reverse=True)
    assert events.count("read") == 1

    # more rows changed since the read than it places again (2,000): a filter waits for the
    # order read again, as a header click does (by value it held the UI thread 150–230 ms
    # at 100,000 examples, after approving all while sorted by status, or an import)
    monkeypatch.setattr(column_order, "PATCHED_AT_MOST", 1)
    for row, question in ((0, "Apples?"), (1, "Zebras?")):
        tab.model.setData(tab.model.index(row, COL_QUESTION), question)
    questions = [tab.model.example(r).question for r in range(4)]
    tab.status_filter.setCurrentIndex(tab.status_filter.findData("draft"))
    assert tab.shown_label.text() == "Sorting 4 examples…"
    assert tab._order_timer.isActive() and events.count("read") == 1  # once repainted
    qtbot.waitUntil(lambda: not tab.model.sort_pending)
    assert [tab.model.example(r).question for r in range(4)] == sorted(questions, reverse=True)
    assert events.count("read") == 2
    qtbot.waitUntil(lambda: tab.shown_label.text() == "4 examples")
    turns.stop()


def test_a_click_on_another_column_drops_the_read_under_way(
    make_window, tmp_path, qtbot, monkeypatch
) -> None:
    """On a large project, a click on another column while a column's order is read: that
    read stops at the window's next turn, and the column clicked last is read (at 1,000,000
    rows the grid said it sorted for seconds more while the first column was read out)."""
    from PySide6.QtCore import QTimer

    from persona_studio.gui import dataset_tab
    from persona_studio.gui.models import column_order, examples_model
    from persona_studio.gui.models.column_order import ColumnOrder

    monkeypatch.setattr(examples_model, "ORDER_IN_PARTS_FROM", 3)
    monkeypatch.setattr(column_order, "READ_PART", 1)
    monkeypatch.setattr(dataset_tab, "ORDER_TURN_S", 0.0)  # the window's turn after each part
    parts: dict[int, int] = {}
    read_out: list[int] = []
    reading = ColumnOrder.reading.__func__

    def counted(cls, column, *args, **kwargs):
        steps = reading(cls, column, *args, **kwargs)
        while True:
            try:
                next(steps)
            except StopIteration as done:
                read_out.append(column)
                return done.value
            parts[column] = parts.get(column, 0) + 1
            if column == COL_QUESTION and parts[column] == 2:  # a click between two parts
                QTimer.singleShot(0, lambda: tab.table.sortByColumn(COL_ANSWER, ascending))
            yield

    monkeypatch.setattr(ColumnOrder, "reading", classmethod(counted))
    ascending = Qt.SortOrder.AscendingOrder
    pairs = [("Shoes?", "Yes."), ("How fast?", "Easy."), ("Knee pain?", "Rest."), ("Hills?", "Go.")]
    _window, tab = _tab(make_window, tmp_path, [Example.from_qa(q, a) for q, a in pairs])
    tab.table.sortByColumn(COL_QUESTION, ascending)
    qtbot.waitUntil(lambda: not tab.model.sort_pending and COL_ANSWER in parts)
    answers = [tab.model.example(r).answer for r in range(4)]
    assert answers == sorted(a for _q, a in pairs)
    assert read_out == [COL_ANSWER]  # the question's read was dropped half-way
    assert parts[COL_QUESTION] < parts[COL_ANSWER]
    qtbot.waitUntil(lambda: tab.shown_label.text() == "4 examples")


def test_paste_rows_from_a_spreadsheet_and_copy_back(make_window, tmp_path) -> None:
    window, tab = _tab(make_window, tmp_path, [])
    QGuiApplication.clipboard().setText(
        "Q one\tA one\tapproved\ttag1, tag2\nbad line\nQ two\tA two\n"
    )
    tab.paste()
    stored = _stored(window)
    assert [(e.question, e.answer, e.status, e.tags) for e in stored] == [
        ("Q one", "A one", "approved", ["tag1", "tag2"]),
        ("Q two", "A two", "draft", []),
    ]
    tab.table.selectAll()
    tab.copy_selected()
    assert QGuiApplication.clipboard().text() == (
        "Q one\tA one\tapproved\ttag1, tag2\nQ two\tA two\tdraft\t"
    )
    window.undo_stack.undo()
    assert _stored(window) == []


def test_pasted_rows_are_selected_where_the_sort_puts_them(make_window, tmp_path) -> None:
    """The rows a paste adds are selected (found by their places: the last in the project),
    wherever the grid's sort puts them, and only those a filter shows; the first pasted shown
    is the current row."""
    examples = [Example.from_qa(q, "A.") for q in ["Bravo?", "Delta?", "Foxtrot?"]]
    _window, tab = _tab(make_window, tmp_path, examples)
    tab.table.sortByColumn(COL_QUESTION, Qt.SortOrder.AscendingOrder)
    QGuiApplication.clipboard().setText("Echo?\tA.\nAlpha?\tA.\nCharlie?\tA.\n")
    tab.paste()
    questions = [tab.model.example(r).question for r in range(tab.model.shown)]
    assert questions == ["Alpha?", "Bravo?", "Charlie?", "Delta?", "Echo?", "Foxtrot?"]
    assert [e.question for e in tab._selected_examples()] == ["Alpha?", "Charlie?", "Echo?"]
    assert tab._current_example().question == "Echo?"
    tab.status_filter.setCurrentIndex(tab.status_filter.findData("approved"))  # shows none
    QGuiApplication.clipboard().setText("Golf?\tA.\tapproved\nHotel?\tA.\n")
    tab.paste()
    assert [e.question for e in tab._selected_examples()] == ["Golf?"]
    assert tab._current_example().question == "Golf?"


def _copying_four_rows(make_window, tmp_path):
    """A tab with four examples, all selected and copied, the clipboard holding "before" till
    then; with what the status bar said."""
    examples = [Example.from_qa(f"Q{i}?", f"A{i}.") for i in range(4)]
    window, tab = _tab(make_window, tmp_path, examples)
    said: list[str] = []
    tab.status_message.connect(said.append)
    QGuiApplication.clipboard().setText("before")
    tab.table.selectAll()
    tab.copy_selected()
    return window, tab, said


def test_many_rows_are_copied_and_pasted_in_a_thread(
    make_window, tmp_path, run_async, monkeypatch
) -> None:
    """Issue 21: copying 100,000 rows held the UI thread 0.54 s (writing them out), pasting
    them ~0.8 s (reading them back). Many rows are written out and read in a worker thread,
    the status bar saying so; a newer copy supersedes one under way; a paste says what it
    left out, that there was nothing to paste, or that there is too much."""
    from persona_studio.core.importers import limits
    from persona_studio.gui import dataset_tab

    monkeypatch.setattr(dataset_tab, "CLIPBOARD_IN_THREAD_FROM", 3)
    threads: list[str] = []
    for name in ("examples_tsv", "examples_from_tsv"):
        work = getattr(dataset_tab, name)
        monkeypatch.setattr(
            dataset_tab,
            name,
            lambda *a, _work=work: threads.append(threading.current_thread().name) or _work(*a),
        )
    window, tab, said = _copying_four_rows(make_window, tmp_path)
    clipboard = QGuiApplication.clipboard()
    assert said[-1] == "Copying 4 examples…" and clipboard.text() == "before"
    first = tab._copying
    tab.table.selectRow(0)
    tab.copy_selected()  # (one row: at once) supersedes the copy under way
    assert clipboard.text() == "Q0?\tA0.\tdraft\t"
    run_async(first)
    assert clipboard.text() == "Q0?\tA0.\tdraft\t" and said[-1] == "Copying 4 examples…"
    tab.table.selectAll()
    tab.copy_selected()
    run_async(tab._copying)
    assert clipboard.text().splitlines()[3] == "Q3?\tA3.\tdraft\t"
    assert said[-1] == "Copied 4 examples: paste them into a spreadsheet."
    main = threading.main_thread().name
    assert sorted(name == main for name in threads) == [False, False, True]  # (the one row)

    clipboard.setText("New 1?\tYes.\nonly a question\n\nNew 2?\tNo.\tapproved\n")
    tab.paste()
    assert said[-1] == "Reading 4 pasted rows…" and len(_stored(window)) == 4
    run_async(tab._pasting)
    assert [(e.question, e.status) for e in _stored(window)[4:]] == [
        ("New 1?", "draft"),
        ("New 2?", "approved"),
    ]
    assert said[-1].startswith(
        "Pasted 2 examples; 1 row without both a question and an answer left out."
    )
    assert tab._selected_ids() == [e.id for e in _stored(window)[4:]]
    assert threads[-1] != main
    window.undo_stack.undo()
    assert len(_stored(window)) == 4

    clipboard.setText("no tab in this text")
    tab.paste()
    assert said[-1].startswith("Nothing to paste: copy rows from a spreadsheet")
    monkeypatch.setattr(limits, "MAX_ROWS", 2)
    clipboard.setText("Q?\tA.\nQ?\tA.\nQ?\tA.")
    tab.paste()
    assert said[-1].startswith("Too many rows to paste (3; at most 2)")
    clipboard.setText("Q?\tA.\rQ?\tA.\rQ?\tA.\r")  # (rows ended by \r alone count too)
    tab.paste()
    assert said[-1].startswith("Too many rows to paste (3; at most 2)")
    assert len(_stored(window)) == 4


def test_a_copy_ending_while_another_app_is_in_front_waits_for_it_on_wayland(
    make_window, tmp_path, run_async, monkeypatch
) -> None:
    """Wayland lets only the app in front set the clipboard (X11 takes it any time): many rows
    written out in a thread, done while the creator is in another app, would be refused, and
    Qt cannot tell, so "Copied" would be said of nothing. The copy waits until the app is in
    front again, and says so."""
    from persona_studio.gui import dataset_tab

    monkeypatch.setattr(dataset_tab, "CLIPBOARD_IN_THREAD_FROM", 3)
    state = [Qt.ApplicationState.ApplicationInactive]
    monkeypatch.setattr(QGuiApplication, "platformName", staticmethod(lambda: "wayland"))
    monkeypatch.setattr(QGuiApplication, "applicationState", staticmethod(lambda: state[0]))
    _window, tab, said = _copying_four_rows(make_window, tmp_path)
    clipboard = QGuiApplication.clipboard()
    run_async(wait_until(lambda: "ready to copy" in said[-1]))
    assert said[-1] == (
        "4 examples ready to copy: they go to the clipboard when you come back to Persona Studio."
    )
    assert clipboard.text() == "before" and not tab._copying.done()
    app = QGuiApplication.instance()
    app.applicationStateChanged.emit(Qt.ApplicationState.ApplicationInactive)  # (not yet)
    run_async(asyncio.sleep(0.05))
    assert clipboard.text() == "before"
    state[0] = Qt.ApplicationState.ApplicationActive
    app.applicationStateChanged.emit(Qt.ApplicationState.ApplicationActive)
    run_async(tab._copying)
    assert clipboard.text().splitlines()[3] == "Q3?\tA3.\tdraft\t"
    assert said[-1] == "Copied 4 examples: paste them into a spreadsheet."


def test_conversation_editor_turns_weights_and_own_prompt(make_window, tmp_path, qtbot) -> None:
    window, tab = _tab(make_window, tmp_path, [Example.from_qa("Hi", "Hello")])
    tab.table.selectRow(0)
    detail = tab.detail
    qtbot.mouseClick(detail.add_turn, Qt.MouseButton.LeftButton)
    assert _stored(window)[0].turn_count == 4
    detail = tab.detail
    detail._turns[2][0].setPlainText("And then?")
    detail._turns[3][0].setPlainText("Then rest.")
    detail._turns[1][1].setChecked(False)  # do not learn from the first reply
    detail.own_prompt.setChecked(True)
    detail.prompt.setPlainText("Special prompt")
    detail.commit()
    stored = _stored(window)[0]
    assert [m["content"] for m in stored.messages] == ["Hi", "Hello", "And then?", "Then rest."]
    assert stored.messages[1]["weight"] == 0 and stored.system_prompt == "Special prompt"
    assert tab.model.data(tab.model.index(0, COL_QUESTION)).startswith("[2 turns]")
    window.undo_stack.undo()
    assert _stored(window)[0].turn_count == 4 and _stored(window)[0].system_prompt is None


def test_preflight_runs_off_the_ui_thread_and_marks_rows(make_window, tmp_path, run_async) -> None:
    examples = [
        Example.from_qa(f"Question number {i} about running?", f"Answer {i}.", status="approved")
        for i in range(12)
    ]
    examples.append(Example.from_qa("Lose weight?", "I promise weight-loss results!"))
    examples.append(Example.from_qa("  ", "empty question", status="approved"))
    window, tab = _tab(make_window, tmp_path, examples)
    window.session.project.set_test_share(0.0)  # random ids: keep none aside, every count fixed
    tab.run_preflight()
    run_async(wait_until(lambda: tab.report is not None, timeout=15))
    text = tab.preflight_summary.text()
    assert "13 approved" in text and "problem to fix" in text and "$" in text
    assert "weight-loss" in tab.model.data(tab.model.index(12, 6))
    assert tab.model.data(tab.model.index(0, 5)) == f"{tab.report.tokens[examples[0].id]:,}"
    tab.issues_only.setChecked(True)
    assert tab.model.shown == 2
    tab.issues_only.setChecked(False)
    tab.min_tokens.setValue(tab.report.tokens[examples[13].id])
    tab._apply_filters()
    assert tab.model.shown >= 1 and all(
        tab.report.tokens[tab.model.example(r).id] >= tab.min_tokens.value()
        for r in range(tab.model.shown)
    )


def test_import_dialog_previews_maps_and_adds(make_window, tmp_path, qtbot, run_async) -> None:
    window, tab = _tab(make_window, tmp_path, [Example.from_qa("Old", "Kept")])
    csv = tmp_path / "data.csv"
    csv.write_text("Prompt,Response,Notes\nq1,a1,x\nq2,,y\nq3,a3,z\n")
    dialog = tab.open_import(csv)
    assert dialog._task is None  # the file is read once the dialog has painted
    run_async(wait_until(lambda: dialog.ok.isEnabled()))
    assert dialog.mapping["question"].currentText() == "Prompt"
    assert dialog.preview.rowCount() == 2 and "row 3: no answer" in dialog.skipped.text()
    dialog.mapping["answer"].setCurrentIndex(dialog.mapping["answer"].findData("Notes"))
    dialog.mapping["answer"].activated.emit(0)
    # the rows are made examples again in a worker thread: till then the old ones cannot go in
    assert not dialog.ok.isEnabled()
    run_async(wait_until(lambda: dialog.ok.isEnabled()))
    assert dialog.preview.rowCount() == 3
    dialog.mapping["answer"].setCurrentIndex(dialog.mapping["answer"].findData("Response"))
    dialog.mapping["answer"].activated.emit(0)
    run_async(wait_until(lambda: dialog.ok.isEnabled()))
    dialog.accept()
    assert [e.question for e in _stored(window)] == ["Old", "q1", "q3"]
    window.undo_stack.undo()
    assert [e.question for e in _stored(window)] == ["Old"]


def test_import_replace_and_broken_file(make_window, tmp_path, run_async) -> None:
    window, tab = _tab(make_window, tmp_path, [Example.from_qa("Old", "Gone")])
    jsonl = tmp_path / "chat.jsonl"
    jsonl.write_text(
        '{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}\n'
    )
    dialog = tab.open_import(jsonl)
    run_async(wait_until(lambda: dialog.ok.isEnabled()))
    dialog.replace.setChecked(True)
    dialog.accept()
    assert [e.question for e in _stored(window)] == ["q"]
    window.undo_stack.undo()  # one step undoes the whole import
    assert [e.question for e in _stored(window)] == ["Old"]
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"nope")
    dialog = tab.open_import(bad)
    run_async(wait_until(lambda: "Nothing was imported" in dialog.status.text()))
    assert not dialog.ok.isEnabled()


def test_delete_in_the_search_box_edits_text_not_examples(make_window, tmp_path, qtbot) -> None:
    window, tab = _tab(make_window, tmp_path, [Example.from_qa("Q", "A")])
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    tab.table.selectRow(0)
    tab.search.setFocus()
    qtbot.waitUntil(tab.search.hasFocus)
    qtbot.keyClicks(tab.search, "ab")
    qtbot.keyClick(tab.search, Qt.Key.Key_Home)
    qtbot.keyClick(tab.search, Qt.Key.Key_Delete)
    assert tab.search.text() == "b"
    assert len(_stored(window)) == 1


def test_export_menu_offers_every_format(make_window, tmp_path) -> None:
    window, _ = _tab(make_window, tmp_path, [])
    window.export_menu.aboutToShow.emit()
    names = [a.objectName() for a in window.export_menu.actions()]
    assert names == [
        f"action_export_{f}"
        for f in (
            "card-v2-png",
            "card-v2-json",
            "card-v3-json",
            "naas-plugin",
            "openai-jsonl",
            "csv",
        )
    ]


def test_move_examples_up_and_down(make_window, tmp_path) -> None:
    window, tab = _tab(make_window, tmp_path, [Example.from_qa(f"Q{i}", "A") for i in range(3)])
    tab.table.selectRow(2)
    tab.move_current(-1)
    assert [e.question for e in _stored(window)] == ["Q0", "Q2", "Q1"]
    assert tab.model.example(1).question == "Q2"
    tab.move_current(-1)
    tab.move_current(-1)  # already first: nothing happens
    assert [e.question for e in _stored(window)] == ["Q2", "Q0", "Q1"]
    window.undo_stack.undo()
    window.undo_stack.undo()
    assert [e.question for e in _stored(window)] == ["Q0", "Q1", "Q2"]


def test_the_import_dialog_always_ends_with_a_result_or_a_message(
    make_window, tmp_path, run_async, monkeypatch
) -> None:
    """Issue 15 item 8: after an importer crash the dialog stayed at "Reading the file…"."""
    import persona_studio.gui.dialogs.import_dialog as import_dialog
    from persona_studio.gui.dialogs.import_dialog import ImportDialog

    path = tmp_path / "data.csv"
    path.write_text("question,answer\nQ?,A.\n")

    def broken(*_args, **_kwargs):
        raise IndexError("list index out of range")  # as a reader's bug would

    monkeypatch.setattr(import_dialog, "read_table", broken)
    dialog = ImportDialog(path)
    run_async(wait_until(lambda: "Reading" not in dialog.status.text(), timeout=5))
    assert "Something unexpected went wrong" in dialog.status.text()
    assert "Nothing was imported" in dialog.status.text() and not dialog.ok.isEnabled()


def test_adding_the_same_import_twice_adds_nothing_twice(make_window, tmp_path) -> None:
    import copy

    window, tab = _tab(make_window, tmp_path, [Example.from_qa("Q1", "A1")])
    imported = [Example.from_qa("Q2", "A2"), Example.from_qa("Q3", "A3")]
    tab.import_examples(copy.deepcopy(imported), replace=False)
    tab.import_examples(copy.deepcopy(imported), replace=False)  # the same file again
    assert sorted(e.question for e in _stored(window)) == ["Q1", "Q2", "Q3"]
    assert window.save_label.text() == "All changes saved"


def test_a_large_imports_new_examples_are_looked_up_in_a_thread_minding_changes(
    make_window, tmp_path, run_async, monkeypatch
) -> None:
    """Issue 21: looking 100,000 imported ids up among 100,000 examples' was 22 ms of the
    accept's stall. From `LOOKED_UP_IN_THREAD_FROM` a worker thread looks them up, a part at
    a time: a file added twice still adds nothing twice, and an example deleted meanwhile is
    looked up again (and added back with the import)."""
    from persona_studio.gui import dataset_tab, project_session

    monkeypatch.setattr(dataset_tab, "LOOKED_UP_IN_THREAD_FROM", 3)
    monkeypatch.setattr(project_session, "LOOKED_UP_AT_ONCE", 2)  # (several parts)
    looked_up_on = threads_calling(monkeypatch, project_session, "ids_of")
    window, tab = _tab(make_window, tmp_path, [Example.from_qa("Q1", "A1")])
    imported = [Example.from_qa(f"Q{i}", f"A{i}") for i in range(2, 7)]
    window.session.example_ids()  # (the project's own, read once)
    looked_up_on.clear()
    tab.import_examples(copy.deepcopy(imported), replace=False)
    run_async(wait_until(lambda: tab._importing.done()))
    assert looked_up_on and threading.main_thread().name not in looked_up_on
    assert window.undo_stack.undoText() == "Import 5 examples"
    again = [*copy.deepcopy(imported[1:]), Example.from_qa("Q7", "A7")]
    tab.import_examples(again, replace=False)  # the same file again, and one row more
    run_async(wait_until(lambda: tab._importing.done()))
    assert sorted(e.question for e in _stored(window)) == [f"Q{i}" for i in range(1, 8)]
    assert window.undo_stack.undoText() == "Import 1 examples"

    tab.import_examples(copy.deepcopy(imported), replace=False)
    window.session.remove_examples({imported[0].id})  # meanwhile: Q2 deleted
    run_async(wait_until(lambda: tab._importing.done()))
    assert sorted(e.question for e in _stored(window)) == [f"Q{i}" for i in range(1, 8)]
    assert window.undo_stack.undoText() == "Import 1 examples"
    assert window.save_label.text() == "All changes saved"


def test_damaged_examples_are_reported_not_shown_as_an_empty_dataset(make_window, tmp_path) -> None:
    import sqlite3

    path = tmp_path / "d.persona"
    examples = [Example.from_qa("Q1", "A1"), Example.from_qa("Q2", "A2")]
    Project.create(path, Persona(name="D"), examples=examples).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE examples SET messages = 'not json' WHERE id = ?", (examples[0].id,))
    db.commit()
    db.close()
    window = make_window()
    assert window.open_project(path)
    window.tabs.setCurrentIndex(1)
    tab = window.dataset_tab
    assert tab.model.rowCount() == 1
    assert "1 damaged example could not be read" in tab.shown_label.text()


def test_the_import_dialog_asks_whether_the_file_is_ready_to_train(
    make_window, tmp_path, run_async
) -> None:
    """A seed-shaped file (question, answer: no status) comes in approved by default, and as
    drafts when the creator says it needs review; a row's own status is kept either way."""
    from persona_studio.gui.dialogs.import_dialog import ImportDialog

    path = tmp_path / "data.csv"
    path.write_text("Questions,Answers,status\nQ1?,A1.,\nQ2?,A2.,rejected\nQ3?,A3.,\n")
    dialog = ImportDialog(path)
    run_async(wait_until(lambda: dialog.ok.isEnabled(), timeout=5))
    assert dialog.ready.isChecked() and dialog.add.isChecked()  # two separate choices
    assert "2 ready to train, 1 to review" in dialog.status.text()
    assert [e.status for e in dialog.result_examples()] == ["approved", "rejected", "approved"]
    dialog.review.setChecked(True)
    assert dialog.add.isChecked()
    run_async(wait_until(lambda: "0 ready to train, 3 to review" in dialog.status.text()))
    assert [e.status for e in dialog.result_examples()] == ["draft", "rejected", "draft"]
    assert dialog.preview.item(0, 2).text() == "Draft"


def test_review_many_rows_at_once_buttons_menu_and_all_shown(make_window, tmp_path) -> None:
    """Approve, reject or mark as draft the selection (buttons and the right-click menu), or
    approve everything a filter shows — each one undo step."""
    examples = [Example.from_qa(f"Pace {i}?", f"Slow {i}.") for i in range(4)] + [
        Example.from_qa("Shoes?", "Light.")
    ]
    window, tab = _tab(make_window, tmp_path, examples)
    assert not tab.review_buttons["approved"].isEnabled()  # nothing selected yet
    assert tab.selection_label.text().startswith("0 approved: select rows and press Approve")
    tab.table.selectRow(0)
    tab.table.selectionModel().select(
        tab.model.index(1, 0),
        QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows,
    )
    assert tab.selection_label.text() == "2 selected:"
    tab.review_buttons["approved"].click()
    assert [e.status for e in _stored(window)] == ["approved"] * 2 + ["draft"] * 3
    tab._context_menu(QPoint(5, 5))
    actions = {a.text(): a for a in tab._menu.actions()}
    assert actions["Reject"].shortcut().toString() == "Ctrl+Shift+Return"
    actions["Reject"].trigger()
    assert [e.status for e in _stored(window)] == ["rejected"] * 2 + ["draft"] * 3
    window.undo_stack.undo()
    assert [e.status for e in _stored(window)] == ["approved"] * 2 + ["draft"] * 3

    tab.search.setText("pace")  # the filter shows the four "Pace" rows, two still drafts
    tab._apply_filters()
    assert tab.approve_shown.text() == "Approve all shown (2 more)"
    tab.approve_shown.click()
    assert [e.status for e in _stored(window)] == ["approved"] * 4 + ["draft"]  # not "Shoes?"
    assert window.undo_stack.undoText() == "Approve 2 shown examples"
    assert not tab.approve_shown.isEnabled()
    window.undo_stack.undo()
    assert [e.status for e in _stored(window)] == ["approved"] * 2 + ["draft"] * 3


def test_many_new_statuses_are_made_in_a_thread_minding_changes_meanwhile(
    make_window, tmp_path, run_async, monkeypatch
) -> None:
    """Issue 21: approving 130,000 shown rows made their new versions on the UI thread (~60 ms
    of the stall). From `STATUS_IN_THREAD_FROM` a worker thread makes them (approving all
    shown, or the review buttons on a selection), the buttons off meanwhile; if the examples
    change meanwhile, the rows shown (or selected) then are the ones changed."""
    from persona_studio.gui import dataset_tab

    monkeypatch.setattr(dataset_tab, "STATUS_IN_THREAD_FROM", 3)
    made_on: list[str] = []
    with_status = dataset_tab.DatasetTab._with_status
    monkeypatch.setattr(
        dataset_tab.DatasetTab,
        "_with_status",
        staticmethod(
            lambda ex, status: (
                made_on.append(threading.current_thread().name) or with_status(ex, status)
            )
        ),
    )
    examples = [Example.from_qa(f"Pace {i}?", f"Slow {i}.") for i in range(5)]
    window, tab = _tab(make_window, tmp_path, examples)
    replaced: list[int] = []  # the session's new lists made on the UI thread, not prepared
    replace = type(window.session).replace_example_contents
    monkeypatch.setattr(
        type(window.session),
        "replace_example_contents",
        lambda session, changed, **kw: (
            replaced.append(len(changed)) or replace(session, changed, **kw)
        ),
    )
    tab.approve_shown.click()
    assert not tab.approve_shown.isEnabled() and tab.approve_shown.text() == "Approving 5…"
    assert [e.status for e in _stored(window)] == ["draft"] * 5  # not yet
    run_async(wait_until(lambda: tab._restating.done()))
    assert [e.status for e in _stored(window)] == ["approved"] * 5
    assert [e.status for e in window.session.examples] == ["approved"] * 5
    assert replaced == []  # the worker made the lists too
    assert made_on and made_on[0] != threading.main_thread().name
    assert window.undo_stack.undoText() == "Approve 5 shown examples"
    assert not tab.approve_shown.isEnabled() and tab.approve_shown.text() == "Approve all shown"
    window.undo_stack.undo()
    assert [e.status for e in _stored(window)] == ["draft"] * 5

    assert replaced == [5]  # (the undo)
    tab.approve_shown.click()
    tab.table.selectRow(0)
    tab.set_status("rejected")  # meanwhile: a change of the examples
    run_async(wait_until(lambda: tab._restating.done()))
    assert [e.status for e in _stored(window)] == ["approved"] * 5  # as shown when done
    assert replaced == [5, 1, 5]  # the lists made again, here
    assert window.undo_stack.undoText() == "Approve 5 shown examples"
    window.undo_stack.undo()
    assert [e.status for e in _stored(window)] == ["rejected"] + ["draft"] * 4

    tab.table.selectAll()  # a selection of many: the same, from the review buttons
    tab.review_buttons["rejected"].click()
    assert not any(button.isEnabled() for button in tab.review_buttons.values())
    run_async(wait_until(lambda: tab._restating.done()))
    assert [e.status for e in _stored(window)] == ["rejected"] * 5
    assert window.undo_stack.undoText() == "Reject 5 examples"


def test_approving_all_shown_picks_them_in_a_thread_in_the_files_order(
    make_window, tmp_path, run_async, monkeypatch
) -> None:
    """Issue 21: picking the shown rows not approved, 200,000 rows sorted by question, took
    ~95 ms of the click's stall, read in the order shown (scattered in memory). A worker
    thread picks them now, in the examples' order; the rows shown when clicked are the ones
    approved, however the view is sorted or filtered."""
    from persona_studio.core import dataset
    from persona_studio.gui import dataset_tab

    monkeypatch.setattr(dataset_tab, "STATUS_IN_THREAD_FROM", 3)
    monkeypatch.setattr(dataset, "PICKED_AT_ONCE", 2)  # (several parts)
    picked_on: list[str] = []
    picked: list[list[str]] = []
    pick = dataset.not_approved_at

    def recorded(examples, rows):
        picked_on.append(threading.current_thread().name)
        chosen = pick(examples, rows)
        picked.append([e.question for e in chosen])
        return chosen

    monkeypatch.setattr(dataset_tab, "not_approved_at", recorded)
    examples = [
        Example.from_qa(q, "A.", status=status)
        for q, status in [
            ("e?", "draft"),
            ("d?", "approved"),
            ("c?", "draft"),
            ("b?", "rejected"),
            ("a?", "draft"),
            ("f tagged?", "draft"),
        ]
    ]
    examples[5].tags = ["other"]
    examples[0].tags = examples[2].tags = examples[3].tags = examples[4].tags = ["mine"]
    window, tab = _tab(make_window, tmp_path, examples)
    tab.table.sortByColumn(COL_QUESTION, Qt.SortOrder.AscendingOrder)
    tab._fill_tag_filter()
    tab.tag_filter.setCurrentIndex(tab.tag_filter.findData("mine"))
    assert tab.model.shown == 4
    tab.approve_shown.click()
    run_async(wait_until(lambda: tab._restating.done()))
    assert picked_on and picked_on[0] != threading.main_thread().name
    assert picked == [["e?", "c?", "b?", "a?"]]  # the file's order, not the view's
    assert [e.status for e in _stored(window)] == ["approved"] * 5 + ["draft"]
    assert window.undo_stack.undoText() == "Approve 4 shown examples"


def test_the_review_row_counts_right_through_edits_adds_and_deletes(make_window, tmp_path) -> None:
    """With every row shown, the review row takes the session's approved count (counted once
    per version of the list): it must follow each change, an add that grows the list too."""
    examples = [Example.from_qa(f"Q{i}?", f"A{i}.") for i in range(6)]
    window, tab = _tab(make_window, tmp_path, examples)

    def waiting() -> int:
        assert tab.model.shows_all(window.session.examples)
        expected = sum(e.status != "approved" for e in window.session.examples)
        assert tab._waiting == expected
        return expected

    assert waiting() == 6
    tab.table.selectRow(0)
    tab.review_buttons["approved"].click()
    assert waiting() == 5 and tab.approve_shown.text() == "Approve all shown (5 more)"
    tab.add_example()  # grows the list in place
    assert waiting() == 6 and window.session.example_counts() == (7, 1)
    window.session.add_examples([Example.from_qa("Imported?", "Yes.", status="approved")])
    assert waiting() == 6 and window.session.example_counts() == (8, 2)
    tab.table.selectRow(1)
    tab.review_buttons["approved"].click()
    assert waiting() == 5 and window.session.example_counts() == (8, 3)
    tab.table.selectRow(0)
    tab.delete_selected()
    assert waiting() == 5 and window.session.example_counts() == (7, 2)
    window.undo_stack.undo()
    assert waiting() == 5 and window.session.example_counts() == (8, 3)


def test_the_review_row_counts_the_rows_a_status_filter_shows(make_window, tmp_path) -> None:
    """A status filter shows that status only: its rows' count is known without counting
    them (~7 ms of the filter at 100,000), with a search too."""
    statuses = ["approved", "draft", "draft", "rejected", "approved", "draft"]
    examples = [Example.from_qa(f"Q{i}?", f"A{i}.", status=s) for i, s in enumerate(statuses)]
    window, tab = _tab(make_window, tmp_path, examples)

    def show(status: str, text: str = "") -> tuple[int, int, bool, str]:
        tab.status_filter.setCurrentIndex(tab.status_filter.findData(status))
        tab.search.setText(text)
        tab._apply_filters()
        button = tab.approve_shown
        return tab.model.shown, tab._waiting, button.isEnabled(), button.text()

    assert show("approved") == (2, 0, False, "Approve all shown")
    assert show("draft") == (3, 3, True, "Approve all shown")
    assert show("rejected") == (1, 1, True, "Approve all shown")
    assert show("draft", "Q5") == (1, 1, True, "Approve all shown")
    assert show("approved", "Q4") == (1, 0, False, "Approve all shown")
    assert show("", "Q") == (6, 4, True, "Approve all shown (4 more)")
    show("draft")
    tab.approve_shown.click()
    assert [e.status for e in _stored(window)] == ["approved"] * 3 + ["rejected"] + ["approved"] * 2
    assert show("draft") == (0, 0, False, "Approve all shown")


def test_enter_saves_a_cell_without_a_trailing_newline(make_window, tmp_path, qtbot) -> None:
    from PySide6.QtWidgets import QComboBox, QPlainTextEdit

    window, tab = _tab(make_window, tmp_path, [Example.from_qa("Q1", "A1")])
    window.show()
    qtbot.waitExposed(window)
    cell = tab.model.index(0, COL_ANSWER)
    tab.table.setCurrentIndex(cell)
    tab.table.edit(cell)
    editor = tab.table.findChild(QPlainTextEdit)
    qtbot.waitUntil(editor.isVisible)
    editor.selectAll()
    qtbot.keyClicks(editor, "First line")
    qtbot.keyClick(editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)  # a new line
    qtbot.keyClicks(editor, "second line")
    qtbot.keyClick(editor, Qt.Key.Key_Return)  # saves, as in a spreadsheet
    qtbot.waitUntil(lambda: _stored(window)[0].answer != "A1")
    assert _stored(window)[0].answer == "First line\nsecond line"

    status = tab.model.index(0, COL_STATUS)
    tab.table.edit(status)
    combo = tab.table.findChild(QComboBox)
    assert [combo.itemText(i) for i in range(combo.count())] == ["Draft", "Approved", "Rejected"]
    combo.setCurrentIndex(combo.findText("Approved"))
    tab.table.itemDelegate().commitData.emit(combo)
    assert _stored(window)[0].status == "approved"


def test_duplicate_delete_and_undo_say_what_changed(make_window, tmp_path, qtbot) -> None:
    window, tab = _tab(make_window, tmp_path, [Example.from_qa(f"Q{i}", f"A{i}") for i in range(4)])
    window.show()
    tab.table.selectRow(0)
    tab.duplicate_selected()
    assert window.statusBar().currentMessage().startswith("Added 1 copy as drafts")
    tab.table.selectRow(1)
    tab.table.selectionModel().select(
        tab.model.index(2, 0),
        QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows,
    )
    tab.delete_selected()
    assert window.statusBar().currentMessage() == "Deleted 2 examples. Ctrl+Z brings them back."
    window.findChild(type(window.menuBar().actions()[0]), "action_undo").trigger()
    assert window.statusBar().currentMessage() == "Undone: Delete 2 examples"
    assert len(_stored(window)) == 5
    window.findChild(type(window.menuBar().actions()[0]), "action_redo").trigger()
    assert window.statusBar().currentMessage() == "Redone: Delete 2 examples"
    assert len(_stored(window)) == 3


def test_an_empty_dataset_says_what_to_do_and_nothing_approved_says_how(
    make_window, tmp_path, qtbot
) -> None:
    window, tab = _tab(make_window, tmp_path, [])
    window.show()
    qtbot.waitUntil(tab.table.isVisible)
    assert tab.empty_state.isVisible() and "No examples yet" in tab.empty_state.text()
    assert tab.empty_state.width() > 100  # laid out over the grid
    window.session.add_examples([Example.from_qa("Q?", "A.")])
    assert not tab.empty_state.isVisible()
    assert tab.selection_label.text().startswith("0 approved: select rows and press Approve")
    tab.table.selectRow(0)
    tab.set_status("approved")
    tab.table.clearSelection()
    assert tab.selection_label.text() == "Select rows to review them:"


def test_a_large_projects_first_search_reads_the_texts_in_a_thread(
    make_window, tmp_path, qtbot, monkeypatch, run_async
) -> None:
    """From `SEARCH_TEXTS_IN_THREAD_FROM` examples the first search reads every example's text
    in a worker thread, then filters; the UI thread never builds it."""
    import persona_studio.gui.dataset_tab as dataset_tab
    import persona_studio.gui.models.examples_model as examples_model

    monkeypatch.setattr(dataset_tab, "SEARCH_TEXTS_IN_THREAD_FROM", 2)
    examples = [Example.from_qa(f"Question {i}?", f"Answer {i}.") for i in range(5)]
    examples.append(Example.from_qa("Knee pain?", "See a physio."))
    _window, tab = _tab(make_window, tmp_path, examples)
    main = threading.get_ident()
    built_on: set[int] = set()
    real = examples_model.search_text
    monkeypatch.setattr(
        examples_model,
        "search_text",
        lambda ex, **kw: built_on.add(threading.get_ident()) or real(ex, **kw),
    )
    tab.search.setText("physio")
    run_async(wait_until(lambda: tab.model.shown == 1))
    assert tab.model.example(0).question == "Knee pain?" and tab.model.search_ready
    assert built_on and main not in built_on
    tab.search.setText("question 3")  # the texts are kept: the next search uses them
    run_async(wait_until(lambda: tab.model.example(0).question == "Question 3?"))
    assert tab.model.shown == 1 and len(built_on) == 1


def test_a_very_large_projects_first_search_looks_in_the_texts_the_examples_hold(
    make_window, tmp_path, monkeypatch, run_async
) -> None:
    """Issue 21: from `FOLD_FROM` examples the first search keeps no lowercase copy of every
    text beside the examples (~525 MB at 1,000,000): they hold their texts folded, and the
    search looks in those very texts. The grid, what a search finds (in tags too), an edit
    and its undo read as before."""
    import persona_studio.gui.dataset_tab as dataset_tab
    import persona_studio.gui.models.examples_model as examples_model
    from persona_studio.core.dataset import search_text

    monkeypatch.setattr(dataset_tab, "SEARCH_TEXTS_IN_THREAD_FROM", 2)
    monkeypatch.setattr(examples_model, "FOLD_FROM", 2)
    examples = [
        Example.from_qa(f"Question {i} for Anna?", f"Answer {i}, Bob.", tags=["Knees"] * (i == 2))
        for i in range(5)
    ]
    window, tab = _tab(make_window, tmp_path, examples)
    model = tab.model
    tab.search.setText("FOR ANNA")
    run_async(wait_until(lambda: model.search_ready and model.shown == 5))
    held = window.session.examples
    assert all(model._haystack.texts[i] is search_text(ex) for i, ex in enumerate(held))
    assert held[0].messages_json() is None  # folded: the file's text is no longer held
    assert [model.data(model.index(i, COL_QUESTION)) for i in (0, 4)] == [
        "Question 0 for Anna?",
        "Question 4 for Anna?",
    ]
    for needle, found in (
        ("knees", ["Question 2 for Anna?"]),
        ("3, bob", ["Question 3 for Anna?"]),
    ):
        tab.search.setText(needle)
        run_async(wait_until(lambda needle=needle: model.filters.text == needle))
        assert [e.question for e in model.shown_examples()] == found

    assert model.setData(model.index(0, COL_ANSWER), "Fresh Answer about Knees")  # row 3
    assert _stored(window)[3].answer == "Fresh Answer about Knees"
    tab.search.setText("fresh answer")
    run_async(wait_until(lambda: model.filters.text == "fresh answer"))
    assert [e.question for e in model.shown_examples()] == ["Question 3 for Anna?"]
    window.undo_stack.undo()
    tab.search.setText("answer 3, bob")
    run_async(wait_until(lambda: model.filters.text == "answer 3, bob"))
    assert [e.answer for e in model.shown_examples()] == ["Answer 3, Bob."]
    assert [e.answer for e in _stored(window)] == [f"Answer {i}, Bob." for i in range(5)]


def test_a_large_projects_search_runs_a_part_at_a_time(
    make_window, tmp_path, monkeypatch, run_async
) -> None:
    """Issue 21: a search keystroke on a large project looks through a part of the rows at a
    time (~10 ms at 1,000,000 examples), and the window has its turn between: the rows found
    so far show, with a count. A newer keystroke drops it, new rows are chosen again, and the
    selection is kept."""
    import persona_studio.gui.dataset_tab as dataset_tab
    import persona_studio.gui.models.examples_model as examples_model

    monkeypatch.setattr(dataset_tab, "SEARCH_TEXTS_IN_THREAD_FROM", 2)
    monkeypatch.setattr(examples_model, "PART_ROWS", 2)
    monkeypatch.setattr(dataset_tab, "SHOW_EVERY", 0.0)  # the count at every part
    examples = [
        Example.from_qa(
            f"Question {i}?", f"Answer {i}.", status="approved" if i in (1, 4) else "draft"
        )
        for i in range(6)
    ]
    window, tab = _tab(make_window, tmp_path, examples)
    done = lambda text: lambda: tab.model.filters.text == text and not tab.model.searching  # noqa: E731
    tab.search.setText("question 1")
    run_async(wait_until(done("question 1")))
    assert tab.shown_label.text() == "Showing 1 of 6 examples"
    assert not tab.approve_shown.isEnabled()  # (approved: counted as the search found it)
    tab.search.setText("?")
    run_async(wait_until(done("?")))
    assert tab.approve_shown.text() == "Approve all shown (4 more)"

    tab.search.setText("")
    run_async(wait_until(done("")))
    tab.select_examples([examples[3].id])
    seen: list[tuple[str, str]] = []  # each part: the search's text, and the count shown
    search_part = tab.model.search_part

    approvable: list[bool] = []  # "Approve all shown", while a search is under way

    def part(scan):
        seen.append((scan.filters.text, tab.shown_label.text()))
        approvable.append(tab.approve_shown.isEnabled())
        if len(seen) == 3 and scan.filters.text == "question":
            tab.search.setText("answer")  # a newer keystroke, between two parts
            tab._search_timer.stop()
            tab._apply_filters()
        return search_part(scan)

    monkeypatch.setattr(tab.model, "search_part", part)
    tab.search.setText("question")
    run_async(wait_until(done("answer")))
    assert seen[0][0] == "question"  # (its first part, when the key came)
    assert seen[1] == ("question", "Searching 6 examples… 2 found so far")
    assert seen[2] == ("question", "Searching 6 examples… 4 found so far")
    assert all(text == "answer" for text, _ in seen[3:])  # the older search dropped
    assert not any(approvable[1:])  # (the first part runs before the window's turn)
    assert tab.shown_label.text() == "6 examples"
    assert tab._selected_ids() == [examples[3].id]  # found in a later part: selected again

    def choose(scan):  # the creator selects a row found, while the search goes on
        if scan.at == 2:
            tab.select_examples([examples[1].id])
        approvable.append(tab.approve_shown.isEnabled())
        return search_part(scan)

    monkeypatch.setattr(tab.model, "search_part", choose)
    monkeypatch.setattr(dataset_tab, "SHOW_EVERY", 60.0)  # no count before the end
    approvable.clear()
    tab.search.setText("answer ")
    run_async(wait_until(done("answer ")))
    assert tab._selected_ids() == [examples[1].id]  # theirs, not the one before
    assert len(approvable) == 3 and not any(approvable[1:])  # off from the search's start

    def watch(scan):
        approvable.append(tab.approve_shown.isEnabled())
        return search_part(scan)

    tab.table.clearSelection()  # (then no change of selection turns the button off)
    monkeypatch.setattr(tab.model, "search_part", watch)
    approvable.clear()
    tab.search.setText("answer")
    run_async(wait_until(done("answer")))
    assert len(approvable) == 3 and not any(approvable[1:])

    monkeypatch.setattr(tab.model, "search_part", search_part)
    tab.search.setText("answer 2")
    run_async(wait_until(done("answer 2")))
    tab.search.setText("question")
    window.session.remove_examples({window.session.examples[2].id})  # before its first turn
    run_async(wait_until(done("question")))
    assert [e.question for e in tab.model.shown_examples()] == [
        f"Question {i}?" for i in (0, 1, 3, 4, 5)
    ]


def _held_search_texts(monkeypatch, tab) -> threading.Event:
    """The search texts' worker waits for the event returned before it reads them."""
    release = threading.Event()
    build = tab.model.search_text_builder

    def held_builder():
        real = build()
        return lambda: release.wait(10) and real()

    monkeypatch.setattr(tab.model, "search_text_builder", held_builder)
    return release


def test_a_large_projects_first_search_says_it_is_searching(
    make_window, tmp_path, monkeypatch, run_async
) -> None:
    """Seconds at 1,000,000 examples: the grid says what the wait is, while there is a search
    to wait for, whatever else updates the counts meanwhile."""
    import persona_studio.gui.dataset_tab as dataset_tab

    monkeypatch.setattr(dataset_tab, "SEARCH_TEXTS_IN_THREAD_FROM", 2)
    examples = [Example.from_qa(f"Question {i}?", f"Answer {i}.") for i in range(5)]
    _window, tab = _tab(make_window, tmp_path, examples)
    release = _held_search_texts(monkeypatch, tab)
    said = lambda text: wait_until(lambda: tab.shown_label.text() == text)  # noqa: E731
    tab.search.setText("question")  # (after the search box's pause)
    run_async(said("Searching 5 examples…"))
    tab._show_counts()  # as a check's report arriving meanwhile does
    assert tab.shown_label.text() == "Searching 5 examples…"
    tab.search.setText("")  # nothing to wait for now
    run_async(said("5 examples"))
    tab.search.setText("question 2")
    run_async(said("Searching 5 examples…"))
    release.set()
    run_async(wait_until(lambda: tab.shown_label.text() == "Showing 1 of 5 examples"))
    assert [e.question for e in tab.model.shown_examples()] == ["Question 2?"]


def test_a_project_closed_while_search_texts_are_read_is_left_alone(
    make_window, tmp_path, monkeypatch, run_async
) -> None:
    import persona_studio.gui.dataset_tab as dataset_tab

    monkeypatch.setattr(dataset_tab, "SEARCH_TEXTS_IN_THREAD_FROM", 2)
    examples = [Example.from_qa(f"Question {i}?", f"Answer {i}.") for i in range(5)]
    window, tab = _tab(make_window, tmp_path, examples)
    release = _held_search_texts(monkeypatch, tab)
    tab.search.setText("question")
    run_async(wait_until(lambda: tab._reading_texts is not None))
    assert window.session.close()
    release.set()
    run_async(wait_until(tab._reading_texts.done))
    assert tab._reading_texts.exception() is None and not tab.model.search_ready


@pytest.mark.parametrize("merged_from", [0, 8, 1_000_000])  # bisection, either, one sort
def test_undoing_scattered_deletes_puts_each_example_back_in_its_place(
    make_window, tmp_path, qtbot, monkeypatch, merged_from
) -> None:
    from persona_studio.gui import project_session

    monkeypatch.setattr(project_session, "RESTORE_MERGED_FROM", merged_from)
    examples = [Example.from_qa(f"Q{i}?", f"A{i}.", status="approved") for i in range(30)]
    window, tab = _tab(make_window, tmp_path, examples)
    order = [ex.id for ex in examples]

    def select(rows: list[int]) -> None:
        from PySide6.QtCore import QItemSelection, QItemSelectionModel

        selection = QItemSelection()
        for row in rows:
            selection.select(tab.model.index(row, 0), tab.model.index(row, 0))
        flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
        tab.table.selectionModel().select(selection, flags)

    select([0, 1, 7, 15, 16, 29])  # the first, the last, runs and single rows
    tab.delete_selected()
    kept = [i for n, i in enumerate(order) if n not in (0, 1, 7, 15, 16, 29)]
    assert [ex.id for ex in window.session.examples] == kept
    assert not tab._selected_rows()  # the deleted rows are not reselected
    assert not window.session.known([order[7]]) and window.session.known([order[8]])
    select([3, 10])
    tab.delete_selected()  # a second delete, of rows between the first one's
    window.undo()
    window.undo()
    assert [ex.id for ex in window.session.examples] == order
    assert [ex.id for ex in _stored(window)] == order  # the file in the same order
    assert [tab.model.example(r).id for r in range(30)] == order
    window.redo()  # the first delete again
    assert [ex.id for ex in window.session.examples] == kept
    tab.add_example()  # a new one, after the last
    assert len(window.session.examples) == len(kept) + 1
    window.undo()
    window.undo()
    assert [ex.id for ex in window.session.examples] == order


def test_the_ids_the_session_keeps_follow_every_change(make_window, tmp_path) -> None:
    """Edits, deletes and undos find their examples among ids the session keeps with the list
    and carries over from change to change (issue 21: at 1,000,000 examples reading every id
    again took 45–100 ms of each one): after any mix of changes they are the list's ids."""
    import random

    from persona_studio.core.dataset import ids_of, positions_of

    rng = random.Random(21)
    window, tab = _tab(make_window, tmp_path, [Example.from_qa(f"Q{i}?", "A.") for i in range(40)])
    session = window.session
    undo: list[list[tuple[float, Example]]] = []  # deletes, undone last first, as the stack
    for step in range(120):
        examples = session.examples
        action = rng.random()
        if action < 0.25:
            session.add_examples([Example.from_qa(f"New {step}?", "A.") for _ in range(2)])
            undo.clear()  # the stack would undo this first
        elif action < 0.5 and len(examples) > 5:
            undo.append(session.remove_examples({e.id for e in rng.sample(examples, 3)}))
        elif action < 0.7 and undo:
            session.restore_examples(undo.pop())
        elif action < 0.9:
            picked = rng.sample(examples, 2)
            session.replace_example_contents(
                [Example.from_qa(f"Edited {step}?", "A.", id=e.id) for e in picked]
            )
        else:
            first, second = rng.sample(examples, 2)
            session.swap_examples(first.id, second.id)
            undo.clear()
        wanted = {e.id for e in rng.sample(session.examples, 4)}
        assert session.example_ids() == ids_of(session.examples), step
        assert session.where(wanted) == positions_of(session.examples, wanted), step
    assert [e.id for e in _stored(window)] == ids_of(session.examples)
    assert [tab.model.example(r).id for r in range(tab.model.rowCount())] == session.example_ids()


def test_a_large_projects_changes_leave_their_lists_out_of_the_collectors_sight(
    make_window, tmp_path, monkeypatch
) -> None:
    """Issue 21: each change makes lists of every example (the session's, the grid's rows), and
    at 1,000,000 examples a collector's pass that met one took 70–130 ms of an undo's or an
    edit's stall. A large project's change runs with the collector paused, then freezes what
    it made; the collector is on again after it."""
    import gc

    from persona_studio.gui import project_session

    window, tab = _tab(make_window, tmp_path, [Example.from_qa(f"Q{i}?", "A.") for i in range(30)])
    session = window.session
    monkeypatch.setattr(project_session, "FREEZE_FROM", 20)
    paused: list[bool] = []
    tab.model.modelReset.connect(lambda: paused.append(gc.isenabled()))
    try:
        removed = session.remove_examples({session.examples[3].id})
        assert paused == [False] and gc.isenabled()
        tracked = {id(o) for o in gc.get_objects()}
        assert id(session.examples) not in tracked and id(session.example_ids()) not in tracked
        session.restore_examples(removed)
        assert paused == [False, False] and gc.isenabled()
        assert id(session.examples) not in {id(o) for o in gc.get_objects()}
        monkeypatch.setattr(project_session, "FREEZE_FROM", 1_000)  # a small project's change
        session.remove_examples({session.examples[3].id})
        assert gc.isenabled() and id(session.examples) in {id(o) for o in gc.get_objects()}
    finally:
        gc.unfreeze()  # the objects frozen here, back in the collector's sight


def test_an_import_dialog_closed_with_its_window_mid_mapping_is_let_go_quietly(
    tmp_path, qtbot, run_async, caplog
) -> None:
    """Its window closed (and took the dialog) while its rows were still being mapped in a
    worker: when that ends, nothing is left to delete, and nothing fails."""
    from PySide6.QtWidgets import QWidget

    from persona_studio.gui.dialogs.import_dialog import ImportDialog

    path = tmp_path / "data.csv"
    path.write_text("question,answer\nQ1?,A1.\n")
    window = QWidget()
    dialog = ImportDialog(path, window)
    run_async(wait_until(lambda: dialog.ok.isEnabled()))
    release = asyncio.Event()

    async def still_mapping() -> None:
        await release.wait()

    dialog._mapping = asyncio.ensure_future(still_mapping())
    dialog.reject()
    window.deleteLater()
    qtbot.wait(50)  # the window, and the dialog with it, deleted
    release.set()
    run_async(asyncio.sleep(0.05))
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
