"""The real entry point, as a user starts it: a process that shows the window on the demo."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import threading
from collections import deque
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from persona_studio.core.config import load_config
from persona_studio.core.persona import Persona
from persona_studio.core.project import Project


def _launch(*argv: str, exit_when: str = "1") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    env["PERSONA_STUDIO_EXIT_WHEN_SHOWN"] = exit_when
    return subprocess.run(
        [sys.executable, "-m", "persona_studio", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_first_launch_shows_the_demo_and_remembers_it(isolated_home: Path) -> None:
    result = _launch()
    assert result.returncode == 0, result.stderr
    assert "shown-at" in result.stdout
    demo = isolated_home / "data" / "persona-studio" / "Demo - Coach Rhea.persona"
    assert demo.exists()
    assert load_config().recent_projects == [str(demo)]
    assert (isolated_home / "config" / "persona-studio" / "window.ini").exists()


def test_the_launched_app_counts_its_prompt_in_the_worker_process(isolated_home: Path) -> None:
    """What the packaged app's smoke test asks of the frozen program (packaging/smoke.sh): the
    window's prompt count comes from the check's worker process, not the window's own."""
    result = _launch(exit_when="counted")
    assert result.returncode == 0, result.stderr
    assert "opened Demo - Coach Rhea.persona" in result.stdout
    assert "counted in the worker process: " in result.stdout
    assert "tokens (as GPT-4o counts" in result.stdout


def test_launch_with_a_project_path_opens_it(isolated_home: Path, tmp_path: Path) -> None:
    path = tmp_path / "mine.persona"
    Project.create(path, Persona(name="Mine")).close()
    result = _launch(str(path))
    assert result.returncode == 0, result.stderr
    assert load_config().last_project == str(path)
    assert not list(isolated_home.glob("data/persona-studio/*.persona"))  # no demo needed


def test_after_a_hard_crash_the_next_launch_says_so_once(isolated_home: Path) -> None:
    """A segmentation fault leaves its stack in the app's data folder; the next launch shows
    the notice (marking it shown) and still starts; the one after says nothing more."""
    data = isolated_home / "data" / "persona-studio"
    crashed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import faulthandler; from pathlib import Path; from persona_studio.core import "
            f"crash_log; crash_log.start(Path({str(data)!r}), 'x'); faulthandler._sigsegv()",
        ],
        capture_output=True,
        timeout=60,
    )
    assert crashed.returncode == -signal.SIGSEGV
    for _ in range(2):
        result = _launch()
        assert result.returncode == 0, result.stderr
        record = (data / "crash.log").read_text(encoding="utf-8")
        assert record.count("=== seen") == 1 and record.count("=== started") >= 2
    assert record.count("=== closed") == 2  # each launch closed as the app closes


BUGGY = r"""
import sys
from PySide6.QtCore import QTimer
from persona_studio.gui import app

def bug():
    raise ValueError("a bug for the log")

async def failing():
    bug()

kept = []  # as a tab keeps its task (`self._task`): never collected, so asyncio never logs it

def bug_in_a_task():
    from persona_studio.gui.loop import spawn, when_loop_runs
    when_loop_runs(lambda: kept.append(spawn(failing())))

def with_a_bug(step, bug=bug):
    def then(*args):
        QTimer.singleShot(0, bug)  # a slot that raises, as a bug does, once events are handled
        return step(*args)
    return then

if sys.argv[1] == "after the log's start":  # (run_app's last step)
    app.warm_up_in_background = with_a_bug(app.warm_up_in_background)
elif sys.argv[1] == "in a task the window keeps":
    app.warm_up_in_background = with_a_bug(app.warm_up_in_background, bug_in_a_task)
else:  # as the window first shows: before the log file opens (after the first paint)
    app.open_first_project = with_a_bug(app.open_first_project)
app.run_app([])
"""


@pytest.mark.parametrize(
    "when", ["after the log's start", "as the window first shows", "in a task the window keeps"]
)
def test_a_bug_goes_to_the_apps_log_with_its_traceback(isolated_home: Path, when: str) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    env["PERSONA_STUDIO_EXIT_WHEN_SHOWN"] = "counted"  # (closes once the prompt is counted)
    run = subprocess.run(
        [sys.executable, "-c", BUGGY, when], env=env, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    text = (isolated_home / "data" / "persona-studio" / "persona-studio.log").read_text("utf-8")
    assert "ERROR persona_studio: Unexpected error" in text
    assert "Traceback" in text and "ValueError: a bug for the log" in text
    assert run.stderr.count("ValueError: a bug for the log") == 1  # the console, once


WARMED = r"""
import enum, sys, tempfile
from pathlib import Path
from persona_studio.gui.app import make_application, warm_up_in_background
from persona_studio.tools.offscreen import demo_window

app = make_application([])
window = demo_window(Path(tempfile.mkdtemp()), [])
window.show()
app.processEvents()
if sys.argv[1] == "warm":
    warm_up_in_background().finish()
made = []
create = enum.EnumType._create_
enum.EnumType._create_ = lambda *a, **k: made.append(a[1]) or create(*a, **k)
window.tabs.setCurrentIndex(1)  # the Dataset tab, built and shown
app.processEvents()
print(len(made))
"""


def test_the_warm_up_makes_the_enums_the_first_dataset_tab_would(isolated_home: Path) -> None:
    """PySide makes a class's Python enums on first use (~0.5 ms each): the warm-up behind the
    first paint makes those that the Dataset tab's first show made (46 with PySide 6.11)."""
    from persona_studio.gui.app import WARM_ENUMS

    made = {}
    for how in ("cold", "warm"):
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
        run = subprocess.run(
            [sys.executable, "-c", WARMED, how], env=env, capture_output=True, text=True, timeout=60
        )
        assert run.returncode == 0, run.stderr
        made[how] = int(run.stdout.split()[-1])
    assert made["cold"] >= len(WARM_ENUMS)  # each listed class had enums still to make
    assert made["warm"] <= made["cold"] // 10


PLAIN = r"""
import sys
from persona_studio.gui.app import WARM_GUI_MODULES, WarmUp

def names_pyside(name):
    path = getattr(sys.modules[name], "__file__", None) or ""
    if name.startswith(("PySide6", "shiboken6")):
        return True
    return path.endswith(".py") and "PySide6" in open(path, encoding="utf-8").read()

before = set(sys.modules)
WarmUp._import_plain()
plain = set(sys.modules) - before
print("touching:", *sorted(name for name in plain if names_pyside(name)))
for name in WARM_GUI_MODULES:
    __import__(name)
left = set(sys.modules) - before - plain
print("left:", *sorted(name for name in left if not names_pyside(name)))
"""


def test_the_warm_up_thread_imports_only_what_names_no_pyside(isolated_home: Path) -> None:
    """PySide makes its types and enums lazily, and not safely from two threads: the warm-up's
    thread crashed the app when it imported a tab's module while the window built a tab. Its
    thread imports only modules that name no PySide class, and every such module the tabs need
    (else the window's thread imports it, a stall the warm-up was there to take away)."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    run = subprocess.run(
        [sys.executable, "-c", PLAIN], env=env, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    touching, left = run.stdout.splitlines()[-2:]
    assert touching == "touching:"
    assert left == "left:"


def test_the_warm_up_makes_pyside_names_on_the_windows_thread(qtbot: QtBot) -> None:
    from persona_studio.gui.app import WARM_ENUMS, WARM_GUI_MODULES, WarmUp

    warm = WarmUp()
    assert len(warm.steps) == len(WARM_GUI_MODULES) + len(WARM_ENUMS)
    threads: list[str] = []
    warm.steps = deque([lambda: threads.append(threading.current_thread().name)] * 3)
    thread = warm.start().thread
    del warm  # as the app starts it: no one keeps it
    gc.collect()
    qtbot.waitUntil(lambda: len(threads) == 3, timeout=5000)
    assert threads == [threading.main_thread().name] * 3
    assert not thread.is_alive()


LAUNCHED = r"""
import os, sys
from PySide6.QtCore import QTimer
from tests import threads_check
threads_check.install()
from persona_studio.gui import app, main_window

shown = main_window.MainWindow.show

def show_then_every_tab(window):  # each tab built as the warm-up and the first count run
    shown(window)
    for index in range(1, window.tabs.count()):
        QTimer.singleShot(20 * index, lambda index=index: window.tabs.setCurrentIndex(index))

if sys.argv[1] == "every tab":
    main_window.MainWindow.show = show_then_every_tab
else:  # the Persona tab alone, no warm-up: each thread's first imports are its own
    app.warm_up_in_background = lambda: None
os.environ[app.EXIT_WHEN_SHOWN] = "counted"
app.run_app([])
print("made in threads:", *threads_check.MADE, sep="|")
"""


@pytest.mark.parametrize("start", ["every tab", "no warm-up"])
def test_a_start_makes_no_pyside_name_in_a_thread(isolated_home: Path, start: str) -> None:
    """The app as a creator starts it (the demo, the warm-up, the prompt's first count), each
    tab built meanwhile, or the Persona tab alone with no warm-up (so the count's thread is
    first to import what it imports): no thread makes PySide's enums or first imports a Qt or
    window module (the race that crashed starts; see tests/threads_check.py). In its own
    process, so that each module's first import happens where it does for a creator."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    run = subprocess.run(
        [sys.executable, "-c", LAUNCHED, start],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert "counted in the worker process" in run.stdout  # the count ran, in its thread
    assert run.stdout.splitlines()[-1] == "made in threads:"


def test_the_app_paints_without_qts_fill_threads(
    qapp: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Qt's pool of fill threads cost the first paint more than it saved (see make_application);
    a user who set the variable keeps their value."""
    from persona_studio.gui.app import make_application

    monkeypatch.delenv("QT_NO_GUI_THREADPOOL", raising=False)
    make_application([])
    assert os.environ["QT_NO_GUI_THREADPOOL"] == "1"
    monkeypatch.setenv("QT_NO_GUI_THREADPOOL", "0")
    make_application([])
    assert os.environ["QT_NO_GUI_THREADPOOL"] == "0"


READS = """
import sys
import persona_studio.core.config, persona_studio.core.project  # as `__main__` does
before = set(sys.modules)
import persona_studio.gui  # loads PySide, and with it its import hook
feature = sys.modules["shibokensupport.feature"]
read = []
real = feature._mod_uses_pyside
feature._mod_uses_pyside = lambda module: read.append(module.__name__) or real(module)
import persona_studio.gui.app, persona_studio.gui.main_window, persona_studio.gui.persona_tab
import persona_studio.gui.dataset_tab, persona_studio.gui.train_tab, persona_studio.gui.chat_tab
print("read:", *sorted(name for name in read if name in before or name.startswith("persona_")))
"""


def test_pyside_reads_no_source_of_ours_nor_of_what_was_loaded_before_it() -> None:
    """PySide reads the source of each module an import statement names once it is loaded,
    to learn whether the module might choose its `__feature__`s: ~60 reads before the first
    paint. `persona_studio.gui` tells it the answers first (this test fails if a PySide no
    longer keeps them where it did: then drop that shortcut). The answers are only right
    while no module of ours chooses a feature, which the second half checks."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    run = subprocess.run(
        [sys.executable, "-c", READS], env=env, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[-1] == "read:"
    package = Path(__file__).parents[2] / "persona_studio"
    choosing = [p for p in package.rglob("*.py") if "import __feature__" in p.read_text()]
    choosing += [p for p in package.rglob("*.py") if "from __feature__" in p.read_text()]
    assert choosing == []


def test_what_follows_the_first_paint_lets_events_in_between(qtbot: QtBot) -> None:
    """Run at once after the first paint, the log's start, the shortcuts, the colour scheme,
    the collector's settling and the warm-up's start held the shown window 110-130 ms; one at
    a time, what comes meanwhile (a click, the desktop's events) is handled between them."""
    from PySide6.QtCore import QTimer

    from persona_studio.gui.app import one_event_at_a_time

    order: list[str] = []

    def first() -> None:
        order.append("first")
        QTimer.singleShot(0, lambda: order.append("an event meanwhile"))

    one_event_at_a_time(deque([first, lambda: order.append("second")]))
    assert order == []  # (nothing before the loop runs)
    qtbot.waitUntil(lambda: "second" in order, timeout=5000)
    assert order == ["first", "an event meanwhile", "second"]


def test_the_launched_app_says_when_it_handled_its_first_event(isolated_home: Path) -> None:
    run = _launch()
    assert run.returncode == 0, run.stderr
    said = dict(line.split(" ", 1) for line in run.stdout.splitlines() if "-at " in line)
    assert float(said["first-event-at"]) >= float(said["shown-at"])  # (startup.py reads both)
