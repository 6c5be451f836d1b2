"""Generate examples from the window: drop a LinkedIn export, see the price, generate against
the fake provider, edit and accept into the dataset (undoable), and find the rest kept."""

from __future__ import annotations

import threading
import zipfile

import pytest
import shiboken6
from PySide6.QtCore import Qt

from persona_studio.core.demo import ensure_demo_project
from tests.conftest import threads_calling, wait_until
from tests.fakes.generation import model_reply
from tests.fakes.openai_server import FakeOpenAI

POSTS = (
    "Date,ShareLink,ShareCommentary\n"
    '2024-01-02,https://l/1,"Run slow, run often, and the speed comes by itself."\n'
    '2024-01-03,https://l/2,"Sleep is the cheapest performance enhancer there is."\n'
    "2024-01-04,https://l/3,https://only.a/link\n"
)


@pytest.fixture
def server(monkeypatch):
    with FakeOpenAI(api_key="sk-env", models=("gpt-4.1-mini",)) as fake:
        fake.reply_for = model_reply
        monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        yield fake


def _text(dialog, row: int, column: int) -> str:
    return dialog.candidates.index(row, column).data()


def _type(dialog, row: int, column: int, text: str) -> None:
    """What a creator's edit in a cell of the review table sets."""
    assert dialog.candidates.setData(dialog.candidates.index(row, column), text)


def _dialog(make_window, context, tmp_path):
    export = tmp_path / "Basic_LinkedInDataExport.zip"
    with zipfile.ZipFile(export, "w") as archive:
        archive.writestr("Shares.csv", POSTS)
    window = make_window()
    window.open_project(ensure_demo_project(context.data_folder))
    dialog = window.open_dropped(export)
    return window, dialog


def test_generate_review_accept_undo_and_keep_the_rest(
    make_window, context, server, tmp_path, run_async, qtbot, counted_here
) -> None:
    window, dialog = _dialog(make_window, context, tmp_path)
    qtbot.waitUntil(dialog.isVisible)
    assert dialog.kind == "linkedin" and dialog.profile.currentData() == "env"
    run_async(wait_until(lambda: dialog.found.text().startswith("Found")))
    assert "2 posts (1 skipped: 1 post is only a link or a few words)" in dialog.found.text()
    assert "2 calls" in dialog.cost.text() and "less than a cent" in dialog.cost.text()
    assert counted_here == []  # in the check's worker process: the window loads no encoding
    assert dialog.start.isEnabled() and not dialog.accept_button.isEnabled()

    dialog.start.click()
    run_async(wait_until(lambda: not dialog.running))
    assert dialog.candidates.rowCount() == 2
    assert "Done: 2 candidates" in dialog.status.text()
    answers = {_text(dialog, r, 1) for r in range(2)}
    assert "Sleep is the cheapest performance enhancer there is." in answers

    before = window.dataset_tab.model.rowCount()
    source = _text(dialog, 0, 2)  # answers arrive in any order
    assert source in ("linkedin:https://l/1 2024-01-02", "linkedin:https://l/2 2024-01-03")
    _type(dialog, 0, 0, "How do I get faster?")  # edited in place
    editable = Qt.ItemFlag.ItemIsEditable
    assert [bool(dialog.candidates.index(0, c).flags() & editable) for c in range(4)] == [
        True,
        True,
        False,
        False,
    ]  # the question and the answer, not where it came from or the note
    dialog.table.selectRow(0)
    dialog.accept_button.click()
    assert dialog.candidates.rowCount() == 1
    assert window.dataset_tab.model.rowCount() == before + 1
    added = window.session.examples[-1]
    assert added.question == "How do I get faster?"
    assert (added.status, added.source) == ("draft", source)
    assert window.session.project.counts().examples == before + 1  # saved
    _type(dialog, 0, 1, "Typed but not decided yet.")
    window.undo_stack.undo()  # the example leaves the dataset, the candidate comes back
    assert window.session.project.counts().examples == before
    assert dialog.candidates.rowCount() == 2 and dialog.accept_all.isEnabled()
    back = [r for r in range(2) if _text(dialog, r, 0) == "How do I get faster?"]
    assert len(back) == 1  # with the edit made when it was accepted
    assert _text(dialog, 1 - back[0], 1) == "Typed but not decided yet."
    window.undo_stack.redo()
    assert dialog.candidates.rowCount() == 1
    assert window.session.examples[-1].id == added.id  # the same example, not a copy

    dialog.close()
    run_async(wait_until(lambda: not shiboken6.isValid(dialog)))  # closed and idle: deleted
    window.undo_stack.undo()  # its decisions stay undoable without it
    window.undo_stack.redo()
    again = window.generate_examples()
    assert again.candidates.rowCount() == 1  # the undecided one waits in the project
    again.table.selectRow(0)
    again.reject_button.click()
    assert again.candidates.rowCount() == 0 and not again.accept_all.isEnabled()
    assert window.session.project.counts().examples == before + 1
    assert window.undo_stack.undoText() == "Reject 1 candidate"
    window.undo_stack.undo()
    assert again.candidates.rowCount() == 1
    window.undo_stack.redo()
    assert again.candidates.rowCount() == 0


def test_bad_sources_and_accept_all_skips_likely_duplicates(
    make_window, context, server, tmp_path, run_async, qtbot
) -> None:
    window, dialog = _dialog(make_window, context, tmp_path)
    run_async(wait_until(lambda: dialog.found.text().startswith("Found")))
    dialog.set_source("documents", [tmp_path / "missing.pdf"])
    run_async(wait_until(lambda: "Could not read" in dialog.found.text()))
    assert not dialog.start.isEnabled()

    dialog.set_source("persona")
    dialog.limit.setValue(10)
    for key, box in dialog.styles.items():
        box.setChecked(key == "short")
    run_async(wait_until(lambda: "10 questions in 2 calls" in dialog.found.text()))
    dialog.start.click()
    run_async(wait_until(lambda: not dialog.running))
    assert dialog.candidates.rowCount() == 10
    duplicates = [r for r in range(10) if _text(dialog, r, 3)]
    assert len(duplicates) == 5  # the same style twice: the second call repeats the first
    before = window.session.project.counts().examples
    dialog.accept_all.click()
    assert window.session.project.counts().examples == before + 5
    assert dialog.candidates.rowCount() == 5


def test_fill_the_empty_persona_fields_from_the_linkedin_profile(
    make_window, context, tmp_path, run_async, qtbot
) -> None:
    export = tmp_path / "export.zip"
    with zipfile.ZipFile(export, "w") as archive:
        archive.writestr("Shares.csv", POSTS)
        archive.writestr(
            "Profile.csv",
            "First Name,Last Name,Headline,Summary\nRhea,Okafor,Running coach,I coach beginners.\n",
        )
    window = make_window()
    window.open_project(ensure_demo_project(context.data_folder))
    session = window.session
    written = session.persona.description
    session.set_persona_field("background", "")
    dialog = window.open_dropped(export)
    run_async(wait_until(lambda: dialog.found.text().startswith("Found")))
    assert dialog.use_profile.isVisibleTo(dialog)

    dialog.use_profile.click()
    assert session.persona.background == "I coach beginners."
    assert session.persona.description == written  # the creator's own text is kept
    assert "background facts" in dialog.status.text()
    assert window.persona_tab._widgets["background"].toPlainText() == "I coach beginners."
    window.undo_stack.undo()  # one step
    assert session.persona.background == ""
    window.undo_stack.redo()
    dialog.use_profile.click()
    assert "nothing was changed" in dialog.status.text()

    dialog.set_source("persona")
    run_async(wait_until(lambda: "questions" in dialog.found.text()))
    assert not dialog.use_profile.isVisibleTo(dialog)


def test_keep_the_voice_of_a_model_openai_retires(
    make_window, context, run_async, qtbot, monkeypatch
) -> None:
    """The banner names the date; "Keep its voice…" opens the rescue: the old model answers
    the approved questions (price first), its answers are kept, and can become drafts. The
    kept voice is read and written whole at each batch: with the session's writes, in its
    writer thread from `BACKGROUND_WRITE_FROM` candidates (a 2,000-question rescue at 100,000
    examples stalled the window 117 ms on the UI thread)."""
    from datetime import date

    from persona_studio.gui import project_session
    from persona_studio.gui.widgets import retirement
    from persona_studio.services import voice
    from persona_studio.services.voice import kept_voice

    monkeypatch.setattr(project_session, "BACKGROUND_WRITE_FROM", 1)
    kept_in = threads_calling(monkeypatch, voice, "keep_voice")

    old = "ft:gpt-4.1-mini-2025-04-14:coach:rhea:x9"
    monkeypatch.setattr(
        retirement.RetirementBanner, "today", staticmethod(lambda: date(2026, 12, 2))
    )
    with FakeOpenAI(api_key="sk-env", models=(old,)) as server:
        server.reply_for = lambda messages: f"Old: {messages[-1]['content']}"
        monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        window = make_window()
        window.open_project(ensure_demo_project(context.data_folder))
        window.session.set_persona_field("fine_tuned_model", old)
        window.tabs.setCurrentIndex(3)
        banner = window.chat_tab.retirement
        assert banner.isVisibleTo(window.chat_tab)
        assert "14 January 2027" in banner.text.text() and old in banner.text.text()
        window.tabs.setCurrentIndex(2)
        assert window.train_tab.retirement.isVisibleTo(window.train_tab)
        window.train_tab.retirement.button.click()
        from persona_studio.gui.dialogs.generate_dialog import GenerateDialog

        (dialog,) = window.findChildren(GenerateDialog)
        qtbot.waitUntil(lambda: dialog.isVisible() and dialog.kind == "rescue")
        assert dialog.model.currentText() == old
        run_async(wait_until(lambda: dialog.found.text().startswith("Found")))
        assert "24 questions from your approved examples" in dialog.found.text()
        assert "24 calls" in dialog.cost.text() and "$" in dialog.cost.text()
        dialog.start.click()
        run_async(wait_until(lambda: not dialog.running, timeout=20))
        assert dialog.candidates.rowCount() == 24
        # the writer takes them in turn (a flush here would write the rest itself)
        run_async(wait_until(lambda: not window.session.unsaved))
        assert kept_in and set(kept_in) == {"write-project"}
        kept = kept_voice(window.session.project, old)
        assert len(kept) == 24 and all(a == f"Old: {q}" for q, a in kept.items())
        dialog.accept_all.click()
        assert sum(e.source == f"rescue:{old}" for e in window.session.examples) == 24
        window.session.set_persona_field("fine_tuned_model", "gpt-4.1-mini")
        assert not banner.isVisibleTo(window.chat_tab)


def test_the_datasets_texts_are_learnt_as_the_dialog_opens_and_again_after_a_change(
    make_window, context, server, tmp_path, run_async, qtbot, monkeypatch
) -> None:
    """Each run learnt the dataset's texts before its first call (~4 s at 100,000 examples).
    Now the dialog learns them as it opens, once for every run, and again once the examples
    change: a run after an accept knows the example accepted."""
    from persona_studio.gui.dialogs import generate_dialog

    built: list[int] = []
    learn = generate_dialog._learnt

    def counted(examples, stop):
        built.append(len(examples))
        return learn(examples, stop)

    monkeypatch.setattr(generate_dialog, "_learnt", counted)
    window, dialog = _dialog(make_window, context, tmp_path)
    run_async(wait_until(lambda: built == [len(window.session.examples)]))  # before any run
    dialog.set_source("persona")
    dialog.limit.setValue(10)
    for key, box in dialog.styles.items():
        box.setChecked(key == "short")
    run_async(wait_until(lambda: "10 questions in 2 calls" in dialog.found.text()))

    def flagged() -> list[tuple[str, str]]:
        runs = len(dialog.queue.runs)
        dialog.start.click()
        run_async(wait_until(lambda: not dialog.running))
        assert len(dialog.queue.runs) == runs + 1
        assert dialog.start.isEnabled() and not dialog.stop.isVisible()  # ready for another
        run = list(dialog.queue.runs.values())[-1]["candidates"]
        return [(c.question, c.duplicate_of) for c in run]

    first = flagged()
    assert len(built) == 1 and sum(bool(d) for _q, d in first) == 5
    assert sum(bool(d) for _q, d in flagged()) == 5 and len(built) == 1  # the same texts
    question = next(q for q, d in first if not d)
    rows = range(dialog.candidates.rowCount())
    dialog.table.selectRow(next(r for r in rows if _text(dialog, r, 0) == question))
    dialog.accept_button.click()  # the examples change: learnt again, with this one
    third = flagged()
    assert len(built) == 2 and built[-1] == built[0] + 1
    assert sum(bool(d) for _q, d in third) == 6
    assert [d for q, d in third if q == question] == [question, question]  # both known now
    dialog.reject()  # (Escape): what it learnt is let go with it
    assert dialog._known is None


def _learning_held(monkeypatch) -> threading.Event:
    """The dataset's texts learnt only once the event returned is set (as at 100,000
    examples, where that takes seconds)."""
    from persona_studio.gui.dialogs import generate_dialog

    held = threading.Event()
    learn = generate_dialog._learnt

    def slow(examples, stop):
        held.wait(10)
        return learn(examples, stop)

    monkeypatch.setattr(generate_dialog, "_learnt", slow)
    return held


def test_a_run_started_before_the_texts_are_learnt_says_its_candidates_wait_for_them(
    make_window, context, server, tmp_path, run_async, monkeypatch
) -> None:
    """A run clicked as the dialog opens (the texts take seconds to learn at 100,000
    examples) makes its calls meanwhile; the dialog says how many candidates wait to be
    checked against the examples, and shows them once they are."""
    held = _learning_held(monkeypatch)
    _window, dialog = _dialog(make_window, context, tmp_path)
    dialog.set_source("persona")
    dialog.limit.setValue(10)
    run_async(wait_until(lambda: "10 questions in" in dialog.found.text()))
    dialog.start.click()
    run_async(wait_until(lambda: "being checked against your examples" in dialog.status.text()))
    assert dialog.candidates.rowCount() == 0 and dialog.running
    assert dialog.status.text().startswith("0 candidates so far")
    held.set()
    run_async(wait_until(lambda: not dialog.running))
    assert dialog.candidates.rowCount() > 0 and dialog.status.text().startswith("Done:")
    dialog.reject()


def test_a_run_stopped_before_the_texts_are_learnt_has_its_candidates_compared_later(
    make_window, context, server, tmp_path, run_async, monkeypatch
) -> None:
    """A run stopped before the dataset's texts were learnt keeps the candidates it paid for,
    not compared: "Accept all new" took repeats in. They say so, wait, and are compared (and
    saved so) once the texts are."""
    from persona_studio.gui.dialogs import generate_dialog
    from persona_studio.services.review_queue import ReviewQueue

    held = _learning_held(monkeypatch)
    monkeypatch.setattr(generate_dialog, "COMPARED_AT_ONCE", 3)  # (in parts, as many would)
    window, dialog = _dialog(make_window, context, tmp_path)
    dialog.set_source("persona")
    dialog.limit.setValue(10)
    for key, box in dialog.styles.items():
        box.setChecked(key == "short")  # the second call repeats the first (5 repeats)
    run_async(wait_until(lambda: "10 questions in 2 calls" in dialog.found.text()))
    dialog.start.click()
    run_async(wait_until(lambda: dialog.generator is not None))
    run_async(wait_until(lambda: dialog.generator.progress.uncompared == 10))
    dialog.stop.click()
    run_async(wait_until(lambda: not dialog.running))
    assert dialog.candidates.rowCount() == 10
    assert {_text(dialog, r, 3) for r in range(10)} == {"Not compared yet"}
    before = window.session.project.counts().examples
    dialog.accept_all.click()  # none is known not to repeat an example
    assert window.session.project.counts().examples == before
    assert dialog.status.text() == (
        "None added: 10 candidates are not yet compared with your examples; they stay for review."
    )
    dialog.reject()  # closed before they could be: compared when it opens again

    dialog = window.open_dropped(tmp_path / "Basic_LinkedInDataExport.zip")
    assert {_text(dialog, r, 3) for r in range(10)} == {"Not compared yet"}
    held.set()
    run_async(wait_until(lambda: dialog._comparing is not None and dialog._comparing.done()))
    assert "Not compared yet" not in {_text(dialog, r, 3) for r in range(10)}
    assert sum(bool(_text(dialog, r, 3)) for r in range(10)) == 5
    assert window.session.flush()
    kept = ReviewQueue(window.session.project).pending()  # saved compared
    assert len(kept) == 10 and all(c.compared for c in kept)
    assert sum(bool(c.duplicate_of) for c in kept) == 5
    dialog.accept_all.click()
    assert window.session.project.counts().examples == before + 5
    assert dialog.candidates.rowCount() == 5
    dialog.reject()


def test_a_learning_of_the_texts_stops_once_the_examples_change(
    make_window, context, tmp_path, monkeypatch
) -> None:
    """The texts are learnt in the check's worker where it holds the examples, else in a
    thread; a change of the examples stops either (what it learnt is of no use)."""
    import threading

    from persona_studio.core import generation
    from persona_studio.gui.dialogs import generate_dialog
    from persona_studio.services.check_process import shared

    window, dialog = _dialog(make_window, context, tmp_path)
    examples = list(window.session.examples)
    learnt = generate_dialog._learnt(examples, threading.Event())
    assert learnt is not None
    assert learnt.find(examples[0].question) == examples[0].question
    stop = threading.Event()
    stop.set()
    assert generate_dialog._learnt(examples, stop) is None
    monkeypatch.setattr(shared(), "known_texts", lambda _examples, _stop: None)  # not held
    assert generate_dialog._learnt(examples, stop) is None  # stopped in the thread too
    assert generation.known_texts(examples, lambda: True) is None
    dialog.reject()


def test_escape_stops_a_run_as_closing_does(
    make_window, context, server, tmp_path, run_async, qtbot
) -> None:
    """Escape rejects the dialog without a close event: the run went on unseen, paying."""
    import time

    server.reply_for = lambda messages: (time.sleep(0.3), model_reply(messages))[1]
    _window, dialog = _dialog(make_window, context, tmp_path)
    run_async(wait_until(lambda: dialog.found.text().startswith("Found")))
    dialog.start.click()
    run_async(wait_until(lambda: dialog.running and dialog.current_run is not None))
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert not dialog.isVisible()
    run_async(wait_until(lambda: not dialog.running))
    (run,) = dialog.queue.runs.values()
    assert run["status"] == "cancelled" and len(run["candidates"]) < 2
