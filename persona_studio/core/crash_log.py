"""A record of the app's hard crashes: a segmentation fault or an abort, which no Python handler
sees, leaves the window gone and nothing said. `faulthandler` writes every thread's stack to a
file in the app's data folder as the process dies; the next start reads it back, once, so the
window can say the app closed unexpectedly and the problem report can carry what happened. Each
start and each clean end adds a line naming its process: a fatal error's dump is a crash, and
on Windows an exception's dump followed by the end of every session running then was none.

The file is the app's, never a project's: it holds source file names, lines and function names,
nothing a creator typed. It is read with a bound (its last `TAIL_BYTES`) and kept small."""

from __future__ import annotations

import faulthandler
import logging
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

CRASH_FILE = "crash.log"
CHECK_WORKER_FILE = "crash-check-worker.log"  # the check's worker process's own record
STARTED = "=== started "  # + when, the version and the process id: one line per start
SEEN = "=== seen"  # a crash above this line was shown
CLOSED = "=== closed "  # + the process id: a session that ended as the app ends
# how faulthandler begins a dump: a crash; or, on Windows, an exception that Qt or a driver may
# have handled and gone on from (a session that then closed was no crash)
DUMPS = ("Fatal Python error", "Windows fatal exception")
TAIL_BYTES = 64 * 1024  # what a start reads of the file
CUT_FROM = 1024 * 1024  # a file this long is cut to its last TAIL_BYTES at the next start
STACK_LINES = 60  # of a crash, what is kept for the report

_open: IO[str] | None = None  # faulthandler writes to its descriptor: kept open while the app runs
previous: Crash | None = None  # the crash this start found, for the problem report


@dataclass(frozen=True)
class Crash:
    """How an earlier session ended: when it began, and the stack of each of its threads."""

    started: str  # as the file says it ("2026-12-07 06:20:01"), or "" where it does not
    stack: str


def last_unseen_crash(path: Path) -> Crash | None:
    """The crash written in `path` since the last one shown, if any (reads `TAIL_BYTES`)."""
    try:
        with path.open("rb") as file:
            size = file.seek(0, os.SEEK_END)
            file.seek(max(0, size - TAIL_BYTES))
            tail = file.read(TAIL_BYTES).decode("utf-8", errors="replace")
    except FileNotFoundError:
        return None
    text = f"\n{tail}".rsplit(f"\n{SEEN}\n", 1)[-1]
    at = max(text.rfind(dump) for dump in DUMPS)
    if at < 0:
        return None
    started = _crashed_session(text, at)
    if started is None:
        return None
    lines = text[at:].splitlines()[:STACK_LINES]
    return Crash(started=started[:40], stack=_short_paths("\n".join(lines)))


def _crashed_session(text: str, at: int) -> str | None:
    """When the session whose dump is at `at` began ("" where the record does not say), or
    None where the dump was no crash. A fatal error always is: the process died. An exception
    on Windows was not if the sessions running at the dump all closed after it as the app
    closes. (The app started twice runs two sessions on one record; each line names its
    process, a dump does not.)"""
    running: dict[str, str] = {}  # process id -> when it began, as its line says
    for line in text[:at].splitlines():
        if line.startswith(STARTED) and " pid " in line:
            began, pid = line[len(STARTED) :].rsplit(" pid ", 1)
            running.pop(pid.strip(), None)  # (a number used again: the later start's)
            running[pid.strip()] = began.strip()
        elif line.startswith(CLOSED):
            running.pop(line[len(CLOSED) :].strip(), None)
    after = text[at:].splitlines()
    closed = {line[len(CLOSED) :].strip() for line in after if line.startswith(CLOSED)}
    crashed = [began for pid, began in running.items() if pid not in closed]
    if text.startswith(DUMPS[0], at):
        return (crashed or [*running.values(), ""])[-1]
    if not running:  # begun before what is read: closed before the next start, as alone
        return None if CLOSED in text[at:].split(STARTED, 1)[0] else ""
    return crashed[-1] if crashed else None


def _short_paths(stack: str) -> str:
    """Each file as its package's path, not the computer's (a home folder names its user)."""
    return re.sub(
        r'File "[^"\n]*?[/\\](persona_studio|site-packages|python3\.\d+)[/\\]',
        lambda m: f'File "…/{m.group(1)}/',
        stack,
    )


def start(folder: Path, version: str, name: str = CRASH_FILE) -> Crash | None:
    """Begin this process's record in `folder` (`name`: the window's, or a worker process's
    own): from here a hard crash writes its stacks there. Returns an earlier session's crash
    not shown yet (marked shown now), or None. A folder that cannot be written is logged, and
    the process runs without the record."""
    global _open, previous
    path = folder / name
    try:
        folder.mkdir(parents=True, exist_ok=True)
        crash = last_unseen_crash(path)
        if path.exists() and path.stat().st_size >= CUT_FROM:
            with path.open("rb") as file:
                file.seek(-TAIL_BYTES, os.SEEK_END)
                kept = file.read()
            path.write_bytes(kept[kept.find(b"\n") + 1 :])
        record = path.open("a", encoding="utf-8", errors="replace")
        if crash is not None:
            record.write(f"{SEEN}\n")
        record.write(f"{STARTED}{time.strftime('%Y-%m-%d %H:%M:%S')} {version} pid {os.getpid()}\n")
        record.flush()
        faulthandler.enable(file=record, all_threads=True)
    except OSError as exc:
        log.warning("no record of crashes this session: %s", exc)
        return None
    if _open is not None:
        _open.close()
    _open, previous = record, crash
    return crash


def closed() -> None:
    """Say this session ended as the app ends (a dump above it was no crash)."""
    global _open
    if _open is not None:
        faulthandler.disable()
        try:
            _open.write(f"{CLOSED}{os.getpid()}\n")
            _open.close()
        except OSError as exc:  # (a disk full at the end: a later start may say it crashed)
            log.warning("could not note the end of the session: %s", exc)
        _open = None
