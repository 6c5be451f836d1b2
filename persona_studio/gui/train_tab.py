"""Train tab: check, price and launch a fine-tuning job, then watch it live (a view of the
session's `TrainingJobs`: it never writes a job record itself)."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from html import escape
from typing import Any

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from persona_studio.core.config import ProviderProfile
from persona_studio.core.errors import UserFacingError
from persona_studio.core.local_training import MODELS, eta_line, fit, model_named
from persona_studio.core.records import JOB_STATUS_LABELS
from persona_studio.core.tokens import TOKENS_EXPLAINED
from persona_studio.core.trainers import OPENAI_CLOSED, SERVICES, openai_closed, service
from persona_studio.core.validation import (
    PreflightReport,
    load_model_specs,
    price_text,
)
from persona_studio.core.words import counted
from persona_studio.gui.context import AppContext
from persona_studio.gui.loop import spawn
from persona_studio.gui.preflight_runner import PreflightRunner, on_report
from persona_studio.gui.project_session import ProjectSession
from persona_studio.gui.theme import NOTICE_STYLE, color, icon, style
from persona_studio.gui.widgets.local_panel import LocalPanel, TakeElsewhere, local_root
from persona_studio.gui.widgets.loss_chart import LossChart
from persona_studio.gui.widgets.profiles import SetupNotice, add_profiles
from persona_studio.gui.widgets.retirement import RetirementBanner
from persona_studio.services.pipeline import PipelineOptions
from persona_studio.services.training import JobSpec, deploy_failure, needs_deploy, suffix_error
from persona_studio.services.training.openai_api import explain_job_error

DEFAULT_BASE_MODELS = (
    "gpt-4.1-mini-2025-04-14",
    "gpt-4.1-nano-2025-04-14",
    "gpt-4o-mini-2024-07-18",
)
DEADLINE_NOTE = (
    "OpenAI stops new self-serve fine-tuning jobs on 6 January 2027, and retires "
    "the GPT-4o and GPT-4.1 families and their fine-tunes on 14 January 2027. "
    "Together AI or Azure OpenAI keep working: add a profile in Settings → Providers."
)
# which rows of the price table a kind of profile trains (the OpenAI API kinds share one)
TABLE_PROVIDER = {"together": "together", "nebius": "nebius", "fireworks": "fireworks"}


def services_html(current_kind: str) -> str:
    """Every training service in one line each; the chosen one in bold."""
    rows = []
    for s in SERVICES:
        name = f"<b>{escape(s.name)}</b>" if s.kind == current_kind else escape(s.name)
        rows.append(f"• {name} — {escape(s.line)}")
    return "<br>".join(rows) + "<br><i>Add a service in Settings → Providers.</i>"


TIMELINE = ("validating_files", "queued", "running", "succeeded")
LOCAL_TIMELINE = ("queued", "running", "succeeded")
LOCAL_LABELS = {"queued": "Starting on this computer"}


class TrainTab(QWidget):
    """Training settings, the dataset check with its price, the launch steps, and the chosen
    job's timeline, progress, loss chart, messages and history. Listens to the session's
    `job_changed` and examples signals; awaits `session.jobs` (launch, cancel)."""

    pipeline_requested = Signal()  # "Run the whole pipeline…"
    keep_voice_requested = Signal()  # the retirement banner's "Keep its voice…"
    setup_requested = Signal()  # "Set up a service…": the window opens Settings
    show_examples_requested = Signal(object, object)  # example ids (a list), the report

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self._session: ProjectSession | None = None
        self._runner: PreflightRunner | None = None
        self._launch_task: asyncio.Task[None] | None = None
        self._cancel_task: asyncio.Task[None] | None = None
        self.shown_job: str | None = None

        self.retirement = RetirementBanner()
        self.retirement.keep_voice.connect(self.keep_voice_requested)
        self.deadline = QLabel(DEADLINE_NOTE, objectName="openai_deadline", wordWrap=True)
        style(
            self.deadline,
            NOTICE_STYLE,
        )
        self.profile = QComboBox(objectName="train_profile")
        self.profile.setAccessibleName("Where to train")
        self.profile.currentIndexChanged.connect(self._profile_changed)
        self.service = QLabel(objectName="train_service", wordWrap=True)
        style(self.service, "color: {muted};")
        self.compare = QCheckBox("Compare training services", objectName="train_compare")
        self.services = QLabel(objectName="train_services", wordWrap=True)
        self.services.setTextFormat(Qt.TextFormat.RichText)
        self.services.hide()
        self.compare.toggled.connect(self.services.setVisible)
        self.compare.toggled.connect(self.service.setHidden)  # the list says it too
        self.local = LocalPanel(context)
        self.local.hide()
        self.local.model_chosen.connect(self._local_model_chosen)
        self.local.hardware_changed.connect(
            lambda: self._show_check(self.report) if self.report is not None else None
        )
        self._models_task: asyncio.Task[None] | None = None
        self.base_model = QComboBox(objectName="train_model", editable=True)
        self.base_model.setAccessibleName("Base model")
        self.base_model.currentTextChanged.connect(lambda _t: self.check())
        self.base_model.currentTextChanged.connect(lambda _t: self._update_local())
        self.suffix = QLineEdit(objectName="train_suffix", placeholderText="e.g. rhea-v1")
        self.suffix.setAccessibleName("Name tag")
        self.suffix.setToolTip(
            "A short label added to the fine-tuned model's name, e.g. rhea-v1, so you can tell "
            "your models apart (letters, digits and dashes)."
        )
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
        self.lora_rank = QSpinBox(objectName="train_lora_rank", minimum=0, maximum=256)
        self.lora_rank.setSpecialValueText("auto")
        self.lora_rank.setToolTip(
            "How much the adapter can learn (LoRA rank). Auto: 8 for a small dataset, more for "
            "a large one; higher learns more detail but needs more examples."
        )
        self.seed = QSpinBox(objectName="train_seed", minimum=0, maximum=2**31 - 1, value=42)
        self.seed.setToolTip(
            "A number that fixes the random choices (the order of examples, which ones are "
            "kept aside): training again with the same number and data repeats them."
        )
        self.validation = QSpinBox(
            objectName="train_validation", minimum=0, maximum=50, suffix=" %"
        )
        self.validation.setToolTip(
            "Share of approved examples kept aside to measure how well "
            "the model generalises (the validation loss)."
        )
        self.test_share = QSpinBox(
            objectName="train_test_share", minimum=0, maximum=50, suffix=" %"
        )
        self.test_share.setToolTip(
            "Approved examples kept aside for “Does it sound like me?”: never trained, so the "
            "check asks questions the model has not seen. Tag an example “voice-check” to "
            "always keep it aside. A small dataset keeps fewer aside: never so many that fewer "
            "than 10 are left to train on."
        )
        self.test_share.valueChanged.connect(self._test_share_changed)
        form = QFormLayout()
        form.addRow("Train with", self.profile)
        about = QWidget()
        about_layout = QVBoxLayout(about)
        about_layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.service, self.compare, self.services, self.local):
            about_layout.addWidget(widget)
        form.addRow("", about)
        form.addRow("Base model", self.base_model)
        form.addRow("Name tag", self.suffix)
        form.addRow("", self.suffix_error)
        advanced = QGroupBox("Advanced (leave on auto if unsure)")
        advanced_form = QFormLayout(advanced)
        # plain words first, the term a provider's documentation uses after
        advanced_form.addRow("Passes over the examples (epochs)", self.epochs)
        advanced_form.addRow("Examples per step (batch size)", self.batch)
        advanced_form.addRow("Learning speed (learning-rate multiplier)", self.learning_rate)
        advanced_form.addRow("Adapter size (LoRA rank)", self.lora_rank)
        self._rank_label = advanced_form.labelForField(self.lora_rank)
        advanced_form.addRow("Random seed", self.seed)
        advanced_form.addRow("Validation examples", self.validation)
        advanced_form.addRow("Kept for the voice check", self.test_share)
        self.check_summary = QLabel(objectName="train_check", wordWrap=True)
        self.check_summary.setToolTip(TOKENS_EXPLAINED)
        self.check_summary.setTextFormat(Qt.TextFormat.RichText)
        self.show_problems = QPushButton("Show these examples", objectName="train_show_problems")
        self.show_problems.setToolTip("Open the Dataset tab on the examples that need fixing.")
        self.show_problems.clicked.connect(self._show_problems)
        self.show_problems.hide()
        self.start = QPushButton("Start training…", objectName="train_start")
        self.start.setIcon(icon("play"))
        self.start.clicked.connect(self.confirm_and_launch)
        self.pipeline = QPushButton("Run the whole pipeline…", objectName="train_pipeline")
        self.pipeline.setToolTip(
            "Sync the sheet, check, upload, train, register the model and export the chat "
            "plugin and card, in one go (resumable)."
        )
        self.pipeline.clicked.connect(self.pipeline_requested)
        self.steps = QListWidget(objectName="train_steps")
        self.steps.setAccessibleName("Launch steps")
        self.steps.setMaximumHeight(110)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        where = QLabel("<b>Where should your character be trained?</b>", objectName="train_where")
        left_layout.addWidget(self.retirement)
        left_layout.addWidget(where)
        self.setup = SetupNotice.placed(
            left_layout,
            "No AI service is set up yet. You can train on this computer with no account, or "
            "add a training service (Together AI, Fireworks AI, Nebius, Azure, OpenAI) with "
            "its key once.",
            "train_setup",
            context.config,
        )
        self.setup.requested.connect(self.setup_requested)
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
        # (short: beside a job's buttons at 1366×768, "of the training steps" took two lines)
        self.progress.setFormat("%p% trained")
        self.progress.setToolTip("How far the training is: the share of its steps done.")
        self.cancel_button = QPushButton("Cancel job…", objectName="job_cancel")
        self.cancel_button.setIcon(icon("stop"))
        self.cancel_button.clicked.connect(self.confirm_cancel)
        self.use_model = QPushButton("Use this model", objectName="job_use_model")
        self.use_model.setToolTip("Make this fine-tuned model the character's model.")
        self.use_model.clicked.connect(self._use_model)
        self.resume_button = QPushButton("Resume", objectName="job_resume")
        self.resume_button.setToolTip("Carry on from the last checkpoint saved on this computer.")
        self.resume_button.clicked.connect(self.resume)
        self.resume_button.hide()
        self._resume_task: asyncio.Task[None] | None = None
        self.job_folder = QPushButton("Show the folder", objectName="job_folder")
        self.job_folder.setToolTip(
            "Open this training's folder on this computer: its checkpoints and its log "
            "(worker.log), to send with a problem report."
        )
        self.job_folder.clicked.connect(self._show_job_folder)
        self.job_folder.hide()
        self.take = TakeElsewhere()
        self.take.context = context
        self.take.hide()
        self.deployment = QPushButton("Enter deployment name…", objectName="job_deployment")
        self.deployment.setToolTip(
            "Azure answers only once someone deploys the model: give the deployment's name."
        )
        self.deployment.clicked.connect(self.ask_deployment)
        self.deployment.hide()
        self.redeploy = QPushButton("Deploy again", objectName="job_redeploy")
        self.redeploy.setToolTip("Ask the service again to make the trained model answer.")
        self.redeploy.clicked.connect(self.deploy_again)
        self.redeploy.hide()
        self._deploy_task: asyncio.Task[None] | None = None
        self.chart = LossChart()
        self.events = QPlainTextEdit(objectName="job_events", readOnly=True)
        self.events.setAccessibleName("Job events")
        # (the provider's, or this computer's trainer's)
        self.events.setPlaceholderText("Messages about the training appear here.")
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
        row.addWidget(self.resume_button)
        row.addWidget(self.job_folder)
        row.addWidget(self.take)
        row.addWidget(self.use_model)
        row.addWidget(self.deployment)
        row.addWidget(self.redeploy)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.addWidget(self.status)
        right_layout.addLayout(row)
        right_layout.addWidget(self.chart, 3)
        right_layout.addWidget(self.events, 1)
        right_layout.addWidget(QLabel("Job history"))
        right_layout.addWidget(self.history, 1)
        splitter = QSplitter()
        # the settings scroll when the window is short (a 768-pixel screen with the services
        # compared, or the retirement banner shown): the window never needs more height
        settings_scroll = QScrollArea(objectName="train_settings_scroll", widgetResizable=True)
        settings_scroll.setFrameShape(QFrame.Shape.NoFrame)
        settings_scroll.setWidget(left)
        splitter.addWidget(settings_scroll)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        layout = QHBoxLayout(self)
        layout.addWidget(splitter)
        self._fill_profiles()

    # ---- setup ---------------------------------------------------------------------------

    def set_session(self, session: ProjectSession) -> None:
        self._session = session
        self.shown_job = None
        session.job_changed.connect(self._job_changed)
        session.persona_changed.connect(self._persona_changed)
        self.retirement.show_for(session.persona.fine_tuned_model)
        self._runner = runner = session.preflight  # the Dataset tab's check too: one per pause
        runner.add_view(self)
        runner.started.connect(lambda: self.check_summary.setText("Checking the dataset…"))
        on_report(runner, self._show_check)
        self.test_share.blockSignals(True)
        self.test_share.setValue(round(100 * session.project.test_share))
        self.test_share.blockSignals(False)
        self._fill_profiles()
        self._fill_history()
        session.watch_running_jobs()  # reattach to jobs still running at the provider
        self.check()

    def profiles_changed(self) -> None:
        """Settings added, changed or removed a provider profile: show it at once."""
        self.setup.refresh(self.context.config)
        self._fill_profiles()

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

    today = staticmethod(date.today)

    def openai_closed(self) -> bool:
        """Whether the chosen profile is OpenAI's own API and it takes no new jobs today."""
        from persona_studio.services.providers import base_url

        profile = self.current_profile()
        return openai_closed(profile.kind, base_url(profile) or "", self.today())

    def _profile_changed(self, *_: object) -> None:
        profile = self.current_profile()
        chosen = service(profile.kind)
        self.service.setText(chosen.line if chosen else "")
        self.services.setText(services_html(profile.kind))
        closed = self.openai_closed()
        self.deadline.setVisible(profile.kind == "openai")
        self.deadline.setText(" ".join(OPENAI_CLOSED) if closed else DEADLINE_NOTE)
        style(
            self.deadline,
            "background: {danger}; color: white; padding: 4px 8px; border-radius: 4px;"
            if closed
            else NOTICE_STYLE,
        )
        local = profile.kind == "local"
        self.local.setVisible(local)
        for widget in (self.lora_rank, self._rank_label):
            if widget is not None:
                widget.setVisible(local)
        if local:
            self._set_models([m.repo for m in MODELS])
            for index, model in enumerate(MODELS):
                self.base_model.setItemData(
                    index,
                    f"{model.params_b:g}B parameters · licence {model.licence}"
                    + (" (accept it on huggingface.co first)" if model.gated else ""),
                    Qt.ItemDataRole.ToolTipRole,
                )
            self._update_local()
        else:
            provider = TABLE_PROVIDER.get(profile.kind, "openai")
            table = [n for n, spec in load_model_specs().items() if spec.provider == provider]
            defaults = DEFAULT_BASE_MODELS if provider == "openai" else ()
            self._set_models([m for m in (profile.finetune_model, *defaults, *table) if m])
        self._check_suffix()
        self.check()
        if self._models_task is not None:
            self._models_task.cancel()
        self._models_task = None
        if profile.kind == "together":
            self._models_task = spawn(self._add_live_models(profile))

    def _set_models(self, models: list[str]) -> None:
        current = self.base_model.currentText()
        models = list(dict.fromkeys(models))
        specs = load_model_specs()
        self.base_model.blockSignals(True)
        self.base_model.clear()
        self.base_model.addItems(models)
        for index, name in enumerate(models):  # what the table knows: context and price
            spec = specs.get(name)
            if spec is not None:
                self.base_model.setItemData(
                    index,
                    f"Examples up to {spec.max_tokens:,} tokens · "
                    + (
                        f"about ${spec.price_per_million:.2f} per million trained tokens"
                        if spec.price_per_million is not None
                        else "price unknown"
                    ),
                    Qt.ItemDataRole.ToolTipRole,
                )
        keep = current if current in models else (models[0] if models else "")
        self.base_model.setCurrentText(keep)
        self.base_model.blockSignals(False)
        if keep != current:
            self.check()

    async def _add_live_models(self, profile: ProviderProfile) -> None:
        """Together's list of the models it fine-tunes today, after the shipped ones."""
        from persona_studio.services.training import backend_for

        try:
            backend = await backend_for(profile, self.context.store, max_retries=0)
            try:
                live = await backend.models()
            finally:
                await backend.aclose()
        except Exception as exc:  # offline, no key yet: the shipped list stays
            self.base_model.setToolTip(f"Showing the built-in list ({exc}).")
            return
        if profile.name != self.current_profile().name:
            return
        shown = [self.base_model.itemText(i) for i in range(self.base_model.count())]
        self._set_models(shown + sorted(live))
        self.base_model.setToolTip(
            f"{len(live)} models Together fine-tunes today; the first ones have a price estimate."
        )

    def _check_suffix(self) -> None:
        error = suffix_error(self.suffix.text())
        self.suffix_error.setText(error or "")
        self.start.setEnabled(
            error is None and self._launch_task is None and not self.openai_closed()
        )

    def settings(self) -> JobSpec:
        local = self.current_profile().kind == "local"
        return JobSpec(
            base_model=self.base_model.currentText().strip(),
            suffix=self.suffix.text().strip(),
            n_epochs=self.epochs.value() or None,
            batch_size=self.batch.value() or None,
            learning_rate_multiplier=self.learning_rate.value() or None,
            seed=self.seed.value(),
            lora_rank=(self.lora_rank.value() or None) if local else None,
        )

    def _local_model_chosen(self, model: str) -> None:
        """A folder picked, or a download finished: train that."""
        if self.base_model.findText(model) < 0:
            self.base_model.addItem(model)
        self.base_model.setCurrentText(model)
        self._update_local()

    def _update_local(self) -> None:
        if self.current_profile().kind != "local":
            return
        report = self.report
        tokens = (report.billed_tokens or report.trained_tokens) if report is not None else 0
        examples = len(report.trained_ids) if report is not None else 0
        self.local.set_model(self.base_model.currentText().strip(), tokens, examples)

    def local_refusal(self) -> str:
        """Why the chosen model cannot train on this computer ("" when it can, or when the
        hardware check has not run: then the worker finds out, and says so)."""
        report, hardware = self.report, self.local.hardware
        known = model_named(self.base_model.currentText().strip())
        if report is None or hardware is None or known is None:
            return ""
        verdict = fit(known.params_b, report.billed_tokens or report.trained_tokens, hardware)
        return "" if verdict.fits else f"{known.name}: {verdict.reason}"

    def local_estimate(self) -> str:
        """ "free, about 12 minutes on this computer" for the chosen model and dataset."""
        report, hardware = self.report, self.local.hardware
        known = model_named(self.base_model.currentText().strip())
        if report is None or hardware is None or known is None:
            return "free, on this computer"
        verdict = fit(known.params_b, report.billed_tokens or report.trained_tokens, hardware)
        return "free, on this computer" + (
            f", {verdict.reason[0].lower()}{verdict.reason[1:].rstrip('.')}"
            if verdict.seconds is not None
            else ""
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
        if self.report is not None and not (self._runner and self._runner.stale):
            cost = f" · estimated cost <b>{price_text(self.report.estimated_cost)}</b>"
        return (
            f"Trains <b>{escape(settings.base_model)}</b> with the provider "
            f"<b>{escape(self.current_profile().name)}</b>"
            + (f", name tag “{escape(settings.suffix)}”" if settings.suffix else "")
            + f", {self.validation.value()} % kept for validation{cost}. "
            "Change these in the Train tab."
        )

    def _test_share_changed(self, value: int) -> None:
        """Saved in turn with the project's other writes (never waiting here for a worker
        that has the file; a refusal is said and retried as theirs are), then checked again:
        the trained examples changed."""
        session = self._session
        if session is None:
            return

        def write() -> None:
            session.project.set_test_share(value / 100)
            if self._runner is not None and self._session is session:
                self._runner.schedule()

        session.save_record(write, whole="test share")

    def _persona_changed(self, field: str) -> None:
        if field == "fine_tuned_model" and self._session is not None:
            self.retirement.show_for(self._session.persona.fine_tuned_model)

    def _job_changed(self, job_id: str) -> None:
        self._fill_history(select=self.shown_job or job_id)
        if self.shown_job in (None, job_id):
            self.show_job(job_id)

    # ---- preflight -----------------------------------------------------------------------

    @property
    def report(self) -> PreflightReport | None:
        """The shared check's latest report (for the base model chosen here)."""
        return self._runner.report if self._runner is not None else None

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._runner is not None:
            self._runner.refresh_after_paint()

    def check(self, *_: object) -> None:
        """Check (and price) the dataset for the base model chosen here."""
        if self._runner is None:
            return
        model = self.base_model.currentText().strip()
        if model and model != self._runner.model:
            self._runner.set_model(model)  # runs the check
        else:
            self._runner.refresh_if_stale()

    def _show_check(self, report: PreflightReport) -> None:
        s = report.summary()
        kept = (
            f" ({s['held_out_examples']} more kept aside for the voice check, never trained)"
            if s["held_out_examples"]
            else ""
        )
        local = self.current_profile().kind == "local"
        price = escape(self.local_estimate()) if local else price_text(report.estimated_cost)
        lines = [
            f"<b>{s['trained_examples']} approved examples</b>{kept}, {s['trained_tokens']:,} "
            f"tokens · read {s['epochs']} times by default (epochs) · {s['billed_tokens']:,} "
            f"{'tokens in all' if local else 'tokens billed'} · <b>{price}</b>"
        ]
        if local:
            self._update_local()
        blocking = report.blocking
        self.show_problems.setVisible(any(example_id for example_id, _ in blocking))
        if blocking:
            lines.append(
                f'<span style="color:{color("danger")}">✖ '
                f"{counted(len(blocking), 'problem')} to fix first (see the Dataset tab):</span>"
            )
            lines += [f"• {issue.message}" for _id, issue in blocking[:4]]
        elif report.warnings:
            lines.append(
                f'<span style="color:{color("attention")}">⚠ '
                f"{counted(len(report.warnings), 'warning')}: you will be asked to confirm.</span>"
            )
            lines += [f"• {escape(line)}" for line in report.warning_lines(4)]
        self.check_summary.setText("<br>".join(lines))

    def _show_problems(self) -> None:
        """Ask for the Dataset tab, filtered to the examples with issues."""
        if self.report is not None:
            ids = [example_id for example_id, _ in self.report.blocking if example_id]
            self.show_examples_requested.emit(ids, self.report)

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
        local = self.current_profile().kind == "local"
        refusal = self.local_refusal() if local else ""
        if refusal:
            box = QMessageBox(
                QMessageBox.Icon.Information,
                "Too big for this computer",
                refusal,
                QMessageBox.StandardButton.Ok,
                self,
            )
            box.setObjectName("local_refused")
            box.open()
            return box
        how_long = self.local_estimate().removeprefix("free, on this computer").lstrip(", ")
        text = (
            f"Train {self.base_model.currentText()} on {s['trained_examples']} examples on "
            f"this computer: {how_long or 'the time depends on this computer'}."
            "\n\nNothing leaves this computer. You can keep using the app; Cancel stops "
            "after saving a checkpoint, and Resume carries on from it."
            if local
            else f"Train {self.base_model.currentText()} on {s['trained_examples']} "
            f"examples ({s['billed_tokens']:,} tokens billed).\n\nEstimated "
            f"cost: {price_text(self.report.estimated_cost)}, charged by the "
            "provider."
        )
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Start training?",
            text,
            QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setObjectName("confirm_training")
        start = box.addButton(
            "Start" if local else "Upload and start", QMessageBox.ButtonRole.AcceptRole
        )
        if self.report.warnings:
            box.setInformativeText(warnings_text(self.report))
        box.buttonClicked.connect(lambda button: self.launch() if button is start else None)
        box.open()
        return box

    def launch(self) -> None:
        if self._session is not None and self._launch_task is None:
            self._launch_task = spawn(self._launch())

    async def _launch(self) -> None:
        assert self._session is not None
        self.start.setEnabled(False)
        self.steps.clear()
        try:
            record = await self._session.jobs.launch_job(
                self.current_profile().name,
                self.settings(),
                list(self._session.examples),
                self._session.persona.system_prompt(),
                validation_split=self.validation.value() / 100,
                seed=self.seed.value(),
                estimated_cost=self.report.estimated_cost if self.report is not None else None,
                on_step=self.steps.addItem,
                char=self._session.persona.name,
            )
        except Exception as exc:  # shown in plain words in the step list
            self.steps.addItem(f"✖ {exc}")
            self.steps.item(self.steps.count() - 1).setForeground(Qt.GlobalColor.red)
            return
        finally:
            self._launch_task = None
            self._check_suffix()
        self.shown_job = record.id
        self._job_changed(record.id)

    # ---- watch ---------------------------------------------------------------------------

    def _show_warning(self, job_id: str, text: str) -> None:
        if self.shown_job in (None, job_id):
            self.status.setText(f'<span style="color:{color("attention")}">⚠ {text}</span>')

    def show_job(self, job_id: str) -> None:
        assert self._session is not None
        record = self._session.project.job(job_id)
        if record is None:
            return
        self.shown_job = job_id
        status = record.status
        local = self._profile_kind(record.profile) == "local"
        # a job here checks no files and waits in no provider's queue
        steps = LOCAL_TIMELINE if local else TIMELINE
        labels = {**JOB_STATUS_LABELS, **LOCAL_LABELS} if local else JOB_STATUS_LABELS
        done = steps[: steps.index(status) + 1] if status in steps else ()
        timeline = " → ".join(
            f"<b>{labels[s]}</b>"
            if s == status
            else (
                labels[s]
                if s in done
                else f'<span style="color:{color("muted")}">{labels[s]}</span>'
            )
            for s in steps
        )
        if status in ("failed", "cancelled"):
            timeline += f" → <b>{labels[status]}</b>"
        # the job's id, model and error are the provider's words: shown as text, never markup
        lines = [f"Job {escape(job_id)} on {escape(record.base_model)}: {timeline}"]
        if status == "failed":
            why = escape(explain_job_error(record.error))
            lines.append(f'<span style="color:{color("danger")}">{why}</span>')
        if record.fine_tuned_model:
            lines.append(f"Model: <b>{escape(record.fine_tuned_model)}</b>")
        elif needs_deploy(record):
            why = deploy_failure(record) or "no model came back."
            lines.append(
                f'<span style="color:{color("attention")}">Trained, but the model does not answer '
                f"yet: deploying it failed. {escape(why)} Then press Deploy again.</span>"
            )
        if record.chat_target is not None and record.chat_target.note:
            lines.append(
                f'<span style="color:{color("attention")}">{escape(record.chat_target.note)}</span>'
            )
        if local and record.metrics and not record.terminal:
            lines.append(escape(eta_line(record.metrics[-1])))
        if record.train_count:
            lines.append(
                f"Examples: {record.train_count:,} to train on"
                + (f", {record.validation_count:,} to validate" if record.validation_count else "")
            )
        if record.trained_tokens:
            lines.append(f"Trained tokens: {record.trained_tokens:,}")
        if record.estimated_finish and not record.terminal:
            finish = datetime.fromtimestamp(record.estimated_finish).strftime("%a %H:%M")
            lines.append(f"Estimated finish: {finish}")
        if record.checkpoints:
            lines.append(
                "Checkpoints: "
                + ", ".join(f"step {c['step']} ({c['model']})" for c in record.checkpoints)
            )
        warning = self._session.jobs.warning(job_id)
        if warning and not record.terminal:
            lines.append(f'<span style="color:{color("attention")}">⚠ {escape(warning)}</span>')
        self.status.setText("<br>".join(lines))
        metrics = record.metrics
        if metrics and metrics[-1].get("total_steps"):
            self.progress.setValue(int(100 * metrics[-1]["step"] / metrics[-1]["total_steps"]))
        else:
            self.progress.setValue(100 if status == "succeeded" else 0)
        self.chart.show_metrics(metrics)
        self.events.setPlainText("\n".join(e.get("message") or "" for e in record.events))
        self.events.verticalScrollBar().setValue(self.events.verticalScrollBar().maximum())
        self.cancel_button.setEnabled(not record.terminal)
        self.resume_button.setVisible(local and status in ("failed", "cancelled"))
        self.job_folder.setVisible(local and status in ("failed", "cancelled"))
        self.take.setVisible(local and status == "succeeded" and bool(record.fine_tuned_model))
        self.take.record = record
        self.take.persona = self._session.persona
        self.resume_button.setEnabled(self._resume_task is None)
        self.use_model.setEnabled(bool(record.fine_tuned_model))
        self.deployment.setVisible(
            record.status == "succeeded" and self._profile_kind(record.profile) == "azure"
        )
        self.redeploy.setVisible(needs_deploy(record))
        self.redeploy.setEnabled(self._deploy_task is None)

    def _fill_history(self, select: str | None = None) -> None:
        assert self._session is not None
        self.history.blockSignals(True)
        self.history.clear()
        for job in self._session.project.jobs():
            loss = job.final_train_loss
            item = QTreeWidgetItem(
                [
                    job.created_at[:16].replace("T", " "),
                    job.base_model,
                    job.status_label,
                    job.fine_tuned_model or "",
                    f"{loss:.3f}" if loss is not None else "",
                ]
            )
            item.setData(0, Qt.ItemDataRole.UserRole, job.id)
            self.history.addTopLevelItem(item)
            if job.id == select:
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
        record = self._session.project.job(self.shown_job) if self._session else None
        local = record is not None and self._profile_kind(record.profile) == "local"
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Cancel this job?",
            "Training stops after saving a checkpoint; Resume carries on from it later."
            if local
            else "The provider stops training; what was trained so far is lost. "
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
        self._cancel_task = spawn(self._cancel(job_id))

    async def _cancel(self, job_id: str) -> None:
        assert self._session is not None
        try:
            await self._session.jobs.cancel_job(job_id)
        except Exception as exc:  # already phrased for people (TrainingError), or shown as is
            self._show_warning(job_id, str(exc))

    def resume(self) -> None:
        if self.shown_job is not None and self._resume_task is None:
            self._resume_task = spawn(self._resume(self.shown_job))

    async def _resume(self, job_id: str) -> None:
        assert self._session is not None
        self.resume_button.setEnabled(False)
        try:
            await self._session.jobs.resume_job(job_id)
            self._session.watch_running_jobs()  # follow it again, as after a reopen
        except Exception as exc:  # already phrased for people (TrainingError), or shown as is
            self._show_warning(job_id, escape(str(exc)))
        finally:
            self._resume_task = None
            self.resume_button.setEnabled(True)

    def _show_job_folder(self) -> None:
        """The shown local job's folder in the file manager (asked for: a button)."""
        job_id = self.shown_job or ""
        folder = local_root() / job_id
        if not job_id or "/" in job_id or "\\" in job_id or not folder.is_dir():
            QMessageBox.warning(
                self,
                "Show the folder",
                f"This training's folder is gone from this computer (it was in {local_root()}).",
            )
            return
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def _profile_kind(self, name: str) -> str:
        try:
            return self.context.config.profile(name).kind
        except UserFacingError:  # the profile was removed since
            return ""

    def ask_deployment(self) -> QInputDialog | None:
        """Ask for the name someone deployed the shown job's model under (Azure)."""
        if self._session is None or self.shown_job is None:
            return None
        dialog = QInputDialog(self, objectName="deployment_dialog")
        dialog.setWindowTitle("Deployment name")
        dialog.setLabelText(
            "The name of the deployment in Azure AI Foundry (Deployments).\n"
            "Chats will ask for it, and the character answers with it."
        )
        job_id = self.shown_job
        dialog.textValueSelected.connect(lambda name: self._set_deployment(job_id, name))
        dialog.open()
        return dialog

    def _set_deployment(self, job_id: str, name: str) -> None:
        assert self._session is not None
        try:
            self._session.jobs.set_deployment(job_id, name)
        except UserFacingError as exc:
            self._show_warning(job_id, escape(str(exc)))

    def deploy_again(self) -> None:
        if self.shown_job is not None and self._deploy_task is None:
            self._deploy_task = spawn(self._deploy_again(self.shown_job))

    async def _deploy_again(self, job_id: str) -> None:
        assert self._session is not None
        self.redeploy.setEnabled(False)
        self.redeploy.setText("Deploying…")
        try:
            await self._session.jobs.deploy_job(job_id)
        except Exception as exc:  # already phrased for people (TrainingError), or shown as is
            self._show_warning(job_id, escape(f"Deploying failed again: {exc}"))
        finally:
            self._deploy_task = None
            self.redeploy.setText("Deploy again")
            self.redeploy.setEnabled(True)

    def _use_model(self) -> None:
        assert self._session is not None
        record = self._session.project.job(self.shown_job or "")
        if record is not None:
            self._session.jobs.register_model(record)


def warnings_text(report: PreflightReport) -> str:
    """The warnings a creator confirms before training, listed (not only counted)."""
    listed = "\n".join(f"• {line}" for line in report.warning_lines())
    return (
        f"{counted(len(report.warnings), 'warning')} about the data (the Dataset tab shows "
        f"each one):\n{listed}\n\nTrain anyway, or cancel and look first."
    )
