"""A creator's flow in the real main window over a large project: the longest UI-thread stall
of each step, beside the idle window's in the same run, and the peak memory.

    python benchmarks/ui_flow.py [--examples 100000] [--runs 3] [--why]

A 5 ms Qt timer measures how late the event loop is (as benchmarks/chat.py does); each step
runs its action, then the window is left to finish what the step started (the background
check, a generation run against a fake model server, a chat reply, a voice check, a sheet
upload, an export) while the timer keeps measuring. Target
(issue 21): every step's longest stall ≤ 50 ms above the idle window's. CI runs it at 5,000
examples. On a shared 2-core machine one run's figures move by 30–40 ms from run to run;
`--runs N` runs the flow N times, each in a fresh process, then prints each step's stall above
that run's idle window as min / median / max and judges the target on the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import dataclasses
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # benchmarks.dataset

from benchmarks.stalls import StallMeter, StallSampler, private_home, qt_loop

TARGET_MS = 50


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker_peak_mb() -> float | None:
    """The check's worker process's peak memory (Linux), if one was started."""
    from persona_studio.services import check_process

    pid = check_process.shared().pid
    try:
        status = Path(f"/proc/{pid}/status").read_text() if pid else ""
    except OSError:
        return None
    peak = [line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")]
    return int(peak[0]) / 1024 if peak else None


def chat_steps(window: Any, step: Callable, record: Callable) -> None:
    """The Chat tab's steps: the offline engine's first reply builds its index; after an edit
    and a reply kept as an example, it takes the change in."""
    window.tabs.setCurrentIndex(3)
    chat = window.chat_tab

    def replied() -> bool:
        return all(pane.messages and not pane.busy for pane in chat.panes)

    record(
        "first offline chat message",
        step(lambda: chat.send_message("word3 word17 word250?"), replied, 120),
    )

    def edit_then_ask() -> None:  # the offline engine's index takes the edit in, not rebuilt
        first = window.session.examples[0]
        edited = dataclasses.replace(first, tags=[*first.tags, "edited"])
        window.session.replace_example_contents([edited])
        chat.send_message("word3 word17 word251?")

    def asked_again() -> Callable[[], bool]:
        asked = [len(pane.messages) for pane in chat.panes]
        return lambda: replied() and [len(p.messages) for p in chat.panes] > asked

    record("edit, then an offline chat message", step(edit_then_ask, asked_again(), 120))

    def keep_then_ask() -> None:  # a reply kept as an example: a row added, taken in too
        chat.keep_example("word3 word17 word252?", "A reply the creator liked.")
        chat.send_message("word3 word17 word252?")

    record("keep a reply, then a chat message", step(keep_then_ask, asked_again(), 120))


def generation_steps(window: Any, step: Callable, record: Callable, server: Any) -> None:
    """Generate examples from the persona: the dialog reads its source and prices it in a
    thread; a run first learns the dataset's texts (to flag candidates that repeat one), then
    asks a fake of OpenAI's chat API (`tests/fakes/openai_server`, in this process: its own
    work counts here, a real server's would not) for 10 questions in 5 calls."""
    pairs = [
        {"question": f"How fast is easy pace {n}?", "answer": "Talk-test pace."} for n in (1, 2)
    ]
    server.reply_for = lambda messages: json.dumps({"pairs": pairs})
    os.environ.update(OPENAI_API_KEY="sk-bench", OPENAI_BASE_URL=server.base_url)
    generate: list[Any] = []
    opened = lambda: generate[0].found.text() != "Reading…"  # noqa: E731
    try:
        record(
            "open Generate examples",
            step(lambda: generate.append(window.generate_examples("persona")), opened, 30),
        )
        dialog = generate[0]
        step(lambda: dialog.limit.setValue(10), opened, 30)  # (the price again: not recorded)
        record("generate 10 questions", step(dialog.run, lambda: not dialog.running, 300))
        dialog.reject()
    finally:
        for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
            os.environ.pop(name, None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100_000)
    parser.add_argument(
        "--why", action="store_true", help="also say where the UI thread was while it stalled"
    )
    parser.add_argument("--runs", type=int, default=1, help="runs, each in a fresh process")
    parser.add_argument("--results", type=Path, help=argparse.SUPPRESS)  # a run's, for --runs
    args = parser.parse_args()
    if args.runs > 1:
        return several_runs(args)
    home = private_home("persona-flow-bench-")
    # bytecode cached, as on any user's machine (the packaged app ships it; pip writes it on
    # first use): without it a first tab's imports compile (+0.1 s) under PYTHONDONTWRITEBYTECODE
    compileall.compile_dir(Path(__file__).resolve().parent.parent / "persona_studio", quiet=1)

    from PySide6.QtCore import Qt

    from benchmarks.dataset import synthetic_examples
    from persona_studio.core.config import AppConfig, config_path, data_dir
    from persona_studio.core.persona import Persona
    from persona_studio.core.project import Project
    from persona_studio.gui.app import settle_after_startup, warm_up_in_background
    from persona_studio.gui.context import AppContext
    from persona_studio.gui.main_window import MainWindow
    from persona_studio.gui.models.examples_model import COL_ANSWER, COL_NUMBER, COL_QUESTION
    from persona_studio.services.credentials import CredentialStore
    from tests.fakes.memory_keyring import MemoryKeyring

    loop = qt_loop()

    started = time.perf_counter()
    path = home / "big.persona"
    Project.create(
        path,
        Persona(name="Bench", description="A character with a very large dataset."),
        examples=synthetic_examples(args.examples),
    ).close()
    print(f"built a project of {args.examples:,} examples in {time.perf_counter() - started:.1f} s")

    config_path().parent.mkdir(parents=True, exist_ok=True)
    context = AppContext(
        config=AppConfig(),
        store=CredentialStore(MemoryKeyring()),
        config_file=config_path(),
        data_folder=data_dir(),
    )
    window = MainWindow(context)
    window.resize(1366, 768)
    window.show()
    settle_after_startup()
    warm_up_in_background().finish()  # what run_app does behind the first paint, at once

    meter = StallMeter()
    sampler = StallSampler(meter).start() if args.why else None

    def step(action: Callable[[], object], settled: Callable[[], bool], limit: float) -> tuple:
        """Run `action` with the timer measuring, then wait until `settled()` (or `limit` s);
        returns (longest stall in ms, seconds until settled)."""
        meter.start()
        if sampler is not None:
            sampler.reset()
        began = time.perf_counter()

        async def run() -> None:
            await asyncio.sleep(0)  # the timer's first tick, before the action
            result = action()
            if asyncio.isfuture(result) or asyncio.iscoroutine(result):
                await result
            await asyncio.sleep(0.3)  # debounced work (search, re-check) gets going
            deadline = time.perf_counter() + limit
            while not settled() and time.perf_counter() < deadline:
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.2)

        loop.run_until_complete(run())
        return max(meter.stop() or [0.0]), time.perf_counter() - began

    def checked() -> bool:
        runner = window.session.started_preflight if window.session else None
        return runner is None or (
            runner.report is not None
            and not runner.running
            and not runner.stale
            and not runner._timer.isActive()  # an edit's check waits for a pause first
        )

    results: list[tuple[str, float, float]] = []

    def record(name: str, figures: tuple) -> None:
        results.append((name, *figures))
        print(f"  {name:<34} {figures[0]:8.1f} ms {figures[1]:7.1f} s", flush=True)
        for where, ms in sampler.top() if sampler is not None else []:
            print(f"      {ms:6.0f} ms stalled at {where}", flush=True)
        for where, ms in sampler.beside() if sampler is not None else []:
            print(f"      {ms:6.0f} ms of it, beside it, thread {where}", flush=True)

    print("step                               longest stall   took")
    record("idle window", step(lambda: None, lambda: True, 0))
    idle = results[0][1]
    # open, and let the Persona tab count its prompt's tokens (the first count loads the
    # encoders: ~0.5 s in a worker, holding the GIL; a creator reads that tab meanwhile). A
    # large file opens, and is read, in a worker: asked before then, `persona_tab` would build
    # the tab itself, beside that read (~140 ms of the step, not the app's doing)
    record(
        "open the project",
        step(
            lambda: window.open_project(path),
            lambda: (
                window.session is not None and " tokens (" in window.persona_tab.prompt_size.text()
            ),
            30,
        ),
    )
    record("first Dataset tab + check", step(lambda: window.tabs.setCurrentIndex(1), checked, 120))
    tab = window.dataset_tab

    def searched(text: str) -> Callable[[], bool]:  # applied, and all its rows found
        return lambda: tab.model.filters.text == text and not tab.model.searching

    record("search keystroke", step(lambda: tab.search.setText("word12"), searched("word12"), 5))
    record("clear the search", step(lambda: tab.search.setText(""), searched(""), 5))
    model = tab.model
    # sorted by a column from here to the undo of the delete, as a creator reviewing by
    # question would be: the edit, approval, filter, delete and undo below keep the order
    # (`sort_pending`: a large project's sort reads the column's order in a worker first)
    sorted_in = lambda: not getattr(model, "sort_pending", False)  # noqa: E731
    by_question = lambda: tab.table.sortByColumn(COL_QUESTION, Qt.SortOrder.AscendingOrder)  # noqa: E731
    record("sort by question (header click)", step(by_question, sorted_in, 30))
    record(
        "edit a cell + re-check",
        step(lambda: model.setData(model.index(0, COL_ANSWER), "Edited."), checked, 120),
    )

    def select_rows(first: int, count: int) -> None:
        tab.table.clearSelection()
        from PySide6.QtCore import QItemSelection, QItemSelectionModel

        selection = QItemSelection(model.index(first, 0), model.index(first + count - 1, 0))
        tab.table.selectionModel().select(
            selection,
            QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows,
        )

    record("select all (Ctrl+A)", step(tab.table.selectAll, lambda: True, 5))
    record("select 10 rows", step(lambda: select_rows(5, 10), lambda: True, 5))
    record("approve them + re-check", step(lambda: tab.set_status("approved"), checked, 120))
    drafts = tab.status_filter.findData("draft")
    record(
        "show drafts only", step(lambda: tab.status_filter.setCurrentIndex(drafts), sorted_in, 5)
    )
    record("show every status", step(lambda: tab.status_filter.setCurrentIndex(0), sorted_in, 5))
    select_rows(20, 100)
    record("delete 100 rows", step(tab.delete_selected, checked, 120))
    record("undo the delete", step(window.undo, checked, 120))
    # a search's rows deleted, and the delete undone, the search still shown
    record("search, sorted", step(lambda: tab.search.setText("word123"), searched("word123"), 5))
    select_rows(0, 10)
    record("delete 10 rows found", step(tab.delete_selected, checked, 120))
    record("undo that delete", step(window.undo, checked, 120))
    record("clear that search", step(lambda: tab.search.setText(""), searched(""), 5))
    # a CSV of as many new rows as the project has (issue 21: "Import a 100k CSV, Accept"),
    # taken in while sorted by question (a large project's sort then waits for the order)
    import csv

    table = home / "more.csv"
    with table.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["question", "answer"])
        writer.writerows((ex.question, ex.answer) for ex in synthetic_examples(args.examples, 7))
    dialogs: list = []
    record(
        "import a CSV: read, map columns",
        step(lambda: dialogs.append(tab.open_import(table)), lambda: dialogs[0].ok.isEnabled(), 60),
    )
    # written (in a worker), checked, and sorted (the order read again, in a worker thread)
    saved = lambda: checked() and not window.session.unsaved and sorted_in()  # noqa: E731
    record("accept the import + re-check", step(lambda: dialogs[0].accept(), saved, 120))
    # the imported rows are drafts: approving all shown is the creator's next step
    record("approve all shown + re-check", step(tab.approve_all_shown, saved, 120))
    record("undo the approval", step(window.undo, saved, 120))
    record("undo the import", step(window.undo, saved, 120))
    # a header click, then scrolling while the column's order is read: each repaint's calls
    # into Python wait for the interpreter's lock beside a pure-Python read
    from PySide6.QtCore import QTimer

    bar, scroller = tab.table.verticalScrollBar(), QTimer(interval=16)
    scroller.timeout.connect(lambda: bar.setValue((bar.value() + 37) % max(1, bar.maximum())))

    def sort_and_scroll() -> None:
        scroller.start()
        tab.table.sortByColumn(COL_ANSWER, Qt.SortOrder.AscendingOrder)

    record("sort by answer, scrolling meanwhile", step(sort_and_scroll, sorted_in, 30))
    scroller.stop()
    by_number = lambda: tab.table.sortByColumn(COL_NUMBER, Qt.SortOrder.AscendingOrder)  # noqa: E731
    record("sort by # again (header click)", step(by_number, sorted_in, 30))
    record("first Train tab", step(lambda: window.tabs.setCurrentIndex(2), checked, 120))
    from tests.fakes.openai_server import FakeOpenAI

    with FakeOpenAI(api_key="sk-bench", models=("gpt-4.1-mini",)) as server:
        generation_steps(window, step, record, server)
    chat_steps(window, step, record)
    # "Does it sound like me?" with the offline engine (it searches the chat's index): opened,
    # then run, as a creator clicks Run once it shows
    voice: list[Any] = []
    record(
        "open Does It Sound Like Me?",
        step(lambda: voice.append(window.check_voice()), lambda: True, 5),
    )
    for key, box in voice[0].boxes.items():
        box.setChecked(key == "offline")
    record("run the voice check (offline)", step(voice[0].run, lambda: not voice[0].running, 300))
    voice[0].reject()
    # the first sheet link uploads every example to an empty sheet (the fake Sheets API,
    # in this process: its own work on the rows counts here, a real server's would not)
    from tests.fakes.sheets_server import FakeSheets

    sheets, key = FakeSheets(), "1BenchmarkSheetKey000000000000000000"
    sheets.add_spreadsheet(key, {"Data": [["question", "answer"]]})

    async def sheets_client() -> object:  # built in a thread, as the app builds a real one
        return await asyncio.to_thread(sheets.http)

    context.sheets_client = sheets_client
    link = {"key": key, "worksheet": "Data", "every_minutes": 0, "new_rows": "approved"}
    synced = lambda: window.sheet_label.text().startswith(("Sheet: synced", "Sheet: not"))  # noqa: E731
    record("first sheet link (upload all)", step(lambda: window.sync_sheet(link), synced, 600))
    rows = len(sheets.rows(key, "Data")) - 1
    print(f"      {window.sheet_label.text()}; rows in the sheet: {rows:,}")
    out = home / "out"
    out.mkdir()
    record(
        "export OpenAI JSONL",
        step(lambda: window.export_to("openai-jsonl", out / "train.jsonl"), lambda: True, 120),
    )
    record("save a copy", step(lambda: window.save_copy_to(out / "copy.persona"), lambda: True, 60))

    if args.results is not None:
        args.results.write_text(json.dumps(results))
    worst_name, worst, _took = max(results[1:], key=lambda r: r[1])
    print(f"idle window: {idle:.1f} ms; worst step: {worst_name} {worst:.1f} ms")
    worker = worker_peak_mb()
    beside = f"; the check's worker process: {worker:.0f} MB" if worker is not None else ""
    print(f"peak RSS: {peak_rss_mb():.0f} MB (the window's process){beside}")
    over = worst - idle > TARGET_MS
    print(f"target: every step ≤ {TARGET_MS} ms above idle -> {'OVER TARGET' if over else 'OK'}")
    if sampler is not None:
        sampler.close()
    window.session.close(force=True) if window.session else None
    window.session = None
    window.close()
    loop.run_until_complete(asyncio.sleep(0.1))
    loop.close()
    return 0


def several_runs(args: argparse.Namespace) -> int:
    """`--runs N`: the flow N times, each in a fresh process (its output shown as it comes),
    then each step's stall above its run's idle window, min / median / max."""
    above: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for run in range(args.runs):
            print(f"--- run {run + 1} of {args.runs}", flush=True)
            results = Path(folder) / f"run{run}.json"
            argv = [sys.executable, __file__, "--examples", str(args.examples)]
            subprocess.run([*argv, "--results", str(results), *["--why"] * args.why], check=True)
            (_, idle, _), *steps = json.loads(results.read_text())
            for name, stall, _took in steps:
                above.setdefault(name, []).append(stall - idle)
    print(f"\nstall above the idle window, {args.runs} runs      min   median      max")
    for name, figures in above.items():
        low, mid, high = min(figures), statistics.median(figures), max(figures)
        print(f"  {name:<34} {low:6.1f} {mid:8.1f} {high:8.1f} ms")
    name, figures = max(above.items(), key=lambda item: statistics.median(item[1]))
    over = statistics.median(figures) > TARGET_MS
    print(
        f"target: every step's median ≤ {TARGET_MS} ms above idle (highest: {name}, "
        f"{statistics.median(figures):.1f} ms) -> {'OVER TARGET' if over else 'OK'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
