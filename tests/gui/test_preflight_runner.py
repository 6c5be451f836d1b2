"""One readiness check per open project: the Dataset and Train tabs show the same report, an
edit runs it once, a model chosen in one tab is the one priced in the other."""

from __future__ import annotations

import asyncio
import copy

import pytest

import persona_studio.gui.preflight_runner as preflight_runner
from persona_studio.core.demo import ensure_demo_project
from tests.conftest import wait_until


def test_both_tabs_share_one_check_per_pause(make_window, context, run_async, monkeypatch) -> None:
    window = make_window()
    window.show()
    window.open_project(ensure_demo_project(context.data_folder))
    window.tabs.setCurrentIndex(1)
    dataset = window.dataset_tab
    window.tabs.setCurrentIndex(2)
    train = window.train_tab
    runner = window.session.preflight
    run_async(wait_until(lambda: runner.report is not None and not runner.running))
    from persona_studio.services.check_process import CheckProcess

    runs: list[int] = []
    real = CheckProcess.run
    monkeypatch.setattr(
        CheckProcess, "run", lambda self, *a, **k: runs.append(1) or real(self, *a, **k)
    )
    session = window.session
    example = next(e for e in session.examples if e.status == "approved")
    changed = copy.deepcopy(example)
    changed.status = "rejected"
    session.replace_example_contents([changed])
    run_async(wait_until(lambda: runs == [1] and not runner.running))
    run_async(asyncio.sleep(preflight_runner.CHECK_DELAY_MS / 1000 + 0.2))
    assert runs == [1]  # one check for both tabs
    assert dataset.report is train.report is runner.report
    approved = runner.report.summary()["trained_examples"]
    assert f"{approved} approved examples" in train.check_summary.text()
    assert f"Training set: {approved} examples" in dataset.preflight_summary.text()

    other = "gpt-4.1-nano-2025-04-14"
    train.base_model.setCurrentText(other)  # chosen in the Train tab …
    run_async(wait_until(lambda: not runner.running and runner.report.model.name == other))
    assert dataset.model_choice.currentData() == other  # … shown and priced in the Dataset tab
    assert other in dataset.preflight_summary.text()


@pytest.fixture
def worker(monkeypatch):
    """The app's check worker, fresh for the test."""
    from persona_studio.services import check_process

    process = check_process.CheckProcess()
    monkeypatch.setattr(check_process, "_shared", process)
    yield process
    process.close()


def _checked_demo(make_window, context, run_async):
    window = make_window()
    window.show()
    window.open_project(ensure_demo_project(context.data_folder))
    window.tabs.setCurrentIndex(1)
    runner = window.session.preflight
    run_async(wait_until(lambda: runner.report is not None and not runner.running), timeout=30)
    return window, runner


def test_a_small_project_is_checked_in_the_worker_process_too(
    make_window, context, run_async, monkeypatch, worker, counted_here
) -> None:
    """Every project's check runs in the warm worker process, the demo's 20-odd examples too:
    the report the tabs show comes from there, and an edit is checked again there. The persona
    prompt's tokens are counted there too: the window never loads the encodings, whose load
    holds its interpreter lock (the demo's window stalled 53–98 ms a moment after it showed,
    counting its prompt itself)."""
    from persona_studio.core.tokens import count_each
    from persona_studio.services import check_process

    in_app: list[int] = []
    real = check_process.preflight
    monkeypatch.setattr(
        check_process, "preflight", lambda *a, **k: in_app.append(1) or real(*a, **k)
    )
    counted_there: list[str] = []
    encodings: set[str] = set()
    count_there = worker.count_tokens
    monkeypatch.setattr(
        worker,
        "count_tokens",
        lambda t, e: counted_there.append(t) or encodings.update(e) or count_there(t, e),
    )
    window, runner = _checked_demo(make_window, context, run_async)
    assert worker.pid is not None and in_app == []
    size = window.persona_tab.prompt_size
    run_async(wait_until(lambda: " tokens (as GPT-4o" in size.text()), timeout=30)
    prompt = window.session.persona.system_prompt()
    assert counted_there[-1] == prompt and counted_here == []
    # one count, as today's models count: a second (cl100k, GPT-3.5) cost the worker 30 MB
    assert encodings == {"o200k_base"}
    assert f"{count_each(prompt)['o200k_base']:,} tokens (as GPT-4o counts" in size.text()
    first = runner.report
    example = next(e for e in window.session.examples if e.status == "approved")
    changed = copy.deepcopy(example)
    changed.messages[-1]["content"] += " And one more sentence for the count."
    window.session.replace_example_contents([changed])
    run_async(wait_until(lambda: runner.report is not first and not runner.running), 30)
    assert runner.report.tokens[example.id] > first.tokens[example.id]
    assert in_app == [] and window.dataset_tab.report is runner.report
    assert counted_here == [prompt, prompt]  # (this test's own count, above)


def test_closing_a_project_lets_go_of_what_the_worker_was_sent(
    make_window, context, run_async, worker
) -> None:
    window, _runner = _checked_demo(make_window, context, run_async)
    assert len(worker._sent) == len(window.session.examples)
    assert window.session.close()
    assert worker._sent == [] and worker._base is None  # nothing of a closed project kept


def test_a_project_read_in_the_background_is_checked_in_the_worker(
    make_window, tmp_path, run_async, monkeypatch
) -> None:
    """The worker starts with a project's background read (from `BACKGROUND_LOAD_FROM`
    examples), beside it, and the project's check runs there."""
    from persona_studio.core.dataset import Example
    from persona_studio.core.persona import Persona
    from persona_studio.core.project import Project
    from persona_studio.gui.project_session import BACKGROUND_LOAD_FROM
    from persona_studio.services import check_process

    process = check_process.CheckProcess()
    monkeypatch.setattr(check_process, "_shared", process)
    in_app: list[int] = []
    real = check_process.preflight
    monkeypatch.setattr(
        check_process, "preflight", lambda *a, **k: in_app.append(1) or real(*a, **k)
    )
    path = tmp_path / "thousand.persona"
    examples = [Example.from_qa(f"Q{n}?", f"A{n}.") for n in range(BACKGROUND_LOAD_FROM)]
    Project.create(path, Persona(name="Thousand"), examples=examples).close()
    try:
        window = make_window()
        window.show()
        window.open_project(path)
        run_async(wait_until(lambda: window.session is not None), timeout=30)
        window.tabs.setCurrentIndex(1)
        runner = window.session.preflight
        run_async(wait_until(lambda: runner.report is not None and not runner.running), 30)
        assert process.pid is not None and in_app == []
        assert len(runner.report.tokens) == BACKGROUND_LOAD_FROM
    finally:
        process.close()


def test_a_tab_shown_starts_its_check_after_the_window_has_painted_it(
    make_window, context, run_async, qtbot
) -> None:
    """Started at once, the check's thread sent the examples while the first paint called into
    Python cell by cell, and each call waited its turn for the interpreter lock (135 ms at
    100,000 examples). The window paints within its next update (5 ms here); the check starts
    50 ms after the show."""
    from PySide6.QtCore import QEvent, QObject

    window = make_window()
    window.show()
    window.open_project(ensure_demo_project(context.data_folder))
    runner = window.session.preflight
    events: list[str] = []

    class Painted(QObject):
        def eventFilter(self, watched, event) -> bool:
            if event.type() == QEvent.Type.Paint and not events:
                events.append("painted")
            return False

    runner.started.connect(lambda: events.append("check started"))
    window.tabs.setCurrentIndex(1)  # the Dataset tab, built and shown
    table = window.dataset_tab.table
    spy = Painted(table)
    table.viewport().installEventFilter(spy)
    assert events == []  # not started by the show itself
    qtbot.waitUntil(lambda: "check started" in events)
    assert events[:2] == ["painted", "check started"]
    run_async(wait_until(lambda: runner.report is not None and not runner.running))
