"""Dataset tab: a fast grid of training examples, their checks, tokens and cost."""

from __future__ import annotations

import asyncio
import copy
import functools
import time
from collections.abc import Callable, Sequence
from operator import is_
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from PySide6.QtCore import QEvent, QItemSelectionModel, QObject, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QFocusEvent,
    QGuiApplication,
    QKeyEvent,
    QKeySequence,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from persona_studio.core.clipboard import examples_from_tsv, examples_tsv
from persona_studio.core.collector import FREEZE_FROM, collector_paused
from persona_studio.core.dataset import (
    STATUSES,
    Example,
    approved_count,
    ids_of,
    new_id,
    not_approved_at,
    stamp,
)
from persona_studio.core.tokens import TOKENS_EXPLAINED
from persona_studio.core.validation import (
    PreflightReport,
    price_text,
)
from persona_studio.core.words import counted
from persona_studio.gui.loop import spawn, when_loop_runs
from persona_studio.gui.models.examples_model import (
    COL_QUESTION,
    SHOW_EVERY,
    ExamplesModel,
    Filters,
    SearchInParts,
    runs,
)
from persona_studio.gui.preflight_runner import PreflightRunner, on_report
from persona_studio.gui.project_session import ProjectSession, Replacement, replacement
from persona_studio.gui.read_only import live
from persona_studio.gui.theme import color, icon
from persona_studio.gui.undo import (
    AddExamples,
    DeleteExamples,
    EditExamples,
    ReviewCandidates,
    SwapExamples,
)
from persona_studio.gui.widgets.conversation_editor import ConversationEditor
from persona_studio.gui.widgets.text_delegate import TextDelegate

if TYPE_CHECKING:
    import numpy as np

# examples: a first search reads their texts off the UI thread, and each search looks through
# the rows a part at a time, the rows found showing as it goes (`ExamplesModel.search_in_parts`)
SEARCH_TEXTS_IN_THREAD_FROM = 20_000
# examples: a change of status of this many at once (approving all shown, or a selection)
# makes their new versions in a worker thread (130,000 copies were ~60 ms of that stall on
# the UI thread, beside 200,000 examples)
STATUS_IN_THREAD_FROM = 5_000
# imported examples from which those the project has not are looked up in a worker thread
# (100,000 were 22 ms of the accept's stall on the UI thread, beside 100,000 examples)
LOOKED_UP_IN_THREAD_FROM = 5_000
# ms: a column's order wanted as the rows change (an import, a filter, while sorted) is read
# this long after, once the window has repainted them (read in a worker thread beside that
# paint, taking in a 100,000-row import while sorted stalled the window 0.45-0.6 s; 30-44 ms
# read 150-400 ms later)
ORDER_READ_AFTER_MS = 200
ORDER_TURN_S = 0.008  # a column's order read in parts this long, then the window's turn
# rows: copied or pasted in a worker thread from this many, the status bar saying so (at
# 100,000 a copy held the UI thread 0.47-0.54 s to write the rows out, a paste 0.85 s to read
# them back)
CLIPBOARD_IN_THREAD_FROM = 2_000


def _clipboard_waits_for_the_app_in_front() -> bool:
    """Wayland lets only the app in front (with the keyboard) set the clipboard: set while the
    creator is in another app, it is refused, and Qt cannot tell (X11 takes it any time)."""
    active = QGuiApplication.applicationState() == Qt.ApplicationState.ApplicationActive
    return QGuiApplication.platformName() == "wayland" and not active


async def _back_in_front() -> None:
    """Until the app is in front again."""
    back = asyncio.get_running_loop().create_future()

    def changed(state: Qt.ApplicationState) -> None:
        if state == Qt.ApplicationState.ApplicationActive and not back.done():
            back.set_result(None)

    app = cast(QGuiApplication, QGuiApplication.instance())
    app.applicationStateChanged.connect(changed)
    try:
        await back
    finally:
        app.applicationStateChanged.disconnect(changed)


class DatasetTab(QWidget):
    """The examples grid with search, filters and the side editor, the readiness report, and
    import/export/generate. Listens to the session's examples signals; runs the dataset check
    off the UI thread."""

    generate_requested = Signal()  # "Generate…": the window opens the generate dialog
    status_message = Signal(str)  # what an edit changed, for the status bar

    def __init__(self, undo_stack: Any = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._undo = undo_stack
        self._session: ProjectSession | None = None
        self._runner: PreflightRunner | None = None
        self._waiting: int | None = None  # shown rows not approved yet (the review row)
        self._tags_stale = False  # an edit may have changed the tags: read when next opened
        self._reading_texts: asyncio.Future[None] | None = None  # search texts, in a thread
        self._texts_for: ProjectSession | None = None  # whose search texts are being read
        self._filtering: asyncio.Future[None] | None = None  # a search, a part at a time
        self._to_select: list[str] = []  # the rows it selects again once all are found
        self._picked: list[str] | None = None  # those selected of them when it began
        self._loading: Any = None  # a large project's examples, read in a worker thread
        self._restating: asyncio.Future[None] | None = None  # many new statuses' versions
        self._importing: asyncio.Future[None] | None = None  # many imported, looked up
        self._ordering: asyncio.Future[None] | None = None  # a column's order, for a sort
        self._copies = 0  # copies asked for: one written out in a thread is kept if the last
        self._copying: asyncio.Future[None] | None = None  # many rows written out, in a thread
        self._pasting: asyncio.Future[None] | None = None  # many pasted rows read, in a thread
        self._search_timer = QTimer(self, singleShot=True, interval=120)
        self._search_timer.timeout.connect(self._apply_filters)
        self._order_timer = QTimer(self, singleShot=True, interval=ORDER_READ_AFTER_MS)
        self._order_timer.timeout.connect(self._read_order)

        self.model = ExamplesModel()
        self.model.edit_requested.connect(self._edit)
        self.model.order_wanted.connect(self._read_order)
        self.search = QLineEdit(objectName="dataset_search", placeholderText="Search examples…")
        self.search.setAccessibleName("Search examples")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(lambda _t: self._search_timer.start())
        self.status_filter = QComboBox(objectName="status_filter")
        self.status_filter.setAccessibleName("Filter by status")
        self.status_filter.addItem("All statuses", "")
        for status in STATUSES:
            self.status_filter.addItem(status.capitalize(), status)
        self.status_filter.currentIndexChanged.connect(self._apply_filters)
        self.tag_filter = _FreshComboBox(self._refresh_tags, objectName="tag_filter")
        self.tag_filter.setAccessibleName("Filter by tag")
        self.tag_filter.currentIndexChanged.connect(self._apply_filters)
        self.issues_only = QCheckBox("Only with issues", objectName="issues_only")
        self.issues_only.toggled.connect(self._apply_filters)
        self.min_tokens = QSpinBox(
            objectName="min_tokens", minimum=0, maximum=1_000_000, singleStep=50
        )
        self.min_tokens.setSpecialValueText("Any length")
        self.min_tokens.setSuffix(" tokens or more")
        self.min_tokens.setAccessibleName("Only examples at least this long")
        self.min_tokens.valueChanged.connect(lambda _v: self._search_timer.start())
        for finder in (
            self.search,
            self.status_filter,
            self.tag_filter,
            self.issues_only,
            self.min_tokens,
        ):
            live(finder)  # they only find: a read-only project keeps them
        self.min_tokens.setMaximumWidth(170)
        self.search.setMinimumWidth(160)
        self.add_button = QPushButton("Add example", objectName="add_example")
        self.add_button.setIcon(icon("add"))
        self.add_button.clicked.connect(self.add_example)
        self.import_button = QPushButton("Import…", objectName="import_examples")
        self.import_button.setIcon(icon("open"))
        self.import_button.setToolTip("CSV, TSV, Excel or JSONL (OpenAI chat or ShareGPT)")
        self.import_button.clicked.connect(self.choose_import)
        self.generate_button = QPushButton("Generate…", objectName="generate_examples")
        self.generate_button.setToolTip(
            "Let a model write candidate examples from your LinkedIn posts, your documents "
            "or the persona; you review each one."
        )
        self.generate_button.clicked.connect(self.generate_requested)
        # two short rows, not one long one: the tab fits a 1280-pixel laptop screen
        bar = QHBoxLayout()
        bar.addWidget(self.search, 1)
        bar.addWidget(self.add_button)
        bar.addWidget(self.import_button)
        bar.addWidget(self.generate_button)
        filters = QHBoxLayout()
        filters.addWidget(self.status_filter)
        filters.addWidget(self.tag_filter)
        filters.addWidget(self.min_tokens)
        filters.addWidget(self.issues_only)
        filters.addStretch(1)

        self.table = QTableView(objectName="examples_table")
        self.table.setAccessibleName("Training examples")
        self.table.setModel(self.model)
        # a sort moves the rows, not the selection: the same examples are selected again, after
        # the selection model has restored its own (slots run in the order connected)
        self.model.layoutAboutToBeChanged.connect(self._before_sort)
        self.model.layoutChanged.connect(self._after_sort)
        self._sorted_from: tuple[list[str], str | None, bool] | None = None
        self.table.setItemDelegate(TextDelegate(self.table))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
        )
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(26)
        header = self.table.horizontalHeader()
        # a header asks its selection model whether each column is wholly selected, which
        # asks the model each row's flags: with every row selected (Ctrl+A), 700,000 calls into
        # Python at each paint for 100,000 examples, a 3.5–3.9 s freeze. A selection model of
        # its own, never used, keeps it from asking (it would only highlight column titles).
        header.setSelectionModel(QItemSelectionModel(self.model, header))
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for column, width in enumerate((48, 240, 300, 80, 90, 60)):
            self.table.setColumnWidth(column, width)
        self.table.selectionModel().currentRowChanged.connect(self._current_changed)
        self.table.selectionModel().selectionChanged.connect(
            lambda *_: self._update_review(recount=False)  # the statuses did not change
        )
        self.table.installEventFilter(self)
        # the empty state: what to do first, in the middle of the empty grid
        self.empty_state = QLabel(self.table.viewport(), objectName="dataset_empty", wordWrap=True)
        self.empty_state.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_state.setText(
            "<p style='font-size:large'><b>No examples yet</b></p>"
            "<p>The model learns your voice from questions and your answers to them.</p>"
            "<p><b>Import…</b> a spreadsheet (a question and an answer column), link a Google "
            "Sheet (<b>Sheet</b> menu), <b>Generate…</b> candidates from your LinkedIn posts or "
            "documents, paste rows (Ctrl+V), or <b>Add example</b> to write one.</p>"
        )
        self.empty_state.hide()
        self.table.viewport().installEventFilter(self)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self._add_shortcuts()

        # reviewing many rows at once: the selection, or everything the filters show
        self.review_buttons: dict[str, QPushButton] = {}
        review = QHBoxLayout()
        self.selection_label = QLabel(objectName="dataset_selection", wordWrap=True)
        review.addWidget(self.selection_label)
        for status, text, keys in (
            ("approved", "Approve", "Ctrl+Enter"),
            ("rejected", "Reject", "Ctrl+Shift+Enter"),
            ("draft", "Mark as draft", ""),
        ):
            button = QPushButton(text, objectName=f"bulk_{status}")
            button.setToolTip(f"{text} the selected rows" + (f" ({keys})" if keys else ""))
            button.clicked.connect(lambda _checked=False, s=status: self.set_status(s))
            self.review_buttons[status] = button
            review.addWidget(button)
        review.addStretch(1)
        self.approve_shown = QPushButton("Approve all shown", objectName="approve_shown")
        self.approve_shown.setToolTip("Approve every example the search and filters show now.")
        self.approve_shown.clicked.connect(self.approve_all_shown)
        review.addWidget(self.approve_shown)

        self.shown_label = QLabel(objectName="dataset_shown", wordWrap=True)
        # what finds and changes examples: off while a large project's examples are read
        self.controls = QWidget(objectName="dataset_controls")
        controls_layout = QVBoxLayout(self.controls)
        controls_layout.setContentsMargins(0, 0, 0, 0)
        controls_layout.addLayout(bar)
        controls_layout.addLayout(filters)
        controls_layout.addLayout(review)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.controls)
        left_layout.addWidget(self.table, 1)
        left_layout.addWidget(self.shown_label)

        self.detail = ConversationEditor()
        self.detail.edited.connect(
            lambda before, after: self._edit([before], [after], "Edit conversation")
        )
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self._preflight_box())
        detail_box = QGroupBox("Selected example")
        QVBoxLayout(detail_box).addWidget(self.detail)
        right_layout.addWidget(detail_box, 1)
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)

    def _preflight_box(self) -> QGroupBox:
        self.preflight_box = box = QGroupBox("Ready to fine-tune?")
        self.model_choice = QComboBox(objectName="preflight_model")
        self.model_choice.setAccessibleName("Base model to check against")
        self.model_choice.currentIndexChanged.connect(self._model_chosen)
        self.preflight_summary = QLabel(objectName="preflight_summary", wordWrap=True)
        self.preflight_summary.setToolTip(TOKENS_EXPLAINED)
        self.preflight_summary.setTextFormat(Qt.TextFormat.RichText)
        self.progress = QProgressBar(objectName="preflight_progress")
        self.progress.setRange(0, 100)
        self.progress.hide()
        self.stop = QPushButton("Stop", objectName="preflight_stop")
        self.stop.clicked.connect(self.cancel_preflight)
        self.stop.hide()
        live(self.model_choice)
        live(self.stop)
        row = QHBoxLayout()
        row.addWidget(QLabel("Base model"))
        row.addWidget(self.model_choice, 1)
        progress_row = QHBoxLayout()
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.stop)
        layout = QVBoxLayout(box)
        layout.addLayout(row)
        layout.addLayout(progress_row)
        layout.addWidget(self.preflight_summary)
        return box

    def _add_shortcuts(self) -> None:
        for keys, slot, name in (
            ("Ctrl+Return", lambda: self.set_status("approved"), "approve"),
            ("Ctrl+Shift+Return", lambda: self.set_status("rejected"), "reject"),
            ("Ctrl+D", self.duplicate_selected, "duplicate"),
            ("Ctrl+Up", lambda: self.move_current(-1), "move_up"),
            ("Ctrl+Down", lambda: self.move_current(1), "move_down"),
            (QKeySequence.StandardKey.Delete, self.delete_selected, "delete"),
            (QKeySequence.StandardKey.Copy, self.copy_selected, "copy"),
            (QKeySequence.StandardKey.Paste, self.paste, "paste"),
            (QKeySequence.StandardKey.Find, self.search.setFocus, "find"),
        ):
            action = QAction(self, objectName=f"dataset_{name}")
            action.setShortcut(keys)
            action.triggered.connect(slot)
            if name == "find":  # anywhere in the tab
                action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
                self.addAction(action)
            else:  # only in the grid: Delete in the search box must not delete examples
                action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
                self.table.addAction(action)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Enter edits the current cell, as in a spreadsheet."""
        if watched is self.table.viewport() and event.type() == QEvent.Type.Resize:
            self.empty_state.setGeometry(self.table.viewport().rect().adjusted(24, 24, -24, -24))
        if (
            watched is self.table
            and event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
            and event.modifiers() == Qt.KeyboardModifier.NoModifier
            and self.table.state() != QAbstractItemView.State.EditingState
        ):
            index = self.table.currentIndex()
            if index.isValid():
                self.table.edit(index)
                return True
        return super().eventFilter(watched, event)

    # ---- session -------------------------------------------------------------------------

    def set_session(self, session: ProjectSession) -> None:
        self._session = session
        session.examples_reset.connect(self._reload)
        session.examples_edited.connect(self._edited_elsewhere)
        session.examples_edited.connect(lambda *_: self._update_review())
        self._runner = runner = session.preflight  # the Train tab's check too: one per pause
        runner.add_view(self)
        runner.started.connect(self._check_started)
        runner.progress.connect(self._show_progress)
        runner.stopped.connect(self._check_stopped)
        runner.model_changed.connect(self._show_model)
        on_report(runner, self._show_report)
        self.model_choice.blockSignals(True)
        for name in runner.specs:
            self.model_choice.addItem(name, name)
        self.model_choice.blockSignals(False)
        self._show_model(runner.model)
        # how many there are, and a small project's examples, are read from the file: at once
        # if it is free, else once the worker that has it lets go (the tab's first showing
        # waited for an export's read)
        self.shown_label.setText("Opening the examples…")
        self.table.setEnabled(False)
        self.controls.setEnabled(False)
        session.read_soon(
            session.loads_in_background, functools.partial(self._open_examples, session)
        )

    def _open_examples(self, session: ProjectSession, in_background: bool) -> None:
        if self._session is not session or session.closed or not isValid(self):
            return
        if in_background:
            self._load_in_background(session)
        else:
            self.table.setEnabled(True)
            self.controls.setEnabled(True)
            self._reload()

    def _load_in_background(self, session: ProjectSession) -> None:
        """A large project: the grid says what it is doing, and shows the first rows, while a
        worker reads the file. Nothing that finds or changes examples works meanwhile: it
        would read them all again, on the UI thread."""
        # while a worker reads the file, asking it how many would wait for the read
        total = session.reading_total if session.loading else session.project.example_count()
        self.shown_label.setText(f"Opening {total:,} examples…")
        self.table.setEnabled(False)
        self.controls.setEnabled(False)

        async def load() -> None:
            await session.load_examples()
            if self._session is session and not session.closed:
                self.table.setEnabled(True)
                self.controls.setEnabled(True)
                # the grid's lists over every row frozen out of the collector's sight, as the
                # examples are (a change's are, by the session's `_one_change`)
                with collector_paused(freeze=len(session.examples) >= FREEZE_FROM):
                    self._reload()

        def start() -> None:
            if self._session is not session or session.closed:
                return
            session.start_loading()
            if session.loading and session.first_rows:
                self.model.set_examples(session.first_rows)
                self.shown_label.setText(
                    f"Opening {total:,} examples… The first {len(session.first_rows):,} are "
                    "shown meanwhile."
                )
            self._loading = spawn(load())

        when_loop_runs(start)  # at startup this tab can be built before asyncio's loop runs

    def _reload(self) -> None:
        assert self._session is not None
        session = self._session
        if session.loading:
            return  # a worker is reading them all: the grid shows them when it is done
        selected = session.known(self._selected_ids())  # not those deleted
        self.model.set_examples(session.examples, session.reshaped)
        # the tag list is read again when it is next opened or focused (20–40 ms at 100,000)
        self._tags_stale = True
        self._show_counts()
        self._select_ids(selected)

    def _edited_elsewhere(self, ids: list[str]) -> None:
        assert self._session is not None
        session = self._session
        self.model.examples_changed(ids, session.examples, session.where)
        current = self._current_example()
        if current is not None and current.id in ids:
            self.detail.show_example(current)
        # the tag list is read again when it is next opened: at 100,000 examples a re-read
        # at every edit cost 15 ms of the edit's stall
        self._tags_stale = True

    def _refresh_tags(self) -> None:
        if self._tags_stale and self._session is not None:
            self._fill_tag_filter()

    def _fill_tag_filter(self) -> None:
        assert self._session is not None
        self._tags_stale = False
        tags = sorted({t for ex in self._session.examples for t in ex.tags})
        current = self.tag_filter.currentData()
        self.tag_filter.blockSignals(True)
        self.tag_filter.clear()
        self.tag_filter.addItem("All tags", "")
        for tag in tags:
            self.tag_filter.addItem(tag, tag)
        self.tag_filter.setCurrentIndex(max(0, self.tag_filter.findData(current)))
        self.tag_filter.blockSignals(False)

    def _apply_filters(self) -> None:
        if self._search_needs_texts():
            return  # they are being read in a worker thread; the search runs when they are in
        selected = self._selected_ids()
        if self.model.searching and selected == self._picked:  # (not chosen by the creator)
            selected = self._to_select  # the rows the search running was to select again
        filters = Filters(
            text=self.search.text(),
            status=self.status_filter.currentData() or "",
            tag=self.tag_filter.currentData() or "",
            issues_only=self.issues_only.isChecked(),
            min_tokens=self.min_tokens.value(),
        )
        if filters.text.strip() and self.model.rows_total >= SEARCH_TEXTS_IN_THREAD_FROM:
            scan = self.model.search_in_parts(filters)
            self._filtering = spawn(self._search_on(scan, selected))
            return
        self.model.apply_filters(filters)
        self._filtered(selected)

    async def _search_on(self, scan: SearchInParts, selected: list[str]) -> None:
        """A search keystroke on a large project: the model looks through a part of the rows
        at a time (~10 ms), and the window has its turn between (a keystroke, a paint, a
        click). The rows found so far show with a count; a newer filter drops the search."""
        self._select_ids(selected)  # among the rows found so far (the grid's reset cleared it)
        self._to_select, self._picked = selected, self._selected_ids()
        self.approve_shown.setEnabled(False)  # (`_update_review` keeps it so meanwhile)
        counted = time.monotonic()  # (a search done sooner says its count once, at the end)
        while scan.at < len(scan.among) and not scan.done:
            if counted < time.monotonic() - SHOW_EVERY:  # "… N found so far", as often as
                self._show_counts()  # rows show: a new count lays the window out again (at
                counted = time.monotonic()  # every part, 300,000 rows took 0.46 s, not 0.15)
            await asyncio.sleep(0)  # the window's turn
            if not isValid(self) or self._session is None or not self.model.search_part(scan):
                break
        if scan.done and isValid(self):
            picked = self._selected_ids()
            if picked == self._picked and set(picked) != set(selected):  # (else the creator
                self._select_ids(selected)  # chose rows meanwhile): and those found later
            if scan.fresh:  # counted as they were found (~0.1 s for 1,000,000 rows at once)
                self._waiting = self.model.shown - scan.approved
            self._show_counts(recount=not scan.fresh)

    def _filtered(self, selected: list[str]) -> None:
        self._select_ids(selected)
        self._show_counts()  # (and the review bar)

    def _search_needs_texts(self) -> bool:
        """A search on a large project reads the examples' texts in a worker thread first (0.2 s
        of the first keystroke's stall at 100,000); True while it does."""
        if self.model.search_ready or not self.search.text().strip():
            return False
        if self._session is None or len(self._session.examples) < SEARCH_TEXTS_IN_THREAD_FROM:
            return False
        if self._reading_texts is None or self._reading_texts.done():
            self._reading_texts = spawn(self._read_search_texts())
        self._texts_for = self._session  # the search waits for them
        self._show_counts()  # "Searching…": seconds at 1,000,000
        return True

    async def _read_search_texts(self) -> None:
        install = await asyncio.to_thread(self.model.search_text_builder())
        if not isValid(self):
            return  # the window closed while the texts were read
        self._texts_for = None
        if self._session is None or self._session.closed:
            return  # the project closed meanwhile
        install()
        self._apply_filters()  # with the texts in, or reading them again if rows changed

    def _read_order(self, as_rows_change: bool = False) -> None:
        """A sort on a large project waits for its column's order: read it a part at a time
        (~0.3 s at 100,000 examples; at once it held the UI thread 150–230 ms at each header
        click); `as_rows_change`: once the window has repainted them (`ORDER_READ_AFTER_MS`)."""
        if as_rows_change:
            if not self._order_timer.isActive():
                self._order_timer.start()
        else:
            self._order_timer.stop()
            if self._ordering is None or self._ordering.done():
                self._ordering = spawn(self._order_in_parts())
        if self.model.sort_pending:  # (else read for the next sort: the rows are sorted)
            self._show_counts()  # "Sorting…"

    def _gone(self, session: ProjectSession | None = None) -> bool:
        """Whether the window, or the project (or `session`, the one some work began on)
        closed while that work went on in a worker thread or between the window's turns."""
        if not isValid(self) or self._session is None or self._session.closed:
            return True
        return session is not None and self._session is not session

    async def _order_in_parts(self) -> None:
        """Read on the UI thread a part at a time, the window's turn every `ORDER_TURN_S`
        (in a worker thread, each of a repaint's calls into Python waited for the
        interpreter's lock: scrolling while it read stalled the window 330–450 ms)."""
        while (read := self.model.order_builder()) is not None:
            turn = time.monotonic()
            while read.step():
                if time.monotonic() - turn > ORDER_TURN_S:
                    await asyncio.sleep(0)  # the window's turn
                    if self._gone():
                        return
                    if not self.model.order_wanted_now(read):
                        break  # another column was clicked: its order is read now
                    turn = time.monotonic()
            if read.order is None:
                continue
            await asyncio.to_thread(read.ordered)  # (a read keeps its own: found made)
            if self._gone():
                return
            sorting = self.model.sort_pending
            read.install()  # sorts (or, too many rows changed meanwhile, wants it read again)
            if sorting and not self.model.sort_pending:
                self._show_counts()

    def _show_counts(self, *, recount: bool = True) -> None:
        total = len(self._session.examples) if self._session else 0
        shown, scan = self.model.shown, self.model.searching
        text = (
            "No examples yet: add one, paste rows from a spreadsheet, or import a file."
            if not total
            else f"Searching {total:,} examples…"
            if self._texts_for is self._session and self.search.text().strip()
            else f"Searching {total:,} examples… {scan.count:,} found so far"
            if scan is not None
            else f"Sorting {total:,} examples…"
            if self.model.sort_pending
            else f"{total:,} examples"
            if shown == total
            else f"Showing {shown:,} of {total:,} examples"
        )
        damaged = len(self._session.project.damaged_example_ids) if self._session else 0
        if damaged:  # left out and left as they are in the file: never shown as "no examples"
            text += (
                f" · <span style='color:{color('danger')}'>{damaged} damaged example"
                f"{'s' if damaged != 1 else ''} could not be read and are not shown "
                "(left as they are in the file; open a copy you saved earlier to get them "
                "back)</span>"
            )
        self.shown_label.setText(text)
        self.empty_state.setVisible(not total)
        self._update_review(recount=recount and scan is None)  # (once all the rows are in)

    # ---- selection -----------------------------------------------------------------------

    def _selected_rows(self) -> Sequence[int]:
        """From the selection's ranges: the grid selects whole rows. `selectedRows()` asks the
        model for every selected cell's flags, ~1,500 calls into Python for 100 rows (a third
        of deleting them at 100,000 examples, which asks three times), ~700,000 for all. The
        ranges, in order, each added once (in C): a set of 100,000 rows, sorted, took ~12 ms.
        One range (every row selected) is a `range`."""
        spans = sorted(
            (span.top(), span.bottom()) for span in self.table.selectionModel().selection().toList()
        )
        if len(spans) == 1:
            return range(spans[0][0], spans[0][1] + 1)
        rows: list[int] = []
        for top, bottom in spans:
            start = max(top, len(rows) and rows[-1] + 1)
            rows += range(start, bottom + 1)  # (nothing, where a range before holds it)
        return rows

    def _selected_examples(self) -> list[Example]:
        return self.model.examples_at(self._selected_rows())

    def _selected_ids(self) -> list[str]:
        if not self.model.shown:
            return []
        rows, session = self._selected_rows(), self._session
        if session is not None:
            ids = self.model.ids_at(rows, session.examples, session.example_ids())
            if ids is not None:
                return ids
        return ids_of(self.model.examples_at(rows))

    def _before_sort(self) -> None:
        if self._session is None:
            return  # (the grid's first sort, as it is built)
        current = self._current_example()
        every = self.model.shown > 0 and len(self._selected_rows()) == self.model.shown
        selected = [] if every else self._selected_ids()  # (every row: they stay so)
        self._sorted_from = (selected, current.id if current else None, every)

    def _after_sort(self) -> None:
        if self._sorted_from is not None:
            (selected, current, every), self._sorted_from = self._sorted_from, None
            if every:
                self.table.selectAll()
                selected = []
            self._select_ids(selected, current=current, keep=every)

    def _select_ids(
        self, ids: list[str], *, current: str | None = None, keep: bool = False
    ) -> None:
        """Select these examples' rows (`keep`: and those selected); the grid's current row
        (and the detail pane) is `current`'s, or the first of them."""
        session = self._session
        found = self.model.rows_of(
            ids if current is None else [*ids, current],
            *((session.examples, session.example_ids()) if session is not None else ()),
        )
        # (all found are of `ids` but `current`: their rows, in C, not a pass over `ids`)
        rows = list(found.values()) if current is None else [found[i] for i in ids if i in found]
        if current is None:  # the first of `ids` found
            current = next(filter(found.__contains__, ids), None)
        self._select_rows(sorted(rows), found.get(current) if current is not None else None, keep)

    def _select_rows(
        self, rows: Sequence[int] | np.ndarray, first: int | None, keep: bool = False
    ) -> None:
        """Select these rows of the grid (ascending; `keep`: and those selected); the grid's
        current row (and the detail pane) is `first`, if any."""
        from PySide6.QtCore import QItemSelection

        selection = QItemSelection()
        for top, after in runs(rows):  # (many together: a range)
            selection.select(self.model.index(top, 0), self.model.index(after - 1, 0))
        flags = QItemSelectionModel.SelectionFlag.Rows | (
            QItemSelectionModel.SelectionFlag.Select
            if keep
            else QItemSelectionModel.SelectionFlag.ClearAndSelect
        )
        self.table.selectionModel().select(selection, flags)
        if first is not None:
            self.table.selectionModel().setCurrentIndex(
                self.model.index(first, 1), QItemSelectionModel.SelectionFlag.NoUpdate
            )
            self.table.scrollTo(self.model.index(first, 1))
        self.detail.show_example(self._current_example())

    def select_examples(self, ids: list[str]) -> None:
        """Select these examples (other code points the user at them)."""
        self._select_ids(ids)
        self.table.setFocus()

    def _current_example(self) -> Example | None:
        index = self.table.currentIndex()
        return self.model.example(index.row()) if index.isValid() else None

    def _current_changed(self, *_: object) -> None:
        self.detail.show_example(self._current_example())

    # ---- edits (all undoable) ------------------------------------------------------------

    def _push(self, command: Any) -> None:
        if self._undo is not None:
            self._undo.push(command)
        else:
            command.redo()

    def _edit(
        self,
        before: list[Example],
        after: list[Example],
        label: str,
        prepared: Replacement | None = None,
    ) -> None:
        """`after`: new objects, the new versions of `before`'s (stamped here); `prepared`:
        the session's lists with them, made in a worker thread."""
        if self._session is not None and before != after:
            stamp(after)
            self._push(EditExamples(self._session, before, after, label, prepared))

    def add_example(self) -> None:
        if self._session is None:
            return
        example = Example.from_qa("", "", source="typed")
        self._push(AddExamples(self._session, [example], "Add example"))
        self._clear_filters_to_show(example.id)
        row = self.model.row_of(example.id)
        if row is not None:
            self.table.edit(self.model.index(row, COL_QUESTION))

    def _clear_filters_to_show(self, example_id: str) -> None:
        if self.model.row_of(example_id) is None:
            self.search.clear()
            self.status_filter.setCurrentIndex(0)
            self.tag_filter.setCurrentIndex(0)
            self.issues_only.setChecked(False)
            self._apply_filters()
        self._select_ids([example_id])

    @staticmethod
    def _with_status(examples: list[Example], status: str) -> list[Example]:
        """The examples with another status. A shallow copy is enough (a status is a plain
        value; every edit of messages or tags copies deeply first) and stays fast for 100,000
        rows on the UI thread (made by `map`, not through `copy.copy`; the collector paused, as
        for any large change of the session's: 33,000 in 22–25 ms, not 30–45)."""
        with collector_paused(freeze=len(examples) >= FREEZE_FROM):
            changed = list(map(Example.__copy__, examples))
        for ex in changed:
            ex.status = status
        return changed

    def set_status(self, status: str) -> None:
        verb = {"approved": "Approve", "rejected": "Reject"}.get(status, "Mark")
        self._set_statuses(self._selected_pick, status, verb, "example")

    def approve_all_shown(self) -> None:
        """Every example the filters show, approved in one undoable step."""
        if self.model.searching:
            return  # (its button is off: not all the rows it will show are in yet)
        self._set_statuses(self._waiting_pick, "approved", "Approve", "shown example")

    def _selected_pick(self) -> tuple[Callable[[], list[Example]], int]:
        chosen = self._selected_examples()
        return (lambda: chosen), len(chosen)

    def _waiting_pick(self) -> tuple[Callable[[], list[Example]], int]:
        """The shown examples not approved, picked of the rows shown now (in a worker thread,
        if many: 200,000 rows sorted by question took ~95 ms of the click's stall), and how
        many (as counted for the button)."""
        examples, rows = self.model.shown_rows()
        waiting = self._waiting if self._waiting is not None else len(rows)
        return functools.partial(not_approved_at, examples, rows), waiting

    def _set_statuses(
        self,
        pick: Callable[[], tuple[Callable[[], list[Example]], int]],
        status: str,
        verb: str,
        noun: str,
    ) -> None:
        """The examples `pick` gives, with `status`, in one undoable step. `pick()`: a picker
        of the examples as they are now (which reads only what it was made with), and how many
        it picks. Many: they are picked, and their new versions made, in a worker thread (the
        review buttons off meanwhile)."""
        picker, size = pick()
        session = self._session
        if size < STATUS_IN_THREAD_FROM or session is None:
            before = picker()
            after = self._with_status(before, status)
            self._edit(before, after, f"{verb} {counted(len(before), noun)}")
            return
        for button in (self.approve_shown, *self.review_buttons.values()):
            button.setEnabled(False)
        if noun == "shown example":  # (approving all shown)
            self.approve_shown.setText(f"Approving {size:,}…")
        # (the list they were in now: every change but an add makes a new one)
        examples, ids = session.examples, session.example_ids()

        def versions() -> tuple[list[Example], list[Example], Replacement]:
            before = picker()
            with collector_paused(freeze=len(before) >= FREEZE_FROM):
                after = self._with_status(before, status)  # and the session's new lists
                return before, after, replacement(after, examples, ids, placed=True)

        async def restate() -> None:
            prepared: Replacement | None
            before, after, prepared = await asyncio.to_thread(versions)
            if self._gone(session):
                return
            if session.examples is not examples:  # changed meanwhile (an undo, an edit, a
                before = pick()[0]()  # sync): the rows as they are now, here
                after, prepared = self._with_status(before, status), None
            self._edit(before, after, f"{verb} {counted(len(before), noun)}", prepared)
            self._update_review()

        self._restating = spawn(restate())

    def _update_review(self, *, recount: bool = True) -> None:
        """The review row: what is selected, and how many shown rows wait for approval (counted
        when the rows or their statuses change, not at every click: 100 ms at 100,000)."""
        selected = len(self._selected_rows()) if self.model.shown else 0
        for button in self.review_buttons.values():
            button.setEnabled(selected > 0)
        if recount or self._waiting is None:
            session = self._session
            if self.model.filters.status:  # (it shows only rows of that status)
                approved = self.model.shown if self.model.filters.status == "approved" else 0
            elif session and session.examples_loaded and self.model.shows_all(session.examples):
                approved = session.approved_count()  # counted once for this and the checklist
            else:
                approved = approved_count(self.model.shown_examples())
            self._waiting = self.model.shown - approved
        waiting = self._waiting
        none_approved = self.model.shown > 0 and waiting == self.model.shown
        self.selection_label.setText(
            f"{selected:,} selected:"
            if selected
            else "0 approved: select rows and press Approve (only approved examples train):"
            if none_approved
            else "Select rows to review them:"
        )
        # (not while a search runs: not all the rows it will show are in yet)
        self.approve_shown.setEnabled(waiting > 0 and not self.model.searching)
        self.approve_shown.setText(
            f"Approve all shown ({waiting:,} more)"
            if waiting and waiting < self.model.shown
            else "Approve all shown"
        )

    def _context_menu(self, position: Any) -> None:
        from PySide6.QtWidgets import QMenu

        if not self._selected_rows():
            return
        menu = QMenu(self.table)
        menu.setObjectName("dataset_menu")
        for status, text, keys in (
            ("approved", "Approve", "Ctrl+Return"),  # the tab's own shortcuts, shown
            ("rejected", "Reject", "Ctrl+Shift+Return"),
            ("draft", "Mark as draft", ""),
        ):
            action = menu.addAction(text, functools.partial(self.set_status, status))
            if keys:
                action.setShortcut(keys)
        menu.addSeparator()
        menu.addAction("Duplicate", self.duplicate_selected).setShortcut("Ctrl+D")
        menu.addAction("Copy", self.copy_selected).setShortcut("Ctrl+C")
        menu.addAction("Delete", self.delete_selected).setShortcut("Delete")
        menu.popup(self.table.viewport().mapToGlobal(position))
        self._menu = menu  # kept for tests and so it is not collected while shown

    def duplicate_selected(self) -> None:
        if self._session is None:
            return
        copies = []
        for ex in self._selected_examples():
            twin = copy.deepcopy(ex)
            twin.id, twin.status, twin.source = new_id(), "draft", f"copy of {ex.id[:8]}"
            copies.append(twin)
        if copies:
            label = f"Duplicate {counted(len(copies), 'example')}"
            self._push(AddExamples(self._session, copies, label))
            self._select_ids([c.id for c in copies])
            self.status_message.emit(
                f"Added {counted(len(copies), 'copy', 'copies')} as drafts, selected at the end "
                f"of the list. {_undo_keys()} takes {'it' if len(copies) == 1 else 'them'} away."
            )

    def move_current(self, step: int) -> None:
        """Move the current example up or down in the dataset's order."""
        current = self._current_example()
        if current is None or self._session is None:
            return
        order = self._session.examples
        i = next(n for n, ex in enumerate(order) if ex.id == current.id)
        if 0 <= i + step < len(order):
            self._push(SwapExamples(self._session, current.id, order[i + step].id))
            self._select_ids([current.id])

    def delete_selected(self) -> None:
        ids = self._selected_ids()  # in order: every row selected, they are the session's
        if ids and self._session is not None:
            # no selected row stays: the grid need not find which do (all 100,000 rows
            # selected, that was ~35 ms of deleting them)
            self.table.clearSelection()
            self._push(DeleteExamples(self._session, ids))
            self.status_message.emit(
                f"Deleted {counted(len(ids), 'example')}. {_undo_keys()} brings "
                f"{'it' if len(ids) == 1 else 'them'} back."
            )

    def copy_selected(self) -> None:
        """Rows as TSV (question, answer, status, tags): pastes into any spreadsheet. Many are
        written out in a worker thread; a newer copy supersedes one under way."""
        examples = self._selected_examples()
        self._copies += 1
        if len(examples) < CLIPBOARD_IN_THREAD_FROM:
            QGuiApplication.clipboard().setText(examples_tsv(examples))
            return
        self.status_message.emit(f"Copying {len(examples):,} examples…")
        self._copying = spawn(self._copy_in_thread(examples, self._copies))

    async def _copy_in_thread(self, examples: list[Example], copy: int) -> None:
        text = await asyncio.to_thread(examples_tsv, examples)
        if not isValid(self) or copy != self._copies:
            return  # the window closed, or the creator copied other rows meanwhile
        if _clipboard_waits_for_the_app_in_front():
            self.status_message.emit(
                f"{counted(len(examples), 'example')} ready to copy: they go to the clipboard "
                "when you come back to Persona Studio."
            )
            await _back_in_front()
            if not isValid(self) or copy != self._copies:
                return
        QGuiApplication.clipboard().setText(text)
        self.status_message.emit(
            f"Copied {counted(len(examples), 'example')}: paste them into a spreadsheet."
        )

    def paste(self) -> None:
        """TSV from a spreadsheet: a line per example (question, answer, then status, tags).
        Many rows are read in a worker thread."""
        from persona_studio.core.importers.limits import MAX_ROWS  # (zipfile: not at start)

        if self._session is None:
            return
        text = QGuiApplication.clipboard().text()
        # (in C: ~1 ms for 100,000; a spreadsheet ends its rows with \r\n, \n, or \r alone)
        rows = max(text.count("\n"), text.count("\r")) + (not text.endswith(("\n", "\r")))
        if rows > MAX_ROWS:
            self.status_message.emit(
                f"Too many rows to paste ({rows:,}; at most {MAX_ROWS:,}): save them from the "
                "spreadsheet as a CSV file and import that."
            )
        elif rows < CLIPBOARD_IN_THREAD_FROM:
            self._pasted(self._session, *examples_from_tsv(text))
        else:
            self.status_message.emit(f"Reading {rows:,} pasted rows…")
            self._pasting = spawn(self._paste_in_thread(text, self._session))

    async def _paste_in_thread(self, text: str, session: ProjectSession) -> None:
        new, left_out = await asyncio.to_thread(examples_from_tsv, text)
        if not self._gone(session):
            self._pasted(session, new, left_out)

    def _pasted(self, session: ProjectSession, new: list[Example], left_out: int) -> None:
        if not new:
            self.status_message.emit(
                "Nothing to paste: copy rows from a spreadsheet, a question in the first "
                "column and its answer in the second (then status and tags, if you like)."
            )
            return
        self.table.clearSelection()  # (the new rows are selected: not those before again)
        self._push(AddExamples(session, new, f"Paste {len(new)} examples"))
        # the new rows are selected, found by their places (the session adds them after the
        # others), in numpy: found by their ids, 100,000 took ~50 ms of the paste's stall
        examples, start = session.examples, len(session.examples) - len(new)
        if start >= 0 and all(map(is_, examples[start:], new)):  # (else none was added)
            self._select_rows(*self.model.rows_at(range(start, len(examples))))
        skipped = (
            f"; {counted(left_out, 'row')} without both a question and an answer left out"
            if left_out
            else ""
        )
        self.status_message.emit(
            f"Pasted {counted(len(new), 'example')}{skipped}. {_undo_keys()} takes them out."
        )

    # ---- import --------------------------------------------------------------------------

    def choose_import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Import examples",
            str(Path.home()),
            "Datasets (*.csv *.tsv *.txt *.xlsx *.xlsm *.jsonl);;All files (*)",
        )
        if path:
            self.open_import(Path(path))

    def open_import(self, path: Path) -> Any:
        from persona_studio.gui.dialogs.import_dialog import ImportDialog

        dialog = ImportDialog(path, self)
        dialog.accepted.connect(
            lambda: self.import_examples(dialog.result_examples(), dialog.replace.isChecked())
        )
        dialog.open()
        return dialog

    def import_examples(self, examples: list[Example], replace: bool) -> None:
        """Add them (or take them in place of all), adding a file twice adding nothing twice.
        Many added: those the project has not are looked up in a worker thread first."""
        session = self._session
        if session is None or not examples:
            return
        if replace:
            self._import(session, examples, ids_of(examples), replace=True)
            return
        pick = session.unknown(examples)
        if len(examples) < LOOKED_UP_IN_THREAD_FROM:
            self._import(session, *pick())
            return
        before = session.examples
        size = len(before)

        async def add() -> None:
            fresh, ids = await asyncio.to_thread(pick)
            if self._gone(session):
                return
            if session.examples is not before or len(before) != size:  # changed meanwhile
                fresh, ids = session.unknown(examples)()  # (looked up again, here)
            self._import(session, fresh, ids)

        self._importing = spawn(add())

    def _import(
        self,
        session: ProjectSession,
        examples: list[Example],
        ids: list[str],
        *,
        replace: bool = False,
    ) -> None:
        """These examples (with their ids) added, in place of all if `replace`: one undo step."""
        if not examples:
            return
        if self._undo is not None:
            self._undo.beginMacro(f"Import {len(examples)} examples")
        if replace and session.examples:
            self._push(DeleteExamples(session, list(session.example_ids())))
        self._push(AddExamples(session, examples, f"Import {len(examples)} examples", ids))
        if self._undo is not None:
            self._undo.endMacro()

    def review_candidates(
        self, ids: list[str], status: str, edits: dict[str, tuple[str, str]]
    ) -> None:
        """Accept generated candidates (added as drafts) or reject them; undoable, and undo
        puts them back in the review queue."""
        if self._session is not None and ids:
            self._push(ReviewCandidates(self._session, ids, status, edits))

    # ---- preflight (off the UI thread) ---------------------------------------------------

    @property
    def report(self) -> PreflightReport | None:
        """The shared check's latest report."""
        return self._runner.report if self._runner is not None else None

    def cancel_preflight(self) -> None:
        if self._runner is not None:
            self._runner.cancel()

    def run_preflight(self) -> None:
        if self._runner is not None:
            self._runner.run_now()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._runner is not None:
            self._runner.refresh_after_paint()

    def _model_chosen(self, _index: int) -> None:
        if self._runner is not None and self.model_choice.currentData():
            self._runner.set_model(self.model_choice.currentData())

    def _show_model(self, name: str) -> None:
        """The model the check prices (chosen here or in the Train tab), echo blocked."""
        self.model_choice.blockSignals(True)
        if self.model_choice.findData(name) < 0:
            self.model_choice.addItem(name, name)
        self.model_choice.setCurrentIndex(self.model_choice.findData(name))
        self.model_choice.blockSignals(False)

    def _check_started(self) -> None:
        self.progress.setValue(0)
        self.progress.show()
        self.stop.show()

    def _check_stopped(self) -> None:
        self.progress.hide()
        self.stop.hide()
        self.preflight_summary.setText("Check stopped. It runs again after your next edit.")

    def _show_progress(self, fraction: float, what: str) -> None:
        self.progress.setValue(int(fraction * 100))
        self.progress.setFormat(f"{what} %p%")

    def _show_report(self, report: PreflightReport) -> None:
        self.progress.hide()
        self.stop.hide()
        self.model.set_report(report.tokens, report.issues)
        s = report.summary()
        counts = ", ".join(f"{n} {status}" for status, n in sorted(s["by_status"].items()))
        lines = [
            f"<b>{s['examples']:,} examples</b> ({counts or 'none'}). Only approved "
            "examples are trained."
        ]
        if s["trained_examples"]:
            aside = s["held_out_examples"]
            lines.append(
                f"Training set: {s['trained_examples']:,} examples"
                + (f" ({aside} more kept aside for the voice check)" if aside else "")
                + f", {s['trained_tokens']:,} "
                f"tokens, read {s['epochs']} times by default (epochs) → "
                f"{s['billed_tokens']:,} tokens billed,"
                f" <b>{price_text(report.estimated_cost)}</b> on {report.model.name}."
            )
        blocking, warnings = report.blocking, report.warnings
        if blocking:
            lines.append(
                f'<span style="color:{color("danger")}">✖ {len(blocking)} problem'
                f"{'s' if len(blocking) != 1 else ''} to fix before training.</span>"
            )
        if warnings:
            lines.append(
                f'<span style="color:{color("attention")}">⚠ {len(warnings)} warning'
                f"{'s' if len(warnings) != 1 else ''}.</span>"
            )
        if not blocking and not warnings:
            lines.append(f'<span style="color:{color("success")}">✔ No problems found.</span>')
        lines += [f"• {note.message}" for note in report.notes]
        self.preflight_summary.setText("<br>".join(lines))


def _undo_keys() -> str:
    """Undo's shortcut as this platform writes it (Ctrl+Z, ⌘Z)."""
    keys = QKeySequence(QKeySequence.StandardKey.Undo)
    return keys.toString(QKeySequence.SequenceFormat.NativeText) or "Undo"


class _FreshComboBox(QComboBox):
    """A combo box that brings its items up to date (`refresh`) when it is opened or focused."""

    def __init__(self, refresh: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._refresh = refresh

    def showPopup(self) -> None:
        self._refresh()
        super().showPopup()

    def focusInEvent(self, event: QFocusEvent) -> None:
        self._refresh()
        super().focusInEvent(event)
