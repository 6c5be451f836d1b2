"""Application start-up: QApplication on a qasync loop, settings, and the first project."""

from __future__ import annotations

import gc
import logging
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from functools import partial
from importlib import import_module
from pathlib import Path
from types import TracebackType
from typing import cast

from PySide6.QtCore import QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMessageBox

from persona_studio import APP_ID, APP_NAME, DESKTOP_ID, __version__
from persona_studio.core import app_log, crash_log
from persona_studio.core.collector import end_startup_pause, share_with_window
from persona_studio.core.config import AppConfig, ConfigError, config_path, data_dir, load_config
from persona_studio.core.project import ProjectError
from persona_studio.gui.context import AppContext
from persona_studio.gui.main_window import MainWindow
from persona_studio.gui.theme import follow_color_scheme
from persona_studio.resources_path import resource_path

# Set by benchmarks and smoke tests: quit as soon as the main window has been shown; "counted":
# once its Persona tab shows the prompt's token count, saying where it was counted.
EXIT_WHEN_SHOWN = "PERSONA_STUDIO_EXIT_WHEN_SHOWN"
COUNTED_WITHIN_MS = 30_000
SWITCH_INTERVAL_S = 0.0005  # the longest a thread keeps the interpreter lock from another
log = logging.getLogger("persona_studio")


def _load_settings() -> tuple[AppConfig, str | None]:
    """Settings, and a warning if the file was unreadable (it is moved aside, not lost)."""
    path = config_path()
    try:
        return load_config(path), None
    except ConfigError as exc:
        aside = path.with_name(f"{path.name}.unreadable-{time.strftime('%Y%m%d-%H%M%S')}")
        path.replace(aside)
        return AppConfig(), f"{exc.message} It was kept as “{aside.name}”; starting with defaults."


def make_application(argv: list[str]) -> QApplication:
    # Qt splits large fills across a pool of threads that it starts at the first paint; for
    # this window that cost more than it saved (first paint 16–21 ms with the pool, 10–14 ms
    # without, 2 cores). Qt reads it once, at the first paint; any value turns the pool off.
    os.environ.setdefault("QT_NO_GUI_THREADPOOL", "1")
    # Each call of the window into Python (a paint makes many) waits for the interpreter lock
    # while a worker thread runs Python: up to the switch interval each (5 ms by default). At
    # 100,000 examples, pinning a voice-check question while the chat's index was being built
    # stalled the window 1.1–1.3 s; 148 ms with 0.5 ms (80–84 ms with the build's pauses).
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    share_with_window()  # and long passes in worker threads pause for it
    app = cast(QApplication, QApplication.instance() or QApplication([sys.argv[0], *argv]))
    app.setApplicationName(APP_ID)
    app.setApplicationDisplayName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setOrganizationName(APP_ID)
    app.setDesktopFileName(DESKTOP_ID)  # Wayland matches the window to its .desktop
    app.setWindowIcon(QIcon(str(resource_path("icons/persona-studio.svg"))))
    return app


def open_first_project(window: MainWindow, requested: Path | None) -> None:
    """The file asked for, else the last project, else the user's copy of the demo."""
    if requested is not None and window.open_project(requested):
        return  # (if it failed, the error is shown and we fall back to the usual choice)
    last = window.context.config.last_project
    if last and Path(last).exists() and window.open_project(Path(last)):
        return
    from persona_studio.core.demo import ensure_demo_project  # first launch only

    try:
        demo = ensure_demo_project(window.context.data_folder)
    except ProjectError as exc:
        QMessageBox.warning(window, "Could not prepare the demo", str(exc))
        return
    window.open_project(demo)


def settle_after_startup() -> None:
    """Move everything startup made out of the garbage collector's way.

    Without this a full collection walks every Qt wrapper and module object from startup and
    stalls the window (measured: 77 ms in the middle of a streaming chat). The collector,
    paused since the first import (`pause_for_startup`), runs again from here."""
    gc.collect()
    gc.freeze()
    end_startup_pause()


# Behind the first paint, what the first switch to the Dataset and Train tabs would pay for:
# their modules (~170 ms of imports on this machine) and PySide's enums (~20 ms). Two parts,
# because PySide makes its types and enums lazily, and not safely from two threads at once (a
# thread importing a tab's module while the window built a tab crashed 6 of 900 starts that
# switched tabs at once): modules that touch no PySide name are imported in a thread; then the
# window's thread imports the tabs' modules and makes the enums, one at a time between its
# events (the longest, the model's module making the `Qt` namespace's 95 enums, ~18 ms).
WARM_MODULES = (  # in the thread: none of them, nor what they import, names PySide (a test)
    "orjson",  # the decoders the first read of examples uses (~13 and ~20 ms)
    "msgspec.json",
    "numpy",
    "html",
    "persona_studio.core.validation",
    "persona_studio.core.retrieval",
    "persona_studio.core.duplicates",
    "persona_studio.core.test_set",
    "persona_studio.core.clipboard",
    "persona_studio.core.local_training",
    "persona_studio.core.trainers",
    "persona_studio.services.pipeline",
    "persona_studio.services.training",
    "persona_studio.services.training.openai_api",
)
WARM_GUI_MODULES = (  # then on the window's thread: what is left of the tabs' imports
    "persona_studio.gui.models.examples_model",
    "persona_studio.gui.dataset_tab",
    "persona_studio.gui.train_tab",
)
# PySide makes a class's Python enums the first time one of them is used, all of the class's at
# once (~0.5 ms each, with Python's enum module). The Dataset tab's first show made these 46 (as
# PySide 6.11 finds a widget's type, it meets the scroll areas' and dialogs' classes): ~20 ms
# of that tab's first stall, measured. One enum of each class, touched here, makes them all.
WARM_ENUMS = (
    "QtCore.QItemSelectionModel.SelectionFlag",
    "QtGui.QContextMenuEvent.Reason",
    "QtGui.QInputMethodEvent.AttributeType",
    "QtGui.QPlatformSurfaceEvent.SurfaceEventType",
    "QtGui.QScrollEvent.ScrollState",
    *(
        f"QtWidgets.{name}"
        for name in (
            "QCalendarWidget.SelectionMode",
            "QColorDialog.ColorDialogOption",
            "QDateTimeEdit.Section",
            "QDialogButtonBox.StandardButton",
            "QFontComboBox.FontFilter",
            "QFontDialog.FontDialogOption",
            "QGraphicsSceneContextMenuEvent.Reason",
            "QGraphicsView.DragMode",
            "QLCDNumber.Mode",
            "QMdiArea.ViewMode",
            "QMdiSubWindow.SubWindowOption",
            "QRhiWidget.Api",
            "QRubberBand.Shape",
            "QStyle.StateFlag",
            "QToolButton.ToolButtonPopupMode",
            "QWizard.WizardStyle",
        )
    ),
)
WARM_POLL_MS = 20  # how often the window's thread looks whether the thread's part is done


def _make_enums(path: str) -> None:
    module, cls, enum = path.split(".")  # a name a later PySide lacks is skipped: only speed
    getattr(getattr(import_module(f"PySide6.{module}"), cls, None), enum, None)


def one_event_at_a_time(steps: deque[Callable[[], object]]) -> None:
    """Each step once the events waiting have been handled (the window's, the desktop's): a
    step posts the next, which Qt handles on its next pass, after what came meanwhile. Steps
    are taken from `steps` as they run (what is left stays there)."""

    def next_step() -> None:  # (a function: PySide holds it, as no bound method's object)
        if steps:
            steps.popleft()()
            QTimer.singleShot(0, next_step)

    QTimer.singleShot(0, next_step)


class WarmUp:
    """The warm-up behind the first paint: `start` it once the window is shown; `finish` does
    what is left at once (for benchmarks and tests that measure a warm window)."""

    def __init__(self) -> None:
        self.thread = threading.Thread(target=self._import_plain, name="warm-up", daemon=True)
        self.steps: deque[Callable[[], object]] = deque(
            [
                *(partial(import_module, name) for name in WARM_GUI_MODULES),
                *(partial(_make_enums, path) for path in WARM_ENUMS),
            ]
        )

    @staticmethod
    def _import_plain() -> None:
        for name in WARM_MODULES:
            import_module(name)

    def start(self) -> WarmUp:
        self.thread.start()
        self._once_the_thread_is_done()
        return self

    def _once_the_thread_is_done(self) -> None:
        """Then the steps on the window's thread, one event at a time (an import the window
        needs meanwhile is its own: only time is lost, never a step done twice)."""
        if self.thread.is_alive():
            # a lambda: PySide holds a bound method's object weakly, and the warm-up's caller
            # keeps none (it stopped at its first timer)
            QTimer.singleShot(WARM_POLL_MS, lambda: self._once_the_thread_is_done())
        else:
            one_event_at_a_time(self.steps)

    def finish(self) -> None:
        self.thread.join()
        while self.steps:
            self.steps.popleft()()


def warm_up_in_background() -> WarmUp:
    return WarmUp().start()


def install_excepthook() -> None:
    """A bug's exception is remembered for the problem report, and logged with its traceback
    (the app's log file, `core.app_log`, and the console); with no log handler, reported as
    before. Installed first: a bug before the log file opens (after the first paint) is kept
    with the log's early records."""
    previous = sys.excepthook

    def hook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        from persona_studio.gui.help import remember_error  # (~5 ms of imports: not at start)

        remember_error("Unexpected error", f"{kind.__name__}: {value}{app_log.raised_at(tb)}")
        if logging.getLogger().handlers:
            log.error("Unexpected error", exc_info=(kind, value, tb))
        else:
            previous(kind, value, tb)

    sys.excepthook = hook


def _report_problems() -> None:
    """Warnings and errors to the log file (`logging.handlers` costs ~3 ms: after the first
    paint; what was said before it is written first)."""
    app_log.start(data_dir())


def _close_once_counted(window: MainWindow, waited_ms: int = 0) -> None:
    """For the packaged app's smoke test: once the Persona tab shows its prompt's token count
    (`COUNTED_WITHIN_MS` at most), say where it was counted, then close. Every count and check
    runs in the check's worker process, which the frozen program must be able to start; if it
    cannot, the app counts in its own process, and only its log says so."""
    label = window.persona_tab.prompt_size.text()
    if " tokens (" not in label and waited_ms < COUNTED_WITHIN_MS:
        QTimer.singleShot(50, lambda: _close_once_counted(window, waited_ms + 50))
        return
    if " tokens (" not in label:
        print(f"not counted in {COUNTED_WITHIN_MS // 1000} s: {label}", flush=True)
    else:
        worker = sys.modules["persona_studio.services.check_process"].shared()
        where = "the worker process" if worker.pid and not worker.failures else "the app"
        print(f"counted in {where}: {label}", flush=True)
    window.close()


def _say_then_close(window: MainWindow, what: str) -> None:
    print(f"{what} {time.time():.6f}", flush=True)
    window.close()


def run_app(argv: list[str]) -> int:
    app_log.listen()  # the log file opens after the first paint; what is said before waits
    install_excepthook()
    crash = crash_log.start(data_dir(), __version__)  # from here a hard crash leaves its stack
    app = make_application(argv)  # (Qt aborts when it cannot load its display plugin: recorded)
    config, warning = _load_settings()
    context = AppContext(config=config, data_folder=data_dir())
    window = MainWindow(context)
    requested = Path(argv[0]) if argv else None
    open_first_project(window, requested)
    window.show()
    app.processEvents()  # paint the window now; the asyncio machinery loads behind it
    exit_when = os.environ.get(EXIT_WHEN_SHOWN)
    if exit_when:
        print(f"shown-at {time.time():.6f}", flush=True)
        if window.session is not None:  # the packaged-app smoke test reads this line
            print(f"opened {window.session.project.path.name}", flush=True)
        if exit_when == "counted":
            _close_once_counted(window)
        else:  # at the first event the window handles (benchmarks: how long it waited)
            QTimer.singleShot(0, lambda: _say_then_close(window, "first-event-at"))
    # asyncio + qasync cost ~40 ms to import: done after the first paint, before input is handled
    import asyncio

    import qasync

    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    # The rest waits behind the window's first events, a step at a time: run at once, they held
    # the shown window 110-170 ms (the shortcuts 17, the collector 10, the log file 8, the
    # scheme 6, the imports above slowed by the warm-up thread started before them)
    one_event_at_a_time(
        deque(
            [
                _report_problems,
                window.attach_shortcuts,
                partial(follow_color_scheme, app),
                settle_after_startup,
                warm_up_in_background,
            ]
        )
    )
    if crash is not None:
        from persona_studio.gui.help import crash_notice

        crash_notice(window, crash)
    if warning:
        QMessageBox.warning(window, "Settings reset", warning)
    closed = asyncio.Event()
    app.aboutToQuit.connect(closed.set)
    with loop:
        loop.run_until_complete(closed.wait())
    crash_log.closed()
    return 0
