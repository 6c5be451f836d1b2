"""The Train tab on "This computer": the panel, a real LoRA training of a tiny model from the
Start button to "Done", and the Chat tab with the fine-tuned and base models side by side
through the local server. Needs the `local` extra (CI installs it)."""

from __future__ import annotations

import dataclasses
import json
import sys

import pytest
from PySide6.QtWidgets import QMessageBox

from persona_studio.core.dataset import Example
from persona_studio.core.persona import Persona
from persona_studio.core.project import Project
from tests.conftest import wait_until
from tests.fakes.llama_cpp import FAKE_LLAMA_CPP
from tests.fakes.tiny_model import MEMORISE, QA, build, require_local_extra

require_local_extra()


@pytest.fixture(autouse=True)
def fast_polling(monkeypatch) -> None:
    from persona_studio.services.training import TrainingJobs

    monkeypatch.setattr(TrainingJobs, "poll", 0.2)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory):
    return build(tmp_path_factory.mktemp("tiny-model"))


def open_on_this_computer(make_window, tmp_path):
    path = tmp_path / "rhea.persona"
    with Project.create(path, Persona(name="Rhea", description="A running coach.")) as project:
        project.set_test_share(0.0)
        project.add_examples([Example.from_qa(q, a, status="approved") for q, a in QA])
    window = make_window()
    window.open_project(path)
    window.tabs.setCurrentIndex(2)
    tab = window.train_tab
    tab.profile.setCurrentIndex(tab.profile.findData("local"))
    return window, tab


def test_the_panel_says_what_this_computer_can_train(make_window, tmp_path, run_async) -> None:
    from persona_studio.gui.widgets.local_panel import local_root

    window, tab = open_on_this_computer(make_window, tmp_path)
    assert tab.local.isVisibleTo(tab) and tab.lora_rank.isVisibleTo(tab)
    assert not {"torch", "transformers", "peft", "trl"} & set(sys.modules)  # workers only
    assert "nothing leaves the computer" in tab.service.text()
    models = [tab.base_model.itemText(i) for i in range(tab.base_model.count())]
    assert (
        models[0] == "Qwen/Qwen2.5-0.5B-Instruct" and "meta-llama/Llama-3.2-1B-Instruct" in models
    )
    assert "Apache-2.0" in tab.base_model.itemData(0, 3)  # the tooltip names the licence
    assert "Check this computer" in tab.local.text.text()  # no check has run yet
    assert "Not downloaded yet" in tab.local.model_text.text()
    assert tab.local.download_button.isVisibleTo(tab)
    # a check that found a small GPU-less machine (what worker/probe.py writes)
    local_root().mkdir(parents=True)
    probe = {"kind": "cpu", "name": "Test CPU", "memory_gb": 8, "ram_gb": 8, "flops": 1e11}
    (local_root() / "hardware.json").write_text(json.dumps(probe))
    tab.local.hardware = None
    from persona_studio.services.training.local import saved_hardware

    tab.local.hardware = saved_hardware(local_root())
    run_async(wait_until(lambda: tab.report is not None))
    tab._show_check(tab.report)
    assert "processor only (Test CPU, 8 GB" in tab.local.text.text()
    assert "up to about 1.2B parameters" in tab.local.text.text()
    assert "free, on this computer" in tab.check_summary.text()
    tab.base_model.setCurrentText("Qwen/Qwen3-4B")
    tab._update_local()
    assert "Needs about" in tab.local.model_text.text()  # refused in plain words
    run_async(wait_until(lambda: tab.report is not None and tab.report.model.name.endswith("4B")))
    refused = tab.confirm_and_launch()  # and Start says so instead of starting
    assert refused is not None and refused.objectName() == "local_refused"
    assert refused.text().startswith("Qwen3 4B: Needs about") and not tab.steps.count()
    refused.close()
    window.tabs.setCurrentIndex(0)


def test_without_the_extra_the_panel_says_how_to_install_it(
    make_window, tmp_path, monkeypatch
) -> None:
    from persona_studio.services.training import local

    monkeypatch.setattr(local, "missing_packages", lambda: ["torch", "peft"])
    _window, tab = open_on_this_computer(make_window, tmp_path)
    tab.local.refresh()
    assert "pip install 'persona-studio[local]'" in tab.local.text.text()
    assert not tab.local.check_button.isEnabled()


def test_train_here_watch_it_learn_then_chat_beside_the_base_model(
    make_window, tmp_path, tiny_model, run_async, qtbot, monkeypatch
) -> None:
    window, tab = open_on_this_computer(make_window, tmp_path)
    tab._local_model_chosen(str(tiny_model))  # "Use a model folder…"
    assert "✓ on this computer" in tab.local.model_text.text()
    tab.epochs.setValue(MEMORISE["n_epochs"])
    tab.batch.setValue(MEMORISE["batch_size"])
    tab.learning_rate.setValue(MEMORISE["learning_rate_multiplier"])
    tab.lora_rank.setValue(MEMORISE["lora_rank"])
    run_async(
        wait_until(lambda: tab.report is not None and tab.report.model.name == str(tiny_model), 30),
        35,
    )
    box = tab.confirm_and_launch()
    qtbot.waitUntil(box.isVisible)
    assert "Nothing leaves this computer" in box.text()
    next(b for b in box.buttons() if b.text() == "Start").click()
    run_async(wait_until(lambda: window.session.persona.fine_tuned_model != "", timeout=180), 190)
    run_async(wait_until(lambda: "Done" in tab.status.text(), timeout=20), 25)
    assert tab.progress.value() == 100 and tab.chart.points()[0] >= 2
    assert not tab.resume_button.isVisibleTo(tab)
    model = window.session.persona.fine_tuned_model
    assert model.endswith("/model") and tab.history.topLevelItem(0).text(3) == model
    assert tab.take.isVisibleTo(tab)  # take it elsewhere: here, a copy of the adapter
    (tmp_path / "out").mkdir()
    task = tab.take.copy("adapter", folder=str(tmp_path / "out"))
    run_async(wait_until(task.done, timeout=30), 35)
    copied = next((tmp_path / "out").iterdir())
    assert (copied / "adapter_model.safetensors").is_file()
    result = tab.take.findChild(QMessageBox, "take_result")
    assert result is not None and result.text() == f"Copied to {copied}."
    result.close()
    # a GGUF file of the trained model, through llama.cpp's converter (a stand-in here)
    window.context.config.llama_cpp_dir = str(FAKE_LLAMA_CPP)
    task = tab.take.save_gguf(str(tmp_path / "out" / "rhea"), "q8_0")
    run_async(wait_until(task.done, timeout=30), 35)
    assert (tmp_path / "out" / "rhea.gguf").read_bytes().startswith(b"GGUF")
    result = tab.take.findChildren(QMessageBox, "take_result")[-1]
    assert result.text().startswith(f"Saved {tmp_path / 'out' / 'rhea.gguf'} (8-bit")

    # the Chat tab: the fine-tuned model and its base, side by side, on this computer
    from persona_studio.gui.widgets.chat_pane import ChatPane
    from persona_studio.services.local_server import stop_local_server

    settings = ChatPane.settings
    monkeypatch.setattr(  # greedy decoding: the learnt answer, word for word
        ChatPane, "settings", lambda pane: dataclasses.replace(settings(pane), temperature=0.0)
    )
    window.tabs.setCurrentIndex(3)
    chat = window.chat_tab
    chat.pane_count.setValue(2)
    fine_tuned, base = chat.panes[0], chat.panes[1]
    for pane, mode in ((fine_tuned, "finetuned"), (base, "persona")):
        pane.fill_engines()
        pane.engine.setCurrentIndex(pane.engine.findData("local"))
        pane.mode.setCurrentIndex(pane.mode.findData(mode))
    try:
        chat.send_message("How do I breathe?")
        done = lambda: all(not p.busy and len(p.messages) >= 2 for p in (fine_tuned, base))  # noqa: E731
        run_async(wait_until(done, timeout=180), 190)
    finally:
        stop_local_server()
    assert fine_tuned.messages[-1]["content"] == "Breathe in for three steps, out for two."
    assert base.messages[-1]["content"] != fine_tuned.messages[-1]["content"]
