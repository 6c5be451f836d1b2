"""Run pipeline: the whole way from the dataset to a published character, one button.

The settings are the Train tab's (provider, base model, name tag…), shown here read-only; this
dialog adds where the plugin and card go and whether to sync the sheet first. Each step's state
is drawn from the run record the service saves, so what the dialog shows is what a resume will
do. Closing the dialog while it runs stops the run (it can be resumed); the fine-tuning job
itself goes on at the provider.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QCloseEvent, QDesktopServices
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from persona_studio.gui.context import AppContext
from persona_studio.gui.dialogs.lifetime import delete_when_idle
from persona_studio.gui.loop import spawn
from persona_studio.gui.project_session import ProjectSession
from persona_studio.gui.theme import color, icon
from persona_studio.gui.widgets.loss_chart import LossChart
from persona_studio.services.pipeline import (
    STEPS,
    Pipeline,
    PipelineOptions,
    PipelineRun,
)

if TYPE_CHECKING:
    from persona_studio.core.validation import ModelSpec, PreflightReport

STATE_TEXT = {
    "pending": "○ To do",
    "running": "◐ Running",
    "done": "✔ Done",
    "skipped": "– Skipped",
    "failed": "✖ Failed",
    "cancelled": "■ Stopped",
    "waiting": "⏸ Training at the provider",
}
INTRO = (
    "From your dataset to a character people can talk to, in one go. Every step is saved as it "
    "finishes: if one fails or you stop, <b>Resume</b> goes on from there without uploading or "
    "training twice."
)


class PipelineDialog(QDialog):
    """The run's steps with their state and details, the job's progress and loss chart, and
    Start / Resume / Stop. Listens to the session's `job_changed`; awaits the pipeline service
    (which follows the job through `session.jobs`, the Train tab's one poller)."""

    open_chat = Signal(str, str, str)  # profile, fine-tuned model, base model

    def __init__(
        self,
        context: AppContext,
        session: ProjectSession,
        options: PipelineOptions,
        *,
        settings_text: str,
        sync_sheet: Callable[[dict[str, Any]], Any] | None,
        run: PipelineRun | None,
        parent: QWidget | None = None,
    ) -> None:
        """`run`: the newest run (`services.pipeline.latest_run`), read before."""
        super().__init__(parent)
        self.setObjectName("pipeline_dialog")
        self.setWindowTitle("Run the whole pipeline")
        self.context, self.session, self.options = context, session, options
        self.sync_sheet = sync_sheet
        self.warnings_box: QMessageBox | None = None  # "Train with these warnings?" when asked
        session.job_changed.connect(self._job_changed)
        self.task: asyncio.Task[PipelineRun] | None = None
        self._stopping: asyncio.Task[PipelineRun] | None = None
        delete_when_idle(self, lambda: (self.task, self._stopping))
        self.run = run

        intro = QLabel(INTRO, wordWrap=True)
        self.settings_label = QLabel(settings_text, objectName="pipeline_settings", wordWrap=True)
        self.settings_label.setAccessibleName("Training settings")
        # a run to resume writes where its folder shows (a record, maybe from another computer,
        # names a folder: the creator sees it, and may change it, before pressing Resume)
        resumable = self.run is not None and self.run.resumable
        folder = self.run.options.out_dir if self.run is not None and resumable else ""
        self.folder = QLineEdit(folder or options.out_dir, objectName="pipeline_folder")
        self.folder.setAccessibleName("Folder for the plugin, card and training files")
        browse = QPushButton("Choose…", objectName="pipeline_browse")
        browse.setAccessibleName("Choose the output folder")
        browse.clicked.connect(self._choose_folder)
        folder_row = QHBoxLayout()
        folder_row.addWidget(QLabel("Save the plugin and card in"))
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(browse)
        linked = bool(options.sheet and options.sheet.get("key"))
        self.use_sheet = QCheckBox(
            "Sync with the linked Google Sheet first" if linked else "No Google Sheet is linked",
            objectName="pipeline_sync",
            checked=linked,
            enabled=linked,
        )
        self.compare = QCheckBox(
            "Last, compare the new model with the previous one (“Does it sound like me?”)",
            objectName="pipeline_compare",
        )
        self.compare.setToolTip(
            "Both models answer the questions kept aside for the voice check; the summary says "
            "which sounds more like you. It makes about twenty model calls."
        )

        self.steps = QTreeWidget(objectName="pipeline_steps")
        self.steps.setAccessibleName("Pipeline steps")
        self.steps.setHeaderLabels(["Step", "State", "Details"])
        self.steps.setRootIsDecorated(False)
        for _name, label in STEPS:
            self.steps.addTopLevelItem(QTreeWidgetItem([label, STATE_TEXT["pending"], ""]))
        self.steps.setColumnWidth(0, 290)
        self.steps.setColumnWidth(1, 150)
        self.progress = QProgressBar(objectName="pipeline_progress")
        self.progress.setAccessibleName("Training progress")
        self.progress.setFormat("%p% of the training steps")
        self.progress.hide()
        self.chart = LossChart()  # as in the Train tab, from the job's record in the project
        self.chart.setMinimumHeight(150)
        self.chart.hide()
        self.summary = QLabel(objectName="pipeline_summary", wordWrap=True)
        self.summary.setAccessibleName("Pipeline status")

        self.start = QPushButton("Start", objectName="pipeline_start", default=True)
        self.start.setIcon(icon("play"))
        self.start.clicked.connect(self.start_new)
        self.resume = QPushButton("Resume", objectName="pipeline_resume")
        self.resume.clicked.connect(self.resume_last)
        self.stop = QPushButton("Stop", objectName="pipeline_stop")
        self.stop.setToolTip("Stop the run; the job goes on at the provider. Resume later.")
        self.stop.clicked.connect(self.cancel)
        self.chat = QPushButton("Talk to it in the Chat tab", objectName="pipeline_chat")
        self.chat.clicked.connect(self._open_chat)
        self.show_files = QPushButton("Show the files", objectName="pipeline_files")
        self.show_files.clicked.connect(self._show_files)
        close = QPushButton("Close", objectName="pipeline_close")
        close.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        for button in (self.resume, self.start, self.stop, self.chat, self.show_files):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(close)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.settings_label)
        layout.addLayout(folder_row)
        layout.addWidget(self.use_sheet)
        layout.addWidget(self.compare)
        layout.addWidget(self.steps, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.chart, 1)
        layout.addWidget(self.summary)
        layout.addLayout(buttons)
        self.resize(880, 560)
        self.show_run(self.run)

    # ---- state ---------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    def show_run(self, run: PipelineRun | None) -> None:
        self.run = run
        if run is not None:
            for index, step in enumerate(run.steps):
                item = self.steps.topLevelItem(index)
                assert item is not None  # one row per step, made in __init__
                item.setText(1, STATE_TEXT.get(step.status, step.status))
                item.setText(2, step.error or step.detail)
                item.setToolTip(2, step.error or step.detail)
            failed = run.status == "failed"
            text = escape(run.summary())
            if run.status == "new":
                text = "Starting…"
            self.summary.setText(
                f'<span style="color:{color("danger")}">{text}</span>' if failed else text
            )
        else:
            self.summary.setText("Check the settings above, then press Start.")
        if not self.running:  # while running, each job update redraws it
            self._show_chart()
        busy = self.running
        done = run is not None and run.status == "succeeded"
        self.start.setEnabled(not busy)
        self.start.setText("Start over" if run is not None and run.resumable else "Start")
        self.resume.setVisible(run is not None and run.resumable and not busy)
        self.resume.setDefault(self.resume.isVisibleTo(self))
        self.start.setDefault(not self.resume.isVisibleTo(self))
        self.stop.setVisible(busy)
        self.chat.setVisible(done)
        self.show_files.setVisible(run is not None and bool(run.outputs.get("train_path")))
        for widget in (self.folder, self.use_sheet, self.compare):
            widget.setEnabled(not busy and (widget is not self.use_sheet or self._linked))

    @property
    def _linked(self) -> bool:
        return bool(self.options.sheet and self.options.sheet.get("key"))

    def _job_changed(self, job_id: str) -> None:
        if self.run is None or self.run.outputs.get("job_id") != job_id:
            return
        record = self.session.project.job(job_id)
        if record is not None and self.running and record.progress is not None:
            self.progress.show()
            self.progress.setValue(round(record.progress * 100))
        self._show_chart()

    def _show_chart(self) -> None:
        job_id = self.run.outputs.get("job_id") if self.run else None
        record = self.session.project.job(job_id) if job_id else None
        metrics = record.metrics if record is not None else []
        self.chart.setVisible(bool(metrics))
        if metrics:
            self.chart.show_metrics(metrics)

    # ---- actions -------------------------------------------------------------------------

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Where should the files go?", self.folder.text()
        )
        if folder:
            self.folder.setText(folder)

    def _out_dir(self, default: str) -> str:
        """The folder the field says, whole: a name typed alone ("Exports") is beside the
        project (where the default folder is), not in whatever folder the app was started
        from; the field then shows where that is."""
        typed = self.folder.text().strip()
        if not typed:
            return default
        folder = Path(typed).expanduser()
        if not folder.is_absolute():
            folder = self.session.project.path.parent / folder
        self.folder.setText(str(folder))
        return str(folder)

    def start_new(self) -> asyncio.Task[PipelineRun] | None:
        if self.running:
            return self.task
        options = PipelineOptions(**{**self.options.__dict__})
        options.out_dir = self._out_dir(self.options.out_dir)
        options.sheet = self.options.sheet if self.use_sheet.isChecked() else None
        options.check = self.compare.isChecked()
        return self._execute(PipelineRun.new(options))

    def resume_last(self) -> asyncio.Task[PipelineRun] | None:
        if self.running or self.run is None or not self.run.resumable:
            return self.task
        self.run.options.wait = True
        self.run.options.out_dir = self._out_dir(self.run.options.out_dir)
        return self._execute(self.run)

    def _execute(self, run: PipelineRun) -> asyncio.Task[PipelineRun]:
        from persona_studio.core.config import user_model_table
        from persona_studio.core.validation import load_model_specs
        from persona_studio.services.providers import client_for

        pipeline = Pipeline(
            self.session.project,
            run,
            jobs=self.session.jobs,
            sync_sheet=self.sync_sheet,
            check_data=self.check_data,
            model_specs=load_model_specs(user_model_table()),  # the user's edited prices
            on_change=self.show_run,
            chat_client=lambda profile: client_for(profile, self.context.store, max_retries=0),
            profiles=self.context.config.profile,
            confirm_warnings=self.confirm_warnings,
        )
        self.progress.hide()
        self.task = spawn(self._flushed_then(pipeline))
        self.task.add_done_callback(lambda _t: self._finished(run))
        self.show_run(run)
        return self.task

    async def _flushed_then(self, pipeline: Pipeline) -> PipelineRun:
        await self.session.flushed()  # the run reads the project file: pending changes first
        return await pipeline.execute()

    async def check_data(self, spec: ModelSpec, test_share: float) -> PreflightReport:
        """The open project's examples checked in the check's worker process, as the Dataset
        and Train tabs check them: in a thread of the window, a check of 100,000 examples
        held its interpreter lock for long stretches, and loaded the encodings into it. The
        worker holds the session's examples from the tabs' checks: only what changed crosses.
        Stopped with the run."""
        import copy

        from persona_studio.gui.preflight_runner import checked_in_worker

        session = self.session
        examples = list(await session.load_examples())
        persona = copy.deepcopy(session.persona)
        return await checked_in_worker(examples, persona, spec, test_share=test_share)

    async def confirm_warnings(self, lines: list[str]) -> bool:
        """Train with these warnings? Asked as the Train tab asks, without a nested loop."""
        from persona_studio.gui.dialogs.messages import ask

        def shown(box: QMessageBox) -> None:
            self.warnings_box = box

        return await ask(
            self,
            "Train with these warnings?",
            "The check found warnings about the data:\n"
            + "\n".join(f"• {line}" for line in lines)
            + "\n\nThe Dataset tab shows each one (Only with issues).",
            "Train anyway",
            name="confirm_warnings",
            shown=shown,
        )

    def _finished(self, run: PipelineRun) -> None:
        self.show_run(run)

    def cancel(self) -> None:
        if self.running:
            assert self.task is not None
            self.task.cancel()

    def _open_chat(self) -> None:
        if self.run is not None and self.run.outputs.get("fine_tuned_model"):
            self.open_chat.emit(
                self.run.options.profile,
                self.run.outputs["fine_tuned_model"],
                self.run.options.base_model,
            )
            self.accept()

    def _show_files(self) -> None:
        if self.run is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(self.run.options.out_dir))

    def reject(self) -> None:
        """Close, Escape and the title bar's close all come here. (They used to call close(),
        whose QDialog handler calls reject() again: Qt's guard against that loop left an idle
        dialog open.)"""
        if self.running:
            self._ask_to_stop()
        else:
            super().reject()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.running:
            event.ignore()
            self._ask_to_stop()
        else:
            super().closeEvent(event)  # QDialog's: reject(), which hides it

    def _ask_to_stop(self) -> None:
        """Asked without a nested event loop: the run keeps its pace meanwhile."""
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Stop the pipeline?",
            "The run stops here and can be resumed later. The fine-tuning job, if it has "
            "started, goes on at the provider.",
            QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setObjectName("confirm_stop_pipeline")
        stop = box.addButton("Stop and close", QMessageBox.ButtonRole.DestructiveRole)
        box.buttonClicked.connect(lambda button: self._stop_and_close() if button is stop else None)
        box.open()
        self.confirm_box = box

    def _stop_and_close(self) -> None:
        self.cancel()
        # cancellation is under way; the record is saved when it lands (closing asks no more)
        self._stopping, self.task = self.task, None
        self.done(QDialog.DialogCode.Rejected)
