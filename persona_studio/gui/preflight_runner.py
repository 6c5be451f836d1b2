"""The readiness check of the open project, one for the whole window: the Dataset and Train tabs
show the same report, and it runs once per pause in editing, off the UI thread."""

from __future__ import annotations

import asyncio
import copy
import sys
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QWidget

from persona_studio.core.collector import FREEZE_FROM, collector_paused
from persona_studio.core.dataset import Example
from persona_studio.core.persona import Persona
from persona_studio.core.validation import (
    ModelSpec,
    PreflightCancelled,
    PreflightReport,
    load_model_specs,
    model_spec,
)
from persona_studio.gui.loop import spawn, when_loop_runs
from persona_studio.gui.project_session import ProjectSession
from persona_studio.gui.widgets.visibility import shown_in_window

CHECK_DELAY_MS = 800  # one check per pause in typing
AFTER_PAINT_MS = 50  # a view just shown: its check starts once the window has painted it
DEFAULT_MODEL = "gpt-4.1-mini-2025-04-14"


async def checked_in_worker(
    examples: list[Example],
    persona: Persona,
    spec: ModelSpec,
    *,
    test_share: float,
    cancel: threading.Event | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> PreflightReport:
    """`preflight` of a snapshot, in the check's worker process (in a thread of the app only if
    that cannot start), awaited off the UI thread; cancelled, it stops the check at its next
    step (`cancel` is set). `progress` is called from a worker thread."""
    from persona_studio.services.check_process import shared

    cancel = cancel or threading.Event()
    try:
        return await asyncio.to_thread(
            shared().run,
            examples,
            persona,
            spec,
            progress=progress,
            cancel=cancel,
            test_share=test_share,
        )
    except asyncio.CancelledError:
        cancel.set()
        raise


class PreflightRunner(QObject):
    """Debounces edits, snapshots the examples, runs `preflight` on a worker thread, cancels a
    superseded run (its worker stops at its next step), and says what happened. While none of
    the views showing its report is on screen, an edit only marks the report stale; the next
    view shown runs it."""

    started = Signal()
    progress = Signal(float, str)  # fraction done, what is being done
    finished = Signal(object)  # the PreflightReport
    stopped = Signal()  # cancelled by the creator (Stop), not superseded
    model_changed = Signal(str)  # the base model the dataset is checked against

    def __init__(self, session: ProjectSession, parent: QObject | None = None) -> None:
        super().__init__(parent or session)
        self.session = session
        self.report: PreflightReport | None = None
        self.model = DEFAULT_MODEL
        self.specs: dict[str, ModelSpec] = {}
        self.task: asyncio.Task[None] | None = None
        self._cancel = threading.Event()
        self._warming: asyncio.Future[None] | None = None
        self.stale = False
        self._views: list[QWidget] = []
        self._timer = QTimer(self, singleShot=True, interval=CHECK_DELAY_MS)
        self._timer.timeout.connect(self._due)
        self.reload_specs()
        session.examples_reset.connect(self.schedule)
        session.examples_edited.connect(lambda _ids: self.schedule())
        session.persona_changed.connect(lambda _field: self.schedule())

    # ---- views and settings --------------------------------------------------------------

    def add_view(self, view: QWidget) -> None:
        """A widget that shows the report: checks run while one of them is on screen."""
        self._views.append(view)

    def reload_specs(self) -> None:
        """The model/price table, with the creator's edits (read once, not per check)."""
        from persona_studio.core.config import user_model_table

        self.specs = load_model_specs(user_model_table())

    def spec(self) -> ModelSpec:
        return model_spec(self.model, self.specs)

    def set_model(self, name: str) -> None:
        name = name.strip()
        if not name or name == self.model:
            return
        self.model = name
        self.model_changed.emit(name)
        self.run_now()

    # ---- running -------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    def schedule(self) -> None:
        """Check again after a pause in editing."""
        self._timer.start()

    def _due(self) -> None:
        if any(shown_in_window(view) for view in self._views) or not self._views:
            self.run_now()
        else:
            self.stale = True

    def refresh_if_stale(self) -> None:
        """A view came on screen: bring its report up to date if edits came while none was
        shown (edits still in their pause keep it: the check runs when the pause ends)."""
        if self.stale or (self.report is None and not self.running and not self._timer.isActive()):
            self.run_now()

    def refresh_after_paint(self) -> None:
        """`refresh_if_stale` for a view being shown, once the paint that its showing asked for
        is done: a check started at once sends the examples from a thread, and each of the
        paint's calls into Python waited for that thread's turn with the interpreter lock (the
        first Dataset tab at 100,000 examples: a 135 ms stall, seen with perf). Qt paints a
        window on its next update request, a timer of its own (5 ms by default, or the screen's
        frame): a 0 ms timer comes before that paint (the test shows it), 50 ms after it."""
        QTimer.singleShot(AFTER_PAINT_MS, self.refresh_if_stale)

    def run_now(self) -> None:
        if self.session.closed:
            return  # a debounced check can fire after the window closed the project
        if self.session.loads_in_background():  # a large project: read it off the UI thread
            when_loop_runs(self._load_then_run)
            return
        self._timer.stop()
        self.stale = False
        self._supersede()
        self.reload_specs()  # the creator may have edited the price table meanwhile
        self._cancel = cancel = threading.Event()
        # a snapshot taken now, on the UI thread: the worker never touches the open project.
        # A list of the same objects is enough (and 1,000× cheaper than copies at 100,000):
        # the session never changes an example in place, an edit puts a new one in its place.
        # Frozen out of the collector's sight, as the session's list is: new, each of its first
        # passes walked it on the window's thread (~25–45 ms at 1,000,000 examples)
        with collector_paused(freeze=len(self.session.examples) >= FREEZE_FROM):
            examples = list(self.session.examples)
        persona = copy.deepcopy(self.session.persona)
        share = self.session.project.test_share
        self.task = spawn(self._run(examples, persona, self.spec(), cancel, share))
        self.started.emit()

    def _load_then_run(self) -> None:
        from persona_studio.services.check_process import shared

        worker = shared()
        if worker.usable:  # a large project: its check will want the worker, start it now
            self._warming = spawn(asyncio.to_thread(worker.start))
        loading = asyncio.ensure_future(self.session.load_examples())
        loading.add_done_callback(self._loaded)

    def _loaded(self, loading: asyncio.Future[Any]) -> None:
        if not self.session.closed and not loading.cancelled() and loading.exception() is None:
            self.run_now()  # a file that cannot be read was said so when it was opened

    def cancel(self) -> None:
        """Stop the running check (the Stop button); it runs again after the next edit."""
        self._cancel.set()

    def _supersede(self) -> None:
        if self.running:
            assert self.task is not None
            self._cancel.set()  # the worker stops at its next step
            self.task.cancel()

    async def _run(
        self,
        examples: list[Example],
        persona: Persona,
        spec: ModelSpec,
        cancel: threading.Event,
        test_share: float = 0.0,
    ) -> None:
        loop = asyncio.get_running_loop()

        def progress(fraction: float, what: str) -> None:  # worker thread → UI thread
            loop.call_soon_threadsafe(self._progress, cancel, fraction, what)

        try:
            report = await checked_in_worker(
                examples, persona, spec, test_share=test_share, cancel=cancel, progress=progress
            )
        except PreflightCancelled:
            if cancel is self._cancel:  # stopped by the creator, not by a newer check
                self.stopped.emit()
            return
        if cancel.is_set():
            return
        self.report = report
        # the report's figures and the views' are frozen out of the collector's sight, as the
        # examples are: at 1,000,000 its full passes walked them 50–500 ms each, then on
        with collector_paused(freeze=len(examples) >= FREEZE_FROM):
            self.finished.emit(report)

    def _progress(self, cancel: threading.Event, fraction: float, what: str) -> None:
        if cancel is self._cancel and not cancel.is_set():
            self.progress.emit(fraction, what)

    def close(self) -> None:
        self._timer.stop()
        self._supersede()
        worker = sys.modules.get("persona_studio.services.check_process")  # if ever loaded
        if worker is not None:
            worker.forget_sent()  # the closed project's examples are not kept alive


def on_report(runner: PreflightRunner, show: Callable[[PreflightReport], None]) -> None:
    """Show the current report now (if any) and every new one."""
    runner.finished.connect(show)
    if runner.report is not None:
        show(runner.report)
