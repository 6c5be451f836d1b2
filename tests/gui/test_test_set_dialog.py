"""The voice check's questions, shaped by the creator: add a question with your answer (approved,
pinned, never trained), edit one, pin and unpin; each change is one undo step, and the check
and training follow it."""

from __future__ import annotations

from persona_studio.core.demo import ensure_demo_project
from persona_studio.core.test_set import PIN_TAG, in_test_set, split_test_set
from persona_studio.services.voice_check import check_questions


def _dialogs(make_window, context, qtbot):
    window = make_window()
    window.open_project(ensure_demo_project(context.data_folder))
    check = window.check_voice()
    questions = check.open_test_set()
    qtbot.waitUntil(questions.isVisible)
    return window, questions


def test_add_edit_pin_and_undo(make_window, context, qtbot) -> None:
    window, dialog = _dialogs(make_window, context, qtbot)
    session = window.session
    share = session.project.test_share
    before = dialog.table.rowCount()
    assert before == len(split_test_set(session.examples, share)[1]) >= 1
    assert dialog.probes.count() >= 1  # the rule probes made from the persona
    assert "No training ever sees them" in dialog.intro.text()

    # add a question: approved, pinned, in the check, left out of training
    add = dialog.add_question()
    add.question.setPlainText("What do you do on a rest day?")
    add.answer.setPlainText("I rest. Properly. A walk at most!")
    add.accept()
    assert dialog.table.rowCount() == before + 1
    (added,) = [e for e in session.examples if e.question == "What do you do on a rest day?"]
    assert added.status == "approved" and PIN_TAG in added.tags
    assert dialog.selected().id == added.id
    assert dialog.table.item(dialog.table.currentRow(), 2).text() == "Pinned by you"
    kept, test = split_test_set(session.examples, share)
    assert added.id in {e.id for e in test} and added.id not in {e.id for e in kept}
    assert added.id in {e.id for e in check_questions(session.examples, 200, share)}
    assert window.undo_stack.undoText() == "Add a question to the voice check"

    # edit its answer: the check asks it as it reads now
    edit = dialog.edit_selected()
    edit.answer.setPlainText("Rest. Really rest.")
    edit.accept()
    (edited,) = [e for e in session.examples if e.id == added.id]
    assert edited.answer == "Rest. Really rest." and edited.question == added.question
    assert session.project.example(added.id).answer == "Rest. Really rest."  # saved
    window.undo_stack.undo()
    assert next(e for e in session.examples if e.id == added.id).answer == added.answer

    # unpin: it leaves the check unless its id falls in the random share
    dialog.select(added.id)
    dialog.toggle_pin()
    unpinned = next(e for e in session.examples if e.id == added.id)
    assert PIN_TAG not in unpinned.tags
    if in_test_set(unpinned, share):
        assert dialog.message.text() == "Unpinned."
    else:
        assert "no longer in the check: training may use it" in dialog.message.text()
        assert dialog.table.rowCount() == before
    window.undo_stack.undo()  # pinned again
    assert PIN_TAG in next(e for e in session.examples if e.id == added.id).tags
    assert dialog.table.rowCount() == before + 1

    # a question picked at random can be pinned, so it stays whatever the share
    random_row = next(
        row for row in range(dialog.table.rowCount())
        if dialog.table.item(row, 2).text() == "Picked at random"
    )  # fmt: skip
    dialog.table.selectRow(random_row)
    assert dialog.pin.text() == "Pin"
    chosen = dialog.selected()
    dialog.toggle_pin()
    assert PIN_TAG in next(e for e in session.examples if e.id == chosen.id).tags
    assert dialog.message.text() == "Pinned: every check asks it."

    # undo everything: back to the demo's own set
    while window.undo_stack.canUndo():
        window.undo_stack.undo()
    assert dialog.table.rowCount() == before


def test_empty_answers_change_nothing(make_window, context, qtbot) -> None:
    window, dialog = _dialogs(make_window, context, qtbot)
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


def test_too_few_questions_say_so(make_window, context, qtbot) -> None:
    _window, dialog = _dialogs(make_window, context, qtbot)
    assert dialog.table.rowCount() == 1  # the demo keeps 1 of its approved examples aside
    assert dialog.intro.text().startswith("The voice check asks this 1 question.")
    assert "the check asks questions training has seen too: add or pin a few" in (
        dialog.intro.text()
    )
