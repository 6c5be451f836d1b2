"""The Chat tab: offline and streaming panes side by side, rules, stop, curation, saving."""

from __future__ import annotations

import asyncio
import json

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDialog

from persona_studio.core.demo import ensure_demo_project
from persona_studio.core.probes import probes
from persona_studio.gui.chat_tab import AddExampleDialog
from tests.conftest import file_taken, threads_calling, wait_until
from tests.fakes.openai_server import FakeOpenAI
from tests.gui.conftest import add_provider, minimum_size

MODEL = "gpt-4.1-mini-2025-04-14"


def _chat(make_window, context):
    window = make_window()
    window.open_project(ensure_demo_project(context.data_folder))
    window.tabs.setCurrentIndex(3)
    return window, window.chat_tab


def _done(pane) -> bool:
    return not pane.busy and bool(pane.messages) and pane.messages[-1]["role"] == "assistant"


def test_offline_pane_answers_from_the_dataset(make_window, context, qtbot, run_async) -> None:
    window, tab = _chat(make_window, context)
    assert "Hi, I'm Rhea" in tab.panes[0].transcript.toPlainText()
    qtbot.keyClicks(tab.input, "which running shoes should I buy")
    qtbot.keyClick(tab.input, Qt.Key.Key_Return)
    pane = tab.panes[0]
    run_async(wait_until(lambda: _done(pane)))
    assert pane.messages[-1]["content"].startswith("Choose shoes that feel comfortable")
    assert "nearest example" in pane.meta.text()
    assert tab.input.toPlainText() == ""
    chats = window.session.project.chats()
    assert len(chats) == 1 and chats[0].title == "which running shoes should I buy"


def test_the_send_button_sends(make_window, context, qtbot, run_async) -> None:
    """A click on Send, as a creator's mouse makes it (its `clicked(bool)` once reached the
    slot as the text to send: every click failed)."""
    window, tab = _chat(make_window, context)
    window.show()
    qtbot.keyClicks(tab.input, "which running shoes should I buy")
    qtbot.mouseClick(tab.send, Qt.MouseButton.LeftButton)
    pane = tab.panes[0]
    run_async(wait_until(lambda: _done(pane)))
    assert pane.messages[-1]["content"].startswith("Choose shoes that feel comfortable")
    assert tab.input.toPlainText() == ""


def test_three_panes_stream_in_parallel_with_rules(
    make_window, context, qtbot, run_async, keyring_backend
) -> None:
    with FakeOpenAI(api_key="sk-test", models=(MODEL,)) as server:
        server.reply_for = lambda messages: "Start slow, **really** slow."
        server.chunk_delay = 0.01
        add_provider(context, keyring_backend, "fake", server, chat_model=MODEL)
        _, tab = _chat(make_window, context)
        tab.pane_count.setValue(3)
        assert len(tab.panes) == 3
        for pane, mode in zip(tab.panes[1:], ("persona", "retrieval"), strict=True):
            pane.fill_engines()
            pane.engine.setCurrentIndex(pane.engine.findData("fake"))
            pane.mode.setCurrentIndex(pane.mode.findData(mode))
        tab.send_message("how do I start running?")
        run_async(wait_until(lambda: all(_done(p) for p in tab.panes), timeout=15))
        assert tab.panes[0].messages[-1]["content"].startswith("Start with walk-run")
        for pane in tab.panes[1:]:
            assert pane.messages[-1]["content"] == "Start slow, **really** slow."
            assert (
                "really" in pane.transcript.toHtml() and "<b>" not in pane.messages[-1]["content"]
            )
            assert MODEL in pane.meta.text()
        # a rule answers without the model, and says so
        tab.send_message("send me a link to a plan")
        run_async(wait_until(lambda: all(_done(p) for p in tab.panes), timeout=15))
        for pane in tab.panes:
            assert pane.messages[-1]["content"].startswith("I don't share links")
            assert "[rule: Asks for a plan link" in pane.transcript.toPlainText()


def test_stop_keeps_what_arrived_and_errors_stay_in_their_pane(
    make_window, context, run_async, keyring_backend
) -> None:
    with FakeOpenAI(api_key="sk-test", models=(MODEL,)) as server:
        server.reply_for = lambda messages: " ".join(["word"] * 200)
        server.chunk_delay = 0.02
        add_provider(context, keyring_backend, "fake", server, chat_model=MODEL)
        _, tab = _chat(make_window, context)
        tab.pane_count.setValue(2)
        pane = tab.panes[1]
        pane.fill_engines()
        pane.engine.setCurrentIndex(pane.engine.findData("fake"))
        tab.send_message("talk a lot")
        run_async(wait_until(lambda: pane.messages[-1]["content"].count("word") >= 3))
        tab.stop_all()
        run_async(wait_until(lambda: not pane.busy))
        assert pane.messages[-1]["error"] == "Stopped."
        assert 3 <= pane.messages[-1]["content"].count("word") < 200
        pane.model.setText("no-such-model")
        tab.send_message("again")
        run_async(wait_until(lambda: all(_done(p) for p in tab.panes), timeout=15))
        assert "does not know the model" in pane.messages[-1]["error"]
        assert "does not know" in pane.transcript.toPlainText()
        assert not tab.panes[0].messages[-1].get("error")  # the offline pane answered


def test_rate_and_add_a_corrected_reply_to_the_dataset(
    make_window, context, qtbot, run_async
) -> None:
    window, tab = _chat(make_window, context)
    tab.send_message("can I run with my dog?")
    pane = tab.panes[0]
    run_async(wait_until(lambda: _done(pane)))
    qtbot.mouseClick(pane.good, Qt.MouseButton.LeftButton)
    assert pane.messages[-1]["rating"] == 1 and "✓ good" in pane.transcript.toPlainText()
    qtbot.mouseClick(pane.keep, Qt.MouseButton.LeftButton)
    dialog = tab.findChild(AddExampleDialog)
    qtbot.waitUntil(dialog.isVisible)
    assert dialog.question.toPlainText() == "can I run with my dog?"
    dialog.answer.setPlainText("Yes! Start with short, easy runs together.")
    dialog.accept()
    added = window.session.project.examples()[-1]
    assert (added.question, added.answer, added.status, added.source) == (
        "can I run with my dog?",
        "Yes! Start with short, easy runs together.",
        "draft",
        "chat",
    )
    saved = window.session.project.chats()[0].panes[0]["messages"]
    assert saved[-1]["rating"] == 1


def test_conversations_reopen_rename_delete_and_regenerate(
    make_window, context, run_async, monkeypatch
) -> None:
    window, tab = _chat(make_window, context)
    tab.send_message("how fast should I run?")
    run_async(wait_until(lambda: _done(tab.panes[0])))
    first_id = tab.chat_id
    tab.start_new()
    assert tab.panes[0].messages == []
    tab.send_message("should I stretch?")
    run_async(wait_until(lambda: _done(tab.panes[0])))
    assert tab.conversations.count() == 3  # new + two saved
    tab.open_conversation(first_id)
    assert tab.panes[0].messages[0]["content"] == "how fast should I run?"
    tab.regenerate_last()
    run_async(wait_until(lambda: _done(tab.panes[0])))
    assert [m["role"] for m in tab.panes[0].messages] == ["user", "assistant"]
    from PySide6.QtWidgets import QInputDialog

    monkeypatch.setattr(QInputDialog, "getText", staticmethod(lambda *a, **k: ("Pace", True)))
    tab._rename()
    assert any(c.title == "Pace" for c in window.session.project.chats())
    tab._delete()
    assert [c.title for c in window.session.project.chats()] == ["should I stretch?"]
    assert "**You**: should I stretch?" not in tab.export_markdown()


def test_conversations_are_listed_kept_and_opened_while_a_worker_has_the_file(
    make_window, context, run_async
) -> None:
    """An export's read or a copy has the project file for seconds at 1,000,000 examples.
    The Chat tab's list (0.5 s at 100,000 as the tab first showed), a reply's save and a
    deletion waited for it on the window's thread. Now the list is kept, the writes wait
    their turn (listed meanwhile), and a saved conversation asked for opens once it is free."""
    window = make_window()
    window.open_project(ensure_demo_project(context.data_folder))
    session = window.session
    with file_taken(session.project):
        window.tabs.setCurrentIndex(3)  # the tab is made, its list filled
        tab = window.chat_tab
        assert tab.conversations.count() == 1  # "New conversation"
    tab.send_message("how fast should I run?")
    run_async(wait_until(lambda: _done(tab.panes[0])))
    first_id = tab.chat_id
    tab.start_new()

    def listed() -> list[str]:
        return [tab.conversations.itemText(i) for i in range(tab.conversations.count())]

    with file_taken(session.project) as release:
        tab.send_message("should I stretch?")
        run_async(wait_until(lambda: _done(tab.panes[0])))  # its reply saved: in turn
        second_id = tab.chat_id
        assert listed() == ["New conversation", "should I stretch?", "how fast should I run?"]
        assert window.save_label.text() == "Saving…" and session.unsaved
        tab.open_conversation(first_id)  # read from the file: once the worker is done
        run_async(asyncio.sleep(0.2))
        assert tab.chat_id == second_id and "should I stretch?" in tab.export_markdown()
        release.set()
        run_async(wait_until(lambda: tab.chat_id == first_id))
    assert "how fast should I run?" in tab.export_markdown()
    run_async(wait_until(lambda: not session.unsaved))
    assert {c.id for c in session.project.chats()} == {first_id, second_id}
    with file_taken(session.project):
        tab._delete()  # the one shown
        assert listed() == ["New conversation", "should I stretch?"]
    run_async(wait_until(lambda: not session.unsaved))
    assert [c.id for c in session.project.chats()] == [second_id]
    assert listed() == ["New conversation", "should I stretch?"]


def test_the_voice_checks_history_waits_for_a_worker_that_has_the_file(
    make_window, context, run_async, qtbot
) -> None:
    """Opening "Does it sound like me?" read the earlier checks on the window's thread, and
    waited for the file (0.3 s while an export read 100,000 examples); a check's scoreboard
    was kept the same way. Now both wait their turn, the history says it is being read."""
    window = make_window()
    window.open_project(ensure_demo_project(context.data_folder))
    session = window.session
    with file_taken(session.project) as release:
        dialog = window.check_voice()
        qtbot.waitUntil(dialog.isVisible)
        assert dialog.history_note.text() == "Reading the earlier checks…"
        assert not dialog.export.isEnabled()
        release.set()
        run_async(wait_until(lambda: dialog.history_note.text() == "No earlier checks yet."))
    for key in ("finetuned", "persona", "retrieval", "kept"):
        dialog.boxes[key].setChecked(False)
    dialog.limit.setValue(3)
    dialog.start.click()
    run_async(wait_until(lambda: not dialog.running and dialog.history.count() == 1, 20))
    assert dialog.outcome is not None
    with file_taken(session.project) as release:
        dialog.outcome.judge = "a judge's verdicts"  # (as after the judge: kept again)
        dialog._keep(dialog.outcome)
        dialog._fill_history()
        assert window.save_label.text() == "Saving…"
        assert dialog.history_note.text() == "Reading the earlier checks…"
        release.set()
        run_async(wait_until(lambda: dialog.export.isEnabled()))
    assert dialog.history.count() == 1 and dialog.runs[0]["id"] == dialog.outcome.run_id
    run_async(wait_until(lambda: not session.unsaved))


def test_blind_mode_hides_engines_until_the_pick(make_window, context, run_async) -> None:
    window, tab = _chat(make_window, context)
    window.show()
    tab.pane_count.setValue(3)
    tab.blind.setChecked(True)
    titles = sorted(p.title.text() for p in tab.panes)
    assert titles == ["<b>Reply A</b>", "<b>Reply B</b>", "<b>Reply C</b>"]
    tab.send_message("what should I eat before a run?")
    run_async(wait_until(lambda: all(_done(p) for p in tab.panes)))
    for pane in tab.panes:  # nothing on screen tells which engine wrote which reply
        assert not pane.engine.isVisible() and not pane.mode.isVisible()
        assert not pane.model.isVisible()
        assert pane.meta.text() == "" and "offline" not in pane.transcript.toPlainText().lower()
    # Reply A sits in the first place, whichever pane it is: the order is shuffled
    first = tab.panes_row.itemAt(0).widget()
    assert first.title.text() == "<b>Reply A</b>"
    seen = set()
    for _ in range(40):
        tab._set_blind(True)
        seen.add(tab.panes_row.itemAt(0).widget().number)
    assert seen == {1, 2, 3}

    picked = tab.panes_row.itemAt(1).widget()
    picked.best.click()
    for pane in tab.panes:  # revealed after the pick
        assert pane.engine.isVisible() and pane.meta.text()
        assert pane.engine.currentText() in pane.title.text()
    assert picked.title.text().startswith("<b>Reply B · ")

    def blind_flags() -> list[object]:  # as saved: the voice check reads the blind picks
        (saved,) = [c for c in window.session.project.chats() if c.id == tab.chat_id]
        return [m.get("blind") for p in saved.panes for m in p["messages"] if "best" in m]

    assert blind_flags() == [True, True, True]
    picked.best.click()  # picked again once the engines are shown: not a blind pick
    assert blind_flags() == [False, False, False]
    tab.send_message("and after?")  # the next round is blind again
    assert all(not pane.engine.isVisible() for pane in tab.panes)
    run_async(wait_until(lambda: all(_done(p) for p in tab.panes)))


def test_best_pick_and_export(make_window, context, run_async, tmp_path) -> None:
    import json

    _, tab = _chat(make_window, context)
    tab.pane_count.setValue(2)
    tab.send_message("what should I eat before a run?")
    run_async(wait_until(lambda: all(_done(p) for p in tab.panes)))
    tab.panes[1].best.click()
    tab.panes[1].copy.click()
    from PySide6.QtGui import QGuiApplication

    assert QGuiApplication.clipboard().text().startswith("Something light")
    assert [p.messages[-1].get("best") for p in tab.panes] == [False, True]
    assert "★ best" in tab.panes[1].transcript.toPlainText()
    tab.export_to(tmp_path / "chat.md")
    markdown = (tmp_path / "chat.md").read_text()
    assert markdown.startswith("# what should I eat before a run?")
    assert "**Coach Rhea** (best): Something light" in markdown
    tab.export_to(tmp_path / "chat.jsonl")
    lines = [json.loads(x) for x in (tmp_path / "chat.jsonl").read_text().splitlines()]
    assert len(lines) == 2 and lines[1]["votes"] == [{"turn": 1, "rating": 0, "best": True}]
    assert lines[0]["messages"][0] == {"role": "user", "content": "what should I eat before a run?"}


def test_switching_projects_never_answers_from_the_previous_dataset(
    make_window, context, qtbot, run_async, tmp_path
) -> None:
    """Issue 15 item 10: after Open Recent, Coach Rhea answered with the other character's
    example at "match 100%" (its retrieval index outlived the switch)."""
    from persona_studio.core.dataset import Example
    from persona_studio.core.persona import Persona
    from persona_studio.core.project import Project

    other = tmp_path / "Sunny.persona"
    with Project.create(other, Persona(name="Sunny Strides")) as project:
        project.add_examples(
            [Example.from_qa("Which running shoes should I buy?", "Sunny says: go barefoot.")]
        )
    window, tab = _chat(make_window, context)
    demo = window.session.project.path

    def ask() -> str:
        pane = tab.panes[0]
        before = len(pane.messages)
        qtbot.keyClicks(tab.input, "which running shoes should I buy")
        qtbot.keyClick(tab.input, Qt.Key.Key_Return)
        run_async(wait_until(lambda: len(pane.messages) > before + 1 and _done(pane)))
        return pane.messages[-1]["content"]

    for _ in range(2):  # quick switches back and forth, a question after each
        assert ask().startswith("Choose shoes that feel comfortable")
        assert window.open_project(other)
        assert ask() == "Sunny says: go barefoot."
        assert window.open_project(demo)


def test_does_it_sound_like_me_from_the_train_menu(
    make_window, context, run_async, qtbot, keyring_backend
) -> None:
    """The offline engine and an old model's kept voice are scored with no account; a judge
    model (the fake, preferring the kept voice) adds its win rates and reasons; the
    scoreboard ranks them and a question shows every answer beside the creator's."""
    from persona_studio.core.records import ChatRecord
    from persona_studio.services.voice import keep_voice
    from persona_studio.services.voice_check import check_questions

    window = make_window()
    window.open_project(ensure_demo_project(context.data_folder))
    project = window.session.project
    asked = check_questions(project.examples(), 5)
    kept = [(e.question, e.answer) for e in asked]
    keep_voice(project, "ft:gpt-4o-mini-2024-07-18:c:r:v1", "openai", kept)
    references = {e.answer for e in asked}
    # two blind picks from the Chat tab: this judge agrees with the first, not the second
    bland = "Individual needs vary; consult a professional."
    picks = [(asked[0].answer, bland), (bland, asked[1].answer)]
    panes = [
        {"messages": [m for q, (a, _) in zip("12", picks, strict=True) for m in (
            {"role": "user", "content": f"Chat question {q}?"},
            {"role": "assistant", "content": a, "best": True, "blind": True})]},
        {"messages": [m for q, (_, b) in zip("12", picks, strict=True) for m in (
            {"role": "user", "content": f"Chat question {q}?"},
            {"role": "assistant", "content": b, "best": False, "blind": True})]},
    ]  # fmt: skip
    project.save_chat(ChatRecord("blind-chat", "Blind", panes))

    def verdict(messages: list[dict[str, str]]) -> str:
        text = messages[-1]["content"]
        if "The rule:\n" in text:
            return '{"keeps": true, "reason": "In character."}'
        first = text.split("Reply A:\n")[1].split("\n\n")[0] in references
        return '{"winner": "%s", "reason": "Her words."}' % ("A" if first else "B")

    with FakeOpenAI(api_key="sk-judge", models=("judge-1",)) as judge:
        judge.reply_for = verdict
        add_provider(context, keyring_backend, "judge", judge)
        window.findChild(QAction, "action_check").trigger()
        (dialog,) = window.findChildren(QDialog, "voice_check_dialog")
        qtbot.waitUntil(dialog.isVisible)
        dialog.boxes["finetuned"].setChecked(False)
        dialog.limit.setValue(5)
        dialog.judge_model.setText("judge-1")
        dialog.judge_profile.setCurrentIndex(dialog.judge_profile.findData("judge"))
        n = len(probes(window.session.persona))
        # the cost first: a Cancel asks nothing
        dialog.start.click()
        run_async(wait_until(lambda: getattr(dialog, "cost_box", None) is not None))
        text = dialog.cost_box.text()  # 5 questions × 2 orders, 2 blind picks × 2, n probes
        assert text.startswith(f"The judge judge-1 is asked {14 + n} times (price unknown).")
        dialog.cost_box.button(dialog.cost_box.StandardButton.Cancel).click()
        run_async(wait_until(lambda: not dialog.running))
        assert dialog.status.text() == "Not started: nothing was asked."
        assert dialog.outcome is None and not judge.requests
        dialog.start.click()
        run_async(wait_until(lambda: dialog.cost_box.isVisible()))
        next(b for b in dialog.cost_box.buttons() if b.text() == "Run the check").click()
        run_async(wait_until(lambda: dialog.outcome is not None and not dialog.running, 15))
    assert dialog.board.rowCount() == 2
    assert dialog.board.item(0, 0).text().startswith("Your old model")
    assert dialog.board.item(0, 1).text().startswith("100 %")
    assert dialog.board.item(0, 4).text().startswith("100 %")  # the judge: every pair won
    assert dialog.board.item(1, 4).text().startswith("0 %")
    assert dialog.board.item(1, 3).text() == f"{n} of {n}"  # offline: keeps every rule
    assert dialog.questions.count() == 5 + n  # the questions, then the rule probes
    dialog.questions.setCurrentRow(5 + n - 1)  # "are you an AI?"
    assert "This probe tempts: stay in character" in dialog.answers.toPlainText()
    assert "Offline engine (answers from your examples) — kept" in dialog.answers.toPlainText()
    dialog.questions.setCurrentRow(0)
    assert dialog.answers.toPlainText().startswith("You:\n")
    assert "(The judge preferred it: Her words.)" in dialog.answers.toPlainText()
    assert "Closest to you: Your old model" in dialog.status.text()
    assert "agrees with you 50 % of the time (1 of 2; 2 of them your blind picks" in (
        dialog.status.text()
    )
    # the bar chart behind the scores, and the filters: no probe broken; the offline engine
    # lost every question to the kept voice (the judge's verdicts)
    from persona_studio.gui.dialogs.voice_check_dialog import BAR_ROLE

    assert dialog.board.item(0, 1).data(BAR_ROLE) == 1.0
    assert dialog.board.item(1, 4).data(BAR_ROLE) == 0.0
    dialog.show_only.setCurrentIndex(dialog.show_only.findData("broken"))
    assert dialog.questions.count() == 0
    assert "every engine did well" in dialog.answers.toPlainText()
    offline = dialog.board.item(1, 0).text()
    dialog.show_only.setCurrentIndex(dialog.show_only.findData(offline))
    assert dialog.questions.count() == 5 and dialog.keep_best.isEnabled() is False
    dialog.show_only.setCurrentIndex(dialog.show_only.findData(dialog.board.item(0, 0).text()))
    assert dialog.questions.count() == 0  # the kept voice lost nothing
    dialog.show_only.setCurrentIndex(0)
    assert dialog.questions.count() == 5 + n
    # the creator's own blind round: picking the reference-like reply agrees with this judge
    assert dialog.round.isEnabled()
    round_ = dialog.open_round()
    qtbot.waitUntil(round_.isVisible)
    for _ in range(len(round_.pairs)):
        first = round_.first.toPlainText() in references
        (round_.pick_first if first else round_.pick_second).click()
    assert dialog.status.text().startswith("The judge agrees with you 86 % of the time (6 of 7;")
    (kept,) = [r for r in window.session.project.runs("check") if r.data.get("judge")]
    assert kept.data["judge_agreement"] == [6, 7]
    assert kept.data["judge_agreement_from_chat"] == 2


def test_earlier_checks_and_the_report(
    make_window, context, run_async, qtbot, tmp_path, monkeypatch
) -> None:
    """Two checks, then the first again, and its report. The questions are chosen off the UI
    thread, and the checks search the chat's retrieval index, built once, as the dialog opens
    (at 100,000 examples choosing them stalled the window ~0.3 s, and a build took each check
    3–6 s)."""
    import threading

    from persona_studio.core import retrieval
    from persona_studio.gui import project_session
    from persona_studio.services import voice_check

    monkeypatch.setattr(project_session, "RETRIEVAL_WARM_FROM", 0)  # (the demo is small)
    built: list = []
    monkeypatch.setattr(
        retrieval.RetrievalIndex, "_build", _counting(retrieval.RetrievalIndex._build, built)
    )
    planned = threads_calling(monkeypatch, voice_check, "plan_check")
    window = make_window()
    window.open_project(ensure_demo_project(context.data_folder))
    dialog = window.check_voice()
    qtbot.waitUntil(dialog.isVisible)
    run_async(wait_until(lambda: len(built) == 1))  # as it opens: a first check need not wait
    assert dialog.history.count() == 0 and not dialog.export.isEnabled()
    for key in ("finetuned", "persona", "retrieval", "kept"):
        dialog.boxes[key].setChecked(False)
    dialog.limit.setValue(4)
    for runs in (1, 2):
        dialog.start.click()
        run_async(wait_until(lambda n=runs: not dialog.running and dialog.history.count() == n))
    assert len(built) == 1 and len(planned) == 2
    assert threading.main_thread().name not in planned
    dialog.history.setCurrentIndex(1)
    dialog._show_earlier(1)
    assert "Offline engine" in dialog.history_note.text()
    assert dialog.export_report(tmp_path / "voice.md")
    report = (tmp_path / "voice.md").read_text("utf-8")
    assert report.startswith("# Does it sound like me?") and "## " in report and "█" in report
    assert dialog.export_report(tmp_path / "voice.json")
    assert json.loads((tmp_path / "voice.json").read_text("utf-8"))["questions"] == 4


def _counting(function, calls: list):
    def counted(*args, **kwargs):
        calls.append(args)
        return function(*args, **kwargs)

    return counted


def test_the_closest_reply_joins_the_dataset_as_an_undoable_draft(
    make_window, context, run_async, qtbot, keyring_backend
) -> None:
    with FakeOpenAI(api_key="sk-base", models=(MODEL,)) as server:
        server.reply_for = lambda messages: f"Short and kind: {messages[-1]['content']}"
        add_provider(context, keyring_backend, "gw", server, chat_model=MODEL)
        window = make_window()
        window.open_project(ensure_demo_project(context.data_folder))
        dialog = window.check_voice()
        qtbot.waitUntil(dialog.isVisible)
        for key in ("finetuned", "retrieval", "kept"):
            dialog.boxes[key].setChecked(False)
        dialog.boxes["persona"].setChecked(True)
        dialog.profile.setCurrentIndex(dialog.profile.findData("gw"))
        dialog.limit.setValue(3)
        dialog.start.click()
        run_async(wait_until(lambda: getattr(dialog, "cost_box", None) is not None))
        n = len(probes(window.session.persona))  # the model is billed: asked first
        assert dialog.cost_box.text().startswith(f"Your models answer {3 + n} questions")
        next(b for b in dialog.cost_box.buttons() if b.text() == "Run the check").click()
        run_async(wait_until(lambda: dialog.outcome is not None and not dialog.running, 15))
    dialog.questions.setCurrentRow(0)
    assert dialog.keep_best.isEnabled()
    before = len(window.session.examples)
    dialog.keep_best.click()
    added = window.session.examples[-1]
    assert len(window.session.examples) == before + 1 and added.status == "draft"
    assert added.answer.startswith("Short and kind:") and added.source.startswith("voice check:")
    window.undo_stack.undo()
    assert len(window.session.examples) == before
    dialog.questions.setCurrentRow(dialog.questions.count() - 1)  # a probe: nothing to add
    assert not dialog.keep_best.isEnabled()


def test_fewer_panes_give_their_width_back_at_once(make_window, context) -> None:
    """At 1366×768 one pane must fit again as soon as the others are closed (they used to stay
    in the row until Qt deleted them, keeping the window 3 panes wide)."""
    window = make_window()
    window.open_project(ensure_demo_project(context.data_folder))
    window.tabs.setCurrentIndex(3)
    tab = window.chat_tab
    one = minimum_size(tab).width()
    for count in (3, 1, 3, 1):
        tab.pane_count.setValue(count)
    assert minimum_size(tab).width() == one and tab.panes_row.count() == 1


def test_a_pane_closed_while_it_answers_goes_quietly(make_window, context, run_async) -> None:
    """Fewer panes while the replies come: a closed pane's reply is stopped, and its end
    (a loop turn or more later, when the widget is deleted) draws nothing in it."""
    import asyncio

    from PySide6.QtCore import QCoreApplication, QEvent

    errors: list[object] = []
    loop = asyncio.get_event_loop()
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    try:
        _window, tab = _chat(make_window, context)
        tab.pane_count.setValue(3)
        tab.send_message("which running shoes should I buy")
        tab.pane_count.setValue(1)
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)  # deleted now
        run_async(wait_until(lambda: _done(tab.panes[0])))
        run_async(asyncio.sleep(0.3))
    finally:
        loop.set_exception_handler(None)
    assert not errors, errors


def test_the_examples_index_is_built_as_the_tab_shows(
    make_window, context, run_async, qtbot, monkeypatch
) -> None:
    """From `RETRIEVAL_WARM_FROM` examples the offline engine's index is built as the tab
    shows (at 100,000 the first message waited ~5 s for it), and the message uses that one;
    below it, or with no pane answering from the examples, nothing is built ahead."""
    import asyncio

    from persona_studio.core import retrieval
    from persona_studio.gui import project_session

    built: list = []
    monkeypatch.setattr(
        retrieval.RetrievalIndex, "_build", _counting(retrieval.RetrievalIndex._build, built)
    )
    window, tab = _chat(make_window, context)
    window.show()
    run_async(asyncio.sleep(0.5))
    assert built == []  # the demo's 30: built in well under 0.1 s when asked
    monkeypatch.setattr(project_session, "RETRIEVAL_WARM_FROM", 0)  # as if it were large
    window.tabs.setCurrentIndex(0)
    window.tabs.setCurrentIndex(3)  # shown again
    run_async(wait_until(lambda: len(built) == 1))
    tab.send_message("which running shoes should I buy")
    run_async(wait_until(lambda: _done(tab.panes[0])))
    assert len(built) == 1 and tab.panes[0].messages[-1]["content"].startswith("Choose shoes")
