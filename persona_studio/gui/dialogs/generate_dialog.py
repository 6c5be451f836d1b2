"""Generate examples: pick a source, see the price, let a model write candidates, review them.

Candidates stream into the review table as the model answers; nothing enters the dataset until
the creator accepts it (as a draft, with its source). The queue lives in the project file, so
closing this dialog, or the app, keeps whatever is waiting for review.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from persona_studio.core import generation
from persona_studio.core.errors import UserFacingError
from persona_studio.gui.context import AppContext
from persona_studio.gui.dialogs.lifetime import delete_when_idle
from persona_studio.gui.loop import spawn
from persona_studio.gui.project_session import ProjectSession
from persona_studio.gui.theme import color, qcolor
from persona_studio.gui.widgets.profiles import add_profiles
from persona_studio.services import generate

if TYPE_CHECKING:
    from persona_studio.core.dataset import Example
    from persona_studio.core.duplicates import DuplicateFinder

SOURCES = (
    ("linkedin", "My LinkedIn export (ZIP)"),
    ("documents", "Documents I wrote (.txt .md .pdf .docx)"),
    ("persona", "The persona itself (its topics and rules)"),
    ("text", "Text I paste here"),
    ("rescue", "My fine-tuned model's answers (keep its voice)"),
)
LANGUAGES = ("Same language as the source", "English", "French", "Spanish", "German", "Portuguese")
STYLE_LABELS = {
    "short": "Short",
    "long": "Long",
    "casual": "Casual",
    "tricky": "Tricky",
    "off_topic": "Off-topic (to learn refusals)",
}
COL_QUESTION, COL_ANSWER, COL_SOURCE, COL_NOTE = range(4)
KNOWN_AFTER_MS = 300  # the dataset's texts are learnt this long after the dialog shows
# candidates compared at a time on the UI thread, once the dataset's texts are there (~0.2 ms
# each at 100,000 examples): a stopped run's, compared later
COMPARED_AT_ONCE = 100


def _counted_in_worker(texts: list[str]) -> list[int]:
    """The texts' o200k token counts, counted in the check's worker process: the window never
    loads the encodings (blocks: from a worker thread)."""
    from persona_studio.services.check_process import shared

    return shared().count_texts(texts, ("o200k_base",))["o200k_base"]


def _learnt(examples: list[Example], stop: threading.Event) -> DuplicateFinder | None:
    """The dataset's texts, which candidates are compared with: learnt by the check's worker
    process where it holds these examples (the pass of Python, 4–6 s at 100,000 examples in a
    thread here, halved the window's speed meanwhile), else here; None once `stop` is set (the
    examples changed). Blocks: call it from a thread."""
    from persona_studio.core.duplicates import DuplicateFinder
    from persona_studio.services.check_process import shared

    known = shared().known_texts(examples, stop) or generation.known_texts(examples, stop.is_set)
    return DuplicateFinder.knowing(known) if known is not None else None


Index = QModelIndex | QPersistentModelIndex


class CandidatesModel(QAbstractTableModel):
    """The candidates waiting for review, and what the creator typed into a question or an
    answer (kept until it is decided). A cell's text is made when it is painted: 5,000 of them
    (a rescue's) as table widget items took ~0.1–0.2 s to show, and to read at a decision."""

    HEADERS = ("Question", "Answer", "Source", "Note")

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[generation.Candidate] = []
        self.typed: dict[str, tuple[str, str]] = {}  # id → (question, answer) as edited

    def texts(self, row: int) -> tuple[str, str]:
        candidate = self.rows[row]
        return self.typed.get(candidate.id, (candidate.question, candidate.answer))

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        return super().headerData(section, orientation, role)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        candidate, column = self.rows[index.row()], index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            if column in (COL_QUESTION, COL_ANSWER):
                return self.texts(index.row())[column]
            if column == COL_SOURCE:
                return candidate.source
            if not candidate.compared:
                return "Not compared yet"
            return f"Like “{candidate.duplicate_of[:60]}”" if candidate.duplicate_of else ""
        if column == COL_NOTE and candidate.duplicate_of:
            if role == Qt.ItemDataRole.ForegroundRole:
                return qcolor("attention")
            if role == Qt.ItemDataRole.ToolTipRole:
                return "This looks like an example you already have."
        if column == COL_NOTE and not candidate.compared:
            if role == Qt.ItemDataRole.ForegroundRole:
                return qcolor("muted")
            if role == Qt.ItemDataRole.ToolTipRole:
                return (
                    "Its run stopped before your examples were read to compare it with: it is "
                    "compared as soon as they are. “Accept all new” leaves it to you until then."
                )
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        flags = super().flags(index)
        if index.column() in (COL_QUESTION, COL_ANSWER):
            flags |= Qt.ItemFlag.ItemIsEditable
        return flags

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.EditRole or index.column() not in (COL_QUESTION, COL_ANSWER):
            return False
        texts = list(self.texts(index.row()))
        texts[index.column()] = str(value)
        self.typed[self.rows[index.row()].id] = (texts[0], texts[1])
        self.dataChanged.emit(index, index)
        return True

    def append(self, candidates: list[generation.Candidate]) -> None:
        if candidates:
            start = len(self.rows)
            self.beginInsertRows(QModelIndex(), start, start + len(candidates) - 1)
            self.rows += candidates
            self.endInsertRows()

    def noted(self) -> None:
        """The notes changed (candidates compared later)."""
        if self.rows:
            last = len(self.rows) - 1
            self.dataChanged.emit(self.index(0, COL_NOTE), self.index(last, COL_NOTE))

    def keep(self, ids: set[str] | dict[str, Any]) -> None:
        """Only the rows of these ids stay, in their order, with what was typed in them."""
        kept = [c for c in self.rows if c.id in ids]
        if len(kept) < len(self.rows):
            self.beginResetModel()
            self.rows = kept
            self.typed = {i: texts for i, texts in self.typed.items() if i in ids}
            self.endResetModel()


class GenerateDialog(QDialog):
    """Generate candidates: source, price, the run with pause/stop, and the review table.
    Listens to the session's `review_changed`; awaits `services.generate`."""

    def __init__(
        self,
        context: AppContext,
        session: ProjectSession,
        review: Callable[[list[str], str, dict[str, tuple[str, str]]], None],
        fill_persona: Callable[[dict[str, str], str], list[str]] = lambda _values, _label: [],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("generate_dialog")
        self.setWindowTitle("Generate examples")
        self.context, self.session, self.review = context, session, review
        self.fill_persona = fill_persona  # (fields, undo label) → labels of the fields filled
        self.queue = session.review_queue
        session.review_changed.connect(self._show_pending)
        delete_when_idle(self, lambda: (self.task, self._read_task, self._comparing))
        self.prompts = generation.load_prompts()
        self.read: generation.SourceRead | None = None
        self.current_run: generate.GenerationRun | None = None  # under way (pause, resume)
        self.task: asyncio.Task[None] | None = None
        self._read_task: asyncio.Task[None] | None = None
        # the dataset's texts, that candidates are compared with: built once the dialog shows
        self._known: asyncio.Future[DuplicateFinder | None] | None = None
        self._learning: list[threading.Event] = []  # each learning's stop, while it runs
        self._comparing: asyncio.Task[None] | None = None  # candidates kept uncompared
        session.examples_reset.connect(self._forget_known)
        session.examples_edited.connect(self._forget_known)
        # closed, or Escape (which skips the close event): the run stops (a paid one would go
        # on unseen), and the learnt texts go (~120 MB at 100,000 examples)
        self.finished.connect(self.cancel)
        self.finished.connect(self._forget_known)

        # ---- where from
        self.source = QComboBox(objectName="generate_source")
        self.source.setAccessibleName("Source")
        for key, label in SOURCES:
            self.source.addItem(label, key)
        self.pages = QStackedWidget()
        self.zip_path = QLineEdit(objectName="generate_zip", placeholderText="LinkedIn's ZIP")
        self.zip_path.setAccessibleName("LinkedIn export file")
        self.zip_path.editingFinished.connect(self.refresh)
        choose_zip = QPushButton("Choose…", objectName="generate_choose_zip")
        choose_zip.setAccessibleName("Choose the LinkedIn export")
        choose_zip.clicked.connect(self._choose_zip)
        self.comments = QCheckBox("Use my comments too", objectName="generate_comments")
        self.comments.toggled.connect(self.refresh)
        help_text = QLabel(
            "On LinkedIn: Me → Settings → Data privacy → Get a copy of your data. Your posts "
            "become answers; the model writes the question each one answers.",
            wordWrap=True,
        )
        zip_page = QWidget()
        zip_layout = QVBoxLayout(zip_page)
        zip_row = QHBoxLayout()
        zip_row.addWidget(self.zip_path, 1)
        zip_row.addWidget(choose_zip)
        zip_layout.addLayout(zip_row)
        self.use_profile = QPushButton(
            "Fill my persona from this profile", objectName="generate_fill_persona"
        )
        self.use_profile.setToolTip(
            "Your name, headline, About text and positions go into the persona's empty fields "
            "(name, short description, background). Fields you already wrote are kept."
        )
        self.use_profile.clicked.connect(self._fill_from_profile)
        self.use_profile.hide()
        zip_options = QHBoxLayout()
        zip_options.addWidget(self.comments)
        zip_options.addStretch(1)
        zip_options.addWidget(self.use_profile)
        zip_layout.addLayout(zip_options)
        zip_layout.addWidget(help_text)
        self.files = QListWidget(objectName="generate_files")
        self.files.setAccessibleName("Documents")
        self.files.setMaximumHeight(80)
        add_files = QPushButton("Add files…", objectName="generate_add_files")
        add_files.clicked.connect(self._choose_files)
        clear_files = QPushButton("Clear", objectName="generate_clear_files")
        clear_files.setAccessibleName("Clear the documents")
        clear_files.clicked.connect(lambda: (self.files.clear(), self.refresh()))
        docs_page = QWidget()
        docs_layout = QHBoxLayout(docs_page)
        docs_layout.addWidget(self.files, 1)
        docs_buttons = QVBoxLayout()
        docs_buttons.addWidget(add_files)
        docs_buttons.addWidget(clear_files)
        docs_buttons.addStretch(1)
        docs_layout.addLayout(docs_buttons)
        self.styles: dict[str, QCheckBox] = {}
        persona_page = QWidget()
        persona_layout = QHBoxLayout(persona_page)
        persona_layout.addWidget(QLabel("Kinds of questions:"))
        for key in self.prompts.get("styles", {}):
            box = QCheckBox(STYLE_LABELS.get(key, key), objectName=f"style_{key}", checked=True)
            box.toggled.connect(self.refresh)
            self.styles[key] = box
            persona_layout.addWidget(box)
        persona_layout.addStretch(1)
        self.pasted = QPlainTextEdit(objectName="generate_text")
        self.pasted.setAccessibleName("Text to make examples from")
        self.pasted.setPlaceholderText("Paste an article, a newsletter, notes… in your own words.")
        self.pasted.textChanged.connect(self.refresh)
        rescue_page = QLabel(
            "The fine-tuned model below answers each of your approved questions, asked exactly "
            "as it was trained. Its answers are kept in this project as its voice (to train its "
            "successor and to compare a new model with it); accept the ones you want as draft "
            "examples.",
            wordWrap=True,
            objectName="generate_rescue_help",
        )
        for page in (zip_page, docs_page, persona_page, self.pasted, rescue_page):
            self.pages.addWidget(page)
        self.source.currentIndexChanged.connect(self._source_changed)
        self._show_page(0)

        # ---- how
        self.profile = QComboBox(objectName="generate_profile")
        add_profiles(self.profile, context.config, context.config.default_profile)
        self.profile.currentIndexChanged.connect(self._profile_changed)
        self.model = QComboBox(objectName="generate_model", editable=True)
        self.model.currentTextChanged.connect(self.refresh)
        self.language = QComboBox(objectName="generate_language", editable=True)
        self.language.addItems(LANGUAGES)
        self.language.currentTextChanged.connect(self.refresh)
        self.limit = QSpinBox(objectName="generate_limit", minimum=1, maximum=5000, value=50)
        self.limit.setToolTip("Posts or passages to use; for the persona, questions to write.")
        self.limit.valueChanged.connect(self.refresh)
        self.concurrency = QSpinBox(objectName="generate_concurrency", minimum=1, maximum=16)
        self.concurrency.setValue(4)
        self.concurrency.setToolTip("Calls at once. Lower it if the provider says to slow down.")
        form = QFormLayout()
        form.addRow("Make examples from", self.source)
        form.addRow("", self.pages)
        form.addRow("Provider", self.profile)
        form.addRow("Model", self.model)
        form.addRow("Language", self.language)
        form.addRow("How many", self.limit)
        form.addRow("Calls at once", self.concurrency)
        self.found = QLabel(objectName="generate_found", wordWrap=True)
        self.cost = QLabel(objectName="generate_estimate", wordWrap=True)
        self.cost.setAccessibleName("Estimated cost")

        self.start = QPushButton("Generate", objectName="generate_start", default=True)
        self.start.clicked.connect(self.run)
        self.pause = QPushButton("Pause", objectName="generate_pause")
        self.pause.clicked.connect(self._toggle_pause)
        self.stop = QPushButton("Stop", objectName="generate_stop")
        self.stop.clicked.connect(self.cancel)
        self.progress = QProgressBar(objectName="generate_progress")
        self.progress.setAccessibleName("Generation progress")
        self.progress.setFormat("%v of %m calls")
        self.status = QLabel(objectName="generate_status", wordWrap=True)
        run_row = QHBoxLayout()
        for widget in (self.start, self.pause, self.stop):
            run_row.addWidget(widget)
        run_row.addWidget(self.progress, 1)
        run_row.addStretch(0)  # keeps the buttons their size while the bar is hidden

        # ---- review
        self.candidates = CandidatesModel()
        self.table = QTableView(objectName="review_table")
        self.table.setModel(self.candidates)
        self.table.setAccessibleName("Candidates to review")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(COL_QUESTION, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(COL_ANSWER, QHeaderView.ResizeMode.Stretch)
        self.table.setColumnWidth(COL_SOURCE, 150)
        self.table.setColumnWidth(COL_NOTE, 150)
        self.accept_button = QPushButton("Accept", objectName="review_accept")
        self.accept_button.setToolTip("Add the selected candidates to the dataset as drafts.")
        self.accept_button.clicked.connect(lambda: self.decide(self._selected(), "accepted"))
        self.reject_button = QPushButton("Reject", objectName="review_reject")
        self.reject_button.clicked.connect(lambda: self.decide(self._selected(), "rejected"))
        self.accept_all = QPushButton("Accept all new", objectName="review_accept_all")
        self.accept_all.setToolTip("Accept every candidate not flagged as a likely duplicate.")
        self.accept_all.clicked.connect(self._accept_all_new)
        self.review_label = QLabel(objectName="review_count")
        review_row = QHBoxLayout()
        review_row.addWidget(self.review_label, 1)
        for widget in (self.accept_button, self.reject_button, self.accept_all):
            review_row.addWidget(widget)
        close = QPushButton("Close", objectName="generate_close")
        close.clicked.connect(self.close)
        review_row.addWidget(close)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.found)
        layout.addWidget(self.cost)
        layout.addLayout(run_row)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 1)
        layout.addLayout(review_row)
        self.resize(1000, 720)
        self._profile_changed()
        self._show_candidates(self.queue.pending())
        self._update_buttons()

    # ---- source --------------------------------------------------------------------------

    @property
    def kind(self) -> str:
        return str(self.source.currentData())

    def set_source(self, kind: str, paths: list[Path] | None = None) -> None:
        self.source.setCurrentIndex(self.source.findData(kind))
        if kind == "linkedin" and paths:
            self.zip_path.setText(str(paths[0]))
        if kind == "documents":
            for path in paths or []:
                self.files.addItem(str(path))
        self.refresh()

    def _show_page(self, index: int) -> None:
        self.pages.setCurrentIndex(index)
        for page in range(self.pages.count()):  # the stack takes the height of the page shown
            policy = QSizePolicy.Policy.Preferred if page == index else QSizePolicy.Policy.Ignored
            self.pages.widget(page).setSizePolicy(policy, policy)
        self.pages.adjustSize()

    def _source_changed(self, index: int) -> None:
        self._show_page(index)
        if self.kind == "rescue":
            self._choose_rescued_model()
        self.limit.setValue(
            20 if self.kind == "persona" else self.limit.maximum() if self.kind == "rescue" else 50
        )
        self.refresh()

    def _choose_rescued_model(self) -> None:
        """The character's fine-tuned model, asked through the profile that trained it."""
        model = self.session.persona.fine_tuned_model
        target = self.session.project.chat_target(model)
        if target is not None:
            index = self.profile.findData(target.profile)
            if index >= 0:
                self.profile.setCurrentIndex(index)
        if model:
            self.model.setCurrentText(model)

    def _choose_zip(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose your LinkedIn export", str(Path.home()), "ZIP archives (*.zip)"
        )
        if path:
            self.zip_path.setText(path)
            self.refresh()

    def _choose_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self,
            "Choose documents",
            str(Path.home()),
            "Documents (*.txt *.md *.markdown *.pdf *.docx)",
        )
        for path in paths:
            self.files.addItem(path)
        if paths:
            self.refresh()

    def _profile_changed(self, *_: object) -> None:
        profile = self.context.config.profile(self.profile.currentData() or "env")
        current = self.model.currentText()
        self.model.blockSignals(True)
        self.model.clear()
        self.model.addItems(
            list(dict.fromkeys(m for m in (profile.chat_model, generation.DEFAULT_MODEL) if m))
        )
        if current:
            self.model.setCurrentText(current)
        self.model.blockSignals(False)
        self.refresh()

    @property
    def language_choice(self) -> str:
        text = self.language.currentText().strip()
        return "" if text == LANGUAGES[0] else text

    def refresh(self, *_: object) -> asyncio.Task[None] | None:
        """Read the source and price the run, off the UI thread (PDFs and ZIPs can be big)."""
        if self.task is not None and not self.task.done():
            return None
        if self._read_task is not None:
            self._read_task.cancel()
        self.found.setText("Reading…")
        self.start.setEnabled(False)
        self._read_task = spawn(self._refresh())
        return self._read_task

    async def _refresh(self) -> None:
        from persona_studio.core.validation import chat_price

        kind, model, language = self.kind, self.model.currentText().strip(), self.language_choice
        paths = {
            "linkedin": [Path(self.zip_path.text().strip())]
            if self.zip_path.text().strip()
            else [],
            "documents": [Path(self.files.item(i).text()) for i in range(self.files.count())],
        }.get(kind, [])
        styles = [key for key, box in self.styles.items() if box.isChecked()]
        persona, text, limit = self.session.persona, self.pasted.toPlainText(), self.limit.value()
        # the approved questions, read in the thread for "rescue" only, and only as many as
        # it takes: at 100,000 examples reading them all on the UI thread stalled the window
        # ~95 ms as the dialog opened, whatever the source
        examples = list(self.session.examples) if kind == "rescue" else []

        def read() -> tuple[generation.SourceRead, generation.Estimate]:
            questions = (e.question for e in examples if e.status == "approved")
            source = generation.read_source(
                kind,
                persona,
                self.prompts,
                paths=paths,
                text=text,
                limit=limit,
                styles=styles,
                comments=self.comments.isChecked(),
                questions=questions,
                model=model,
            )
            cost = generation.estimate(
                source.tasks,
                persona,
                self.prompts,
                model,
                language,
                chat_price(model),
                count=_counted_in_worker,
            )
            return source, cost

        try:
            self.read, estimate = await asyncio.to_thread(read)
        except UserFacingError as exc:
            self.read = None
            self.found.setText(f'<span style="color:{color("danger")}">{exc}</span>')
            self.cost.setText("")
            self._update_buttons()
            return
        self.found.setText(f"Found: {self.read.summary}.")
        self.cost.setText(
            f"Estimate with {model or 'the model'}: {estimate.text()}. The provider bills it."
            if self.read.tasks
            else ""
        )
        self._update_buttons()

    # ---- running -------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    def run(self) -> asyncio.Task[None] | None:
        if self.running or self.read is None or not self.read.tasks:
            return None
        self.task = spawn(self._run(list(self.read.tasks)))
        # once it is over (its own last step still counts as running): Start again, no Stop
        self.task.add_done_callback(lambda _task: self._update_buttons())
        self._update_buttons()
        return self.task

    async def _run(self, tasks: list[generation.Task]) -> None:
        from persona_studio.services.providers import client_for

        profile = self.context.config.profile(self.profile.currentData() or "env")
        model = self.model.currentText().strip() or generation.DEFAULT_MODEL
        run = generate.GenerationRun(
            self.queue,
            lambda: client_for(profile, self.context.store, max_retries=0),
            source=self.kind,
            profile=profile.name,
            model=model,
            persona=self.session.persona,
            prompts=self.prompts,
            existing=list(self.session.examples),
            known=self._known_finder,
            language=self.language_choice,
            concurrency=self.concurrency.value(),
        )
        self.current_run = run
        self.progress.setRange(0, len(tasks))
        self.progress.setValue(0)
        self.status.setText("Starting…")
        try:
            await run.execute(tasks, self._arrived, self._show_progress)
        except UserFacingError:
            pass  # the run's note says what happened, in plain words
        finally:
            self.current_run = None
            self.status.setText(run.note)
            self._update_buttons()
            self._compare_later()

    @property
    def generator(self) -> generate.Generator | None:
        return self.current_run.generator if self.current_run is not None else None

    def _arrived(self, batch: list[generation.Candidate]) -> None:
        self._show_candidates(batch)
        self._update_buttons()

    def _show_progress(self, progress: generate.Progress) -> None:
        self.progress.setValue(progress.done)
        so_far = f"{progress.candidates} candidates so far ({progress.done} calls)"
        if progress.uncompared:  # (the dataset's texts not learnt yet: seconds at 100,000)
            so_far += f"; {progress.uncompared} more being checked against your examples"
        self.status.setText(progress.note or f"{so_far}.")

    def _toggle_pause(self) -> None:
        if self.generator is None:
            return
        if self.generator.paused:
            self.generator.resume()
            self.status.setText("Going on…")
        else:
            self.generator.pause()
            self.status.setText("Paused: the calls under way finish, no new one starts.")
        self._update_buttons()

    def cancel(self, *_: object) -> None:
        """Stop the run under way: what was written is kept in the queue."""
        if self.running:
            assert self.task is not None
            self.task.cancel()

    def _fill_from_profile(self) -> None:
        if self.read is None or not self.read.persona_fields:
            return
        filled = self.fill_persona(self.read.persona_fields, "Fill the persona from LinkedIn")
        self.status.setText(
            f"Filled the persona's {', '.join(label.lower() for label in filled)} from your "
            "LinkedIn profile (Edit → Undo takes it back). Check them in the Persona tab."
            if filled
            else "The persona's name, description and background are already written; "
            "nothing was changed."
        )

    def _update_buttons(self) -> None:
        busy = self.running
        self.use_profile.setVisible(self.read is not None and bool(self.read.persona_fields))
        self.start.setEnabled(not busy and self.read is not None and bool(self.read.tasks))
        self.pause.setVisible(busy)
        self.pause.setText("Resume" if self.generator and self.generator.paused else "Pause")
        self.stop.setVisible(busy)
        self.progress.setVisible(busy or self.progress.value() > 0)
        pending = self.candidates.rowCount()
        self.review_label.setText(
            f"{pending} candidates waiting for review. Accepted ones join the dataset as drafts."
            if pending
            else "No candidates waiting for review."
        )
        for button in (self.accept_button, self.reject_button, self.accept_all):
            button.setEnabled(pending > 0)

    # ---- review --------------------------------------------------------------------------

    def _show_candidates(self, candidates: list[generation.Candidate]) -> None:
        """Rows for these, after the last."""
        self.candidates.append(candidates)

    def _selected(self) -> list[str]:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedIndexes()})
        return [self.candidates.rows[row].id for row in rows]

    def _accept_all_new(self) -> None:
        rows = self.candidates.rows
        fresh = [c.id for c in rows if c.compared and not c.duplicate_of]
        waiting = sum(not c.compared for c in rows)
        if self.decide(fresh, "accepted") and waiting:
            self.status.setText(
                f"{self.status.text()} {waiting} not yet compared with your examples stay for "
                "review."
                if fresh
                else f"None added: {waiting} candidates are not yet compared with your "
                "examples; they stay for review."
            )

    def decide(self, ids: list[str], status: str) -> bool:
        """Accept (with the edits made in the table) or reject; the rows leave the table.
        False when a candidate to accept lacks a question or an answer (nothing decided)."""
        if not ids:
            return True
        edits, wanted = {}, set(ids)  # (a list: 5,000 rows took 0.3 s to look up)
        for row, candidate in enumerate(self.candidates.rows):
            if candidate.id in wanted:
                question, answer = (text.strip() for text in self.candidates.texts(row))
                if status == "accepted" and not (question and answer):
                    self.status.setText("A candidate needs both a question and an answer.")
                    return False
                edits[candidate.id] = (question, answer)
        self.review(ids, status, edits)  # the rows leave through `_show_pending`
        verb = "added to the dataset as drafts" if status == "accepted" else "rejected"
        self.status.setText(f"{len(ids)} {verb} (Edit → Undo brings them back).")
        return True

    def _show_pending(self) -> None:
        """The table follows the queue: decided rows leave, undone decisions come back (rows
        still waiting keep any edits typed into them)."""
        pending = {c.id: c for c in self.queue.pending()}
        self.candidates.keep(pending)
        shown = {c.id for c in self.candidates.rows}
        self._show_candidates([c for i, c in pending.items() if i not in shown])
        self._update_buttons()

    # ---- what candidates are compared with ----------------------------------------------

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if self._known is None:  # after the first paint: a build beside it slows it
            QTimer.singleShot(KNOWN_AFTER_MS, self._known_finder_started)
        QTimer.singleShot(KNOWN_AFTER_MS, self._compare_later)

    def _compare_later(self) -> None:
        """Compare the candidates kept before the dataset's texts were there (a run stopped
        first, here or in an earlier session) once they are: until then "Accept all new"
        would have taken a repeat of an example in."""
        if (self._comparing is None or self._comparing.done()) and any(
            not c.compared for c in self.candidates.rows
        ):
            self._comparing = spawn(self._compare_waiting())

    async def _compare_waiting(self) -> None:
        while True:
            known = self._known_finder_started()
            if known is None:
                return  # closed: compared when it shows again
            try:
                finder = await asyncio.shield(known)
            except Exception:  # its learning failed: they stay marked, for the creator to judge
                return
            if finder is not None:
                break
            # the examples changed as it learnt them: learn them as they are
        waiting = [c for c in self.candidates.rows if not c.compared]
        finder = finder.fresh()
        for start in range(0, len(waiting), COMPARED_AT_ONCE):
            generate.flag_repeats(finder, waiting[start : start + COMPARED_AT_ONCE])
            self.candidates.noted()
            await asyncio.sleep(0)  # (the window's turn)
        if waiting:
            self.queue.changed([c.id for c in waiting])

    def _known_finder_started(self) -> asyncio.Future[DuplicateFinder | None] | None:
        if not self.isVisible():
            return None
        if self._known is None:
            self._known = self._learn()
        return self._known

    def _learn(self) -> asyncio.Future[DuplicateFinder | None]:
        examples, stop = list(self.session.examples), threading.Event()
        self._learning.append(stop)
        learnt = asyncio.ensure_future(asyncio.to_thread(_learnt, examples, stop))
        learnt.add_done_callback(lambda _f: self._learning.remove(stop))
        return learnt

    async def _known_finder(self) -> DuplicateFinder:
        """A finder of the dataset's texts for a run: learnt as the dialog opens (~4 s at
        100,000 examples, which each run spent before its first call) and again only once the
        examples change. Each run gets its own over the same texts (`fresh`); a dialog not
        shown (a script's) learns them for the run alone."""
        while True:
            known = self._known_finder_started() or self._learn()
            finder = await asyncio.shield(known)
            if finder is not None:
                return finder.fresh()
            # the examples changed as it learnt them (`_forget_known`): learn them as they are

    def _forget_known(self, *_: object) -> None:
        self._known = None
        for stop in self._learning:  # a learning under way stops, in the worker or a thread
            stop.set()
