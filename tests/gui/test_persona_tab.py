"""The Persona tab as a creator uses it: fields, tone, composer, rules, templates, cards."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QLineEdit, QMessageBox, QPlainTextEdit, QSlider

from persona_studio.core.cards import read_card
from persona_studio.core.persona import Persona, persona_templates
from persona_studio.core.project import Project
from persona_studio.core.rules import Rule, keywords
from tests.conftest import wait_until
from tests.fakes.cards import foreign_v2_card


def _window(make_window, tmp_path: Path, **persona):
    path = tmp_path / "char.persona"
    Project.create(path, Persona(name="Rhea", **persona)).close()
    window = make_window()
    assert window.open_project(path)
    return window, window.persona_tab


def _field(tab, name: str):
    return tab.findChild(QLineEdit, f"persona_{name}") or tab.findChild(
        QPlainTextEdit, f"persona_{name}"
    )


def test_fields_feed_the_composer_with_exact_token_counts(
    make_window, tmp_path, qtbot, run_async
) -> None:
    window, tab = _window(make_window, tmp_path)
    qtbot.keyClicks(_field(tab, "description"), "A running coach.")
    qtbot.keyClicks(_field(tab, "traits"), "kind, direct")
    qtbot.keyClicks(_field(tab, "style_dont"), "Diagnose injuries")
    slider = tab.findChild(QSlider, "tone_formal_casual")
    slider.setValue(95)
    prompt = tab.prompt_preview.toPlainText()
    assert "A running coach." in prompt and "Personality: kind, direct." in prompt
    assert "Tone: very casual." in prompt and "Never:\n- Diagnose injuries" in prompt
    assert tab.prompt_preview.isReadOnly()
    run_async(wait_until(lambda: " tokens (as GPT-4o" in tab.prompt_size.text()))
    from persona_studio.core.tokens import count_tokens

    expected = count_tokens(prompt, "o200k_base")
    assert f"{expected:,} tokens (as GPT-4o counts;" in tab.prompt_size.text()
    assert not tab.prompt_warning.isVisibleTo(tab)
    window.session.flush()
    stored = window.session.project.persona()
    assert stored.traits == ["kind", "direct"] and stored.tone["formal_casual"] == 95


def test_the_prompt_count_imports_the_checks_in_its_worker_thread(
    make_window, tmp_path, run_async, monkeypatch
) -> None:
    """The count's module imports the checks and numpy (~70 ms): imported on the UI thread
    250 ms after the first paint, it stalled the window 85–150 ms. It is a module of the
    services (no PySide: see conftest's check of threads)."""
    import sys
    import threading
    import types

    from persona_studio.services import check_process

    taken_on: list[str] = []
    spy = types.ModuleType(check_process.__name__)

    def taken(name: str):  # each name imported from it, and where
        taken_on.append(threading.current_thread().name)
        return getattr(check_process, name)

    spy.__getattr__ = taken  # type: ignore[method-assign]
    monkeypatch.setitem(sys.modules, check_process.__name__, spy)
    _, tab = _window(make_window, tmp_path, description="A running coach.")
    run_async(wait_until(lambda: " tokens (as GPT-4o" in tab.prompt_size.text()))
    assert taken_on and threading.main_thread().name not in taken_on


def test_long_prompt_warns(make_window, tmp_path, run_async) -> None:
    _, tab = _window(make_window, tmp_path, background="word " * 1500)
    run_async(wait_until(lambda: " tokens (as GPT-4o" in tab.prompt_size.text()))
    assert tab.prompt_warning.text().startswith("Long")


def test_edit_by_hand_detaches_and_undo_reattaches(make_window, tmp_path, qtbot) -> None:
    window, tab = _window(make_window, tmp_path, description="Coach.")
    qtbot.mouseClick(tab.detach, Qt.MouseButton.LeftButton)
    assert not tab.prompt_preview.isReadOnly() and "Edited by hand" in tab.prompt_state.text()
    tab.prompt_preview.moveCursor(tab.prompt_preview.textCursor().MoveOperation.End)
    qtbot.keyClicks(tab.prompt_preview, " Speak in haiku.")
    description = _field(tab, "description")
    description.moveCursor(description.textCursor().MoveOperation.End)
    qtbot.keyClicks(description, " Updated.")
    persona = window.session.persona
    assert persona.system_prompt().endswith("Speak in haiku.")
    assert "Updated" not in tab.prompt_preview.toPlainText()  # detached from the fields
    qtbot.mouseClick(tab.reattach, Qt.MouseButton.LeftButton)
    assert persona.system_prompt_override is None
    assert "Coach. Updated." in tab.prompt_preview.toPlainText()
    window.undo_stack.undo()  # back to the hand-written prompt
    assert persona.system_prompt().endswith("Speak in haiku.")
    window.session.flush()
    assert window.session.project.persona().system_prompt().endswith("Speak in haiku.")


def test_every_field_edit_is_undoable(make_window, tmp_path, qtbot) -> None:
    window, tab = _window(make_window, tmp_path)
    qtbot.keyClicks(_field(tab, "greeting"), "Hello!")
    qtbot.keyClicks(_field(tab, "alternate_greetings"), "Hi again.")
    tab.findChild(QSlider, "tone_reserved_warm").setValue(10)
    assert window.session.persona.alternate_greetings == ["Hi again."]
    for _ in range(3):
        window.undo_stack.undo()
    persona = window.session.persona
    assert (persona.greeting, persona.alternate_greetings, persona.tone["reserved_warm"]) == (
        "",
        [],
        50,
    )
    assert _field(tab, "greeting").toPlainText() == ""
    assert tab.findChild(QSlider, "tone_reserved_warm").value() == 50


def test_template_fills_fields_keeps_name_and_undoes_in_one_step(make_window, tmp_path) -> None:
    window, tab = _window(make_window, tmp_path)
    coach = next(t for t in persona_templates() if t.key == "coach")
    tab.apply_template(coach)
    persona = window.session.persona
    assert persona.name == "Rhea"
    assert persona.style_do == coach.persona.style_do and persona.tone == coach.persona.tone
    assert _field(tab, "greeting").toPlainText() == coach.persona.greeting
    window.undo_stack.undo()
    assert persona.style_do == [] and persona.greeting == ""


def test_six_templates_ship(make_window) -> None:
    assert {t.key for t in persona_templates()} >= {
        "coach",
        "brand",
        "tutor",
        "author",
        "support",
        "historical",
    }


def test_avatar_is_cropped_square_saved_and_undoable(make_window, tmp_path, qtbot) -> None:
    window, tab = _window(make_window, tmp_path)
    image = QImage(300, 200, QImage.Format.Format_RGB32)
    image.fill(QColor("#3366cc"))
    image.save(str(tmp_path / "me.jpg"))
    assert tab.load_avatar(tmp_path / "me.jpg")
    stored = window.session.project.avatar()
    assert stored is not None and stored[1] == "image/png"
    saved = QImage.fromData(stored[0])
    assert (saved.width(), saved.height()) == (512, 512)
    assert tab.avatar.pixmap() is not None and not tab.avatar.pixmap().isNull()
    window.undo_stack.undo()
    assert window.session.project.avatar() is None
    (tmp_path / "bad.png").write_bytes(b"not an image")
    assert not tab.load_avatar(tmp_path / "bad.png")
    box = window.findChild(QMessageBox, "error_message")
    qtbot.waitUntil(box.isVisible)
    assert "could not be read" in box.text()


def _rules_editor(tab):
    tab.side_tabs.setCurrentIndex(1)
    return tab.rules_editor


def test_rules_add_edit_try_reorder_and_undo(make_window, tmp_path, qtbot) -> None:
    window, tab = _window(make_window, tmp_path)
    rules = _rules_editor(tab)
    qtbot.mouseClick(rules.add, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(rules.words, "pain, injury")
    qtbot.keyClicks(rules.text, "Suggest seeing a physiotherapist.")
    rule = window.session.rules[0]
    assert rule.trigger == keywords(["pain", "injury"]) and rule.action["text"].startswith("Sug")
    assert window.session.project.rules()[0].trigger["words"] == ["pain", "injury"]

    qtbot.mouseClick(rules.add, Qt.MouseButton.LeftButton)
    rules.trigger.setCurrentIndex(rules.trigger.findData("regex"))
    rules.trigger.activated.emit(rules.trigger.currentIndex())
    rules.action.setCurrentIndex(rules.action.findData("fixed_reply"))
    rules.action.activated.emit(rules.action.currentIndex())
    qtbot.keyClicks(rules.pattern, "(link")
    assert "not valid" in rules.error.text()
    assert rules.list.item(1).text().startswith("⚠")
    qtbot.keyClicks(rules.pattern, "|url)")
    qtbot.keyClicks(rules.text, "I don't share links.")
    assert rules.error.text() == "" and not rules.list.item(1).text().startswith("⚠")

    qtbot.keyClicks(rules.try_input, "Any link for my knee pain?")
    output = rules.try_output.text()
    assert "✔" in output and "Replies without calling the model" in output
    assert "I don&#x27;t share links." in output or "I don't share links." in output

    qtbot.mouseClick(rules.up, Qt.MouseButton.LeftButton)  # the link rule goes first
    assert [r.action["kind"] for r in window.session.rules] == ["fixed_reply", "inject_context"]
    rules.list.item(0).setCheckState(Qt.CheckState.Unchecked)
    assert not window.session.rules[0].enabled
    rules.try_input.setText("my knee pain")
    assert "keep in mind" in rules.try_output.text()

    window.undo_stack.undo()  # enable again
    window.undo_stack.undo()  # order back
    assert [r.action["kind"] for r in window.session.rules] == ["inject_context", "fixed_reply"]
    assert window.session.rules[1].enabled
    assert [r.id for r in window.session.project.rules()] == [r.id for r in window.session.rules]


def test_drag_reorder_is_saved(make_window, tmp_path) -> None:
    path = tmp_path / "r.persona"
    first = Rule(trigger={"kind": "always"}, action={"kind": "refuse", "text": "a"}, name="A")
    second = Rule(trigger={"kind": "always"}, action={"kind": "refuse", "text": "b"}, name="B")
    Project.create(path, Persona(name="R"), rules=[first, second]).close()
    window = make_window()
    window.open_project(path)
    rules = _rules_editor(window.persona_tab)
    model = rules.list.model()
    model.moveRow(rules.list.rootIndex(), 1, rules.list.rootIndex(), 0)  # what a drop does
    assert [r.name for r in window.session.project.rules()] == ["B", "A"]


def test_dropping_a_card_makes_a_new_project_and_exports_round_trip(
    make_window, tmp_path, qtbot, run_async
) -> None:
    window, _tab = _window(make_window, tmp_path)
    card_file = tmp_path / "seraphina.json"
    card_file.write_text(json.dumps(foreign_v2_card()))
    window.open_dropped(card_file)
    assert window.session.project.path == tmp_path / "Seraphina.persona"
    tab = window.persona_tab
    assert _field(tab, "name").text() == "Seraphina"
    assert _field(tab, "alternate_greetings").toPlainText() == "Hello again.\n\nWelcome back."
    assert len(window.session.rules) == 2
    window.open_dropped(card_file)  # again: a second copy, never over the first
    assert window.session.project.path == tmp_path / "Seraphina (2).persona"

    for fmt, name in (
        ("card-v2-png", "s.png"),
        ("card-v2-json", "s2.json"),
        ("card-v3-json", "s3.json"),
        ("naas-plugin", "plugin.json"),
    ):
        assert run_async(window.export_to(fmt, tmp_path / name))
    card = read_card((tmp_path / "s.png").read_bytes())
    assert card.persona.greeting == "*Seraphina smiles.* You're awake!" and len(card.rules) == 2
    assert read_card((tmp_path / "s3.json").read_bytes()).spec == "chara_card_v3"
    assert run_async(window.export_to("openai-jsonl", tmp_path / "train.jsonl"))
    assert run_async(window.export_to("csv", tmp_path / "examples.csv"))
    assert not run_async(window.export_to("csv", tmp_path / "s.png" / "in-a-file.csv"))
    error = window.findChild(QMessageBox, "error_message")
    assert "Could not write “in-a-file.csv”" in error.text() and error.informativeText()
    assert (tmp_path / "examples.csv").read_text().startswith("id,question,answer")
    plugin = json.loads((tmp_path / "plugin.json").read_text())
    assert plugin["name"] == "Seraphina" and plugin["prompt"].startswith("You are Seraphina.")
    notes = window.findChild(QMessageBox, "naas_exported").text()
    assert f"names the model “{plugin['model']}” (the default" in notes
    assert "Your 2 conversational rules are not part of this format" in notes


def test_a_broken_card_imports_nothing(make_window, tmp_path, qtbot) -> None:
    window, _tab = _window(make_window, tmp_path)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    window.open_dropped(bad)
    box = window.findChild(QMessageBox, "error_message")
    qtbot.waitUntil(box.isVisible)
    assert "not a character card" in box.text() and "Nothing was imported" in box.informativeText()
    assert window.session.project.path == tmp_path / "char.persona"
    assert sorted(p.name for p in tmp_path.glob("*.persona")) == ["char.persona"]


def test_new_character_from_a_template(make_window, tmp_path, qtbot, monkeypatch) -> None:
    from PySide6.QtWidgets import QFileDialog

    from persona_studio.gui.dialogs.template_dialog import TemplateDialog

    window = make_window()
    monkeypatch.setattr(
        QFileDialog,
        "getSaveFileName",
        staticmethod(lambda *a, **k: (str(tmp_path / "Tess.persona"), "")),
    )
    window.new_project()
    dialog = window.findChild(TemplateDialog)
    qtbot.waitUntil(dialog.isVisible)
    qtbot.keyClicks(dialog.name, "Tess")
    dialog.list.setCurrentRow(
        next(
            i for i in range(dialog.list.count()) if dialog.list.item(i).text().startswith("Tutor")
        )
    )
    dialog.buttons.accepted.emit()
    assert window.session.project.path == tmp_path / "Tess.persona"
    assert window.session.persona.name == "Tess"
    assert window.session.persona.greeting == "Hi! What are we learning today?"


def test_route_rule_to_a_model_and_profile(make_window, tmp_path, qtbot) -> None:
    window, tab = _window(make_window, tmp_path)
    rules = _rules_editor(tab)
    qtbot.mouseClick(rules.add, Qt.MouseButton.LeftButton)
    rules.trigger.setCurrentIndex(rules.trigger.findData("always"))
    rules.trigger.activated.emit(0)
    rules.action.setCurrentIndex(rules.action.findData("route"))
    rules.action.activated.emit(0)
    assert rules.route_model.isVisibleTo(rules) and not rules.text.isVisibleTo(rules)
    qtbot.keyClicks(rules.route_model, "llama3.1")
    qtbot.keyClicks(rules.route_profile, "ollama")
    assert window.session.project.rules()[0].action == {
        "kind": "route",
        "model": "llama3.1",
        "profile": "ollama",
    }
    rules.try_input.setText("hello")
    assert "llama3.1 (profile “ollama”)" in rules.try_output.text()


def test_a_prompt_count_that_outlives_its_project_ends_quietly(
    make_window, tmp_path, run_async, monkeypatch
) -> None:
    """The count runs in a worker thread (and the check's worker process); the project may
    close meanwhile (another opened, the window closed): its figures are not shown for the
    project opened next, and nothing is left unretrieved."""
    import threading

    from persona_studio.services import check_process

    window, tab = _window(make_window, tmp_path, description="A long-serving coach.")
    run_async(wait_until(lambda: " tokens (as GPT-4o" in tab.prompt_size.text()))
    session, entered, gate = window.session, threading.Event(), threading.Event()
    count = check_process.prompt_tokens

    def slow_count(prompt: str) -> int:
        if "long-serving" in prompt:  # the first project's: held until it has closed
            entered.set()
            gate.wait(10)
        return count(prompt)

    monkeypatch.setattr(check_process, "prompt_tokens", slow_count)
    tab._start_token_count()
    task = tab._count_task
    run_async(wait_until(entered.is_set))
    first = tab.prompt_size.text()
    other = tmp_path / "other.persona"
    Project.create(other, Persona(name="Ada")).close()
    assert window.open_project(other)  # closes the first project
    assert session.closed
    run_async(wait_until(lambda: tab.prompt_size.text() not in ("", first)))
    shown = tab.prompt_size.text()
    gate.set()
    run_async(wait_until(task.done))
    assert task.exception() is None
    assert tab.prompt_size.text() == shown  # Ada's, not the closed project's
