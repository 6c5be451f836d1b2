"""A write the disk refuses is never shown as saved, is kept, and lands once the disk takes it
(issue 15, item 2). The refusal is real: SQLite's own "database or disk is full" (SQLITE_FULL),
raised by capping the file's size with `PRAGMA max_page_count`, with the WAL file present."""

from __future__ import annotations

from pathlib import Path

from persona_studio.core.dataset import Example
from persona_studio.core.persona import Persona
from persona_studio.core.project import Project
from tests.conftest import fill_the_disk, wait_until


def _open(make_window, tmp_path: Path):
    path = tmp_path / "full.persona"
    Project.create(path, Persona(name="Full")).close()
    window = make_window()
    window.open_project(path)
    return window, path


def test_a_refused_write_says_not_saved_keeps_the_edits_and_lands_later(
    make_window, tmp_path, run_async, monkeypatch
) -> None:
    import persona_studio.gui.project_session as project_session

    monkeypatch.setattr(project_session, "RETRY_DELAY_MS", 50)
    window, path = _open(make_window, tmp_path)
    session = window.session
    session.add_examples([Example.from_qa("First?", "Saved.")])
    assert window.save_label.text() == "All changes saved"
    assert Path(f"{path}-wal").exists()

    fill_the_disk(session.project)
    big = [Example.from_qa(f"Question {n}? " + "x" * 2000, "An answer.") for n in range(40)]
    session.add_examples(big)
    assert window.save_label.text().startswith("Not saved:")
    assert "full" in window.save_label.text() and "kept" in window.save_label.text()
    assert len(session.examples) == 41 and session.unsaved
    session.set_persona_field("description", "typed while the disk is full")
    assert not session.flush()  # still refused: still not claimed
    assert window.save_label.text().startswith("Not saved:")
    assert session.project.counts().examples == 1  # the file has what it had, whole

    session.project._db.execute("PRAGMA max_page_count = 1073741823")  # space again
    run_async(wait_until(lambda: window.save_label.text() == "All changes saved", timeout=5))
    assert not session.unsaved
    assert session.close()
    window.session = None
    with Project.open(path) as project:
        assert project.counts().examples == 41
        assert project.persona().description == "typed while the disk is full"


def test_closing_with_refused_writes_asks_before_losing_them(make_window, tmp_path) -> None:
    window, _path = _open(make_window, tmp_path)
    fill_the_disk(window.session.project)
    window.session.add_examples([Example.from_qa(f"Q{n}? " + "y" * 3000, "A.") for n in range(30)])
    assert not window.session.close()  # the window asks "Quit anyway and lose them?"
    assert window.session.unsaved and not window.session.closed
    window.session.close(force=True)  # the creator answers "Discard"
    window.session = None


def test_text_with_a_lone_surrogate_is_saved_and_reads_back_the_same(make_window, tmp_path) -> None:
    window, path = _open(make_window, tmp_path)
    broken = Example.from_qa("Broken \ud800 text?", "Answer \udfff.", source="import \ud83d")
    window.session.add_examples([broken])
    assert window.save_label.text() == "All changes saved"
    assert window.session.close()
    window.session = None
    with Project.open(path) as project:
        (back,) = project.examples()
    assert back.messages == broken.messages  # exactly, for the grid and the training file
    assert back.source == "import \ufffd"
