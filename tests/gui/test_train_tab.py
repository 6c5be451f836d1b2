"""The Train tab: launch against the fake provider, watch it live, reattach, cancel, fail."""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from persona_studio.core.config import ProviderProfile
from persona_studio.core.demo import ensure_demo_project
from persona_studio.core.test_set import in_test_set
from tests.conftest import copy_held_at, wait_until
from tests.fakes.openai_server import FakeOpenAI
from tests.gui.conftest import add_provider

MODEL = "gpt-4.1-mini-2025-04-14"


@pytest.fixture(autouse=True)
def fast_polling(monkeypatch) -> None:
    from persona_studio.services.training import TrainingJobs

    monkeypatch.setattr(TrainingJobs, "poll", 0.02)


@pytest.fixture
def server(context, keyring_backend):
    with FakeOpenAI(api_key="sk-ft", models=(MODEL,)) as fake:
        fake.total_steps = 4
        fake.checkpoint_every = 2
        fake.auto_advance = True
        add_provider(context, keyring_backend, "gateway", fake, finetune_model=MODEL)
        yield fake


def _train(make_window, context):
    window = make_window()
    window.open_project(ensure_demo_project(context.data_folder))
    window.tabs.setCurrentIndex(2)
    tab = window.train_tab
    tab.profile.setCurrentIndex(tab.profile.findData("gateway"))
    return window, tab


def _train_at(make_window, context, keyring_backend, profile: ProviderProfile, key: str):
    """The demo project's Train tab with `profile` (its key in the keyring) chosen."""
    context.config.upsert_profile(profile)
    keyring_backend.secrets[("persona-studio", f"provider:{profile.name}")] = key
    window = make_window()
    window.open_project(ensure_demo_project(context.data_folder))
    window.tabs.setCurrentIndex(2)
    tab = window.train_tab
    tab.profile.setCurrentIndex(tab.profile.findData(profile.name))
    return window, tab


def _launch_until_done(window, tab, base: str, run_async) -> str:
    """Choose `base`, see its estimate, launch, and wait until the job is done and its model
    registered and listed; returns the model."""
    tab.base_model.setCurrentText(base)
    run_async(wait_until(lambda: tab.report is not None and tab.report.model.name == base))
    assert "$" in tab.check_summary.text()
    tab.launch()
    run_async(wait_until(lambda: window.session.persona.fine_tuned_model != "", 20))
    run_async(wait_until(lambda: "<b>Done</b>" in tab.status.text()))
    model = window.session.persona.fine_tuned_model
    assert tab.progress.value() == 100 and tab.history.topLevelItem(0).text(3) == model
    return model


def test_launch_watch_chart_and_register(make_window, context, server, run_async, qtbot) -> None:
    window, tab = _train(make_window, context)
    assert not tab.deadline.isVisibleTo(tab)  # not an OpenAI profile
    run_async(wait_until(lambda: tab.report is not None))
    # the demo's 24 approved examples: one is kept aside for the voice check (12 %, by its id)
    assert "$" in tab.check_summary.text() and "23 approved examples" in tab.check_summary.text()
    assert "1 more kept aside for the voice check" in tab.check_summary.text()
    # the warning is listed, not only counted, here and in the question before training
    assert "1 warning: you will be asked to confirm" in tab.check_summary.text()
    assert "50 to 100 usually give clearly better results" in tab.check_summary.text()
    tab.suffix.setText("rhea v1")
    assert "letters" in tab.suffix_error.text() and not tab.start.isEnabled()
    tab.suffix.setText("rhea")
    box = tab.confirm_and_launch()
    qtbot.waitUntil(box.isVisible)
    assert "Estimated cost: about $" in box.text()
    assert "• 23 approved examples to train on: 50 to 100" in box.informativeText()
    start = next(b for b in box.buttons() if b.text() == "Upload and start")
    start.click()
    run_async(wait_until(lambda: window.session.persona.fine_tuned_model != "", timeout=20))
    steps = [tab.steps.item(i).text() for i in range(tab.steps.count())]
    assert steps == [
        "Uploading the training examples",
        "Creating the fine-tuning job",
        "Job created",
    ]
    model = f"ft:{MODEL}:fake-org:rhea:abc123"
    assert window.session.persona.fine_tuned_model == model
    assert window.session.project.persona().fine_tuned_model == model  # saved
    run_async(wait_until(lambda: "Done" in tab.status.text()))
    assert tab.chart.points() == (4, 2) and tab.progress.value() == 100
    assert "successfully completed" in tab.events.toPlainText()
    assert tab.history.topLevelItem(0).text(3) == model
    assert tab.history.topLevelItem(0).text(4) == "0.500"
    assert "Checkpoints: step 4" in tab.status.text()
    assert "Examples: 23 to train on<br>" in tab.status.text()  # (no validation split here)


def _quit_while_training(make_window, context, server, run_async):
    """Start a job, then quit the app while it runs at the provider; (job id, project path)."""
    server.auto_advance = False
    window, tab = _train(make_window, context)
    run_async(wait_until(lambda: tab.report is not None))
    tab.launch()
    run_async(wait_until(lambda: tab.history.topLevelItemCount() == 1, timeout=10))
    job_id = window.session.project.jobs()[0].id
    path = window.session.project.path
    window.close()
    server.auto_advance = True
    return job_id, path


def test_reattaches_to_a_running_job_after_a_restart(
    make_window, context, server, run_async
) -> None:
    job_id, path = _quit_while_training(make_window, context, server, run_async)
    again = make_window()
    again.open_project(path)
    again.tabs.setCurrentIndex(2)
    run_async(wait_until(lambda: again.session.persona.fine_tuned_model != "", timeout=20))
    (record,) = again.session.project.jobs()
    assert record.status == "succeeded" and record.id == job_id


def test_running_jobs_are_followed_when_the_project_opens_whatever_tab_shows(
    make_window, context, server, run_async
) -> None:
    _job_id, path = _quit_while_training(make_window, context, server, run_async)
    again = make_window()
    again.tabs.setCurrentIndex(0)  # (the window would reopen on the Train tab, the last shown)
    again.open_project(path)  # the Persona tab shows; the Train tab is never built
    run_async(wait_until(lambda: again.session.persona.fine_tuned_model != "", timeout=20))
    assert again._tab_pages["Train"].built is None
    assert again.session.project.jobs()[0].status == "succeeded"


def test_cancel_with_confirmation(make_window, context, server, run_async, qtbot) -> None:
    server.auto_advance = False
    window, tab = _train(make_window, context)
    run_async(wait_until(lambda: tab.report is not None))
    tab.launch()
    run_async(wait_until(lambda: tab.shown_job is not None, timeout=10))
    box = tab.confirm_cancel()
    qtbot.waitUntil(box.isVisible)
    next(b for b in box.buttons() if b.text() == "Cancel the job").click()
    run_async(wait_until(lambda: window.session.project.jobs()[0].status == "cancelled"))
    assert "Cancelled" in tab.status.text() and not tab.cancel_button.isEnabled()


def test_failed_job_shows_the_providers_reason(make_window, context, server, run_async) -> None:
    server.auto_advance = False
    window, tab = _train(make_window, context)
    run_async(wait_until(lambda: tab.report is not None))
    tab.launch()
    run_async(wait_until(lambda: bool(window.session.project.jobs()), timeout=10))
    server.fail_job(
        window.session.project.jobs()[0].id,
        "invalid_training_file",
        "The file has too few <b>examples</b>.",  # the provider's words: text, never markup
    )
    run_async(wait_until(lambda: "Failed" in tab.status.text(), timeout=10))
    assert (
        "rejected the training file. (The file has too few &lt;b&gt;examples&lt;/b&gt;.)"
        in tab.status.text()
    )
    assert not tab.job_folder.isVisibleTo(tab)  # a hosted job has no folder here


def test_a_job_that_failed_here_says_why_and_shows_its_folder(
    make_window, context, monkeypatch
) -> None:
    """A local job's failure in the trainer's words with its next step, Resume, and the
    folder with its log, opened only when asked (and said when it is gone)."""
    from PySide6.QtGui import QDesktopServices
    from PySide6.QtWidgets import QMessageBox

    from persona_studio.core.records import JobRecord
    from persona_studio.gui.widgets.local_panel import local_root

    window = make_window()
    window.open_project(ensure_demo_project(context.data_folder))
    window.tabs.setCurrentIndex(2)
    tab = window.train_tab
    error = {
        "code": "training_failed",
        "message": "This computer ran out of memory while training.",
        "next_step": "Choose a smaller model, then resume. Its log (worker.log) says more.",
    }
    window.session.project.save_job(
        JobRecord(
            id="local-9", profile="local", base_model="Qwen/Qwen3-0.6B", status="failed",
            error=error,
        )
    )  # fmt: skip
    tab.show_job("local-9")
    text = tab.status.text()
    assert "ran out of memory while training. Choose a smaller model, then resume." in text
    assert "provider" not in text and "Starting on this computer" in text
    assert tab.resume_button.isVisibleTo(tab) and tab.job_folder.isVisibleTo(tab)
    opened, warned = [], []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()))
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: warned.append(a[2]))
    tab.job_folder.click()  # its folder is gone (another computer's project, or deleted)
    assert not opened and "folder is gone from this computer" in warned[0]
    (local_root() / "local-9").mkdir(parents=True)
    tab.job_folder.click()
    assert opened == [str(local_root() / "local-9")]


def test_403_is_explained_with_a_next_step(make_window, context, server, run_async) -> None:
    window, tab = _train(make_window, context)
    run_async(wait_until(lambda: tab.report is not None))
    server.fail_next(403, "not allowed")  # on the first upload
    tab.launch()
    run_async(
        wait_until(
            lambda: (
                tab.steps.count() >= 2
                and tab.steps.item(tab.steps.count() - 1).text().startswith("✖")
            ),
            timeout=10,
        )
    )
    assert "not available to this organization" in tab.steps.item(tab.steps.count() - 1).text()
    assert window.session.project.jobs() == []


def test_openai_profiles_show_the_deadline(make_window, context, server) -> None:
    context.config.upsert_profile(ProviderProfile(name="openai", kind="openai"))
    _, tab = _train(make_window, context)
    tab.profile.setCurrentIndex(tab.profile.findData("openai"))
    assert tab.deadline.isVisibleTo(tab) and "6 January 2027" in tab.deadline.text()


def test_blocking_problems_link_to_the_offending_rows(
    make_window, context, server, run_async
) -> None:
    from persona_studio.core.dataset import Example

    window, tab = _train(make_window, context)
    bad = Example.from_qa("   ", "An answer to nothing", status="approved")
    window.session.project.set_test_share(0.0)  # a random id could put it in the test set
    window.session.add_examples([bad])
    run_async(wait_until(lambda: tab.report is not None and tab.report.blocking))
    assert "1 problem to fix" in tab.check_summary.text()  # singular, not "problem(s)"
    assert tab.show_problems.isVisibleTo(tab)
    tab.show_problems.click()
    assert window.tabs.currentIndex() == 1
    dataset = window.dataset_tab
    assert dataset.issues_only.isChecked()
    assert dataset._current_example().id == bad.id


def test_dataset_edits_are_checked_once_per_pause_and_only_when_the_tab_shows(
    make_window, context, run_async, monkeypatch
) -> None:
    import persona_studio.gui.preflight_runner as train_tab  # the check both tabs share

    window = make_window()
    window.show()  # a tab is "shown" only in a shown window
    window.open_project(ensure_demo_project(context.data_folder))
    window.tabs.setCurrentIndex(2)
    tab = window.train_tab
    run_async(wait_until(lambda: tab.report is not None))
    from persona_studio.services.check_process import CheckProcess

    runs: list[int] = []
    real = CheckProcess.run
    monkeypatch.setattr(
        CheckProcess, "run", lambda self, *a, **k: runs.append(1) or real(self, *a, **k)
    )
    session = window.session
    share = session.project.test_share
    approved = [e for e in session.examples if e.status == "approved"]
    approved.sort(key=lambda e: in_test_set(e, share))  # trained ones first: rejecting changes

    def reject(example) -> None:
        changed = copy.deepcopy(example)
        changed.status = "rejected"
        session.replace_example_contents([changed])

    window.tabs.setCurrentIndex(1)  # on the Dataset tab: edits only mark the check stale
    reject(approved[0])
    run_async(asyncio.sleep(0.2))
    assert runs == []
    window.tabs.setCurrentIndex(2)  # the pause ends with it shown: checked
    run_async(wait_until(lambda: runs == [1] and window.session.preflight.task.done()))
    trained = sum(1 for e in approved if not in_test_set(e, share))
    assert f"{trained - 1} approved examples" in tab.check_summary.text()

    for example in approved[1:4]:  # three quick edits while it shows: one check
        reject(example)
    run_async(
        wait_until(lambda: len(runs) == 2 and window.session.preflight.task.done(), timeout=5)
    )
    run_async(asyncio.sleep(train_tab.CHECK_DELAY_MS / 1000 + 0.2))
    assert len(runs) == 2 and f"{trained - 4} approved examples" in tab.check_summary.text()


def test_train_at_together_then_chat_in_the_fine_tuned_pane(
    make_window, context, keyring_backend, run_async, qtbot
) -> None:
    """Choosing Together: its line, its models (shipped and live), the estimate, launch,
    progress, and the Chat tab's fine-tuned pane reaches the registered model through the
    Together profile even while the pane shows another one."""
    from tests.fakes.contract import check_requests
    from tests.fakes.together_server import SUPPORTED, FakeTogether

    base = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"
    with FakeTogether(api_key="tg-gui", supported=(*SUPPORTED, "example/LiveOnly-7B")) as fake:
        fake.total_steps = 4
        fake.checkpoint_every = 2
        fake.auto_advance = True
        context.config.upsert_profile(
            ProviderProfile(name="together", kind="together", base_url=fake.base_url)
        )
        keyring_backend.secrets[("persona-studio", "provider:together")] = "tg-gui"
        with FakeOpenAI(api_key="sk-other", models=(MODEL,)) as other:
            add_provider(context, keyring_backend, "other", other, chat_model=MODEL)
            window, tab = _train(make_window, context)
            tab.profile.setCurrentIndex(tab.profile.findData("together"))
            assert "Together" in tab.service.text() and "API key" in tab.service.text()
            assert not tab.deadline.isVisibleTo(tab)
            tab.compare.setChecked(True)
            assert "<b>Together AI</b>" in tab.services.text() and "OpenAI" in tab.services.text()
            models = lambda: [tab.base_model.itemText(i) for i in range(tab.base_model.count())]  # noqa: E731
            assert base in models() and MODEL not in models()
            run_async(wait_until(lambda: "example/LiveOnly-7B" in models(), timeout=10))
            model = _launch_until_done(window, tab, base, run_async)
            assert tab.chart.points()[0] == 4 and model.startswith("fake-user/")

            window.tabs.setCurrentIndex(3)
            chat = window.chat_tab
            pane = chat.panes[0]
            pane.fill_engines()
            pane.engine.setCurrentIndex(pane.engine.findData("other"))
            pane.mode.setCurrentIndex(pane.mode.findData("finetuned"))
            chat.send_message("Hello Rhea")
            run_async(wait_until(lambda: not pane.busy and len(pane.messages) == 2, 15))
            assert pane.messages[-1]["content"] == "Echo: Hello Rhea"
            assert other.requests == [] or all(
                "chat" not in r.path for r in other.requests
            )  # the other profile was not asked
        assert check_requests("together-openapi.json.gz", fake.requests) == []


def test_openai_training_closes_on_6_january_2027(make_window, context, keyring_backend) -> None:
    from datetime import date

    context.config.upsert_profile(ProviderProfile(name="openai", kind="openai"))
    window = make_window()
    window.open_project(ensure_demo_project(context.data_folder))
    window.tabs.setCurrentIndex(2)
    tab = window.train_tab
    tab.today = lambda: date(2027, 1, 5)
    tab.profile.setCurrentIndex(tab.profile.findData("openai"))
    tab._profile_changed()
    assert tab.deadline.isVisibleTo(tab) and "stops new" in tab.deadline.text()
    assert tab.start.isEnabled()
    tab.today = lambda: date(2027, 1, 6)
    tab._profile_changed()
    assert "no longer accepts" in tab.deadline.text() and "Together AI" in tab.deadline.text()
    assert not tab.start.isEnabled()


def test_azure_asks_for_the_deployment_name_after_success(
    make_window, context, keyring_backend, run_async, qtbot
) -> None:
    with FakeOpenAI(api_key="az-gui", models=(MODEL,)) as fake:
        fake.total_steps = 2
        fake.auto_advance = True
        azure = ProviderProfile(name="azure", kind="azure", base_url=fake.azure_endpoint)
        window, tab = _train_at(make_window, context, keyring_backend, azure, "az-gui")
        tab.base_model.setCurrentText(MODEL)
        run_async(wait_until(lambda: tab.report is not None))
        tab.launch()
        run_async(wait_until(lambda: "Azure AI Foundry" in tab.status.text(), timeout=20))
        assert tab.deployment.isVisibleTo(tab)
        dialog = tab.ask_deployment()
        qtbot.waitUntil(dialog.isVisible)
        dialog.setTextValue("rhea-prod")
        dialog.accept()
        assert window.session.persona.fine_tuned_model == "rhea-prod"
        job = window.session.project.jobs()[0]
        assert job.chat_model == "rhea-prod" and job.chat_target.note == ""
        run_async(wait_until(lambda: "Azure AI Foundry" not in tab.status.text()))


@pytest.mark.parametrize("kind", ["nebius", "fireworks"])
def test_train_at_nebius_or_fireworks_then_chat_in_the_fine_tuned_pane(
    kind: str, make_window, context, keyring_backend, run_async
) -> None:
    """The Train tab with only a Nebius or a Fireworks key: its line, its models, the estimate,
    launch, progress, then the Chat tab's fine-tuned pane reaches the model (Fireworks once the
    creator has deployed it, as the job says)."""
    from persona_studio.services.training.fireworks import DEPLOY_NOTE
    from tests.fakes.fireworks_server import FakeFireworks
    from tests.fakes.nebius_server import FakeNebius

    fake: FakeNebius | FakeFireworks
    if kind == "nebius":
        fake, name = FakeNebius(api_key="key-gui"), "Nebius"
        base, address, account = "meta-llama/Meta-Llama-3.1-8B-Instruct", fake.base_url, ""
    else:
        fake, name = FakeFireworks(api_key="key-gui", account="rhea-studio"), "Fireworks"
        base, account = "accounts/fireworks/models/llama-v3p1-8b-instruct", "rhea-studio"
        address = fake.inference_url
    with fake as server:
        server.total_steps, server.checkpoint_every = 4, 2
        server.auto_advance = True
        profile = ProviderProfile(name=kind, kind=kind, base_url=address, account=account)
        window, tab = _train_at(make_window, context, keyring_backend, profile, "key-gui")
        assert name in tab.service.text() and "API key" in tab.service.text()
        models = lambda: [tab.base_model.itemText(i) for i in range(tab.base_model.count())]  # noqa: E731
        assert base in models()
        model = _launch_until_done(window, tab, base, run_async)
        assert tab.chart.points()
        if isinstance(server, FakeFireworks):
            assert DEPLOY_NOTE in tab.status.text()
            server.deploy(model)  # what the creator does at fireworks.ai

        window.tabs.setCurrentIndex(3)
        chat = window.chat_tab
        pane = chat.panes[0]
        pane.fill_engines()
        pane.engine.setCurrentIndex(pane.engine.findData(kind))
        pane.mode.setCurrentIndex(pane.mode.findData("finetuned"))
        chat.send_message("Hello Rhea")
        run_async(wait_until(lambda: not pane.busy and len(pane.messages) == 2, 15))
        assert pane.messages[-1]["content"] == "Echo: Hello Rhea"
        asked = [r for r in server.requests if r.path.endswith("/chat/completions")]
        assert json.loads(asked[-1].body)["model"] == model


def test_a_failed_deploy_is_said_and_deploy_again_makes_it_answer(
    make_window, context, keyring_backend, run_async
) -> None:
    """Nebius trained the model but its deploy call failed: the job says so in plain words with
    "Deploy again"; pressing it (once the service is back) registers the model."""
    from tests.fakes.nebius_server import FakeNebius

    with FakeNebius(api_key="nb-gui") as fake:
        fake.total_steps, fake.checkpoint_every = 4, 2
        fake.auto_advance = True
        deploy = fake._deploy
        fake._deploy = lambda _request: (500, {"error": {"message": "deploy broke"}})
        nebius = ProviderProfile(name="nebius", kind="nebius", base_url=fake.base_url)
        window, tab = _train_at(make_window, context, keyring_backend, nebius, "nb-gui")
        tab.base_model.setCurrentText("meta-llama/Meta-Llama-3.1-8B-Instruct")
        run_async(wait_until(lambda: tab.report is not None))
        tab.launch()
        run_async(wait_until(lambda: "does not answer yet" in tab.status.text(), timeout=20))
        assert "(500)" in tab.status.text() and tab.redeploy.isVisibleTo(tab)
        assert window.session.persona.fine_tuned_model == ""
        tab.deploy_again()  # still broken: said, nothing lost
        run_async(wait_until(lambda: "Deploying failed again" in tab.status.text()))
        assert tab.redeploy.isEnabled()
        fake._deploy = deploy
        tab.deploy_again()
        run_async(wait_until(lambda: window.session.persona.fine_tuned_model != ""))
        (deployed,) = fake.custom_models.values()
        assert window.session.persona.fine_tuned_model == deployed["name"]
        run_async(wait_until(lambda: not tab.redeploy.isVisibleTo(tab)))
        assert deployed["name"] in tab.status.text()


def test_training_terms_are_explained_in_plain_words(make_window, context) -> None:
    from PySide6.QtWidgets import QFormLayout, QLabel, QWidget

    window = make_window()
    window.open_project(ensure_demo_project(context.data_folder))
    window.tabs.setCurrentIndex(2)
    tab = window.train_tab
    for field in (tab.epochs, tab.batch, tab.learning_rate, tab.lora_rank, tab.seed, tab.suffix):
        assert len(field.toolTip()) > 40, field.objectName()  # a sentence, not a word
        form = field.parentWidget().layout()
        if isinstance(form, QFormLayout) and isinstance(form.labelForField(field), QLabel):
            label = form.labelForField(field).text()
            assert label in (
                "Passes over the examples (epochs)",
                "Examples per step (batch size)",
                "Learning speed (learning-rate multiplier)",
                "Adapter size (LoRA rank)",
                "Random seed",
                "Name tag",
            ), label
    assert "word or a piece of a word" in tab.check_summary.toolTip()
    window.tabs.setCurrentIndex(0)
    dialogue = window.persona_tab.findChild(QWidget, "persona_example_dialogue")
    assert "{{char}} for your character" in dialogue.toolTip()
    assert "<START> begins an exchange" in dialogue.toolTip()


def _take_elsewhere(qtbot, context, tmp_path, architecture: str):
    """The Take it elsewhere button of a finished job trained here, of this model family."""
    from persona_studio.core.records import JobRecord
    from persona_studio.gui.widgets.local_panel import TakeElsewhere

    model = tmp_path / "job" / "model"
    model.mkdir(parents=True)
    (model / "config.json").write_text(f'{{"architectures": ["{architecture}"]}}')
    take = TakeElsewhere()
    qtbot.addWidget(take)
    take.context = context
    take.record = JobRecord(
        id="local-1", profile="local", base_model="Qwen/Qwen2.5-0.5B-Instruct",
        status="succeeded", fine_tuned_model=str(model),
    )  # fmt: skip
    return take


def test_gguf_asks_for_llama_cpp_once_and_remembers_it(
    qtbot, context, tmp_path, monkeypatch, run_async
) -> None:
    """Without llama.cpp's converter the app says why GGUF needs it and offers to choose its
    folder; the folder is kept in the settings and the file is written."""
    from PySide6.QtWidgets import QFileDialog, QMessageBox

    from persona_studio.core.config import load_config
    from tests.fakes.llama_cpp import FAKE_LLAMA_CPP

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    monkeypatch.delenv("LLAMA_CPP_DIR", raising=False)
    take = _take_elsewhere(qtbot, context, tmp_path, "Qwen2ForCausalLM")
    target = tmp_path / "rhea.gguf"
    assert take.save_gguf(str(target), "f16") is None
    box = take.findChild(QMessageBox, "gguf_needs_llama_cpp")
    assert box is not None and "llama.cpp" in box.text() and "Send to Ollama" in box.text()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a: str(tmp_path))
    choose = next(b for b in box.buttons() if b.text().startswith("Choose the llama.cpp"))
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: None)
    choose.click()  # a folder without the converter: said, nothing kept
    assert context.config.llama_cpp_dir == "" and take._task is None
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a: str(FAKE_LLAMA_CPP))
    choose.click()
    assert take._task is not None
    run_async(wait_until(lambda: take._task is None, timeout=30), 35)
    assert target.read_bytes().startswith(b"GGUF")
    assert load_config(context.config_file).llama_cpp_dir == str(FAKE_LLAMA_CPP)


def test_a_gguf_file_being_written_can_be_stopped(
    qtbot, context, tmp_path, monkeypatch, run_async
) -> None:
    from PySide6.QtWidgets import QMessageBox

    from tests.fakes.llama_cpp import FAKE_LLAMA_CPP

    monkeypatch.setenv("FAKE_CONVERTER_SLOW", "1")
    take = _take_elsewhere(qtbot, context, tmp_path, "LlamaForCausalLM")
    context.config.llama_cpp_dir = str(FAKE_LLAMA_CPP)
    target = tmp_path / "slow.gguf"
    task = take.save_gguf(str(target), "q8_0")
    run_async(wait_until(lambda: "%" in take.text(), timeout=20), 25)
    assert take.isEnabled()  # the button now holds Stop
    (stop,) = take.menu().actions()
    assert stop.text().startswith("Stop")
    stop.trigger()
    run_async(wait_until(task.done, timeout=20), 25)
    box = take.findChildren(QMessageBox, "take_result")[-1]
    assert box.text().startswith("Stopped") and take.text() == "Take it elsewhere"
    assert not target.exists() and not list(tmp_path.glob("*.part"))
    assert len(take.menu().actions()) == 5  # the usual menu is back


def test_a_model_folder_being_copied_shows_its_progress_and_can_be_stopped(
    qtbot, context, tmp_path, monkeypatch, run_async
) -> None:
    """A merged model is gigabytes: its copy says how far it is on the button, whose menu holds
    Stop meanwhile; stopped, nothing is left where it was going. A full drive is said."""
    from PySide6.QtWidgets import QMessageBox

    from persona_studio.services import local_export

    monkeypatch.setattr(local_export, "COPY_CHUNK", 4096)
    take = _take_elsewhere(qtbot, context, tmp_path, "Qwen2ForCausalLM")
    (Path(take.record.fine_tuned_model) / "model.safetensors").write_bytes(bytes(40_000_000))
    out = tmp_path / "usb-stick"
    out.mkdir()
    gate = copy_held_at(monkeypatch, 10)
    task = take.copy("model", str(out))
    run_async(wait_until(lambda: take.text() == "Copying… 10 %", timeout=20), 25)
    (stop,) = take.menu().actions()
    assert stop.text() == "Stop: Save a copy"
    stop.trigger()
    gate.set()
    run_async(wait_until(task.done, timeout=20), 25)
    box = take.findChildren(QMessageBox, "take_result")[-1]
    assert box.text().startswith("Stopped") and take.text() == "Take it elsewhere"
    assert not list(out.iterdir())
    assert len(take.menu().actions()) == 5
    monkeypatch.setattr(local_export.shutil, "disk_usage", lambda _p: SimpleNamespace(free=0))
    run_async(wait_until(take.copy("model", str(out)).done, timeout=20), 25)
    box = take.findChildren(QMessageBox, "take_result")[-1]
    assert "only 0.0 MB is free" in box.text() and "another folder or drive" in box.text()
