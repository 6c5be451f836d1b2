"""A project whose records are damaged (or written by hand) opens in the window: every tab,
the job's timeline, the conversation, the voice check, Generate and the pipeline show what can
be read, and nothing fails (pytest-qt fails the test on an exception in a slot)."""

from __future__ import annotations

from tests.core.test_damaged_records import _damaged_project


def test_a_project_with_damaged_records_opens_and_every_view_draws(
    make_window, context, qtbot
) -> None:
    window = make_window()
    window.show()
    assert window.open_project(_damaged_project(context.data_folder))
    for index in range(window.tabs.count()):
        window.tabs.setCurrentIndex(index)
        qtbot.wait(50)
    rules = window.persona_tab.rules_editor
    window.persona_tab.side_tabs.setCurrentIndex(1)
    for row in range(rules.list.count()):
        rules.list.setCurrentRow(row)
    rules.list.setCurrentRow(0)
    assert rules.error.text().startswith("This rule is inactive until fixed: Add at least one")
    window.tabs.setCurrentWidget(window.chat_tab)
    window.chat_tab.send_message("My knee hurts, is there a link to a plan?")
    qtbot.waitUntil(lambda: not any(pane.busy for pane in window.chat_tab.panes))
    train = window.train_tab
    train._fill_history(select="j")
    train.show_job("j")
    train.show_job("k")
    window.chat_tab.open_conversation("c")
    assert window.chat_tab.panes[0].messages == []
    assert window.sheet.link() == {}  # the link's record is not one: not linked

    check = window.check_voice()
    assert check.history.count() == 1  # the damaged check: listed, with nothing to show
    check._show_earlier(0)
    check.close()
    generate = window.generate_examples()
    assert generate.table.model().rowCount() == 1  # the one candidate that is one
    generate.close()
    pipeline = window.run_pipeline()
    assert pipeline.run is None and not pipeline.resume.isVisible()  # nothing to resume
    pipeline.close()
