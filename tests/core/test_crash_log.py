"""The record of hard crashes: a real segmentation fault in a process that started the record
is read back by the next start, once, with paths that name no home folder."""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from persona_studio.core import crash_log
from persona_studio.core.crash_log import CRASH_FILE, CUT_FROM, TAIL_BYTES, last_unseen_crash

START = "import sys; from pathlib import Path; from persona_studio.core import crash_log\n"


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", START + code], capture_output=True, text=True, timeout=60
    )


def _crash_in(folder: Path) -> None:
    run = _run(
        f"crash_log.start(Path({str(folder)!r}), '9.9')\n"
        "def deep():\n"
        "    import faulthandler; faulthandler._sigsegv()\n"
        "deep()\n"
    )
    assert run.returncode == -signal.SIGSEGV


def test_a_hard_crash_is_read_back_once_by_the_next_start(tmp_path: Path) -> None:
    folder = tmp_path / "app data"
    shown = f"print(repr(crash_log.start(Path({str(folder)!r}), '9.9')))"
    assert _run(shown).stdout.strip() == "None"  # a first start: nothing to say
    _crash_in(folder)
    after = _run(shown).stdout
    assert "Fatal Python error: Segmentation fault" in after
    assert "in deep" in after and "started='20" in after  # the stack, and when it began
    assert _run(shown).stdout.strip() == "None"  # said once
    _crash_in(folder)
    assert "Segmentation fault" in _run(shown).stdout  # a later crash is said again


def test_the_stack_names_no_home_folder(tmp_path: Path) -> None:
    path = tmp_path / CRASH_FILE
    path.write_text(
        "=== started 2026-12-07 06:20:01 1.0 pid 7\n"
        "Fatal Python error: Aborted\n\n"
        'Thread 0x1 (most recent call first):\n  File "/home/ana/app/persona_studio/gui/'
        'app.py", line 9 in warm\n  File "C:\\Users\\ana\\venv\\Lib\\site-packages\\x.py", '
        "line 1 in y\n",
        encoding="utf-8",
    )
    crash = last_unseen_crash(path)
    assert crash is not None and crash.started == "2026-12-07 06:20:01 1.0"
    assert "ana" not in crash.stack
    assert 'File "…/persona_studio/gui/app.py", line 9 in warm' in crash.stack
    assert 'File "…/site-packages/x.py"' in crash.stack


def test_a_large_or_garbled_file_is_read_with_a_bound_and_cut(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    path = folder / CRASH_FILE
    path.write_bytes(b"\xff\xfe garbage \x00" * (CUT_FROM // 10) + b"\nFatal Python error: x\n")
    crash = last_unseen_crash(path)
    assert crash is not None and crash.stack.startswith("Fatal Python error: x")
    assert _run(f"crash_log.start(Path({str(folder)!r}), '9.9')").returncode == 0
    assert path.stat().st_size < TAIL_BYTES + 200  # the last part kept, and this start's line
    assert last_unseen_crash(path) is None


def test_a_folder_that_cannot_be_written_leaves_the_app_running(tmp_path: Path) -> None:
    blocked = tmp_path / "a file"
    blocked.write_text("not a folder", encoding="utf-8")
    assert crash_log.start(blocked / "data", "9.9") is None


def test_a_dump_the_app_went_on_from_is_no_crash(tmp_path: Path) -> None:
    """On Windows faulthandler also dumps exceptions that may be handled: a session that then
    closed as the app closes did not crash; one that never closed did."""
    path = tmp_path / CRASH_FILE
    started = "=== started 2026-12-07 06:20:01 1.0 pid 7\n"
    dump = "Windows fatal exception: access violation\n\nStack (most recent call first):\n"
    path.write_text(started + dump + "=== closed 7\n", encoding="utf-8")
    assert last_unseen_crash(path) is None
    path.write_text(started + dump + started.replace("7", "8"), encoding="utf-8")
    crash = last_unseen_crash(path)
    assert crash is not None and crash.stack.startswith("Windows fatal exception")


def test_the_app_started_twice_keeps_the_crash_of_one(tmp_path: Path) -> None:
    """Two starts of the app write one record (a creator opened a second project from the file
    manager): the other session's clean end after a crash does not hide it."""
    path = tmp_path / CRASH_FILE
    first = "=== started 2026-12-07 06:20:01 1.0 pid 7\n"
    second = "=== started 2026-12-07 06:21:30 1.0 pid 8\n"
    fatal = "Fatal Python error: Segmentation fault\n\nCurrent thread 0x1:\n"
    path.write_text(first + second + fatal + "=== closed 8\n", encoding="utf-8")
    crash = last_unseen_crash(path)
    assert crash is not None and crash.started == "2026-12-07 06:20:01 1.0"  # the first's
    handled = "Windows fatal exception: access violation\n\nStack (most recent call first):\n"
    path.write_text(first + second + handled + "=== closed 8\n", encoding="utf-8")
    crash = last_unseen_crash(path)  # the first session never closed: it crashed
    assert crash is not None and crash.started == "2026-12-07 06:20:01 1.0"
    path.write_text(first + second + handled + "=== closed 8\n=== closed 7\n", encoding="utf-8")
    assert last_unseen_crash(path) is None  # both went on and closed
    path.write_text(first + "=== closed 7\n" + second + fatal, encoding="utf-8")
    crash = last_unseen_crash(path)
    assert crash is not None and crash.started == "2026-12-07 06:21:30 1.0"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=4096), st.sampled_from(["", "Fatal Python error: x\n", "=== seen\n"]))
def test_any_bytes_read_as_a_crash_or_none(data: bytes, marker: str) -> None:
    """The record is the app's file, but read as any file: whatever it holds, the reader gives
    a crash with a bounded stack, or None, and nothing else escapes."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / CRASH_FILE
        path.write_bytes(data + marker.encode() + data)
        crash = last_unseen_crash(path)
    assert crash is None or (
        len(crash.started) <= 40 and len(crash.stack.splitlines()) <= crash_log.STACK_LINES
    )
