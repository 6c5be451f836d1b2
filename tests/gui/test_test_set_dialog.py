"""The voice check's questions, shaped by the creator: add a question with your answer (approved,
pinned, never trained), edit one, pin and unpin; each change is one undo step, and the check
and training follow it."""

from __future__ import annotations

from persona_studio.core.demo import ensure_demo_project
from persona_studio.core.test_set import PIN_TAG, in_test_set, split_test_set
from persona_studio.services.voice_check import check_questions
from tests.conftest import threads_calling, wait_until


def _dialogs(make_window, context, qtbot, run_async):
    window = make_window()
    window.open_project(ensure_demo_project(context.data_folder))
    check = window.check_voice()
    questions = check.open_test_set()
    qtbot.waitUntil(questions.isVisible)
    _read(questions, run_async)
    return window, questions


def _read(dialog, run_async) -> None:
    """The set is read in a thread after each change: wait for it."""
    run_async(wait_until(lambda: dialog.reading is not None and dialog.reading.done()))


def _rows(dialog) -> int:
    return dialog.table.model().rowCount()


def _why(dialog, row: int) -> str:
    return dialog.table.model().index(row, 2).data()


def test_add_edit_pin_and_undo(make_window, context, qtbot, run_async) -> None:
    window, dialog = _dialogs(make_window, context, qtbot, run_async)
    session = window.session
    share = session.project.test_share
    before = _rows(dialog)
    assert before == len(split_test_set(session.examples, share)[1]) >= 1
    assert dialog.probes.count() >= 1  # the rule probes made from the persona
    assert "No training ever sees them" in dialog.intro.text()

    # add a question: approved, pinned, in the check, left out of training
    add = dialog.add_question()
    add.question.setPlainText("What do you do on a rest day?")
    add.answer.setPlainText("I rest. Properly. A walk at most!")
    add.accept()
    _read(dialog, run_async)
    assert _rows(dialog) == before + 1
    (added,) = [e for e in session.examples if e.question == "What do you do on a rest day?"]
    assert added.status == "approved" and PIN_TAG in added.tags
    assert dialog.selected().id == added.id
    assert _why(dialog, dialog.table.currentIndex().row()) == "Pinned by you"
    kept, test = split_test_set(session.examples, share)
    assert added.id in {e.id for e in test} and added.id not in {e.id for e in kept}
    assert added.id in {e.id for e in check_questions(session.examples, 200, share)}
    assert window.undo_stack.undoText() == "Add a question to the voice check"

    # edit its answer: the check asks it as it reads now
    edit = dialog.edit_selected()
    edit.answer.setPlainText("Rest. Really rest.")
    edit.accept()
    _read(dialog, run_async)
    (edited,) = [e for e in session.examples if e.id == added.id]
    assert edited.answer == "Rest. Really rest." and edited.question == added.question
    assert session.project.example(added.id).answer == "Rest. Really rest."  # saved
    window.undo_stack.undo()
    _read(dialog, run_async)
    assert next(e for e in session.examples if e.id == added.id).answer == added.answer

    # unpin: it leaves the check unless its id falls in the random share
    dialog.select(added.id)
    dialog.toggle_pin()
    _read(dialog, run_async)
    unpinned = next(e for e in session.examples if e.id == added.id)
    assert PIN_TAG not in unpinned.tags
    if in_test_set(unpinned, share):
        assert dialog.message.text() == "Unpinned."
    else:
        assert "no longer in the check: training may use it" in dialog.message.text()
        assert _rows(dialog) == before
    window.undo_stack.undo()  # pinned again
    _read(dialog, run_async)
    assert PIN_TAG in next(e for e in session.examples if e.id == added.id).tags
    assert _rows(dialog) == before + 1

    # a question picked at random can be pinned, so it stays whatever the share
    random_row = next(r for r in range(_rows(dialog)) if _why(dialog, r) == "Picked at random")
    dialog.table.selectRow(random_row)
    assert dialog.pin.text() == "Pin"
    chosen = dialog.selected()
    dialog.toggle_pin()
    _read(dialog, run_async)
    assert PIN_TAG in next(e for e in session.examples if e.id == chosen.id).tags
    assert dialog.message.text() == "Pinned: every check asks it."
    assert dialog.selected().id == chosen.id and dialog.pin.text() == "Unpin"  # still chosen

    # undo everything: back to the demo's own set
    while window.undo_stack.canUndo():
        window.undo_stack.undo()
    _read(dialog, run_async)
    assert _rows(dialog) == before


def test_empty_answers_change_nothing(make_window, context, qtbot, run_async) -> None:
    window, dialog = _dialogs(make_window, context, qtbot, run_async)
    count = len(window.session.examples)
    add = dialog.add_question()
    add.question.setPlainText("A question with no answer?")
    add.accept()
    assert len(window.session.examples) == count
    assert dialog.message.text() == "A question needs your answer too: nothing was added."
    dialog.table.selectRow(0)
    edit = dialog.edit_selected()
    edit.answer.setPlainText("   ")
    edit.accept()
    assert "cannot be empty" in dialog.message.text()
    assert not window.undo_stack.canUndo()


def test_too_few_questions_say_so(make_window, context, qtbot, run_async) -> None:
    _window, dialog = _dialogs(make_window, context, qtbot, run_async)
    assert _rows(dialog) == 1  # the demo keeps 1 of its approved examples aside
    assert dialog.intro.text().startswith("The voice check asks this 1 question.")
    assert "the check asks questions training has seen too: add or pin a few" in (
        dialog.intro.text()
    )


def test_the_set_is_read_in_a_thread_after_each_change(
    make_window, context, qtbot, run_async, monkeypatch
) -> None:
    """At 100,000 examples reading the set (ids hashed, texts decoded) on the UI thread, and
    filling a table widget with ~8,000 rows of items, froze the window 0.4 s as the dialog
    opened and 34 s at a pin."""
    import threading

    from persona_studio.gui.dialogs import test_set_dialog

    read_in = threads_calling(monkeypatch, test_set_dialog, "questions_kept_aside")
    _window, dialog = _dialogs(make_window, context, qtbot, run_async)
    dialog.table.selectRow(0)
    dialog.toggle_pin()
    _read(dialog, run_async)
    assert len(read_in) == 2 and threading.main_thread().name not in read_in
    assert PIN_TAG in dialog.selected().tags


def test_the_questions_listed_are_those_training_leaves_out() -> None:
    """A small dataset keeps fewer aside (never fewer than 10 left to train on): the list
    shows what training leaves out, not what the share alone would."""
    from persona_studio.core.test_set import DEFAULT_SHARE
    from persona_studio.gui.dialogs.test_set_dialog import questions_kept_aside
    from tests.conftest import approved_with_ids as approved
    from tests.conftest import ids_by_share

    low, high = ids_by_share(DEFAULT_SHARE, 2, 38)

    assert questions_kept_aside(approved(low + high[:8]), DEFAULT_SHARE) == []  # 10: all train
    forty = approved(low + high[:38])
    assert questions_kept_aside(forty, DEFAULT_SHARE) == split_test_set(forty, DEFAULT_SHARE)[1]
    assert [e.id for e in questions_kept_aside(forty, DEFAULT_SHARE)] == low


def test_it_says_which_questions_the_fine_tuned_model_trained_on(
    make_window, context, qtbot, run_async
) -> None:
    """A model trained before some questions were kept aside saw them: the list says which,
    and that the check asks it only the others."""
    from persona_studio.core.records import JobRecord
    from persona_studio.core.test_set import trained_digest
    from persona_studio.gui.dialogs.test_set_dialog import SEEN

    window = make_window()
    window.open_project(ensure_demo_project(context.data_folder))
    session = window.session
    model = "ft:gpt-4.1-mini-2025-04-14:coach:rhea:v1"
    session.project.set_test_share(0.5)
    kept, test = split_test_set(session.examples, 0.5)
    first = next(e for e in test if e.question and e.answer)
    early = [e.id for e in kept if e.status == "approved"] + [first.id]
    session.project.save_job(  # trained when only one of today's questions was kept aside
        JobRecord("j1", "openai", "gpt-4.1-mini", "succeeded", model, trained=trained_digest(early))
    )
    dialog = window.check_voice().open_test_set()
    qtbot.waitUntil(dialog.isVisible)
    _read(dialog, run_async)
    assert not any(_why(dialog, row).endswith(SEEN) for row in range(_rows(dialog)))
    session.set_persona_field("fine_tuned_model", model)  # (the dialog reads it again)
    _read(dialog, run_async)
    seen = [row for row in range(_rows(dialog)) if _why(dialog, row).endswith(SEEN)]
    assert [dialog.shown[row].id for row in seen] == [first.id]
    assert f"Your fine-tuned model ({model}) trained on 1 of them" in dialog.intro.text()
