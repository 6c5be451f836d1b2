"""What keeps a large project fluid: the offline engine's index and a large dataset are built
and read in worker threads, never on the UI thread, and edits never change an example that a
worker's snapshot or the undo stack holds (copy on write)."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import threading
from collections.abc import Callable
from typing import Any

import pytest

from persona_studio.core import retrieval
from persona_studio.core.dataset import Example, approved_count
from persona_studio.core.persona import Persona
from persona_studio.core.project import Project
from persona_studio.gui import project_session
from persona_studio.gui.models.examples_model import COL_ANSWER, COL_STATUS
from persona_studio.gui.undo import EditExamples
from tests.conftest import file_taken, fill_the_disk, threads_calling, wait_until


def _window(make_window, tmp_path, n: int = 30):
    path = tmp_path / "big.persona"
    examples = [
        Example.from_qa(f"How do I pace run {i}?", f"Slowly, run {i}.", status="approved")
        for i in range(n)
    ]
    Project.create(path, Persona(name="Big"), examples=examples).close()
    window = make_window()
    assert window.open_project(path)
    return window


def _held(monkeypatch, project, method: str) -> tuple[list[str], threading.Event]:
    """Make the project's `method` wait until the event is set (reading a million examples,
    say, or writing them); each call's thread name goes to the list."""
    original = getattr(type(project), method)
    threads: list[str] = []
    release = threading.Event()

    def held(self, *args, **kwargs):
        threads.append(threading.current_thread().name)
        release.wait(10)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(type(project), method, held)
    return threads, release


def _importing(make_window, tmp_path, monkeypatch) -> tuple[Any, list[str], threading.Event]:
    """A window with 3 examples, whose import of 25 more is being written in a worker thread,
    held there until the event is set (the write's thread names go to the list)."""
    monkeypatch.setattr(project_session, "BACKGROUND_WRITE_FROM", 20)
    window = _window(make_window, tmp_path, n=3)
    threads, release = _held(monkeypatch, window.session.project, "add_examples")
    window.session.add_examples([Example.from_qa(f"Imported {i}?", "Yes.") for i in range(25)])
    return window, threads, release


def test_the_offline_index_is_built_in_a_worker_and_only_when_needed(
    make_window, tmp_path, run_async, monkeypatch
) -> None:
    built_on: list[str] = []
    original = retrieval.RetrievalIndex.__init__

    def spy(self, examples) -> None:
        built_on.append(threading.current_thread().name)
        original(self, examples)

    monkeypatch.setattr(retrieval.RetrievalIndex, "__init__", spy)
    window = _window(make_window, tmp_path)
    window.tabs.setCurrentIndex(3)
    chat = window.chat_tab
    chat.send_message("How do I pace run 7?")
    run_async(wait_until(lambda: all(p.messages and not p.busy for p in chat.panes)))
    assert chat.panes[0].messages[-1]["content"] == "Slowly, run 7."
    assert len(built_on) == 1 and built_on[0] != threading.main_thread().name
    chat.send_message("And run 8?")  # built once, kept until the dataset changes
    run_async(wait_until(lambda: all(not p.busy for p in chat.panes)))
    assert len(built_on) == 1
    # an edit is taken in by the index built (a build at 100,000 examples: 3–6 s a reply)
    session = window.session
    edited = dataclasses.replace(session.examples[7], messages=[
        {"role": "user", "content": "How do I pace a hill repeat?"},
        {"role": "assistant", "content": "Short and steady up the hill."},
    ])  # fmt: skip
    session.replace_example_contents([edited])
    chat.send_message("pace a hill repeat?")
    run_async(wait_until(lambda: all(not p.busy for p in chat.panes)))
    assert chat.panes[0].messages[-1]["content"] == "Short and steady up the hill."
    assert len(built_on) == 1
    # many at once (approving them all, say): taken in as the list, no word counted again
    many = [copy.copy(e) for e in session.examples[:12]]
    for e in many:
        e.status = "rejected" if e is many[0] else "approved"
    monkeypatch.setattr(project_session, "RETRIEVAL_EDITS_AT_MOST", 10)
    session.replace_example_contents(many)
    chat.send_message(session.examples[0].question)
    run_async(wait_until(lambda: all(not p.busy for p in chat.panes)))
    assert len(built_on) == 1  # and the rejected one is no answer now
    assert chat.panes[0].messages[-1]["content"] != session.examples[0].answer
    # a row added (a reply kept as an example, say) is taken in too
    window.session.add_examples([Example.from_qa("Brand new?", "Yes.", status="approved")])
    chat.send_message("Brand new?")
    run_async(wait_until(lambda: all(not p.busy for p in chat.panes)))
    assert len(built_on) == 1 and chat.panes[0].messages[-1]["content"] == "Yes."
    session.remove_examples({session.examples[-1].id})
    chat.send_message("Brand new?")
    run_async(wait_until(lambda: all(not p.busy for p in chat.panes)))
    assert len(built_on) == 1 and chat.panes[0].messages[-1]["content"] != "Yes."


def test_a_large_project_is_read_in_a_worker_while_the_grid_says_so(
    make_window, tmp_path, run_async, monkeypatch
) -> None:
    monkeypatch.setattr(project_session, "BACKGROUND_LOAD_FROM", 20)
    monkeypatch.setattr(project_session, "FIRST_ROWS", 5)
    window = _window(make_window, tmp_path, n=40)
    read_on, release = _held(monkeypatch, window.session.project, "examples_and_positions")
    window.show()
    window.tabs.setCurrentIndex(1)
    tab = window.dataset_tab
    assert tab.shown_label.text() == "Opening 40 examples…" and not tab.table.isEnabled()
    # meanwhile: the first rows, in order, to look at; nothing that would read them all
    run_async(wait_until(lambda: tab.model.rowCount() == 5))
    assert [tab.model.example(r).question for r in range(5)] == [
        f"How do I pace run {i}?" for i in range(5)
    ]
    assert "The first 5 are shown meanwhile." in tab.shown_label.text()
    assert not tab.table.isEnabled() and not tab.search.isEnabled()
    assert not tab.add_button.isEnabled() and not tab.status_filter.isEnabled()
    assert window.session.loading and not window.session.examples_loaded
    release.set()
    run_async(wait_until(lambda: tab.model.rowCount() == 40))
    assert tab.table.isEnabled() and tab.shown_label.text() == "40 examples"
    assert tab.search.isEnabled() and tab.add_button.isEnabled()
    assert window.session.first_rows == []
    assert read_on and threading.main_thread().name not in read_on
    # the check waited for the worker too, and ran once the examples were there
    run_async(wait_until(lambda: window.session.preflight.report is not None, 15))
    assert len(read_on) == 1


def test_a_large_project_is_read_once_the_window_has_painted_it(
    make_window, tmp_path, run_async, monkeypatch
) -> None:
    """Read when a tab first wanted them, the examples were read beside that tab's first paint
    (each of its calls into Python waited for the worker's turn with the interpreter lock): now
    the read starts a moment after the project opens, whichever tab shows, and the file is
    not asked anything meanwhile that would wait for the read."""
    monkeypatch.setattr(project_session, "BACKGROUND_LOAD_FROM", 20)
    window = _window(make_window, tmp_path, n=40)
    session, project = window.session, window.session.project
    assert not session.loading and not session.examples_loaded  # not in the open itself
    reads, release = _held(monkeypatch, project, "examples_and_positions")
    run_async(wait_until(lambda: session.loading))
    counts: list[str] = []  # asked on the UI thread now, the file would wait for the read
    count = type(project).example_count
    main = threading.main_thread()
    monkeypatch.setattr(
        type(project),
        "example_count",
        lambda self: (threading.current_thread() is main and counts.append("UI")) or count(self),
    )
    window.tabs.setCurrentIndex(1)
    tab = window.dataset_tab
    assert tab.shown_label.text() == "Opening 40 examples…" and counts == []
    release.set()
    # (the first rows, shown meanwhile, are all 40 here: wait for the read, not for them)
    run_async(wait_until(lambda: tab.model.rowCount() == 40 and tab.table.isEnabled()))
    assert reads == ["read-examples"] and tab.table.isEnabled()


def test_a_read_done_while_another_tab_shows_is_kept_for_the_dataset_tab(
    make_window, tmp_path, run_async, monkeypatch
) -> None:
    monkeypatch.setattr(project_session, "BACKGROUND_LOAD_FROM", 20)
    window = _window(make_window, tmp_path, n=40)
    run_async(wait_until(lambda: window.session.examples_loaded))  # on the Persona tab
    window.tabs.setCurrentIndex(1)
    tab = window.dataset_tab
    assert tab.model.rowCount() == 40 and tab.table.isEnabled()  # at once: nothing to wait for
    assert tab.shown_label.text() == "40 examples"


def test_a_use_of_the_examples_while_a_worker_reads_them_waits_for_that_read(
    make_window, tmp_path, run_async, monkeypatch
) -> None:
    """A dialog that needs all examples while they are being read used to read them all again
    on the UI thread, after waiting for the worker's read: at 1,000,000 examples, twice 6 s."""
    monkeypatch.setattr(project_session, "BACKGROUND_LOAD_FROM", 20)
    window = _window(make_window, tmp_path, n=40)
    reads, release = _held(monkeypatch, window.session.project, "examples_and_positions")
    window.tabs.setCurrentIndex(1)
    run_async(wait_until(lambda: window.session.loading))
    threading.Timer(0.3, release.set).start()
    assert len(window.session.examples) == 40  # waited for the worker's read
    assert reads == ["read-examples"]
    run_async(wait_until(lambda: window.dataset_tab.model.rowCount() == 40))
    assert reads == ["read-examples"] and window.session.first_rows == []


def test_edits_replace_examples_never_change_them(make_window, tmp_path) -> None:
    window = _window(make_window, tmp_path)
    window.tabs.setCurrentIndex(1)
    tab = window.dataset_tab
    snapshot = list(window.session.examples)  # what a worker or the undo stack holds
    frozen = copy.deepcopy(snapshot)
    tab.model.setData(tab.model.index(0, COL_ANSWER), "Edited in the grid.")
    tab.table.selectRow(1)
    tab.set_status("rejected")
    tab.table.selectRow(2)
    tab.detail.show_example(window.session.examples[2])
    window.undo()
    window.redo()
    tab.duplicate_selected()
    assert snapshot == frozen  # every edit above made new objects
    assert window.session.examples[0].answer == "Edited in the grid."


def test_an_edits_versions_are_stamped_by_their_editor_shared_and_saved_so(
    make_window, tmp_path, monkeypatch
) -> None:
    """Issue 21: the session made its own copy of each new version, for the file to stamp
    (a quarter of approving 33,000 of 100,000 rows; most of undoing it). It takes them as
    they are, shared with the undo stack; the editor stamped them, and the file keeps each
    version's time: an undo puts back the version before, with its time."""
    from persona_studio.core import dataset

    window = _window(make_window, tmp_path, n=3)
    window.tabs.setCurrentIndex(1)
    tab, session = window.dataset_tab, window.session
    first = session.examples[0]
    monkeypatch.setattr(dataset, "now_iso", lambda: "2026-12-05T10:00:00.000+00:00")
    tab.table.selectRow(0)
    tab.set_status("rejected")
    rejected = session.examples[0]
    command = window.undo_stack.command(window.undo_stack.index() - 1)
    assert command.after == [rejected] and command.after[0] is rejected  # shared, not copied
    assert rejected.updated_at == "2026-12-05T10:00:00.000+00:00" and rejected.status == "rejected"
    assert session.flush()

    def in_file() -> tuple[str, str]:
        saved = session.project.example(first.id)
        return saved.status, saved.updated_at

    assert in_file() == ("rejected", "2026-12-05T10:00:00.000+00:00")
    window.undo()
    assert session.examples[0] is first and session.flush()
    assert in_file() == ("approved", first.updated_at)


def _in_file(project) -> list[str]:
    """The questions the file holds now (committed: the project holds it for itself)."""
    return [ex.question for ex in project.examples()]


def test_a_large_change_is_written_in_a_worker_and_said_saved_once_on_disk(
    make_window, tmp_path, run_async, monkeypatch
) -> None:
    """An import of many examples is written in a worker thread (on the UI thread 100,000 took
    1.1–1.4 s); the writes after it wait their turn, and "All changes saved" waits for all."""
    monkeypatch.setattr(project_session, "BACKGROUND_WRITE_FROM", 50)
    window = _window(make_window, tmp_path, n=3)
    session, project = window.session, window.session.project
    threads, release = _held(monkeypatch, session.project, "add_examples")
    many = [Example.from_qa(f"Imported {i}?", "Yes.") for i in range(60)]
    session.add_examples(many)  # returns while the worker writes
    # the worker starts once the window has repainted (it would take the lock from the paint)
    assert "write-project" not in [thread.name for thread in threading.enumerate()]
    assert window.save_label.text() == "Saving…" and session.unsaved
    assert len(session.examples) == 63  # the window has them at once
    session.remove_examples({many[0].id})  # small: in its turn, after the import
    session.set_persona_field("description", "Typed meanwhile.")
    session._autosave()  # (the autosave's timer: it does not wait for the worker)
    assert window.save_label.text() == "Saving…" and len(_in_file(project)) == 3
    release.set()
    run_async(wait_until(lambda: window.save_label.text() == "All changes saved"))
    assert threads and threads[0] == "write-project"
    assert not session.unsaved
    assert _in_file(project) == [f"How do I pace run {i}?" for i in range(3)] + [
        f"Imported {i}?" for i in range(1, 60)
    ]
    assert project.persona().description == "Typed meanwhile."


def test_a_newer_write_of_a_whole_record_replaces_one_still_waiting(
    make_window, tmp_path, run_async, monkeypatch
) -> None:
    """A rescue's record and kept voice are written whole at each answer, behind a large
    write: only the newest of each still waiting is written (~2,000 of each, each encoding
    its whole record, were written one after another); the others keep their place, and a
    write under way is not dropped."""
    window, _threads, release = _importing(make_window, tmp_path, monkeypatch)
    session = window.session
    written: list[str] = []

    def write(name: str, whole: str | None = None) -> None:
        session._save_now(lambda: written.append(name), whole=whole)

    write("run 1", "run")
    write("voice 1", "voice")
    write("an edit")
    write("run 2", "run")
    write("voice 2", "voice")
    write("run 3", "run")
    assert written == []  # all behind the import
    release.set()
    run_async(wait_until(lambda: not session.unsaved))
    assert written == ["an edit", "voice 2", "run 3"]
    assert len(_in_file(session.project)) == 28  # the import, under way: written
    monkeypatch.setattr(project_session, "BACKGROUND_WRITE_FROM", 1)
    held, again = _held(monkeypatch, session.project, "save_run")
    session._save_now(lambda: session.project.save_run("r", "kind", "s", {}), whole="r")
    run_async(wait_until(lambda: bool(held)))  # under way in the worker
    write("r again", "r")
    again.set()
    run_async(wait_until(lambda: not session.unsaved))
    assert written[-1] == "r again" and [r.id for r in session.project.runs("kind")] == ["r"]


def test_saving_before_an_export_or_a_close_waits_for_a_write_in_a_worker(
    make_window, tmp_path, monkeypatch
) -> None:
    monkeypatch.setattr(project_session, "BACKGROUND_WRITE_FROM", 50)
    window = _window(make_window, tmp_path, n=3)
    session, project = window.session, window.session.project
    _threads, release = _held(monkeypatch, session.project, "add_examples")
    session.add_examples([Example.from_qa(f"Imported {i}?", "Yes.") for i in range(60)])
    threading.Timer(0.2, release.set).start()
    assert session.flush()  # waited for the worker: on disk now
    assert len(_in_file(project)) == 63 and not session.unsaved
    assert window.save_label.text() == "All changes saved"
    session.add_examples([Example.from_qa(f"More {i}?", "Yes.") for i in range(60)])
    path = project.path
    assert session.close()  # the same at close: nothing is lost
    window.session = None
    with Project.open(path) as reopened:
        assert len(_in_file(reopened)) == 123


def test_closing_during_a_large_write_closes_once_it_is_written(
    make_window, tmp_path, run_async, monkeypatch
) -> None:
    """Closing the window just after importing 100,000 examples waited ~1 s for their write,
    frozen. The window says it is saving and closes once the write is on disk."""
    window, _threads, release = _importing(make_window, tmp_path, monkeypatch)
    session, path = window.session, window.session.project.path
    assert not window.close() and not window._window_closed  # not yet: the window went on
    assert window.statusBar().currentMessage() == "Saving your changes before closing…"
    assert not window.close()  # (a second click waits for the same write)
    release.set()
    run_async(wait_until(lambda: window._window_closed))  # (closed by a second `close`)
    assert window.session is None and session.closed
    with Project.open(path) as reopened:
        assert len(_in_file(reopened)) == 28


def test_opening_another_project_during_a_large_write_opens_it_once_written(
    make_window, tmp_path, run_async, monkeypatch
) -> None:
    window, _threads, release = _importing(make_window, tmp_path, monkeypatch)
    session, first = window.session, window.session.project.path
    other = tmp_path / "other.persona"
    Project.create(other, Persona(name="Other")).close()
    assert window.open_project(other) and window.session is session  # not yet
    assert window.statusBar().currentMessage() == (
        "Saving your changes before opening other.persona…"
    )
    assert not window.open_project(first.with_name("third.persona"))  # "Still opening…"
    release.set()
    assert run_async(window._open_task)
    assert window.session.project.path == other and session.closed
    with Project.open(first) as reopened:
        assert len(_in_file(reopened)) == 28
    assert window.session.close()  # (the file that stays open in the next test's place)
    window.session = None
    (tmp_path / "full").mkdir()
    window = _window(make_window, tmp_path / "full", n=3)
    session = window.session
    monkeypatch.setattr(project_session, "RETRY_DELAY_MS", 60_000)
    fill_the_disk(session.project)
    session.add_examples([Example.from_qa(f"Q{i}? " + "y" * 3000, "A.") for i in range(25)])
    assert window.open_project(other)
    assert not run_async(window._open_task)  # refused: the project stays open, unsaved kept
    assert window.session is session and session.unsaved and not session.closed
    assert window.statusBar().currentMessage() == (
        "other.persona was not opened: your changes could not be saved first."
    )
    session.close(force=True)
    window.session = None


def test_an_export_under_way_when_the_window_closes_is_finished_first(
    make_window, tmp_path, run_async, monkeypatch
) -> None:
    """Closing the window, or opening another project, while an export or a copy is being
    written: they wait for it (the export read a closed project and wrote nothing before)."""
    window, _threads, release = _importing(make_window, tmp_path, monkeypatch)
    exported = window.export_to("csv", tmp_path / "rows.csv")
    copied = window.save_copy_to(tmp_path / "copy.persona")
    assert not window.close() and not window._window_closed  # both wait for the write
    assert window.statusBar().currentMessage() == "Writing rows.csv before closing…"
    release.set()
    run_async(wait_until(lambda: window._window_closed))
    assert run_async(exported) and run_async(copied)
    assert (tmp_path / "rows.csv").read_text(encoding="utf-8").count("Imported") == 25
    with Project.open(tmp_path / "copy.persona") as copy_of_it:
        assert len(_in_file(copy_of_it)) == 28


def test_opening_another_project_waits_for_an_export_under_way(
    make_window, tmp_path, run_async, monkeypatch
) -> None:
    from persona_studio.core import card_files

    window = _window(make_window, tmp_path, n=3)
    session = window.session
    reading, read = threading.Event(), card_files.export_chunks

    def slow_read(project, fmt, progress=None):  # (a large export takes seconds)
        reading.wait(10)
        return read(project, fmt, progress)

    monkeypatch.setattr(card_files, "export_chunks", slow_read)
    other = tmp_path / "other.persona"
    Project.create(other, Persona(name="Other")).close()
    exported = window.export_to("openai-jsonl", tmp_path / "train.jsonl")
    assert window.open_project(other) and window.session is session  # not yet
    assert window.statusBar().currentMessage() == (
        "Writing train.jsonl before opening other.persona…"
    )
    reading.set()
    assert run_async(window._open_task) and run_async(exported)
    assert window.session.project.path == other and session.closed
    assert len((tmp_path / "train.jsonl").read_text(encoding="utf-8").splitlines()) == 3


def test_closing_during_a_large_write_the_disk_refuses_asks_once(
    make_window, tmp_path, run_async, monkeypatch
) -> None:
    from PySide6.QtWidgets import QMessageBox

    monkeypatch.setattr(project_session, "BACKGROUND_WRITE_FROM", 20)
    monkeypatch.setattr(project_session, "RETRY_DELAY_MS", 60_000)
    window = _window(make_window, tmp_path, n=3)
    session = window.session
    fill_the_disk(session.project)
    asked: list[str] = []
    answer = [QMessageBox.StandardButton.Cancel]
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: asked.append(a[1]) or answer[0])
    session.add_examples([Example.from_qa(f"Q{i}? " + "y" * 3000, "A.") for i in range(25)])
    assert not window.close()
    run_async(wait_until(lambda: window._closing is None))
    assert asked == ["Changes not saved"] and not window._window_closed  # kept: "Cancel"
    assert session.unsaved and not session.closed
    answer[0] = QMessageBox.StandardButton.Discard
    assert not window.close()  # the write is tried again, in a worker, then asked
    run_async(wait_until(lambda: window._window_closed))
    assert asked == ["Changes not saved"] * 2 and session.closed


def test_a_large_write_the_disk_refuses_is_said_kept_and_lands_later(
    make_window, tmp_path, run_async, monkeypatch
) -> None:
    monkeypatch.setattr(project_session, "BACKGROUND_WRITE_FROM", 50)
    monkeypatch.setattr(project_session, "RETRY_DELAY_MS", 50)
    window = _window(make_window, tmp_path, n=3)
    session, project = window.session, window.session.project
    fill_the_disk(project)
    session.add_examples(
        [Example.from_qa(f"Imported {i}? " + "x" * 2000, "Yes.") for i in range(60)]
    )
    run_async(wait_until(lambda: window.save_label.text().startswith("Not saved:")))
    assert "full" in window.save_label.text() and session.unsaved
    assert len(session.examples) == 63 and len(_in_file(project)) == 3
    assert not run_async(session.flushed())  # refused: said, not tried again and again
    project._db.execute("PRAGMA max_page_count = 1073741823")  # space again
    run_async(wait_until(lambda: window.save_label.text() == "All changes saved"))
    assert len(_in_file(project)) == 63


def test_a_sync_that_ends_behind_a_large_write_is_written_in_a_worker_too(
    make_window, tmp_path, run_async, monkeypatch
) -> None:
    """A sheet sync that ends while an import's write is still in a worker thread waits its
    turn; then its write (a first sync's holds every row's text) ran on the UI thread: 1.1 s
    at 100,000 examples. A large one goes to a worker thread in its turn too."""
    monkeypatch.setattr(project_session, "BACKGROUND_WRITE_FROM", 20)
    window = _window(make_window, tmp_path, n=3)
    session, project = window.session, window.session.project
    _threads, release = _held(monkeypatch, project, "add_examples")
    writers, unheld = _held(monkeypatch, project, "apply_sync")
    unheld.set()  # (only to know where it is written)
    session.add_examples([Example.from_qa(f"Imported {i}?", "Yes.") for i in range(25)])
    rows = [Example.from_qa(f"From the sheet {i}?", "Yes.") for i in range(25)]
    session.apply_sync(rows, [], {ex.id: {"id": ex.id} for ex in rows}, {"key": "k"})
    assert len(session._unsaved) == 2 and writers == []  # behind the import's write
    release.set()
    run_async(wait_until(lambda: window.save_label.text() == "All changes saved"))
    assert writers == ["write-project"]
    assert len(project.sync_snapshot()) == 25 and len(_in_file(project)) == 53


def test_an_export_or_a_copy_awaits_a_large_write_in_its_task_not_in_the_window(
    make_window, tmp_path, run_async, monkeypatch
) -> None:
    """An export and a copy read the file, so a write still in a worker thread goes in first:
    the window waited for it (`flush`), ~1 s just after importing 100,000 examples. Their
    tasks await it; the file they read has every row."""
    window, threads, release = _importing(make_window, tmp_path, monkeypatch)
    session = window.session
    session.set_persona_field("name", "Typed")  # (typing the autosave has not written yet)
    exported = window.export_to("csv", tmp_path / "rows.csv")
    copied = window.save_copy_to(tmp_path / "copy.persona")
    assert session._writing is not None and not exported.done()  # the window went on
    release.set()
    assert run_async(exported) and run_async(copied)
    assert threads == ["write-project"]
    assert (tmp_path / "rows.csv").read_text(encoding="utf-8").count("Imported ") == 25
    copy_of = Project.open(tmp_path / "copy.persona")
    assert len(copy_of.examples()) == 28 and copy_of.persona().name == "Typed"
    copy_of.close()


def test_places_changed_by_a_large_change_are_kept_a_moment_later_yet_read_right(
    make_window, tmp_path, run_async
) -> None:
    """An add or a delete leaves its change of the examples' places for the event loop's next
    turn (25–45 ms of an import's stall at 100,000); a read before then gets them right."""
    window = _window(make_window, tmp_path, n=3)
    session = window.session
    new = [Example.from_qa(f"New {i}?", "Yes.") for i in range(3)]
    session.add_examples(new)
    assert session._later  # not yet
    assert session.known([new[2].id]) and not session._later  # read: brought up to date
    removed = session.remove_examples({session.examples[1].id, new[1].id})
    assert removed.places == [] and session._later  # taken out a step at a time...
    session._places()  # ...and all at once by a read
    assert removed.places == [1.0, 4.0]
    assert not session.known([new[1].id])
    session.restore_examples(removed)
    questions = [f"How do I pace run {i}?" for i in range(3)] + [f"New {i}?" for i in range(3)]
    assert [ex.question for ex in session.examples] == questions
    session.remove_examples({ex.id for ex in new}, places=False)  # the last rows: an add's
    run_async(wait_until(lambda: not session._later))  # the loop's next turn
    assert not session.known([ex.id for ex in new])
    assert [ex.question for ex in session.examples] == questions[:3]
    assert [ex.question for ex in session.project.examples()] == questions[:3]


def test_a_delete_carries_the_approved_count_counting_the_fewer(make_window, tmp_path) -> None:
    """A delete carries the count of approved examples over from the one before, counting
    among the rows removed or, where fewer, those kept (deleting every row of 100,000: none
    to count). The count is the list's own, each way, and after an undo."""
    path = tmp_path / "mixed.persona"
    statuses = ["draft" if i in (0, 4, 8) else "approved" for i in range(10)]
    examples = [Example.from_qa(f"Q{i}?", "A.", status=s) for i, s in enumerate(statuses)]
    Project.create(path, Persona(name="Mixed"), examples=examples).close()
    window = make_window()
    assert window.open_project(path)
    session = window.session
    assert session.approved_count() == 7
    removed_most = session.remove_examples(session.example_ids()[1:])  # kept: 1, a draft
    assert session._approved[0] is session.examples  # carried, not counted again
    assert session.approved_count() == 0 and len(session.examples) == 1
    session.restore_examples(removed_most)
    assert session._approved[0] is session.examples
    assert session.approved_count() == 7 == approved_count(session.examples)
    removed_few = session.remove_examples({session.examples[1].id, session.examples[4].id})
    assert session.approved_count() == 6 == approved_count(session.examples)
    session.restore_examples(removed_few)
    assert session.approved_count() == 7 and len(session.examples) == 10
    assert [ex.id for ex in session.examples] == [ex.id for ex in session.project.examples()]
    order = list(session.example_ids())
    removed_all = session.remove_examples(list(order))  # every row: put back as they were
    assert session.examples == [] and session.approved_count() == 0
    session.restore_examples(removed_all)
    assert session.example_ids() == order == [ex.id for ex in session.project.examples()]
    assert session.examples is not removed_all.examples  # (the session's list may grow)
    assert session.approved_count() == 7 == approved_count(session.examples)


def test_undoing_a_change_of_contents_takes_the_list_before_back_whole(
    make_window, tmp_path
) -> None:
    """Undoing a change of contents, while the list is still that change's, takes the list
    from before it back, not made again (~40 ms for 100,000 rows); so does redoing it. Any
    other change since, and the list is made afresh. The file follows each way."""
    window = _window(make_window, tmp_path, n=6)
    session, stack = window.session, window.undo_stack

    def statuses() -> tuple[list[str], list[str]]:
        in_file = [ex.status for ex in session.project.examples()]
        return [ex.status for ex in session.examples], in_file

    first = session.examples
    assert session.approved_count() == 6  # (the checklist asks, after every change)
    drafts = [copy.copy(ex) for ex in first[:4]]
    for ex in drafts:
        ex.status = "draft"
    stack.push(EditExamples(session, first[:4], drafts, "Mark drafts"))
    after = session.examples
    assert statuses() == (["draft"] * 4 + ["approved"] * 2,) * 2
    stack.undo()
    assert session.examples is first and statuses() == (["approved"] * 6,) * 2
    assert session.approved_count() == 6 == approved_count(session.examples)
    stack.redo()
    assert session.examples is after and session.approved_count() == 2
    assert statuses() == (["draft"] * 4 + ["approved"] * 2,) * 2
    session.remove_examples({session.examples[5].id})  # a change of another kind
    stack.undo()  # the list made afresh
    assert statuses() == (["approved"] * 5,) * 2 and session.approved_count() == 5
    rejected = copy.copy(session.examples[0])
    rejected.status = "rejected"
    stack.push(EditExamples(session, [session.examples[0]], [rejected], "Reject"))
    stack.undo()
    stack.undo()  # (nothing left to undo: the delete above was not on the stack)
    assert statuses() == (["approved"] * 5,) * 2
    stack.redo()
    assert statuses() == (["rejected"] + ["approved"] * 4,) * 2
    session.flush()


def test_a_change_made_with_its_places_tells_them_and_never_stale_ones(
    make_window, tmp_path, monkeypatch, run_async
) -> None:
    """Issue 21: approving 130,000 of 200,000 shown rows, the grid found where they were on
    the UI thread (~15 ms), after a worker thread had made the change. A change made with its
    places (`placed`) tells them: the grid, sorted, takes them as they are, and so does its
    undo; the places of another change, or of the ids of another list, are found again."""
    window = _window(make_window, tmp_path, n=8)
    session, stack = window.session, window.undo_stack
    window.tabs.setCurrentIndex(1)
    tab = window.dataset_tab
    tab.search.setText("pace run")  # every row, its search text followed as it changes
    run_async(wait_until(lambda: tab.model.filters.text == "pace run" and tab.model.search_ready))
    looked_for = threads_calling(monkeypatch, project_session, "positions_in")  # (each look)
    assert tab.model._haystack is not None  # (the grid follows the edited rows: it asks where)
    before = [session.examples[at] for at in (1, 4, 6)]
    after = [dataclasses.replace(ex, status="rejected") for ex in before]
    prepared = project_session.replacement(
        after, session.examples, session.example_ids(), placed=True
    )
    assert prepared.at == [1, 4, 6] and len(looked_for) == 1
    stack.push(EditExamples(session, before, after, "Reject", prepared))
    assert len(looked_for) == 1  # told, not found again
    assert session.where(prepared.changed_ids) == [1, 4, 6]
    assert session.where(list(prepared.changed_ids)) == [1, 4, 6]  # (another list: found)
    assert len(looked_for) == 2
    shown = [tab.model.data(tab.model.index(row, COL_STATUS)) for row in range(8)]
    assert shown.count("Rejected") == 3
    stack.undo()  # the list before, whole: its places told too
    assert len(looked_for) == 2
    assert [ex.status for ex in session.examples] == ["approved"] * 8
    session.remove_examples({session.examples[0].id})  # another change: its places are stale
    assert session.where(prepared.changed_ids) == [0, 3, 5]
    session.flush()


def test_many_places_change_a_step_per_turn_of_the_loop_yet_read_right(
    make_window, tmp_path, run_async, monkeypatch
) -> None:
    """Changing 100,000 places at once stalled an import's window 30–50 ms, and its undo's
    ~20 ms: `PLACES_AT_ONCE` change per turn of the event loop. Undoing an add gives its ids
    in order, found as the last rows without a set of them; other ids are looked up."""
    monkeypatch.setattr(project_session, "PLACES_AT_ONCE", 2)
    window = _window(make_window, tmp_path, n=3)
    session = window.session
    new = [Example.from_qa(f"New {i}?", "Yes.") for i in range(5)]
    session.add_examples(new)
    placed = session._positions  # (read with the examples)
    session._place_a_step()  # (as the timer does)
    assert [ex.id in placed for ex in new] == [True, True, False, False, False]
    run_async(wait_until(lambda: not session._later))
    assert [placed[ex.id] for ex in new] == [3.0, 4.0, 5.0, 6.0, 7.0]
    assert placed == session.project.example_positions()
    session.remove_examples([ex.id for ex in new], places=False)  # an add's undo: the last rows
    session._place_a_step()
    assert [ex.id in placed for ex in new] == [False, False, True, True, True]
    assert not session.known([ex.id for ex in new]) and not session._later  # a read: all steps
    first = session.examples[0]
    session.remove_examples([first.id])  # a list that is not the last rows
    assert [ex.question for ex in session.examples] == [f"How do I pace run {i}?" for i in (1, 2)]
    assert session._places() == session.project.example_positions()  # read: all steps
    assert first.id not in placed


def test_the_session_says_where_a_change_deleted_or_added_rows(make_window, tmp_path) -> None:
    """`ProjectSession.reshaped`: a sorted grid follows its rows with it (`ColumnOrder`)."""
    window = _window(make_window, tmp_path, n=40)
    session = window.session
    before = list(session.examples)
    removed = session.remove_examples([before[n].id for n in (2, 9, 10, 30)])
    assert list(session.reshaped.removed) == [2, 9, 10, 30] and not session.reshaped.added
    session.restore_examples(removed)  # a few: each put back by bisection
    assert session.examples == before and list(session.reshaped.added) == [2, 9, 10, 30]
    removed = session.remove_examples([ex.id for ex in before[:30]])
    session.restore_examples(removed)  # many: merged in one sort (not said)
    assert session.examples == before and session.reshaped is None
    new = [Example.from_qa("A new one?", "Yes.")]
    session.add_examples(new)
    assert list(session.reshaped.added) == [40] and session.examples[40] is new[0]
    first, second = session.examples[0].id, session.examples[1].id
    session.swap_examples(first, second)  # another change: not said
    assert session.reshaped is None


def test_a_reviews_record_is_written_with_the_sessions_writes_a_large_one_in_a_worker(
    make_window, tmp_path, run_async, monkeypatch
) -> None:
    """A rescue keeps up to 5,000 candidates in one run's record, written again at each
    decision. Written on the UI thread, it waited for the project's file behind the examples'
    write in a worker: an undo of "Accept all" stalled 2.1–2.4 s at 100,000 examples. The
    record now goes with the session's writes: in order, a large one in a worker."""
    from persona_studio.core.generation import Candidate
    from persona_studio.gui.undo import ReviewCandidates
    from persona_studio.services.review_queue import ReviewQueue

    monkeypatch.setattr(project_session, "BACKGROUND_WRITE_FROM", 50)
    window = _window(make_window, tmp_path, n=3)
    session, project = window.session, window.session.project
    queue = session.review_queue
    run_id = queue.start_run(source="persona", model="m", profile="env")
    queue.add(run_id, [Candidate(f"Q{i}?", f"A{i}.", "persona", "persona") for i in range(60)])
    run_async(wait_until(lambda: not session.unsaved))
    threads, release = _held(monkeypatch, project, "save_run")
    ids = [c.id for c in queue.pending()]
    window.undo_stack.push(ReviewCandidates(session, ids, "accepted", {}))
    assert len(session.examples) == 63 and window.save_label.text() == "Saving…"
    release.set()
    run_async(wait_until(lambda: window.save_label.text() == "All changes saved"))
    assert threads == ["write-project"]  # not the UI thread, which went on meanwhile
    (run,) = ReviewQueue(project).runs.values()
    assert {c.status for c in run["candidates"]} == {"accepted"}
    assert len(_in_file(project)) == 63


@pytest.mark.parametrize("read_by", ["the session's worker", "the opening's worker"])
def test_a_large_reads_ids_and_approved_count_are_counted_by_its_worker(
    make_window, tmp_path, run_async, monkeypatch, read_by: str
) -> None:
    """Counted by the window once the examples were in, each is a pass over every example in
    C: at 1,000,000, 40–50 ms each of the window's longest stall as the grid first shows."""
    from persona_studio.gui import main_window

    counted_on: list[str] = []
    counts = project_session.ids_and_approved

    def counting(examples):
        counted_on.append(threading.current_thread().name)
        return counts(examples)

    def never(name: str):
        def on_the_window(examples):  # (the window's own passes, once the examples are in)
            raise AssertionError(f"{name} counted on the window's thread")

        return on_the_window

    monkeypatch.setattr(project_session, "ids_and_approved", counting)
    monkeypatch.setattr(project_session, "BACKGROUND_LOAD_FROM", 20)
    if read_by == "the opening's worker":
        monkeypatch.setattr(main_window, "OPEN_IN_WORKER_FROM", 0)
    path = tmp_path / "big.persona"
    examples = [
        Example.from_qa(f"Q{i}?", f"A{i}.", status="approved" if i % 3 else "draft")
        for i in range(40)
    ]
    Project.create(path, Persona(name="Big"), examples=examples).close()
    window = make_window()
    assert window.open_project(path)
    run_async(wait_until(lambda: window.session is not None and window.session.examples_loaded))
    monkeypatch.setattr(project_session, "ids_of", never("ids_of"))
    monkeypatch.setattr(project_session, "approved_count", never("approved_count"))
    window.tabs.setCurrentIndex(1)
    tab = window.dataset_tab
    run_async(wait_until(lambda: tab.table.isEnabled() and tab.model.rowCount() == 40))
    session = window.session
    assert session.example_ids() == [ex.id for ex in examples]
    assert session.approved_count() == 26 and session.example_counts() == (40, 26)
    assert len(counted_on) == 1 and threading.main_thread().name not in counted_on


def test_a_large_reads_lists_over_every_example_are_out_of_the_collectors_sight(
    make_window, tmp_path, run_async, monkeypatch
) -> None:
    """Each list over every example is walked by the cyclic collector's passes that meet it
    young: on the window's thread, at 1,000,000 examples, 21–49 ms a pass as the grid first
    showed (the ids, the grid's rows, the check's snapshot). They are frozen as they are made,
    as the examples are: `gc.get_objects` leaves the frozen out."""
    import gc

    from persona_studio.core.project import examples as project_examples
    from persona_studio.gui import dataset_tab, preflight_runner

    for module in (project_examples, project_session, dataset_tab, preflight_runner):
        monkeypatch.setattr(module, "FREEZE_FROM", 20)
    monkeypatch.setattr(project_session, "BACKGROUND_LOAD_FROM", 20)
    snapshots: list[list[Example]] = []
    run = preflight_runner.PreflightRunner._run

    async def kept(self, examples, *args):
        snapshots.append(examples)
        return await run(self, examples, *args)

    monkeypatch.setattr(preflight_runner.PreflightRunner, "_run", kept)
    window = _window(make_window, tmp_path, n=40)
    window.show()
    window.tabs.setCurrentIndex(1)
    tab = window.dataset_tab
    run_async(wait_until(lambda: tab.table.isEnabled() and tab.model.rowCount() == 40))
    run_async(wait_until(lambda: len(snapshots) > 0, 15))
    seen = set(map(id, gc.get_objects()))
    lists = {"ids": window.session.example_ids(), "grid": tab.model._rows, "check": snapshots[0]}
    assert [name for name, made in lists.items() if id(made) in seen] == []
    assert len(lists["check"]) == len(lists["grid"]) == 40


def test_an_export_shows_its_percent_and_stop_writes_nothing(
    make_window, tmp_path, run_async, monkeypatch, qtbot
) -> None:
    """At 1,000,000 examples an export took 7–19 s with "Exporting…" alone in the status
    bar, and nothing could stop it. One at a time: another waits its turn, and says so."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QProgressBar, QPushButton

    from persona_studio.core import card_files
    from persona_studio.core.test_set import split_test_set

    window = _window(make_window, tmp_path, n=40)
    window.show()
    project, release = window.session.project, threading.Event()
    read = type(project).examples

    def held(self, *args):  # the export's read, in its thread, held (seconds at 1,000,000)
        if threading.current_thread() is not threading.main_thread():
            release.wait(10)
        return read(self, *args)

    monkeypatch.setattr(type(project), "examples", held)
    target = tmp_path / "train.jsonl"
    exported = window.export_to("openai-jsonl", target)
    bar = window.findChild(QProgressBar, "export_bar")
    stop = window.findChild(QPushButton, "stop_export")
    message = window.statusBar().currentMessage
    assert bar.isVisible() and stop.isVisible() and stop.isEnabled()
    assert message() == "Exporting train.jsonl… 0 %"
    queued = window.export_to("csv", tmp_path / "rows.csv")  # (one at a time: it waits)
    run_async(asyncio.sleep(0.05))
    assert message() == "Exporting rows.csv once train.jsonl is written…"
    qtbot.mouseClick(stop, Qt.MouseButton.LeftButton)
    assert message() == "Stopping the export of train.jsonl…" and not stop.isEnabled()
    release.set()
    assert run_async(exported) is False
    assert not list(tmp_path.glob("*train*"))  # (not even a temporary file)
    assert run_async(queued) and (tmp_path / "rows.csv").exists()  # then the one in turn
    assert message() == "Exported rows.csv" and not bar.isVisible()

    monkeypatch.setattr(card_files, "EXPORT_CHUNK_LINES", 4)  # (its percent in several steps)
    shown: list[int] = []
    bar.valueChanged.connect(shown.append)
    assert run_async(window.export_to("openai-jsonl", target))
    assert shown == sorted(shown) and len(shown) > 5 and shown[-1] >= 90, shown
    assert message() == "Exported train.jsonl" and not bar.isVisible()
    usable, kept_aside = split_test_set(window.session.examples, project.test_share)
    assert kept_aside and len(target.read_text(encoding="utf-8").splitlines()) == len(usable)


def test_an_edit_while_a_worker_has_the_file_waits_its_turn_not_the_window(
    make_window, tmp_path, run_async, monkeypatch
) -> None:
    """An export's read (or a copy) holds the project file for seconds at 1,000,000 examples;
    an edit's save on the window's thread waited for it: the window froze 3.2 s (a copy:
    2.1 s). Now the edit waits, said "Saving…", lands once the worker is done, and a copy
    asked for meanwhile has it."""
    import copy

    window = _window(make_window, tmp_path, n=40)
    session, project = window.session, window.session.project
    assert len(session.examples) == 40  # (read, as the Dataset tab reads them)
    release, reading = threading.Event(), threading.Event()
    fetch = type(project)._rows_told

    def held(self, progress):  # the export's read, holding the file (seconds at 1,000,000)
        with self._lock:
            reading.set()
            release.wait(10)
            return fetch(self, progress)

    monkeypatch.setattr(type(project), "_rows_told", held)
    exported = window.export_to("csv", tmp_path / "rows.csv")
    run_async(wait_until(reading.is_set))
    edited = copy.deepcopy(session.examples[3])
    edited.messages[1]["content"] = "Edited while it exported."
    session.replace_example_contents([edited])  # returns at once: the file is the worker's
    run_async(asyncio.sleep(0.2))  # (its save's turn comes, and waits)
    assert window.save_label.text() == "Saving…" and session.unsaved
    copied = window.save_copy_to(tmp_path / "copy.persona")  # waits for the edit, in its task
    run_async(asyncio.sleep(0.2))
    assert session.unsaved and not (tmp_path / "copy.persona").exists()
    release.set()
    assert run_async(exported) and run_async(copied)
    run_async(wait_until(lambda: window.save_label.text() == "All changes saved"))
    assert not session.unsaved
    with Project.open(tmp_path / "copy.persona") as copy_of_it:
        assert copy_of_it.examples()[3].answer == "Edited while it exported."


def test_a_copy_shows_its_percent_and_stop_leaves_no_copy(
    make_window, tmp_path, run_async, monkeypatch, qtbot
) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QProgressBar, QPushButton

    from persona_studio.core.project import project as project_module

    window = _window(make_window, tmp_path, n=40)
    window.show()
    project, release = window.session.project, threading.Event()
    copy = type(project).save_copy

    def held(self, dest, progress=None):  # (a minute to a slow USB stick at 1,000,000)
        release.wait(10)
        return copy(self, dest, progress)

    monkeypatch.setattr(type(project), "save_copy", held)
    copied = window.save_copy_to(tmp_path / "copy.persona")
    stop = window.findChild(QPushButton, "stop_export")
    message = window.statusBar().currentMessage
    assert message() == "Saving a copy to copy.persona… 0 %" and stop.text() == "Stop copy"
    qtbot.mouseClick(stop, Qt.MouseButton.LeftButton)
    assert message() == "Stopping the copy of copy.persona…"
    release.set()
    assert run_async(copied) is False
    assert message() == "Copy stopped: copy.persona was not written."
    assert not list(tmp_path.glob("*copy*"))  # (nor a temporary file)

    monkeypatch.setattr(project_module, "COPY_PAGES", 1)  # (its percent in several steps)
    bar, shown = window.findChild(QProgressBar, "export_bar"), []
    bar.valueChanged.connect(shown.append)
    assert run_async(window.save_copy_to(tmp_path / "copy.persona"))
    assert shown == sorted(shown) and len(shown) > 3 and shown[-1] >= 90, shown
    assert message().startswith("Saved a copy to") and not bar.isVisible()
    with Project.open(tmp_path / "copy.persona") as copy_of_it:
        assert len(copy_of_it.examples()) == 40


def test_the_windows_everyday_steps_never_wait_for_a_worker_that_has_the_file(
    make_window, tmp_path, run_async, qtbot
) -> None:
    """While an export reads every example, or a copy or a large write runs (seconds at
    1,000,000 examples), each step a creator may take meanwhile goes on: none waits on the
    window's thread for the file (opening the voice check waited 7.9 s during such an export,
    a chat reply's save 1.4 s during a copy). What they write waits its turn."""
    from PySide6.QtWidgets import QLineEdit, QMenu

    from persona_studio.gui.dialogs.generate_dialog import GenerateDialog
    from persona_studio.gui.dialogs.pipeline_dialog import PipelineDialog
    from persona_studio.gui.help import report_text

    window = _window(make_window, tmp_path, n=40)
    window.resize(1366, 768)
    window.show()
    session, tab = window.session, window.dataset_tab
    assert len(session.examples) == 40  # (read, as the Dataset tab reads them)
    field = window.persona_tab.findChild(QLineEdit, "persona_name")
    table = tmp_path / "more.csv"
    table.write_text("question,answer\nHow far?,Far enough.\n", encoding="utf-8")

    from persona_studio.core.checklist import EXPORTED_META
    from persona_studio.core.records import JobRecord

    session.project.save_job(
        JobRecord("job-1", "azure", "gpt-4.1-mini", "succeeded", fine_tuned_model="ft:rhea")
    )

    def deployed() -> None:  # (a training's update is saved the same way, at each one)
        session.jobs.set_deployment("job-1", "rhea-prod")
        assert session.project.job("job-1").chat_model == "rhea-prod"  # read as saved, at once

    later: list[type] = []  # the dialog a step opens once the file is free

    def opens_once_read(name: str, open_it: Callable[[], object], kind: type) -> Callable:
        def step() -> None:
            assert open_it() is None
            assert window.statusBar().currentMessage() == f"{name} opens once the project is saved…"
            later.append(kind)

        return step

    steps = {
        "each tab, first shown": lambda: [window.tabs.setCurrentIndex(i) for i in (1, 2, 3, 0)],
        "search": lambda: tab.search.setText("run 1"),
        "clear the search": lambda: tab.search.setText(""),
        "edit a cell": lambda: tab.model.setData(tab.model.index(0, COL_ANSWER), "Edited."),
        "undo, redo": lambda: (window.undo(), window.redo()),
        "approve a row": lambda: (tab.table.selectRow(2), tab.set_status("draft")),
        "rename the character": lambda: (field.clear(), qtbot.keyClicks(field, "Renamed")),
        "the getting-started panel": lambda: window.checklist,
        "a chat message, its reply saved": lambda: window.chat_tab.send_message("run 3?"),
        "the share kept aside (Train tab)": lambda: window.train_tab.test_share.setValue(25),
        "an export noted (the checklist's last tick)": lambda: window._record_export(
            session.project, "csv"
        ),
        "a training's record (its deployment named)": deployed,
        "the menus": lambda: [m.aboutToShow.emit() for m in window.findChildren(QMenu)],
        "Settings": lambda: window.open_settings().reject(),
        "Does it sound like me?": lambda: window.check_voice().reject(),
        "a problem report": lambda: report_text(window),
        "Generate": opens_once_read("Generate", window.generate_examples, GenerateDialog),
        "the voice check's questions": lambda: window.check_voice().open_test_set().reject(),
        "Run everything": opens_once_read("Run everything", window.run_pipeline, PipelineDialog),
        "Link a sheet": lambda: window.link_sheet().reject(),
        "import a CSV": lambda: tab.open_import(table).reject(),
    }
    for name, step in steps.items():
        try:
            with file_taken(session.project):
                step()
                run_async(asyncio.sleep(0.3))  # (the reply, the re-check, a save's turn)
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from exc
        run_async(wait_until(lambda: not session.unsaved))
        for kind in later:  # opened now
            run_async(wait_until(lambda k=kind: bool(window.findChildren(k))))
            window.findChild(kind).reject()
        later.clear()
    assert session.project.persona().name == "Renamed"
    assert session.project.chat_count() == 1 and session.project.test_share == 0.25
    assert session.project.meta(EXPORTED_META) is not None
    with session.project.held():  # (the file's rows, not the kept reads)
        row = session.project._db.execute("SELECT data FROM jobs WHERE id = 'job-1'").fetchone()
    assert '"rhea-prod"' in row[0] and session.persona.fine_tuned_model == "rhea-prod"


def test_the_dataset_tab_first_shown_while_a_worker_has_the_file_opens_once_it_is_free(
    make_window, tmp_path, run_async
) -> None:
    """A project's Dataset tab, first shown during its own export (the examples not read yet):
    how many there are, and a small project's rows, come from the file, and the tab waited for
    the export's read on the window's thread. It now says "Opening the examples…" and shows
    them once the file is free."""
    window = _window(make_window, tmp_path, n=40)
    with file_taken(window.session.project) as release:
        window.tabs.setCurrentIndex(1)
        tab = window.dataset_tab
        assert tab.shown_label.text() == "Opening the examples…" and not tab.table.isEnabled()
        assert tab.model.rowCount() == 0
        release.set()
        run_async(wait_until(lambda: tab.model.rowCount() == 40))
    assert tab.table.isEnabled() and tab.controls.isEnabled()


def test_a_dialog_asked_for_during_an_export_is_said_to_open_once_it_is_written(
    make_window, tmp_path, run_async, monkeypatch
) -> None:
    """Generate reads the project as it opens: asked for while an export reads the file, it
    opens once the file is free, and the export's line in the status bar says so."""
    from persona_studio.gui.dialogs.generate_dialog import GenerateDialog

    window = _window(make_window, tmp_path, n=40)
    project = window.session.project
    release, reading = threading.Event(), threading.Event()
    fetch = type(project)._rows_told

    def held(self, progress):  # the export's read, holding the file
        with self._lock:
            reading.set()
            release.wait(10)
            return fetch(self, progress)

    monkeypatch.setattr(type(project), "_rows_told", held)
    exported = window.export_to("csv", tmp_path / "rows.csv")
    run_async(wait_until(reading.is_set))
    assert window.generate_examples() is None
    message = window.statusBar().currentMessage
    assert message() == "Generate opens once rows.csv is written…"
    window._under_way.shown.emit(window._under_way, 40)  # (as the export's next percent)
    run_async(wait_until(lambda: "40 %" in message()))
    assert message() == "Exporting rows.csv… 40 % · Generate opens once it is written"
    release.set()
    assert run_async(exported)
    run_async(wait_until(lambda: bool(window.findChildren(GenerateDialog))))
