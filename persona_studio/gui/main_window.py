"""The main window: four tabs over one open project, menus and a status bar."""

from __future__ import annotations

import copy
import functools
import os
import threading
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from PySide6.QtCore import QObject, QSettings, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
    QShowEvent,
    QUndoStack,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from persona_studio import APP_NAME, __version__
from persona_studio.core.errors import Stopped, UserFacingError
from persona_studio.core.persona import Persona
from persona_studio.core.project import (
    SUFFIX,
    Project,
    ProjectError,
    ProjectLockedError,
)
from persona_studio.core.project.files import free_project_path
from persona_studio.gui.context import AppContext
from persona_studio.gui.dialogs.messages import show_error, show_write_error
from persona_studio.gui.loop import spawn, when_loop_runs
from persona_studio.gui.project_session import ProjectSession, Read, open_and_read
from persona_studio.gui.theme import color
from persona_studio.gui.widgets.lazy_tab import LazyTab

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable, Coroutine, Iterator

    from PySide6.QtWidgets import QProgressBar

    from persona_studio.core.cards import ImportedCard
    from persona_studio.gui.chat_tab import ChatTab
    from persona_studio.gui.dataset_tab import DatasetTab
    from persona_studio.gui.dialogs.settings_dialog import SettingsDialog
    from persona_studio.gui.dialogs.template_dialog import TemplateDialog
    from persona_studio.gui.persona_tab import PersonaTab
    from persona_studio.gui.train_tab import TrainTab

T = TypeVar("T")
FILE_FILTER = f"Persona Studio projects (*{SUFFIX})"
CHECKLIST_DELAY_MS = 200  # after the window shows: "Getting started" comes in behind it
REATTACH_DELAY_MS = 1500  # after a project opens: following running jobs waits for the paint
READ_EXAMPLES_DELAY_MS = 250  # after a project opens: a large one's examples are read then
DATASET_FILES = {".csv", ".tsv", ".xlsx", ".jsonl"}
DOCUMENT_FILES = {".txt", ".md", ".markdown", ".pdf", ".docx"}
DROPPABLE = {SUFFIX, ".png", ".json", ".charx", ".zip", *DATASET_FILES, *DOCUMENT_FILES}


# actions that change the open project: off while it is read-only
WRITING_ACTIONS = (
    "action_generate",
    "action_link_sheet",
    "action_sync",
    "action_conflicts",
    "action_pipeline",
    "action_check",
    "action_undo",
    "action_redo",
)
VIEW_ONLY_TABS = ("Persona", "Dataset", "Train")  # the Chat tab reads: it stays live


# Every window made, for titles that tell two of one file name apart. (It walked Qt's top-level
# widgets, which made a Python object for each of Qt's own popups and tooltips: a run of random
# actions under X11 crashed there once, in PySide's wrapping, not reproduced since.)
_WINDOWS: weakref.WeakSet[MainWindow] = weakref.WeakSet()


class MainWindow(QMainWindow):
    """The four lazily built tabs, menus and status bar over one open project. Listens to the
    session's save state, persona and `model_registered`; connects the tabs' requests."""

    shown = Signal()  # first time the window is on screen (startup benchmark, tests)

    def __init__(self, context: AppContext) -> None:
        super().__init__()
        _WINDOWS.add(self)
        self.context = context
        self.session: ProjectSession | None = None
        self.undo_stack = QUndoStack(self)
        self._shown_once = False
        self._opening: Path | None = None  # a large project being opened in a worker
        self._opening_bar: QWidget | None = None  # its busy bar, made at the first such open
        self._opening_notice: QLabel | None = None  # where the tabs are, with none to show
        self._open_task: asyncio.Task[bool] | None = None
        self._window_closed = False
        self._closing: asyncio.Task[None] | None = None  # a close waiting for a large write
        # exports and copies under way, with their files' names: a close waits for them
        self._writing_out: dict[asyncio.Task[bool], str] = {}
        # the export or copy under way, with its percent (one at a time), and what stops it
        self._under_way: _Progress | None = None
        self._export_row: QWidget | None = None  # its percent and Stop, in the status bar
        self._export_percent: QProgressBar
        self._export_stop: QPushButton
        self._close_awaits_writes = True  # (not once the disk refused it: closing asks)
        self.setObjectName("main_window")
        self.setWindowTitle(APP_NAME)

        # Each tab's module is imported and its widgets built when the tab is first shown.
        self._tab_pages = {
            "Persona": LazyTab(self._make_persona_tab),
            "Dataset": LazyTab(self._make_dataset_tab),
            "Train": LazyTab(self._make_train_tab),
            "Chat": LazyTab(self._make_chat_tab),
        }
        self.tabs = QTabWidget(objectName="main_tabs")
        self.tabs.setDocumentMode(True)
        for title, lazy in self._tab_pages.items():
            lazy.setAccessibleName(f"{title} tab")
            self.tabs.addTab(lazy, title)
        self.tabs.currentChanged.connect(self._build_current_tab)
        self.tabs.setEnabled(False)  # until a project is open
        self.setAcceptDrops(True)
        self.read_only_notice = QLabel(objectName="read_only_notice", wordWrap=True)
        self.read_only_copy = QPushButton("Save a Copy and Open It…", objectName="read_only_copy")
        self.read_only_copy.clicked.connect(self.save_copy_and_open)
        self._read_only_bar = QWidget(objectName="read_only_bar")
        bar_layout = QHBoxLayout(self._read_only_bar)
        bar_layout.setContentsMargins(8, 4, 8, 4)
        bar_layout.addWidget(self.read_only_notice, 1)
        bar_layout.addWidget(self.read_only_copy)
        self._read_only_bar.hide()
        central = QWidget(objectName="central")
        central_layout = QVBoxLayout(central)
        central_layout.setContentsMargins(0, 0, 0, 0)
        central_layout.setSpacing(0)
        central_layout.addWidget(self._read_only_bar)
        central_layout.addWidget(self.tabs, 1)
        self._central_layout = central_layout
        self.setCentralWidget(central)

        self.sheet_label = QLabel(objectName="sheet_state")
        self.save_label = QLabel(objectName="save_state")
        self.project_label = QLabel(objectName="project_label")
        self.statusBar().addWidget(self.project_label, 1)
        self.statusBar().addPermanentWidget(self.sheet_label)
        self.statusBar().addPermanentWidget(self.save_label)
        self._sheet: Any = None  # SheetLink, made when a project opens
        self._tray: Any = None  # the last "training finished" tray notice
        self._checklist_dock: Any = None  # "Getting started", built after the first paint
        self._checklist_runner: Any = None  # the readiness check it follows
        self._checklist_timer = QTimer(self, singleShot=True, interval=250)
        self._checklist_timer.timeout.connect(self._refresh_checklist)
        self._build_menus()
        self._restore_window_state()

    # ---- tabs ----------------------------------------------------------------------------

    def _make_persona_tab(self) -> QWidget:
        from persona_studio.gui.persona_tab import PersonaTab

        return PersonaTab(self.undo_stack)

    def _make_train_tab(self) -> QWidget:
        from persona_studio.gui.train_tab import TrainTab

        tab = TrainTab(self.context)
        tab.pipeline_requested.connect(self.run_pipeline)
        tab.keep_voice_requested.connect(lambda: self.generate_examples("rescue"))
        tab.show_examples_requested.connect(self.show_examples)
        tab.setup_requested.connect(self.open_settings)
        return tab

    def _make_chat_tab(self) -> QWidget:
        from persona_studio.gui.chat_tab import ChatTab

        tab = ChatTab(self.context, self.undo_stack)
        tab.status_message.connect(lambda text: self.statusBar().showMessage(text, 5000))
        tab.keep_voice_requested.connect(lambda: self.generate_examples("rescue"))
        tab.setup_requested.connect(self.open_settings)
        tab.conversation_saved.connect(self._refresh_checklist_soon)
        return tab

    def _make_dataset_tab(self) -> QWidget:
        from persona_studio.gui.dataset_tab import DatasetTab

        tab = DatasetTab(self.undo_stack)
        tab.generate_requested.connect(self.generate_examples)
        tab.status_message.connect(lambda text: self.statusBar().showMessage(text, 5000))
        return tab

    def _build_current_tab(self) -> None:
        current = self.tabs.currentWidget()
        if isinstance(current, LazyTab) and self.session is not None:
            current.page  # noqa: B018 - building is the point
            if self.read_only and current in (self._tab_pages[t] for t in VIEW_ONLY_TABS):
                self._make_view(current.page)  # again: widgets made since are views too
            self._refresh_checklist_soon()  # a tab may have started the readiness check

    @property
    def persona_tab(self) -> PersonaTab:
        return self._tab_pages["Persona"].page  # type: ignore[return-value]

    @property
    def dataset_tab(self) -> DatasetTab:
        return self._tab_pages["Dataset"].page  # type: ignore[return-value]

    @property
    def train_tab(self) -> TrainTab:
        return self._tab_pages["Train"].page  # type: ignore[return-value]

    @property
    def chat_tab(self) -> ChatTab:
        return self._tab_pages["Chat"].page  # type: ignore[return-value]

    # ---- menus ---------------------------------------------------------------------------

    def _action(
        self, menu: QMenu, text: str, slot: object, shortcut: object = None, name: str = ""
    ) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            self._shortcuts.append((action, shortcut))
        if name:
            action.setObjectName(name)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def attach_shortcuts(self) -> None:
        """Give the menu actions their keyboard shortcuts (idempotent).

        The app calls this right after the first paint: the first StandardKey shortcut makes
        PySide build Qt's whole enum namespace (~11 ms), which need not delay the window.
        """
        for action, shortcut in self._shortcuts:
            action.setShortcut(shortcut)
        self._shortcuts.clear()

    def _build_menus(self) -> None:
        self._shortcuts: list[tuple[QAction, object]] = []
        bar = self.menuBar()
        file = bar.addMenu("&File")
        self._action(
            file, "&New Character…", self.new_project, QKeySequence.StandardKey.New, "action_new"
        )
        self._action(
            file, "&Open…", self.choose_project, QKeySequence.StandardKey.Open, "action_open"
        )
        self.recent_menu = file.addMenu("Open &Recent")
        self.recent_menu.setObjectName("menu_recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self._action(
            file, "Save a &Copy…", self.save_copy, QKeySequence("Ctrl+Alt+S"), "action_save_copy"
        )
        file.addSeparator()
        self._action(
            file, "&Import Character Card…", self.import_card_dialog, name="action_import_card"
        )
        self._action(
            file,
            "&Generate Examples…",
            lambda: self.generate_examples(),
            name="action_generate",
        )
        self.export_menu = file.addMenu("&Export")
        self.export_menu.setObjectName("menu_export")
        self.export_menu.aboutToShow.connect(self._fill_export_menu)
        file.addSeparator()
        self._action(file, "&Quit", self.close, QKeySequence.StandardKey.Quit, "action_quit")

        edit = bar.addMenu("&Edit")
        undo = self.undo_stack.createUndoAction(self, "&Undo")
        self._shortcuts.append((undo, QKeySequence.StandardKey.Undo))
        undo.setObjectName("action_undo")
        undo.triggered.disconnect()  # undone through `undo`, which says what it undid
        undo.triggered.connect(self.undo)
        redo = self.undo_stack.createRedoAction(self, "&Redo")
        self._shortcuts.append((redo, QKeySequence.StandardKey.Redo))
        redo.setObjectName("action_redo")
        redo.triggered.disconnect()
        redo.triggered.connect(self.redo)
        edit.addAction(undo)
        edit.addAction(redo)

        sheet = bar.addMenu("S&heet")
        sheet.aboutToShow.connect(self._update_sheet_actions)
        self._action(sheet, "&Link a Google Sheet…", self.link_sheet, name="action_link_sheet")
        self.sync_action = self._action(
            sheet,
            "&Sync with the Sheet",
            self.sync_sheet,
            QKeySequence("Ctrl+Shift+S"),
            "action_sync",
        )
        self.conflicts_action = self._action(
            sheet, "Settle &Conflicts…", self.settle_conflicts, name="action_conflicts"
        )
        self._update_sheet_actions()

        train = bar.addMenu("&Train")
        self._action(
            train,
            "Run the Whole &Pipeline…",
            self.run_pipeline,
            QKeySequence("Ctrl+Shift+R"),
            "action_pipeline",
        )
        self._action(train, "Does It Sound Like &Me?…", self.check_voice, name="action_check")

        settings = bar.addMenu("&Settings")
        self._action(
            settings,
            "&Providers and Accounts…",
            self.open_settings,
            QKeySequence.StandardKey.Preferences,
            "action_settings",
        )

        help_menu = bar.addMenu("&Help")
        self.checklist_action = self._action(
            help_menu, "&Getting Started", self._toggle_checklist, name="action_checklist"
        )
        self.checklist_action.setCheckable(True)
        self._action(
            help_menu,
            "&User Guide",
            self.show_guide,
            QKeySequence.StandardKey.HelpContents,
            "action_guide",
        )
        self._action(help_menu, "&Keyboard Shortcuts", self.show_shortcuts, name="action_shortcuts")
        self._action(help_menu, "&Where Are My Files?", self.show_files, name="action_files")
        self._action(help_menu, "&Report a Problem…", self.report_problem, name="action_report")
        help_menu.addSeparator()
        self._action(help_menu, f"&About {APP_NAME}", self.show_about, name="action_about")

    def undo(self) -> None:
        """Undo the last edit and say in the status bar what came back."""
        text = self.undo_stack.undoText()
        if self.undo_stack.canUndo():
            self.undo_stack.undo()
            self.statusBar().showMessage(f"Undone: {text}", 5000)

    def redo(self) -> None:
        text = self.undo_stack.redoText()
        if self.undo_stack.canRedo():
            self.undo_stack.redo()
            self.statusBar().showMessage(f"Redone: {text}", 5000)

    def _fill_export_menu(self) -> None:
        from persona_studio.core.card_files import EXPORT_FORMATS  # not needed at startup

        if self.export_menu.actions():
            return
        for fmt, (label, _suffix) in EXPORT_FORMATS.items():
            action = self.export_menu.addAction(f"{label}…")
            action.setObjectName(f"action_export_{fmt}")
            action.triggered.connect(lambda _c=False, f=fmt: self.export_dialog(f))

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        current = str(self.session.project.path) if self.session else None
        recent = [p for p in self.context.config.recent_projects if p != current]
        for path in recent:
            action = self.recent_menu.addAction(Path(path).name)
            action.setToolTip(path)
            action.setEnabled(Path(path).exists())
            action.triggered.connect(lambda _checked=False, p=path: self.open_project(Path(p)))
        if not recent:
            self.recent_menu.addAction("No other recent projects").setEnabled(False)

    # ---- projects ------------------------------------------------------------------------

    def open_project(self, path: Path) -> bool:
        """Open `path` in this window. On failure the current project stays open.

        A large file opens in a worker thread, which reads its examples too: SQLite's damage
        check reads all of the file (~75 ms at 100,000 examples, ~1 s at 1,000,000), and runs
        while the rows read become examples (`Project.open_and_read`). Then True means its
        opening has started; a failure is shown when it comes. So it is while a large change
        to the project open now is written in a worker thread: it opens once that is done."""
        if self.session and Path(path).absolute() == self.session.project.path:
            return True
        if self._opening is not None:
            self.statusBar().showMessage(f"Still opening {self._opening.name}…", 5000)
            return False
        if self.session is not None and self._must_wait(self.session):
            self._opening = path = Path(path)
            self.statusBar().showMessage(self._before(f"opening {path.name}"))
            self._open_task = spawn(self._open_when_written(self.session, path))
            return True
        if _size(path) >= OPEN_IN_WORKER_FROM:
            self._opening = Path(path)
            self._show_opening(Path(path).name)
            when_loop_runs(lambda: self._open_in_worker(Path(path)))
            return True
        try:
            project = Project.open_for_reading(path)  # read-only files open read-only
        except ProjectError as exc:
            show_error(self, "Could not open the project", exc)
            return False
        self._set_project(project)
        return True

    async def _open_when_written(self, session: ProjectSession, path: Path) -> bool:
        """Open `path` once the exports under way are written and the large write to the
        project open now is on disk: the window waited for it (~1 s just after importing
        100,000 examples)."""
        try:
            written = await self._all_written(session)
        finally:
            self._opening = None
        if self._window_closed or self.session is not session:
            return False
        if not written:  # (said beside the save state; the project stays open, as it was)
            self.statusBar().showMessage(
                f"{path.name} was not opened: your changes could not be saved first.", 10000
            )
            return False
        return self.open_project(path)

    def _open_in_worker(self, path: Path) -> None:
        import asyncio

        async def open_it() -> bool:
            try:
                project, read = await asyncio.to_thread(open_and_read, path)
            except ProjectError as exc:
                if not self._window_closed:
                    self._show_opening(None)
                    show_error(self, "Could not open the project", exc)
                return False
            finally:
                self._opening = None
            if self._window_closed:  # closed meanwhile: let go of the file
                project.close()
                return False
            self._show_opening(None)
            self._set_project(project, read)
            return True

        self._open_task = spawn(open_it())

    def _show_opening(self, name: str | None) -> None:
        """The status bar while a large file opens and its examples are read (4–5 s at
        1,000,000): what opens, and a busy bar; None: done."""
        if name is None:
            self.statusBar().clearMessage()
            if self._opening_bar is not None:
                self._opening_bar.hide()
            if self._opening_notice is not None:
                self._opening_notice.hide()
                self.tabs.show()
            return
        if self.session is None:  # nothing else to show meanwhile (at start-up): say it here
            if self._opening_notice is None:
                from PySide6.QtCore import Qt

                notice = QLabel(objectName="opening_notice", wordWrap=True)
                notice.setAlignment(Qt.AlignmentFlag.AlignCenter)
                notice.setTextFormat(Qt.TextFormat.PlainText)  # a file's name
                self._central_layout.addWidget(notice, 1)
                self._opening_notice = notice
            self._opening_notice.setText(
                f"Opening {name}…\n\nA large project takes a few seconds to read."
            )
            self.tabs.hide()
            self._opening_notice.show()
        if self._opening_bar is None:
            from PySide6.QtWidgets import QProgressBar

            bar = QProgressBar(objectName="opening_bar", textVisible=False, maximumWidth=160)
            bar.setRange(0, 0)  # busy: how long depends on the file
            bar.setAccessibleName("Opening the project")
            self.statusBar().addPermanentWidget(bar)
            self._opening_bar = bar
        self._opening_bar.show()
        self.statusBar().showMessage(
            f"Opening {name}… A large project takes a few seconds to read."
        )

    @property
    def read_only(self) -> bool:
        return self.session is not None and self.session.project.read_only

    def _show_read_only(self) -> None:
        """A read-only project: the banner, the tabs as views, and no action that writes; a
        writable one after it gets its tabs built afresh."""
        from persona_studio.gui.theme import NOTICE_STYLE, style

        read_only = self.read_only
        if read_only and self.session is not None:
            from persona_studio.gui.read_only import BANNER

            self.read_only_notice.setText(BANNER.format(name=self.session.project.path.name))
            # the bar alone (not its button) in the notice colours; "{{" survives `format`
            style(self._read_only_bar, f"QWidget#read_only_bar {{{{{NOTICE_STYLE}}}}}")
        self._read_only_bar.setVisible(read_only)
        self.setAcceptDrops(True)  # a card dropped on a read-only project still opens as new
        for name in WRITING_ACTIONS:
            action = self.findChild(QAction, name)
            if action is not None:
                action.setEnabled(not read_only)
        for title in VIEW_ONLY_TABS:
            lazy = self._tab_pages[title]
            if read_only:
                if lazy.built is not None:
                    self._make_view(lazy.built)
            elif lazy.built is not None and lazy.built.property("made_read_only"):
                lazy.reset()  # built as a view: build it again, editable
        self._update_sheet_actions()

    @staticmethod
    def _make_view(page: QWidget) -> None:
        from persona_studio.gui.read_only import make_read_only

        make_read_only(page)
        page.setProperty("made_read_only", True)

    def _set_project(self, project: Project, read: Read | None = None) -> None:
        """Show `project` (with its examples and their positions when `read` with it)."""
        if self.session is not None and not self.session.close():
            project.close()
            return
        self.undo_stack.clear()
        self.tabs.setEnabled(True)
        self.session = ProjectSession(project, self, backend_for=self._training_backend)
        if read:
            self.session.use_read(read)
        self.session.save_state_changed.connect(self._show_save_state)
        self.session.model_registered.connect(self._model_registered)
        self.session.persona_changed.connect(self._update_title)
        for signal in (
            self.session.persona_changed,
            self.session.examples_reset,
            self.session.examples_edited,
            self.session.character_replaced,
            self.session.job_changed,
            self.session.model_registered,
        ):
            signal.connect(self._refresh_checklist_soon)
        for lazy in self._tab_pages.values():
            lazy.set_session(self.session)
        self._build_current_tab()
        if project.read_only:
            pass  # a sync writes the sheet's rows into the project: not here
        elif self._sheet is not None:
            self._sheet.set_session(self.session)
        elif project.sheet_link():
            self.sheet  # noqa: B018 - made for this session: it shows and schedules the sync
        if self.context.config.add_recent(project.path):
            self.context.save_config()
        self.project_label.setText(str(project.path))
        self._show_read_only()
        if project.read_only:
            self._show_save_state("Read-only: nothing is saved", True)
        else:
            self._show_save_state("All changes saved", True)
        self._update_title()
        self._refresh_checklist()
        if not project.read_only:  # following a job saves its progress in the project
            self._follow_running_jobs_soon()
        self._read_examples_soon()

    def _read_examples_soon(self) -> None:
        """A project whose examples are read in a worker (`loads_in_background`) and were not
        read with it: the read starts once the window has painted the project, so that the
        Dataset tab or the check finds them read. Started by the Dataset tab instead, it ran
        beside the tab's first paint, whose every call into Python then waited for the
        worker's turn with the interpreter lock (5,000 examples: a 75–81 ms stall)."""
        from PySide6.QtCore import QTimer

        session = self.session

        def read() -> None:
            if session is None or session is not self.session or session.closed:
                return  # closed, or another project opened, meanwhile
            if session.loads_in_background():
                session.start_loading()

        QTimer.singleShot(READ_EXAMPLES_DELAY_MS, read)

    def _follow_running_jobs_soon(self) -> None:
        """Reattach to the project's jobs still running at their trainers, a moment after it
        opens (it needs the network and the services, not the first paint), whichever tab
        shows: a job that finishes meanwhile registers its model."""
        from PySide6.QtCore import QTimer

        session = self.session

        def follow() -> None:
            if session is self.session and session is not None and not session.closed:
                session.watch_running_jobs()

        QTimer.singleShot(REATTACH_DELAY_MS, follow)

    async def _training_backend(self, profile: str) -> Any:
        from persona_studio.services.training import backend_for

        return await backend_for(self.context.config.profile(profile), self.context.store)

    def _model_registered(self, model: str) -> None:
        """A job finished: say so, and ask for attention if the window is behind others."""
        from PySide6.QtWidgets import QApplication, QSystemTrayIcon

        self.statusBar().showMessage(
            f"Training finished: {model} is now the character's model (Chat → Fine-tuned model).",
            15000,
        )
        QApplication.alert(self)
        if not self.isActiveWindow() and QSystemTrayIcon.isSystemTrayAvailable():
            tray = QSystemTrayIcon(QApplication.windowIcon(), self)
            tray.show()
            tray.showMessage("Training finished", f"{model} is ready to chat with.")
            self._tray = tray  # kept until the next notification

    def show_examples(self, ids: list[str], report: Any = None) -> None:
        """The Dataset tab, filtered to examples with issues, these selected (a report shows
        its findings in the grid before the tab's own check ends)."""
        self.tabs.setCurrentWidget(self._tab_pages["Dataset"])
        dataset = self.dataset_tab
        if report is not None:
            dataset.model.set_report(report.tokens, report.issues)
        dataset.issues_only.setChecked(True)
        dataset.select_examples(ids)

    # ---- getting started -----------------------------------------------------------------

    @property
    def checklist(self) -> Any:
        """The "Getting started" panel in its dock (built on first use)."""
        if self._checklist_dock is None:
            from PySide6.QtCore import Qt
            from PySide6.QtWidgets import QDockWidget, QScrollArea

            from persona_studio.gui.widgets.checklist import ChecklistPanel

            panel = ChecklistPanel()
            panel.go.connect(self.go_to_step)
            panel.make_own.connect(self.new_project)
            panel.hide_requested.connect(lambda: self._show_checklist(False))
            scroll = QScrollArea(widgetResizable=True)
            scroll.setWidget(panel)
            scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            dock = QDockWidget("Getting started", self, objectName="checklist_dock")
            dock.setWidget(scroll)
            dock.setMinimumWidth(250)
            dock.setFeatures(
                QDockWidget.DockWidgetFeature.DockWidgetClosable
                | QDockWidget.DockWidgetFeature.DockWidgetMovable
            )
            dock.visibilityChanged.connect(self._checklist_visibility)
            self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
            self._checklist_dock = dock
            self._refresh_checklist()
        return self._checklist_dock.widget().widget()

    def _checklist_visibility(self, _visible: bool) -> None:
        """The dock's own close button; not a window closing (that hides the dock too)."""
        if self._checklist_dock is not None and not self.isMinimized() and self.isVisible():
            self.checklist_action.setChecked(self._checklist_dock.isVisible())
            self._window_settings().setValue("checklist", self._checklist_dock.isVisible())

    def _toggle_checklist(self) -> None:
        self._show_checklist(self.checklist_action.isChecked())

    def _show_checklist(self, visible: bool) -> None:
        self.checklist  # noqa: B018 - built if needed
        self._checklist_dock.setVisible(visible)
        self.checklist_action.setChecked(visible)
        self._window_settings().setValue("checklist", visible)
        if visible:
            self._refresh_checklist()

    def _refresh_checklist_soon(self, *_: object) -> None:
        self._checklist_timer.start()

    def _refresh_checklist(self) -> None:
        """Tick the steps from the project's state: counts from the file, the last check."""
        if self._checklist_dock is None or self.session is None:
            return
        from persona_studio.core.checklist import EXPORTED_META, ProjectState, checklist
        from persona_studio.core.demo import DEMO_FILENAME

        session, project = self.session, self.session.project
        if session.loading:  # the file is being read: ask it once that is done
            self._checklist_timer.start()
            return
        runner = session.started_preflight
        if runner is not None and runner is not self._checklist_runner:
            runner.finished.connect(self._refresh_checklist_soon)
            self._checklist_runner = runner
        report = runner.report if runner is not None else None
        examples, approved = session.example_counts()
        state = ProjectState(
            persona=session.persona,
            examples=examples,
            approved=approved,
            chats=project.chat_count(),
            ready=None if report is None else not report.blocking,
            exported=project.meta(EXPORTED_META) is not None,
        )
        demo = session.persona.name if project.path.name == DEMO_FILENAME else ""
        self._checklist_dock.widget().widget().show_steps(checklist(state), demo)

    def go_to_step(self, key: str, button: Any = None) -> None:
        """Where a checklist step happens: its tab, with the right thing in front."""
        pages = {"describe": "Persona", "train": "Train", "chat": "Chat"}
        if key in pages:
            self.tabs.setCurrentWidget(self._tab_pages[pages[key]])
        elif key in ("examples", "approve", "check"):
            self.tabs.setCurrentWidget(self._tab_pages["Dataset"])
            dataset = self.dataset_tab
            if key == "approve":
                dataset.status_filter.setCurrentIndex(dataset.status_filter.findData("draft"))
            if key == "check":
                dataset.preflight_box.setFocus()
            if key == "examples":
                self._popup(self._add_examples_menu(), button)
        elif key == "publish":
            self._fill_export_menu()
            self._popup(self.export_menu, button)

    def _writes_refused(self) -> bool:
        """A read-only project: say so (and what to do) instead of starting a change."""
        if self.read_only:
            self.statusBar().showMessage(
                "This project is read-only: use Save a Copy and Open It… to change it.", 8000
            )
            return True
        return False

    def _add_examples_menu(self) -> QMenu:
        menu = QMenu(self)
        menu.setObjectName("menu_add_examples")
        menu.addAction("Import a file (CSV, Excel, JSONL)…", self.dataset_tab.choose_import)
        menu.addAction("Link a Google Sheet…", self.link_sheet)
        menu.addAction("From my LinkedIn posts…", lambda: self.generate_examples("linkedin"))
        menu.addAction("Generate from the persona…", lambda: self.generate_examples("persona"))
        menu.addAction("Add one by hand", self.dataset_tab.add_example)
        for action in menu.actions():
            action.setEnabled(not self.read_only)
        self._menu = menu  # kept: tests read it; not collected while shown
        return menu

    def _popup(self, menu: QMenu, button: Any) -> None:
        if button is not None and button.isVisible():
            from PySide6.QtCore import QPoint

            menu.popup(button.mapToGlobal(QPoint(0, button.height())))
        else:
            menu.popup(self.mapToGlobal(self.rect().center()))

    def _update_title(self, *_: object) -> None:
        """The character and its file: two windows never share a title (a project opens in
        one window only; two files of one name in different folders show their folders)."""
        if self.session:
            name = self.session.persona.name or "Unnamed character"
            path = self.session.project.path
            twins = [
                w
                for w in list(_WINDOWS)
                if w is not self
                and w.session is not None
                and w.session.project.path.name == path.name
            ]
            shown = f"{path if twins else path.name}{' (read-only)' if self.read_only else ''}"
            self.setWindowTitle(f"{name} — {shown} — {APP_NAME}")

    def _show_save_state(self, message: str, ok: bool) -> None:
        self.save_label.setText(message)
        self.save_label.setStyleSheet("" if ok else f"color: {color('danger')}; font-weight: bold;")

    def _start_folder(self) -> str:
        if self.session:
            return str(self.session.project.path.parent)
        return str(Path.home())

    def new_project(self) -> None:
        from persona_studio.gui.dialogs.template_dialog import TemplateDialog

        dialog = TemplateDialog(self, ask_name=True)
        dialog.accepted.connect(lambda: self._save_new_character(dialog))
        dialog.open()

    def _save_new_character(self, dialog: TemplateDialog) -> None:
        name = dialog.name.text().strip()
        template = dialog.chosen_template()
        persona = copy.deepcopy(template.persona) if template else Persona()
        persona.name = name
        path, _ = QFileDialog.getSaveFileName(
            self,
            "Save the new character as",
            str(Path(self._start_folder()) / f"{name}{SUFFIX}"),
            FILE_FILTER,
        )
        if path:
            self.create_project(Path(path), persona)

    def create_project(self, path: Path, persona: Persona | str) -> None:
        if path.suffix != SUFFIX:
            path = path.with_name(path.name + SUFFIX)
        if isinstance(persona, str):
            persona = Persona(name=persona)
        try:
            project = Project.create(path, persona, overwrite=path.exists())
        except ProjectError as exc:
            show_error(self, "Could not create the project", exc)
            return
        self._set_project(project)
        self.tabs.setCurrentWidget(self._tab_pages["Persona"])

    # ---- Google Sheets ---------------------------------------------------------------------

    @property
    def sheet(self) -> Any:
        if self._sheet is None:
            from persona_studio.gui.sheet_link import SheetLink

            self._sheet = SheetLink(self.context, self.context.sheets_client, self)
            self._sheet.state_changed.connect(self.sheet_label.setText)
            self._sheet.state_changed.connect(self._update_sheet_actions)
            if self.session is not None:
                self._sheet.set_session(self.session)
        return self._sheet

    def link_sheet(self) -> Any:
        from persona_studio.gui.dialogs.sheet_dialogs import LinkDialog

        if self.session is None or self._writes_refused():
            return None
        google = self.context.config.google
        account = "oauth" if google.auth == "oauth" else google.account_email
        dialog = LinkDialog(account, self.sheet.link(), self)
        dialog.accepted.connect(lambda: self._link_from(dialog))
        dialog.settings_requested.connect(lambda: self._google_settings(dialog))
        dialog.open()
        return dialog

    def _google_settings(self, link_dialog: Any) -> None:
        """Settings on its Google page; the link dialog comes back once Settings closes."""
        link_dialog.reject()
        settings = self.open_settings()
        settings.tabs.setCurrentWidget(settings.google)
        settings.finished.connect(lambda _r: self.link_sheet())

    def _update_sheet_actions(self, *_: object) -> None:
        """Sync only once a sheet is linked; Settle Conflicts only while there are some."""
        linked = self.session is not None and bool(self.session.project.sheet_link())
        linked = linked and not self.read_only
        self.sync_action.setEnabled(linked)
        self.sync_action.setToolTip("" if linked else "Link a Google Sheet first.")
        self.conflicts_action.setEnabled(
            linked and self._sheet is not None and bool(self._sheet.last_conflicts)
        )

    def _link_from(self, dialog: Any) -> None:
        from persona_studio.services.sheets import spreadsheet_key

        try:
            key = spreadsheet_key(dialog.address.text())
        except UserFacingError as exc:
            show_error(self, "Could not link the sheet", exc)
            return
        self.sync_sheet(
            {
                "key": key,
                "worksheet": dialog.worksheet.text().strip() or "Sheet1",
                "every_minutes": dialog.every.value(),
                "new_rows": dialog.new_rows.currentData(),
                "create": dialog.create.isChecked(),
            }
        )

    def sync_sheet(self, link: dict | None = None) -> Any:
        if self.session is None or self._writes_refused():
            return None
        task = self.sheet.sync(link if isinstance(link, dict) else None)
        if task is not None:
            task.add_done_callback(lambda _t: self._after_sync())
        return task

    def _after_sync(self) -> None:
        if self._sheet is not None and self._sheet.last_conflicts:
            self.settle_conflicts()
        elif self._sheet is not None and self._sheet.last_error:
            show_error(self, "Sheet not synced", UserFacingError(self._sheet.last_error))

    def settle_conflicts(self) -> Any:
        from persona_studio.gui.dialogs.sheet_dialogs import ConflictDialog

        if self._sheet is None or not self._sheet.last_conflicts:
            self.statusBar().showMessage("No conflicts to settle.", 4000)
            return None
        dialog = ConflictDialog(self._sheet.last_conflicts, self)
        dialog.finished.connect(lambda _r: self._conflicts_settled(dialog))
        dialog.open()
        return dialog

    def _conflicts_settled(self, dialog: Any) -> None:
        if dialog.choices:
            self._sheet.settle(dialog.choices)
        if dialog.to_edit:
            self.tabs.setCurrentWidget(self._tab_pages["Dataset"])
            self.dataset_tab.select_examples([dialog.to_edit])

    # ---- generation ----------------------------------------------------------------------

    def generate_examples(self, kind: str | None = None, paths: list[Path] | None = None) -> Any:
        """The Generate dialog (None if it opens later: `_open_once_read`), once the
        candidates awaiting review are read."""
        session = self.session
        if session is None or self._writes_refused():
            return None
        self.tabs.setCurrentWidget(self._tab_pages["Dataset"])

        def open_it(_queue: object) -> Any:
            from persona_studio.gui.dialogs.generate_dialog import GenerateDialog

            dialog = GenerateDialog(
                self.context,
                session,
                self.dataset_tab.review_candidates,
                fill_persona=self.persona_tab.fill_empty_fields,
                parent=self,
            )
            if kind is not None:
                dialog.set_source(kind, paths)
            dialog.open()
            return dialog

        return self._open_once_read("Generate", session.with_review_queue, open_it)

    def _open_once_read(
        self, name: str, soon: Callable[[Callable[[T], None]], None], open_it: Callable[[T], Any]
    ) -> Any:
        """`open_it(what it reads)`: a dialog that reads the project file as it opens, opened
        at once if the file is free, else once the worker that has it (an export's read, a
        copy) lets go, and the status bar says so meanwhile: it waited on the window's thread
        (seconds at 1,000,000 examples). Returns the dialog, or None if it opens later."""
        session, opened = self.session, []

        def then(value: T) -> None:
            if self.session is session and isValid(self):  # (not another project's, now)
                opened.append(open_it(value))

        soon(then)
        if not opened:
            under_way = self._under_way
            if under_way is not None:  # (its percent's line says it too, from now on)
                under_way.after = name
            busy = (
                f"{under_way.name} is written"
                if under_way is not None
                else "the project is open"
                if session is not None and session.loading
                else "the project is saved"
            )
            self.statusBar().showMessage(f"{name} opens once {busy}…", 8000)
        return opened[0] if opened else None

    def check_voice(self) -> Any:
        """The voice check: every engine on the same questions, scored against the creator."""
        from persona_studio.gui.dialogs.voice_check_dialog import VoiceCheckDialog

        if self.session is None or self._writes_refused():
            return None
        dialog = VoiceCheckDialog(
            self.context, self.session, parent=self, undo_stack=self.undo_stack
        )
        dialog.open()
        return dialog

    # ---- pipeline ------------------------------------------------------------------------

    def run_pipeline(self) -> Any:
        """The pipeline's dialog (None if it opens later: `_open_once_read`), once its last
        run is read (to resume it)."""
        from persona_studio.services.pipeline import latest_run

        session = self.session
        if session is None or self._writes_refused():
            return None

        def open_it(run: Any) -> Any:
            from persona_studio.gui.dialogs.pipeline_dialog import PipelineDialog

            train = self.train_tab  # the run trains with the Train tab's settings
            project_path = session.project.path
            link = self.sheet.link()
            options = train.pipeline_options(
                str(project_path.with_name(f"{project_path.stem} exports")),
                {"key": link["key"], "worksheet": link.get("worksheet", "Sheet1")}
                if link
                else None,
            )
            dialog = PipelineDialog(
                self.context,
                session,
                options,
                settings_text=train.settings_html(),
                sync_sheet=self.sheet.sync_now,
                parent=self,
                run=run,
            )
            dialog.open_chat.connect(self._chat_with)
            dialog.open()
            return dialog

        soon = functools.partial(session.read_soon, functools.partial(latest_run, session.project))
        return self._open_once_read("Run everything", soon, open_it)

    def _chat_with(self, profile: str, model: str, base_model: str) -> None:
        self.tabs.setCurrentWidget(self._tab_pages["Chat"])
        self.chat_tab.compare_fine_tuned(profile, model, base_model)

    # ---- character cards -----------------------------------------------------------------

    def import_card_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Import a Character Card",
            self._start_folder(),
            "Character cards (*.png *.json *.charx);;All files (*)",
        )
        if not path:
            return
        card = self._read_card(Path(path))
        if card is None:
            return
        name = card.persona.name or Path(path).stem
        taken = self.session.project.path if self.session else None
        dest, _ = QFileDialog.getSaveFileName(
            self,
            "Save the imported character as",
            str(free_project_path(Path(self._start_folder()), name, taken)),
            FILE_FILTER,
        )
        if dest:
            self.import_card(card, Path(dest))

    def _read_card(self, path: Path) -> ImportedCard | None:
        from persona_studio.core.cards import read_card

        try:
            return read_card(path.read_bytes())
        except OSError as exc:
            show_error(
                self,
                "Could not import the card",
                UserFacingError(
                    f"Could not read “{path.name}”: {exc.strerror}.",
                    "Check the file and try again.",
                ),
            )
        except UserFacingError as exc:
            show_error(self, "Could not import the card", exc)
        return None

    def import_card(self, card: ImportedCard, dest: Path) -> bool:
        """A new project from a card. The open project, or one open in another window, is
        never replaced; another file the creator chose to replace stays whole until the new
        project takes its place (nothing is written if the card was unusable)."""
        from persona_studio.core.card_files import create_from_card

        if dest.suffix != SUFFIX:
            dest = dest.with_name(dest.name + SUFFIX)
        try:
            if self.session is not None and dest.absolute() == self.session.project.path:
                raise ProjectError(
                    f"“{dest.name}” is the project open in this window.",
                    "Choose another name for the imported character. Nothing was changed.",
                )
            if dest.exists():
                _refuse_if_open_elsewhere(dest)
            project = create_from_card(dest, card, overwrite=dest.exists())
        except ProjectError as exc:
            show_error(self, "Could not import the card", exc)
            return False
        self._set_project(project)
        self.tabs.setCurrentWidget(self._tab_pages["Persona"])
        self.statusBar().showMessage(
            f"Imported “{card.persona.name}” with {len(card.rules)} rules into {dest.name}", 8000
        )
        return True

    def export_dialog(self, fmt: str) -> None:
        from persona_studio.core.card_files import EXPORT_FORMATS

        if not self.session:
            return
        label, suffix = EXPORT_FORMATS[fmt]
        stem = self.session.persona.name or self.session.project.path.stem
        tail = {
            "naas-plugin": " plugin",
            "card-v3-json": " v3",
            "openai-jsonl": " training",
            "csv": " examples",
        }.get(fmt, "")
        path, _ = QFileDialog.getSaveFileName(
            self,
            f"Export as {label}",
            str(Path(self._start_folder()) / f"{stem}{tail}{suffix}"),
            f"{label} (*{suffix})",
        )
        if path:
            self.export_to(fmt, Path(path))

    def export_to(self, fmt: str, path: Path) -> asyncio.Task[bool]:
        """Export in the background, its percent in the status bar beside a Stop button: at
        1,000,000 examples a JSONL file takes ~14 s, a CSV ~19 s, a card ~7 s (its
        fingerprint reads every example). The task's result says whether the file was
        written."""
        assert self.session is not None
        session = self.session
        return self._in_turn(
            f"Exporting {path.name}", "export", path, lambda p: self._export(session, fmt, path, p)
        )

    def _in_turn(
        self,
        doing: str,
        noun: str,
        path: Path,
        run: Callable[[_Progress], Coroutine[Any, Any, bool]],
    ) -> asyncio.Task[bool]:
        """An export or a copy as a task that a close waits for (`_write_out`), its percent
        and Stop in the status bar: one at a time, a second waits for the one under way."""
        if self._under_way is None:
            progress = self._start_progress(doing, noun, path.name)
            progress.task = self._write_out(run(progress), path)
            return progress.task

        async def in_turn() -> bool:
            import asyncio

            while self._under_way is not None:
                now = self._under_way
                self.statusBar().showMessage(f"{doing} once {now.name} is written…")
                assert now.task is not None  # (set as it starts)
                await asyncio.wait([now.task])
            progress = self._start_progress(doing, noun, path.name)
            progress.task = asyncio.current_task()
            return await run(progress)

        return self._write_out(in_turn(), path)

    def _start_progress(self, doing: str, noun: str, name: str) -> _Progress:
        self._under_way = progress = _Progress(doing, noun, name)
        progress.shown.connect(self._show_progress)
        self._show_progress(progress, 0)
        return progress

    async def _export(
        self, session: ProjectSession, fmt: str, path: Path, progress: _Progress
    ) -> bool:
        import asyncio

        from persona_studio.core.card_files import export_chunks
        from persona_studio.core.config import atomic_write_bytes

        def made(share: float) -> None:
            progress.told(EXPORT_MADE_SHARE * share)

        project = session.project
        try:
            data = await self._while_open(session, lambda: export_chunks(project, fmt, made))
            if data is None:
                return False
            await asyncio.to_thread(atomic_write_bytes, path, _written(data, progress.told))
        except Stopped:
            self.statusBar().showMessage(f"Export stopped: {path.name} was not written.", 8000)
            return False
        except OSError as exc:
            self.statusBar().clearMessage()
            show_write_error(self, path, exc)
            return False
        finally:
            self._progress_over(progress)
        self.statusBar().showMessage(f"Exported {path.name}", 5000)
        self._record_export(project, fmt)
        if fmt == "naas-plugin":
            from persona_studio.core.exports import naas_plugin_notes

            rules = len(project.rules())
            box = QMessageBox(
                QMessageBox.Icon.Information,
                "Naas Chat plugin exported",
                f"Saved {path.name}. {naas_plugin_notes(project.persona(), rules)}",
                QMessageBox.StandardButton.Ok,
                self,
            )
            box.setObjectName("naas_exported")
            box.open()
        return True

    def _show_progress(self, progress: _Progress, percent: int) -> None:
        """An export's or a copy's percent in the status bar, and its Stop (made at the first)."""
        if self._under_way is not progress or not isValid(self):
            return  # (a percent said by one over since)
        if self._export_row is None:
            from PySide6.QtWidgets import QProgressBar

            self._export_row = row = QWidget(objectName="export_progress")
            layout = QHBoxLayout(row)
            layout.setContentsMargins(0, 0, 0, 0)
            self._export_percent = QProgressBar(
                objectName="export_bar", textVisible=False, maximumWidth=120
            )
            self._export_percent.setRange(0, 100)
            self._export_stop = QPushButton(objectName="stop_export")
            self._export_stop.clicked.connect(self.stop_export)
            layout.addWidget(self._export_percent)
            layout.addWidget(self._export_stop)
            self.statusBar().addPermanentWidget(row)
        self._export_percent.setValue(percent)
        self._export_percent.setAccessibleName(f"{progress.noun.capitalize()} progress")
        self._export_stop.setText(f"Stop {progress.noun}")
        self._export_stop.setToolTip(f"Stop this {progress.noun}: nothing is written.")
        self._export_stop.setEnabled(not progress.stop.is_set())
        self._export_row.setMaximumWidth(self._export_row.sizeHint().width())  # (else widened)
        self._export_row.show()
        if not progress.stop.is_set() and self._closing is None and self._opening is None:
            # (else the bar alone: the line says what waits for it)
            after = f" · {progress.after} opens once it is written" if progress.after else ""
            self.statusBar().showMessage(f"{progress.doing}… {percent} %{after}")

    def stop_export(self) -> None:
        """Stop the export or copy under way (its Stop button): nothing is written."""
        progress = self._under_way
        if progress is not None:
            progress.stop.set()
            self.statusBar().showMessage(f"Stopping the {progress.noun} of {progress.name}…")
            if self._export_row is not None:
                self._export_stop.setEnabled(False)

    def _progress_over(self, progress: _Progress) -> None:
        if not isValid(self):
            return  # (the window was deleted while its task unwound)
        if self._under_way is progress:
            self._under_way = None
            if self._export_row is not None:
                self._export_row.hide()

    # ---- drag and drop -------------------------------------------------------------------

    def _record_export(self, project: Project, fmt: str) -> None:
        """Remembered in the project: the checklist's last step ticks itself."""
        import json

        from persona_studio.core.checklist import EXPORTED_META
        from persona_studio.core.dataset import now_iso

        if project.read_only:
            return  # the export is written; a read-only project keeps no note of it
        note = json.dumps({"format": fmt, "at": now_iso()})

        def write() -> None:
            project.set_meta(EXPORTED_META, note)
            self._refresh_checklist_soon()

        session = self.session  # (a close or another project waits for the export)
        if session is not None and session.project is project:
            session.save_record(write, whole=EXPORTED_META)  # in turn: never waited for

    def _dropped_files(self, event: QDragEnterEvent | QDropEvent) -> list[Path]:
        urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
        return [
            Path(u.toLocalFile())
            for u in urls
            if u.isLocalFile() and Path(u.toLocalFile()).suffix.lower() in DROPPABLE
        ]

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._dropped_files(event):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        files = self._dropped_files(event)
        if not files:
            return
        event.acceptProposedAction()
        self.open_dropped(files[0])

    def open_dropped(self, path: Path) -> Any:
        """A project opens; examples go through the import dialog; a card becomes a new
        project beside the current one."""
        if path.suffix.lower() == SUFFIX:
            self.open_project(path)
            return None
        from persona_studio.core.importers.files import is_dataset_json

        suffix = path.suffix.lower()
        adds = suffix in DATASET_FILES or suffix in (".zip", *DOCUMENT_FILES)
        if self.read_only and (adds or is_dataset_json(path)):
            self.statusBar().showMessage(
                "This project is read-only: save a copy and open it to add examples.", 8000
            )
            return None
        if path.suffix.lower() in DATASET_FILES or is_dataset_json(path):
            if self.session is None:
                return None
            self.tabs.setCurrentWidget(self._tab_pages["Dataset"])
            return self.dataset_tab.open_import(path)
        if path.suffix.lower() == ".zip":  # a LinkedIn export: its posts become answers
            return self.generate_examples("linkedin", [path])
        if path.suffix.lower() in DOCUMENT_FILES:
            return self.generate_examples("documents", [path])
        card = self._read_card(path)
        if card is None:
            return None
        taken = self.session.project.path if self.session else None
        name = card.persona.name.strip() or path.stem
        return self.import_card(card, free_project_path(Path(self._start_folder()), name, taken))

    def choose_project(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a character", self._start_folder(), FILE_FILTER
        )
        if path:
            self.open_project(Path(path))

    def save_copy(self) -> None:
        if not self.session:
            return
        current = self.session.project.path
        path, _ = QFileDialog.getSaveFileName(
            self,
            "Save a copy as",
            str(current.with_name(f"{current.stem} copy{SUFFIX}")),
            FILE_FILTER,
        )
        if path:
            self.save_copy_to(Path(path))

    def save_copy_to(self, path: Path) -> asyncio.Task[bool]:
        """Save a copy in the background, its percent beside a Stop, as an export's (one of
        them at a time): SQLite's backup lets go of Python's lock while it copies, 0.1–0.2 s
        at 100,000 examples, 1.2–1.5 s at 1,000,000 here (~760 MB: a minute to a slow USB
        stick). The task's result says whether the copy was written."""
        assert self.session is not None
        if path.suffix != SUFFIX:
            path = path.with_name(path.name + SUFFIX)
        session = self.session
        return self._in_turn(
            f"Saving a copy to {path.name}",
            "copy",
            path,
            lambda p: self._save_copy(session, path, p),
        )

    async def _save_copy(self, session: ProjectSession, path: Path, progress: _Progress) -> bool:
        project = session.project
        try:  # (the project's lock is held while it copies: edits wait their turn)
            copied = await self._while_open(session, lambda: project.save_copy(path, progress.told))
        except Stopped:
            self.statusBar().showMessage(f"Copy stopped: {path.name} was not written.", 8000)
            return False
        except UserFacingError as exc:
            self.statusBar().clearMessage()
            show_error(self, "Could not save a copy", exc)
            return False
        finally:
            self._progress_over(progress)
        if copied is None:
            return False
        self.statusBar().showMessage(f"Saved a copy to {path}", 5000)
        return True

    def _write_out(self, writing: Coroutine[Any, Any, bool], path: Path) -> asyncio.Task[bool]:
        """An export or a copy as a task that a close, or opening another project, waits for."""
        task = spawn(writing)
        self._writing_out[task] = path.name
        task.add_done_callback(self._writing_out.pop)
        return task

    def _must_wait(self, session: ProjectSession) -> bool:
        """Whether a close, or opening another project, waits: for an export or a copy under
        way, or for a large change being written."""
        return bool(self._writing_out) or session.large_write_waiting

    async def _all_written(self, session: ProjectSession) -> bool:
        """Once the exports and copies under way (and any started meanwhile) are done, and
        what waits to be written is (`flushed`: False if the disk refused it)."""
        import asyncio

        while self._writing_out:
            await asyncio.wait(list(self._writing_out))
        return await session.flushed()

    def _before(self, doing: str) -> str:
        """What the status bar says while `doing` waits for an export or a write."""
        if self._writing_out:
            return f"Writing {next(iter(self._writing_out.values()))} before {doing}…"
        return f"Saving your changes before {doing}…"

    async def _while_open(self, session: ProjectSession, read: Callable[[], T]) -> T | None:
        """`read` of the session's project file, in a worker thread, once what waits to be
        written is (`flushed`, without the window waiting); None, with the status bar's
        message cleared, if the project closed before or during it (the window closed)."""
        import asyncio

        await session.flushed()
        if not session.closed:
            try:
                return await asyncio.to_thread(read)
            except Exception:
                if not session.closed:
                    raise
        self.statusBar().clearMessage()
        return None

    def save_copy_and_open(self) -> None:
        """From a read-only project: a copy somewhere writable, opened in its place."""
        if not self.session:
            return
        current = self.session.project.path
        folder = Path.home() if not os.access(current.parent, os.W_OK) else current.parent
        path, _ = QFileDialog.getSaveFileName(
            self, "Save a copy you can change", str(folder / f"{current.stem}{SUFFIX}"), FILE_FILTER
        )
        if path:
            self.copy_and_open(Path(path))

    def copy_and_open(self, path: Path) -> asyncio.Task[bool]:
        if path.suffix != SUFFIX:
            path = path.with_name(path.name + SUFFIX)

        async def copy_then_open() -> bool:
            return await self.save_copy_to(path) and self.open_project(path)

        return spawn(copy_then_open())

    # ---- dialogs -------------------------------------------------------------------------

    def open_settings(self) -> SettingsDialog:
        from persona_studio.gui.dialogs.settings_dialog import SettingsDialog  # not at startup

        dialog = SettingsDialog(self.context, self)
        from PySide6.QtCore import Qt  # building Qt's enums costs 12 ms: not before the first paint

        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.providers.profiles_changed.connect(self._profiles_changed)
        dialog.open()
        return dialog

    def _profiles_changed(self) -> None:
        """A profile added, changed or removed in Settings shows at once in every list."""
        for lazy in self._tab_pages.values():
            page = lazy.built
            if page is not None and hasattr(page, "profiles_changed"):
                page.profiles_changed()

    def show_guide(self) -> QWidget:
        from persona_studio.gui.help import GuideDialog

        dialog = GuideDialog(self)
        dialog.open()
        return dialog

    def show_shortcuts(self) -> QMessageBox:
        from persona_studio.gui.help import shortcuts_html

        box = QMessageBox(
            QMessageBox.Icon.NoIcon,
            "Keyboard shortcuts",
            shortcuts_html(),
            QMessageBox.StandardButton.Close,
            self,
        )
        box.setObjectName("shortcuts")
        box.open()
        return box

    def show_files(self) -> QWidget:
        from persona_studio.gui.help import FilesDialog, file_places

        dialog = FilesDialog(file_places(self), self)
        dialog.open()
        return dialog

    def report_problem(self) -> QMessageBox:
        """Copy what helps a report (versions, system, recent errors; never a key) to the
        clipboard, and say so."""
        from persona_studio.gui.help import copy_report

        text = copy_report(self)
        box = QMessageBox(
            QMessageBox.Icon.Information,
            "Report a problem",
            "The details below are on the clipboard: paste them into your message, with what "
            "you were doing when it went wrong. They hold no key and none of your examples.",
            QMessageBox.StandardButton.Ok,
            self,
        )
        box.setObjectName("report_copied")
        box.setDetailedText(text)
        box.open()
        return box

    def show_about(self) -> None:
        QMessageBox.about(
            self,
            f"About {APP_NAME}",
            f"<h3>{APP_NAME} {__version__}</h3>"
            "<p>Build an AI character that speaks in your voice: define its personality, "
            "curate its examples, fine-tune a model and test it in a chat.</p>"
            "<p>Your project is one <code>.persona</code> file; your keys stay in the system "
            "password store.</p>",
        )

    # ---- window state --------------------------------------------------------------------

    def _window_settings(self) -> QSettings:
        return QSettings(str(self.context.window_state_file), QSettings.Format.IniFormat)

    def _restore_window_state(self) -> None:
        settings = self._window_settings()
        geometry = settings.value("geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1180, 760)
        state = settings.value("state")
        if state is not None:
            self.restoreState(state)
        tab = int(settings.value("tab", 0, type=int))
        self.tabs.setCurrentIndex(tab if 0 <= tab < self.tabs.count() else 0)

    def _restore_checklist(self) -> None:
        visible = self._window_settings().value("checklist", True, type=bool)
        if visible:
            self._show_checklist(True)
        # hidden: built when Help → Getting Started asks for it

    def save_window_state(self) -> None:
        settings = self._window_settings()
        settings.setValue("geometry", self.saveGeometry())
        settings.setValue("state", self.saveState())
        settings.setValue("tab", self.tabs.currentIndex())
        settings.sync()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._shown_once:
            self._shown_once = True
            self.shown.emit()
            # after the first paint (a 0 ms timer would run in the same round of events and
            # cost the first paint ~70 ms): the panel slides in once the window is on screen
            QTimer.singleShot(CHECKLIST_DELAY_MS, self._restore_checklist)

    def closeEvent(self, event: QCloseEvent) -> None:
        session = self.session
        if session is not None and self._close_awaits_writes and self._must_wait(session):
            # the window closes once the exports under way and the large write are done, not
            # waiting for them (~1 s just after importing 100,000 examples); a refusal of the
            # write is asked about below, as any
            event.ignore()
            if self._closing is None:
                self.statusBar().showMessage(self._before("closing"))
                self._closing = spawn(self._close_when_written(session))
            return
        if self.session is not None and not self.session.close():
            answer = QMessageBox.warning(
                self,
                "Changes not saved",
                "Your last changes could not be saved to the project file. Quit anyway and "
                "lose them?",
                QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
                QMessageBox.StandardButton.Cancel,
            )
            if answer != QMessageBox.StandardButton.Discard:
                event.ignore()
                return
            self.session.close(force=True)
        self.session = None
        self._window_closed = True  # a project still opening in a worker is closed when it comes
        self.save_window_state()
        event.accept()

    async def _close_when_written(self, session: ProjectSession) -> None:
        try:
            written = await self._all_written(session)
        finally:
            self._closing = None
        if self.session is session:
            self._close_awaits_writes = written
            self.close()
            self._close_awaits_writes = True


# bytes (100,000 examples take ~76 MB). On the UI thread, opening checks the whole file for
# damage: a 30 MB project (20,000 examples) stalled the window 74–88 ms, 30–46 ms in a worker
OPEN_IN_WORKER_FROM = 4 * 2**20


EXPORT_MADE_SHARE = 0.9  # of an export's time, making the file (the rest: writing it)


class _Progress(QObject):
    """An export or a copy under way: what the status bar says of it, and what stops it."""

    shown = Signal(object, int)  # (itself, a new percent): to the window's thread

    def __init__(self, doing: str, noun: str, name: str) -> None:
        super().__init__()
        self.doing, self.noun, self.name = doing, noun, name
        self.stop = threading.Event()
        self.task: asyncio.Future[bool] | None = None  # (what one in turn after it awaits)
        self.after = ""  # a dialog that opens once it is done (`MainWindow._open_once_read`)
        self._said = 0

    def told(self, share: float) -> None:
        """From the worker's thread: the share done; `Stopped` once Stop is pressed."""
        if self.stop.is_set():
            raise Stopped
        if (percent := int(share * 100)) != self._said:
            self._said = percent
            self.shown.emit(self, percent)


def _written(parts: list[bytes], told: Callable[[float], None]) -> Iterator[bytes]:
    """An export's parts as they are written, each time the share done told (from 90 %)."""
    for at, part in enumerate(parts):
        told(EXPORT_MADE_SHARE + (1 - EXPORT_MADE_SHARE) * at / len(parts))
        yield part


def _size(path: Path) -> int:
    try:
        return Path(path).stat().st_size
    except OSError:
        return 0  # opening it says what is wrong


def _refuse_if_open_elsewhere(path: Path) -> None:
    """Replacing a project another window has open would leave that window writing into a
    file that is gone: refuse. (A file that is not a project can be replaced.)"""
    try:
        Project.open(path).close()
    except ProjectLockedError as exc:
        raise ProjectError(
            f"“{path.name}” is open in another Persona Studio window.",
            "Choose another name, or close it there first. Nothing was changed.",
        ) from exc
    except ProjectError:
        pass  # not one of our projects, damaged, newer: the save dialog asked to replace it
