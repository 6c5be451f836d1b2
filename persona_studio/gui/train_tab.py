"""Train tab: check, price and launch a fine-tuning job, then watch it live."""

from __future__ import annotations

import asyncio
import copy
import threading
from datetime import datetime
from html import escape
from typing import Any, ClassVar

from PySide6.QtCore import QPointF, Qt, QTimer
from PySide6.QtGui import QPainter, QPaintEvent, QPalette, QPen, QPolygonF, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QSystemTrayIcon,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from persona_studio.core.config import ProviderProfile
from persona_studio.core.validation import (
    PreflightCancelled,
    PreflightReport,
    load_model_specs,
    preflight,
    price_text,
)
from persona_studio.gui.context import AppContext
from persona_studio.gui.project_session import ProjectSession
from persona_studio.gui.theme import color, qcolor, style
from persona_studio.gui.widgets.profiles import add_profiles
from persona_studio.services import finetune
from persona_studio.services.pipeline import PipelineOptions

CHECK_DELAY_MS = 800  # as the Dataset tab: one check per pause in typing
DEFAULT_BASE_MODELS = (
    "gpt-4.1-mini-2025-04-14",
    "gpt-4.1-nano-2025-04-14",
    "gpt-4o-mini-2024-07-18",
)
DEADLINE_NOTE = (
    "OpenAI stops new self-serve fine-tuning jobs on 6 January 2027, and retires "
    "the GPT-4o and GPT-4.1 families and their fine-tunes on 14 January 2027. "
    "A profile for Azure OpenAI, a gateway or a self-hosted server keeps working."
)
TIMELINE = ("validating_files", "queued", "running", "succeeded")


class LossChart(QWidget):
    """Train and validation loss by step, from the `data` of metrics events (drawn with
    QPainter: a plotting library is not worth its weight for two lines)."""

    COLORS: ClassVar[dict[str, str]] = {  # theme colour names
        "training": "accent",
        "validation": "validation",
    }

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("loss_chart")
        self.setAccessibleName("Loss chart")
        self.setMinimumHeight(180)
        self.series: dict[str, list[tuple[float, float]]] = {"training": [], "validation": []}

    def show_metrics(self, metrics: list[dict[str, Any]]) -> None:
        self.series = {
            "training": [
                (m["step"], m["train_loss"]) for m in metrics if m.get("train_loss") is not None
            ],
            "validation": [
                (m["step"], m["valid_loss"]) for m in metrics if m.get("valid_loss") is not None
            ],
        }
        self.update()

    def points(self) -> tuple[int, int]:
        return len(self.series["training"]), len(self.series["validation"])

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        area = self.rect().adjusted(48, 12, -12, -28)
        painter.setPen(self.palette().color(QPalette.ColorRole.Mid))
        painter.drawRect(area)
        points = [p for series in self.series.values() for p in series]
        text = self.palette().color(QPalette.ColorRole.Text)
        if not points:
            painter.setPen(text)
            painter.drawText(
                area,
                Qt.AlignmentFlag.AlignCenter,
                "The loss curve appears here while the model trains.",
            )
            return
        max_step = max(p[0] for p in points) or 1
        top = max(p[1] for p in points) * 1.05 or 1.0

        def at(step: float, loss: float) -> QPointF:
            return QPointF(
                area.left() + area.width() * step / max_step,
                area.bottom() - area.height() * loss / top,
            )

        painter.setPen(text)
        painter.drawText(4, area.top() + 10, f"{top:.2f}")
        painter.drawText(4, area.bottom(), "0")
        painter.drawText(area.left(), self.height() - 8, "step 0")
        painter.drawText(area.right() - 60, self.height() - 8, f"step {max_step:g}")
        for n, (name, series) in enumerate(self.series.items()):
            pen = QPen(qcolor(self.COLORS[name]), 2)
            painter.setPen(pen)
            if len(series) > 1:
                painter.drawPolyline(QPolygonF([at(s, v) for s, v in series]))
            for s, v in series:
                painter.drawEllipse(at(s, v), 2.5, 2.5)
            painter.drawText(
                area.right() - 110,
                area.top() + 16 + 16 * n,
                f"— {name}" + (f" {series[-1][1]:.3f}" if series else ""),
            )
        painter.end()


class TrainTab(QWidget):
    poll_interval = 2.0  # seconds between status checks (backs off while nothing happens)

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self._session: ProjectSession | None = None
        self.report: PreflightReport | None = None
        self._monitors: dict[str, asyncio.Task[None]] = {}
        self._held: set[str] = set()  # jobs another part of the window watches (the pipeline)
        self._check_task: asyncio.Task[None] | None = None
        self._check_cancel = threading.Event()
        # Dataset edits: re-checked after a pause while this tab shows, else when it is shown
        # (the Dataset tab runs its own check; two full checks per edit were wasted work).
        self._stale = False
        self._check_timer = QTimer(self, singleShot=True, interval=CHECK_DELAY_MS)
        self._check_timer.timeout.connect(self.check)
        self._launch_task: asyncio.Task[None] | None = None
        self._cancel_task: asyncio.Task[None] | None = None
        self.shown_job: str | None = None

        self.deadline = QLabel(DEADLINE_NOTE, objectName="openai_deadline", wordWrap=True)
        style(
            self.deadline,
            "background: {notice_bg}; color: {notice_fg}; padding: 6px; border-radius: 4px;",
        )
        self.profile = QComboBox(objectName="train_profile")
        self.profile.setAccessibleName("Provider profile")
        self.profile.currentIndexChanged.connect(self._profile_changed)
        self.base_model = QComboBox(objectName="train_model", editable=True)
        self.base_model.setAccessibleName("Base model")
        self.base_model.currentTextChanged.connect(lambda _t: self.check())
        self.suffix = QLineEdit(objectName="train_suffix", placeholderText="e.g. rhea-v1")
        self.suffix.setAccessibleName("Name tag")
        self.suffix.setToolTip("Added to the model's name so you can recognise it (≤ 64).")
        self.suffix.textChanged.connect(self._check_suffix)
        self.suffix_error = QLabel(objectName="suffix_error")
        style(self.suffix_error, "color: {danger};")
        self.epochs = QSpinBox(objectName="train_epochs", minimum=0, maximum=50)
        self.epochs.setSpecialValueText("auto")
        self.epochs.setToolTip(
            "How many times the model reads your examples. Auto: the "
            "provider decides from the number of examples."
        )
        self.batch = QSpinBox(objectName="train_batch", minimum=0, maximum=256)
        self.batch.setSpecialValueText("auto")
        self.batch.setToolTip("How many examples per training step. Auto is best for most.")
        self.learning_rate = QDoubleSpinBox(
            objectName="train_lr", minimum=0, maximum=10, singleStep=0.1, decimals=2
        )
        self.learning_rate.setSpecialValueText("auto")
        self.learning_rate.setToolTip("Larger learns faster but may overfit. Auto is safest.")
        self.seed = QSpinBox(objectName="train_seed", minimum=0, maximum=2**31 - 1, value=42)
        self.validation = QSpinBox(
            objectName="train_validation", minimum=0, maximum=50, suffix=" %"
        )
        self.validation.setToolTip(
            "Share of approved examples kept aside to measure how well "
            "the model generalises (the validation loss)."
        )
        form = QFormLayout()
        form.addRow("Provider", self.profile)
        form.addRow("Base model", self.base_model)
        form.addRow("Name tag", self.suffix)
        form.addRow("", self.suffix_error)
        advanced = QGroupBox("Advanced (leave on auto if unsure)")
        advanced_form = QFormLayout(advanced)
        advanced_form.addRow("Epochs", self.epochs)
        advanced_form.addRow("Batch size", self.batch)
        advanced_form.addRow("Learning-rate multiplier", self.learning_rate)
        advanced_form.addRow("Seed", self.seed)
        advanced_form.addRow("Validation examples", self.validation)
        self.check_summary = QLabel(objectName="train_check", wordWrap=True)
        self.check_summary.setTextFormat(Qt.TextFormat.RichText)
        self.show_problems = QPushButton("Show these examples", objectName="train_show_problems")
        self.show_problems.setToolTip("Open the Dataset tab on the examples that need fixing.")
        self.show_problems.clicked.connect(self._show_problems)
        self.show_problems.hide()
        self.start = QPushButton("Start training…", objectName="train_start")
        self.start.clicked.connect(self.confirm_and_launch)
        self.pipeline = QPushButton("Run the whole pipeline…", objectName="train_pipeline")
        self.pipeline.setToolTip(
            "Sync the sheet, check, upload, train, register the model and export the chat "
            "plugin and card, in one go (resumable)."
        )
        self.pipeline.clicked.connect(lambda: self.window().run_pipeline())
        self.steps = QListWidget(objectName="train_steps")
        self.steps.setAccessibleName("Launch steps")
        self.steps.setMaximumHeight(110)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.addWidget(self.deadline)
        left_layout.addLayout(form)
        left_layout.addWidget(advanced)
        left_layout.addWidget(self.check_summary)
        left_layout.addWidget(self.show_problems)
        start_row = QHBoxLayout()
        start_row.addWidget(self.start, 1)
        start_row.addWidget(self.pipeline, 1)
        left_layout.addLayout(start_row)
        left_layout.addWidget(self.steps)
        left_layout.addStretch(1)

        self.status = QLabel("No job selected.", objectName="job_status", wordWrap=True)
        self.status.setTextFormat(Qt.TextFormat.RichText)
        self.progress = QProgressBar(objectName="job_progress")
        self.progress.setRange(0, 100)
        self.progress.setFormat("%p% of the training steps")
        self.cancel_button = QPushButton("Cancel job…", objectName="job_cancel")
        self.cancel_button.clicked.connect(self.confirm_cancel)
        self.use_model = QPushButton("Use this model", objectName="job_use_model")
        self.use_model.setToolTip("Make this fine-tuned model the character's model.")
        self.use_model.clicked.connect(self._use_model)
        self.chart = LossChart()
        self.events = QPlainTextEdit(objectName="job_events", readOnly=True)
        self.events.setAccessibleName("Job events")
        self.events.setPlaceholderText("The provider's messages about the job appear here.")
        self.history = QTreeWidget(objectName="jobs_list")
        self.history.setAccessibleName("Fine-tuning jobs")
        self.history.setHeaderLabels(
            ["Created", "Base model", "Status", "Fine-tuned model", "Final loss"]
        )
        self.history.setRootIsDecorated(False)
        self.history.currentItemChanged.connect(self._history_selected)
        row = QHBoxLayout()
        row.addWidget(self.progress, 1)
        row.addWidget(self.cancel_button)
        row.addWidget(self.use_model)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.addWidget(self.status)
        right_layout.addLayout(row)
        right_layout.addWidget(self.chart, 3)
        right_layout.addWidget(self.events, 1)
        right_layout.addWidget(QLabel("Job history"))
        right_layout.addWidget(self.history, 1)
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        layout = QHBoxLayout(self)
        layout.addWidget(splitter)
        self._fill_profiles()

    # ---- setup ---------------------------------------------------------------------------

    def set_session(self, session: ProjectSession) -> None:
        for task in self._monitors.values():
            task.cancel()
        self._monitors.clear()
        self._held.clear()
        self._session = session
        session.examples_reset.connect(self._dataset_changed)
        session.examples_edited.connect(lambda _ids: self._dataset_changed())
        self._fill_profiles()
        self._fill_history()
        for job in session.project.jobs():  # reattach to jobs still running at the provider
            if job["status"] not in finetune.TERMINAL:
                self.watch(job["id"])
        self.check()

    def _fill_profiles(self) -> None:
        current = self.profile.currentData()
        self.profile.blockSignals(True)
        self.profile.clear()
        add_profiles(
            self.profile, self.context.config, current or self.context.config.default_profile
        )
        self.profile.blockSignals(False)
        self._profile_changed()

    def current_profile(self) -> ProviderProfile:
        return self.context.config.profile(self.profile.currentData() or "env")

    def _profile_changed(self, *_: object) -> None:
        profile = self.current_profile()
        self.deadline.setVisible(profile.kind == "openai")
        models = [m for m in (profile.finetune_model, *DEFAULT_BASE_MODELS) if m]
        models += [m for m in load_model_specs() if m not in models]
        current = self.base_model.currentText()
        self.base_model.blockSignals(True)
        self.base_model.clear()
        self.base_model.addItems(list(dict.fromkeys(models)))
        self.base_model.setCurrentText(current if current else models[0])
        self.base_model.blockSignals(False)
        self.check()

    def _check_suffix(self) -> None:
        error = finetune.suffix_error(self.suffix.text())
        self.suffix_error.setText(error or "")
        self.start.setEnabled(error is None and self._launch_task is None)

    def settings(self) -> finetune.TrainSettings:
        return finetune.TrainSettings(
            base_model=self.base_model.currentText().strip(),
            suffix=self.suffix.text().strip(),
            n_epochs=self.epochs.value() or None,
            batch_size=self.batch.value() or None,
            learning_rate_multiplier=self.learning_rate.value() or None,
            seed=self.seed.value(),
        )

    def pipeline_options(self, out_dir: str, sheet: dict[str, Any] | None) -> PipelineOptions:
        """The pipeline trains with the settings chosen here."""
        settings = self.settings()
        return PipelineOptions(
            profile=self.current_profile().name,
            base_model=settings.base_model,
            out_dir=out_dir,
            sheet=sheet,
            suffix=settings.suffix,
            validation_split=self.validation.value() / 100,
            seed=settings.seed if settings.seed is not None else 42,
            n_epochs=settings.n_epochs,
            batch_size=settings.batch_size,
            learning_rate_multiplier=settings.learning_rate_multiplier,
        )

    def settings_html(self) -> str:
        settings = self.settings()
        cost = ""
        if self.report is not None and not self._stale:  # stale: the pipeline checks anew
            cost = f" · estimated cost <b>{price_text(self.report.estimated_cost)}</b>"
        return (
            f"Trains <b>{escape(settings.base_model)}</b> with the provider "
            f"<b>{escape(self.current_profile().name)}</b>"
            + (f", name tag “{escape(settings.suffix)}”" if settings.suffix else "")
            + f", {self.validation.value()} % kept for validation{cost}. "
            "Change these in the Train tab."
        )

    def refresh_jobs(self) -> None:
        if self._session is not None:
            self._fill_history(select=self.shown_job)

    # ---- preflight -----------------------------------------------------------------------

    def _dataset_changed(self) -> None:
        if self.isVisibleTo(self.window()):
            self._check_timer.start()
        else:
            self._stale = True

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self.check()

    def check(self, *_: object) -> None:
        from persona_studio.core.validation import model_spec
        from persona_studio.gui.dataset_tab import user_model_table

        if self._session is None:
            return
        self._stale = False
        self._check_timer.stop()
        if self._check_task is not None:
            self._check_cancel.set()  # the worker stops at its next step
            self._check_task.cancel()
        self._check_cancel = cancel = threading.Event()
        # a snapshot taken now, on the UI thread: the worker never touches the open project
        examples = [copy.copy(e) for e in self._session.examples]
        persona = copy.deepcopy(self._session.persona)
        spec = model_spec(
            self.base_model.currentText().strip(), load_model_specs(user_model_table())
        )
        self.check_summary.setText("Checking the dataset…")
        self._check_task = asyncio.ensure_future(self._check(examples, persona, spec, cancel))

    async def _check(
        self, examples: list[Any], persona: Any, spec: Any, cancel: threading.Event
    ) -> None:
        try:
            report = await asyncio.to_thread(preflight, examples, persona, spec, cancel=cancel)
        except PreflightCancelled:
            return  # a newer check is under way
        self.report = report
        s = report.summary()
        lines = [
            f"<b>{s['trained_examples']} approved examples</b>, {s['trained_tokens']:,} "
            f"tokens · {s['epochs']} epochs by default · {s['billed_tokens']:,} billed "
            f"tokens · <b>{price_text(report.estimated_cost)}</b>"
        ]
        blocking = report.blocking
        self.show_problems.setVisible(any(example_id for example_id, _ in blocking))
        if blocking:
            lines.append(
                f'<span style="color:{color("danger")}">✖ {len(blocking)} problem(s) to fix '
                "first (see the Dataset tab):</span>"
            )
            lines += [f"• {issue.message}" for _id, issue in blocking[:4]]
        elif report.warnings:
            lines.append(
                f'<span style="color:{color("attention")}">⚠ {len(report.warnings)} warning(s): '
                "you will be asked to confirm.</span>"
            )
        self.check_summary.setText("<br>".join(lines))

    def _show_problems(self) -> None:
        """Jump to the Dataset tab, filtered to the examples with issues."""
        window = self.window()
        window.tabs.setCurrentIndex(1)
        if self.report is not None:  # the grid shows these findings before its own check ends
            window.dataset_tab.model.set_report(self.report.tokens, self.report.issues)
        window.dataset_tab.issues_only.setChecked(True)
        ids = [example_id for example_id, _ in (self.report.blocking if self.report else [])]
        window.dataset_tab.select_examples([i for i in ids if i])

    # ---- launch --------------------------------------------------------------------------

    def confirm_and_launch(self) -> QMessageBox | None:
        if self.report is None or self._session is None:
            return None
        if self.report.blocking:
            QMessageBox.information(
                self, "Not ready yet", "Fix the problems listed under the settings first."
            )
            return None
        s = self.report.summary()
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Start training?",
            f"Train {self.base_model.currentText()} on {s['trained_examples']} "
            f"examples ({s['billed_tokens']:,} billed tokens).\n\nEstimated "
            f"cost: {price_text(self.report.estimated_cost)}, charged by the "
            "provider.",
            QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setObjectName("confirm_training")
        start = box.addButton("Upload and start", QMessageBox.ButtonRole.AcceptRole)
        if self.report.warnings:
            box.setInformativeText(
                f"There are {len(self.report.warnings)} warnings about the "
                "data (see the Dataset tab)."
            )
        box.buttonClicked.connect(lambda button: self.launch() if button is start else None)
        box.open()
        return box

    def launch(self) -> None:
        if self._session is not None and self._launch_task is None:
            self._launch_task = asyncio.ensure_future(self._launch())

    async def _client(self, profile: ProviderProfile) -> Any:
        from persona_studio.services.providers import client_for

        return await client_for(profile, self.context.store)

    async def _launch(self) -> None:
        assert self._session is not None
        self.start.setEnabled(False)
        self.steps.clear()
        profile = self.current_profile()
        try:
            client = await self._client(profile)
            async with client:
                launched = await finetune.launch(
                    client,
                    list(self._session.examples),
                    self._session.persona.system_prompt(),
                    self.settings(),
                    validation_split=self.validation.value() / 100,
                    seed=self.seed.value(),
                    on_step=self.steps.addItem,
                )
        except Exception as exc:  # shown in plain words in the step list
            item_text = f"✖ {exc}"
            self.steps.addItem(item_text)
            self.steps.item(self.steps.count() - 1).setForeground(Qt.GlobalColor.red)
            return
        finally:
            self._launch_task = None
            self._check_suffix()
        job = launched.job
        record = finetune.job_record(job)
        if self.report is not None:
            record["estimated_cost_usd"] = round(self.report.estimated_cost, 2)
        self._session.project.save_job(
            job["id"],
            profile=profile.name,
            base_model=job["model"],
            status=job["status"],
            fine_tuned_model=None,
            data=record,
        )
        self._fill_history(select=job["id"])
        self.watch(job["id"])

    # ---- watch ---------------------------------------------------------------------------

    def watch(self, job_id: str) -> None:
        if job_id in self._held:
            return
        if job_id not in self._monitors or self._monitors[job_id].done():
            self._monitors[job_id] = asyncio.ensure_future(self._watch(job_id, self.poll_interval))

    def watching(self, job_id: str) -> bool:
        return job_id in self._monitors and not self._monitors[job_id].done()

    def hand_over(self, job_id: str, elsewhere: bool) -> None:
        """`elsewhere`: the pipeline now watches this job, so this tab stops polling it (one
        poller per job). False: the pipeline stopped; this tab watches it while it runs."""
        if elsewhere:
            self._held.add(job_id)
            if (task := self._monitors.pop(job_id, None)) is not None:
                task.cancel()
            return
        self._held.discard(job_id)
        record = self._session.project.job(job_id) if self._session else None
        if record is not None and record["status"] not in finetune.TERMINAL:
            self.watch(job_id)

    async def _watch(self, job_id: str, poll: float) -> None:
        assert self._session is not None
        project = self._session.project
        record = project.job(job_id)
        if record is None:
            return
        profile = self.context.config.profile(record["profile"])
        data = record["data"]
        try:
            client = await self._client(profile)
            async with client:
                async for update in finetune.monitor(
                    client, job_id, poll=poll, last_event=data.get("last_event")
                ):
                    if update.warning:
                        self._show_warning(job_id, update.warning)
                        continue
                    data = finetune.job_record(update.job, data, update)
                    if update.status == "succeeded":
                        data["checkpoints"] = await finetune.checkpoints(client, job_id)
                    project.save_job(
                        job_id,
                        profile=record["profile"],
                        base_model=record["base_model"],
                        status=update.status,
                        fine_tuned_model=update.job.get("fine_tuned_model"),
                        data=data,
                    )
                    if update.status == "succeeded" and update.job.get("fine_tuned_model"):
                        self.register_model(update.job["fine_tuned_model"])
                    self._fill_history(select=self.shown_job)
                    if self.shown_job in (None, job_id):
                        self.show_job(job_id)
        except Exception as exc:  # a lost key, a revoked profile: say it, keep the record
            self._show_warning(job_id, str(exc))

    def register_model(self, model: str) -> None:
        assert self._session is not None
        self._session.set_persona_field("fine_tuned_model", model)
        self._session.flush()
        window = self.window()
        window.statusBar().showMessage(
            f"Training finished: {model} is now the character's model (Chat → Fine-tuned model).",
            15000,
        )
        QApplication.alert(window)  # the taskbar asks for attention if the window is behind
        if not window.isActiveWindow() and QSystemTrayIcon.isSystemTrayAvailable():
            tray = QSystemTrayIcon(QApplication.windowIcon(), self)
            tray.show()
            tray.showMessage("Training finished", f"{model} is ready to chat with.")
            self._tray = tray  # kept until the next notification

    def _show_warning(self, job_id: str, text: str) -> None:
        if self.shown_job in (None, job_id):
            self.status.setText(f'<span style="color:{color("attention")}">⚠ {text}</span>')

    def show_job(self, job_id: str) -> None:
        assert self._session is not None
        record = self._session.project.job(job_id)
        if record is None:
            return
        self.shown_job = job_id
        data, status = record["data"], record["status"]
        done = (
            [s for s in TIMELINE if TIMELINE.index(s) <= TIMELINE.index(status)]
            if (status in TIMELINE)
            else []
        )
        timeline = " → ".join(
            f"<b>{finetune.STATUS_LABELS[s]}</b>"
            if s == status
            else (
                finetune.STATUS_LABELS[s]
                if s in done
                else f'<span style="color:{color("muted")}">{finetune.STATUS_LABELS[s]}</span>'
            )
            for s in TIMELINE
        )
        if status in ("failed", "cancelled"):
            timeline += f" → <b>{finetune.STATUS_LABELS[status]}</b>"
        lines = [f"Job {job_id} on {record['base_model']}: {timeline}"]
        if status == "failed":
            lines.append(
                f'<span style="color:{color("danger")}">{finetune.explain_job_error(data)}</span>'
            )
        if record["fine_tuned_model"]:
            lines.append(f"Model: <b>{record['fine_tuned_model']}</b>")
        if data.get("trained_tokens"):
            lines.append(f"Trained tokens: {data['trained_tokens']:,}")
        if data.get("estimated_finish") and status not in finetune.TERMINAL:
            finish = datetime.fromtimestamp(data["estimated_finish"]).strftime("%a %H:%M")
            lines.append(f"Estimated finish: {finish}")
        if data.get("checkpoints"):
            lines.append(
                "Checkpoints: "
                + ", ".join(f"step {c['step']} ({c['model']})" for c in data["checkpoints"])
            )
        self.status.setText("<br>".join(lines))
        metrics = data.get("metrics") or []
        if metrics and metrics[-1].get("total_steps"):
            self.progress.setValue(int(100 * metrics[-1]["step"] / metrics[-1]["total_steps"]))
        else:
            self.progress.setValue(100 if status == "succeeded" else 0)
        self.chart.show_metrics(metrics)
        self.events.setPlainText("\n".join(e.get("message") or "" for e in data.get("events", [])))
        self.events.verticalScrollBar().setValue(self.events.verticalScrollBar().maximum())
        self.cancel_button.setEnabled(status not in finetune.TERMINAL)
        self.use_model.setEnabled(bool(record["fine_tuned_model"]))

    def _fill_history(self, select: str | None = None) -> None:
        assert self._session is not None
        self.history.blockSignals(True)
        self.history.clear()
        for job in self._session.project.jobs():
            metrics = job["data"].get("metrics") or []
            final = f"{metrics[-1]['train_loss']:.3f}" if metrics else ""
            item = QTreeWidgetItem(
                [
                    job["created_at"][:16].replace("T", " "),
                    job["base_model"],
                    finetune.STATUS_LABELS.get(job["status"], job["status"]),
                    job["fine_tuned_model"] or "",
                    final,
                ]
            )
            item.setData(0, Qt.ItemDataRole.UserRole, job["id"])
            self.history.addTopLevelItem(item)
            if job["id"] == select:
                self.history.setCurrentItem(item)
        self.history.blockSignals(False)
        if self.history.topLevelItemCount() == 0:
            self.status.setText("No jobs yet. Check the settings on the left, then start training.")
            self.cancel_button.setEnabled(False)
            self.use_model.setEnabled(False)

    def _history_selected(self, item: QTreeWidgetItem | None, _previous: object) -> None:
        if item is not None:
            self.show_job(item.data(0, Qt.ItemDataRole.UserRole))

    def confirm_cancel(self) -> QMessageBox | None:
        if self.shown_job is None:
            return None
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Cancel this job?",
            "The provider stops training; what was trained so far is lost. "
            "It may still charge for the steps already done.",
            QMessageBox.StandardButton.No,
            self,
        )
        box.setObjectName("confirm_cancel")
        yes = box.addButton("Cancel the job", QMessageBox.ButtonRole.DestructiveRole)
        job_id = self.shown_job
        box.buttonClicked.connect(lambda button: self.cancel(job_id) if button is yes else None)
        box.open()
        return box

    def cancel(self, job_id: str) -> None:
        self._cancel_task = asyncio.ensure_future(self._cancel(job_id))

    async def _cancel(self, job_id: str) -> None:
        assert self._session is not None
        record = self._session.project.job(job_id)
        if record is None:
            return
        try:
            client = await self._client(self.context.config.profile(record["profile"]))
            async with client:
                job = await finetune.cancel(client, job_id)
        except Exception as exc:
            self._show_warning(job_id, str(exc))
            return
        self._session.project.save_job(
            job_id,
            profile=record["profile"],
            base_model=record["base_model"],
            status=job["status"],
            fine_tuned_model=job.get("fine_tuned_model"),
            data=finetune.job_record(job, record["data"]),
        )
        self._fill_history(select=job_id)
        self.show_job(job_id)

    def _use_model(self) -> None:
        assert self._session is not None
        record = self._session.project.job(self.shown_job or "")
        if record and record["fine_tuned_model"]:
            self.register_model(record["fine_tuned_model"])
